//! End to end against the real Debian archive (located through the host's apt
//! sources, as a user's build would) and podman: the built-in recipes produce
//! bases that run Python, as uid 65532, with no shell; arm64 bases hold aarch64
//! binaries; two cold builds give one digest.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};

const IMPORT_CHECK: &str = "import ssl, sqlite3, ctypes, zoneinfo, lzma, bz2, uuid, json; \
    import urllib.request; ssl.create_default_context()";

fn build(cache: &Path, recipe: &str, platform: &str, output: &[&str]) -> String {
    let mut args = vec!["base", "build", "--recipe", recipe, "--platform", platform];
    args.extend_from_slice(output);
    if recipe == "debian-forky" {
        // Debian's testing suite: the mirror this runs against may serve its
        // index past Valid-Until (the signature is still checked).
        args.push("--allow-expired-index");
    }
    let out = pypack(cache, &args);
    assert!(
        out.status.success(),
        "base build {recipe} {platform} failed:\n{}",
        stderr(&out)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// "(40.5 MB uncompressed" → 40.5
fn reported_megabytes(summary: &str) -> f64 {
    let before = summary.split(" MB uncompressed").next().unwrap();
    before.rsplit('(').next().unwrap().parse().unwrap()
}

/// Builds `recipe` as an archive of `format` (docker or oci), loads it with
/// podman and runs Python in it.
fn run_in_podman(recipe: &str, format: &str, max_megabytes: f64, os_release_line: &str) {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("base.tar");
    let tag = format!("localhost/pypack-test-base:{recipe}-{}", std::process::id());
    let summary = build(
        shared_cache(),
        recipe,
        "linux/amd64",
        &[
            "--archive",
            archive.to_str().unwrap(),
            "--archive-format",
            format,
            "-t",
            &tag,
        ],
    );
    let size = reported_megabytes(&summary);
    eprintln!("{recipe} amd64: {size} MB uncompressed");
    assert!(
        size <= max_megabytes,
        "{recipe} base is {size} MB, over {max_megabytes} MB"
    );

    assert!(
        podman(&["load", "-i", archive.to_str().unwrap()])
            .status
            .success()
    );
    let imports = podman(&["run", "--rm", &tag, "python3", "-c", IMPORT_CHECK]);
    let uid = podman(&[
        "run",
        "--rm",
        &tag,
        "python3",
        "-c",
        "import os; print(os.getuid(), os.getgid())",
    ]);
    let shell = podman(&["run", "--rm", "--entrypoint", "/bin/sh", &tag, "-c", "true"]);
    let os_release = podman(&[
        "run",
        "--rm",
        &tag,
        "python3",
        "-c",
        "print(open('/etc/os-release').read())",
    ]);
    podman(&["rmi", &tag]);
    assert!(
        imports.status.success(),
        "stdlib imports failed in {recipe}"
    );
    assert_eq!(String::from_utf8_lossy(&uid.stdout).trim(), "65532 65532");
    assert!(
        !shell.status.success(),
        "{recipe} base must have no /bin/sh"
    );
    let os_release = String::from_utf8_lossy(&os_release.stdout);
    assert!(os_release.contains(os_release_line), "{os_release}");
}

#[test]
fn debian12_base_runs_python_as_nonroot() {
    if debian_archive_configured("debian12_base_runs_python_as_nonroot")
        && podman_available("debian12 base")
    {
        run_in_podman("debian12", "docker", 50.0, "VERSION_ID=\"12\"");
    }
}

#[test]
fn debian13_base_runs_python_as_nonroot() {
    if debian_archive_configured("debian13_base_runs_python_as_nonroot")
        && podman_available("debian13 base")
    {
        run_in_podman("debian13", "oci", 60.0, "VERSION_ID=\"13\"");
    }
}

#[test]
fn debian_forky_base_runs_python_3_14_as_nonroot() {
    if debian_archive_configured("debian_forky_base_runs_python_3_14_as_nonroot")
        && podman_available("debian-forky base")
    {
        run_in_podman("debian-forky", "oci", 60.0, "VERSION_CODENAME=forky");
    }
}

fn check_arm64(recipe: &str, python: &str) {
    let dir = tempfile::tempdir().unwrap();
    let layout: PathBuf = dir.path().join("layout");
    build(
        shared_cache(),
        recipe,
        "linux/arm64",
        &["--output", layout.to_str().unwrap()],
    );
    let blob = |digest: &str| {
        fs::read(
            layout
                .join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
        .unwrap()
    };
    let json = |data: Vec<u8>| serde_json::from_slice::<serde_json::Value>(&data).unwrap();
    let index = json(fs::read(layout.join("index.json")).unwrap());
    let manifest = json(blob(index["manifests"][0]["digest"].as_str().unwrap()));
    let config = json(blob(manifest["config"]["digest"].as_str().unwrap()));
    assert_eq!(config["architecture"], "arm64");
    assert_eq!(config["variant"], "v8");
    assert_eq!(config["os"], "linux");

    let entries =
        pypack::oci::layer::read_layer(&blob(manifest["layers"][0]["digest"].as_str().unwrap()))
            .unwrap();
    let exe = entries
        .iter()
        .find(|e| e.path == python)
        .unwrap_or_else(|| panic!("{python} not in the layer"));
    let pypack::oci::EntryKind::File(elf) = &exe.kind else {
        panic!("{python} is not a regular file")
    };
    assert_eq!(&elf[..4], b"\x7fELF");
    assert_eq!(elf[4], 2, "ELFCLASS64");
    assert_eq!(elf[5], 1, "little-endian");
    assert_eq!(
        u16::from_le_bytes([elf[18], elf[19]]),
        183,
        "e_machine must be EM_AARCH64"
    );
    assert!(
        entries
            .iter()
            .any(|e| e.path == "usr/lib/ld-linux-aarch64.so.1"),
        "aarch64 loader present"
    );
}

#[test]
fn arm64_bases_hold_aarch64_binaries() {
    if debian_archive_configured("arm64_bases_hold_aarch64_binaries") {
        check_arm64("debian12", "usr/bin/python3.11");
        check_arm64("debian13", "usr/bin/python3.13");
        check_arm64("debian-forky", "usr/bin/python3.14");
    }
}

#[test]
fn two_cold_builds_give_the_same_digest() {
    if !debian_archive_configured("two_cold_builds_give_the_same_digest") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let digest = |cache: &str| {
        let out = dir.path().join(format!("{cache}.tar"));
        let summary = build(
            &dir.path().join(cache),
            "debian12",
            "linux/amd64",
            &["--archive", out.to_str().unwrap()],
        );
        assert!(
            !summary.contains(" 0 downloads"),
            "a cold build must download: {summary}"
        );
        (
            summary
                .split_whitespace()
                .find(|w| w.starts_with("sha256:"))
                .unwrap()
                .to_string(),
            fs::read(out).unwrap(),
        )
    };
    let (first, first_tar) = digest("cache-a");
    let (second, second_tar) = digest("cache-b");
    assert_eq!(first, second);
    assert!(
        first_tar == second_tar,
        "the archives must be byte-identical"
    );
}
