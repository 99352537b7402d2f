//! The sample apps with heavy wheel sets (Streamlit and Gradio pull in
//! pandas, pyarrow, numpy…), built against a real index
//! (PYPACK_TEST_INDEX_URL, else the one pypack finds on this host; given as
//! PIP_INDEX_URL as a user's environment would) with no flags, run in
//! podman and asked over HTTP. CI runs the Streamlit one; Gradio's is
//! `#[ignore]`d (the live suite runs it with `--include-ignored`).

mod common;

use common::parity::live_index_url;
use common::*;
use std::path::PathBuf;

struct Running(String);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = podman(&["rm", "-f", "-t", "0", &self.0]);
    }
}

/// Builds sample `app` into podman with no flags, runs it, and returns the
/// response to `GET path` on `port` (and the build's summary).
fn serve(app: &str, port: u16, path: &str, test: &str) -> Option<(String, serde_json::Value)> {
    let index = live_index_url(test)?;
    if !podman_available(test) {
        return None;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("sample-apps")
        .join(app);
    let tmp = tempfile::tempdir().unwrap();
    let tag = format!("localhost/pypack-live-{app}:{}", std::process::id());
    let out = pypack_env(
        tmp.path(),
        &[
            "build",
            dir.to_str().unwrap(),
            "--load",
            "-t",
            &tag,
            "--json",
        ],
        &[("PIP_INDEX_URL", &index)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["smoke"]["passed"], true, "{}", summary["smoke"]);
    let (container, host_port) = run_published(&tag, port);
    let running = Running(container);
    let response = poll_http(host_port, path, 90, |r| r.contains(" 200 "));
    let logs = podman(&["logs", &running.0]);
    drop(running);
    let _ = podman(&["rmi", &tag]);
    let response = response.unwrap_or_else(|| {
        panic!(
            "{app}: no answer; {}",
            String::from_utf8_lossy(&logs.stderr)
        )
    });
    Some((response, summary))
}

#[test]
fn streamlit_dashboard_answers_its_health_check() {
    let Some((response, summary)) = serve(
        "streamlit-dashboard",
        8501,
        "/_stcore/health",
        "streamlit_dashboard_answers_its_health_check",
    ) else {
        return;
    };
    assert!(response.ends_with("ok"), "{response}");
    assert_eq!(summary["port"]["value"], 8501);
    assert_eq!(summary["command"]["argv"][0], "streamlit");
}

#[test]
#[ignore = "live suite only (Gradio's wheels are the heaviest): cargo test -- --include-ignored"]
fn gradio_echo_serves_its_page() {
    let Some((response, summary)) = serve("gradio-echo", 7860, "/", "gradio_echo_serves_its_page")
    else {
        return;
    };
    assert!(response.to_lowercase().contains("gradio"), "{response}");
    assert_eq!(summary["port"]["value"], 7860);
    let writable: Vec<&str> = summary["writable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["path"].as_str().unwrap())
        .collect();
    assert!(writable.contains(&"/app/flagged"), "{writable:?}");
}
