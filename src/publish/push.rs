//! Registry pushes: an image (its blobs mounted from the base's repository
//! where they are there already), an index of several platforms' images,
//! and an image's bill of materials as artifacts referring to it.

use crate::cache::Cache;
use crate::oci::{Image, ImageIndex};
use crate::registry::{CredentialSources, PushReport, Reference, Registry};
use crate::sbom::Sbom;
use anyhow::{Context, Result};

/// A client for `reference`'s registry, with the host's credentials for it.
pub fn connect(reference: &Reference, plain_http: bool) -> Result<Registry> {
    let credentials = CredentialSources::from_host().lookup(&reference.registry)?;
    Registry::connect(reference, plain_http, credentials)
}

/// Pushes `image` to `reference`, mounting blobs from the repository
/// `mount_from` of the same registry where it has them.
pub fn push_image(
    cache: &Cache,
    image: &Image,
    reference: &Reference,
    plain_http: bool,
    mount_from: Option<&str>,
) -> Result<PushReport> {
    connect(reference, plain_http)?.push_mounting(cache, image, mount_from)
}

/// Pushes every platform's image of `index`, then the index, to `reference`.
pub fn push_index(
    cache: &Cache,
    index: &ImageIndex,
    reference: &Reference,
    plain_http: bool,
) -> Result<PushReport> {
    connect(reference, plain_http)?.push_index(cache, index, None)
}

/// `sbom`'s two documents, pushed as artifacts referring to `image`.
pub fn push_sbom_of(
    cache: &Cache,
    image: &Image,
    sbom: &Sbom,
    reference: &Reference,
    plain_http: bool,
) -> Result<()> {
    let registry = connect(reference, plain_http)?;
    for (media_type, data) in [
        (crate::sbom::SPDX_MEDIA_TYPE, &sbom.spdx),
        (crate::sbom::CYCLONEDX_MEDIA_TYPE, &sbom.cyclonedx),
    ] {
        registry
            .push_referrer(cache, image, media_type, data, &sbom.created)
            .with_context(|| format!("pushing the bill of materials of {reference}"))?;
    }
    Ok(())
}

/// Each image's bill of materials, pushed as two artifacts referring to it.
pub fn push_sbom<'a>(
    cache: &Cache,
    images: impl IntoIterator<Item = (&'a Image, &'a Sbom)>,
    reference: &Reference,
    plain_http: bool,
) -> Result<()> {
    for (image, sbom) in images {
        push_sbom_of(cache, image, sbom, reference, plain_http)?;
    }
    Ok(())
}

/// The repository of `base_image` (a reference as given), when it is in
/// `reference`'s registry but another repository: its blobs can be mounted
/// there rather than uploaded.
pub fn mount_source(base_image: Option<&str>, reference: &Reference) -> Option<String> {
    base_image
        .and_then(|b| Reference::parse(b).ok())
        .filter(|b| b.registry == reference.registry && b.repository != reference.repository)
        .map(|b| b.repository)
}
