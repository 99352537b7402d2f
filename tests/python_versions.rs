//! Which Python an app gets, end to end on the built-in bases (the host's
//! Debian archive, wheels from sample-apps/wheelhouse, no index): a version
//! hint with no exact base builds on the nearest base that `requires-python`
//! accepts and that has a wheel for every pin, with a warning naming the hint,
//! the version chosen and both ways to get the exact one; an explicit
//! `--python` with no base is an error that lists the versions there are.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An app asking for Python 3.12 (in a `.python-version` with a comment)
/// and accepting >=3.10, needing `requirements`.
fn hinted_app(dir: &Path, requirements: &str) -> PathBuf {
    let app = dir.join("app");
    fs::create_dir_all(&app).unwrap();
    fs::write(app.join(".python-version"), "# the team's Python\n3.12\n").unwrap();
    fs::write(
        app.join("pyproject.toml"),
        "[project]\nname = \"hinted\"\nversion = \"0.1\"\nrequires-python = \">=3.10\"\ndependencies = []\n",
    )
    .unwrap();
    fs::write(app.join("requirements.txt"), requirements).unwrap();
    fs::copy(
        repo().join("sample-apps/flask-hello/app.py"),
        app.join("app.py"),
    )
    .unwrap();
    app
}

/// `pypack build APP --no-index -f wheelhouse --output OUT --json EXTRA…`
fn build(app: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let wheelhouse = repo().join("sample-apps/wheelhouse");
    let mut args = vec![
        "build",
        app.to_str().unwrap(),
        "--no-index",
        "-f",
        wheelhouse.to_str().unwrap(),
        "--no-smoke",
        "--no-compile",
        "--cmd",
        "gunicorn --bind 0.0.0.0:8000 app:app",
        "--output",
        out.to_str().unwrap(),
        "--json",
    ];
    args.extend(extra);
    pypack(shared_cache(), &args)
}

fn recipe_of(out: &std::process::Output) -> String {
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    summary["base"]["recipe"].as_str().unwrap().to_string()
}

#[test]
fn a_hint_with_no_base_takes_the_nearest_that_fits() {
    let test = "a_hint_with_no_base_takes_the_nearest_that_fits";
    if !debian_archive_configured(test) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();

    // Pure-Python pins: the nearest base, 3.13, fits.
    let app = hinted_app(&tmp.path().join("pure"), "gunicorn>=22\n");
    let out = build(&app, &tmp.path().join("pure-image"), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(recipe_of(&out), "debian13");
    let err = stderr(&out);
    for part in [
        "warning: .python-version asks for Python 3.12, which no base has; building on Python 3.13 (debian13)",
        "requires-python '>=3.10'",
        "`--python 3.12` is strict",
        "`--base REF`",
    ] {
        assert!(err.contains(part), "'{part}' missing from: {err}");
    }

    // markupsafe has a wheel for 3.11 only in the wheelhouse: 3.13 cannot
    // resolve, so the next nearest (3.11) is taken, and the output says why.
    let app = hinted_app(
        &tmp.path().join("compiled"),
        "flask>=3.0,<4\ngunicorn>=22\n",
    );
    let out = build(&app, &tmp.path().join("compiled-image"), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(recipe_of(&out), "debian12");
    let err = stderr(&out);
    assert!(
        err.contains("the requirements cannot be resolved on debian13")
            && err.contains("markupsafe")
            && err.contains("trying debian12"),
        "{err}"
    );
}

#[test]
fn an_explicit_python_with_no_base_is_an_error() {
    let test = "an_explicit_python_with_no_base_is_an_error";
    if !debian_archive_configured(test) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let app = hinted_app(tmp.path(), "gunicorn>=22\n");
    let image = tmp.path().join("image");
    let out = build(&app, &image, &["--python", "3.12"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    for part in [
        "Python 3.12 (from --python) has no base",
        "3.11 (debian12), 3.13 (debian13), 3.14 (debian-forky, testing)",
        "requires-python '>=3.10' accepts 3.11, 3.13, 3.14",
        "--base REF",
    ] {
        assert!(err.contains(part), "'{part}' missing from: {err}");
    }
    assert!(!image.exists(), "nothing may be written");
}
