//! What every layer-making stage shares: the settings a build's layers are
//! written with, and the cache of layers by what went into them.

use super::report::LayerReport;
use crate::builder::bytecode::Compiler;
use crate::cache::Cache;
use crate::oci::image::LayerSpec;
use crate::oci::layer::{Entry, LayerBlob, write_layer};
use crate::python::Target;
use anyhow::Result;

/// What the layers of one build are made with.
pub(super) struct Layering<'a> {
    pub(super) cache: &'a Cache,
    pub(super) compiler: Option<&'a Compiler<'a>>,
    pub(super) epoch: u64,
    pub(super) verbose: bool,
    /// The target's ELF machine, for the native library audit.
    pub(super) machine: u16,
    /// Time spent reading the new layers' ELF files (part of the audit's cost).
    pub(super) scan_time: std::cell::Cell<std::time::Duration>,
}

impl<'a> Layering<'a> {
    pub(super) fn new(
        cache: &'a Cache,
        compiler: Option<&'a Compiler<'a>>,
        epoch: u64,
        verbose: bool,
        target: &Target,
    ) -> Layering<'a> {
        Layering {
            cache,
            compiler,
            epoch,
            verbose,
            machine: target.platform.elf_machine(),
            scan_time: Default::default(),
        }
    }

    /// Writes a new layer, remembers it under `key`, and keeps what its
    /// ELF files need for the audit (while the entries are in memory).
    pub(super) fn write(
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

/// The key a layer is remembered under: what went into it, and how its
/// bytes are made.
fn layer_key(key: &str) -> String {
    format!("layer bytes {}\n{key}", crate::oci::layer::BYTES_FORMAT)
}

pub(super) fn cached_layer(cache: &Cache, key: &str) -> Option<LayerBlob> {
    let text = cache.get_ref("layer", &layer_key(key))?;
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

pub(super) fn remember_layer(cache: &Cache, key: &str, blob: &LayerBlob) -> Result<()> {
    let record = serde_json::json!({
        "digest": blob.digest, "diff_id": blob.diff_id, "size": blob.size, "uncompressed_size": blob.uncompressed_size,
    });
    cache.set_ref("layer", &layer_key(key), &record.to_string())
}

/// The layers as the image's manifest and history list them.
pub(super) fn specs(layers: &[LayerReport]) -> Vec<LayerSpec> {
    layers
        .iter()
        .map(|l| LayerSpec {
            blob: l.blob.clone(),
            created_by: l.what.clone(),
        })
        .collect()
}
