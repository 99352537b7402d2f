//! Resolution parity with pip, for the live tests: the same requirements
//! resolved by pypack's resolver and by the host's pip (`install --dry-run
//! --report`), both for one target and wheels only.

use pypack::cache::Cache;
use pypack::http::Http;
use pypack::index::{Index, IndexConfig, normalize_name};
use pypack::project::requirements::parse_file;
use pypack::python::Target;
use pypack::resolve::{BinaryPolicy, ResolveInput, resolve};
use std::collections::BTreeSet;
use std::process::Command;

/// The index the live tests resolve against: PYPACK_TEST_INDEX_URL when it
/// is set, else the one pypack itself finds on this host (pip's or uv's
/// settings, else their default index). `None` only when no index answers,
/// after [`super::skip`] (which fails the test in CI: an unreachable index
/// there is an error, not a pass). Asked once per test binary.
pub fn live_index_url(test: &str) -> Option<String> {
    static FOUND: std::sync::OnceLock<Result<String, String>> = std::sync::OnceLock::new();
    let found = FOUND.get_or_init(|| {
        let explicit = std::env::var("PYPACK_TEST_INDEX_URL")
            .ok()
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty());
        pick_live_index(explicit)
    });
    match found {
        Ok(url) => {
            super::shout(&format!("live: {test} resolves against {url}"));
            Some(url.clone())
        }
        Err(why) => {
            super::skip(test, why);
            None
        }
    }
}

/// The index named, or pypack's own choice on this host, if it answers a
/// simple-API request (for pip's own project page).
pub fn pick_live_index(explicit: Option<String>) -> Result<String, String> {
    let url = match explicit {
        Some(url) => url,
        None => {
            let env = |name: &str| std::env::var(name).ok();
            let host = pypack::index::config::Host {
                env: &env,
                home: std::env::var_os("HOME").map(Into::into),
                project_dir: None,
                system_root: "/".into(),
                ask_tools: true,
                memo: None,
            };
            let config = pypack::index::config::resolve_config(Default::default(), &host)
                .map_err(|e| format!("no package index is configured on this host ({e:#})"))?;
            config
                .index_urls
                .first()
                .cloned()
                .ok_or("no package index is configured on this host (find-links only)")?
        }
    };
    let probe = format!("{}/pip/", url.trim_end_matches('/'));
    let http = Http::new().map_err(|e| format!("{e:#}"))?;
    http.get_bytes(&probe, pypack::http::Limit::Cap(64 << 20, "an index page"))
        .map_err(|e| format!("the package index {url} does not answer ({e:#})"))?;
    Ok(url)
}

/// Base options for a real Debian base (the host's apt sources).
pub fn live_base_options() -> pypack::base::BaseOptions {
    pypack::base::BaseOptions {
        platform: pypack::platform::Platform::parse("linux/amd64").unwrap(),
        debian_mirror: None,
        debian_security_mirror: None,
        keyrings: vec![],
        insecure: false,
        allow_expired: false,
        refresh: false,
        epoch: pypack::oci::DEFAULT_EPOCH,
        verbose: false,
        host_root: "/".into(),
    }
}

/// The debian12 base's target, read from a real base build.
pub fn debian12_target(cache: &Cache) -> Target {
    let recipe = pypack::base::Recipe::load("debian12").unwrap();
    let http = Http::new().unwrap();
    pypack::base::build(&recipe, &live_base_options(), cache, &http)
        .unwrap()
        .target()
        .unwrap()
}

/// pypack's pins (`name==version`) for space-separated `requirements`,
/// wheels only (as pip is asked for them).
pub fn pypack_pins(
    url: &str,
    cache: &Cache,
    target: &Target,
    requirements: &str,
) -> anyhow::Result<BTreeSet<String>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("requirements.txt");
    std::fs::write(&path, requirements.replace(' ', "\n"))?;
    pypack_pins_of_file(url, cache, target, &path)
}

/// pypack's pins for the requirements file at `path`, read as a build
/// reads it (its encoding decoded), wheels only.
pub fn pypack_pins_of_file(
    url: &str,
    cache: &Cache,
    target: &Target,
    path: &std::path::Path,
) -> anyhow::Result<BTreeSet<String>> {
    let http = Http::new()?;
    let config = IndexConfig {
        index_urls: vec![format!("{}/", url.trim_end_matches('/'))],
        ..IndexConfig::default()
    };
    let index = Index::new(&http, cache, config);
    let set = parse_file(path, &|_| None)?;
    let mut binary = BinaryPolicy::default();
    binary.apply(":all:", true)?;
    let input = ResolveInput {
        requirements: set.requirements,
        binary,
        ..ResolveInput::default()
    };
    let resolution = resolve(&index, target, &input)?;
    Ok(resolution
        .pins
        .iter()
        .map(|p| format!("{}=={}", p.name, p.version))
        .collect())
}

/// pip's own resolution with `--platform` set to every manylinux tag the
/// target accepts (pip does not widen a single `manylinux_2_N` by itself);
/// `Err` holds pip's complaint when it finds no solution.
pub fn pip_pins(
    url: &str,
    target: &Target,
    requirements: &str,
) -> Result<BTreeSet<String>, String> {
    let args: Vec<String> = requirements.split(' ').map(str::to_string).collect();
    pip_pins_of(url, target, &args)
}

/// pip's resolution of a requirements file (`-r PATH`), as [`pip_pins`].
pub fn pip_pins_of_file(
    url: &str,
    target: &Target,
    path: &std::path::Path,
) -> Result<BTreeSet<String>, String> {
    pip_pins_of(url, target, &["-r".to_string(), path.display().to_string()])
}

/// The host's python3 itself, not a version manager's shim: pyenv's shim
/// runs `pyenv rehash` after `pip install` (even `--dry-run`), and parallel
/// rehashes fail ("cannot rehash: shims isn't writable"), failing pip.
fn host_python() -> &'static str {
    static PYTHON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PYTHON.get_or_init(|| {
        Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "python3".into())
    })
}

fn pip_pins_of(
    url: &str,
    target: &Target,
    requirements: &[String],
) -> Result<BTreeSet<String>, String> {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let out = Command::new(host_python())
        .args([
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--report",
        ])
        .arg(&report)
        .arg("--target")
        .arg(dir.path().join("target"))
        .args(
            target
                .platform_tags(false)
                .iter()
                .flat_map(|t| ["--platform".to_string(), t.clone()]),
        )
        .args([
            "--python-version",
            &target.python_version(),
            "--implementation",
            "cp",
        ])
        .args(["--only-binary=:all:", "--index-url", url])
        .args(requirements)
        .env("PIP_FIND_LINKS", "")
        .env("PIP_CONFIG_FILE", "/dev/null")
        .output()
        .expect("python3 -m pip must be available");
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rfind(|l| l.starts_with("ERROR"))
            .or_else(|| err.lines().rfind(|l| !l.trim().is_empty()))
            .unwrap_or("pip failed");
        return Err(last.to_string());
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    Ok(report["install"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let m = &i["metadata"];
            format!(
                "{}=={}",
                normalize_name(m["name"].as_str().unwrap()),
                m["version"].as_str().unwrap()
            )
        })
        .collect())
}
