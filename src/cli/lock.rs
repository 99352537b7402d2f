//! `pypack lock APP`: the app's requirements resolved for the image's
//! target and written to APP/pylock.toml (or checked against it).

use super::Cli;
use super::args::{BaseArgs, IndexArgs};
use anyhow::{Result, bail};
use clap::Args;
use pypack::builder::sdist::{BuilderImage, SourceBuilder};
use pypack::project::RequirementSet;
use pypack::project::plan::{Overrides, Plan};
use pypack::resolve::Pin;
use pypack::resolve::app::{self, LockRequest};
use std::path::PathBuf;

#[derive(Args)]
#[rustfmt::skip]
pub struct LockArgs {
    /// The app directory (with requirements.txt or pyproject.toml).
    app: PathBuf,
    #[command(flatten)] base: BaseArgs,
    #[command(flatten)] index: IndexArgs,
    /// Allow pre-releases.
    #[arg(long)] pre: bool,
    /// Do not resolve: fail unless pylock.toml is up to date with the requirements.
    #[arg(long)] locked: bool,
    /// Include this optional-dependencies group of pyproject.toml (repeatable).
    #[arg(long, value_name = "GROUP")] extra: Vec<String>,
    /// Include this dependency group: PEP 735 [dependency-groups], a Poetry
    /// group, or a Pipfile's dev-packages (`dev`) (repeatable).
    #[arg(long, value_name = "NAME")] group: Vec<String>,
    /// As for build: lock this production server too; `none`: no server is
    /// added when the app has none.
    #[arg(long, value_name = "NAME")] server: Option<String>,
}

type Parsed = (RequirementSet, Vec<PathBuf>);

pub fn lock(cli: &Cli, args: &LockArgs) -> Result<()> {
    let env = |name: &str| std::env::var(name).ok();
    let (parsed, plan) = read_app(args, &env)?;
    let one_platform = "`pypack lock` (pylock.toml is for one platform)";
    args.base.platforms()?.single(one_platform)?;
    let (recipe, options) = args.base.options_for(&plan.recipe.value, cli.quiet)?;
    let cache = cli.cache()?;
    args.index.ask_default_early(&cache);
    let http = pypack::http::Http::new()?;
    let target = pypack::base::build(&recipe, &options, &cache, &http)?.target()?;
    let request = lock_request(args, target, parsed, &cache, &env)?;
    // An sdist whose metadata is not static has to be built to be locked.
    let engine = pypack::builder::Engine::detect(super::engine_choice(&None)?.as_deref())?;
    let (epoch, verbose, build_packages) = (options.epoch, !cli.quiet, plan.build_packages());
    let image = BuilderImage::Recipe(Box::new(recipe), Box::new(options));
    let sources = SourceBuilder::with_build_packages(
        engine.as_ref(),
        &cache,
        &request,
        image,
        epoch,
        verbose,
        build_packages.to_vec(),
    )?;
    let mut request = LockRequest {
        sdists: Some(&sources),
        ..request
    };
    let dependencies = with_built_requirements(&mut request, &plan, &sources, &cache)?;
    if args.locked {
        return check_locked(args, &request);
    }
    let server = |pins: &[Pin]| {
        Ok(with_server(
            args,
            &plan,
            &dependencies,
            &request,
            &cache,
            pins,
        ))
    };
    let locked = app::lock_app(&request, &cache, &server)?;
    for (name, version) in &locked.packages {
        println!("{name}=={version}");
    }
    let said = if locked.up_to_date {
        "unchanged:"
    } else {
        "wrote"
    };
    let (path, count) = (locked.path.display(), locked.packages.len());
    println!("{said} {path} ({count} packages for {})", request.target);
    Ok(())
}

/// What `lock` asks of the resolver, from its flags (no sdist builder yet).
fn lock_request<'a>(
    args: &'a LockArgs,
    target: pypack::python::Target,
    parsed: Parsed,
    cache: &'a pypack::cache::Cache,
    env: &'a dyn Fn(&str) -> Option<String>,
) -> Result<LockRequest<'a>> {
    let added = args
        .server
        .iter()
        .filter(|s| *s != "none")
        .cloned()
        .collect();
    Ok(LockRequest {
        app_dir: &args.app,
        target,
        flags: args.index.settings(),
        pre: args.pre,
        extras: args.extra.clone(),
        groups: args.group.clone(),
        env,
        home: std::env::var_os("HOME").map(PathBuf::from),
        binary: args.index.binary()?,
        sdists: None,
        parsed: parsed.into(),
        cache: Some(cache),
        relock: false,
        added,
    })
}

/// The request's requirements with a setup.py's computed ones (from its
/// built metadata) and local projects as sdists; returns the direct
/// dependencies' names.
fn with_built_requirements(
    request: &mut LockRequest,
    plan: &Plan,
    sources: &SourceBuilder,
    cache: &pypack::cache::Cache,
) -> Result<Vec<String>> {
    let parsed = std::mem::take(&mut request.parsed)
        .into_inner()
        .expect("set by lock_request");
    let built = pypack::build::project::with_built_requirements(parsed.0, plan, sources, cache)?;
    let parsed = (pypack::build::local::as_sdists(built, cache)?, parsed.1);
    let dependencies = pypack::build::dependency_names(&parsed.0);
    request.parsed = parsed.into();
    Ok(dependencies)
}

/// The app's requirements (with the server asked for) and its plan, on the
/// base that keeps its Python version.
fn read_app(args: &LockArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<(Parsed, Plan)> {
    let overrides = Overrides {
        python: args.base.python.clone(),
        recipe: args.base.recipe.clone(),
        ..Overrides::default()
    };
    let mut parsed = pypack::project::read_requirements(&args.app, &args.extra, &args.group, env)?;
    pypack::build::add_server(&mut parsed.0, args.server.as_deref())?;
    let mut plan = pypack::project::plan::plan(&args.app, &overrides)?;
    for warning in plan.warnings.iter().filter(|w| w.contains("Python")) {
        eprintln!("warning: {warning}");
    }
    let requires_python = plan.pyproject.requires_python.as_deref();
    let requirements = &parsed.0.requirements;
    if let Some(better) =
        pypack::project::python_version::base_keeping(&plan.recipe, requirements, requires_python)
    {
        plan.recipe = better;
    }
    Ok((parsed, plan))
}

/// `--locked`: fails unless pylock.toml is up to date.
fn check_locked(args: &LockArgs, request: &LockRequest) -> Result<()> {
    let path = args.app.join("pylock.toml");
    if !app::check(request)? {
        bail!(
            "{} is missing or stale for the current requirements; run `pypack lock {}`",
            path.display(),
            args.app.display()
        );
    }
    println!("{} is up to date", path.display());
    Ok(())
}

/// `pins` with the production server a build would add (an app whose start
/// is not found, a library say, is locked as it is).
fn with_server(
    args: &LockArgs,
    plan: &Plan,
    dependencies: &[String],
    request: &LockRequest,
    cache: &pypack::cache::Cache,
    pins: &[Pin],
) -> Vec<Pin> {
    let stage = pypack::build::start::StartStage {
        plan,
        dependencies,
        may_add_server: args.server.as_deref() != Some("none"),
        no_server_because: None,
        as_root: false,
        lock_request: request,
        cache,
    };
    let Ok(decision) = pypack::build::start::decide(&stage, pins.to_vec()) else {
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
