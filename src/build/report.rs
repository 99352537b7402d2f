//! What a build returns: the image, what was decided and by which rule, the
//! layers and the bill of materials.

use super::start::AddedServer;
use crate::base::BuiltBase;
use crate::base::system_libraries::AddedPackage;
use crate::builder::smoke::Outcome;
use crate::oci::image::Image;
use crate::oci::layer::LayerBlob;
use crate::project::plan::Plan;
use crate::project::start::Started;
use crate::resolve::Pin;
use crate::resolve::app::PinSource;
use crate::sbom::Sbom;

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
