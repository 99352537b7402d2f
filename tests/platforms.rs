//! One build for several platforms: flask-hello for linux/amd64 and
//! linux/arm64 (real debian12 bases from the host's Debian archive, wheels
//! from sample-apps/wheelhouse) as one image index, in a layout and pushed
//! to a loopback registry. The arm64 image has bytecode for its standard
//! library, venv and app, compiled here by the amd64 interpreter of the same
//! version, byte for byte what the amd64 image has wherever the sources are
//! the same; its ELF files are aarch64; the amd64 image runs and answers.

mod common;

use common::registry::start_registry;
use common::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

const BOTH: &str = "linux/amd64,linux/arm64";

/// `pypack build sample-apps/flask-hello --platform BOTH` from the wheelhouse.
fn build_both(cache: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["--platform", BOTH];
    args.extend(extra);
    build_sample(cache, "flask-hello", &args)
}

fn needs_everything(test: &str) -> bool {
    debian_archive_configured(test) && podman_available(test) && tool_available("skopeo", test)
}

fn skopeo_json(args: &[&str]) -> serde_json::Value {
    let out = Command::new("skopeo").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The platforms an index lists, as `os/architecture[/variant]`.
fn platforms(index: &serde_json::Value) -> Vec<String> {
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let p = &m["platform"];
            let mut s = format!(
                "{}/{}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap()
            );
            if let Some(v) = p["variant"].as_str() {
                s.push('/');
                s.push_str(v);
            }
            s
        })
        .collect()
}

/// Every file of the image (manifest `digest`) in a layout: path → bytes,
/// upper layers winning.
fn image_files(layout: &Path, digest: &str) -> BTreeMap<String, Vec<u8>> {
    let blob = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob(digest)).unwrap()).unwrap();
    let mut files = BTreeMap::new();
    for layer in manifest["layers"].as_array().unwrap() {
        let file = std::fs::File::open(blob(layer["digest"].as_str().unwrap())).unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let path = entry
                .path()
                .unwrap()
                .to_string_lossy()
                .trim_start_matches("./")
                .to_string();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
            files.insert(path, data);
        }
    }
    files
}

/// The source a `.pyc` was compiled from: `a/__pycache__/b.cpython-311.pyc` → `a/b.py`.
fn source_of(pyc: &str) -> String {
    let (dir, name) = pyc.rsplit_once("/__pycache__/").unwrap();
    let stem = name.split('.').next().unwrap();
    format!("{dir}/{stem}.py")
}

#[test]
fn one_index_for_amd64_and_arm64_with_bytecode_for_both() {
    if !needs_everything("one_index_for_amd64_and_arm64_with_bytecode_for_both") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let out = build_both(
        shared_cache(),
        &[
            "--output",
            layout.to_str().unwrap(),
            "-t",
            "flask-hello:multi",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let log = stderr(&out);
    assert!(
        log.contains("not run here")
            && log.contains("compiled by this machine's build of the same Python"),
        "the arm64 image's smoke run is said to be skipped: {log}"
    );

    // skopeo reads the index and each platform's image.
    let reference = format!("oci:{}:flask-hello:multi", layout.display());
    let index = skopeo_json(&["inspect", "--raw", &reference]);
    assert_eq!(platforms(&index), ["linux/amd64", "linux/arm64/v8"]);
    for arch in ["amd64", "arm64"] {
        let image = skopeo_json(&["inspect", "--override-arch", arch, &reference]);
        assert_eq!(image["Architecture"], arch);
    }
    let digest_of = |arch: &str| {
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["platform"]["architecture"] == arch)
            .unwrap()["digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let amd64 = image_files(&layout, &digest_of("amd64"));
    let arm64 = image_files(&layout, &digest_of("arm64"));

    // The arm64 image's native code is aarch64 (ELF e_machine 183).
    let elves: Vec<(&String, u16)> = arm64
        .iter()
        .filter(|(_, data)| data.len() > 20 && data.starts_with(b"\x7fELF"))
        .map(|(path, data)| (path, u16::from_le_bytes([data[18], data[19]])))
        .collect();
    assert!(
        elves
            .iter()
            .any(|(p, _)| p.contains("markupsafe/_speedups")),
        "the arm64 wheel's extension is in the venv"
    );
    let foreign: Vec<_> = elves
        .iter()
        .filter(|(_, machine)| *machine != 183)
        .collect();
    assert!(
        elves.len() > 20 && foreign.is_empty(),
        "not aarch64: {foreign:?}"
    );

    // Bytecode for the standard library, the venv and the app, in both.
    let pycs = |files: &BTreeMap<String, Vec<u8>>, prefix: &str| {
        files
            .keys()
            .filter(|p| p.starts_with(prefix) && p.ends_with(".cpython-311.pyc"))
            .count()
    };
    for (prefix, at_least) in [
        ("usr/lib/python3.11/", 400),
        ("app/.venv/", 100),
        ("app/__pycache__/", 1),
    ] {
        let (a, b) = (pycs(&amd64, prefix), pycs(&arm64, prefix));
        assert!(
            b >= at_least && a == b,
            "{prefix}: amd64 {a}, arm64 {b} .pyc files"
        );
    }
    // Byte for byte the same wherever the sources are.
    let (mut same, mut compared) = (0, 0);
    for (path, data) in arm64.iter().filter(|(p, _)| p.ends_with(".pyc")) {
        let source = source_of(path);
        if !arm64.contains_key(&source) || arm64.get(&source) != amd64.get(&source) {
            continue;
        }
        compared += 1;
        if amd64.get(path) == Some(data) {
            same += 1;
        } else {
            eprintln!("differs: {path}");
        }
    }
    assert!(
        compared > 700 && same == compared,
        "{same} of {compared} .pyc identical"
    );

    // The amd64 image runs and answers (the engine takes its own
    // platform's image from the index).
    let answer = answer_of_image(&reference).expect("the amd64 image answers");
    assert!(answer.contains("Hello from pypack!"), "{answer}");

    // Reproducible: a second build with an empty cache makes the same index.
    let again_layout = tmp.path().join("again");
    let again = build_both(
        &tmp.path().join("fresh-cache"),
        &[
            "--output",
            again_layout.to_str().unwrap(),
            "-t",
            "flask-hello:multi",
            "--json",
            "--no-smoke",
        ],
    );
    assert!(again.status.success(), "{}", stderr(&again));
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    // The bases are said too: the second build reads the Debian archive
    // afresh, and an archive update between the two builds changes them.
    let bases = |v: &serde_json::Value| -> Vec<String> {
        v["platforms"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| p["base"]["digest"].to_string())
            .collect()
    };
    assert_eq!(
        again["digest"],
        summary["digest"],
        "same inputs, same index digest (bases {:?}, then {:?})",
        bases(&summary),
        bases(&again)
    );
}

#[test]
fn pushed_as_one_index() {
    if !needs_everything("pushed_as_one_index")
        || !tool_available("docker-registry", "pushed_as_one_index")
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let registry = start_registry(tmp.path(), None);
    let reference = format!("127.0.0.1:{}/team/flask-hello:multi", registry.port);
    let out = build_both(
        shared_cache(),
        &[
            "--push",
            &reference,
            "--insecure-registry",
            "--json",
            "--no-smoke",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let raw = Command::new("skopeo")
        .args([
            "inspect",
            "--raw",
            "--tls-verify=false",
            &format!("docker://{reference}"),
        ])
        .output()
        .unwrap();
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    assert_eq!(
        summary["digest"].as_str().unwrap(),
        format!("sha256:{}", sha256(&raw.stdout)),
        "the registry holds the index pypack made"
    );
    let index: serde_json::Value = serde_json::from_slice(&raw.stdout).unwrap();
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(platforms(&index), ["linux/amd64", "linux/arm64/v8"]);
    for arch in ["amd64", "arm64"] {
        let image = skopeo_json(&[
            "inspect",
            "--tls-verify=false",
            "--override-arch",
            arch,
            &format!("docker://{reference}"),
        ]);
        assert_eq!(image["Architecture"], arch);
    }
}

#[test]
fn several_platforms_are_refused_where_one_image_goes() {
    let world = small_app();
    let archive = world.work.join("out/image.tar");
    let out = world.run(
        "build",
        "cache",
        &["--platform", BOTH, "--archive", archive.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("docker-archive holds one image") && err.contains("--archive-format oci"),
        "{err}"
    );
    assert!(!archive.exists(), "nothing written");
    assert!(
        !world.work.join("cache").exists(),
        "refused before the cache is opened"
    );

    for command in ["lock", "run"] {
        let out = world.run(command, "cache", &["--platform", "all"]);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(err.contains("one platform at a time"), "{command}: {err}");
    }
    // A platform the recipe does not offer is named with those it does.
    let out = world.run(
        "build",
        "cache",
        &[
            "--platform",
            "linux/amd64,linux/arm64",
            "--output",
            world.work.join("out/l").to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("no linux/arm64/v8 variant") && err.contains("offers linux/amd64"),
        "{err}"
    );
}

#[test]
fn another_platform_gets_the_static_files_collected_here() {
    if !needs_everything("another_platform_gets_the_static_files_collected_here") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let out = build_sample(
        shared_cache(),
        "django-notes",
        &[
            "--platform",
            BOTH,
            "--no-smoke",
            "--output",
            layout.to_str().unwrap(),
            "-t",
            "notes:multi",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("gets the output of Django's collectstatic made in the linux/amd64 image"),
        "{}",
        stderr(&out)
    );
    let reference = format!("oci:{}:notes:multi", layout.display());
    let static_layer = |arch: &str| {
        let config = skopeo_json(&["inspect", "--config", "--override-arch", arch, &reference]);
        let image = skopeo_json(&["inspect", "--override-arch", arch, &reference]);
        let history: Vec<String> = config["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["created_by"].as_str().unwrap().to_string())
            .collect();
        let at = history
            .iter()
            .position(|h| h.contains("collectstatic"))
            .unwrap_or_else(|| panic!("{arch}: no collectstatic layer in {history:?}"));
        image["Layers"][at].as_str().unwrap().to_string()
    };
    assert_eq!(
        static_layer("amd64"),
        static_layer("arm64"),
        "one layer, shared"
    );
}

#[test]
fn another_platform_follows_what_the_smoke_run_saw_here() {
    if !needs_everything("another_platform_follows_what_the_smoke_run_saw_here") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    // odd-port listens on a port only its code says (6543), which the smoke
    // run of the amd64 image observes; the arm64 image, not run here, must
    // expose the same port.
    let out = build_sample(
        shared_cache(),
        "odd-port",
        &[
            "--platform",
            BOTH,
            "--output",
            layout.to_str().unwrap(),
            "-t",
            "odd:multi",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let reference = format!("oci:{}:odd:multi", layout.display());
    for arch in ["amd64", "arm64"] {
        let config = skopeo_json(&["inspect", "--config", "--override-arch", arch, &reference]);
        let ports = &config["config"]["ExposedPorts"];
        assert!(ports.get("6543/tcp").is_some(), "{arch}: {ports}");
        let env = config["config"]["Env"].as_array().unwrap();
        assert!(env.iter().any(|e| e == "PORT=6543"), "{arch}: {env:?}");
    }
}
