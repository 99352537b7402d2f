//! Dependencies a project takes from a local directory instead of an
//! index, as its own tool says: uv's `[tool.uv.sources]` (`{ path = … }`,
//! `{ workspace = true }`, a member of the `[tool.uv.workspace]` above the
//! app), Poetry's path dependencies (`{ path = "../common" }`).

use super::requirements::LocalProject;
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
    // Absolute, so that it reads as a path whatever the app dir was given as.
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let spec = path.display().to_string();
    match super::requirements::local_project(&spec, Path::new("/"), origin)? {
        Some(project) => Ok(project),
        None => bail!("{origin}: {spec} is not a project directory"),
    }
}

/// A uv workspace: its root (where `[tool.uv.workspace]` and `uv.lock`
/// are) and its members' directories.
pub struct Workspace {
    pub root: PathBuf,
    pub members: Vec<PathBuf>,
}

/// The uv workspace that holds `app_dir`: the nearest `[tool.uv.workspace]`
/// above it, itself included (uv's rule: the nearest one decides).
pub fn uv_workspace(app_dir: &Path) -> Option<Workspace> {
    let start = std::fs::canonicalize(app_dir).unwrap_or_else(|_| app_dir.to_path_buf());
    for root in start.ancestors() {
        let Some(text) = crate::project::text::text_if_regular(&root.join("pyproject.toml")) else {
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
        let patterns: Vec<&str> = workspace
            .get("members")
            .and_then(|m| m.as_array())
            .map(|m| m.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        let members = member_dirs(root, &patterns)
            .into_iter()
            .map(|d| std::fs::canonicalize(&d).unwrap_or(d))
            .collect();
        return Some(Workspace {
            root: root.to_path_buf(),
            members,
        });
    }
    None
}

impl Workspace {
    /// Whether `dir` is the workspace's root or one of its members.
    pub fn holds(&self, dir: &Path) -> bool {
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        dir == self.root || self.members.contains(&dir)
    }
}

/// The directory of the member named `name` of the uv workspace that holds
/// `app_dir`.
fn workspace_member(app_dir: &Path, name: &str) -> Result<Option<PathBuf>> {
    let wanted = crate::index::normalize_name(name);
    let Some(workspace) = uv_workspace(app_dir) else {
        return Ok(None);
    };
    for dir in workspace.members {
        let Some(text) = crate::project::text::text_if_regular(&dir.join("pyproject.toml")) else {
            continue;
        };
        let member_name = toml::from_str::<toml::Table>(&text)
            .ok()
            .and_then(|d| d.get("project")?.get("name")?.as_str().map(str::to_string));
        if member_name.is_some_and(|n| crate::index::normalize_name(&n) == wanted) {
            return Ok(Some(dir));
        }
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
