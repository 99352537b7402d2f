//! `--debug`: beside the image, NAME:TAG-debug is the same image plus a
//! static busybox from Debian at /busybox (on PATH), so a shell can be run
//! in it; the image itself keeps its digest (real debian12 base, flask-hello
//! from the wheelhouse, podman).

mod common;

use common::*;

#[test]
fn the_debug_variant_has_a_shell_and_the_image_is_unchanged() {
    let test = "the_debug_variant_has_a_shell_and_the_image_is_unchanged";
    if !debian_archive_configured(test) || !podman_available(test) {
        return;
    }
    let name = format!("localhost/pypack-debug-test:{}", std::process::id());
    let build = |extra: &[&str]| {
        let mut args = vec!["--json"];
        args.extend(extra);
        let out = build_sample(shared_cache(), "flask-hello", &args);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let with_debug = build(&["--load", "--engine=podman", "-t", &name, "--debug"]);
    let debug_name = format!("{name}-debug");
    assert_eq!(with_debug["debug"]["image"], debug_name.as_str());
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("plain");
    let plain = build(&["--output", layout.to_str().unwrap(), "-t", &name]);
    assert_eq!(
        plain["digest"], with_debug["digest"],
        "--debug leaves the image itself unchanged"
    );
    assert!(plain["debug"].is_null());

    let listed = podman(&[
        "run",
        "--rm",
        "--entrypoint",
        "/busybox/sh",
        &debug_name,
        "-c",
        "ls /app && id -u",
    ]);
    let shown = String::from_utf8_lossy(&listed.stdout).to_string();
    // A shell found on PATH, as `podman exec CONTAINER sh` would.
    let on_path = podman(&[
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        &debug_name,
        "-c",
        "echo on-path",
    ]);
    // The image itself has no shell.
    let plain_shell = podman(&[
        "run",
        "--rm",
        "--entrypoint",
        "/busybox/sh",
        &name,
        "-c",
        "true",
    ]);
    let _ = podman(&["rmi", &name, &debug_name]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(
        shown.contains("app.py") && shown.contains("65532"),
        "{shown}"
    );
    assert!(
        on_path.status.success() && String::from_utf8_lossy(&on_path.stdout).contains("on-path")
    );
    assert!(
        !plain_shell.status.success(),
        "the normal image has no /busybox"
    );
}
