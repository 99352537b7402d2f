//! The app as pypack sees it. So far: where its requirements come from
//! (`requirements.txt` in pip's syntax, `pyproject.toml` PEP 621 fields).

pub mod chain;
pub mod plan;
pub mod providers;
pub mod pyproject;
pub mod python_version;
pub mod requirements;

pub use requirements::{DirectWheel, RequirementSet, SourcedRequirement};

use anyhow::{Result, bail};
use std::path::{Path, PathBuf};

/// The app's requirements: `requirements.txt` if present, else the
/// `[project]` dependencies of `pyproject.toml` plus the optional groups
/// named in `extras`. Also returns the files read, whose contents key the lock.
pub fn read_requirements(
    app_dir: &Path,
    extras: &[String],
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
        if !extras.is_empty() {
            bail!(
                "--extra selects optional-dependencies of pyproject.toml, but {} is read instead",
                requirements_txt.display()
            );
        }
        let set = requirements::parse_file(&requirements_txt, env)?;
        return Ok((set, vec![requirements_txt]));
    }
    let pyproject_toml = app_dir.join("pyproject.toml");
    if pyproject_toml.is_file() {
        let mut project = pyproject::read(&pyproject_toml)?;
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
        let set = RequirementSet {
            requirements,
            ..RequirementSet::default()
        };
        return Ok((set, vec![pyproject_toml]));
    }
    bail!(
        "{} has neither requirements.txt nor pyproject.toml; add one listing the app's dependencies",
        app_dir.display()
    )
}
