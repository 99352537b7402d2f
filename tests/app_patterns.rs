//! Patterns seen in public apps, each as a sample app of our own, built with
//! no flags (but the wheelhouse), run in podman and asked over HTTP: what the
//! smoke run observes (a port no rule predicts, directories written beside
//! the code) is followed; a production server is added when the app has
//! none; commands fit the installed versions; a port below 1024 is moved.

mod common;

use common::*;
use std::path::PathBuf;

fn sample(app: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("sample-apps")
        .join(app)
}

fn writable(summary: &serde_json::Value) -> Vec<(String, String)> {
    summary["writable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["path"].as_str().unwrap().to_string(),
                w["rule"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_flask_2_0_tutorial_gets_gunicorn_and_keeps_its_dev_server_when_asked() {
    let app = sample("flask-tutorial");
    let Some((summary, _)) = build_and_serve(&app, &[], "/", "Hello from the Flask 2.0 tutorial")
    else {
        return;
    };
    assert_eq!(summary["server_added"]["name"], "gunicorn", "{summary}");
    assert_eq!(
        command_argv(&summary),
        ["gunicorn", "--bind", "0.0.0.0:5000", "app:app"]
    );
    assert_eq!(summary["port"]["value"], 5000);
    // Flask 2.0 has no `--app`: its development server is named by FLASK_APP.
    let (summary, _) = build_and_serve(
        &app,
        &["--server", "none"],
        "/",
        "Hello from the Flask 2.0 tutorial",
    )
    .unwrap();
    assert_eq!(
        command_argv(&summary),
        ["flask", "run", "--host", "0.0.0.0", "--port", "5000"]
    );
    assert!(summary["server_added"].is_null());
    assert!(
        summary["command"]["rule"]
            .as_str()
            .unwrap()
            .contains("Flask 2.0.1 takes FLASK_APP"),
        "{}",
        summary["command"]
    );
}

#[test]
fn a_port_no_rule_predicts_is_observed_and_exposed() {
    let Some((summary, _)) = build_and_serve(&sample("odd-port"), &[], "/", "all systems nominal")
    else {
        return;
    };
    assert_eq!(summary["port"]["value"], 6543);
    let rule = summary["port"]["rule"].as_str().unwrap();
    assert!(rule.starts_with("observed:"), "{rule}");
}

#[test]
fn a_directory_made_beside_the_code_at_import_becomes_the_apps() {
    let Some((summary, _)) =
        build_and_serve(&sample("flask-uploads"), &[], "/", "uploads: started.txt")
    else {
        return;
    };
    let writable = writable(&summary);
    assert_eq!(writable.len(), 1, "{writable:?}");
    assert_eq!(writable[0].0, "/app/uploads");
    assert!(writable[0].1.starts_with("observed:"), "{writable:?}");
}

#[test]
fn read_only_refuses_what_the_app_writes_and_leaves_nothing() {
    if !podman_available("read_only") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("uploads-read-only");
    std::fs::create_dir(&app).unwrap();
    for file in ["app.py", "requirements.txt"] {
        std::fs::copy(sample("flask-uploads").join(file), app.join(file)).unwrap();
    }
    std::fs::write(
        app.join("pyproject.toml"),
        "[tool.pypack]\nread-only = true\n",
    )
    .unwrap();
    let tag = format!("localhost/pypack-read-only:{}", std::process::id());
    let out = build_sample_dir(shared_cache(), &app, &["--load", "-t", &tag]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("read-only = true") && err.contains("uploads/"),
        "{err}"
    );
    assert!(!podman(&["image", "exists", &tag]).status.success());
}

#[test]
fn django_migrating_at_start_with_sqlite_beside_manage_py() {
    let Some((summary, _)) =
        build_and_serve(&sample("django-sqlite-root"), &[], "/", "shop customers: 0")
    else {
        return;
    };
    let writable = writable(&summary);
    assert!(writable.iter().any(|(p, _)| p == "/app"), "{writable:?}");
}

#[test]
fn a_dockerfile_cmd_on_port_80_moves_above_1024() {
    let Some((summary, _)) = build_and_serve(
        &sample("dockerfile-port80"),
        &[],
        "/",
        "served as the Dockerfile says",
    ) else {
        return;
    };
    assert_eq!(summary["port"]["value"], 8080);
    assert!(
        command_argv(&summary).contains(&"0.0.0.0:8080".to_string()),
        "{}",
        summary["command"]
    );
}

#[test]
fn posix_parameter_forms_in_a_dockerfile_shell_command() {
    let Some((summary, _)) = build_and_serve(
        &sample("port-expansion"),
        &[],
        "/",
        "port from the environment",
    ) else {
        return;
    };
    assert_eq!(summary["port"]["value"], 9000);
}

#[test]
fn quart_is_served_by_the_hypercorn_it_brings() {
    let Some((summary, _)) =
        build_and_serve(&sample("quart-notes"), &[], "/", "\"served_by\":\"quart\"")
    else {
        return;
    };
    assert_eq!(command_argv(&summary)[0], "hypercorn");
    assert!(summary["server_added"].is_null());
    let rule = summary["command"]["rule"].as_str().unwrap();
    assert!(rule.contains("which quart brings"), "{rule}");
}

#[test]
fn an_aiohttp_package_runs_as_python_dash_m() {
    let Some((summary, _)) = build_and_serve(
        &sample("aiohttp-status"),
        &[],
        "/",
        "\"served_by\": \"aiohttp\"",
    ) else {
        return;
    };
    assert_eq!(command_argv(&summary), ["python", "-m", "status"]);
    assert_eq!(summary["port"]["value"], 8080);
}

#[test]
fn an_asgi_app_outranks_a_console_script_that_exits() {
    let Some((summary, _)) = build_and_serve(
        &sample("starlette-cli"),
        &[],
        "/",
        "\"served_by\":\"starlette\"",
    ) else {
        return;
    };
    assert_eq!(command_argv(&summary)[..2], ["uvicorn", "notes.app:app"]);
    assert_eq!(summary["server_added"]["name"], "uvicorn");
}

#[test]
fn django_settings_computed_in_manage_py_and_no_server_declared() {
    let Some((summary, _)) = build_and_serve(
        &sample("django-computed-settings"),
        &[],
        "/",
        "bookshelf: 3 books",
    ) else {
        return;
    };
    assert_eq!(
        command_argv(&summary),
        [
            "gunicorn",
            "--bind",
            "0.0.0.0:8000",
            "bookshelf.wsgi:application"
        ]
    );
    assert_eq!(summary["server_added"]["name"], "gunicorn");
    let rule = summary["command"]["rule"].as_str().unwrap();
    assert!(rule.contains("bookshelf.settings"), "{rule}");
}
