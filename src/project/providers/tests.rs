//! Each provider on small app directories.

use super::*;
use crate::project::pyproject::Pyproject;
use pep440_rs::Version;
use std::path::Path;
use std::str::FromStr;

use crate::project::test_app as app;

/// What the claiming provider said, with its command run for a port.
struct Claimed {
    name: String,
    rule: String,
    argv: Vec<String>,
    env: Vec<(String, String)>,
    default_port: Option<u16>,
}

fn claimed(dir: &tempfile::TempDir, deps: &[&str], port: u16) -> Claimed {
    let pyproject_path = dir.path().join("pyproject.toml");
    let pyproject = if pyproject_path.is_file() {
        crate::project::pyproject::read(&pyproject_path).unwrap()
    } else {
        Pyproject::default()
    };
    let installed = Installed::of(deps);
    let deps: Vec<String> = deps
        .iter()
        .map(|d| d.split("==").next().unwrap().to_string())
        .collect();
    let ctx = AppContext {
        dir: dir.path(),
        pyproject: &pyproject,
        dependencies: &deps,
        installed: &installed,
    };
    let (name, claim) = claim(&ctx, false)
        .unwrap()
        .expect("a provider claims the app");
    let start = (claim.launch)(port);
    Claimed {
        name: name.to_string(),
        rule: claim.rule,
        argv: start.argv,
        env: start.env,
        default_port: claim.default_port,
    }
}

fn port_of(dir: &tempfile::TempDir) -> Option<(u16, String)> {
    let pyproject = Pyproject::default();
    let installed = Installed::default();
    let ctx = AppContext {
        dir: dir.path(),
        pyproject: &pyproject,
        dependencies: &[],
        installed: &installed,
    };
    port(&ctx).unwrap().map(|d| (d.value, d.rule))
}

#[test]
fn flask_factory_with_and_without_gunicorn() {
    let dir = app(&[(
        "flaskr/__init__.py",
        "from flask import Flask\n\n\ndef create_app(test_config=None):\n    app = Flask(__name__, instance_relative_config=True)\n    return app\n",
    )]);
    let Claimed {
        name, rule, argv, ..
    } = claimed(&dir, &["flask", "gunicorn"], 8000);
    assert_eq!(name, "ASGI/WSGI app");
    assert_eq!(
        argv,
        ["gunicorn", "--bind", "0.0.0.0:8000", "flaskr:create_app()"]
    );
    assert!(rule.contains("Flask factory flaskr:create_app()"), "{rule}");
    let Claimed {
        rule,
        argv,
        default_port: default,
        ..
    } = claimed(&dir, &["flask"], 5000);
    assert_eq!(
        argv,
        [
            "flask", "--app", "flaskr", "run", "--host", "0.0.0.0", "--port", "5000"
        ]
    );
    assert!(rule.contains("flask run"), "{rule}");
    assert_eq!(default, Some(5000));
}

#[test]
fn fastapi_in_a_src_layout_beats_a_hello_script() {
    let dir = app(&[
        (
            "pyproject.toml",
            "[project]\nname = \"svc\"\ndependencies = [\"fastapi[standard]\"]\n[project.scripts]\nhello = \"svc.cli:hello\"\n",
        ),
        ("src/svc/__init__.py", ""),
        (
            "src/svc/main.py",
            "from fastapi import FastAPI\n\napp: FastAPI = FastAPI(title=\"svc\")\n",
        ),
    ]);
    let Claimed { rule, argv, .. } = claimed(&dir, &["fastapi", "fastapi[standard]"], 8000);
    assert_eq!(
        argv,
        [
            "uvicorn",
            "svc.main:app",
            "--host",
            "0.0.0.0",
            "--port",
            "8000",
            "--app-dir",
            "src"
        ]
    );
    assert!(rule.contains("FastAPI object"), "{rule}");
    // `fastapi run app/main.py` projects: a directory without __init__.py.
    let dir = app(&[("app/main.py", "import fastapi\napp = fastapi.FastAPI()\n")]);
    let Claimed { argv, .. } = claimed(&dir, &["fastapi", "uvicorn"], 9000);
    assert_eq!(argv[1], "app.main:app");
}

#[test]
fn django_with_gunicorn_and_without() {
    let files = [
        (
            "manage.py",
            "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n",
        ),
        ("mysite/__init__.py", ""),
        (
            "mysite/settings.py",
            "WSGI_APPLICATION = 'mysite.wsgi.application'\nSTATIC_ROOT = BASE_DIR / 'staticfiles'\n",
        ),
        ("mysite/wsgi.py", ""),
    ];
    let dir = app(&files);
    let Claimed {
        name, rule, argv, ..
    } = claimed(&dir, &["django", "gunicorn"], 8000);
    assert_eq!(name, "Django");
    assert_eq!(
        argv,
        [
            "gunicorn",
            "--bind",
            "0.0.0.0:8000",
            "mysite.wsgi:application"
        ]
    );
    assert!(
        rule.contains("DJANGO_SETTINGS_MODULE=mysite.settings"),
        "{rule}"
    );
    let Claimed { argv, .. } = claimed(&dir, &["django"], 8000);
    assert_eq!(
        argv,
        [
            "python",
            "manage.py",
            "runserver",
            "0.0.0.0:8000",
            "--noreload"
        ]
    );
}

#[test]
fn streamlit_gradio_and_dash() {
    let dir = app(&[
        ("dashboard.py", "import streamlit as st\nst.title('x')\n"),
        (".streamlit/config.toml", "[server]\nport = 8600\n"),
    ]);
    let Claimed {
        name,
        argv,
        default_port: default,
        ..
    } = claimed(&dir, &["streamlit"], 8600);
    assert_eq!(name, "Streamlit");
    assert_eq!(&argv[..3], ["streamlit", "run", "dashboard.py"]);
    assert!(
        argv.windows(2)
            .any(|w| w == ["--server.address", "0.0.0.0"])
    );
    assert_eq!(default, Some(8501));
    assert_eq!(port_of(&dir).unwrap().0, 8600);

    let dir = app(&[(
        "app.py",
        "import gradio as gr\ndemo = gr.Interface(fn=str, inputs='text', outputs='text')\ndemo.launch()\n",
    )]);
    let Claimed {
        name,
        argv,
        env,
        default_port: default,
        ..
    } = claimed(&dir, &["gradio"], 7860);
    assert_eq!(
        (name.as_str(), argv.as_slice(), default),
        (
            "Gradio",
            &["python".to_string(), "app.py".to_string()][..],
            Some(7860)
        )
    );
    assert!(env.contains(&("GRADIO_SERVER_NAME".to_string(), "0.0.0.0".to_string())));

    let dir = app(&[(
        "app.py",
        "from dash import Dash, html\napp = Dash(__name__)\nserver = app.server\n",
    )]);
    let Claimed {
        argv,
        default_port: default,
        ..
    } = claimed(&dir, &["dash", "gunicorn"], 8050);
    assert_eq!(argv, ["gunicorn", "--bind", "0.0.0.0:8050", "app:server"]);
    assert_eq!(default, Some(8050));
    let Claimed { argv, env, .. } = claimed(&dir, &["dash"], 8050);
    assert_eq!(argv, ["python", "app.py"]);
    assert!(env.contains(&("HOST".to_string(), "0.0.0.0".to_string())));
}

#[test]
fn gunicorn_config_and_procfile_ports() {
    let dir = app(&[
        (
            "gunicorn.conf.py",
            "import os\nworkers = 2\nbind = \"0.0.0.0:5005\"\n",
        ),
        ("app.py", ""),
    ]);
    assert_eq!(
        port_of(&dir),
        Some((5005, "bind in gunicorn.conf.py".to_string()))
    );
    let dir = app(&[
        ("Procfile", "web: gunicorn -c config/gunicorn.py app:app\n"),
        (
            "config/gunicorn.py",
            "port = os.environ.get(\"PORT\", \"7070\")\nbind = f\"0.0.0.0:{port}\"\n",
        ),
    ]);
    assert_eq!(
        port_of(&dir),
        Some((7070, "bind in config/gunicorn.py".to_string()))
    );
    let dir = app(&[(
        "Procfile",
        "web: uvicorn main:app --host 0.0.0.0 --port ${PORT:-8080}\n",
    )]);
    assert_eq!(
        port_of(&dir),
        Some((8080, "Procfile web: line".to_string()))
    );
    let Claimed { argv, .. } = claimed(&dir, &[], 8080);
    assert_eq!(
        argv,
        ["uvicorn", "main:app", "--host", "0.0.0.0", "--port", "8080"]
    );
}

#[test]
fn a_dockerfile_cmd_is_a_strong_hint() {
    let dir = app(&[
        (
            "Dockerfile",
            "FROM python:3.12-slim\nWORKDIR /srv\nCOPY . /srv\nENV MODE=production\nEXPOSE 8080\nCMD [\"gunicorn\", \"--bind\", \"0.0.0.0:8080\", \"web:app\"]\n",
        ),
        ("web.py", "from flask import Flask\napp = Flask(__name__)\n"),
    ]);
    let Claimed {
        name,
        rule,
        argv,
        env,
        ..
    } = claimed(&dir, &["flask", "gunicorn"], 8080);
    assert_eq!(name, "Dockerfile");
    assert!(rule.contains("CMD [\"gunicorn\""), "{rule}");
    assert_eq!(argv, ["gunicorn", "--bind", "0.0.0.0:8080", "web:app"]);
    assert_eq!(env, [("MODE".to_string(), "production".to_string())]);
    assert_eq!(
        port_of(&dir),
        Some((8080, "EXPOSE in Dockerfile".to_string()))
    );
}

#[test]
fn the_app_a_project_names_comes_first() {
    // microblog-style: the factory in a package, the app made at module level
    // in a script that .flaskenv names.
    let dir = app(&[
        (".flaskenv", "FLASK_APP=microblog.py\nFLASK_DEBUG=1\n"),
        (
            "app/__init__.py",
            "from flask import Flask\n\ndef create_app(config_class=None):\n    app = Flask(__name__)\n    return app\n",
        ),
        (
            "microblog.py",
            "from app import create_app\n\napp = create_app()\n",
        ),
    ]);
    let Claimed { rule, argv, .. } = claimed(&dir, &["flask", "gunicorn"], 8000);
    assert_eq!(
        argv,
        ["gunicorn", "--bind", "0.0.0.0:8000", "microblog:app"],
        "{rule}"
    );
    // [tool.fastapi] entrypoint, which `fastapi run` reads.
    let dir = app(&[
        (
            "pyproject.toml",
            "[project]\nname = \"app\"\n[tool.fastapi]\nentrypoint = \"app.api:api\"\n",
        ),
        ("app/__init__.py", ""),
        (
            "app/main.py",
            "from fastapi import FastAPI\nother = FastAPI()\n",
        ),
        (
            "app/api.py",
            "from fastapi import FastAPI\napi = FastAPI()\n",
        ),
    ]);
    let Claimed { argv, .. } = claimed(&dir, &["fastapi[standard]", "fastapi"], 8000);
    assert_eq!(argv[1], "app.api:api");
    // `fastapi[all]` brings uvicorn too (hosting platforms' examples use it).
    let Claimed { argv, .. } = claimed(&dir, &["fastapi[all]", "fastapi"], 8000);
    assert_eq!(argv[..2], ["uvicorn", "app.api:api"]);
    // A test module that imports streamlit is not the app.
    let dir = app(&[
        ("app_test.py", "import streamlit\n"),
        ("Chatbot.py", "import streamlit as st\n"),
    ]);
    let Claimed { argv, .. } = claimed(&dir, &["streamlit"], 8501);
    assert_eq!(argv[2], "Chatbot.py");
}

#[test]
fn commands_fit_the_installed_versions() {
    // Flask's `--app` came in 2.2; before it, FLASK_APP names the app.
    let dir = app(&[("app.py", "from flask import Flask\napp = Flask(__name__)\n")]);
    let Claimed { argv, env, .. } = claimed(&dir, &["flask==2.1.3"], 5000);
    assert_eq!(
        argv,
        ["flask", "run", "--host", "0.0.0.0", "--port", "5000"]
    );
    assert_eq!(env, [("FLASK_APP".to_string(), "app".to_string())]);
    let Claimed { argv, env, .. } = claimed(&dir, &["flask==2.2.0"], 5000);
    assert_eq!(argv[..3], ["flask", "--app", "app"]);
    assert!(env.is_empty());
    // Sanic's own server: `python -m sanic mod.app` before 20.12, then `sanic mod:app`.
    let dir = app(&[("server.py", "from sanic import Sanic\napp = Sanic('svc')\n")]);
    let Claimed { argv, rule, .. } = claimed(&dir, &["sanic==19.12.5"], 8000);
    assert_eq!(
        argv,
        [
            "python",
            "-m",
            "sanic",
            "server.app",
            "--host=0.0.0.0",
            "--port=8000"
        ]
    );
    assert!(rule.contains("Sanic's own server (sanic 19.12.5"), "{rule}");
    let Claimed { argv, .. } = claimed(&dir, &["sanic==23.12.1"], 8000);
    assert_eq!(argv[..2], ["sanic", "server:app"]);
    // uvicorn before 0.13 has no --factory: the factory goes to hypercorn.
    let dir = app(&[(
        "main.py",
        "from fastapi import FastAPI\n\ndef create_app():\n    app = FastAPI()\n    return app\n",
    )]);
    let Claimed { argv, .. } = claimed(&dir, &["fastapi", "uvicorn==0.12.3", "hypercorn"], 8000);
    assert_eq!(argv[0], "hypercorn");
    let Claimed { argv, .. } = claimed(&dir, &["fastapi", "uvicorn==0.13.0"], 8000);
    assert_eq!(argv.last().unwrap(), "--factory");
}

/// The claim on the app in `dir` with `installed` (direct: `deps`).
fn claim_with(dir: &Path, deps: &[&str], installed: &Installed, may_add: bool) -> Option<Claim> {
    let pyproject = Pyproject::default();
    let deps: Vec<String> = deps.iter().map(|d| d.to_string()).collect();
    let ctx = AppContext {
        dir,
        pyproject: &pyproject,
        dependencies: &deps,
        installed,
    };
    claim(&ctx, may_add).unwrap().map(|(_, c)| c)
}

#[test]
fn servers_that_dependencies_bring_count_and_missing_ones_are_wanted() {
    let dir = app(&[("app.py", "from quart import Quart\napp = Quart(__name__)\n")]);
    let pins = [
        ("quart", "0.22.0", vec!["hypercorn".to_string()]),
        ("hypercorn", "0.18.0", vec![]),
    ];
    let installed = Installed::new(
        pins.iter()
            .map(|(n, v, d)| (n.to_string(), Version::from_str(v).unwrap(), d.clone())),
        &["quart".to_string()],
    );
    let quart = claim_with(dir.path(), &["quart"], &installed, true).unwrap();
    assert!(
        quart.rule.contains("hypercorn 0.18.0 which quart brings"),
        "{}",
        quart.rule
    );
    assert_eq!(quart.missing_server, None);

    // A WSGI app with no server: gunicorn is wanted (the build adds it);
    // told not to add one, Flask's own server, and nothing for Bottle.
    let dir = app(&[("app.py", "from flask import Flask\napp = Flask(__name__)\n")]);
    let installed = Installed::of(&["flask==3.1.3"]);
    let wanting = claim_with(dir.path(), &["flask"], &installed, true).unwrap();
    assert_eq!(wanting.missing_server, Some("gunicorn"));
    let dir = app(&[("api.py", "from bottle import Bottle\napp = Bottle()\n")]);
    let installed = Installed::of(&["bottle"]);
    let bottle = claim_with(dir.path(), &["bottle"], &installed, true).unwrap();
    assert_eq!(bottle.missing_server, Some("gunicorn"));
    assert!(claim_with(dir.path(), &["bottle"], &installed, false).is_none());

    // A Procfile naming gunicorn that nothing installs: gunicorn is wanted.
    let dir = app(&[("Procfile", "web: gunicorn app:app\n")]);
    let installed = Installed::of(&["flask"]);
    let procfile = claim_with(dir.path(), &["flask"], &installed, true).unwrap();
    assert_eq!(procfile.missing_server, Some("gunicorn"));
}

#[test]
fn hosting_platforms_files_say_how_the_app_starts() {
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a [&'a str]);
    let cases: [Case; 7] = [
        (
            &[(
                "render.yaml",
                "services:\n  - type: web\n    name: api\n    runtime: python\n    buildCommand: pip install -r requirements.txt\n    startCommand: uvicorn main:app --host 0.0.0.0 --port $PORT\n",
            )],
            "render.yaml",
            &["uvicorn", "main:app", "--host", "0.0.0.0", "--port", "7000"],
        ),
        (
            &[(
                "railway.json",
                "{\"deploy\": {\"startCommand\": \"hypercorn main:app --bind 0.0.0.0:$PORT\"}}",
            )],
            "Railway",
            &["hypercorn", "main:app", "--bind", "0.0.0.0:7000"],
        ),
        (
            &[(
                "railway.toml",
                "[deploy]\nstartCommand = \"gunicorn app:app\"\n",
            )],
            "Railway",
            &["gunicorn", "app:app"],
        ),
        (
            &[(
                "fly.toml",
                "app = 'x'\n[processes]\nworker = 'celery -A tasks worker'\napp = 'gunicorn -b 0.0.0.0:8080 app:app'\n[http_service]\ninternal_port = 8080\nprocesses = ['app']\n",
            )],
            "fly.toml",
            &["gunicorn", "-b", "0.0.0.0:8080", "app:app"],
        ),
        (
            &[(
                "app.yaml",
                "runtime: python312\nentrypoint: gunicorn -b :$PORT main:app\n",
            )],
            "App Engine",
            &["gunicorn", "-b", ":7000", "main:app"],
        ),
        (
            &[(
                "startup.sh",
                "#!/bin/bash\npython -m uvicorn main:app --host 0.0.0.0\n",
            )],
            "Azure startup file",
            &["python", "-m", "uvicorn", "main:app", "--host", "0.0.0.0"],
        ),
        (
            &[(
                ".do/app.yaml",
                "name: sample\nservices:\n- name: web\n  environment_slug: python\n  run_command: gunicorn --worker-tmp-dir /dev/shm mysite.wsgi\n  http_port: 8080\n",
            )],
            "DigitalOcean app spec",
            &["gunicorn", "--worker-tmp-dir", "/dev/shm", "mysite.wsgi"],
        ),
    ];
    for (files, provider, want) in cases {
        let dir = app(files);
        let Claimed { name, argv, .. } = claimed(&dir, &["gunicorn", "uvicorn", "hypercorn"], 7000);
        assert_eq!(name, provider, "{files:?}");
        assert_eq!(argv, want, "{files:?}");
    }
    let dir = app(&[("fly.toml", "[http_service]\ninternal_port = 8081\n")]);
    assert_eq!(
        port_of(&dir),
        Some((8081, "internal_port in fly.toml".to_string()))
    );
    let dir = app(&[(
        ".do/app.yaml",
        "services:\n- name: web\n  http_port: 8082\n",
    )]);
    assert_eq!(port_of(&dir).unwrap().0, 8082);
    // A render.yaml service in another directory, or a shell script, is not this app's start.
    let dir = app(&[
        (
            "render.yaml",
            "services:\n  - type: web\n    rootDir: backend\n    startCommand: gunicorn app:app\n",
        ),
        ("startup.txt", "./start.sh\n"),
    ]);
    assert!(claim_with(dir.path(), &[], &Installed::default(), false).is_none());
}

#[test]
fn aiohttp_and_packages_that_serve_when_run() {
    let dir = app(&[
        ("service/__init__.py", ""),
        (
            "service/__main__.py",
            "from aiohttp import web\nfrom service.app import make\nweb.run_app(make(), port=8081)\n",
        ),
    ]);
    let Claimed {
        name,
        argv,
        default_port,
        ..
    } = claimed(&dir, &["aiohttp==3.9.5"], 8081);
    assert_eq!(name, "aiohttp");
    assert_eq!(argv, ["python", "-m", "service"]);
    assert_eq!(default_port, Some(8081));
    // A package's main.py run as a script (aiohttp's demos start so).
    let dir = app(&[
        ("chat/__init__.py", ""),
        (
            "chat/main.py",
            "from aiohttp import web\n\nasync def init_app():\n    return web.Application()\n\ndef main():\n    web.run_app(init_app())\n\nif __name__ == '__main__':\n    main()\n",
        ),
    ]);
    let Claimed { argv, rule, .. } = claimed(&dir, &["aiohttp"], 8080);
    assert_eq!(argv, ["python", "-m", "chat.main"]);
    assert!(rule.contains("chat/main.py calls web.run_app"), "{rule}");
    let dir = app(&[
        ("api/__init__.py", ""),
        (
            "api/__main__.py",
            "import uvicorn\n\nif __name__ == '__main__':\n    uvicorn.run('api.app:app', host='0.0.0.0')\n",
        ),
    ]);
    let Claimed { name, argv, .. } = claimed(&dir, &["uvicorn"], 8000);
    assert_eq!(
        (name.as_str(), argv.as_slice()),
        (
            "python -m package",
            &["python".to_string(), "-m".into(), "api".into()][..]
        )
    );
}

#[test]
fn django_settings_found_without_a_literal() {
    // manage.py computes the module: the default branch's.
    let computed = "import os\nsettings_module = 'proj.production' if 'WEBSITE_HOSTNAME' in os.environ else 'proj.settings'\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', settings_module)\n";
    let dir = app(&[
        ("manage.py", computed),
        ("proj/__init__.py", ""),
        (
            "proj/settings.py",
            "ROOT_URLCONF = 'proj.urls'\nWSGI_APPLICATION = 'proj.wsgi.application'\n",
        ),
        ("proj/production.py", "from .settings import *\n"),
    ]);
    let Claimed {
        rule, argv, env, ..
    } = claimed(&dir, &["django", "gunicorn"], 8000);
    assert!(
        rule.contains("proj.settings is the one it names by default"),
        "{rule}"
    );
    assert_eq!(argv.last().unwrap(), "proj.wsgi:application");
    assert!(env.is_empty());
    // Nothing in manage.py at all: the package whose settings hold ROOT_URLCONF,
    // which the image then sets.
    let dir = app(&[
        (
            "manage.py",
            "import os, sys\nfrom django.core.management import execute_from_command_line\nexecute_from_command_line(sys.argv)\n",
        ),
        ("config/__init__.py", ""),
        ("config/settings.py", "ROOT_URLCONF = 'config.urls'\n"),
    ]);
    let Claimed { rule, env, .. } = claimed(&dir, &["django", "gunicorn"], 8000);
    assert!(
        rule.contains("config.settings holds ROOT_URLCONF"),
        "{rule}"
    );
    assert_eq!(
        env,
        [(
            "DJANGO_SETTINGS_MODULE".to_string(),
            "config.settings".to_string()
        )]
    );
}

#[test]
fn an_app_in_a_module_of_its_own_name_and_shiny_apps() {
    // `flask --app hello run` apps: found after the usual modules.
    let dir = app(&[
        (
            "hello.py",
            "from flask import Flask\napp = Flask(__name__)\n",
        ),
        ("setup.py", "from flask import Flask\nnot_it = Flask('x')\n"),
        (
            "test_hello.py",
            "from flask import Flask\nalso_not = Flask('x')\n",
        ),
    ]);
    let Claimed { argv, .. } = claimed(&dir, &["flask", "gunicorn"], 8000);
    assert_eq!(argv, ["gunicorn", "--bind", "0.0.0.0:8000", "hello:app"]);
    // A bare `App(…)` is Falcon's only where Falcon is installed.
    let dir = app(&[(
        "things.py",
        "import falcon\nfrom falcon import App\napp = App()\n",
    )]);
    let Claimed { rule, .. } = claimed(&dir, &["falcon", "gunicorn"], 8000);
    assert!(rule.contains("Falcon object things:app"), "{rule}");
    // Shiny's own `App(ui, server)`: `shiny run`, whatever the file's name.
    let dir = app(&[(
        "app-core.py",
        "from shiny import App, ui\napp_ui = ui.page_fluid()\ndef server(i, o, s):\n    pass\napp = App(app_ui, server)\n",
    )]);
    let Claimed { name, argv, .. } = claimed(&dir, &["shiny", "uvicorn"], 8000);
    assert_eq!(name, "Shiny");
    assert_eq!(
        argv,
        [
            "shiny",
            "run",
            "--host",
            "0.0.0.0",
            "--port",
            "8000",
            "app-core.py"
        ]
    );
}

#[test]
fn poetry_scripts_are_console_scripts() {
    let dir = app(&[(
        "pyproject.toml",
        "[tool.poetry]\nname = \"default-app\"\nversion = \"0.1.0\"\n[tool.poetry.dependencies]\npython = \"^3.10\"\n[tool.poetry.scripts]\nmy-script = \"default_app.server:main\"\n",
    )]);
    let pyproject = crate::project::pyproject::read(&dir.path().join("pyproject.toml")).unwrap();
    assert_eq!(pyproject.scripts, ["my-script"]);
    assert_eq!(
        pyproject.entry_points["console_scripts"],
        [(
            "my-script".to_string(),
            "default_app.server:main".to_string()
        )]
    );
    assert_eq!(pyproject.version.as_deref(), Some("0.1.0"));
    let Claimed { argv, .. } = claimed(&dir, &["flask"], 8000);
    assert_eq!(argv, ["my-script"]);
}
