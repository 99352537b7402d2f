//! `pypack lock`: the plan, base and resolve stages without the image. The
//! app's pins for the base's target, with the production server a build
//! would add, written to APP/pylock.toml; or, `--locked`, that file checked.

use super::plan::{add_server, dependency_names};
use super::start::{StartStage, decide};
use super::{local, project};
use crate::base::{BaseOptions, Recipe};
use crate::builder::Engine;
use crate::builder::sdist::{BuilderImage, SourceBuilder};
use crate::cache::Cache;
use crate::index::IndexSettings;
use crate::project::plan::{Overrides, Plan};
use crate::python::Target;
use crate::resolve::app::{self, LockRequest, Locked};
use crate::resolve::{BinaryPolicy, Pin};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// What `pypack lock` is asked.
pub struct LockAppRequest<'a> {
    pub app_dir: &'a Path,
    /// `--python` / `--recipe`.
    pub overrides: Overrides,
    pub index: IndexSettings,
    pub binary: BinaryPolicy,
    pub pre: bool,
    pub extras: Vec<String>,
    pub groups: Vec<String>,
    /// `--server`: lock this production server too; `none`: add none.
    pub server: Option<String>,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub home: Option<PathBuf>,
    /// Show the sdist builder's progress.
    pub verbose: bool,
}

/// The app's plan and declared requirements (`--server`'s added), on the
/// base that keeps its Python version; the plan's warnings about Python said.
pub struct Planned {
    pub plan: Plan,
    declared: super::request::Declared,
}

pub fn plan(request: &LockAppRequest) -> Result<Planned> {
    let (dir, env) = (request.app_dir, request.env);
    let mut declared =
        crate::project::read_requirements(dir, &request.extras, &request.groups, env)?;
    add_server(&mut declared.0, request.server.as_deref())?;
    let mut plan = crate::project::plan::plan(dir, &request.overrides)?;
    for warning in plan.warnings.iter().filter(|w| w.contains("Python")) {
        eprintln!("warning: {warning}");
    }
    let requires_python = plan.pyproject.requires_python.as_deref();
    let requirements = &declared.0.requirements;
    if let Some(better) =
        crate::project::python_version::base_keeping(&plan.recipe, requirements, requires_python)
    {
        plan.recipe = better;
    }
    Ok(Planned { plan, declared })
}

/// What the lock came to.
pub enum Outcome {
    /// `--locked`: whether pylock.toml is up to date.
    Checked(bool),
    /// The pins written (or found unchanged), for the target.
    Written(Locked, Target),
}

/// The pins of `planned` on the base `recipe` makes (`options`): written,
/// or with `locked_only` checked. An sdist whose metadata is not static is
/// built to be locked, in the engine `engine` finds.
pub fn lock(
    request: &LockAppRequest,
    planned: Planned,
    (recipe, options): (Recipe, BaseOptions),
    engine: &dyn Fn() -> Result<Option<Engine>>,
    locked_only: bool,
    cache: &Cache,
) -> Result<Outcome> {
    // The base's package versions say the target; the base itself is
    // built only if an sdist must be built in it.
    let http = crate::http::Http::new()?;
    let target = crate::base::target_of(&recipe, &options, cache, &http)?;
    crate::mark("target known");
    let lock = lock_request(request, target, planned.declared, cache);
    let engine = engine()?;
    let (epoch, build_packages) = (options.epoch, planned.plan.build_packages().to_vec());
    let image = BuilderImage::Recipe(Box::new(recipe), Box::new(options));
    let verbose = request.verbose;
    let sources = SourceBuilder::with_build_packages(
        engine.as_ref(),
        cache,
        &lock,
        image,
        epoch,
        verbose,
        build_packages,
    )?;
    let mut lock = LockRequest {
        sdists: Some(&sources),
        ..lock
    };
    let plan = &planned.plan;
    let dependencies = with_built_requirements(&mut lock, plan, &sources, cache)?;
    if locked_only {
        return Ok(Outcome::Checked(app::check(&lock)?));
    }
    let may_add = request.server.as_deref() != Some("none");
    let server = |pins: &[Pin]| {
        Ok(with_server(
            may_add,
            plan,
            &dependencies,
            &lock,
            cache,
            pins,
        ))
    };
    let locked = app::lock_app(&lock, cache, &server)?;
    crate::mark("pins found");
    Ok(Outcome::Written(locked, lock.target.clone()))
}

/// The resolver's request (no sdist builder yet).
fn lock_request<'a>(
    request: &'a LockAppRequest,
    target: Target,
    declared: super::request::Declared,
    cache: &'a Cache,
) -> LockRequest<'a> {
    let added = request.server.iter().filter(|s| *s != "none").cloned();
    LockRequest {
        app_dir: request.app_dir,
        target,
        flags: request.index.clone(),
        pre: request.pre,
        extras: request.extras.clone(),
        groups: request.groups.clone(),
        env: request.env,
        home: request.home.clone(),
        binary: request.binary.clone(),
        sdists: None,
        parsed: declared.into(),
        cache: Some(cache),
        relock: false,
        added: added.collect(),
    }
}

/// The request's requirements with a setup.py's computed ones (from its
/// built metadata) and local projects as sdists; returns the direct
/// dependencies' names.
fn with_built_requirements(
    request: &mut LockRequest,
    plan: &Plan,
    sources: &SourceBuilder,
    cache: &Cache,
) -> Result<Vec<String>> {
    let declared = std::mem::take(&mut request.parsed)
        .into_inner()
        .expect("set by lock_request");
    let built = project::with_built_requirements(declared.0, plan, sources, cache)?;
    let declared = (local::as_sdists(built, cache)?, declared.1);
    let dependencies = dependency_names(&declared.0);
    request.parsed = declared.into();
    Ok(dependencies)
}

/// `pins` with the production server a build would add (an app whose start
/// is not found, a library say, is locked as it is).
fn with_server(
    may_add_server: bool,
    plan: &Plan,
    dependencies: &[String],
    request: &LockRequest,
    cache: &Cache,
    pins: &[Pin],
) -> Vec<Pin> {
    let stage = StartStage {
        plan,
        dependencies,
        may_add_server,
        no_server_because: None,
        as_root: false,
        lock_request: request,
        cache,
    };
    let Ok(decision) = decide(&stage, pins.to_vec()) else {
        return pins.to_vec();
    };
    if let Some(added) = &decision.added {
        eprintln!(
            "server:   {} {} (added: {})",
            added.name, added.version, added.why
        );
    }
    decision.pins
}
