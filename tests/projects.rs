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
fn a_service_with_its_sibling_package(
    app: &str,
    expect: &str,
    app_files: usize,
) -> Option<serde_json::Value> {
    let (summary, _) = build_and_serve(&sample(app), &[], "/", expect)?;
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
            .contains(&format!(": {app_files} app files")),
        "the sibling's tree is not the app's: {app_layer}"
    );
    Some(summary)
}

#[test]
fn a_monorepo_service_requiring_a_sibling_by_path() {
    a_service_with_its_sibling_package(
        "monorepo/services/api",
        "api says: shared greeting from libs/common",
        2,
    );
}

/// Poetry's path dependency and its poetry.lock's directory source.
#[test]
fn a_poetry_service_with_a_path_dependency_and_its_lock() {
    let Some(summary) = a_service_with_its_sibling_package(
        "monorepo/services/poetry-api",
        "poetry-api says: shared greeting from libs/common",
        3,
    ) else {
        return;
    };
    assert_eq!(summary["packages_from"], "poetry.lock", "{summary}");
}

/// PDM's `common @ file:///${PROJECT_ROOT}/…` and its pdm.lock's `path`.
#[test]
fn a_pdm_service_with_a_path_dependency_and_its_lock() {
    let Some(summary) = a_service_with_its_sibling_package(
        "monorepo/services/pdm-api",
        "pdm-api says: shared greeting from libs/common",
        3,
    ) else {
        return;
    };
    assert_eq!(summary["packages_from"], "pdm.lock", "{summary}");
}

/// The member has no lock of its own: the workspace's `uv.lock` (at its
/// root) gives the pins, the sibling member included, built from its tree.
#[test]
fn a_uv_workspace_member_requiring_another_member() {
    let Some(summary) = a_service_with_its_sibling_package(
        "monorepo-uv/services/api",
        "api says: shared greeting from the uv workspace's libs/common",
        2,
    ) else {
        return;
    };
    assert_eq!(summary["packages_from"], "uv.lock", "{summary}");
}

#[test]
fn a_lock_records_a_sibling_as_a_directory_source_and_goes_stale_with_it() {
    if !debian_archive_configured("directory source") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("monorepo");
    copy_tree(&sample("monorepo"), &repo);
    let api = repo.join("services/api");
    let wheelhouse = sample("wheelhouse");
    let lock = pypack(
        shared_cache(),
        &[
            "lock",
            api.to_str().unwrap(),
            "--no-index",
            "--find-links",
            wheelhouse.to_str().unwrap(),
        ],
    );
    assert!(lock.status.success(), "{}", stderr(&lock));
    let text = std::fs::read_to_string(api.join("pylock.toml")).unwrap();
    assert!(
        text.contains("name = \"common\"\nversion = \"0.3.0\"\n\n[packages.directory]\npath = \"../../libs/common\""),
        "{text}"
    );
    let build = |extra: &[&str]| {
        let mut args = vec!["--locked", "--output"];
        args.extend(extra);
        build_sample_dir(shared_cache(), &api, &args)
    };
    let image = tmp.path().join("image");
    let out = build(&[image.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("packages: 9 (pylock.toml)"),
        "{}",
        stderr(&out)
    );
    // The sibling edited: the lock no longer holds.
    std::fs::write(
        repo.join("libs/common/common/__init__.py"),
        "GREETING = \"edited\"\n",
    )
    .unwrap();
    let again = tmp.path().join("again");
    let out = build(&[again.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("it is stale"), "{}", stderr(&out));
}

/// A tool's lock that takes a package from a directory the project does not
/// name (outside the app, its lock and its declared siblings) is refused,
/// naming the lock's line, before the directory is packed.
#[test]
fn a_tool_lock_naming_a_directory_the_project_does_not_is_refused() {
    if !debian_archive_configured("directory source outside") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("monorepo");
    copy_tree(&sample("monorepo"), &repo);
    // A project of someone else's, beside the repository.
    let secret = tmp.path().join("secret");
    copy_tree(&repo.join("libs/common"), &secret);
    let service = repo.join("services/poetry-api");
    let lock = service.join("poetry.lock");
    let text = std::fs::read_to_string(&lock).unwrap();
    let edited = text.replace("url = \"../../libs/common\"", "url = \"../../../secret\"");
    assert_ne!(edited, text);
    std::fs::write(&lock, &edited).unwrap();
    let line = edited
        .lines()
        .position(|l| l.contains("../../../secret"))
        .unwrap()
        + 1;
    let image = tmp.path().join("image");
    let out = build_sample_dir(
        shared_cache(),
        &service,
        &["--output", image.to_str().unwrap()],
    );
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "{}:{line}: {} is outside the directories this build reads",
            lock.display(),
            std::fs::canonicalize(&secret).unwrap().display()
        )),
        "{err}"
    );
    assert!(!image.exists());
}
