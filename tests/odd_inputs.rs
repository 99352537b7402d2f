//! Odd things real app directories hold, met as a new user would: a named
//! pipe and a socket beside the code (skipped with a warning, never opened:
//! a FIFO nobody writes to used to hang the build), and an app of the
//! standard library alone with no dependency file (built, and it serves).
//! Real debian12 base, podman; every build has a deadline.

mod common;

use common::*;
use std::path::PathBuf;
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `pypack ARGS` with the shared cache, killed (and the test failed) if it
/// has not finished within `seconds`.
fn pypack_within(seconds: u64, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pypack"));
    command.args(args).env("PYPACK_CACHE_DIR", shared_cache());
    let (out, killed) = output_within(command, seconds);
    assert!(!killed, "pypack {args:?} did not finish within {seconds} s");
    out
}

fn needs_everything(test: &str) -> bool {
    debian_archive_configured(test) && podman_available(test) && tool_available("skopeo", test)
}

#[test]
fn special_files_in_the_app_are_skipped_and_the_image_works() {
    let test = "special_files_in_the_app_are_skipped_and_the_image_works";
    if !needs_everything(test) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("flask-hello");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(repo().join("sample-apps/flask-hello"))
        .arg(&app)
        .status()
        .unwrap();
    assert!(copied.success());
    assert!(
        Command::new("mkfifo")
            .arg(app.join("logpipe"))
            .status()
            .unwrap()
            .success()
    );
    let _socket = std::os::unix::net::UnixListener::bind(app.join("control.sock")).unwrap();
    let layout = tmp.path().join("layout");
    let wheelhouse = repo().join("sample-apps/wheelhouse");
    let out = pypack_within(
        300,
        &[
            "build",
            app.to_str().unwrap(),
            "--no-index",
            "--find-links",
            wheelhouse.to_str().unwrap(),
            "--output",
            layout.to_str().unwrap(),
            "-t",
            "odd:fifo",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let warnings: Vec<String> = stderr(&out)
        .lines()
        .filter(|l| l.starts_with("warning: skipped"))
        .map(str::to_string)
        .collect();
    assert_eq!(warnings.len(), 1, "one warning line: {warnings:?}");
    assert!(
        warnings[0].contains("control.sock (a socket)")
            && warnings[0].contains("logpipe (a named pipe)"),
        "{warnings:?}"
    );
    let answer = answer_of_image(&format!("oci:{}:odd:fifo", layout.display()));
    assert!(
        answer
            .expect("the image answers")
            .contains("Hello from pypack!")
    );
}

#[test]
fn a_standard_library_app_with_no_dependency_file_builds_and_serves() {
    let test = "a_standard_library_app_with_no_dependency_file_builds_and_serves";
    if !needs_everything(test) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("plain");
    std::fs::create_dir(&app).unwrap();
    std::fs::write(
        app.join("app.py"),
        "import os\nfrom http.server import BaseHTTPRequestHandler, HTTPServer\n\n\n\
         class Hello(BaseHTTPRequestHandler):\n    def do_GET(self):\n        body = b\"standard library only\\n\"\n\
         \x20       self.send_response(200)\n        self.send_header(\"Content-Length\", str(len(body)))\n\
         \x20       self.end_headers()\n        self.wfile.write(body)\n\n\n\
         if __name__ == \"__main__\":\n    HTTPServer((\"0.0.0.0\", int(os.environ.get(\"PORT\", \"8000\"))), Hello).serve_forever()\n",
    )
    .unwrap();
    let layout = tmp.path().join("layout");
    let out = pypack_within(
        300,
        &[
            "build",
            app.to_str().unwrap(),
            "--output",
            layout.to_str().unwrap(),
            "-t",
            "odd:plain",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("the app gets no dependencies"), "{err}");
    assert!(err.contains("packages: 0"), "{err}");
    let answer = answer_of_image(&format!("oci:{}:odd:plain", layout.display()));
    assert!(
        answer
            .expect("the image answers")
            .contains("standard library only")
    );
}
