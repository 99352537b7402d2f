//! The resolve stage: the app's requirements completed by what only the
//! builder can tell (the app's own project's metadata, local projects as
//! sdists), then the pins (a lock file's, a cached resolution or a new
//! one) and, with them, how the app starts.

use super::fallback::NoResolution;
use super::plan::dependency_names;
use super::request::BuildRequest;
use super::start::{self, Decision, StartStage};
use crate::builder::sdist::SourceBuilder;
use crate::cache::Cache;
use crate::project::plan::Plan;
use crate::resolve::app::{LockRequest, PinSource, pins_for_build};
use anyhow::Result;

/// The names the app asks for: every requirement's name, and with
/// `name[extra]` for each extra (what the start rules look for), and the
/// plain names (the bill of materials' direct dependencies).
pub(super) struct Asked {
    pub(super) dependencies: Vec<String>,
    pub(super) direct: Vec<String>,
}

/// `lock` made ready to resolve: sdists built by `sources`, and the app's
/// own project's requirements read from its built metadata.
pub(super) fn with_app_project<'a>(
    mut lock: LockRequest<'a>,
    sources: &'a SourceBuilder<'a>,
    plan: &Plan,
    cache: &Cache,
) -> Result<(LockRequest<'a>, Asked)> {
    lock.sdists = Some(sources);
    let declared = std::mem::take(&mut lock.parsed)
        .into_inner()
        .expect("the build's lock request carries its requirements");
    let requirements = super::local::as_sdists(
        super::project::with_built_requirements(declared.0, plan, sources, cache)?,
        cache,
    )?;
    let asked = Asked {
        dependencies: dependency_names(&requirements),
        direct: requirements
            .requirements
            .iter()
            .map(|r| crate::index::normalize_name(r.requirement.name.as_ref()))
            .collect(),
    };
    lock.parsed = (requirements, declared.1).into();
    Ok((lock, asked))
}

/// What decides the pins and the start besides the lock request.
pub(super) struct PinRules<'a> {
    /// `--locked`: the lock's packages and nothing else.
    pub(super) locked: bool,
    /// `--server`: `none` keeps the framework's own server.
    pub(super) server: Option<&'a str>,
    pub(super) as_root: bool,
    /// For the failure that another base may not meet: `recipe (target)`.
    pub(super) on: String,
}

impl PinRules<'_> {
    pub(super) fn of<'a>(request: &'a BuildRequest, on: String) -> PinRules<'a> {
        PinRules {
            locked: request.locked,
            server: request.server.as_deref(),
            as_root: request.as_root,
            on,
        }
    }
}

/// The pins and how the app starts with them (a production server added
/// when the start asks for one the pins lack).
pub(super) fn pins_and_start(
    lock: &LockRequest,
    rules: &PinRules,
    plan: &Plan,
    asked: &Asked,
    cache: &Cache,
) -> Result<(Decision, PinSource)> {
    let (pins, pin_source) = pins_for_build(lock, cache, rules.locked)
        .map_err(|e| e.context(NoResolution(rules.on.clone())))?;
    crate::mark("pins found");
    let decision = start::decide(
        &StartStage {
            plan,
            dependencies: &asked.dependencies,
            may_add_server: rules.server != Some("none") && !rules.locked,
            no_server_because: rules
                .locked
                .then_some("--locked takes only the lock's packages"),
            as_root: rules.as_root,
            lock_request: lock,
            cache,
        },
        pins,
    )?;
    Ok((decision, pin_source))
}
