//! Dependencies a project takes from a local directory instead of an
//! index, as its own tool says: uv's `[tool.uv.sources]` (`{ path = … }`,
//! `{ workspace = true }`, a member of the `[tool.uv.workspace]` above the
//! app), Poetry's path dependencies (`{ path = "../common" }`).

use super::LocalProject;
use anyhow::{Result, bail};
use std::path::{Path, PathBuf};

/// The local projects `[tool.uv.sources]` names for `app_dir`'s project.
pub fn uv_local(app_dir: &Path, sources: &toml::Table) -> Result<Vec<LocalProject>> {
    let mut out = Vec::new();
    for (name, source) in sources {
        let origin = format!("pyproject.toml [tool.uv.sources] {name}");
        if let Some(path) = source.get("path").and_then(|p| p.as_str()) {
            out.push(local(&app_dir.join(path), &origin)?);
        } else if source.get("workspace").and_then(|w| w.as_bool()) == Some(true) {
            let Some(member) = workspace_member(app_dir, name)? else {
                bail!(
                    "{origin}: {name} is a workspace member, and no [tool.uv.workspace] above {} has a member of that name",
                    app_dir.display()
                );
            };
            out.push(local(&member, &origin)?);
        }
    }
    Ok(out)
}

/// The local projects of Poetry path dependencies in `dependencies`.
pub fn poetry_local(app_dir: &Path, dependencies: &toml::Table) -> Result<Vec<LocalProject>> {
    let mut out = Vec::new();
    for (name, spec) in dependencies {
        if let Some(path) = spec.get("path").and_then(|p| p.as_str()) {
            let origin = format!("pyproject.toml [tool.poetry.dependencies] {name}");
            out.push(local(&app_dir.join(path), &origin)?);
        }
    }
    Ok(out)
}

fn local(path: &Path, origin: &str) -> Result<LocalProject> {
    let spec = path.display().to_string();
    match super::requirements::local_project(&spec, Path::new("/"), origin)? {
        Some(project) => Ok(project),
        None => bail!("{origin}: {spec} is not a project directory"),
    }
}

/// The directory of the member named `name` of the uv workspace that holds
/// `app_dir` (the nearest `[tool.uv.workspace]` above it, itself included).
fn workspace_member(app_dir: &Path, name: &str) -> Result<Option<PathBuf>> {
    let wanted = crate::index::normalize_name(name);
    let start = std::fs::canonicalize(app_dir).unwrap_or_else(|_| app_dir.to_path_buf());
    for root in start.ancestors() {
        let Some(text) = super::text_if_regular(&root.join("pyproject.toml")) else {
            continue;
        };
        let Ok(doc) = toml::from_str::<toml::Table>(&text) else {
            continue;
        };
        let Some(workspace) = doc
            .get("tool")
            .and_then(|t| t.get("uv"))
            .and_then(|t| t.get("workspace"))
        else {
            continue;
        };
        let members: Vec<&str> = workspace
            .get("members")
            .and_then(|m| m.as_array())
            .map(|m| m.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        for dir in member_dirs(root, &members) {
            let Some(text) = super::text_if_regular(&dir.join("pyproject.toml")) else {
                continue;
            };
            let member_name = toml::from_str::<toml::Table>(&text)
                .ok()
                .and_then(|d| d.get("project")?.get("name")?.as_str().map(str::to_string));
            if member_name.is_some_and(|n| crate::index::normalize_name(&n) == wanted) {
                return Ok(Some(dir));
            }
        }
        return Ok(None);
    }
    Ok(None)
}

/// The directories `members` globs name under `root` (`libs/*`, `app`).
fn member_dirs(root: &Path, members: &[&str]) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for pattern in members {
        match pattern.strip_suffix("/*") {
            Some(parent) => {
                let Ok(entries) = std::fs::read_dir(root.join(parent)) else {
                    continue;
                };
                let mut found: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.is_dir())
                    .collect();
                found.sort();
                dirs.extend(found);
            }
            None => dirs.push(root.join(pattern)),
        }
    }
    dirs
}
