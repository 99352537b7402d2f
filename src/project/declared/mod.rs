//! What the app declares it needs, read from whichever declaration it has:
//! `requirements.txt` (pip's syntax), `pyproject.toml` (PEP 621, Poetry,
//! dependency groups, uv sources), a `Pipfile`, `setup.cfg`/`setup.py`.
//! The readers import the project's text helpers, never `project/mod.rs`.

pub mod pipfile;
pub mod poetry;
pub mod pyproject;
pub mod requirements;
pub mod setuptools;
pub mod sources;

pub use requirements::{DirectWheel, LocalProject, RequirementSet, SourcedRequirement};

use anyhow::{Result, bail};
use std::path::{Path, PathBuf};

/// The app's requirements and the files they came from (whose contents key
/// the lock), from the first declaration there is:
/// 1. `requirements.txt`;
/// 2. `pyproject.toml` `[project]` dependencies, the optional-dependencies
///    named in `extras`, the `[dependency-groups]` named in `groups`;
/// 3. `pyproject.toml` `[tool.poetry.dependencies]` (with Poetry extras and groups);
/// 4. `Pipfile` `[packages]` (`[dev-packages]` with group `dev`);
/// 5. a `setup.cfg` / `setup.py` project's `install_requires` (and extras).
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
    // Present but not a regular file (a FIFO, a link that loops): read_text says so.
    if present(&requirements_txt) {
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
    let pyproject = if present(&pyproject_toml) {
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
        let mut set = set_of(requirements);
        if let Some(sources) = &project.uv_sources {
            set.local = sources::uv_local(app_dir, sources)?;
        }
        for requirement in &set.requirements {
            let name = crate::index::normalize_name(requirement.requirement.name.as_ref());
            if let Some(local) = project.local_paths.get(&name)
                && !set.local.contains(local)
            {
                set.local.push(local.clone());
            }
        }
        return Ok((set, vec![pyproject_toml]));
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
        let mut set = set_of(requirements);
        if let Some(dependencies) = poetry.get("dependencies").and_then(|d| d.as_table()) {
            set.local = sources::poetry_local(app_dir, dependencies)?;
        }
        return Ok((set, vec![pyproject_toml]));
    }
    let pipfile = app_dir.join("Pipfile");
    if present(&pipfile) {
        if !extras.is_empty() {
            bail!(
                "--extra selects optional-dependencies of pyproject.toml, but {} is read instead",
                pipfile.display()
            );
        }
        let requirements = pipfile::dependencies(&pipfile, groups)?;
        return Ok((set_of(requirements), vec![pipfile]));
    }
    if let Some(project) = setuptools::read(app_dir)? {
        return setuptools_requirements(project, extras, groups, &pyproject);
    }
    if let Some(project) = &pyproject {
        // No [project] and no Poetry table (tool settings only, or just
        // [dependency-groups]): the groups asked for, else no dependencies.
        let requirements = dependency_groups(project, groups, &pyproject_toml)?;
        return Ok((set_of(requirements), vec![pyproject_toml]));
    }
    if !extras.is_empty() || !groups.is_empty() {
        bail!(
            "--extra and --group select parts of pyproject.toml or a Pipfile, and {} has neither",
            app_dir.display()
        );
    }
    // An app of the standard library alone needs nothing installed.
    eprintln!(
        "note: {} has no requirements.txt, pyproject.toml or Pipfile: the app gets no dependencies (the standard library only)",
        app_dir.display()
    );
    Ok((RequirementSet::default(), Vec::new()))
}

/// The requirements of a `setup.cfg` / `setup.py` project (5.): its
/// `install_requires`, the extras asked for, PEP 735 groups of a
/// pyproject.toml beside it; a `setup.py` that computes them is marked so
/// that they come from its built metadata.
fn setuptools_requirements(
    mut project: setuptools::SetupProject,
    extras: &[String],
    groups: &[String],
    pyproject: &Option<pyproject::Pyproject>,
) -> Result<(RequirementSet, Vec<PathBuf>)> {
    let mut requirements = std::mem::take(&mut project.requirements);
    for extra in extras {
        match project.extras.remove(extra) {
            Some(group) => requirements.extend(group),
            None => bail!(
                "the setup.cfg/setup.py project has no extras_require '{extra}' (it has: {})",
                project
                    .extras
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    if let Some(pyproject) = pyproject {
        let path = project
            .files
            .first()
            .and_then(|f| f.parent())
            .map(|d| d.join("pyproject.toml"))
            .unwrap_or_default();
        requirements.extend(dependency_groups(pyproject, groups, &path)?);
    } else if !groups.is_empty() {
        bail!("--group selects [dependency-groups] of pyproject.toml, and the app has none");
    }
    let mut set = set_of(requirements);
    if project.dynamic {
        set.from_built_metadata = project
            .files
            .iter()
            .find(|f| f.ends_with("setup.py"))
            .cloned();
    }
    Ok((set, project.files))
}

/// Whether the directory has an entry at `path`, even a symlink that
/// cannot be followed: such a dependency file is an error to report, not
/// a file to build without.
fn present(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::{test_app, text};

    fn mkfifo(path: &Path) {
        let made = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap();
        assert!(made.success());
    }

    #[test]
    fn no_dependency_file_is_no_dependencies() {
        let dir = test_app(&[("app.py", "print('hi')\n")]);
        let (set, files) = read_requirements(dir.path(), &[], &[], &|_| None).unwrap();
        assert!(set.requirements.is_empty() && files.is_empty());
        let err = read_requirements(dir.path(), &["web".into()], &[], &|_| None).unwrap_err();
        assert!(err.to_string().contains("--extra and --group"), "{err}");
    }

    #[test]
    fn a_dependency_file_that_is_a_pipe_is_refused_unopened() {
        let dir = test_app(&[]);
        mkfifo(&dir.path().join("requirements.txt"));
        let err = read_requirements(dir.path(), &[], &[], &|_| None).unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("requirements.txt is not a regular file (a named pipe)"),
            "{text}"
        );
        // Detection treats one as absent: it is never opened either.
        mkfifo(&dir.path().join("Procfile"));
        assert_eq!(text::text_if_regular(&dir.path().join("Procfile")), None);
    }
}
