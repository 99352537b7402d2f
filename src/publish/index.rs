//! Several platforms' images published as one OCI image index (and their
//! debug variants as another): written, or this machine's image loaded
//! into an engine (which holds one platform), then pushed with each
//! image's bill of materials as referrers, then those written as files.

use super::built::Built;
use super::destination::Destination;
use super::destination::{load_into, write_index};
use super::names::{debug_reference, short_name};
use super::push::{push_index, push_sbom};
use super::request::{Published, Request, said_pushed};
use super::sbom_files::write_sbom;
use crate::cache::Cache;
use crate::oci::layout::full_tag;
use crate::oci::{ImageIndex, assemble_index};
use crate::platform::Platform;
use anyhow::{Context, Result};

/// What `publish_index` made, and where it went.
#[derive(Debug)]
pub struct PublishedIndex {
    pub index: ImageIndex,
    /// The debug variants' index, when the images have debug variants.
    pub debug_index: Option<ImageIndex>,
    pub published: Published,
}

/// Assembles the images of `builts` into one index and puts it where
/// `request` says; a load puts only this machine's image into the engine.
pub fn publish_index(
    cache: &Cache,
    builts: &mut [Built],
    request: &Request,
) -> Result<PublishedIndex> {
    let tag = request.tag.as_str();
    let index = assemble_index(cache, builts.iter().map(|b| b.image.clone()).collect())?;
    let debug_images: Vec<_> = builts.iter().filter_map(|b| b.debug.cloned()).collect();
    let debug_index = match debug_images.is_empty() {
        true => None,
        false => Some(assemble_index(cache, debug_images)?),
    };
    let mut published = Published {
        went: Vec::new(),
        pushed: None,
        loaded_into: None,
    };
    match &request.destination {
        Destination::Write(output) => {
            write_index(cache, &index, debug_index.as_ref(), tag, output)?;
            published.went.push(output.describe());
        }
        Destination::Load(engine) => {
            let host = Platform::host();
            let built = builts
                .iter_mut()
                .find(|b| b.image.platform == host)
                .with_context(|| format!("none of the images is for this machine ({host})"))?;
            load_into(engine, cache, built, tag)?;
            published.went.push(format!(
                "the {host} image loaded into {} as {} (an engine holds one platform)",
                engine.program,
                full_tag(tag)
            ));
            published.loaded_into = Some(engine.clone());
        }
        Destination::PushOnly => {}
    }
    if let Some(reference) = &request.push {
        let plain_http = request.plain_http;
        let pushed = push_index(cache, &index, reference, plain_http)?;
        if let Some(debug_index) = &debug_index {
            push_index(cache, debug_index, &debug_reference(reference), plain_http)?;
        }
        let images = builts.iter().map(|b| (b.image, b.sbom));
        push_sbom(cache, images, reference, plain_http)?;
        published.went.push(said_pushed(reference, &pushed));
        published.pushed = Some(pushed);
    }
    if let Some(dir) = &request.sbom_dir {
        for built in builts.iter() {
            let name = format!("{}-{}", short_name(tag), built.image.platform.oci_arch());
            write_sbom(dir, &name, built.sbom)?;
        }
    }
    Ok(PublishedIndex {
        index,
        debug_index,
        published,
    })
}
