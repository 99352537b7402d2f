//! An image index: one image per platform under one name, which a registry,
//! a layout or an oci-archive holds as a whole and an engine pulls the
//! entry of its own platform from.

use super::image::{Image, canonical_json};
use crate::cache::Cache;
use anyhow::{Result, bail};
use serde_json::json;

pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// The index and the images it lists (all their blobs in the cache).
#[derive(Debug, Clone)]
pub struct ImageIndex {
    pub manifest: Vec<u8>,
    pub digest: String,
    pub images: Vec<Image>,
}

/// An index of `images` (one per platform, in the order given), stored in
/// the cache. Nothing in it depends on the time or the machine.
pub fn assemble_index(cache: &Cache, images: Vec<Image>) -> Result<ImageIndex> {
    for (i, image) in images.iter().enumerate() {
        if images[..i].iter().any(|o| o.platform == image.platform) {
            bail!("internal: two images for {} in one index", image.platform);
        }
    }
    let manifests: Vec<serde_json::Value> = images
        .iter()
        .map(|image| {
            let mut platform = json!({
                "architecture": image.platform.oci_arch(),
                "os": image.platform.oci_os(),
            });
            if let Some(variant) = image.platform.oci_variant() {
                platform["variant"] = json!(variant);
            }
            json!({
                "mediaType": MANIFEST_MEDIA_TYPE,
                "digest": image.manifest_digest,
                "size": image.manifest.len(),
                "platform": platform,
            })
        })
        .collect();
    let manifest = canonical_json(&json!({
        "schemaVersion": 2,
        "mediaType": INDEX_MEDIA_TYPE,
        "manifests": manifests,
    }))?;
    let hex = cache.put_bytes(&manifest)?;
    Ok(ImageIndex {
        manifest,
        digest: format!("sha256:{hex}"),
        images,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::image::{ContainerConfig, LayerSpec, assemble};
    use crate::oci::layer::{Entry, write_layer};
    use crate::platform::Platform;
    use std::collections::BTreeMap;

    #[test]
    fn lists_each_platform_once_and_is_stable() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(dir.path())).unwrap();
        let blob = write_layer(&cache, &[Entry::dir("tmp", 0o1777)], 0).unwrap();
        let layers = [LayerSpec {
            blob,
            created_by: "test".into(),
        }];
        let images: Vec<Image> = Platform::ALL
            .iter()
            .map(|p| {
                assemble(
                    &cache,
                    *p,
                    &ContainerConfig::default(),
                    &layers,
                    0,
                    &BTreeMap::new(),
                )
                .unwrap()
            })
            .collect();
        let a = assemble_index(&cache, images.clone()).unwrap();
        let b = assemble_index(&cache, images.clone()).unwrap();
        assert_eq!(a.digest, b.digest);
        let v: serde_json::Value = serde_json::from_slice(&a.manifest).unwrap();
        assert_eq!(v["manifests"][1]["platform"]["architecture"], "arm64");
        assert_eq!(v["manifests"][1]["platform"]["variant"], "v8");
        assert_eq!(
            v["manifests"][0]["digest"],
            images[0].manifest_digest.as_str()
        );
        assert!(cache.has_blob(crate::digest::strip_sha256(&a.digest).unwrap()));
        let twice = vec![images[0].clone(), images[0].clone()];
        assert!(assemble_index(&cache, twice).is_err());
    }
}
