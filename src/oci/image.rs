//! Image config and manifest. Built with oci-spec's types, then written as
//! canonical JSON (keys sorted) because oci-spec keeps labels and annotations
//! in hash maps whose order would change the digest from run to run.

use super::layer::{LAYER_MEDIA_TYPE, LayerBlob};
use crate::cache::Cache;
use crate::digest::strip_sha256;
use crate::platform::Platform;
use anyhow::{Context, Result};
use oci_spec::image::{
    Arch, ConfigBuilder, DescriptorBuilder, Digest, HistoryBuilder, ImageConfiguration,
    ImageConfigurationBuilder, ImageManifest, ImageManifestBuilder, MediaType, Os, RootFsBuilder,
};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

/// What a container started from the image gets.
#[derive(Debug, Clone, Default)]
pub struct ContainerConfig {
    pub env: Vec<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub exposed_ports: Vec<String>,
}

/// A layer and the history line that says what it holds.
#[derive(Debug, Clone)]
pub struct LayerSpec {
    pub blob: LayerBlob,
    pub created_by: String,
}

/// An image whose blobs are all in the cache.
#[derive(Debug, Clone)]
pub struct Image {
    pub manifest: Vec<u8>,
    pub manifest_digest: String,
    pub config: Vec<u8>,
    pub config_digest: String,
    pub layers: Vec<LayerBlob>,
    pub platform: Platform,
}

impl Image {
    pub fn uncompressed_size(&self) -> u64 {
        self.layers.iter().map(|l| l.uncompressed_size).sum()
    }
    pub fn compressed_size(&self) -> u64 {
        self.layers.iter().map(|l| l.size).sum()
    }
}

/// Writes config and manifest blobs for `layers` into the cache.
pub fn assemble(
    cache: &Cache,
    platform: Platform,
    container: &ContainerConfig,
    layers: &[LayerSpec],
    created: u64,
    annotations: &BTreeMap<String, String>,
) -> Result<Image> {
    let created = rfc3339(created);
    let config = image_config(platform, container, layers, &created)?;
    let config_bytes = canonical_json(&config)?;
    let config_hex = cache.put_bytes(&config_bytes)?;

    let layer_descriptors = layers
        .iter()
        .map(|l| {
            descriptor(
                MediaType::Other(LAYER_MEDIA_TYPE.into()),
                &l.blob.digest,
                l.blob.size,
                None,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let mut manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(
            MediaType::ImageConfig,
            &format!("sha256:{config_hex}"),
            config_bytes.len() as u64,
            None,
        )?)
        .layers(layer_descriptors)
        .build()?;
    if !annotations.is_empty() {
        manifest.set_annotations(Some(annotations.clone().into_iter().collect()));
    }
    let manifest_bytes = canonical_json(&manifest)?;
    let manifest_hex = cache.put_bytes(&manifest_bytes)?;
    Ok(Image {
        manifest: manifest_bytes,
        manifest_digest: format!("sha256:{manifest_hex}"),
        config: config_bytes,
        config_digest: format!("sha256:{config_hex}"),
        layers: layers.iter().map(|l| l.blob.clone()).collect(),
        platform,
    })
}

fn image_config(
    platform: Platform,
    container: &ContainerConfig,
    layers: &[LayerSpec],
    created: &str,
) -> Result<ImageConfiguration> {
    let mut runtime = ConfigBuilder::default().build()?;
    let some_vec = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    runtime.set_env(some_vec(&container.env));
    runtime.set_user(container.user.clone());
    runtime.set_working_dir(container.working_dir.clone());
    runtime.set_entrypoint(some_vec(&container.entrypoint));
    runtime.set_cmd(some_vec(&container.cmd));
    runtime.set_exposed_ports(some_vec(&container.exposed_ports));
    if !container.labels.is_empty() {
        runtime.set_labels(Some(
            container
                .labels
                .clone()
                .into_iter()
                .collect::<HashMap<_, _>>(),
        ));
    }
    let history = layers
        .iter()
        .map(|l| {
            HistoryBuilder::default()
                .created(created.to_string())
                .created_by(l.created_by.clone())
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(
            layers
                .iter()
                .map(|l| l.blob.diff_id.clone())
                .collect::<Vec<_>>(),
        )
        .build()?;
    let mut config = ImageConfigurationBuilder::default()
        .created(created.to_string())
        .architecture(oci_arch(platform))
        .os(Os::Linux)
        .config(runtime)
        .rootfs(rootfs)
        .history(history)
        .build()?;
    if let Some(variant) = platform.oci_variant() {
        config.set_variant(Some(variant.to_string()));
    }
    Ok(config)
}

fn oci_arch(platform: Platform) -> Arch {
    match platform.arch {
        crate::platform::Arch::Amd64 => Arch::Amd64,
        crate::platform::Arch::Arm64 => Arch::ARM64,
    }
}

pub fn descriptor(
    media_type: MediaType,
    digest: &str,
    size: u64,
    annotations: Option<BTreeMap<String, String>>,
) -> Result<oci_spec::image::Descriptor> {
    let mut d = DescriptorBuilder::default()
        .media_type(media_type)
        .digest(Digest::from_str(digest).with_context(|| format!("bad digest {digest}"))?)
        .size(size)
        .build()?;
    if let Some(a) = annotations {
        d.set_annotations(Some(a.into_iter().collect()));
    }
    Ok(d)
}

/// JSON with every object's keys sorted: serde_json's map is ordered.
pub fn canonical_json(value: &impl Serialize) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(&serde_json::to_value(value)?)?)
}

/// The runtime settings recorded in an image's config.
pub fn container_config_of(image: &Image) -> Result<ContainerConfig> {
    let config = ImageConfiguration::from_reader(image.config.as_slice())?;
    let Some(c) = config.config() else {
        return Ok(ContainerConfig::default());
    };
    Ok(ContainerConfig {
        env: c.env().clone().unwrap_or_default(),
        user: c.user().clone(),
        working_dir: c.working_dir().clone(),
        entrypoint: c.entrypoint().clone().unwrap_or_default(),
        cmd: c.cmd().clone().unwrap_or_default(),
        labels: c.labels().clone().unwrap_or_default().into_iter().collect(),
        exposed_ports: c.exposed_ports().clone().unwrap_or_default(),
    })
}

/// `base`'s layers (unchanged, with their history) followed by `layers`,
/// with `container` as the new image's runtime settings.
pub fn extend(
    cache: &Cache,
    base: &Image,
    layers: &[LayerSpec],
    container: &ContainerConfig,
    created: u64,
    annotations: &BTreeMap<String, String>,
) -> Result<Image> {
    let config = ImageConfiguration::from_reader(base.config.as_slice())?;
    let history: Vec<String> = config
        .history()
        .clone()
        .unwrap_or_default()
        .iter()
        .filter(|h| !h.empty_layer().unwrap_or(false))
        .map(|h| h.created_by().clone().unwrap_or_default())
        .collect();
    let mut all: Vec<LayerSpec> = base
        .layers
        .iter()
        .enumerate()
        .map(|(i, blob)| LayerSpec {
            blob: blob.clone(),
            created_by: history.get(i).cloned().unwrap_or_default(),
        })
        .collect();
    all.extend_from_slice(layers);
    assemble(cache, base.platform, container, &all, created, annotations)
}

/// Reads an image back from the cache by its manifest digest.
pub fn load(cache: &Cache, manifest_digest: &str, platform: Platform) -> Result<Image> {
    let manifest_bytes = cache.read_blob(strip_sha256(manifest_digest)?)?;
    let manifest = ImageManifest::from_reader(manifest_bytes.as_slice())?;
    let config_digest = manifest.config().digest().to_string();
    let config_bytes = cache.read_blob(strip_sha256(&config_digest)?)?;
    let config = ImageConfiguration::from_reader(config_bytes.as_slice())?;
    let diff_ids = config.rootfs().diff_ids();
    let mut layers = Vec::new();
    for (d, diff_id) in manifest.layers().iter().zip(diff_ids) {
        let digest = d.digest().to_string();
        cache.verify_blob(strip_sha256(&digest)?)?;
        layers.push(LayerBlob {
            digest,
            diff_id: diff_id.clone(),
            size: d.size(),
            uncompressed_size: 0,
        });
    }
    Ok(Image {
        manifest: manifest_bytes,
        manifest_digest: manifest_digest.to_string(),
        config: config_bytes,
        config_digest,
        layers,
        platform,
    })
}

/// Seconds since 1970 → `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, proleptic Gregorian).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::layer::{Entry, write_layer};

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(315_532_800), "1980-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn config_json_is_stable_with_many_labels() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(dir.path())).unwrap();
        let blob = write_layer(&cache, &[Entry::dir("tmp", 0o1777)], 0).unwrap();
        let layers = [LayerSpec {
            blob,
            created_by: "test".into(),
        }];
        let mut container = ContainerConfig::default();
        for i in 0..50 {
            container.labels.insert(format!("label.{i}"), i.to_string());
        }
        container.exposed_ports = vec!["8000/tcp".into()];
        let platform = Platform::parse("linux/arm64").unwrap();
        let a = assemble(&cache, platform, &container, &layers, 0, &BTreeMap::new()).unwrap();
        for _ in 0..5 {
            let b = assemble(&cache, platform, &container, &layers, 0, &BTreeMap::new()).unwrap();
            assert_eq!(a.manifest_digest, b.manifest_digest);
        }
        let config: serde_json::Value = serde_json::from_slice(&a.config).unwrap();
        assert_eq!(config["architecture"], "arm64");
        assert_eq!(config["variant"], "v8");
        assert_eq!(
            config["config"]["ExposedPorts"]["8000/tcp"],
            serde_json::json!({})
        );
        let loaded = load(&cache, &a.manifest_digest, platform).unwrap();
        assert_eq!(loaded.layers[0].digest, a.layers[0].digest);
    }
}
