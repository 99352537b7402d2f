//! PEP 440 specifiers as pypack's resolver reads them, against pip's own
//! reading (the `packaging` library pip vendors, asked through the host's
//! python3): every specifier of a generated corpus (each operator over
//! releases, pre-, post-, development and local versions) against every
//! version of it, `contains` with pre-releases allowed (the resolver
//! decides about those apart). Every disagreement is listed.

use pep440_rs::{Version, VersionSpecifiers};
use pypack::resolve::ranges::from_specifiers;
use std::process::Command;
use std::str::FromStr;

/// Versions around the 1.0 release, of every kind PEP 440 has.
fn versions() -> Vec<String> {
    let mut out = Vec::new();
    for release in ["0.9", "1.0", "1.0.1", "1.1", "2.0"] {
        for suffix in [
            "",
            ".dev0",
            ".dev2",
            "a1",
            "a1.dev1",
            "b2",
            "rc1",
            ".post0",
            ".post1",
            ".post1.dev0",
            ".post2",
            "a1.post1",
        ] {
            out.push(format!("{release}{suffix}"));
            if ["", ".post1", "rc1"].contains(&suffix) {
                out.push(format!("{release}{suffix}+local"));
                out.push(format!("{release}{suffix}+cpu.1"));
            }
        }
    }
    out.push("1!1.0".into());
    out
}

/// Each operator over versions of each kind (only the forms PEP 440 allows
/// for each operator).
fn specifiers() -> Vec<String> {
    let mut out = Vec::new();
    let ordered = [
        "1.0",
        "1.0.0",
        "1.0.dev0",
        "1.0a1",
        "1.0rc1",
        "1.0.post1",
        "1.0.post1.dev0",
        "1.1",
    ];
    for op in ["<", "<=", ">", ">=", "==", "!="] {
        for v in ordered {
            out.push(format!("{op}{v}"));
        }
    }
    for v in ["1.0+local", "1.0.post1+local"] {
        out.push(format!("=={v}"));
        out.push(format!("!={v}"));
    }
    for v in ["1", "1.0", "1.1"] {
        out.push(format!("=={v}.*"));
        out.push(format!("!={v}.*"));
    }
    for v in ["1.0", "1.0.1", "0.9", "1.0rc1", "1.0.post1"] {
        out.push(format!("~={v}"));
    }
    out.push("===1.0".into());
    out
}

/// The one disagreement `resolve::ranges` documents (ranges are intervals):
/// `>V` with V a pre-, post- or development release admits, within V's
/// release, local versions of its pre-/post-releases and post-releases of
/// its pre-releases (`1.0a1.post1`), which pip refuses.
fn approximated(spec: &str, version: &str, pip_says: bool) -> bool {
    let Some(bound) = spec.strip_prefix('>').filter(|b| !b.starts_with('=')) else {
        return false;
    };
    let (bound, version) = (
        Version::from_str(bound).unwrap(),
        Version::from_str(version).unwrap(),
    );
    let same_release = bound.release() == version.release();
    let suffixed = bound.any_prerelease() || bound.is_post();
    let odd = version.is_local() || (version.is_pre() && version.is_post());
    !pip_says && same_release && suffixed && odd
}

#[test]
fn specifiers_admit_the_versions_pip_admits() {
    let versions = versions();
    let specifiers = specifiers();
    let script = r#"
import json, sys
from pip._vendor.packaging.specifiers import Specifier
from pip._vendor.packaging.version import Version
data = json.load(sys.stdin)
print(json.dumps([[Specifier(s).contains(Version(v), prereleases=True) for v in data["versions"]] for s in data["specifiers"]]))
"#;
    let input = serde_json::json!({"versions": versions, "specifiers": specifiers});
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (with pip) is needed: tests/setup.sh installs it");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "pip's packaging could not be asked");
    let pip: Vec<Vec<bool>> = serde_json::from_slice(&out.stdout).unwrap();
    let mut differ = Vec::new();
    let mut compared = 0;
    for (spec, pip_row) in specifiers.iter().zip(&pip) {
        let range = from_specifiers(&VersionSpecifiers::from_str(spec).unwrap());
        for (version, &pip_says) in versions.iter().zip(pip_row) {
            let ours = range.contains(&Version::from_str(version).unwrap());
            compared += 1;
            if ours != pip_says && !approximated(spec, version, pip_says) {
                differ.push(format!("{spec} {version}: pip {pip_says}, pypack {ours}"));
            }
        }
    }
    eprintln!(
        "{compared} (specifier, version) pairs compared, {} differ beyond the documented approximation",
        differ.len()
    );
    assert!(compared > 3000, "{compared}");
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
