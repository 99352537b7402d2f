//! The app's own project, when it computes its requirements (a `setup.py`
//! building its `install_requires`): its files as an sdist, built into a
//! wheel in the builder like any sdist (and cached by that sdist's hash),
//! and its METADATA's `Requires-Dist` added to the app's requirements.

use crate::builder::sdist::SourceBuilder;
use crate::cache::Cache;
use crate::project::plan::Plan;
use crate::project::{RequirementSet, SourcedRequirement};
use anyhow::{Context, Result};

/// `set` with the requirements of the app's own project added, read from
/// its built metadata (when `set` says they come from there).
pub fn with_built_requirements(
    mut set: RequirementSet,
    plan: &Plan,
    sources: &SourceBuilder,
    cache: &Cache,
) -> Result<RequirementSet> {
    let Some(setup_py) = set.from_built_metadata.clone() else {
        return Ok(set);
    };
    let name = plan.pyproject.name.as_deref().unwrap_or(&plan.name);
    let version = plan.pyproject.version.as_deref().unwrap_or("0");
    let files = plan
        .files
        .iter()
        .map(|rel| {
            let path = plan.app_dir.join(rel);
            let data = std::fs::read(&path).map_err(|e| crate::walk::unreadable(&path, e))?;
            let mode =
                std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path)?.permissions());
            Ok((
                rel.clone(),
                data,
                if mode & 0o111 != 0 { 0o755 } else { 0o644 },
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let wheel = sources.build_tree(name, version, &files).with_context(|| {
        format!(
            "building the app's own project to learn what {} requires",
            setup_py.display()
        )
    })?;
    let file = std::fs::File::open(cache.blob_path(&wheel.sha256))?;
    let metadata = crate::index::read_wheel_metadata(file, &wheel.filename)?;
    let metadata = crate::index::metadata::parse(&metadata)
        .with_context(|| format!("the metadata of {}", wheel.filename))?;
    let origin = format!(
        "{} (install_requires, from its built metadata)",
        setup_py.display()
    );
    set.requirements
        .extend(
            metadata
                .requires_dist
                .into_iter()
                .map(|requirement| SourcedRequirement {
                    requirement,
                    hashes: Vec::new(),
                    origin: origin.clone(),
                }),
        );
    set.from_built_metadata = None;
    Ok(set)
}
