//! The bill of materials stage: the image's SPDX and CycloneDX documents,
//! as its last layer.

use super::report::LayerReport;
use crate::base::BuiltBase;
use crate::cache::Cache;
use crate::oci::layer::LayerBlob;
use crate::project::plan::Plan;
use crate::resolve::Pin;
use crate::sbom::Sbom;
use anyhow::Result;

/// The image's bill of materials and the layer holding it.
pub(super) fn sbom_layer(
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
