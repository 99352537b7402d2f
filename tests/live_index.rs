//! Against a real package index (PYPACK_TEST_INDEX_URL, else the one pypack
//! finds on this host; skipped only when none answers, a failure in CI):
//! pypack's resolution for linux/amd64
//! CPython 3.11 equals pip's for the same platform, and the Flask set,
//! installed by pypack on the debian12 base, imports and runs its console
//! scripts in podman.

mod common;

use common::parity::*;
use common::*;
use pypack::cache::Cache;
use pypack::http::Http;
use pypack::index::{Index, IndexConfig};
use pypack::project::requirements::parse_file;
use pypack::resolve::{ResolveInput, resolve};
use std::process::Command;

fn index_url(test: &str) -> Option<String> {
    live_index_url(test)
}

fn base_options() -> pypack::base::BaseOptions {
    live_base_options()
}

#[test]
fn resolutions_match_pip_for_linux_amd64_cpython_311() {
    let Some(url) = index_url("resolutions_match_pip_for_linux_amd64_cpython_311") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let cache = Cache::open(Some(tmp.path())).unwrap();
    let target = debian12_target(&cache);
    for set in [
        "flask gunicorn",
        "fastapi[standard] uvicorn",
        "django psycopg[binary]",
        "numpy pandas",
        "requests boto3",
    ] {
        let ours =
            pypack_pins(&url, &cache, &target, set).unwrap_or_else(|e| panic!("{set}: {e:#}"));
        let pips = pip_pins(&url, &target, set).unwrap_or_else(|e| panic!("{set}: {e}"));
        eprintln!("{set}: {} packages", ours.len());
        assert_eq!(ours, pips, "{set}: pypack (left) and pip (right) disagree");
    }
}

const IMPORT_AND_RUN: &str = r#"
import importlib, importlib.metadata as md, subprocess, sys
failed = []
for dist in md.distributions():
    tops = set()
    for f in dist.files or []:
        first = f.parts[0]
        if first.endswith(('.dist-info', '.data')) or first == '..' or first == '__pycache__':
            continue
        if len(f.parts) == 1 and first.endswith('.py'):
            tops.add(first[:-3])
        elif len(f.parts) > 1 and first.isidentifier():
            tops.add(first)
    for top in sorted(tops):
        try:
            importlib.import_module(top)
            print('import', top, 'ok')
        except Exception as e:
            failed.append(f'import {top} ({dist.metadata["Name"]}): {e!r}')
for ep in md.entry_points(group='console_scripts'):
    script = '/app/.venv/bin/' + ep.name
    codes = [subprocess.run([script, flag], capture_output=True).returncode for flag in ('--version', '--help')]
    print('script', ep.name, codes)
    if 0 not in codes:
        failed.append(f'{ep.name}: --version and --help both failed')
print('\n'.join(failed))
sys.exit(1 if failed else 0)
"#;

#[test]
fn flask_set_installs_and_runs_on_debian12() {
    let Some(url) = index_url("flask_set_installs_and_runs_on_debian12") else {
        return;
    };
    if !podman_available("flask_set_installs_and_runs_on_debian12") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cache_dir = tmp.path().join("cache");
    std::fs::create_dir_all(&cache_dir).unwrap();
    let recipe = pypack::base::Recipe::load("debian12").unwrap();
    let cache = Cache::open(Some(&cache_dir)).unwrap();
    let http = Http::new().unwrap();
    let base = pypack::base::build(&recipe, &base_options(), &cache, &http).unwrap();
    let target = base.target().unwrap();

    let config = IndexConfig {
        index_urls: vec![format!("{}/", url.trim_end_matches('/'))],
        ..IndexConfig::default()
    };
    let index = Index::new(&http, &cache, config);
    let req = tmp.path().join("requirements.txt");
    std::fs::write(&req, "flask\ngunicorn\n").unwrap();
    let set = parse_file(&req, &|_| None).unwrap();
    let input = ResolveInput {
        requirements: set.requirements,
        ..ResolveInput::default()
    };
    let resolution = resolve(&index, &target, &input).unwrap();
    let venv = pypack::wheel::Venv {
        path: "/app/.venv".into(),
        base_python: base.python_executable.clone(),
        python_version: target.python_version(),
        python_full_version: target.python_full_version(),
    };
    let entries =
        pypack::install::install_resolution(&index, &resolution.pins, &venv, false).unwrap();
    let blob =
        pypack::oci::layer::write_layer(&cache, &entries, pypack::oci::DEFAULT_EPOCH).unwrap();
    let layer = pypack::oci::LayerSpec {
        blob,
        created_by: "pypack: venv".into(),
    };
    let mut container = pypack::oci::image::container_config_of(&base.image).unwrap();
    container.env.retain(|e| !e.starts_with("PATH="));
    container
        .env
        .push("PATH=/app/.venv/bin:/usr/local/bin:/usr/bin:/bin".into());
    container.working_dir = Some("/app".into());
    let image = pypack::oci::image::extend(
        &cache,
        &base.image,
        &[layer],
        &container,
        pypack::oci::DEFAULT_EPOCH,
        &Default::default(),
    )
    .unwrap();
    let archive = tmp.path().join("image.tar");
    let tag = format!("localhost/pypack-test-flask-set:{}", std::process::id());
    pypack::oci::write_output(
        &cache,
        &image,
        &pypack::oci::Output::DockerArchive(archive.clone()),
        Some(&tag),
    )
    .unwrap();

    let load = Command::new("podman")
        .args(["load", "-i"])
        .arg(&archive)
        .output()
        .unwrap();
    assert!(
        load.status.success(),
        "{}",
        String::from_utf8_lossy(&load.stderr)
    );
    let run = Command::new("podman")
        .args(["run", "--rm", &tag, "python", "-c", IMPORT_AND_RUN])
        .output()
        .unwrap();
    let _ = Command::new("podman").args(["rmi", &tag]).output();
    let stdout = String::from_utf8_lossy(&run.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "imports or console scripts failed");
    for name in [
        "flask",
        "werkzeug",
        "jinja2",
        "markupsafe",
        "itsdangerous",
        "click",
        "blinker",
        "gunicorn",
    ] {
        assert!(
            stdout.contains(&format!("import {name} ok")),
            "{name} was not imported"
        );
    }
    assert!(
        stdout.contains("script flask") && stdout.contains("script gunicorn"),
        "{stdout}"
    );
}

#[test]
fn with_nothing_configured_a_build_uses_pips_default_index() {
    let test = "with_nothing_configured_a_build_uses_pips_default_index";
    if index_url(test).is_none() || !tool_available("pip3", test) {
        return;
    }
    // pypack_env removes every PIP_* setting and points pip's config at
    // /dev/null: nothing names an index, so the host's pip is asked.
    let tmp = tempfile::tempdir().unwrap();
    let app = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-apps/flask-hello");
    let layout = tmp.path().join("image");
    let out = pypack(
        &tmp.path().join("cache"),
        &[
            "build",
            app.to_str().unwrap(),
            "--no-smoke",
            "--no-compile",
            "--output",
            layout.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("index:    pip's default ("),
        "{}",
        stderr(&out)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
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

/// Runs where the live tests run: the index answers. Also the subject of
/// the next test, which runs it with an index that does not answer.
#[test]
fn the_live_index_answers() {
    let Some(url) = live_index_url("the_live_index_answers") else {
        return;
    };
    assert!(url.starts_with("http"), "{url}");
}

/// An index that does not answer is a skip outside CI and a failure in CI:
/// the test above, run again by this binary with a dead index and `CI` set,
/// fails saying so.
#[test]
fn an_index_that_does_not_answer_fails_the_live_tests_in_ci() {
    let dead = format!("http://127.0.0.1:{}/simple/", free_port());
    let why = pick_live_index(Some(dead.clone())).unwrap_err();
    assert!(why.contains(&format!("{dead} does not answer")), "{why}");
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "the_live_index_answers", "--test-threads", "1"])
        .env("CI", "1")
        .env("PYPACK_TEST_INDEX_URL", &dead)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("the_live_index_answers cannot run: the package index")
            && said.contains("in CI a test that cannot run is a failure"),
        "{said}"
    );
}
