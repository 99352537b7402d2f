//! `uv.lock`: packages with their sources, wheels (URL and hash) and
//! dependency edges (with markers and extras); the project itself is the
//! package whose source is `editable`/`virtual` `.`, and its dev groups are
//! `[package.dev-dependencies]`.

use super::locked::{
    Edge, LockInput, LockedFile, LockedPackage, check_reached, check_version, filename_of,
    marker_holds, name_of, package_tables, read_toml, roots, sha256_of, unusable, version_of, walk,
};
use crate::index::normalize_name;
use anyhow::Result;
use std::collections::BTreeSet;
use std::path::Path;

fn edges_of(list: Option<&toml::Value>) -> Vec<Edge> {
    list.and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let name = normalize_name(e.get("name")?.as_str()?);
            let extras = super::locked::strings(e.get("extra"));
            let marker = e.get("marker").and_then(|m| m.as_str()).map(str::to_string);
            Some((name, extras, marker))
        })
        .collect()
}

/// A wheel or sdist entry: `url` for an index's file, `path` for one of a
/// find-links directory (found again by its name among the find-links).
fn file(entry: &toml::Value) -> LockedFile {
    let url = entry
        .get("url")
        .and_then(|u| u.as_str())
        .map(str::to_string);
    let path = entry.get("path").and_then(|p| p.as_str());
    LockedFile {
        filename: entry
            .get("filename")
            .and_then(|f| f.as_str())
            .map(str::to_string)
            .or_else(|| url.as_deref().and_then(filename_of))
            .or_else(|| path.and_then(filename_of)),
        url,
        sha256: entry
            .get("hash")
            .and_then(|h| h.as_str())
            .and_then(sha256_of),
        size: entry
            .get("size")
            .and_then(|s| s.as_integer())
            .map(|s| s as u64),
    }
}

pub fn read(path: &Path, input: &LockInput) -> Result<Vec<LockedPackage>> {
    let doc = read_toml(path)?;
    check_version(path, doc.get("version").and_then(|v| v.as_integer()), &[1])?;
    let packages = package_tables(&doc);
    let env = input.env();
    // The app's own entry: `.`, or its path from the workspace root when
    // the lock is the workspace's.
    let own = own_path(path, input.app_dir);
    let is_project = |p: &toml::Table| {
        p.get("source").and_then(|s| s.as_table()).is_some_and(|s| {
            ["editable", "virtual"]
                .iter()
                .any(|k| s.get(*k).and_then(|v| v.as_str()) == Some(own.as_str()))
        })
    };
    let pick = |name: &str| pick_for_target(&packages, name, &is_project, &env);
    let mut missing = None;
    let reached = walk(roots(input, &env), &env, |name, base, extras| {
        let Some(package) = pick(name)? else {
            missing.get_or_insert_with(|| name.to_string());
            return Ok(Vec::new());
        };
        let mut edges = Vec::new();
        if base {
            edges.extend(edges_of(package.get("dependencies")));
        }
        let optional = package.get("optional-dependencies");
        for extra in extras {
            edges.extend(edges_of(optional.and_then(|o| o.get(extra))));
        }
        Ok(edges)
    })?;
    check_reached(path, missing)?;
    // Workspace members with no build (`virtual`): nothing to install but
    // their dependencies, which the walk reached.
    let mut is_virtual = BTreeSet::new();
    for name in reached.keys() {
        let package = pick(name)?.expect("reached packages are locked");
        if package
            .get("source")
            .and_then(|s| s.get("virtual"))
            .is_some()
        {
            is_virtual.insert(name.clone());
        }
    }
    let mut out = Vec::new();
    for name in reached.keys().filter(|n| !is_virtual.contains(*n)) {
        let package = pick(name)?.expect("reached packages are locked");
        let source = package.get("source").and_then(|s| s.as_table());
        if let Some(source) = source
            && source.contains_key("git")
        {
            return Err(unusable(
                path,
                format!(
                    "{name} comes from a git source, which pypack does not fetch; publish it to an index or point --find-links at a wheel of it"
                ),
            ));
        }
        // A workspace member or path dependency: built from its directory
        // (or installed from the file it names).
        let local = ["editable", "directory", "path"]
            .iter()
            .find_map(|k| source?.get(*k)?.as_str());
        // A local project whose version is dynamic has none in the lock:
        // its built metadata says it.
        let version = match (local, package.get("version")) {
            (Some(_), None) => "0".to_string(),
            _ => version_of(package, name, path)?,
        };
        let files: Vec<LockedFile> = match local {
            Some(rel) => vec![super::locked::local_file(path, rel, name, &version)?],
            None => package
                .get("wheels")
                .and_then(|w| w.as_array())
                .into_iter()
                .flatten()
                .chain(package.get("sdist"))
                .map(file)
                .collect(),
        };
        let dependencies = edges_of(package.get("dependencies"))
            .into_iter()
            .filter(|(dep, _, marker)| {
                reached.contains_key(dep)
                    && !is_virtual.contains(dep)
                    && marker_holds(marker.as_deref(), &env, &[]).unwrap_or(true)
            })
            .map(|(dep, _, _)| dep)
            .collect();
        out.push(LockedPackage {
            name: name.clone(),
            version,
            files,
            dependencies,
        });
    }
    Ok(out)
}

/// The lock's entry for `name` (not the app's own, `is_project`); of the
/// same name at several versions (split by markers), the one whose
/// resolution markers hold on the target.
fn pick_for_target<'a>(
    packages: &[&'a toml::Table],
    name: &str,
    is_project: &dyn Fn(&toml::Table) -> bool,
    env: &pep508_rs::MarkerEnvironment,
) -> Result<Option<&'a toml::Table>> {
    let candidates: Vec<&toml::Table> = packages
        .iter()
        .copied()
        .filter(|p| name_of(p).as_deref() == Some(name))
        .filter(|p| !is_project(p))
        .collect();
    if candidates.len() <= 1 {
        return Ok(candidates.into_iter().next());
    }
    for candidate in &candidates {
        let markers: Vec<&str> = candidate
            .get("resolution-markers")
            .and_then(|m| m.as_array())
            .map(|a| a.iter().filter_map(|m| m.as_str()).collect())
            .unwrap_or_default();
        let mut holds = markers.is_empty();
        for marker in markers {
            holds |= marker_holds(Some(marker), env, &[])?;
        }
        if holds {
            return Ok(Some(candidate));
        }
    }
    Ok(candidates.into_iter().next())
}

/// The app directory's path from the lock's directory, as uv writes it in
/// `source = { editable = … }` (`.` for the lock's own project).
fn own_path(lock: &Path, app_dir: &Path) -> String {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let base = canonical(lock.parent().unwrap_or(Path::new(".")));
    match canonical(app_dir).strip_prefix(&base) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => ".".to_string(),
    }
}
