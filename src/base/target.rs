//! What resolution needs of a recipe's base — the platform, interpreter
//! and C library that wheels must fit — from the versions of its packages:
//! those of a built base, or those a build would install, read from the
//! suites' signed package indexes without fetching a `.deb`.

use super::recipe::Recipe;
use crate::cache::Cache;
use crate::debian::version::compare;
use crate::debian::{Archive, FetchStats, SuiteIndex};
use crate::platform::Platform;
use crate::python::{Libc, Target};
use anyhow::{Context, Result};

/// The platform, interpreter and libc of a base whose interpreter and C
/// library have these versions.
pub(super) fn target_from(
    platform: Platform,
    python_full_version: Option<&str>,
    libc: Option<Libc>,
) -> Result<Target> {
    let python_version = python_full_version.context(
        "the base's Python version is unknown: its recipe's packages include no pythonX.Y-minimal",
    )?;
    let libc =
        libc.context("the base's C library is unknown: no libc6 package, no ld-musl loader")?;
    Ok(Target {
        platform,
        python: Target::parse_python(python_version)?,
        libc,
    })
}

/// The interpreter's and C library's packages (name, version) that a base
/// built from `suites` (build key `key`) would hold: remembered for the key,
/// else read from the indexes.
pub(super) fn versions_for(
    recipe: &Recipe,
    archive: &Archive,
    suites: &[SuiteIndex],
    arch: &str,
    key: &str,
    stats: &FetchStats,
) -> Result<Vec<(String, String)>> {
    let cache = archive.cache;
    if let Some(versions) = remembered(cache, key) {
        return Ok(versions);
    }
    let versions = newest_versions(recipe, archive, suites, arch, stats)?;
    // Only a time saver: a lock that could not keep it is still right.
    let _ = remember(cache, key, &versions);
    Ok(versions)
}

/// The newest version across the suites of the interpreter's and the C
/// library's packages: what the base's dependency closure picks for them
/// (it takes the highest version a dependency allows, and the interpreter's
/// packages of one version require each other), read without building the
/// index of every package.
fn newest_versions(
    recipe: &Recipe,
    archive: &Archive,
    suites: &[SuiteIndex],
    arch: &str,
    stats: &FetchStats,
) -> Result<Vec<(String, String)>> {
    let python = format!("python{}-minimal", recipe.python.version);
    let names = [python.as_str(), "libc6"];
    let lists: Vec<(&SuiteIndex, &String)> = suites
        .iter()
        .flat_map(|suite| recipe.components.iter().map(move |c| (suite, c)))
        .collect();
    let found = crate::parallel::map_ordered(&lists, lists.len(), |(suite, component)| {
        archive.versions_named(suite, component, arch, &names, stats)
    })?;
    let mut newest: Vec<(String, String)> = Vec::new();
    for (name, version) in found.into_iter().flatten() {
        match newest.iter_mut().find(|(n, _)| *n == name) {
            Some((_, kept)) if compare(&version, kept).is_gt() => *kept = version,
            Some(_) => {}
            None => newest.push((name, version)),
        }
    }
    Ok(newest)
}

const REF_KIND: &str = "base-target-packages";

fn remembered(cache: &Cache, key: &str) -> Option<Vec<(String, String)>> {
    serde_json::from_str(&cache.get_ref(REF_KIND, key)?).ok()
}

fn remember(cache: &Cache, key: &str, versions: &[(String, String)]) -> Result<()> {
    cache.set_ref(REF_KIND, key, &serde_json::to_string(versions)?)
}

/// `2.36` → glibc 2.36.
pub(super) fn glibc(version: &str) -> Option<Libc> {
    major_minor(version).map(|(major, minor)| Libc::Glibc { major, minor })
}

/// The first two numeric parts of a version: `1.2.5-r0` → (1, 2).
pub(super) fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some((major, minor))
}

/// `1:3.11.2-6+deb12u8` → `3.11.2`; `2.36-9+deb12u14` → `2.36`.
pub(super) fn upstream_version(debian_version: &str) -> &str {
    let no_epoch = debian_version
        .split_once(':')
        .map(|(_, v)| v)
        .unwrap_or(debian_version);
    let upstream = no_epoch
        .rsplit_once('-')
        .map(|(u, _)| u)
        .unwrap_or(no_epoch);
    upstream.split(['+', '~']).next().unwrap_or(upstream)
}

/// The interpreter's and libc's upstream versions, from the package list.
pub(super) fn versions_of(
    recipe: &Recipe,
    packages: &[(String, String)],
) -> (Option<String>, Option<String>) {
    let find = |name: &str| {
        packages
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| upstream_version(v).to_string())
    };
    (
        find(&format!("python{}-minimal", recipe.python.version)),
        find("libc6"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_without_an_interpreter_package_names_what_is_missing() {
        let platform = Platform::host();
        let glibc = Some(Libc::Glibc {
            major: 2,
            minor: 36,
        });
        let error = target_from(platform, None, glibc).unwrap_err().to_string();
        assert!(error.contains("pythonX.Y-minimal"), "{error}");
        let error = target_from(platform, Some("3.11.2"), None)
            .unwrap_err()
            .to_string();
        assert!(error.contains("libc6"), "{error}");
        let target = target_from(platform, Some("3.11.2"), glibc).unwrap();
        let shown = target.to_string();
        assert!(
            shown.contains("CPython 3.11.2") && shown.contains("glibc 2.36"),
            "{shown}"
        );
    }
}
