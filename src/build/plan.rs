//! The plan stage: the app's declared requirements (with `--server`'s), the
//! plan, and the base that keeps what the requirements pin.

use super::request::{BuildRequest, Declared};
use crate::project::plan::{Plan, plan};
use anyhow::{Result, bail};

/// The names the requirements give, and `name[extra]` for each extra
/// asked for (`fastapi[standard]`), normalized.
pub fn dependency_names(set: &crate::project::RequirementSet) -> Vec<String> {
    set.requirements
        .iter()
        .flat_map(|r| {
            let name = crate::index::normalize_name(r.requirement.name.as_ref());
            let extras: Vec<String> = r
                .requirement
                .extras
                .iter()
                .map(|e| format!("{name}[{e}]"))
                .collect();
            std::iter::once(name).chain(extras)
        })
        .collect()
}

/// The servers `--server` can add, and the requirement each adds.
pub(super) const SERVERS: &[(&str, &str)] = &[
    ("gunicorn", "gunicorn"),
    ("uvicorn", "uvicorn"),
    ("granian", "granian"),
    ("hypercorn", "hypercorn"),
    ("waitress", "waitress"),
];

/// Adds the `--server` package to the requirements (detection then finds
/// it like any dependency); `none` adds nothing.
pub fn add_server(set: &mut crate::project::RequirementSet, server: Option<&str>) -> Result<()> {
    let Some(server) = server.filter(|s| *s != "none") else {
        return Ok(());
    };
    let Some((_, requirement)) = SERVERS.iter().find(|(name, _)| *name == server) else {
        bail!(
            "--server {server}: pypack knows {}, and none (the framework's own server)",
            SERVERS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    let already = set
        .requirements
        .iter()
        .any(|r| crate::index::normalize_name(r.requirement.name.as_ref()) == *requirement);
    if !already {
        set.requirements.push(crate::project::SourcedRequirement {
            requirement: std::str::FromStr::from_str(requirement).expect("a valid requirement"),
            hashes: Vec::new(),
            origin: format!("--server {server}"),
        });
    }
    Ok(())
}

/// The plan (base, files, command hints) and the declared requirements;
/// the base moved to one that keeps what the requirements pin when no
/// `--base` image was named. The plan's warnings are said here.
pub(super) fn plan_and_requirements(request: &BuildRequest) -> Result<(Plan, Declared)> {
    let mut declared = crate::project::read_requirements(
        request.app_dir,
        &request.extras,
        &request.groups,
        request.env,
    )?;
    add_server(&mut declared.0, request.server.as_deref())?;
    let mut plan = plan(request.app_dir, &request.overrides)?;
    if request.base_image.is_none()
        && let Some(better) = crate::project::python_version::base_keeping(
            &plan.recipe,
            &declared.0.requirements,
            plan.pyproject.requires_python.as_deref(),
        )
    {
        plan.recipe = better;
    }
    if request.plan_warnings {
        for warning in &plan.warnings {
            eprintln!("warning: {warning}");
        }
    }
    Ok((plan, declared))
}
