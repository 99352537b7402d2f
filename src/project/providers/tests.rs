//! Each provider on small app directories.

use super::*;
use crate::project::pyproject::Pyproject;

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
    let deps: Vec<String> = deps.iter().map(|d| d.to_string()).collect();
    let ctx = AppContext {
        dir: dir.path(),
        pyproject: &pyproject,
        dependencies: &deps,
    };
    let (name, claim) = claim(&ctx).unwrap().expect("a provider claims the app");
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
    let ctx = AppContext {
        dir: dir.path(),
        pyproject: &pyproject,
        dependencies: &[],
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
