//! Any registry image as the base: pulled for the target platform, then read
//! to learn what the resolver needs — the interpreter's path and version and
//! the C library (glibc or musl, and its version).

use super::BuiltBase;
use super::target::{major_minor, upstream_version};
use crate::cache::Cache;
use crate::debian::control::field;
use crate::digest::strip_sha256;
use crate::oci::layer::{EntryKind, read_layer};
use crate::platform::Platform;
use crate::python::Libc;
use crate::registry::{Reference, Registry};
use anyhow::{Context, Result, bail};

/// Pulls `reference` and inspects it.
pub fn pull_base(
    reference: &Reference,
    plain_http: bool,
    platform: Platform,
    cache: &Cache,
) -> Result<BuiltBase> {
    let credentials =
        crate::registry::CredentialSources::from_host().lookup(&reference.registry)?;
    let registry = Registry::connect(reference, plain_http, credentials)?;
    let mut image = registry
        .pull(cache, platform)
        .with_context(|| format!("pulling the base {reference}"))?;
    let facts = inspect_layers(cache, &mut image)?;
    let config: serde_json::Value = serde_json::from_slice(&image.config)?;
    let env_python = config["config"]["Env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            e.as_str()?
                .strip_prefix("PYTHON_VERSION=")
                .map(str::to_string)
        })
        .next();
    let (executable, minor) = facts
        .pythons
        .iter()
        .max_by_key(|(_, minor)| *minor)
        .cloned()
        .with_context(|| format!("the base {reference} has no python3.X interpreter in /usr/bin or /usr/local/bin; use a Python base image"))?;
    let full_version = match env_python.filter(|v| v.starts_with(&format!("3.{minor}."))) {
        Some(v) => v,
        None => facts
            .python_package_version
            .clone()
            .unwrap_or(format!("3.{minor}.0")),
    };
    let libc = facts.libc.with_context(|| {
        format!("cannot tell the C library of {reference}: no libc6 package, libc.so.6 version or ld-musl loader found")
    })?;
    let uncompressed_size = image.uncompressed_size();
    Ok(BuiltBase {
        image,
        packages: facts.os_packages,
        uncompressed_size,
        downloads: 0,
        python_executable: executable,
        python_full_version: Some(full_version),
        libc: Some(libc),
        early: None,
    })
}

/// The platforms pypack builds for that `reference` has an image of.
pub fn platforms_offered(reference: &Reference, plain_http: bool) -> Result<Vec<Platform>> {
    let credentials =
        crate::registry::CredentialSources::from_host().lookup(&reference.registry)?;
    Registry::connect(reference, plain_http, credentials)?
        .platforms()
        .with_context(|| format!("listing the platforms of the base {reference}"))
}

#[derive(Default)]
struct Facts {
    /// (absolute path, minor version) of every `python3.X` found.
    pythons: Vec<(String, u32)>,
    python_package_version: Option<String>,
    libc: Option<Libc>,
    os_packages: Vec<(String, String)>,
}

/// Reads every layer (later layers win) and records the uncompressed sizes.
fn inspect_layers(cache: &Cache, image: &mut crate::oci::Image) -> Result<Facts> {
    let mut facts = Facts::default();
    let mut musl = None;
    let mut glibc_from_binary = None;
    for layer in &mut image.layers {
        let data = cache.read_blob(strip_sha256(&layer.digest)?)?;
        layer.uncompressed_size = gunzipped_size(&data)?;
        for entry in
            read_layer(&data).with_context(|| format!("reading base layer {}", layer.digest))?
        {
            let path = entry.path.as_str();
            let name = path.rsplit('/').next().unwrap_or(path);
            if let Some(minor) = name
                .strip_prefix("python3.")
                .and_then(|m| m.parse::<u32>().ok())
                && (path.starts_with("usr/bin/") || path.starts_with("usr/local/bin/"))
                && !matches!(entry.kind, EntryKind::Dir)
            {
                facts.pythons.push((format!("/{path}"), minor));
            }
            if name.starts_with("ld-musl-") {
                musl.get_or_insert(Libc::Musl { major: 1, minor: 2 });
            }
            let EntryKind::File(content) = &entry.kind else {
                continue;
            };
            if path == "lib/apk/db/installed" {
                if let Some(v) = apk_version(content, "musl") {
                    musl = major_minor(&v).map(|(major, minor)| Libc::Musl { major, minor });
                }
            } else if path == "var/lib/dpkg/status" || path.starts_with("var/lib/dpkg/status.d/") {
                for (pkg, version) in dpkg_packages(content) {
                    if pkg == "libc6" {
                        facts.libc = major_minor(upstream_version(&version))
                            .map(|(major, minor)| Libc::Glibc { major, minor });
                    }
                    if pkg.starts_with("python3.") && pkg.ends_with("-minimal") {
                        facts.python_package_version = Some(upstream_version(&version).to_string());
                    }
                    facts.os_packages.push((pkg, version));
                }
            } else if name == "libc.so.6" {
                glibc_from_binary = glibc_in_binary(content);
            }
        }
    }
    if facts.libc.is_none() {
        facts.libc = musl.or(glibc_from_binary);
    }
    if facts.libc.is_none() && facts.pythons.is_empty() {
        bail!("the base has neither a Python interpreter nor a C library pypack can recognise");
    }
    facts.os_packages.sort();
    facts.os_packages.dedup();
    Ok(facts)
}

fn gunzipped_size(data: &[u8]) -> Result<u64> {
    Ok(std::io::copy(
        &mut flate2::read::GzDecoder::new(data),
        &mut std::io::sink(),
    )?)
}

/// (package, version) pairs of a dpkg status file.
fn dpkg_packages(content: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(content);
    text.split("\n\n")
        .filter_map(|para| Some((field(para, "Package")?, field(para, "Version")?)))
        .collect()
}

/// `V:` of package `P:` in Alpine's installed database.
fn apk_version(content: &[u8], package: &str) -> Option<String> {
    let text = String::from_utf8_lossy(content);
    text.split("\n\n").find_map(|para| {
        let has = para.lines().any(|l| l == format!("P:{package}"));
        has.then(|| {
            para.lines()
                .find_map(|l| l.strip_prefix("V:").map(str::to_string))
        })?
    })
}

/// "release version 2.36" inside glibc's libc.so.6.
fn glibc_in_binary(content: &[u8]) -> Option<Libc> {
    let needle = b"release version 2.";
    let at = content.windows(needle.len()).position(|w| w == needle)?;
    let rest = &content[at + needle.len() - 2..];
    let text: String = rest.iter().take(8).map(|&b| b as char).collect();
    major_minor(text.trim_end_matches(|c: char| !c.is_ascii_digit()))
        .map(|(major, minor)| Libc::Glibc { major, minor })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_package_databases() {
        assert_eq!(
            apk_version(b"P:busybox\nV:1.36\n\nP:musl\nV:1.2.5-r0\n", "musl").as_deref(),
            Some("1.2.5-r0")
        );
        assert_eq!(major_minor("1.2.5-r0"), Some((1, 2)));
        assert_eq!(dpkg_packages(b"Package: libc6\nStatus: install ok installed\nVersion: 2.36-9+deb12u4\n\nPackage: x\nVersion: 1\n")[0].1, "2.36-9+deb12u4");
        assert_eq!(upstream_version("2.36-9+deb12u4"), "2.36");
        assert_eq!(
            glibc_in_binary(
                b"..GNU C Library (Debian GLIBC 2.36-9) stable release version 2.36.\n"
            ),
            Some(Libc::Glibc {
                major: 2,
                minor: 36
            })
        );
    }
}
