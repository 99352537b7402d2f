//! The commands pypack picks fit the framework version the pins install:
//! Flask 1.1, 2.0, 2.3 and 3.x, Django 3.2, 4.2 and 5.x, each built with no
//! flags (a production server is added) and with `--server none` (the
//! framework's own server, started as that version starts it), run in
//! podman and asked for its page. The apps are written here, pinned as
//! their era's tutorials pinned them; the wheels come from the wheelhouse.

mod common;

use common::*;
use std::path::Path;

fn write(dir: &Path, files: &[(&str, String)]) {
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// A Flask app pinned by `requirements`, answering with `version`.
fn flask(requirements: &str, version: &str, app_option: bool) {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join(format!("flask-{version}"));
    write(
        &app,
        &[
            ("requirements.txt", requirements.replace(' ', "\n")),
            (
                "app.py",
                "import flask\n\napp = flask.Flask(__name__)\n\n\n@app.route('/')\ndef index():\n    return 'flask ' + flask.__version__\n\n\nif __name__ == '__main__':\n    app.run(host='0.0.0.0', port=5000)\n"
                    .to_string(),
            ),
        ],
    );
    let expect = format!("flask {version}");
    let Some((summary, _)) = build_and_serve(&app, &[], "/", &expect) else {
        return;
    };
    assert_eq!(
        command_argv(&summary),
        ["gunicorn", "--bind", "0.0.0.0:5000", "app:app"]
    );
    assert_eq!(summary["server_added"]["name"], "gunicorn");
    let (summary, _) = build_and_serve(&app, &["--server", "none"], "/", &expect).unwrap();
    let want: Vec<&str> = match app_option {
        true => vec![
            "flask", "--app", "app", "run", "--host", "0.0.0.0", "--port", "5000",
        ],
        false => vec!["flask", "run", "--host", "0.0.0.0", "--port", "5000"],
    };
    assert_eq!(command_argv(&summary), want, "{}", summary["command"]);
}

#[test]
fn flask_1_1() {
    flask(
        "Flask==1.1.2 Werkzeug==1.0.1 Jinja2==3.0.3 itsdangerous==1.1.0 click==7.1.2 MarkupSafe==2.1.5",
        "1.1.2",
        false,
    );
}

#[test]
fn flask_2_0() {
    flask("Flask==2.0.1 Werkzeug==2.0.3", "2.0.1", false);
}

#[test]
fn flask_2_3() {
    flask("Flask==2.3.3 Werkzeug==2.3.8", "2.3.3", true);
}

#[test]
fn flask_3() {
    flask("flask>=3,<4", "3.1.3", true);
}

/// A Django project (`startproject` shape) pinned by `requirement`.
fn django(requirement: &str, version: &str) {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join(format!("django-{version}"));
    write(
        &app,
        &[
            ("requirements.txt", format!("{requirement}\n")),
            (
                "manage.py",
                "import os\nimport sys\n\nif __name__ == '__main__':\n    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site_cfg.settings')\n    from django.core.management import execute_from_command_line\n    execute_from_command_line(sys.argv)\n".into(),
            ),
            ("site_cfg/__init__.py", String::new()),
            (
                "site_cfg/settings.py",
                "SECRET_KEY = 'versions-test-only'\nDEBUG = False\nALLOWED_HOSTS = ['localhost', '127.0.0.1']\nINSTALLED_APPS = []\nMIDDLEWARE = []\nROOT_URLCONF = 'site_cfg.urls'\nWSGI_APPLICATION = 'site_cfg.wsgi.application'\nDATABASES = {}\nUSE_TZ = True\n".into(),
            ),
            (
                "site_cfg/urls.py",
                "import django\nfrom django.http import HttpResponse\nfrom django.urls import path\n\nurlpatterns = [path('', lambda request: HttpResponse('django ' + django.get_version()))]\n".into(),
            ),
            (
                "site_cfg/wsgi.py",
                "import os\nfrom django.core.wsgi import get_wsgi_application\n\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'site_cfg.settings')\napplication = get_wsgi_application()\n".into(),
            ),
        ],
    );
    let expect = format!("django {version}");
    let Some((summary, _)) = build_and_serve(&app, &[], "/", &expect) else {
        return;
    };
    assert_eq!(
        command_argv(&summary),
        [
            "gunicorn",
            "--bind",
            "0.0.0.0:8000",
            "site_cfg.wsgi:application"
        ]
    );
    let (summary, _) = build_and_serve(&app, &["--server", "none"], "/", &expect).unwrap();
    assert_eq!(
        command_argv(&summary),
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
fn django_3_2() {
    django("Django==3.2.25", "3.2.25");
}

#[test]
fn django_4_2() {
    django("Django==4.2.27", "4.2.27");
}

#[test]
fn django_5() {
    django("Django>=5.2,<6", "5.2.19");
}
