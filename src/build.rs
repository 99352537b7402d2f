//! `pypack build`: app directory → image. The plan (base, command, port,
//! files), the pins (lock file, cached resolution or a new one), then three
//! kinds of layer, each reused when its inputs are unchanged: the base's,
//! the venv's (keyed by the pins), and the app's files.

use crate::base::system_libraries::{self, AddedPackage};
use crate::base::{self, BaseOptions, BuiltBase, Recipe};
use crate::builder::Engine;
use crate::builder::bytecode::Compiler;
use crate::builder::sdist::{BuilderImage, SourceBuilder};
use crate::builder::smoke::{self, Observed, Outcome, SmokeRun};
use crate::cache::Cache;
use crate::digest::sha256_hex;
use crate::http::Http;
use crate::index::{Index, IndexConfig, IndexSettings, SdistBuilder};
use crate::oci::image::{self, ContainerConfig, Image, LayerSpec};
use crate::oci::layer::{Entry, EntryKind, LayerBlob, add_parents, write_layer};
use crate::platform::{Platform, PlatformChoice};
use crate::project::plan::{Overrides, Plan, plan};
use crate::project::providers::BuildStep;
use crate::project::start::Started;
use crate::registry::Reference;
use crate::resolve::BinaryPolicy;
use crate::resolve::Pin;
use crate::resolve::app::{LockRequest, PinSource, pins_for_build};
use crate::wheel::{Venv, install_resolution};
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub mod local;
pub mod observe;
pub mod project;
pub mod start;

pub use start::AddedServer;

/// Where the venv lives in the image, and the app.
pub const APP_DIR: &str = "/app";
pub const VENV_DIR: &str = "/app/.venv";
const NONROOT: &str = "65532:65532";
/// Manifest annotations: the number of layers that are the base's, its
/// interpreter (`/usr/bin/python3.11 3.11.2`) and its C library (`glibc 2.36`).
pub const BASE_LAYERS_ANNOTATION: &str = "io.pypack.base.layers";
pub const BASE_PYTHON_ANNOTATION: &str = "io.pypack.base.python";
pub const BASE_LIBC_ANNOTATION: &str = "io.pypack.base.libc";
/// Bumped when the venv layer's content for the same pins changes.
const DEPS_FORMAT: u32 = 1;
/// Bumped when the app layer's content for the same files changes (how
/// the app's own project is installed: Poetry's scripts).
const APP_FORMAT: u32 = 2;
/// Bumped when the compile script's output for the same sources changes.
const BYTECODE_FORMAT: u32 = 6;

#[derive(Clone)]
pub struct BuildRequest<'a> {
    pub app_dir: &'a Path,
    pub overrides: Overrides,
    /// Base settings; `recipe` of the plan is used with them.
    pub base: BaseOptions,
    pub index: IndexSettings,
    pub pre: bool,
    pub extras: Vec<String>,
    /// PEP 735 / Poetry / Pipfile dependency groups to include (`--group`).
    pub groups: Vec<String>,
    pub locked: bool,
    /// Resolve afresh even when another tool's lock file fits (`--relock`).
    pub relock: bool,
    /// A production server to add to the requirements (`--server`;
    /// `none`: keep the framework's own when no server is installed).
    pub server: Option<String>,
    pub as_root: bool,
    /// A registry image to build on instead of a recipe's base, and whether
    /// to speak plain HTTP to its (loopback) registry.
    pub base_image: Option<(crate::registry::Reference, bool)>,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub home: Option<PathBuf>,
    pub steps: BuilderSteps,
    /// Library names the native library audit treats as present
    /// (`--ignore-missing-library`: files that are never loaded).
    pub ignore_missing_libraries: Vec<String>,
    /// Also make the debug variant: the image plus a busybox shell (`--debug`).
    pub debug: bool,
    /// Print the plan's warnings (a build for several platforms says them once).
    pub plan_warnings: bool,
    /// The build steps' layers of this machine's image of the same app, for
    /// an image of another platform, which cannot run here (static files do
    /// not depend on the CPU). Set by [`build_platforms`].
    pub host_steps: Option<(Platform, Vec<LayerReport>)>,
    /// What the smoke run of this machine's image of the same app saw
    /// (its port, its writes), for an image of another platform, which
    /// cannot run here. Set by [`build_platforms`].
    pub host_smoke: Option<Observed>,
}

/// What the builder does for this build.
#[derive(Debug, Clone)]
pub struct BuilderSteps {
    /// Compile `.pyc` for the stdlib, the venv and the app (`--no-compile` clears it).
    pub compile: bool,
    /// Run the image once: `Some(true)` must, `Some(false)` must not,
    /// `None` when an engine is present.
    pub smoke: Option<bool>,
    /// The engine to use (default: podman, else docker).
    pub engine: Option<String>,
    /// `--only-binary` / `--no-binary`.
    pub binary: BinaryPolicy,
    /// The image sdists are built in when the base is a registry image.
    pub builder_image: Option<Reference>,
    /// `NAME=VALUE` settings for the smoke run only.
    pub smoke_env: Vec<String>,
}

impl Default for BuilderSteps {
    fn default() -> Self {
        BuilderSteps {
            compile: true,
            smoke: None,
            engine: None,
            binary: BinaryPolicy::default(),
            builder_image: None,
            smoke_env: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LayerReport {
    pub what: String,
    pub blob: LayerBlob,
    pub reused: bool,
}

pub struct BuildReport {
    pub image: Image,
    pub plan: Plan,
    /// How the app starts: command, port, writable paths, each with its rule.
    pub start: Started,
    /// The production server pypack added to the pins, if it did.
    pub added_server: Option<AddedServer>,
    pub base: BuiltBase,
    pub pins: Vec<Pin>,
    pub pin_source: PinSource,
    pub layers: Vec<LayerReport>,
    /// What the smoke run found; `None` when it did not run.
    pub smoke: Option<Outcome>,
    /// The image as the smoke run left it in the engine (when it ran now
    /// and passed): a `--load` names it rather than loading it again.
    pub held: Option<crate::builder::engine::HeldImage>,
    /// Debian packages added for libraries the wheels link, and why.
    pub system_packages: Vec<AddedPackage>,
    /// The bill of materials the image carries (SPDX, CycloneDX).
    pub sbom: Sbom,
    /// The debug variant (`--debug`): the image plus a busybox layer.
    pub debug: Option<Image>,
    /// The layers the build steps (collectstatic) made.
    pub step_layers: Vec<LayerReport>,
}

pub use crate::sbom::Sbom;

impl BuildReport {
    pub fn uncompressed_size(&self) -> u64 {
        self.base.uncompressed_size
            + self
                .layers
                .iter()
                .map(|l| l.blob.uncompressed_size)
                .sum::<u64>()
    }
}

pub fn build(request: &BuildRequest, cache: &Cache) -> Result<BuildReport> {
    let mut parsed = crate::project::read_requirements(
        request.app_dir,
        &request.extras,
        &request.groups,
        request.env,
    )?;
    add_server(&mut parsed.0, request.server.as_deref())?;
    let mut plan = plan(request.app_dir, &request.overrides)?;
    if request.base_image.is_none()
        && let Some(better) = crate::project::python_version::base_keeping(
            &plan.recipe,
            &parsed.0.requirements,
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
    let mut fallbacks: std::collections::VecDeque<_> = match request.base_image {
        Some(_) => Default::default(),
        None => std::mem::take(&mut plan.recipe_fallbacks).into(),
    };
    let mut alternatives: std::collections::VecDeque<_> = match request.base_image {
        Some(_) => Default::default(),
        None => std::mem::take(&mut plan.recipe_alternatives).into(),
    };
    let mut first_failure: Option<(anyhow::Error, String)> = None;
    loop {
        let (error, unavailable) = match build_on(request, plan.clone(), parsed.clone(), cache) {
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
            Err(e) => return Err(cause_first(e, &plan.recipe.value, &plan, request)),
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
            return Err(cause_first(error, &recipe, &plan, request));
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
fn cause_first(
    error: anyhow::Error,
    recipe: &str,
    plan: &Plan,
    request: &BuildRequest,
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
    if !request
        .steps
        .binary
        .wheels_allowed(&crate::index::normalize_name(&project))
    {
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

/// [`build`] once per platform `choice` names (`all`: every platform the
/// base offers), this machine's first: its base's interpreter compiles the
/// bytecode of the others. The reports come in the order asked for.
pub fn build_platforms(
    request: &BuildRequest,
    choice: &PlatformChoice,
    cache: &Cache,
) -> Result<Vec<BuildReport>> {
    let platforms = platforms_of(request, choice)?;
    let host = Platform::host();
    let mut order: Vec<usize> = (0..platforms.len()).collect();
    order.sort_by_key(|&i| platforms[i] != host);
    let mut reports: Vec<Option<BuildReport>> = platforms.iter().map(|_| None).collect();
    let first = order.first().copied();
    for i in order {
        let mut one = request.clone();
        one.base.platform = platforms[i];
        one.plan_warnings = request.plan_warnings && Some(i) == first;
        if platforms[i] != host {
            let host_report = reports.iter().flatten().find(|r| r.image.platform == host);
            one.host_steps = host_report.map(|r| (host, r.step_layers.clone()));
            one.host_smoke = host_report
                .and_then(|r| r.smoke.as_ref())
                .map(|o| o.observed().clone());
        }
        let report =
            build(&one, cache).with_context(|| format!("building for {}", platforms[i]))?;
        reports[i] = Some(report);
    }
    Ok(reports.into_iter().flatten().collect())
}

/// The platforms `choice` names, checked against those the base offers.
fn platforms_of(request: &BuildRequest, choice: &PlatformChoice) -> Result<Vec<Platform>> {
    if let PlatformChoice::List(list) = choice
        && list.len() == 1
    {
        return Ok(list.clone());
    }
    match &request.base_image {
        Some((reference, plain_http)) => {
            let offered = crate::base::pulled::platforms_offered(reference, *plain_http)?;
            choice.within(&offered, &format!("the base {reference}"))
        }
        None => {
            let decided = crate::project::plan::recipe_for(request.app_dir, &request.overrides)?;
            let recipe = Recipe::load(&decided.recipe.value)?;
            let offered: Vec<Platform> = Platform::ALL
                .into_iter()
                .filter(|p| recipe.architectures.iter().any(|a| a == p.debian_arch()))
                .collect();
            choice.within(&offered, &format!("recipe {}", recipe.name))
        }
    }
}

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
const SERVERS: &[(&str, &str)] = &[
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

/// Marks a failure to resolve the requirements on the chosen base, which a
/// fallback base may not have.
#[derive(Debug)]
struct NoResolution(String);

impl std::fmt::Display for NoResolution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the requirements cannot be resolved on {}", self.0)
    }
}

/// The build on the plan's base (`plan.recipe`, or `--base`).
fn build_on(
    request: &BuildRequest,
    mut plan: Plan,
    parsed: (crate::project::RequirementSet, Vec<PathBuf>),
    cache: &Cache,
) -> Result<BuildReport> {
    let http = Http::new()?;
    let (base, base_name, recipe) = base_for(request, &mut plan, cache, &http)?;
    crate::mark("base ready");
    let target = base.target()?;

    let engine = engine_for(&request.steps)?;
    let runs_here = engine.is_some() && runs_here(&base, &request.steps)?;
    // Bytecode depends on the Python version, not the CPU: for another
    // platform this machine's build of the same interpreter compiles it.
    let interpreter_base = match request.steps.compile && base.image.platform != Platform::host() {
        true => host_interpreter(
            &request.base,
            recipe.as_ref(),
            request.base_image.as_ref(),
            unpacked_allowed(request),
            &base,
            cache,
            &http,
        ),
        false => None,
    };
    let compiles_with = interpreter_base.as_ref().unwrap_or(&base);
    let lock_request = LockRequest {
        app_dir: request.app_dir,
        target: target.clone(),
        flags: request.index.clone(),
        pre: request.pre,
        extras: request.extras.clone(),
        groups: request.groups.clone(),
        env: request.env,
        home: request.home.clone(),
        binary: request.steps.binary.clone(),
        sdists: None,
        parsed: parsed.into(),
        cache: Some(cache),
        relock: request.relock,
        added: request
            .server
            .clone()
            .into_iter()
            .filter(|s| s != "none")
            .collect(),
    };
    let sources = SourceBuilder::with_build_packages(
        engine.as_ref(),
        cache,
        &lock_request,
        builder_image_for(request, recipe.clone())?,
        request.base.epoch,
        request.base.verbose,
        plan.build_packages().to_vec(),
    )?;
    crate::mark("sdist builder ready");
    let mut lock_request = LockRequest {
        sdists: Some(&sources),
        ..lock_request
    };
    // The app's own project that computes its requirements: from its
    // metadata, built now that the builder is known.
    let parsed = std::mem::take(&mut lock_request.parsed)
        .into_inner()
        .expect("set above");
    let parsed = (
        local::as_sdists(
            project::with_built_requirements(parsed.0, &plan, &sources, cache)?,
            cache,
        )?,
        parsed.1,
    );
    let dependencies = dependency_names(&parsed.0);
    let mut direct: Vec<String> = parsed
        .0
        .requirements
        .iter()
        .map(|r| crate::index::normalize_name(r.requirement.name.as_ref()))
        .collect();
    lock_request.parsed = parsed.into();
    let dependencies = &dependencies;
    let compiler = match request.steps.compile {
        true => compiler_on(
            cache,
            compiles_with,
            unpacked_allowed(request),
            engine.as_ref(),
        ),
        false => None,
    };
    crate::mark("interpreter unpacked");
    if compiler.is_none() && request.steps.compile && engine.is_none() && interpreter_base.is_none()
    {
        eprintln!(
            "warning: no podman or docker: the image gets no bytecode and starts slower; install one, or pass --no-compile"
        );
    }
    let venv = Venv {
        path: VENV_DIR.into(),
        base_python: base.python_executable.clone(),
        python_version: target.python_version(),
        python_full_version: target.python_full_version(),
    };
    let epoch = request.base.epoch;
    let verbose = request.base.verbose;
    let downloads = crate::resolve::app::download_client(&lock_request)?;
    // Pins carry their URLs and hashes; no index is consulted to fetch them.
    let pinned = Index::new(&downloads, cache, IndexConfig::default()).with_sdist_builder(&sources);
    let layering = Layering {
        cache,
        compiler: compiler.as_ref(),
        epoch,
        verbose,
        machine: target.platform.elf_machine(),
        scan_time: Default::default(),
    };
    let (decision, pin_source, stdlib, deps, app) = std::thread::scope(|scope| -> Result<_> {
        // The standard library's bytecode depends on the base alone: it is
        // compiled while the pins are found and the venv and app are made.
        let stdlib_job = compiler.as_ref().map(|c| {
            scope.spawn(|| {
                let layer = stdlib_layer(c, &base, epoch);
                crate::mark("stdlib bytecode layer written");
                layer
            })
        });
        // The base's dpkg records, for the bill of materials, are read
        // meanwhile too (remembered per layer: the real reading is once).
        let base_records = scope.spawn(|| crate::sbom::os_packages(cache, &base.image.layers));
        let pinned_layers = (|| -> Result<_> {
            let (pins, pin_source) =
                pins_for_build(&lock_request, cache, request.locked).map_err(|e| {
                    e.context(NoResolution(format!("{} ({target})", plan.recipe.value)))
                })?;
            crate::mark("pins found");
            let decision = start::decide(
                &start::StartStage {
                    plan: &plan,
                    dependencies,
                    may_add_server: request.server.as_deref() != Some("none") && !request.locked,
                    no_server_because: request
                        .locked
                        .then_some("--locked takes only the lock's packages"),
                    as_root: request.as_root,
                    lock_request: &lock_request,
                    cache,
                },
                pins,
            )?;
            let pins = &decision.pins;
            let deps = deps_layer(&layering, &pinned, pins, &venv)?;
            crate::mark("venv layer written");
            let app = app_layer(&layering, &plan, &decision.started, &venv, &sources)?;
            crate::mark("app layer written");
            Ok((decision, pin_source, deps, app))
        })();
        // Only a head start: a failure is met again, and said, when the
        // bill of materials is made.
        let _ = base_records.join();
        let stdlib = stdlib_job.map(|job| {
            job.join()
                .unwrap_or_else(|_| bail!("compiling the standard library's bytecode panicked"))
        });
        // A resolution failure comes first: the build may go on on another base.
        let (decision, pin_source, deps, app) = pinned_layers?;
        Ok((decision, pin_source, stdlib.transpose()?, deps, app))
    })?;
    let start::Decision {
        pins,
        started,
        added: added_server,
    } = decision;
    if request.plan_warnings {
        for warning in &started.warnings {
            eprintln!("warning: {warning}");
        }
    }
    if let Some(added) = &added_server {
        direct.push(added.name.clone());
    }
    let system = system_layer(
        request,
        &layering,
        &base,
        &base_name,
        recipe.as_ref(),
        &[&deps, &app],
    )?;
    crate::mark("native library audit done");
    let system_packages = system.as_ref().map(|s| s.1.clone()).unwrap_or_default();
    let system_blobs: Vec<LayerBlob> = system.iter().map(|s| s.0.blob.clone()).collect();
    // The layers below the app's: they stay whatever the smoke run sees.
    let lower: Vec<LayerReport> = system
        .map(|s| s.0)
        .into_iter()
        .chain(stdlib)
        .chain([deps])
        .collect();
    let annotations = BTreeMap::from([
        (
            "org.opencontainers.image.title".to_string(),
            plan.name.clone(),
        ),
        ("org.opencontainers.image.base.name".to_string(), base_name),
        (
            "org.opencontainers.image.base.digest".to_string(),
            base.image.manifest_digest.clone(),
        ),
        // What `pypack rebase` needs to swap the base under the app: how
        // many layers are the base's, and what it must not change.
        (
            BASE_LAYERS_ANNOTATION.to_string(),
            base.image.layers.len().to_string(),
        ),
        (
            BASE_PYTHON_ANNOTATION.to_string(),
            format!(
                "{} {}",
                base.python_executable,
                target.python_full_version()
            ),
        ),
        (BASE_LIBC_ANNOTATION.to_string(), target.libc.to_string()),
    ]);
    let mut started = started;
    let mut app = app;
    // Another platform's image follows what this machine's image showed.
    if let Some(observed) = &request.host_smoke
        && let Some(followed) = observe::follow(&started, observed)?
    {
        started = followed;
        app = app_layer(&layering, &plan, &started, &venv, &sources)?;
    }
    let mut step_layers: Option<Vec<LayerReport>> = None;
    // The first run is watched (the port, and as the image's user the
    // writes under /app); what it saw is followed once.
    let mut first_run = true;
    // The image a watched run followed: held until the next one is in the
    // engine (they share layers, which removing it now could take away).
    let mut followed_from: Option<crate::builder::engine::HeldImage> = None;
    let mut steps_follow_writable = false;
    loop {
        let container = container_config(&base, &plan, &started, request.as_root)?;
        let mut with_app = lower.clone();
        with_app.push(app.clone());
        // Build steps run in the image as it is so far; their output is one
        // more layer, placed below the app's, whose directories (and their
        // owners, /app's among them) it must not cover. Made again after a
        // follow only when it holds files under a path now writable.
        let steps = match &step_layers {
            Some(steps) if !steps_follow_writable => steps.clone(),
            _ => build_steps(
                request,
                &engine,
                runs_here,
                cache,
                &base,
                &with_app,
                &container,
                &annotations,
                &started,
                &venv,
            )?,
        };
        step_layers = Some(steps.clone());
        let mut built = lower.clone();
        built.extend(steps.clone());
        built.push(app.clone());
        // The inventory of all of the above, as the image's last layer.
        crate::mark("build steps done");
        let (sbom, sbom_layer) = sbom_layer(
            cache,
            &base,
            &system_blobs,
            &plan,
            &pins,
            direct.clone(),
            epoch,
        )?;
        built.push(sbom_layer);
        let image = image::extend(
            cache,
            &base.image,
            &specs(&built),
            &container,
            epoch,
            &annotations,
        )?;
        let (smoke, held) = match (&engine, request.steps.smoke) {
            (Some(engine), None | Some(true)) if runs_here => {
                let (outcome, held) = smoke::run(&SmokeRun {
                    engine,
                    cache,
                    image: &image,
                    python: &venv.python(),
                    probe: smoke::probe_for(
                        &started.cmd.value,
                        started.port.value,
                        started.web,
                        &started.smoke_host,
                        (first_run && !request.as_root).then_some(NONROOT),
                    ),
                    env: &request.steps.smoke_env,
                })?;
                (Some(outcome), held)
            }
            _ => (None, None),
        };
        // What the app did, followed once: the image is made again and
        // run again as it really is.
        if first_run
            && let Some(outcome) = &smoke
            && let Some(followed) = observe::follow(&started, outcome.observed())?
        {
            eprintln!(
                "note: smoke run: {}; the image follows and runs again",
                observe::changes(&started, &followed)
            );
            if followed.writable.iter().any(|w| w.value == ".")
                && !started.writable.iter().any(|w| w.value == ".")
            {
                eprintln!(
                    "warning: the app writes right into /app, so /app itself is made its own (the directory alone); \
                     a directory of its own for such files (an SQLite database…) would keep the code read-only"
                );
            }
            if let Some(previous) = followed_from.take() {
                previous.release_in_background();
            }
            followed_from = held;
            steps_follow_writable =
                followed.writable != started.writable && !started.build_steps.is_empty();
            started = followed;
            app = app_layer(&layering, &plan, &started, &venv, &sources)?;
            first_run = false;
            continue;
        }
        if let Some(previous) = followed_from.take() {
            previous.release_in_background();
        }
        let debug = match request.debug {
            true => Some(debug_variant(
                request,
                recipe.as_ref(),
                &image,
                &container,
                &annotations,
                cache,
            )?),
            false => None,
        };
        return Ok(BuildReport {
            image,
            plan,
            start: started,
            added_server,
            base,
            pins,
            pin_source,
            layers: built,
            smoke,
            held,
            system_packages,
            sbom,
            debug,
            step_layers: steps,
        });
    }
}

/// The build steps' layers (Django's collectstatic), run in the image made
/// of `built` so far; for another platform, those of this machine's image.
#[allow(clippy::too_many_arguments)]
fn build_steps(
    request: &BuildRequest,
    engine: &Option<Engine>,
    runs_here: bool,
    cache: &Cache,
    base: &BuiltBase,
    built: &[LayerReport],
    container: &ContainerConfig,
    annotations: &BTreeMap<String, String>,
    started: &Started,
    venv: &Venv,
) -> Result<Vec<LayerReport>> {
    let epoch = request.base.epoch;
    let named = || {
        started
            .build_steps
            .iter()
            .map(describe_step)
            .collect::<Vec<_>>()
            .join(", ")
    };
    Ok(match (engine, runs_here) {
        (Some(engine), true) if !started.build_steps.is_empty() => {
            let so_far = image::extend(
                cache,
                &base.image,
                &specs(built),
                container,
                epoch,
                annotations,
            )?;
            step_layers(engine, cache, &so_far, started, venv, request, epoch)?
        }
        _ if !started.build_steps.is_empty() && request.host_steps.is_some() => {
            let (host, layers) = request.host_steps.clone().expect("checked");
            if !layers.is_empty() {
                eprintln!(
                    "note: the {} image gets the output of {} made in the {host} image (it does not depend on the CPU)",
                    base.image.platform,
                    named()
                );
            }
            layers
        }
        _ => {
            if !started.build_steps.is_empty() {
                eprintln!(
                    "warning: the build steps ({}) need the image to run here, in podman or docker; the image has none of their output",
                    named()
                );
            }
            Vec::new()
        }
    })
}

/// The image plus a layer with a static busybox and `/busybox` on PATH:
/// the same layers below, so the image itself is unchanged. Busybox comes
/// from the recipe's suites, or for a registry base from debian12's (it is
/// static: it runs on any base).
fn debug_variant(
    request: &BuildRequest,
    recipe: Option<&Recipe>,
    image: &Image,
    container: &ContainerConfig,
    annotations: &BTreeMap<String, String>,
    cache: &Cache,
) -> Result<Image> {
    let recipe = match recipe {
        Some(recipe) => recipe.clone(),
        None => Recipe::load("debian12")?,
    };
    let options = BaseOptions {
        platform: image.platform,
        ..request.base.clone()
    };
    let (blob, version) = crate::base::debug::busybox_layer(&recipe, &options, cache)
        .context("adding busybox for --debug")?;
    let mut container = container.clone();
    for env in container.env.iter_mut() {
        if let Some(path) = env.strip_prefix("PATH=") {
            *env = format!("PATH={path}:{}", crate::base::debug::BUSYBOX_DIR);
        }
    }
    let layer = LayerSpec {
        blob,
        created_by: format!(
            "pypack: busybox-static {version} at {} (debug variant)",
            crate::base::debug::BUSYBOX_DIR
        ),
    };
    image::extend(
        cache,
        image,
        &[layer],
        &container,
        request.base.epoch,
        annotations,
    )
}

/// The image's bill of materials and the layer holding it.
fn sbom_layer(
    cache: &Cache,
    base: &BuiltBase,
    system_layers: &[LayerBlob],
    plan: &Plan,
    pins: &[Pin],
    direct: Vec<String>,
    epoch: u64,
) -> Result<(Sbom, LayerReport)> {
    let (os, distro) = crate::sbom::os_packages_on(cache, &base.image, system_layers)?;
    let inventory = crate::sbom::Inventory {
        name: plan.name.clone(),
        version: plan.pyproject.version.clone(),
        platform: base.image.platform,
        distro,
        os,
        python: pins
            .iter()
            .map(|pin| crate::sbom::PythonPackage {
                name: pin.name.clone(),
                version: pin.version.to_string(),
                sha256: pin.file.sha256.clone(),
                // A local file's path says nothing to a reader of the image.
                url: Some(crate::http::redact(&pin.file.url)).filter(|u| !u.starts_with("file:")),
                dependencies: pin.dependencies.clone(),
            })
            .collect(),
        direct,
        epoch,
    };
    let (sbom, blob, what) = crate::sbom::layer(cache, &inventory)?;
    let report = LayerReport {
        what,
        blob,
        reused: false,
    };
    Ok((sbom, report))
}

/// The layers as the image's manifest and history list them.
fn specs(layers: &[LayerReport]) -> Vec<LayerSpec> {
    layers
        .iter()
        .map(|l| LayerSpec {
            blob: l.blob.clone(),
            created_by: l.what.clone(),
        })
        .collect()
}

fn describe_step(step: &BuildStep) -> String {
    match step {
        BuildStep::Collectstatic { .. } => "Django's collectstatic".into(),
    }
}

/// The layers the plan's build steps make, run in `image` (reused when the
/// image and the step's settings are the same).
fn step_layers(
    engine: &Engine,
    cache: &Cache,
    image: &Image,
    started: &Started,
    venv: &Venv,
    request: &BuildRequest,
    epoch: u64,
) -> Result<Vec<LayerReport>> {
    let mut layers = Vec::new();
    for step in &started.build_steps {
        let BuildStep::Collectstatic { settings_module } = step;
        let settings = smoke::settings(&request.steps.smoke_env)?;
        let writable: Vec<&str> = started.writable.iter().map(|w| w.value.as_str()).collect();
        let key = format!(
            "pypack {} collectstatic format 2\nimage {}\nsettings {settings_module}\nenv {}\nepoch {epoch}\nwritable {writable:?}\n",
            env!("CARGO_PKG_VERSION"),
            image.manifest_digest,
            sha256_hex(request.steps.smoke_env.join("\n").as_bytes())
        );
        let what = format!(
            "pypack: static files collected by manage.py collectstatic ({settings_module})"
        );
        if let Some(blob) = cached_layer(cache, &key) {
            layers.push(LayerReport {
                what,
                blob,
                reused: true,
            });
            continue;
        }
        let entries = crate::builder::collectstatic::collect(
            engine,
            cache,
            image,
            &venv.python(),
            settings_module,
            &settings,
        )?;
        if entries.is_empty() {
            eprintln!(
                "note: the Django settings set no STATIC_ROOT at build time: no static files were collected"
            );
            continue;
        }
        let mut tree: BTreeMap<String, Entry> =
            entries.into_iter().map(|e| (e.path.clone(), e)).collect();
        add_parents(&mut tree)?;
        // Static files the app rewrites at start (a Procfile's collectstatic,
        // WhiteNoise compressing) are its own like the rest of their directory.
        give_writable(&mut tree, &started.writable);
        let entries: Vec<Entry> = tree.into_values().collect();
        let blob = write_layer(cache, &entries, epoch)?;
        remember_layer(cache, &key, &blob)?;
        layers.push(LayerReport {
            what,
            blob,
            reused: false,
        });
    }
    Ok(layers)
}

/// The base image: pulled from a registry (`--base`) or built from the
/// plan's recipe; the name the image's annotations give it; and the recipe,
/// when there is one.
fn base_for(
    request: &BuildRequest,
    plan: &mut Plan,
    cache: &Cache,
    http: &Http,
) -> Result<(BuiltBase, String, Option<Recipe>)> {
    if let Some((reference, plain_http)) = &request.base_image {
        plan.recipe = crate::project::decided::Decided {
            value: reference.to_string(),
            rule: "--base".into(),
        };
        let pulled =
            crate::base::pulled::pull_base(reference, *plain_http, request.base.platform, cache)?;
        return Ok((pulled, reference.to_string(), None));
    }
    let recipe = Recipe::load(&plan.recipe.value)?;
    let built = base::build_and(
        &recipe,
        &request.base,
        cache,
        http,
        request.steps.compile && unpacked_allowed(request),
    )?;
    let name = format!("pypack base {}", recipe.name);
    Ok((built, name, Some(recipe)))
}

/// Whether bytecode may be compiled by the base's interpreter unpacked on
/// this machine. A recipe base is made of signature-checked Debian packages:
/// its interpreter may; a registry base's runs only in a container (as every
/// base's does with PYPACK_BYTECODE_IN=container).
fn unpacked_allowed(request: &BuildRequest) -> bool {
    request.base_image.is_none()
        && (request.env)("PYPACK_BYTECODE_IN").as_deref() != Some("container")
}

/// Whether the engine can run the image (bytecode and the smoke run execute
/// its interpreter): not when it is for another architecture than this
/// machine's, which is said once.
fn runs_here(base: &BuiltBase, steps: &BuilderSteps) -> Result<bool> {
    let host = crate::platform::Platform::host();
    let platform = base.image.platform;
    if platform == host {
        return Ok(true);
    }
    if steps.smoke == Some(true) {
        bail!(
            "--smoke runs the image, which is for {platform} while this machine is {host}; drop --smoke"
        );
    }
    eprintln!(
        "note: the {platform} image is not run here ({host}): no smoke run{}",
        if steps.compile {
            "; its bytecode is compiled by this machine's build of the same Python"
        } else {
            ""
        }
    );
    Ok(false)
}

/// The base of this machine's platform with the same interpreter as
/// `base` (same recipe, or the same registry image's entry for this
/// platform), whose interpreter compiles `base`'s bytecode; `None`, said
/// in a warning, when there is none with the very same Python version.
fn host_interpreter(
    options: &BaseOptions,
    recipe: Option<&Recipe>,
    base_image: Option<&(Reference, bool)>,
    host_allowed: bool,
    base: &BuiltBase,
    cache: &Cache,
    http: &Http,
) -> Option<BuiltBase> {
    let host = Platform::host();
    let platform = base.image.platform;
    let found = match (recipe, base_image) {
        (Some(recipe), _) => {
            let options = BaseOptions {
                platform: host,
                ..options.clone()
            };
            base::build_and(recipe, &options, cache, http, host_allowed)
        }
        (None, Some((reference, plain_http))) => {
            crate::base::pulled::pull_base(reference, *plain_http, host, cache)
        }
        (None, None) => return None,
    };
    let why_not = match found {
        Err(e) => format!("the {host} base it would be compiled with is not available: {e:#}"),
        Ok(found)
            if found.python_full_version == base.python_full_version
                && found.python_executable == base.python_executable =>
        {
            return Some(found);
        }
        Ok(found) => format!(
            "the {host} base has Python {} at {} where the {platform} one has {} at {}",
            found.python_full_version.as_deref().unwrap_or("?"),
            found.python_executable,
            base.python_full_version.as_deref().unwrap_or("?"),
            base.python_executable
        ),
    };
    eprintln!(
        "warning: the {platform} image gets no bytecode and starts slower: {why_not}; pass --no-compile to silence this"
    );
    None
}

/// A compiler running `base`'s interpreter (unpacked here when
/// `host_allowed`, else in `engine`); `None` when `base` is not for this
/// machine's platform or nothing can run it.
fn compiler_on<'a>(
    cache: &'a Cache,
    base: &'a BuiltBase,
    host_allowed: bool,
    engine: Option<&'a Engine>,
) -> Option<Compiler<'a>> {
    if base.image.platform != Platform::host() {
        return None;
    }
    let early = base
        .early
        .as_ref()
        .and_then(|early| early.python(&base.python_executable));
    Compiler::new(
        cache,
        &base.image,
        &base.python_executable,
        host_allowed,
        early,
        engine,
    )
}

/// The standard library bytecode layer of `base` (a recipe's, or the
/// registry image `base_image`'s), compiled as a build would: by its own
/// interpreter on this machine or in `engine`, or for another platform's
/// base by this machine's build of the same interpreter. `None` when it
/// cannot be compiled here (said in a warning).
pub fn stdlib_bytecode_for(
    cache: &Cache,
    base: &BuiltBase,
    recipe: Option<&Recipe>,
    options: &BaseOptions,
    base_image: Option<&(Reference, bool)>,
    engine: Option<&Engine>,
) -> Result<Option<LayerReport>> {
    let http = Http::new()?;
    let host_allowed =
        base_image.is_none() && std::env::var("PYPACK_BYTECODE_IN").as_deref() != Ok("container");
    let interpreter_base = match base.image.platform == Platform::host() {
        true => None,
        false => host_interpreter(
            options,
            recipe,
            base_image,
            host_allowed,
            base,
            cache,
            &http,
        ),
    };
    let compiles_with = interpreter_base.as_ref().unwrap_or(base);
    let Some(compiler) = compiler_on(cache, compiles_with, host_allowed, engine) else {
        return Ok(None);
    };
    stdlib_layer(&compiler, base, options.epoch).map(Some)
}

/// Where sdists get built: the recipe's builder image, or for a registry
/// base, `--builder-image` or the full image of a known slim one.
fn builder_image_for(request: &BuildRequest, recipe: Option<Recipe>) -> Result<BuilderImage> {
    if let Some(recipe) = recipe {
        return Ok(BuilderImage::Recipe(
            Box::new(recipe),
            Box::new(request.base.clone()),
        ));
    }
    let Some((base, plain_http)) = &request.base_image else {
        bail!("internal: a build has neither a recipe nor a --base image");
    };
    let reference = match &request.steps.builder_image {
        Some(r) => r.clone(),
        None => match full_image_of(base) {
            Some(r) => r,
            None => {
                return Ok(BuilderImage::Missing(format!(
                    "the base {base} is not a known slim image, so pypack does not know which image can build for it; pass --builder-image REF (an image with the same Python, a compiler and the Python headers)"
                )));
            }
        },
    };
    Ok(BuilderImage::Registry {
        reference,
        plain_http: *plain_http,
    })
}

/// `python:3.12-slim` → `python:3.12`, `python:3.12-slim-bookworm` →
/// `python:3.12-bookworm`: the official images' full variant, which has
/// the compiler and headers the slim one dropped.
pub fn full_image_of(base: &Reference) -> Option<Reference> {
    let tag = base.tag.as_deref()?;
    let full = if let Some(rest) = tag.strip_suffix("-slim") {
        rest.to_string()
    } else if tag.contains("-slim-") {
        tag.replacen("-slim-", "-", 1)
    } else if tag == "slim" {
        "latest".to_string()
    } else {
        return None;
    };
    Some(Reference {
        tag: Some(full),
        digest: None,
        ..base.clone()
    })
}

/// The engine, when a step may need one (`--engine` names one that must work).
fn engine_for(steps: &BuilderSteps) -> Result<Option<Engine>> {
    let engine = Engine::detect(steps.engine.as_deref())?;
    if engine.is_none() {
        if let Some(name) = &steps.engine {
            bail!("--engine {name}: it is not installed or not running");
        }
        if steps.smoke == Some(true) {
            bail!(
                "--smoke runs the image in podman or docker, and neither is installed (or running); install one, or drop --smoke"
            );
        }
    }
    Ok(engine)
}

/// Bytecode for the base's standard library, a layer of its own keyed by
/// the base image, so it is compiled once per base.
fn stdlib_layer(compiler: &Compiler, base: &BuiltBase, epoch: u64) -> Result<LayerReport> {
    let key = format!(
        "pypack {} stdlib bytecode format {BYTECODE_FORMAT}\nbase {}\npython {}\nepoch {epoch}\ncompiled in {}\n",
        env!("CARGO_PKG_VERSION"),
        base.image.manifest_digest,
        base.python_executable,
        compiler.image.config_digest
    );
    let what = format!(
        "pypack: bytecode of {}'s standard library",
        base.python_executable
    );
    if let Some(blob) = cached_layer(compiler.cache, &key) {
        return Ok(LayerReport {
            what,
            blob,
            reused: true,
        });
    }
    // Another platform's: its sources, compiled by this machine's interpreter.
    let compiled = if compiler.image.manifest_digest != base.image.manifest_digest {
        let target = base.target()?;
        let sources = crate::builder::bytecode::stdlib_sources(
            compiler.cache,
            &base.image,
            &stdlib_dir(&base.python_executable, &target.python_version()),
            &format!("cpython-{}", target.python_version().replace('.', "")),
        )?;
        compiler.compile(&sources, false)?
    } else {
        // Started while the base was built here, else compiled now.
        here_stdlib_bytecode(compiler, base)?
    };
    let mut tree: BTreeMap<String, Entry> =
        compiled.into_iter().map(|e| (e.path.clone(), e)).collect();
    add_parents(&mut tree)?;
    let entries: Vec<Entry> = tree.into_values().collect();
    let blob = write_layer(compiler.cache, &entries, epoch)?;
    remember_layer(compiler.cache, &key, &blob)?;
    Ok(LayerReport {
        what,
        blob,
        reused: false,
    })
}

/// The bytecode of the standard library of the base the compiler runs.
fn here_stdlib_bytecode(compiler: &Compiler, base: &BuiltBase) -> Result<Vec<Entry>> {
    match base
        .early
        .as_ref()
        .and_then(|early| early.stdlib_bytecode())
    {
        Some(Ok(compiled)) => Ok(compiled),
        Some(Err(e)) => {
            eprintln!("warning: {e:#}; compiling the standard library again");
            compiler.compile(&[], true)
        }
        None => compiler.compile(&[], true),
    }
}

/// `/usr/bin/python3.11` → `/usr/lib/python3.11`: where the interpreter's
/// standard library is, beside its `bin`.
fn stdlib_dir(executable: &str, version: &str) -> String {
    let prefix = executable
        .trim_end_matches(|c| c != '/')
        .trim_end_matches('/')
        .trim_end_matches("/bin");
    format!("{prefix}/lib/python{version}")
}

/// `entries` plus the bytecode of their `.py` files, when compiling.
fn with_bytecode(entries: Vec<Entry>, compiler: Option<&Compiler>) -> Result<Vec<Entry>> {
    let Some(compiler) = compiler else {
        return Ok(entries);
    };
    let compiled = compiler.compile(&entries, false)?;
    let mut tree: BTreeMap<String, Entry> =
        entries.into_iter().map(|e| (e.path.clone(), e)).collect();
    for entry in compiled {
        tree.insert(entry.path.clone(), entry);
    }
    add_parents(&mut tree)?;
    Ok(tree.into_values().collect())
}

/// What the layers of one build are made with.
struct Layering<'a> {
    cache: &'a Cache,
    compiler: Option<&'a Compiler<'a>>,
    epoch: u64,
    verbose: bool,
    /// The target's ELF machine, for the native library audit.
    machine: u16,
    /// Time spent reading the new layers' ELF files (part of the audit's cost).
    scan_time: std::cell::Cell<std::time::Duration>,
}

impl Layering<'_> {
    /// Writes a new layer, remembers it under `key`, and keeps what its
    /// ELF files need for the audit (while the entries are in memory).
    fn write(
        &self,
        key: &str,
        what: String,
        label: &str,
        entries: &[Entry],
    ) -> Result<LayerReport> {
        let blob = {
            let _progress = crate::progress::Progress::start(
                &format!("writing the {label} layer"),
                0,
                self.verbose,
            );
            write_layer(self.cache, entries, self.epoch)?
        };
        let started = std::time::Instant::now();
        crate::audit::layer_libraries(self.cache, &blob, Some(entries), self.machine)?;
        self.scan_time.set(self.scan_time.get() + started.elapsed());
        remember_layer(self.cache, key, &blob)?;
        Ok(LayerReport {
            what,
            blob,
            reused: false,
        })
    }
}

/// The venv with every pinned wheel; reused from the cache when the pins,
/// the interpreter and the timestamp are the same.
fn deps_layer(l: &Layering, index: &Index, pins: &[Pin], venv: &Venv) -> Result<LayerReport> {
    let (cache, compiler, epoch) = (l.cache, l.compiler, l.epoch);
    let mut key = format!(
        "pypack {} deps format {DEPS_FORMAT}\nvenv {} {} {}\nepoch {epoch}\n{}",
        env!("CARGO_PKG_VERSION"),
        venv.path,
        venv.base_python,
        venv.python_full_version,
        bytecode_key(compiler)
    );
    for pin in pins {
        // A pin with no hash (a local project's directory) is keyed by what
        // its tree packs to now: two trees of one name and version differ.
        let sha256 = match &pin.file.sha256 {
            Some(hex) => hex.clone(),
            None => index.download(&pin.file)?,
        };
        key.push_str(&format!("{} {} {sha256}\n", pin.name, pin.version));
    }
    let what = format!("pypack: {} Python packages into {}", pins.len(), venv.path);
    if let Some(blob) = cached_layer(cache, &key) {
        return Ok(LayerReport {
            what,
            blob,
            reused: true,
        });
    }
    let entries = install_resolution(index, pins, venv, l.verbose)?;
    let entries = with_bytecode(entries, compiler)?;
    l.write(&key, what, "venv", &entries)
}

fn cached_layer(cache: &Cache, key: &str) -> Option<LayerBlob> {
    let text = cache.get_ref("layer", key)?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let digest = v["digest"].as_str()?.to_string();
    let hex = crate::digest::strip_sha256(&digest).ok()?;
    cache.has_blob(hex).then_some(())?;
    Some(LayerBlob {
        digest,
        diff_id: v["diff_id"].as_str()?.to_string(),
        size: v["size"].as_u64()?,
        uncompressed_size: v["uncompressed_size"].as_u64()?,
    })
}

fn remember_layer(cache: &Cache, key: &str, blob: &LayerBlob) -> Result<()> {
    let record = serde_json::json!({
        "digest": blob.digest, "diff_id": blob.diff_id, "size": blob.size, "uncompressed_size": blob.uncompressed_size,
    });
    cache.set_ref("layer", key, &record.to_string())
}

/// The app's files under /app, owned by root and read-only to the app user,
/// plus the app's own project (if it is one) installed into the venv.
/// App files at least this large are streamed from disk into the layer,
/// not read into memory.
const LARGE_APP_FILE: u64 = 16 << 20;

fn app_layer(
    l: &Layering,
    plan: &Plan,
    started: &Started,
    venv: &Venv,
    sources: &SourceBuilder,
) -> Result<LayerReport> {
    let (cache, compiler, epoch) = (l.cache, l.compiler, l.epoch);
    let mut tree = BTreeMap::new();
    let mut key = format!(
        "pypack app layer format {APP_FORMAT}\nepoch {epoch}\nvenv {} {} {}\n{}",
        venv.path,
        venv.base_python,
        venv.python_full_version,
        bytecode_key(compiler)
    );
    let mut contents = Vec::with_capacity(plan.files.len());
    for rel in &plan.files {
        let path = plan.app_dir.join(rel);
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path)?.to_string_lossy().into_owned();
            key.push_str(&format!("{rel} -> {target}\n"));
            let link = Entry::symlink(&format!("app/{rel}"), &target);
            tree.insert(link.path.clone(), link);
        } else {
            let mode = if meta.permissions().mode() & 0o111 != 0 {
                0o755
            } else {
                0o644
            };
            let unreadable = |e| crate::walk::unreadable(&path, e);
            // Small files are read once: hashed for the key now, kept for
            // the layer. Large ones (models, datasets) are hashed as they
            // stream and copied into the layer from disk.
            let (hash, content) = if meta.len() >= LARGE_APP_FILE {
                let hash = std::fs::File::open(&path)
                    .and_then(crate::digest::sha256_reader)
                    .map_err(unreadable)?;
                let size = meta.len();
                (hash, EntryKind::OnDisk { path, size })
            } else {
                let data = std::fs::read(&path).map_err(unreadable)?;
                (sha256_hex(&data), EntryKind::File(data))
            };
            key.push_str(&format!("{rel} {mode:o} {hash}\n"));
            contents.push((rel.clone(), content, mode));
        }
    }
    if let Ok(pyproject) = std::fs::read(plan.app_dir.join("pyproject.toml")) {
        key.push_str(&format!("pyproject {}\n", sha256_hex(&pyproject)));
    }
    for dir in &started.writable {
        key.push_str(&format!("writable {}\n", dir.value));
    }
    if started.launcher {
        // The command is a chain: the launcher that runs it ships with the app.
        let script = crate::project::chain::LAUNCHER_SCRIPT;
        key.push_str(&format!("launcher {}\n", sha256_hex(script.as_bytes())));
        let path = crate::project::chain::LAUNCHER.trim_start_matches('/');
        tree.insert(path.to_string(), Entry::file(path, script, 0o644));
    }
    let what = format!("pypack: {} app files into {APP_DIR}", plan.files.len());
    if let Some(blob) = cached_layer(cache, &key) {
        return Ok(LayerReport {
            what,
            blob,
            reused: true,
        });
    }
    let project = match &plan.app_wheel {
        Some(why) => built_project(cache, plan, venv, sources, &contents)
            .with_context(|| format!("building the app's own project ({why})"))?,
        None => local_project(plan, venv)?,
    };
    for (rel, content, mode) in contents {
        let path = format!("app/{rel}");
        tree.insert(path.clone(), Entry::new(&path, content, mode));
    }
    tree.insert("app".into(), Entry::dir("app", 0o755));
    for entry in project {
        tree.insert(entry.path.clone(), entry);
    }
    // What the app writes to is its own; the rest of /app stays root's.
    for dir in &started.writable {
        if dir.value != "." {
            let path = format!("app/{}", dir.value);
            tree.entry(path.clone())
                .or_insert_with(|| Entry::dir(&path, 0o755));
        }
    }
    give_writable(&mut tree, &started.writable);
    add_parents(&mut tree)?;
    let entries = with_bytecode(tree.into_values().collect(), compiler)?;
    l.write(&key, what, "app", &entries)
}

/// Entries of `tree` (paths without a leading `/`) under the writable
/// paths made the app's own (65532); `.` is /app itself, the directory
/// alone, not what it holds.
fn give_writable(
    tree: &mut BTreeMap<String, Entry>,
    writable: &[crate::project::decided::Decided<String>],
) {
    for dir in writable {
        let path = match dir.value.as_str() {
            "." => {
                if let Some(app) = tree.get_mut("app") {
                    (app.uid, app.gid) = (65532, 65532);
                }
                continue;
            }
            value => format!("app/{value}"),
        };
        for (p, entry) in tree.iter_mut() {
            if *p == path || p.starts_with(&format!("{path}/")) {
                entry.uid = 65532;
                entry.gid = 65532;
            }
        }
    }
}

/// The native library audit of the venv and app layers against the base:
/// on a Debian-recipe base, a layer with the packages of what is missing
/// (and the packages added); on a registry base, an error naming each
/// missing library and who needs it. `None` when nothing is missing.
fn system_layer(
    request: &BuildRequest,
    l: &Layering,
    base: &BuiltBase,
    base_name: &str,
    recipe: Option<&Recipe>,
    layers: &[&LayerReport],
) -> Result<Option<(LayerReport, Vec<AddedPackage>)>> {
    let started = std::time::Instant::now();
    let scanned = layers
        .iter()
        .map(|layer| crate::audit::layer_libraries(l.cache, &layer.blob, None, l.machine))
        .collect::<Result<Vec<_>>>()?;
    let provided = crate::audit::BaseLibraries::of_image(l.cache, &base.image)?;
    let needs = crate::audit::audit(
        &scanned.iter().collect::<Vec<_>>(),
        &provided,
        &request.ignore_missing_libraries,
    );
    if (request.env)("PYPACK_TIMINGS").is_some() {
        // The reading of new layers' ELF files happened as they were written.
        let (scan, check) = (l.scan_time.get(), started.elapsed());
        eprintln!(
            "timing:   native library audit {:.2} ms (reading ELF files {:.2} ms, checking {:.2} ms; {} libraries missing)",
            (scan + check).as_secs_f64() * 1e3,
            scan.as_secs_f64() * 1e3,
            check.as_secs_f64() * 1e3,
            needs.len()
        );
    }
    if needs.is_empty() {
        return Ok(None);
    }
    let Some(recipe) = recipe else {
        let lines: Vec<String> = needs
            .iter()
            .map(|n| format!("{} needs {}", system_libraries::who(n), n.library))
            .collect();
        bail!(
            "the image would not run: the base {base_name} lacks libraries the packages link: {}. \
             Build on a base image that has them (--base REF), or on a recipe base (--python / --recipe), \
             to which pypack adds the Debian packages that ship them; or, for a file that is never \
             loaded, pass --ignore-missing-library NAME",
            lines.join("; ")
        );
    };
    let added =
        system_libraries::for_needs(recipe, &request.base, l.cache, base, &provided, &needs)?;
    let report = LayerReport {
        what: format!(
            "pypack: {} Debian packages for libraries the Python packages link",
            added.packages.len()
        ),
        blob: added.blob,
        reused: added.reused,
    };
    Ok(Some((report, added.packages)))
}

/// The part of a layer's key that says whether (and by which interpreter) it was compiled.
fn bytecode_key(compiler: Option<&Compiler>) -> String {
    match compiler {
        Some(c) => format!(
            "bytecode format {BYTECODE_FORMAT} by {} in {}\n",
            c.python, c.image.config_digest
        ),
        None => "no bytecode\n".into(),
    }
}

/// Entries installing the app's own `[project]` into the venv from a wheel
/// the builder makes of the app's files (for projects whose code compiles).
fn built_project(
    cache: &Cache,
    plan: &Plan,
    venv: &Venv,
    sources: &SourceBuilder,
    contents: &[(String, EntryKind, u32)],
) -> Result<Vec<Entry>> {
    let project = &plan.pyproject;
    let name = project.name.as_deref().unwrap_or(&plan.name);
    let version = project.version.as_deref().unwrap_or("0");
    // The sdist is made in memory, large files and all: a project built
    // as a wheel ships its files in it.
    let files = contents
        .iter()
        .map(|(rel, content, mode)| {
            let data = content.content()?.unwrap_or_default().into_owned();
            Ok((rel.clone(), data, *mode))
        })
        .collect::<Result<Vec<_>>>()?;
    let (filename, bytes) = crate::builder::sdist::pack_tree(name, version, &files)?;
    let hex = cache.put_bytes(&bytes)?;
    let sdist = crate::index::DistFile {
        filename,
        url: format!("file://{}", cache.blob_path(&hex).display()),
        sha256: Some(hex.clone()),
        requires_python: None,
        yanked: false,
        metadata: None,
        size: Some(bytes.len() as u64),
    };
    let wheel = sources.build_wheel(&sdist, &hex)?;
    crate::wheel::install(venv, &cache.blob_path(&wheel.sha256), &wheel.filename)
}

/// Entries installing the app's own `[project]` into the venv, editable-style.
fn local_project(plan: &Plan, venv: &Venv) -> Result<Vec<Entry>> {
    let project = &plan.pyproject;
    let Some(name) = project.name.as_deref() else {
        return Ok(Vec::new());
    };
    let source_root = if plan.app_dir.join("src").is_dir() {
        format!("{APP_DIR}/src")
    } else {
        APP_DIR.to_string()
    };
    let local = crate::wheel::LocalProject {
        name,
        version: project.version.as_deref().unwrap_or("0"),
        requires_python: project.requires_python.as_deref(),
        dependencies: project
            .dependencies
            .iter()
            .map(|d| d.requirement.to_string())
            .collect(),
        entry_points: &project.entry_points,
        project_root: APP_DIR.into(),
        source_root,
    };
    crate::wheel::install_local_project(venv, &local)
}

fn container_config(
    base: &BuiltBase,
    plan: &Plan,
    started: &Started,
    as_root: bool,
) -> Result<ContainerConfig> {
    let mut config = image::container_config_of(&base.image)?;
    let base_path = config
        .env
        .iter()
        .find_map(|e| e.strip_prefix("PATH=").map(str::to_string))
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let overridden = [
        "PATH",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "PORT",
        "VIRTUAL_ENV",
        "HOME",
    ];
    config
        .env
        .retain(|e| !overridden.iter().any(|k| e.starts_with(&format!("{k}="))));
    config.env.retain(|e| {
        !started
            .env
            .iter()
            .any(|(k, _)| e.starts_with(&format!("{k}=")))
    });
    config
        .env
        .extend(started.env.iter().map(|(k, v)| format!("{k}={v}")));
    config.env.extend([
        format!("PATH={VENV_DIR}/bin:{base_path}"),
        format!("VIRTUAL_ENV={VENV_DIR}"),
        "PYTHONUNBUFFERED=1".to_string(),
        "PYTHONDONTWRITEBYTECODE=1".to_string(),
        format!("HOME={}", if as_root { "/root" } else { "/home/nonroot" }),
        format!("PORT={}", started.port.value),
    ]);
    config.working_dir = Some(APP_DIR.into());
    config.user = Some(if as_root {
        "0:0".into()
    } else {
        NONROOT.into()
    });
    config.entrypoint = Vec::new();
    config.cmd = started.cmd.value.clone();
    config.exposed_ports = vec![format!("{}/tcp", started.port.value)];
    config
        .labels
        .insert("org.opencontainers.image.title".into(), plan.name.clone());
    match &plan.pyproject.version {
        Some(v) => config
            .labels
            .insert("org.opencontainers.image.version".into(), v.clone()),
        None => config.labels.remove("org.opencontainers.image.version"),
    };
    config.labels.remove("org.opencontainers.image.description");
    config.labels.insert(
        "org.opencontainers.image.base.digest".into(),
        base.image.manifest_digest.clone(),
    );
    if let Some((source, revision)) = git_origin(&plan.app_dir) {
        if !source.is_empty() {
            config
                .labels
                .insert("org.opencontainers.image.source".into(), source);
        }
        config
            .labels
            .insert("org.opencontainers.image.revision".into(), revision);
    }
    Ok(config)
}

/// The origin URL (without credentials) and HEAD commit of the checkout the
/// app is in, when it is in one and git is installed.
fn git_origin(app_dir: &Path) -> Option<(String, String)> {
    let git = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(app_dir)
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let revision = git(&["rev-parse", "HEAD"])?;
    let source = git(&["config", "--get", "remote.origin.url"])
        .map(|u| crate::http::redact(&u))
        .unwrap_or_default();
    Some((source, revision))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_full_image_of_a_slim_one() {
        let full = |r: &str| full_image_of(&Reference::parse(r).unwrap()).map(|r| r.to_string());
        assert_eq!(
            full("localhost:5000/library/python:3.12-slim").as_deref(),
            Some("localhost:5000/library/python:3.12")
        );
        assert_eq!(
            full("localhost:5000/python:3.12-slim-bookworm").as_deref(),
            Some("localhost:5000/python:3.12-bookworm")
        );
        assert_eq!(full("localhost:5000/distroless/python3:nonroot"), None);
    }

    #[test]
    fn the_standard_library_beside_the_interpreter() {
        assert_eq!(
            stdlib_dir("/usr/bin/python3.11", "3.11"),
            "/usr/lib/python3.11"
        );
        assert_eq!(
            stdlib_dir("/usr/local/bin/python3.12", "3.12"),
            "/usr/local/lib/python3.12"
        );
    }
}
