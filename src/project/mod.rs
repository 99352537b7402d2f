//! The app as pypack sees it. So far: where its requirements come from
//! (`requirements.txt` in pip's syntax, `pyproject.toml` PEP 621 fields).

pub mod chain;
pub mod locks;
pub mod pipfile;
pub mod plan;
pub mod poetry;
pub mod providers;
pub mod pyproject;
pub mod python_version;
pub mod requirements;

/// An app directory holding `files` (path, text), for the detection tests.
#[cfg(test)]
pub(crate) fn test_app(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

pub use requirements::{DirectWheel, RequirementSet, SourcedRequirement};

use anyhow::{Result, bail};
use std::path::{Path, PathBuf};

/// The app's requirements and the files they came from (whose contents key
/// the lock), from the first declaration there is:
/// 1. `requirements.txt`;
/// 2. `pyproject.toml` `[project]` dependencies, the optional-dependencies
///    named in `extras`, the `[dependency-groups]` named in `groups`;
/// 3. `pyproject.toml` `[tool.poetry.dependencies]` (with Poetry extras and groups);
/// 4. `Pipfile` `[packages]` (`[dev-packages]` with group `dev`).
pub fn read_requirements(
    app_dir: &Path,
    extras: &[String],
    groups: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(RequirementSet, Vec<PathBuf>)> {
    if !app_dir.is_dir() {
        bail!(
            "{} is not a directory; pass the path of your app",
            app_dir.display()
        );
    }
    let requirements_txt = app_dir.join("requirements.txt");
    if requirements_txt.is_file() {
        if !extras.is_empty() || !groups.is_empty() {
            bail!(
                "--extra and --group select parts of pyproject.toml, but {} is read instead",
                requirements_txt.display()
            );
        }
        let set = requirements::parse_file(&requirements_txt, env)?;
        return Ok((set, vec![requirements_txt]));
    }
    let pyproject_toml = app_dir.join("pyproject.toml");
    let pyproject = if pyproject_toml.is_file() {
        Some(pyproject::read(&pyproject_toml)?)
    } else {
        None
    };
    if let Some(mut project) = pyproject.clone().filter(|p| p.has_project) {
        let mut requirements = std::mem::take(&mut project.dependencies);
        for extra in extras {
            match project.optional.remove(extra) {
                Some(group) => requirements.extend(group),
                None => bail!(
                    "{} has no optional-dependencies group '{extra}' (it has: {})",
                    pyproject_toml.display(),
                    project
                        .optional
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
        requirements.extend(dependency_groups(&project, groups, &pyproject_toml)?);
        return Ok((set_of(requirements), vec![pyproject_toml]));
    }
    if let Some(project) = &pyproject
        && let Some(poetry) = &project.poetry
        && let Some(mut requirements) = poetry::dependencies(
            poetry,
            &pyproject_toml.display().to_string(),
            extras,
            groups,
        )?
    {
        // PEP 735 groups may sit beside a Poetry table too.
        let pep735: Vec<String> = groups
            .iter()
            .filter(|g| project.dependency_groups.contains_key(*g))
            .cloned()
            .collect();
        requirements.extend(dependency_groups(project, &pep735, &pyproject_toml)?);
        return Ok((set_of(requirements), vec![pyproject_toml]));
    }
    let pipfile = app_dir.join("Pipfile");
    if pipfile.is_file() {
        if !extras.is_empty() {
            bail!(
                "--extra selects optional-dependencies of pyproject.toml, but {} is read instead",
                pipfile.display()
            );
        }
        let requirements = pipfile::dependencies(&pipfile, groups)?;
        return Ok((set_of(requirements), vec![pipfile]));
    }
    if let Some(project) = &pyproject {
        // No [project] and no Poetry table (tool settings only, or just
        // [dependency-groups]): the groups asked for, else no dependencies.
        let requirements = dependency_groups(project, groups, &pyproject_toml)?;
        return Ok((set_of(requirements), vec![pyproject_toml]));
    }
    bail!(
        "{} has no requirements.txt, no [project] or [tool.poetry] dependencies in pyproject.toml, and no Pipfile; add one listing the app's dependencies",
        app_dir.display()
    )
}

fn set_of(requirements: Vec<SourcedRequirement>) -> RequirementSet {
    RequirementSet {
        requirements,
        ..RequirementSet::default()
    }
}

/// The requirements of the PEP 735 `groups` asked for.
fn dependency_groups(
    project: &pyproject::Pyproject,
    groups: &[String],
    path: &Path,
) -> Result<Vec<SourcedRequirement>> {
    let mut out = Vec::new();
    for group in groups {
        match project.dependency_groups.get(group) {
            Some(requirements) => out.extend(requirements.iter().cloned()),
            None => bail!(
                "{} has no [dependency-groups] '{group}' (it has: {})",
                path.display(),
                project
                    .dependency_groups
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    Ok(out)
}
