//! One platform's image published: written or loaded, its bill of
//! materials written as files, then pushed with its referrers and its
//! debug variant.

use super::built::Built;
use super::destination::Destination;
use super::destination::{load_into, write_image};
use super::names::{debug_reference, short_name};
use super::push::{mount_source, push_image, push_sbom_of};
use super::request::{Published, Request, said_pushed};
use super::sbom_files::write_sbom;
use crate::cache::Cache;
use crate::oci::layout::full_tag;
use crate::registry::Reference;
use anyhow::Result;

/// Puts `built` where `request` says, in this order: the destination here,
/// the bill of materials files, then the registry.
pub fn publish_image(cache: &Cache, built: &mut Built, request: &Request) -> Result<Published> {
    let tag = request.tag.as_str();
    let mut published = Published {
        went: Vec::new(),
        pushed: None,
        loaded_into: None,
    };
    match &request.destination {
        Destination::Write(output) => {
            write_image(cache, built, tag, output)?;
            published.went.push(output.describe());
        }
        Destination::Load(engine) => {
            load_into(engine, cache, built, tag)?;
            published.went.push(format!(
                "loaded into {} as {}",
                engine.program,
                full_tag(tag)
            ));
            published.loaded_into = Some(engine.clone());
        }
        Destination::PushOnly => {}
    }
    if let Some(dir) = &request.sbom_dir {
        write_sbom(dir, short_name(tag), built.sbom)?;
    }
    crate::mark("image at its destination");
    if let Some(reference) = &request.push {
        let pushed = push_with_referrers(cache, built, reference, request)?;
        published.went.push(said_pushed(reference, &pushed));
        published.pushed = Some(pushed);
    }
    Ok(published)
}

/// Pushes the image, its bill of materials as referrers, and its debug
/// variant (under the `-debug` tag).
fn push_with_referrers(
    cache: &Cache,
    built: &Built,
    reference: &Reference,
    request: &Request,
) -> Result<crate::registry::PushReport> {
    // Blobs of a base pulled from the same registry can be mounted, not uploaded.
    let mount_from = mount_source(request.base_image.as_deref(), reference);
    let plain_http = request.plain_http;
    let pushed = push_image(
        cache,
        built.image,
        reference,
        plain_http,
        mount_from.as_deref(),
    )?;
    push_sbom_of(cache, built.image, built.sbom, reference, plain_http)?;
    if let Some(image) = built.debug {
        let debug = debug_reference(reference);
        push_image(cache, image, &debug, plain_http, mount_from.as_deref())?;
    }
    Ok(pushed)
}
