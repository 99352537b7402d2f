//! Another base when this one cannot do: a resolution that fails on a base
//! chosen from a version hint is tried on the next nearest, a base that
//! cannot be had gives way to another, and a source build that failed is
//! explained first.

use super::report::BuildReport;
use crate::project::plan::Plan;
use crate::resolve::BinaryPolicy;
use anyhow::Result;

/// `build_on` on the plan's base; when the requirements cannot be resolved
/// there, on the next base the plan's version hint allows (its fallbacks),
/// and when a base cannot be had at all (a stale index), on the nearest
/// other one (its alternatives). A pulled base (`--base`) has no others.
pub(super) fn on_first_base_that_builds(
    mut plan: Plan,
    pulled_base: bool,
    binary: &BinaryPolicy,
    mut build_on: impl FnMut(Plan) -> Result<BuildReport>,
) -> Result<BuildReport> {
    let mut fallbacks: std::collections::VecDeque<_> = match pulled_base {
        true => Default::default(),
        false => std::mem::take(&mut plan.recipe_fallbacks).into(),
    };
    let mut alternatives: std::collections::VecDeque<_> = match pulled_base {
        true => Default::default(),
        false => std::mem::take(&mut plan.recipe_alternatives).into(),
    };
    let mut first_failure: Option<(anyhow::Error, String)> = None;
    loop {
        let (error, unavailable) = match build_on(plan.clone()) {
            Ok(report) => return Ok(report),
            Err(e) if e.downcast_ref::<NoResolution>().is_some() => (e, false),
            Err(e)
                if e.chain().any(|c| {
                    c.downcast_ref::<crate::debian::release::StaleIndex>()
                        .is_some()
                }) =>
            {
                (e, true)
            }
            Err(e) => return Err(cause_first(e, &plan.recipe.value, &plan, binary)),
        };
        // A base chosen as the nearest to a version hint: the next nearest
        // may have wheels for every pin where this one does not; a base
        // that cannot be had at all (a stale index) gives way to the nearest
        // other one a hint allows.
        let next = match unavailable {
            true => alternatives.pop_front(),
            false => fallbacks.pop_front(),
        };
        let Some(next) = next else {
            let (error, recipe) = first_failure.unwrap_or((error, plan.recipe.value.clone()));
            return Err(cause_first(error, &recipe, &plan, binary));
        };
        fallbacks.retain(|f| f.value != next.value);
        alternatives.retain(|a| a.value != next.value);
        eprintln!(
            "warning: {:#}; trying {} ({})",
            error, next.value, next.rule
        );
        first_failure.get_or_insert((error, plan.recipe.value.clone()));
        plan.recipe = next;
    }
}

/// `error` (met building on `recipe`) with, first, what a source
/// distribution that did not build means for the app: that pin has no wheel for the base's Python, why the
/// base has that Python (a version no base has, asked by a hint), and the
/// ways out.
pub(super) fn cause_first(
    error: anyhow::Error,
    recipe: &str,
    plan: &Plan,
    binary: &BinaryPolicy,
) -> anyhow::Error {
    let Some(failed) = crate::builder::sdist::failed_source_build(&error) else {
        return error;
    };
    let project = crate::index::file_project(&failed).unwrap_or_else(|| failed.clone());
    let version = failed
        .trim_end_matches(".tar.gz")
        .trim_end_matches(".zip")
        .rsplit('-')
        .next()
        .unwrap_or("")
        .to_string();
    let python = crate::project::python_version::builtin_bases()
        .into_iter()
        .find(|b| b.recipe == recipe)
        .map(|b| format!("Python {}.{}", b.python.0, b.python.1));
    let on = python.unwrap_or_else(|| recipe.to_string());
    if !binary.wheels_allowed(&crate::index::normalize_name(&project)) {
        // Source was asked for: whether a wheel exists is beside the point.
        return error.context(format!(
            "{project} {version} is built from source (--no-binary), and its source distribution did not build on {on}: give the build what the log below says it missed, or let it install a wheel of {project}"
        ));
    }
    let mut said = format!(
        "{project} {version} has no wheel for {on}, and its source distribution did not build there"
    );
    if let Some((asked, source)) = &plan.unmet_hint {
        said.push_str(&format!(
            " ({source} asks for Python {asked}, which no base has; {on} is the nearest)"
        ));
        said.push_str(&format!(
            ": pin a version of {project} with a wheel for {on}, build on a registry image with Python {asked} (--base python:{asked}-slim), or choose a base with --python"
        ));
    } else {
        said.push_str(&format!(
            ": pin a version of {project} with a wheel for {on}, build on another Python (--python, or --base with a registry image), or give the build what the log below says it missed"
        ));
    }
    error.context(said)
}

/// Marks a failure to resolve the requirements on the chosen base, which a
/// fallback base may not have.
#[derive(Debug)]
pub(super) struct NoResolution(pub(super) String);

impl std::fmt::Display for NoResolution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the requirements cannot be resolved on {}", self.0)
    }
}
