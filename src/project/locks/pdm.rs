//! `pdm.lock`: packages with their groups, files (names and hashes) and
//! dependencies as PEP 508 strings; a package locked with extras is an
//! entry of its own (`extras = [...]`) holding what those extras add.

use super::locked::{
    Edge, LockInput, LockedPackage, check_reached, listed_files, name_of, package_tables,
    read_toml, roots, unusable, version_of, walk,
};
use crate::index::normalize_name;
use anyhow::Result;
use std::path::Path;

fn entry_extras(p: &toml::Table) -> Vec<String> {
    super::locked::strings(p.get("extras"))
}

fn dependency_edges(p: &toml::Table, path: &Path) -> Result<Vec<Edge>> {
    let mut out = Vec::new();
    for d in p
        .get("dependencies")
        .and_then(|d| d.as_array())
        .into_iter()
        .flatten()
    {
        let Some(text) = d.as_str() else { continue };
        let requirement = crate::python::parse_requirement(text)
            .map_err(|e| unusable(path, format!("dependency '{text}': {e}")))?;
        let marker = requirement.marker.try_to_string();
        out.push((
            normalize_name(requirement.name.as_ref()),
            requirement.extras.iter().map(|e| e.to_string()).collect(),
            marker,
        ));
    }
    Ok(out)
}

pub fn read(path: &Path, input: &LockInput) -> Result<Vec<LockedPackage>> {
    let doc = read_toml(path)?;
    let packages = package_tables(&doc);
    let named = |name: &str| -> Vec<&toml::Table> {
        packages
            .iter()
            .copied()
            .filter(|p| name_of(p).as_deref() == Some(name))
            .collect()
    };
    let env = input.env();
    let mut missing = None;
    let reached = walk(roots(input, &env), &env, |name, base, extras| {
        let entries = named(name);
        if entries.is_empty() {
            missing.get_or_insert_with(|| name.to_string());
        }
        let mut edges = Vec::new();
        for entry in entries {
            let own = entry_extras(entry);
            let wanted = if own.is_empty() {
                base
            } else {
                own.iter().any(|e| extras.contains(e))
            };
            if wanted {
                edges.extend(dependency_edges(entry, path)?);
            }
        }
        Ok(edges)
    })?;
    check_reached(path, missing)?;
    let mut out = Vec::new();
    for name in reached.keys() {
        let entries = named(name);
        let base = entries
            .iter()
            .find(|p| entry_extras(p).is_empty())
            .or(entries.first())
            .expect("reached packages are locked");
        let dependencies = dependency_edges(base, path)?
            .into_iter()
            .map(|(d, _, _)| d)
            .filter(|d| reached.contains_key(d))
            .collect();
        let version = version_of(base, name, path)?;
        // A path dependency: `path` is its directory (or file) from the
        // lock's; a `url` of `file:` the same, absolute.
        let local = base.get("path").and_then(|p| p.as_str()).or_else(|| {
            base.get("url")
                .and_then(|u| u.as_str())
                .filter(|u| u.starts_with("file://"))
        });
        let files = match local {
            Some(rel) => vec![super::locked::local_file(path, rel, name, &version)?],
            None => listed_files(base),
        };
        out.push(LockedPackage {
            name: name.clone(),
            version,
            files,
            dependencies,
        });
    }
    Ok(out)
}
