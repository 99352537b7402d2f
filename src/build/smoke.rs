//! The smoke stage: the image assembled (build steps, configuration, bill
//! of materials) and run once; what the run shows (the port, the paths the
//! app writes) is followed once: the image is made again and run again as
//! it really is.

use super::assembly::Assembly;
use super::config::container_config;
use super::layers::specs;
use super::observe;
use super::report::LayerReport;
use super::request::NONROOT;
use super::sbom::sbom_layer;
use super::steps::build_steps;
use crate::builder::engine::HeldImage;
use crate::builder::smoke::{self, Outcome, SmokeRun};
use crate::oci::image::{self, ContainerConfig, Image};
use crate::project::start::Started;
use crate::sandbox::Sandbox;
use crate::sbom::Sbom;
use anyhow::Result;

/// The image the smoke run settled on, and what made it.
pub(super) struct Settled {
    pub(super) image: Image,
    pub(super) container: ContainerConfig,
    pub(super) started: Started,
    pub(super) layers: Vec<LayerReport>,
    pub(super) step_layers: Vec<LayerReport>,
    pub(super) sbom: Sbom,
    /// What the smoke run found; `None` when it did not run.
    pub(super) smoke: Option<Outcome>,
    /// The image as the smoke run left it in the engine.
    pub(super) held: Option<HeldImage>,
}

/// The image for `started` with the app's layer `app`, run and followed
/// until what it shows is what it was made for.
pub(super) fn until_settled(a: &Assembly, started: Started, app: LayerReport) -> Result<Settled> {
    let (mut started, mut app) = (started, app);
    let mut step_layers: Option<Vec<LayerReport>> = None;
    // The first run is watched (the port, and as the image's user the
    // writes under /app); what it saw is followed once.
    let mut first_run = true;
    // The image a watched run followed: held until the next one is in the
    // engine (they share layers, which removing it now could take away).
    let mut followed_from: Option<HeldImage> = None;
    let mut steps_follow_writable = false;
    loop {
        let container = container_config(&a.based.base, a.plan, &started, a.as_root)?;
        // Build steps run in the image as it is so far; their output is one
        // more layer, placed below the app's, whose directories (and their
        // owners, /app's among them) it must not cover. Made again after a
        // follow only when it holds files under a path now writable.
        let steps = match &step_layers {
            Some(steps) if !steps_follow_writable => steps.clone(),
            _ => {
                let mut with_app = a.lower.clone();
                with_app.push(app.clone());
                build_steps(a, &with_app, &container, &started)?
            }
        };
        step_layers = Some(steps.clone());
        let (image, layers, sbom) = assemble(a, &steps, &app, &container)?;
        let (smoke, held) = run(a, &image, &container, &started, first_run)?;
        if first_run
            && let Some(outcome) = &smoke
            && let Some(followed) = observe::follow(&started, outcome.observed())?
        {
            say_followed(&started, &followed);
            if let Some(previous) = followed_from.take() {
                previous.release_in_background();
            }
            followed_from = held;
            steps_follow_writable =
                followed.writable != started.writable && !started.build_steps.is_empty();
            started = followed;
            app = a.app_layer(&started)?;
            first_run = false;
            continue;
        }
        if let Some(previous) = followed_from.take() {
            previous.release_in_background();
        }
        return Ok(Settled {
            image,
            container,
            started,
            layers,
            step_layers: steps,
            sbom,
            smoke,
            held,
        });
    }
}

/// The image: the lower layers, the build steps', the app's, and the
/// inventory of all of them as its last layer.
fn assemble(
    a: &Assembly,
    steps: &[LayerReport],
    app: &LayerReport,
    container: &ContainerConfig,
) -> Result<(Image, Vec<LayerReport>, Sbom)> {
    let mut built = a.lower.clone();
    built.extend(steps.iter().cloned());
    built.push(app.clone());
    crate::mark("build steps done");
    let (sbom, sbom_layer) = sbom_layer(
        a.cache,
        &a.based.base,
        &a.system_blobs,
        a.plan,
        a.pins,
        a.direct.clone(),
        a.epoch,
    )?;
    built.push(sbom_layer);
    let image = image::extend(
        a.cache,
        &a.based.base.image,
        &specs(&built),
        container,
        a.epoch,
        &a.annotations,
    )?;
    Ok((image, built, sbom))
}

/// The smoke run of `image`, when the engine can run it and it is not
/// turned off; the first run is watched as the image's user.
fn run(
    a: &Assembly,
    image: &Image,
    container: &ContainerConfig,
    started: &Started,
    first_run: bool,
) -> Result<(Option<Outcome>, Option<HeldImage>)> {
    let engine = match (a.engine, a.smoke) {
        (Some(engine), None | Some(true)) if a.runs_here => engine,
        _ => return Ok((None, None)),
    };
    // The layers below the build steps' stay from build to build: their
    // trees are kept in the cache for the next builds' smoke runs.
    let kept = a.based.base.image.layers.len() + a.lower.len();
    let ready = || Sandbox::prepare(a.cache, image, container, kept);
    let (outcome, held) = smoke::run(&SmokeRun {
        engine,
        sandbox: a
            .sandbox_allowed
            .then_some(&ready as &dyn Fn() -> Result<Sandbox>),
        load_meanwhile: a.loads,
        cache: a.cache,
        image,
        python: &a.venv.python(),
        probe: smoke::probe_for(
            &started.cmd.value,
            started.port.value,
            started.web,
            &started.smoke_host,
            (first_run && !a.as_root).then_some(NONROOT),
        ),
        env: a.smoke_env,
    })?;
    Ok((Some(outcome), held))
}

fn say_followed(started: &Started, followed: &Started) {
    eprintln!(
        "note: smoke run: {}; the image follows and runs again",
        observe::changes(started, followed)
    );
    if followed.writable.iter().any(|w| w.value == ".")
        && !started.writable.iter().any(|w| w.value == ".")
    {
        eprintln!(
            "warning: the app writes right into /app, so /app itself is made its own (the directory alone); \
             a directory of its own for such files (an SQLite database…) would keep the code read-only"
        );
    }
}
