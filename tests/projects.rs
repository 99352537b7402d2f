//! Apps declared the ways pip installs them besides requirements.txt and
//! `[project]`: a `setup.cfg` project and a `setup.py` that computes its
//! requirements (read from its metadata, built in the builder), each built
//! with no flags (but the wheelhouse), run in podman and asked over HTTP.

mod common;

use common::*;
use std::path::PathBuf;

fn sample(app: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("sample-apps")
        .join(app)
}

#[test]
fn a_setup_cfg_project_gets_its_install_requires() {
    let Some((summary, _)) = build_and_serve(
        &sample("setupcfg-guestbook"),
        &[],
        "/",
        "guestbook: declared in setup.cfg",
    ) else {
        return;
    };
    assert_eq!(
        command_argv(&summary),
        [
            "gunicorn",
            "--bind",
            "0.0.0.0:8000",
            "guestbook:create_app()"
        ]
    );
    let packages: Vec<&str> = summary["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(
        packages.contains(&"flask") && packages.contains(&"gunicorn"),
        "{packages:?}"
    );
}

#[test]
fn a_setup_py_computing_its_requirements_gets_them_from_its_metadata() {
    let Some((summary, _)) = build_and_serve(
        &sample("setuppy-notes"),
        &[],
        "/",
        "notes: requirements computed by setup.py",
    ) else {
        return;
    };
    assert_eq!(command_argv(&summary)[..2], ["uvicorn", "notes.main:app"]);
    // uvicorn came from the project's own metadata, not added by pypack.
    assert!(summary["server_added"].is_null(), "{summary}");
}
