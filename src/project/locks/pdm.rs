//! `pdm.lock`: packages with their groups, files (names and hashes) and
//! dependencies as PEP 508 strings; a package locked with extras is an
//! entry of its own (`extras = [...]`) holding what those extras add.

use super::{Edge, LockInput, LockedFile, LockedPackage, sha256_of, unusable, walk};
use crate::index::normalize_name;
use anyhow::{Context, Result};
use pep508_rs::{Requirement, VerbatimUrl};
use std::path::Path;
use std::str::FromStr;

fn entry_extras(p: &toml::Table) -> Vec<String> {
    p.get("extras")
        .and_then(|x| x.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
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
        let requirement = Requirement::<VerbatimUrl>::from_str(text)
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
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc: toml::Table =
        toml::from_str(&text).map_err(|e| unusable(path, format!("not valid TOML: {e}")))?;
    let packages: Vec<&toml::Table> = doc
        .get("package")
        .and_then(|p| p.as_array())
        .map(|a| a.iter().filter_map(|p| p.as_table()).collect())
        .unwrap_or_default();
    let named = |name: &str| -> Vec<&toml::Table> {
        packages
            .iter()
            .copied()
            .filter(|p| {
                p.get("name")
                    .and_then(|n| n.as_str())
                    .map(normalize_name)
                    .as_deref()
                    == Some(name)
            })
            .collect()
    };
    let env = input.env();
    let roots = input
        .declared
        .iter()
        .filter(|r| r.requirement.marker.evaluate(&env, &[]))
        .map(|r| {
            (
                normalize_name(r.requirement.name.as_ref()),
                r.requirement.extras.iter().map(|e| e.to_string()).collect(),
            )
        })
        .collect();
    let mut missing = None;
    let reached = walk(roots, &env, |name, base, extras| {
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
    if let Some(name) = missing {
        return Err(unusable(
            path,
            format!("it does not lock {name}, which the project needs"),
        ));
    }
    let mut out = Vec::new();
    for name in reached.keys() {
        let entries = named(name);
        let base = entries
            .iter()
            .find(|p| entry_extras(p).is_empty())
            .or(entries.first())
            .expect("reached packages are locked");
        let files = base
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
            .collect();
        let dependencies = dependency_edges(base, path)?
            .into_iter()
            .map(|(d, _, _)| d)
            .filter(|d| reached.contains_key(d))
            .collect();
        out.push(LockedPackage {
            name: name.clone(),
            version: base
                .get("version")
                .and_then(|v| v.as_str())
                .with_context(|| format!("{}: {name} has no version", path.display()))?
                .to_string(),
            files,
            dependencies,
        });
    }
    Ok(out)
}
