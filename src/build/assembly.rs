//! What every assembly of the image in one build uses, the same from the
//! first assembly to the one the smoke run settles on: the build steps,
//! the bill of materials, the image itself and its runs read it.

use super::app_layer::app_layer;
use super::base::Based;
use super::config::annotations;
use super::layers::Layering;
use super::observe;
use super::report::LayerReport;
use super::request::BuildRequest;
use super::tools::Tools;
use crate::base::system_libraries::AddedPackage;
use crate::builder::Engine;
use crate::builder::sdist::SourceBuilder;
use crate::builder::smoke::Observed;
use crate::cache::Cache;
use crate::oci::layer::LayerBlob;
use crate::platform::Platform;
use crate::project::plan::Plan;
use crate::project::start::Started;
use crate::python::Target;
use crate::resolve::Pin;
use crate::wheel::Venv;
use anyhow::Result;
use std::collections::BTreeMap;

pub(super) struct Assembly<'a> {
    pub(super) cache: &'a Cache,
    pub(super) based: &'a Based,
    pub(super) plan: &'a Plan,
    pub(super) venv: &'a Venv,
    pub(super) layering: &'a Layering<'a>,
    pub(super) sources: &'a SourceBuilder<'a>,
    /// The engine, and whether it can run this image (its platform is this machine's).
    pub(super) engine: Option<&'a Engine>,
    pub(super) runs_here: bool,
    /// `--smoke` / `--no-smoke`, and the smoke run's own settings.
    pub(super) smoke: Option<bool>,
    pub(super) smoke_env: &'a [String],
    /// The image goes into the engine once built.
    pub(super) loads: bool,
    /// The smoke run may run the image without the engine
    /// (`PYPACK_SMOKE_IN=engine` says no).
    pub(super) sandbox_allowed: bool,
    /// For another platform's image: this machine's build steps' layers.
    pub(super) host_steps: Option<&'a (Platform, Vec<LayerReport>)>,
    pub(super) as_root: bool,
    pub(super) epoch: u64,
    pub(super) annotations: BTreeMap<String, String>,
    /// The layers below the app's (system libraries, stdlib bytecode, venv):
    /// they stay whatever the smoke run sees.
    pub(super) lower: Vec<LayerReport>,
    pub(super) system_blobs: Vec<LayerBlob>,
    pub(super) pins: &'a [Pin],
    /// The names the app asks for itself (the bill of materials' direct dependencies).
    pub(super) direct: Vec<String>,
}

impl Assembly<'_> {
    /// The app's layer for the start `started` decided.
    pub(super) fn app_layer(&self, started: &Started) -> Result<LayerReport> {
        app_layer(self.layering, self.plan, started, self.venv, self.sources)
    }
}

impl<'a> Assembly<'a> {
    /// The assembly for the layers below the app's so far unknown.
    pub(super) fn new(
        request: &'a BuildRequest,
        based: &'a Based,
        plan: &'a Plan,
        venv: &'a Venv,
        layering: &'a Layering<'a>,
        sources: &'a SourceBuilder<'a>,
        tools: &'a Tools,
    ) -> Assembly<'a> {
        Assembly {
            cache: layering.cache,
            based,
            plan,
            venv,
            layering,
            sources,
            engine: tools.engine,
            runs_here: tools.runs_here,
            smoke: request.steps.smoke,
            smoke_env: &request.steps.smoke_env,
            loads: request.steps.loads,
            sandbox_allowed: (request.env)("PYPACK_SMOKE_IN").as_deref() != Some("engine"),
            host_steps: request.host_steps.as_ref(),
            as_root: request.as_root,
            epoch: request.base.epoch,
            annotations: BTreeMap::new(),
            lower: Vec::new(),
            system_blobs: Vec::new(),
            pins: &[],
            direct: Vec::new(),
        }
    }

    /// With the layers below the app's: the system libraries', the
    /// standard library's bytecode and the venv; the pins they hold, and
    /// the annotations the image carries for `target`.
    pub(super) fn with_layers(
        self,
        system: Option<&(LayerReport, Vec<AddedPackage>)>,
        stdlib: Option<LayerReport>,
        deps: LayerReport,
        pins: &'a [Pin],
        direct: Vec<String>,
        target: &Target,
    ) -> Assembly<'a> {
        let lower = system
            .map(|s| s.0.clone())
            .into_iter()
            .chain(stdlib)
            .chain([deps]);
        Assembly {
            annotations: annotations(self.plan, self.based, target),
            lower: lower.collect(),
            system_blobs: system.iter().map(|s| s.0.blob.clone()).collect(),
            pins,
            direct,
            ..self
        }
    }

    /// `started` and its app layer as they follow what this machine's
    /// image showed when it ran (`observed`), for another platform's image.
    pub(super) fn follow_host(
        &self,
        started: Started,
        app: LayerReport,
        observed: &Observed,
    ) -> Result<(Started, LayerReport)> {
        match observe::follow(&started, observed)? {
            Some(followed) => {
                let app = self.app_layer(&followed)?;
                Ok((followed, app))
            }
            None => Ok((started, app)),
        }
    }
}
