//! sample-apps/data-api (Flask, numpy, pandas, scipy) built against a real
//! index (PYPACK_TEST_INDEX_URL, else the one pypack finds on this host;
//! given as PIP_INDEX_URL as a user's environment would), with no flags: the wheels link libstdc++, which the base lacks, so the build adds
//! Debian's package for it and says why; the smoke run imports the app (and
//! so numpy, pandas and scipy); the container answers HTTP with computed
//! values, on debian12 and on debian13. On a registry base without
//! libstdc++ the same build stops and writes nothing.

mod common;

use common::parity::live_index_url;
use common::*;
use std::path::{Path, PathBuf};

fn app() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sample-apps/data-api")
}

struct Running(String);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = podman(&["rm", "-f", "-t", "0", &self.0]);
    }
}

/// Builds data-api into podman as `tag` with `extra` flags; returns the JSON summary.
fn build(cache: &Path, index: &str, tag: &str, extra: &[&str]) -> serde_json::Value {
    let app = app();
    let mut args = vec![
        "build",
        app.to_str().unwrap(),
        "--load",
        "-t",
        tag,
        "--json",
    ];
    args.extend(extra);
    let out = pypack_env(cache, &args, &[("PIP_INDEX_URL", index)]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn serve(tag: &str) -> String {
    let port = free_port();
    let run = podman(&["run", "-d", "-p", &format!("127.0.0.1:{port}:8000"), tag]);
    assert!(run.status.success());
    let running = Running(String::from_utf8_lossy(&run.stdout).trim().to_string());
    let response = poll_http(port, "/", 60, |r| r.contains(" 200 ")).unwrap_or_else(|| {
        let logs = podman(&["logs", &running.0]);
        panic!("no answer: {}", String::from_utf8_lossy(&logs.stderr))
    });
    let find = podman(&[
        "exec",
        &running.0,
        "python",
        "-c",
        "import ctypes.util; print(ctypes.util.find_library('stdc++'))",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&find.stdout).trim(),
        "libstdc++.so.6"
    );
    response
}

fn check_on(cache: &Path, index: &str, base: &str, extra: &[&str]) {
    let tag = format!("localhost/pypack-data-api:{base}-{}", std::process::id());
    let summary = build(cache, index, &tag, extra);
    assert_eq!(summary["base"]["recipe"], base, "{summary}");
    assert_eq!(summary["smoke"]["passed"], true, "{}", summary["smoke"]);
    let added = summary["system_packages"].as_array().unwrap();
    let libstdcxx = added
        .iter()
        .find(|p| p["name"] == "libstdc++6")
        .unwrap_or_else(|| panic!("libstdc++6 not added: {summary}"));
    assert!(
        libstdcxx["why"]
            .as_str()
            .unwrap()
            .starts_with("libstdc++.so.6, needed by "),
        "{libstdcxx}"
    );
    let response = serve(&tag);
    let _ = podman(&["rmi", &tag]);
    assert!(
        response.contains("\"slope\":12.5") && response.contains("\"mean\":331.25"),
        "{response}"
    );
}

#[test]
fn data_api_builds_and_computes_on_debian12_and_debian13() {
    let test = "data_api_builds_and_computes_on_debian12_and_debian13";
    let Some(index) = live_index_url(test) else {
        return;
    };
    if !podman_available(test) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    check_on(tmp.path(), &index, "debian12", &[]);
    check_on(tmp.path(), &index, "debian13", &["--python", "3.13"]);
}

#[test]
fn data_api_on_a_registry_base_without_libstdcxx_stops() {
    let test = "data_api_on_a_registry_base_without_libstdcxx_stops";
    let Some(index) = live_index_url(test) else {
        return;
    };
    if !tool_available("docker-registry", test) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let registry = common::registry::start_registry(tmp.path(), None);
    let base = format!("localhost:{}/bases/debian12:1", registry.port);
    let layout = tmp.path().join("base-layout");
    let pushed = pypack(
        &tmp.path().join("cache"),
        &[
            "base",
            "build",
            "--output",
            layout.to_str().unwrap(),
            "--push",
            &base,
            "--insecure-registry",
        ],
    );
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    let archive = tmp.path().join("image.tar");
    let out = pypack_env(
        &tmp.path().join("cache"),
        &[
            "build",
            app().to_str().unwrap(),
            "--base",
            &base,
            "--insecure-registry",
            "--archive",
            archive.to_str().unwrap(),
        ],
        &[("PIP_INDEX_URL", &index)],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    for part in [
        &format!("the base {base} lacks libraries the packages link"),
        "needs libstdc++.so.6",
        "/app/.venv/lib/python3.11/site-packages/numpy/",
        "--base REF",
    ] {
        assert!(err.contains(part), "'{part}' missing from: {err}");
    }
    assert!(!archive.exists(), "nothing may be written");
}
