//! `pypack rebase`: a pypack image moved onto a new base (a security update
//! of its Debian packages, say) without a rebuild. The base's layers are
//! replaced by the new base's; the venv and app layers are kept byte for
//! byte; the two layers made from the base are made again (the standard
//! library's bytecode, from the new base's sources; the bill of materials,
//! with the new base's packages). Refused when the interpreter or the C
//! library would change: the venv was built for them.

use crate::base::BuiltBase;
use crate::build::{
    BASE_LAYERS_ANNOTATION, BASE_LIBC_ANNOTATION, BASE_PYTHON_ANNOTATION, LayerReport,
};
use crate::cache::Cache;
use crate::oci::image::{self, Image, LayerSpec};
use crate::oci::layer::{EntryKind, read_layer};
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;

mod command;
mod outdated;

pub use crate::inspect::ImageSource;
pub use command::{PlannedRebase, RebaseReport, RebaseRequest, plan};
pub use outdated::{OutdatedReport, OutdatedRequest, outdated};

/// What a rebase made, and of which layers.
pub struct Rebased {
    pub image: Image,
    /// One line per layer above the base: kept, or made again and why.
    pub layers: Vec<String>,
    /// The bill of materials made again for the new base.
    pub sbom: Option<crate::sbom::Sbom>,
}

/// How the layers the base decides are made again for the new base.
pub struct Remake<'a> {
    /// The new base's standard library bytecode layer (`None`: it cannot
    /// be compiled here; the image then has none, and starts slower).
    pub stdlib: &'a dyn Fn() -> Result<Option<LayerReport>>,
    pub epoch: u64,
}

/// What a pypack image records about its base.
pub struct RecordedBase {
    /// How many of its layers are the base's.
    pub layers: usize,
    /// `/usr/bin/python3.11 3.11.2`
    pub python: String,
    /// `glibc 2.36`
    pub libc: String,
    /// All of the manifest's annotations.
    pub annotations: BTreeMap<String, String>,
}

/// What `image` says about its base, or an error saying it cannot be rebased.
pub fn recorded_base(image: &Image) -> Result<RecordedBase> {
    let manifest: serde_json::Value = serde_json::from_slice(&image.manifest)?;
    let annotations: BTreeMap<String, String> =
        serde_json::from_value(manifest["annotations"].clone()).unwrap_or_default();
    let recorded = |key: &str| {
        annotations.get(key).cloned().with_context(|| {
            format!(
                "the image does not say what its base is (no {key} annotation): it was not built by \
                 pypack, or by one older than rebase; rebuild it with `pypack build`"
            )
        })
    };
    Ok(RecordedBase {
        layers: recorded(BASE_LAYERS_ANNOTATION)?
            .parse()
            .context("a bad base layer count annotation")?,
        python: recorded(BASE_PYTHON_ANNOTATION)?,
        libc: recorded(BASE_LIBC_ANNOTATION)?,
        annotations: annotations.clone(),
    })
}

/// `image` (a pypack image, its blobs in the cache) on `new_base`.
pub fn rebase(
    cache: &Cache,
    image: &Image,
    new_base: &BuiltBase,
    base_name: &str,
    remake: &Remake,
) -> Result<Rebased> {
    let RecordedBase {
        layers: base_layers,
        python,
        libc,
        annotations,
    } = recorded_base(image)?;
    check_same_runtime(new_base, &python, &libc)?;
    if new_base.image.platform != image.platform {
        bail!(
            "the image is for {} and the new base for {}: pass --platform {}",
            image.platform,
            new_base.image.platform,
            image.platform
        );
    }
    let history = history_of(image)?;
    if base_layers > image.layers.len() {
        bail!("the image has fewer layers than its base annotation says");
    }
    let mut layers = Vec::new();
    let mut said = Vec::new();
    let mut sbom = None;
    for (blob, created_by) in image.layers.iter().zip(&history).skip(base_layers) {
        if created_by.starts_with("pypack: bytecode of ") {
            match (remake.stdlib)()? {
                Some(layer) => {
                    said.push(format!("made again: {}", layer.what));
                    layers.push(LayerSpec {
                        blob: layer.blob,
                        created_by: layer.what,
                    });
                }
                None => said.push(
                    "dropped: the standard library's bytecode (it cannot be compiled here; the image starts slower)"
                        .into(),
                ),
            }
        } else if created_by.starts_with("pypack: bill of materials") {
            let system: Vec<_> = image
                .layers
                .iter()
                .zip(&history)
                .filter(|(_, h)| h.contains("Debian packages for libraries"))
                .map(|(b, _)| b.clone())
                .collect();
            let (documents, layer) =
                sbom_again(cache, blob, new_base, &system, image, remake.epoch)?;
            said.push(format!("made again: {}", layer.created_by));
            layers.push(layer);
            sbom = Some(documents);
        } else {
            said.push(format!("kept: {created_by}"));
            layers.push(LayerSpec {
                blob: blob.clone(),
                created_by: created_by.clone(),
            });
        }
    }
    let mut container = image::container_config_of(image)?;
    container.labels.insert(
        "org.opencontainers.image.base.digest".into(),
        new_base.image.manifest_digest.clone(),
    );
    let mut annotations = annotations;
    annotations.insert(
        "org.opencontainers.image.base.digest".into(),
        new_base.image.manifest_digest.clone(),
    );
    annotations.insert(
        "org.opencontainers.image.base.name".into(),
        base_name.into(),
    );
    annotations.insert(
        BASE_LAYERS_ANNOTATION.into(),
        new_base.image.layers.len().to_string(),
    );
    let rebased = image::extend(
        cache,
        &new_base.image,
        &layers,
        &container,
        remake.epoch,
        &annotations,
    )?;
    Ok(Rebased {
        image: rebased,
        layers: said,
        sbom,
    })
}

/// Refuses a new base whose interpreter or C library differs from the
/// ones the image was built on (`python`: `/usr/bin/python3.11 3.11.2`).
fn check_same_runtime(new_base: &BuiltBase, python: &str, libc: &str) -> Result<()> {
    let target = new_base.target()?;
    let new_python = format!(
        "{} {}",
        new_base.python_executable,
        target.python_full_version()
    );
    if new_python != python {
        bail!(
            "the new base has Python {new_python} where the image was built on {python}: its venv \
             and bytecode are for that interpreter, so a rebase cannot keep them; rebuild with \
             `pypack build` on the new base"
        );
    }
    let new_libc = target.libc.to_string();
    if new_libc != libc {
        bail!(
            "the new base has {new_libc} where the image was built on {libc}: its wheels were \
             chosen for that C library; rebuild with `pypack build` on the new base"
        );
    }
    Ok(())
}

/// `created_by` of each layer, from the image's history.
fn history_of(image: &Image) -> Result<Vec<String>> {
    let config: serde_json::Value = serde_json::from_slice(&image.config)?;
    let history: Vec<String> = config["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| !h["empty_layer"].as_bool().unwrap_or(false))
        .map(|h| h["created_by"].as_str().unwrap_or("").to_string())
        .collect();
    if history.len() != image.layers.len() {
        bail!(
            "the image's history lists {} layers and its manifest {}",
            history.len(),
            image.layers.len()
        );
    }
    Ok(history)
}

/// The bill of materials layer again: the Python packages and the app as
/// the old one lists them, the Debian packages of the new base.
fn sbom_again(
    cache: &Cache,
    old: &crate::oci::LayerBlob,
    new_base: &BuiltBase,
    system_layers: &[crate::oci::LayerBlob],
    image: &Image,
    epoch: u64,
) -> Result<(crate::sbom::Sbom, LayerSpec)> {
    let data = cache.read_blob(crate::digest::strip_sha256(&old.digest)?)?;
    let entries = read_layer(&data).context("reading the image's bill of materials")?;
    let cyclonedx = entries
        .iter()
        .find_map(|e| match &e.kind {
            EntryKind::File(data)
                if e.path.trim_start_matches("./") == crate::sbom::CYCLONEDX_PATH =>
            {
                Some(data.clone())
            }
            _ => None,
        })
        .context("the bill of materials layer has no CycloneDX document")?;
    let mut inventory = crate::sbom::Inventory::from_cyclonedx(&cyclonedx, image.platform, epoch)?;
    let (os, distro) = crate::sbom::os_packages_on(cache, &new_base.image, system_layers)?;
    inventory.os = os;
    inventory.distro = distro;
    let (documents, blob, created_by) = crate::sbom::layer(cache, &inventory)?;
    Ok((documents, LayerSpec { blob, created_by }))
}
