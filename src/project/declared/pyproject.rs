//! `pyproject.toml`: PEP 621 `[project]` dependencies and optional groups,
//! PEP 735 `[dependency-groups]`, and Poetry's `[tool.poetry]` (kept raw for
//! `poetry.rs`).

use super::requirements::SourcedRequirement;
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Default)]
pub struct Pyproject {
    pub name: Option<String>,
    pub version: Option<String>,
    pub requires_python: Option<String>,
    /// Names of `[project.scripts]` entries.
    pub scripts: Vec<String>,
    /// Entry points by group: `console_scripts` ([project.scripts]),
    /// `gui_scripts` ([project.gui-scripts]) and [project.entry-points.*].
    pub entry_points: BTreeMap<String, Vec<(String, String)>>,
    /// `[build-system] build-backend`.
    pub build_backend: Option<String>,
    pub dependencies: Vec<SourcedRequirement>,
    pub optional: BTreeMap<String, Vec<SourcedRequirement>>,
    /// `[tool.pypack]`, kept raw for the project module to read.
    pub tool_pypack: Option<toml::Table>,
    /// `[tool.fastapi] entrypoint` (`app.main:app`), which `fastapi run` reads.
    pub fastapi_entrypoint: Option<String>,
    /// Whether there is a `[project]` table (a PEP 621 project).
    pub has_project: bool,
    /// PEP 735 `[dependency-groups]`, includes resolved.
    pub dependency_groups: BTreeMap<String, Vec<SourcedRequirement>>,
    /// `[tool.poetry]`, raw.
    pub poetry: Option<toml::Table>,
    /// `[tool.uv.sources]`, raw: where uv takes a dependency from.
    pub uv_sources: Option<toml::Table>,
    /// Dependencies named with a local directory (`common @ file:…`, as
    /// PDM writes `file:///${PROJECT_ROOT}/../common`), by normalized name;
    /// the requirement lists hold them by name.
    pub local_paths: BTreeMap<String, super::requirements::LocalProject>,
}

pub fn read(path: &Path) -> Result<Pyproject> {
    let text = crate::project::text::read_text(path)?;
    let doc: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))?;
    let mut out = Pyproject {
        tool_pypack: doc
            .get("tool")
            .and_then(|t| t.get("pypack"))
            .and_then(|t| t.as_table())
            .cloned(),
        fastapi_entrypoint: doc
            .get("tool")
            .and_then(|t| t.get("fastapi"))
            .and_then(|t| t.get("entrypoint"))
            .and_then(|v| v.as_str())
            .map(str::to_string),
        poetry: doc
            .get("tool")
            .and_then(|t| t.get("poetry"))
            .and_then(|t| t.as_table())
            .cloned(),
        dependency_groups: dependency_groups(&doc, path)?,
        uv_sources: doc
            .get("tool")
            .and_then(|t| t.get("uv"))
            .and_then(|t| t.get("sources"))
            .and_then(|t| t.as_table())
            .cloned(),
        ..Pyproject::default()
    };
    let Some(project) = doc.get("project").and_then(|p| p.as_table()) else {
        poetry_fields(&mut out);
        return Ok(out);
    };
    out.has_project = true;
    out.name = project
        .get("name")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    out.version = project
        .get("version")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    out.scripts = project
        .get("scripts")
        .and_then(|v| v.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default();
    out.entry_points = entry_points(project);
    out.build_backend = doc
        .get("build-system")
        .and_then(|b| b.get("build-backend"))
        .and_then(|v| v.as_str())
        .map(str::to_string);
    out.requires_python = project
        .get("requires-python")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let local_paths = std::cell::RefCell::new(BTreeMap::new());
    let list = |value: Option<&toml::Value>, field: &str| -> Result<Vec<SourcedRequirement>> {
        let Some(value) = value else {
            return Ok(Vec::new());
        };
        let Some(items) = value.as_array() else {
            bail!("{}: {field} must be a list of strings", path.display())
        };
        let mut out = Vec::new();
        for item in items {
            let spec = item.as_str().with_context(|| {
                format!("{}: {field} must be a list of strings", path.display())
            })?;
            match local_path(spec, path, field)? {
                Some((requirement, project)) => {
                    let name = crate::index::normalize_name(requirement.requirement.name.as_ref());
                    local_paths.borrow_mut().insert(name, project);
                    out.push(requirement);
                }
                None => out.push(requirement(spec, path, field)?),
            }
        }
        Ok(out)
    };
    out.dependencies = list(project.get("dependencies"), "project.dependencies")?;
    if let Some(groups) = project
        .get("optional-dependencies")
        .and_then(|v| v.as_table())
    {
        for (group, value) in groups {
            out.optional.insert(
                group.clone(),
                list(
                    Some(value),
                    &format!("project.optional-dependencies.{group}"),
                )?,
            );
        }
    }
    out.local_paths = local_paths.into_inner();
    Ok(out)
}

/// A Poetry project's name, Python, version and scripts, from
/// `[tool.poetry]` (read into `out.poetry`), when there is no `[project]`.
fn poetry_fields(out: &mut Pyproject) {
    // A Poetry project says its Python in its dependencies.
    out.requires_python = out.poetry.as_ref().and_then(super::poetry::requires_python);
    if let Some(name) = out
        .poetry
        .as_ref()
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
    {
        out.name = Some(name.to_string());
    }
    // `[tool.poetry.scripts]`: console scripts, as [project.scripts].
    let scripts: Vec<(String, String)> = out
        .poetry
        .as_ref()
        .and_then(|p| p.get("scripts"))
        .and_then(|s| s.as_table())
        .map(|t| {
            t.iter()
                .filter_map(|(name, v)| {
                    let target = match v {
                        toml::Value::String(s) => s.clone(),
                        // Poetry 2: `{ reference = "mod:fn", type = "console" }`
                        toml::Value::Table(t)
                            if t.get("type").and_then(|t| t.as_str()).unwrap_or("console")
                                == "console" =>
                        {
                            t.get("reference")?.as_str()?.to_string()
                        }
                        _ => return None,
                    };
                    Some((name.clone(), target))
                })
                .collect()
        })
        .unwrap_or_default();
    if !scripts.is_empty() {
        out.scripts = scripts.iter().map(|(n, _)| n.clone()).collect();
        out.entry_points.insert("console_scripts".into(), scripts);
    }
    out.version = out
        .poetry
        .as_ref()
        .and_then(|p| p.get("version"))
        .and_then(|v| v.as_str())
        .map(str::to_string);
}

/// `[project.scripts]`, `[project.gui-scripts]` and `[project.entry-points]`
/// as entry point groups.
fn entry_points(project: &toml::Table) -> BTreeMap<String, Vec<(String, String)>> {
    let mut entry_points = BTreeMap::new();
    let pairs = |v: Option<&toml::Value>| -> Vec<(String, String)> {
        v.and_then(|v| v.as_table())
            .map(|t| {
                t.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    };
    for (group, key) in [
        ("console_scripts", "scripts"),
        ("gui_scripts", "gui-scripts"),
    ] {
        let entries = pairs(project.get(key));
        if !entries.is_empty() {
            entry_points.insert(group.to_string(), entries);
        }
    }
    if let Some(groups) = project.get("entry-points").and_then(|v| v.as_table()) {
        for (group, table) in groups {
            entry_points.insert(group.clone(), pairs(Some(table)));
        }
    }
    entry_points
}

/// `name @ file:…` naming a local project directory: the requirement by
/// name (extras and marker kept) and the project. PDM's `${PROJECT_ROOT}`
/// is the directory of the pyproject.toml.
fn local_path(
    spec: &str,
    path: &Path,
    field: &str,
) -> Result<Option<(SourcedRequirement, super::requirements::LocalProject)>> {
    let Some((named, rest)) = spec.split_once(" @ ") else {
        return Ok(None);
    };
    if !rest.trim_start().starts_with("file:") {
        return Ok(None);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let root = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let expanded = spec.replace("${PROJECT_ROOT}", &root.display().to_string());
    let origin = format!("{} {field}", path.display());
    let Some(project) = super::requirements::local_project(&expanded, dir, &origin)? else {
        return Ok(None);
    };
    let marker = rest.split_once(';').map(|(_, m)| m.trim());
    let bare = match marker {
        Some(m) => format!("{}; {m}", named.trim()),
        None => named.trim().to_string(),
    };
    Ok(Some((requirement(&bare, path, field)?, project)))
}

/// One requirement string of `pyproject.toml`, parsed, with where it came from.
fn requirement(spec: &str, path: &Path, field: &str) -> Result<SourcedRequirement> {
    let requirement = crate::python::parse_requirement(spec).map_err(|e| {
        anyhow::anyhow!(
            "{}: {field}: '{spec}' is not a valid requirement: {e}",
            path.display()
        )
    })?;
    Ok(SourcedRequirement {
        requirement,
        hashes: Vec::new(),
        origin: format!("{} {field}", path.display()),
    })
}

/// PEP 735 `[dependency-groups]`: each group's requirements, with
/// `{include-group = "x"}` entries expanded (a cycle is an error).
fn dependency_groups(
    doc: &toml::Table,
    path: &Path,
) -> Result<BTreeMap<String, Vec<SourcedRequirement>>> {
    let Some(groups) = doc.get("dependency-groups").and_then(|g| g.as_table()) else {
        return Ok(BTreeMap::new());
    };
    fn expand(
        name: &str,
        groups: &toml::Table,
        path: &Path,
        seen: &mut Vec<String>,
    ) -> Result<Vec<SourcedRequirement>> {
        if seen.iter().any(|s| s == name) {
            bail!(
                "{}: [dependency-groups] {name} includes itself",
                path.display()
            );
        }
        seen.push(name.to_string());
        let items = groups
            .get(name)
            .and_then(|g| g.as_array())
            .with_context(|| {
                format!(
                    "{}: [dependency-groups] has no list '{name}'",
                    path.display()
                )
            })?;
        let mut out = Vec::new();
        for item in items {
            match item {
                toml::Value::String(spec) => out.push(requirement(
                    spec,
                    path,
                    &format!("[dependency-groups] {name}"),
                )?),
                toml::Value::Table(t) => {
                    let include = t.get("include-group").and_then(|v| v.as_str()).with_context(|| {
                        format!("{}: [dependency-groups] {name}: a table must be {{include-group = \"…\"}}", path.display())
                    })?;
                    out.extend(expand(include, groups, path, seen)?);
                }
                _ => bail!(
                    "{}: [dependency-groups] {name} holds something that is no requirement",
                    path.display()
                ),
            }
        }
        seen.pop();
        Ok(out)
    }
    let mut out = BTreeMap::new();
    for name in groups.keys() {
        out.insert(name.clone(), expand(name, groups, path, &mut Vec::new())?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_project_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pyproject.toml");
        std::fs::write(
            &path,
            "[project]\nname = \"app\"\nrequires-python = \">=3.11\"\ndependencies = [\"fastapi>=0.110\", \"uvicorn[standard]\"]\n\
             [project.optional-dependencies]\ndev = [\"pytest\"]\n[tool.pypack]\nport = 8080\n",
        )
        .unwrap();
        let p = super::read(&path).unwrap();
        assert_eq!(p.name.as_deref(), Some("app"));
        assert_eq!(p.dependencies.len(), 2);
        assert_eq!(p.optional["dev"][0].requirement.name.to_string(), "pytest");
        assert_eq!(p.tool_pypack.unwrap()["port"].as_integer(), Some(8080));
        std::fs::write(&path, "[project]\ndependencies = [\"fastapi>=\"]\n").unwrap();
        let err = format!("{:#}", super::read(&path).unwrap_err());
        assert!(
            err.contains("project.dependencies") && err.contains("fastapi>="),
            "{err}"
        );
    }
}
