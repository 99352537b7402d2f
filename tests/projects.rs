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

/// A service of a monorepo that requires a sibling package: the package
/// is installed (built from its tree), and only the service's own files
/// are the app's.
fn a_service_with_its_sibling_package(app: &str, expect: &str) {
    let Some((summary, _)) = build_and_serve(&sample(app), &[], "/", expect) else {
        return;
    };
    let common = summary["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "common")
        .unwrap_or_else(|| panic!("common is not among the packages: {summary}"));
    assert_eq!(common["version"], "0.3.0");
    let app_layer = summary["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["what"].as_str().unwrap().contains("app files into /app"))
        .unwrap();
    assert!(
        app_layer["what"]
            .as_str()
            .unwrap()
            .contains(": 2 app files"),
        "the sibling's tree is not the app's: {app_layer}"
    );
}

#[test]
fn a_monorepo_service_requiring_a_sibling_by_path() {
    a_service_with_its_sibling_package(
        "monorepo/services/api",
        "api says: shared greeting from libs/common",
    );
}

#[test]
fn a_uv_workspace_member_requiring_another_member() {
    a_service_with_its_sibling_package(
        "monorepo-uv/services/api",
        "api says: shared greeting from the uv workspace's libs/common",
    );
}
