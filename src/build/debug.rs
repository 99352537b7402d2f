//! The `--debug` variant: the image plus a static busybox, sharing every
//! layer below.

use super::assembly::Assembly;
use super::base::Based;
use super::smoke::Settled;
use crate::base::{BaseOptions, Recipe};
use crate::cache::Cache;
use crate::oci::image::{self, ContainerConfig, Image, LayerSpec};
use anyhow::{Context, Result};
use std::collections::BTreeMap;

/// The image plus a layer with a static busybox and `/busybox` on PATH:
/// the same layers below, so the image itself is unchanged. Busybox comes
/// from the recipe's suites, or for a registry base from debian12's (it is
/// static: it runs on any base).
fn debug_variant(
    options: &BaseOptions,
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
    let epoch = options.epoch;
    let options = BaseOptions {
        platform: image.platform,
        ..options.clone()
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
    image::extend(cache, image, &[layer], &container, epoch, annotations)
}

/// The debug variant when `--debug` asks for it.
pub(super) fn variant_if(
    asked: bool,
    options: &BaseOptions,
    based: &Based,
    settled: &Settled,
    assembly: &Assembly,
) -> Result<Option<Image>> {
    if !asked {
        return Ok(None);
    }
    let (image, container) = (&settled.image, &settled.container);
    let recipe = based.recipe.as_ref();
    debug_variant(
        options,
        recipe,
        image,
        container,
        &assembly.annotations,
        assembly.cache,
    )
    .map(Some)
}
