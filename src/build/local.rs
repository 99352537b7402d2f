//! Projects in local directories the app requires (`../../libs/common` in
//! requirements.txt, a uv workspace member, a Poetry path dependency): each
//! is packed as an sdist of its files (sorted, fixed times: the same tree
//! is the same bytes) into the cache and required as that file, so that it
//! is resolved (its metadata built in the builder) and installed as built,
//! like any sdist. The image holds the installed package, not the tree.

use crate::cache::Cache;
use crate::project::{DirectWheel, LocalProject, RequirementSet};
use anyhow::{Context, Result, bail};
use std::path::Path;

/// `set` with its local projects required as the sdists of their trees.
pub fn as_sdists(mut set: RequirementSet, cache: &Cache) -> Result<RequirementSet> {
    for project in std::mem::take(&mut set.local) {
        let direct = packed(&project, cache).with_context(|| {
            format!(
                "{}: the local project {}",
                project.origin,
                project.path.display()
            )
        })?;
        set.direct.push(direct);
    }
    Ok(set)
}

fn packed(project: &LocalProject, cache: &Cache) -> Result<DirectWheel> {
    let (name, version) = name_and_version(&project.path)?;
    let files = crate::index::directory::project_files(&project.path)?;
    let (filename, bytes) = crate::index::directory::pack_tree(&name, &version, &files)?;
    let hex = cache.put_bytes(&bytes)?;
    Ok(DirectWheel {
        // The directory itself: a lock records it as a directory source,
        // and fetching it packs it again (the same tree, the same bytes).
        url: format!("file://{}", project.path.display()),
        filename,
        hashes: vec![hex],
        origin: format!("{} ({})", project.origin, project.path.display()),
    })
}

/// The project's name and version, as its files say them statically
/// (`[project]`, `[tool.poetry]`, setup.cfg, setup.py's literals); a
/// version they compute is `0` here (the built metadata has the real one).
fn name_and_version(dir: &Path) -> Result<(String, String)> {
    let pyproject_path = dir.join("pyproject.toml");
    let mut name = None;
    let mut version = None;
    if pyproject_path.is_file() {
        let pyproject = crate::project::pyproject::read(&pyproject_path)?;
        name = pyproject.name;
        version = pyproject.version;
    }
    if name.is_none()
        && let Some(setup) = crate::project::setuptools::read(dir)?
    {
        name = setup.name;
        version = version.or(setup.version);
    }
    let Some(name) = name else {
        bail!(
            "{} does not say its project's name in pyproject.toml, setup.cfg or setup.py",
            dir.display()
        );
    };
    Ok((name, version.unwrap_or_else(|| "0".into())))
}
