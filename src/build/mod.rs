//! `pypack build`: app directory → image, as a pipeline of named stages.
//! [`build`] and [`build_on`] read as the table of contents: plan → base →
//! tools → resolve → install → app layer → audit → build steps → config →
//! smoke; [`publish::image`] and [`publish::index`] add the last stage,
//! publish (the image written, loaded or pushed). Each stage is a file
//! with one entry function taking what it needs; what may run at the same
//! time (a recipe's base built while the pins are found and their wheels
//! fetched, the standard library's bytecode while the base compresses and
//! while the venv is installed) is arranged here, not inside a stage.

mod app_layer;
mod assembly;
mod audit;
mod base;
mod bytecode;
mod config;
mod debug;
mod fallback;
mod install;
mod layers;
pub mod local;
pub mod lock;
pub mod observe;
mod plan;
mod platforms;
pub mod project;
pub mod publish;
mod report;
mod request;
mod resolve;
mod sbom;
mod smoke;
pub mod start;
mod steps;
pub mod summary;
mod tools;

pub use crate::sbom::Sbom;
pub use bytecode::stdlib_bytecode_for;
pub use plan::{add_server, dependency_names};
pub use report::{BuildReport, LayerReport};
pub use request::{
    APP_DIR, BASE_LAYERS_ANNOTATION, BASE_LIBC_ANNOTATION, BASE_PYTHON_ANNOTATION, BuildRequest,
    BuilderSteps, VENV_DIR,
};
pub use start::AddedServer;
pub use tools::full_image_of;

use crate::base::{HeadStart, Recipe};
use crate::cache::Cache;
use crate::http::Http;
use crate::platform::PlatformChoice;
use crate::project::plan::Plan;
use anyhow::Result;

/// The image for `request`: planned once, built on the plan's base, or on
/// the next one the plan allows when the pins cannot be had there.
pub fn build(request: &BuildRequest, cache: &Cache) -> Result<BuildReport> {
    let (plan, declared) = plan::plan_and_requirements(request)?;
    let pulled = request.base_image.is_some();
    fallback::on_first_base_that_builds(plan, pulled, &request.steps.binary, |plan| {
        build_on(request, plan, declared.clone(), cache)
    })
}

/// [`build`] once per platform `choice` names (`all`: every platform the
/// base offers), this machine's first: its base's interpreter compiles the
/// bytecode of the others. The reports come in the order asked for.
pub fn build_platforms(
    request: &BuildRequest,
    choice: &PlatformChoice,
    cache: &Cache,
) -> Result<Vec<BuildReport>> {
    platforms::each_platform(request, choice, cache, build)
}

/// The build on the plan's base (`plan.recipe`, or `--base`).
fn build_on(
    request: &BuildRequest,
    mut plan: Plan,
    declared: request::Declared,
    cache: &Cache,
) -> Result<BuildReport> {
    let (http, steps, options) = (Http::new()?, &request.steps, &request.base);
    let pulled = request.base_image.as_ref();
    // Base: a base built here starts its standard library's bytecode as
    // soon as its files are written, while its layer compresses.
    let unpacked = bytecode::unpacked_allowed(pulled.is_some(), request.env);
    let compile_early = bytecode::stdlib_head_start(cache);
    let head_start = (steps.compile && unpacked).then_some(&compile_early as HeadStart);
    let engine = tools::engine_for(steps)?;
    // A pulled base comes first, and a recipe's base already built; else
    // the target (from the recipe's package indexes, which the base then
    // reads) and the base built on a thread of its own while the pins are
    // found.
    let (ready, target, recipe) = match pulled {
        Some(_) => {
            let based = base::ready(pulled, options, head_start, &mut plan, cache, &http)?;
            let target = based.base.target()?;
            (Some(based), target, None)
        }
        None => base::cached_or_target(Recipe::load(&plan.recipe.value)?, options, cache, &http)?,
    };
    let http = &http;
    std::thread::scope(|scope| {
        let building = (recipe.clone().filter(|_| ready.is_none()))
            .map(|r| scope.spawn(move || base::from_recipe(r, options, head_start, cache, http)));
        // Resolve: the sdist builder, the app's own project, the pins.
        let lock = request.lock_request(target.clone(), declared, cache);
        let (engine, recipe) = (engine.as_ref(), recipe.clone());
        let sources = tools::sources(engine, recipe, pulled, steps, &lock, &plan, options, cache)?;
        let (lock, asked) = resolve::with_app_project(lock, &sources, &plan, cache)?;
        let rules = resolve::PinRules::of(request, format!("{} ({target})", plan.recipe.value));
        let resolved = resolve::pins_and_start(&lock, &rules, &plan, &asked, cache);
        // Pins carry their URLs and hashes; no index is consulted to fetch
        // them. Fetched now if the base is still being built.
        let downloads = crate::resolve::app::download_client(&lock)?;
        if let (Ok((decision, _)), Some(building)) = (&resolved, &building)
            && !building.is_finished()
        {
            install::fetch_ahead(&downloads, &sources, &decision.pins, cache);
        }
        // The base's failure comes before the pins': only pins not found
        // send the build on to another base.
        let based = base::joined(ready, building, &target)?;
        crate::mark("base ready");
        let head_start = unpacked.then_some(&compile_early as HeadStart);
        let tools = tools::ready(
            engine, steps, &based, options, pulled, head_start, cache, http,
        )?;
        let found = Found {
            downloads: &downloads,
            sources: &sources,
            target: &target,
            resolved: resolved?,
            direct: asked.direct,
        };
        on_base(request, plan, based, &tools, found, unpacked, cache)
    })
}

/// What resolution found for the image, and with what.
struct Found<'a> {
    /// The client the pinned files are fetched with.
    downloads: &'a Http,
    sources: &'a crate::builder::sdist::SourceBuilder<'a>,
    target: &'a crate::python::Target,
    resolved: Resolved,
    /// The app's direct dependencies' names.
    direct: Vec<String>,
}

/// The image on `based` with what was `found`: install, app layer (the
/// standard library's bytecode meanwhile), audit, build steps, config,
/// bill of materials and smoke run.
fn on_base(
    request: &BuildRequest,
    plan: Plan,
    based: base::Based,
    tools: &tools::Tools,
    found: Found,
    unpacked: bool,
    cache: &Cache,
) -> Result<BuildReport> {
    let (steps, options, target) = (&request.steps, &request.base, found.target);
    let compiler = tools.compiler(steps.compile, &based, unpacked, cache);
    let (epoch, verbose) = (options.epoch, options.verbose);
    let layering = layers::Layering::new(cache, compiler.as_ref(), epoch, verbose, target);
    let venv = install::venv_for(&based.base, target);
    let ((decision, pin_source), mut direct) = (found.resolved, found.direct);
    let stages = Stages {
        plan: &plan,
        venv: &venv,
        layering: &layering,
        sources: found.sources,
        downloads: found.downloads,
    };
    let (stdlib, deps, app) =
        stages.made_with_stdlib_meanwhile(&based, compiler.as_ref(), &decision)?;
    let start::Decision {
        pins,
        started,
        added,
    } = decision;
    direct.extend(added.iter().map(|added| added.name.clone()));
    let resolved = (pins, pin_source, added);
    say_warnings(request, &started);
    // Audit: the Debian packages the venv's and app's ELF files need.
    let ignored = &request.ignore_missing_libraries;
    let timings = (request.env)("PYPACK_TIMINGS").is_some();
    let system = audit::system_layer(&layering, &based, options, ignored, timings, &[&deps, &app])?;
    crate::mark("native library audit done");
    // Build steps, config, bill of materials, smoke run: until the image settles.
    let assembly = assembly::Assembly::new(
        request,
        &based,
        &plan,
        &venv,
        &layering,
        found.sources,
        tools,
    )
    .with_layers(system.as_ref(), stdlib, deps, &resolved.0, direct, target);
    // Another platform's image follows what this machine's image showed.
    let (started, app) = match &request.host_smoke {
        Some(observed) => assembly.follow_host(started, app, observed)?,
        None => (started, app),
    };
    let settled = smoke::until_settled(&assembly, started, app)?;
    let debug = debug::variant_if(request.debug, options, &based, &settled, &assembly)?;
    Ok(report(settled, plan, based, resolved, system, debug))
}

/// What the install and app-layer stages read.
struct Stages<'a> {
    plan: &'a Plan,
    venv: &'a crate::wheel::Venv,
    layering: &'a layers::Layering<'a>,
    sources: &'a crate::builder::sdist::SourceBuilder<'a>,
    downloads: &'a Http,
}

/// The pins and how the app starts with them, and where the pins came from.
type Resolved = (start::Decision, crate::resolve::app::PinSource);

impl Stages<'_> {
    /// The venv and app layers for `decision`'s pins and start; meanwhile
    /// the standard library's bytecode (it depends on the base alone) and
    /// the base's dpkg records for the bill of materials (remembered per
    /// layer: the real reading is once).
    fn made_with_stdlib_meanwhile(
        &self,
        based: &base::Based,
        compiler: Option<&crate::builder::bytecode::Compiler>,
        decision: &start::Decision,
    ) -> Result<(Option<LayerReport>, LayerReport, LayerReport)> {
        let cache = self.layering.cache;
        std::thread::scope(|scope| {
            let epoch = self.layering.epoch;
            let stdlib = compiler
                .map(|c| scope.spawn(move || bytecode::stdlib_layer_marked(c, &based.base, epoch)));
            let records = scope.spawn(|| crate::sbom::os_packages(cache, &based.base.image.layers));
            let made = self.made(decision);
            // Only a head start: a failure is met again, and said, when the
            // bill of materials is made.
            let _ = records.join();
            let stdlib = stdlib.map(bytecode::joined).transpose();
            let (deps, app) = made?;
            Ok((stdlib?, deps, app))
        })
    }

    /// Install (the venv's layer) → the app's layer.
    fn made(&self, decision: &start::Decision) -> Result<(LayerReport, LayerReport)> {
        let l = self.layering;
        let deps = install::deps_layer(l, self.downloads, self.sources, &decision.pins, self.venv)?;
        crate::mark("venv layer written");
        let app = app_layer::app_layer(l, self.plan, &decision.started, self.venv, self.sources)?;
        crate::mark("app layer written");
        Ok((deps, app))
    }
}

/// The start's warnings (once, for the first platform built).
fn say_warnings(request: &BuildRequest, started: &crate::project::start::Started) {
    if request.plan_warnings {
        for warning in &started.warnings {
            eprintln!("warning: {warning}");
        }
    }
}

/// What the build made and decided, for the caller to publish and print.
fn report(
    settled: smoke::Settled,
    plan: Plan,
    based: base::Based,
    (pins, pin_source, added_server): (
        Vec<crate::resolve::Pin>,
        crate::resolve::app::PinSource,
        Option<AddedServer>,
    ),
    system: Option<(
        LayerReport,
        Vec<crate::base::system_libraries::AddedPackage>,
    )>,
    debug: Option<crate::oci::Image>,
) -> BuildReport {
    BuildReport {
        image: settled.image,
        plan,
        start: settled.started,
        added_server,
        base: based.base,
        pins,
        pin_source,
        layers: settled.layers,
        smoke: settled.smoke,
        held: settled.held,
        system_packages: system.map(|s| s.1).unwrap_or_default(),
        sbom: settled.sbom,
        debug,
        step_layers: settled.step_layers,
    }
}
