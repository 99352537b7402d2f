//! What every lock format reads into (packages, files, the set a lock
//! holds) and the helpers the readers share: TOML tables, markers,
//! hashes, local files. Readers import this, never the table of formats.

use crate::project::requirements::SourcedRequirement;
use crate::python::Target;
use anyhow::{Result, bail};
use pep508_rs::{ExtraName, MarkerEnvironment};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A package as a lock pins it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedPackage {
    /// Normalized.
    pub name: String,
    pub version: String,
    /// Its distribution files (wheels and sdists) as the lock lists them.
    pub files: Vec<LockedFile>,
    /// Normalized names of what it depends on, for the target.
    pub dependencies: Vec<String>,
}

/// A file of a locked package: some locks give a URL, some only a name,
/// `Pipfile.lock` only hashes (the file is then found in the index).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockedFile {
    pub filename: Option<String>,
    pub url: Option<String>,
    pub sha256: Option<String>,
    pub size: Option<u64>,
}

/// The packages a lock file pins for the target.
#[derive(Debug, Clone)]
pub struct LockedSet {
    pub file: PathBuf,
    /// `uv.lock`, `poetry.lock`…
    pub format: &'static str,
    pub packages: Vec<LockedPackage>,
}

/// What the readers need: the project's declared requirements (to check the
/// lock fits), the extras and groups asked for, and the target.
pub struct LockInput<'a> {
    pub app_dir: &'a Path,
    pub declared: &'a [SourcedRequirement],
    pub extras: &'a [String],
    pub groups: &'a [String],
    pub target: &'a Target,
}

impl LockInput<'_> {
    pub fn env(&self) -> MarkerEnvironment {
        self.target.marker_environment()
    }
}

/// A package a lock takes from a local path (`rel`, relative to the lock's
/// directory): a project directory, fetched by packing it as an sdist (the
/// name `pack_tree` gives it), or a wheel / sdist file.
pub fn local_file(lock: &Path, rel: &str, name: &str, version: &str) -> Result<LockedFile> {
    let base = lock.parent().unwrap_or(Path::new("."));
    // PDM writes `file:///${PROJECT_ROOT}/…`: the lock's directory.
    let rel = rel.strip_prefix("file://").unwrap_or(rel);
    let rel = match rel.trim_start_matches('/').strip_prefix("${PROJECT_ROOT}") {
        Some(rest) => format!(".{rest}"),
        None => rel.to_string(),
    };
    let path = std::fs::canonicalize(base.join(&rel)).map_err(|e| {
        unusable(
            lock,
            format!("{name} comes from the local path {rel}, which is not there ({e})"),
        )
    })?;
    let filename = if path.is_dir() {
        crate::index::directory::sdist_filename(name, version)
    } else {
        filename_of(&path.display().to_string()).unwrap_or_default()
    };
    Ok(LockedFile {
        filename: Some(filename),
        url: Some(format!("file://{}", path.display())),
        sha256: None,
        size: None,
    })
}

/// Whether a lock's marker text holds on the target (no marker: yes).
pub fn marker_holds(
    marker: Option<&str>,
    env: &MarkerEnvironment,
    extras: &[String],
) -> Result<bool> {
    let Some(text) = marker.map(str::trim).filter(|m| !m.is_empty()) else {
        return Ok(true);
    };
    let tree = crate::python::parse_marker(text)
        .map_err(|e| anyhow::anyhow!("bad marker '{text}': {e}"))?;
    let extras: Vec<ExtraName> = extras
        .iter()
        .filter_map(|e| ExtraName::from_str(e).ok())
        .collect();
    Ok(tree.evaluate(env, &extras))
}

/// `sha256:abc…` → `abc…`; other algorithms are not used.
pub fn sha256_of(hash: &str) -> Option<String> {
    hash.strip_prefix("sha256:").map(str::to_string)
}

/// The file name at the end of a URL.
pub fn filename_of(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?;
    let name = path.rsplit('/').next()?;
    (!name.is_empty()).then(|| name.to_string())
}

/// A dependency edge in a lock: (name, extras to follow in it, marker).
pub type Edge = (String, Vec<String>, Option<String>);

/// Walks a lock's dependency graph from `roots` (name, extras).
/// `edges(name, base, extras)` gives a package's dependency edges: its own
/// when `base` (the first visit), and those of each extra in `extras`.
/// Returns every package reached on the target, with the extras it was
/// reached with.
pub fn walk(
    roots: Vec<(String, Vec<String>)>,
    env: &MarkerEnvironment,
    mut edges: impl FnMut(&str, bool, &[String]) -> Result<Vec<Edge>>,
) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let mut reached: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut queue = roots;
    while let Some((name, extras)) = queue.pop() {
        let (first, new_extras) = match reached.get_mut(&name) {
            None => {
                reached.insert(name.clone(), extras.iter().cloned().collect());
                (true, extras.clone())
            }
            Some(known) => {
                let new: Vec<String> = extras
                    .iter()
                    .filter(|e| !known.contains(*e))
                    .cloned()
                    .collect();
                known.extend(new.iter().cloned());
                (false, new)
            }
        };
        if !first && new_extras.is_empty() {
            continue;
        }
        for (dep, dep_extras, marker) in edges(&name, first, &new_extras)? {
            // A dependency's marker may test the extras it came through.
            if marker_holds(marker.as_deref(), env, &extras)? {
                queue.push((dep, dep_extras));
            }
        }
    }
    Ok(reached)
}

/// The declared requirements true on the target, as walk roots (name, extras).
pub fn roots(input: &LockInput, env: &MarkerEnvironment) -> Vec<(String, Vec<String>)> {
    input
        .declared
        .iter()
        .filter(|r| r.requirement.marker.evaluate(env, &[]))
        .map(|r| {
            (
                crate::index::normalize_name(r.requirement.name.as_ref()),
                r.requirement.extras.iter().map(|e| e.to_string()).collect(),
            )
        })
        .collect()
}

/// A TOML lock file, parsed (an error naming it when it is no TOML).
pub fn read_toml(path: &Path) -> Result<toml::Table> {
    let text = crate::project::text::read_text(path)?;
    toml::from_str(&text).map_err(|e| unusable(path, format!("not valid TOML: {e}")))
}

/// The `[[package]]` tables of a TOML lock.
pub fn package_tables(doc: &toml::Table) -> Vec<&toml::Table> {
    doc.get("package")
        .and_then(|p| p.as_array())
        .map(|a| a.iter().filter_map(|p| p.as_table()).collect())
        .unwrap_or_default()
}

/// A TOML array of strings (extras, groups), its non-strings skipped; empty when absent.
pub fn strings(value: Option<&toml::Value>) -> Vec<String> {
    value
        .and_then(|x| x.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A package table's normalized name.
pub fn name_of(package: &toml::Table) -> Option<String> {
    package
        .get("name")
        .and_then(|n| n.as_str())
        .map(crate::index::normalize_name)
}

/// A package table's version (an error naming the lock when it has none).
pub fn version_of(package: &toml::Table, name: &str, path: &Path) -> Result<String> {
    package
        .get("version")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| unusable(path, format!("{name} has no version")))
}

/// `files = [{file = "…", hash = "sha256:…"}]` (Poetry, PDM; `url` optional).
pub fn listed_files(package: &toml::Table) -> Vec<LockedFile> {
    package
        .get("files")
        .and_then(|f| f.as_array())
        .into_iter()
        .flatten()
        .map(|f| LockedFile {
            filename: f.get("file").and_then(|x| x.as_str()).map(str::to_string),
            url: f.get("url").and_then(|x| x.as_str()).map(str::to_string),
            sha256: f.get("hash").and_then(|h| h.as_str()).and_then(sha256_of),
            size: None,
        })
        .collect()
}

/// Fails when the walk reached a name the lock does not hold.
pub fn check_reached(path: &Path, missing: Option<String>) -> Result<()> {
    match missing {
        Some(name) => Err(unusable(
            path,
            format!("it does not lock {name}, which the project needs"),
        )),
        None => Ok(()),
    }
}

/// An error for a lock this reader cannot use.
pub fn unusable(path: &Path, why: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!(
        "{}: {why}; fix or remove it, or pass --relock to resolve afresh",
        path.display()
    )
}

/// Fails on a lock version this reader does not know.
pub fn check_version(path: &Path, found: Option<i64>, known: &[i64]) -> Result<()> {
    if let Some(v) = found
        && !known.contains(&v)
    {
        bail!(unusable(
            path,
            format!("lock version {v} is not one pypack reads ({known:?})")
        ));
    }
    Ok(())
}
