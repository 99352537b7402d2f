//! Other tools' lock files as inputs, hermetic: for uv.lock, poetry.lock,
//! Pipfile.lock and pdm.lock a fixture lock pins helper 1.3 while the index's
//! newest fitting helper is 1.4; the image gets the locked one and the build
//! says which lock it used. A stale lock is said and resolved past; a lock
//! whose pin has no wheel for the target is an error naming it (--relock
//! resolves afresh).

mod common;

use common::wheels::{Listing, WheelSpec};
use common::*;
use std::fs;

/// The test index's files, and the world serving them.
struct Fixture {
    world: AppWorld,
    /// filename → sha256, size
    hashes: Vec<(String, String, u64)>,
}

impl Fixture {
    fn new() -> Fixture {
        let mut hashes = Vec::new();
        let world = AppWorld::new(|index| {
            let specs = [
                WheelSpec::new("webapp-kit", "2.0").requires(&["helper>=1"]),
                WheelSpec::new("helper", "1.3"),
                WheelSpec::new("helper", "1.4"),
                WheelSpec::new("helper", "1.5").tag("cp311-cp311-manylinux_2_39_x86_64"),
            ];
            for spec in &specs {
                let bytes = index.add(spec, Listing::default());
                hashes.push((spec.filename(), sha256(&bytes), bytes.len() as u64));
            }
        });
        world.write_app(&[("main.py", "print('hi')\n")]);
        Fixture { world, hashes }
    }

    fn hash(&self, filename: &str) -> &str {
        &self.hashes.iter().find(|(f, ..)| f == filename).unwrap().1
    }

    /// The size the lock files give the wheel: its real one (pypack reads
    /// a download no further than that).
    fn size(&self, filename: &str) -> u64 {
        self.hashes.iter().find(|(f, ..)| f == filename).unwrap().2
    }

    fn url(&self, filename: &str) -> String {
        format!("{}/files/{filename}", self.world.index.url)
    }

    /// Builds with `extra` flags; the JSON summary and stderr.
    fn build(
        &self,
        name: &str,
        extra: &[&str],
    ) -> (std::process::Output, Option<serde_json::Value>) {
        let out_dir = self.world.work.join("out").join(name);
        let mut args = vec!["--output", out_dir.to_str().unwrap(), "--json"];
        args.extend(extra);
        let out = self.world.run("build", "cache", &args);
        let summary = serde_json::from_slice(&out.stdout).ok();
        (out, summary)
    }

    fn write(&self, files: &[(&str, String)]) {
        for (path, text) in files {
            fs::write(self.world.work.join("app").join(path), text).unwrap();
        }
    }
}

fn pinned(summary: &serde_json::Value, name: &str) -> String {
    summary["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .map(|p| p["version"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

const KIT: &str = "webapp_kit-2.0-py3-none-any.whl";
const HELPER: &str = "helper-1.3-py3-none-any.whl";

fn uv_lock(f: &Fixture, helper: &str) -> String {
    format!(
        r#"version = 1
revision = 2
requires-python = ">=3.11"

[[package]]
name = "helper"
version = "{version}"
source = {{ registry = "{index}" }}
wheels = [
    {{ url = "{helper_url}", hash = "sha256:{helper_hash}", size = {helper_size} }},
]

[[package]]
name = "svc"
version = "0.1.0"
source = {{ editable = "." }}
dependencies = [
    {{ name = "webapp-kit" }},
]

[package.metadata]
requires-dist = [{{ name = "webapp-kit", specifier = ">=2" }}]

[[package]]
name = "webapp-kit"
version = "2.0"
source = {{ registry = "{index}" }}
dependencies = [
    {{ name = "helper" }},
    {{ name = "winonly", marker = "sys_platform == 'win32'" }},
]
wheels = [
    {{ url = "{kit_url}", hash = "sha256:{kit_hash}", size = {kit_size} }},
]
"#,
        version = helper.split('-').nth(1).unwrap(),
        index = f.world.index_url(),
        helper_url = f.url(helper),
        helper_hash = f.hash(helper),
        helper_size = f.size(helper),
        kit_url = f.url(KIT),
        kit_hash = f.hash(KIT),
        kit_size = f.size(KIT),
    )
}

#[test]
fn uv_lock_pins_are_installed_as_locked() {
    let f = Fixture::new();
    f.write(&[
        (
            "pyproject.toml",
            "[project]\nname = \"svc\"\nversion = \"0.1.0\"\ndependencies = [\"webapp-kit>=2\"]\n"
                .into(),
        ),
        ("uv.lock", uv_lock(&f, HELPER)),
    ]);
    let (out, summary) = f.build("uv", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(pinned(summary.as_ref().unwrap(), "helper"), "1.3");
    assert_eq!(summary.as_ref().unwrap()["packages_from"], "uv.lock");
    // Built again from the cache of the lock's pins.
    let (again, summary) = f.build("uv-again", &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(pinned(summary.as_ref().unwrap(), "helper"), "1.3");

    // --relock resolves afresh: the newest fitting helper.
    let (out, summary) = f.build("uv-relock", &["--relock"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(pinned(summary.as_ref().unwrap(), "helper"), "1.4");

    // A pin whose only wheel the target cannot install: named, with --relock.
    f.write(&[(
        "uv.lock",
        uv_lock(&f, "helper-1.5-cp311-cp311-manylinux_2_39_x86_64.whl"),
    )]);
    let (out, _) = f.build("uv-unfit", &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("uv.lock: it pins helper 1.5, which has no wheel for")
            && err.contains("--relock"),
        "{err}"
    );
    assert!(!f.world.work.join("out/uv-unfit").exists());

    // A lock the project outgrew is said and resolved past.
    f.write(&[
        (
            "pyproject.toml",
            "[project]\nname = \"svc\"\nversion = \"0.1.0\"\ndependencies = [\"webapp-kit>=2\", \"helper>=1.4\"]\n".into(),
        ),
        ("uv.lock", uv_lock(&f, HELPER)),
    ]);
    let (out, summary) = f.build("uv-stale", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not using") && stderr(&out).contains("it pins helper 1.3, which"),
        "{}",
        stderr(&out)
    );
    assert_eq!(pinned(summary.as_ref().unwrap(), "helper"), "1.4");
}

#[test]
fn poetry_lock_pins_are_installed_as_locked() {
    let f = Fixture::new();
    let poetry_lock = format!(
        r#"# This file is automatically @generated by Poetry and should not be changed by hand.

[[package]]
name = "helper"
version = "1.3"
description = ""
optional = false
python-versions = ">=3.8"
files = [
    {{file = "{HELPER}", hash = "sha256:{}"}},
]

[[package]]
name = "webapp-kit"
version = "2.0"
description = ""
optional = false
python-versions = ">=3.8"
files = [
    {{file = "{KIT}", hash = "sha256:{}"}},
]

[package.dependencies]
helper = ">=1"
winonly = {{version = "*", markers = "sys_platform == \"win32\""}}

[metadata]
lock-version = "2.0"
python-versions = "^3.11"
content-hash = "0000"
"#,
        f.hash(HELPER),
        f.hash(KIT)
    );
    f.write(&[
        (
            "pyproject.toml",
            "[tool.poetry]\nname = \"svc\"\nversion = \"0.1.0\"\n\n[tool.poetry.dependencies]\npython = \"^3.11\"\nwebapp-kit = \"^2.0\"\n".into(),
        ),
        ("poetry.lock", poetry_lock),
    ]);
    let (out, summary) = f.build("poetry", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(pinned(summary.as_ref().unwrap(), "helper"), "1.3");
    assert_eq!(summary.as_ref().unwrap()["packages_from"], "poetry.lock");
}

#[test]
fn pipfile_lock_pins_are_installed_as_locked() {
    let f = Fixture::new();
    let lock = serde_json::json!({
        "_meta": {"hash": {"sha256": "0000"}, "pipfile-spec": 6, "requires": {"python_version": "3.11"}, "sources": []},
        "default": {
            "helper": {"hashes": [format!("sha256:{}", f.hash(HELPER))], "version": "==1.3"},
            "webapp-kit": {"hashes": [format!("sha256:{}", f.hash(KIT))], "index": "pypi", "version": "==2.0"},
            "winonly": {"hashes": [], "markers": "sys_platform == 'win32'", "version": "==1.0"}
        },
        "develop": {}
    });
    f.write(&[
        ("Pipfile", "[packages]\nwebapp-kit = \"*\"\n".into()),
        ("Pipfile.lock", serde_json::to_string_pretty(&lock).unwrap()),
    ]);
    let (out, summary) = f.build("pipfile", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(pinned(summary.as_ref().unwrap(), "helper"), "1.3");
    assert_eq!(summary.as_ref().unwrap()["packages_from"], "Pipfile.lock");
}

#[test]
fn pdm_lock_pins_are_installed_as_locked() {
    let f = Fixture::new();
    let lock = format!(
        r#"# This file is @generated by PDM.
# It is not intended for manual editing.

[metadata]
groups = ["default"]
strategy = ["inherit_metadata"]
lock_version = "4.5.0"
content_hash = "sha256:0000"

[[package]]
name = "helper"
version = "1.3"
requires_python = ">=3.8"
summary = ""
groups = ["default"]
files = [
    {{file = "{HELPER}", hash = "sha256:{}"}},
]

[[package]]
name = "webapp-kit"
version = "2.0"
requires_python = ">=3.8"
summary = ""
groups = ["default"]
dependencies = [
    "helper>=1",
    "winonly; sys_platform == \"win32\"",
]
files = [
    {{file = "{KIT}", hash = "sha256:{}"}},
]
"#,
        f.hash(HELPER),
        f.hash(KIT)
    );
    f.write(&[
        (
            "pyproject.toml",
            "[project]\nname = \"svc\"\nversion = \"0.1.0\"\ndependencies = [\"webapp-kit\"]\n"
                .into(),
        ),
        ("pdm.lock", lock),
    ]);
    let (out, summary) = f.build("pdm", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(pinned(summary.as_ref().unwrap(), "helper"), "1.3");
    assert_eq!(summary.as_ref().unwrap()["packages_from"], "pdm.lock");
}
