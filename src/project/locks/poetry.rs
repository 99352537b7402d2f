//! `poetry.lock`: packages with their files (names and hashes, no URLs: the
//! files are found in the index) and `[package.dependencies]` (a constraint,
//! or a table with markers, extras, `optional`); an optional dependency is
//! followed only through the package extras that list it.

use super::locked::{
    Edge, LockInput, LockedPackage, check_reached, listed_files, name_of, package_tables,
    read_toml, roots, unusable, version_of, walk,
};
use crate::index::normalize_name;
use anyhow::Result;
use std::path::Path;

/// A package's edges: its required dependencies when `base`, and those its
/// `extras` list.
fn edges(package: &toml::Table, base: bool, extras: &[String]) -> Vec<Edge> {
    let Some(deps) = package.get("dependencies").and_then(|d| d.as_table()) else {
        return Vec::new();
    };
    let wanted_by_extras: Vec<String> = extras
        .iter()
        .filter_map(|e| package.get("extras")?.get(e)?.as_array())
        .flatten()
        .filter_map(|d| d.as_str())
        .map(|d| {
            normalize_name(
                d.split([' ', '(', '[', ';', '<', '>', '=', '!', '~'])
                    .next()
                    .unwrap_or(d),
            )
        })
        .collect();
    let mut out = Vec::new();
    for (name, spec) in deps {
        let name = normalize_name(name);
        let specs: Vec<&toml::Value> = match spec {
            toml::Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        for spec in specs {
            let optional = spec.get("optional").and_then(|o| o.as_bool()) == Some(true);
            let wanted = if optional {
                wanted_by_extras.contains(&name)
            } else {
                base
            };
            if !wanted {
                continue;
            }
            let extras = super::locked::strings(spec.get("extras"));
            let marker = spec
                .get("markers")
                .and_then(|m| m.as_str())
                .map(str::to_string);
            out.push((name.clone(), extras, marker));
        }
    }
    out
}

pub fn read(path: &Path, input: &LockInput) -> Result<Vec<LockedPackage>> {
    let doc = read_toml(path)?;
    let packages = package_tables(&doc);
    let find = |name: &str| {
        packages
            .iter()
            .copied()
            .find(|p| name_of(p).as_deref() == Some(name))
    };
    let env = input.env();
    let mut missing = None;
    let reached = walk(roots(input, &env), &env, |name, base, extras| {
        match find(name) {
            Some(package) => Ok(edges(package, base, extras)),
            None => {
                missing.get_or_insert_with(|| name.to_string());
                Ok(Vec::new())
            }
        }
    })?;
    check_reached(path, missing)?;
    let mut out = Vec::new();
    for (name, extras) in &reached {
        let package = find(name).expect("reached packages are locked");
        let source = package.get("source");
        let kind = source.and_then(|s| s.get("type")).and_then(|t| t.as_str());
        if kind == Some("git") {
            return Err(unusable(
                path,
                format!(
                    "{name} comes from a git source, which pypack does not fetch; publish it to an index or point --find-links at a wheel of it"
                ),
            ));
        }
        let version = version_of(package, name, path)?;
        // A path dependency: `url` is its directory (or file) from the lock's.
        let files = match (
            kind,
            source.and_then(|s| s.get("url")).and_then(|u| u.as_str()),
        ) {
            (Some("directory" | "file"), Some(rel)) => {
                vec![super::locked::local_file(path, rel, name, &version)?]
            }
            _ => listed_files(package),
        };
        let extras: Vec<String> = extras.iter().cloned().collect();
        let dependencies = edges(package, true, &extras)
            .into_iter()
            .map(|(d, _, _)| d)
            .filter(|d| reached.contains_key(d))
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
