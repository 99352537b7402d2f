//! An image named on the command line: a layout or archive on this
//! machine, or a registry reference (for `pypack rebase`, `pypack base
//! outdated` and `pypack sbom`).

use crate::cache::Cache;
use crate::oci::Image;
use crate::platform::Platform;
use crate::registry::{CredentialSources, Reference, RegistriesConf, Registry};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// Where an image came from.
pub enum ImageSource {
    /// An OCI layout directory, an oci-archive or a docker-archive.
    Local(PathBuf),
    Registry(Reference),
}

impl ImageSource {
    /// A path that exists, else a reference with a registry in it.
    pub fn parse(text: &str) -> Result<ImageSource> {
        let path = Path::new(text);
        if path.exists() {
            return Ok(ImageSource::Local(path.to_path_buf()));
        }
        if text.contains('/') && !text.starts_with(['.', '/']) {
            return Ok(ImageSource::Registry(
                RegistriesConf::from_host().resolve(text)?,
            ));
        }
        bail!(
            "{text} is neither an image layout or archive on this machine nor a registry reference"
        )
    }

    /// The image (for `platform`, of an index), its blobs in the cache.
    pub fn load(&self, cache: &Cache, platform: Platform, plain_http: bool) -> Result<Image> {
        match self {
            ImageSource::Local(path) => super::load_image(cache, path, platform),
            ImageSource::Registry(reference) => pull(reference, cache, platform, plain_http),
        }
    }

    /// The file at `path` in the image (for `platform`, of an index); `None`
    /// when it has none. `cache` is opened only for a registry's image.
    pub fn file(
        &self,
        platform: Platform,
        path: &str,
        plain_http: bool,
        cache: &dyn Fn() -> Result<Cache>,
    ) -> Result<Option<Vec<u8>>> {
        match self {
            ImageSource::Local(local) => super::image_file(local, platform, path),
            ImageSource::Registry(reference) => {
                let cache = cache()?;
                let image = pull(reference, &cache, platform, plain_http)?;
                super::cached_image_file(&cache, &image, path)
            }
        }
    }
}

/// `reference`'s image for `platform`, pulled into the cache.
pub fn pull(
    reference: &Reference,
    cache: &Cache,
    platform: Platform,
    plain_http: bool,
) -> Result<Image> {
    let credentials = CredentialSources::from_host().lookup(&reference.registry)?;
    Registry::connect(reference, plain_http, credentials)?
        .pull(cache, platform)
        .with_context(|| format!("pulling {reference}"))
}

/// The bill of materials (`path`: SPDX_PATH or CYCLONEDX_PATH) pypack put
/// in `image` (as [`ImageSource::parse`] reads it), for `platform` (default:
/// this machine's); an error says when the image has none.
pub fn sbom_document(
    image: &str,
    path: &str,
    platform: Option<&str>,
    insecure_registry: bool,
    cache: &dyn Fn() -> Result<Cache>,
) -> Result<Vec<u8>> {
    let platform = platform.map_or_else(|| Ok(Platform::host()), Platform::parse)?;
    let source = ImageSource::parse(image)?;
    source.file(platform, path, insecure_registry, cache)?.with_context(|| {
        format!("{image} holds no /{path}: it was not built by pypack, or by a pypack without bills of materials")
    })
}
