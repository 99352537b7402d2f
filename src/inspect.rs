//! `pypack inspect`: what is in an image written as an OCI layout, an
//! oci-archive or a docker-archive — layers and their sizes, the runtime
//! config, and the OS (dpkg status) and Python (dist-info) packages.

mod source;

pub use source::{ImageSource, pull, sbom_document};

use crate::oci::layer::{EntryKind, read_layer};
use crate::platform::Platform;
use anyhow::{Context, Result, bail};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;

#[derive(Debug, Serialize)]
pub struct Inspection {
    pub digest: Option<String>,
    pub platform: String,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub exposed_ports: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub layers: Vec<LayerInfo>,
    pub os_packages: Vec<(String, String)>,
    pub python_packages: Vec<(String, String)>,
}

#[derive(Debug, Serialize)]
pub struct LayerInfo {
    pub digest: String,
    pub size: u64,
    pub uncompressed_size: u64,
    pub created_by: String,
}

/// Reads the image at `path` (layout directory or archive file).
/// The manifest digest (for an OCI layout or archive), config and layers
/// of the image at `path`; of an index's images, `platform`'s.
fn image_parts(path: &Path, platform: Platform) -> Result<Parts> {
    let files = if path.is_dir() {
        read_dir_files(path)?
    } else {
        read_tar_files(path)?
    };
    if files.contains_key("index.json") {
        oci_parts(&files, platform)
    } else if files.contains_key("manifest.json") {
        docker_parts(&files)
    } else {
        bail!(
            "{} is neither an OCI image layout nor an image archive (no index.json or manifest.json)",
            path.display()
        );
    }
}

/// The image (`platform`'s, of an index) in the OCI layout or oci-archive
/// at `path`, its blobs copied into the cache with their digests checked.
pub fn load_image(
    cache: &crate::cache::Cache,
    path: &Path,
    platform: Platform,
) -> Result<crate::oci::Image> {
    let files = if path.is_dir() {
        read_dir_files(path)?
    } else {
        read_tar_files(path)?
    };
    if !files.contains_key("index.json") {
        bail!(
            "{} is not an OCI layout or oci-archive (a docker-archive keeps no annotations, which pypack needs here)",
            path.display()
        );
    }
    let (digest, config, layers) = oci_parts(&files, platform)?;
    let digest = digest.context("the index names no manifest")?;
    let manifest = blob(&files, &digest)?.clone();
    let stored = |data: &[u8], digest: &str| -> Result<()> {
        let hex = cache.put_bytes(data)?;
        if format!("sha256:{hex}") != digest {
            bail!(
                "{}: blob {digest} does not match its digest",
                path.display()
            );
        }
        Ok(())
    };
    stored(&manifest, &digest)?;
    let parsed: serde_json::Value = serde_json::from_slice(&config)?;
    let config_digest = format!("sha256:{}", crate::digest::sha256_hex(&config));
    cache.put_bytes(&config)?;
    let diff_ids = parsed["rootfs"]["diff_ids"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut blobs = Vec::new();
    for (i, (digest, data)) in layers.iter().enumerate() {
        stored(data, digest)?;
        blobs.push(crate::oci::LayerBlob {
            digest: digest.clone(),
            diff_id: diff_ids
                .get(i)
                .and_then(|d| d.as_str())
                .with_context(|| format!("{}: the config lists too few diff_ids", path.display()))?
                .to_string(),
            size: data.len() as u64,
            uncompressed_size: 0,
        });
    }
    let arch = parsed["architecture"].as_str().unwrap_or("");
    let variant = parsed["variant"]
        .as_str()
        .map(|v| format!("/{v}"))
        .unwrap_or_default();
    Ok(crate::oci::Image {
        manifest,
        manifest_digest: digest,
        config,
        config_digest,
        layers: blobs,
        platform: Platform::parse(&format!("linux/{arch}{variant}"))?,
    })
}

/// How many platforms' images the OCI layout or oci-archive at `path`
/// holds under its first name (1 for a single image).
pub fn platform_count(path: &Path) -> Result<usize> {
    let files = if path.is_dir() {
        read_dir_files(path)?
    } else {
        read_tar_files(path)?
    };
    let Some(index) = files.get("index.json") else {
        return Ok(1);
    };
    let index: serde_json::Value = serde_json::from_slice(index)?;
    let Some(digest) = index["manifests"][0]["digest"].as_str() else {
        return Ok(1);
    };
    let first: serde_json::Value = serde_json::from_slice(blob(&files, digest)?)?;
    Ok(first["manifests"].as_array().map_or(1, Vec::len))
}

/// The name (`org.opencontainers.image.ref.name`) an OCI layout gives its
/// first image.
pub fn ref_name(path: &Path) -> Option<String> {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path.join("index.json")).ok()?).ok()?;
    index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]
        .as_str()
        .map(str::to_string)
}

/// The bytes of the file at `file` (no leading `/`) in the image at
/// `path` (its topmost copy), or `None` when no layer has it.
pub fn image_file(path: &Path, platform: Platform, file: &str) -> Result<Option<Vec<u8>>> {
    let (_, _, layers) = image_parts(path, platform)?;
    for (digest, data) in layers.iter().rev() {
        let entries = read_layer(data).with_context(|| format!("reading layer {digest}"))?;
        if let Some(found) = file_in(&entries, file) {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// [`image_file`] for an image whose layers are in the cache.
pub fn cached_image_file(
    cache: &crate::cache::Cache,
    image: &crate::oci::Image,
    file: &str,
) -> Result<Option<Vec<u8>>> {
    for layer in image.layers.iter().rev() {
        let data = cache.read_blob(crate::digest::strip_sha256(&layer.digest)?)?;
        let entries =
            read_layer(&data).with_context(|| format!("reading layer {}", layer.digest))?;
        if let Some(found) = file_in(&entries, file) {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

fn file_in(entries: &[crate::oci::Entry], file: &str) -> Option<Vec<u8>> {
    entries.iter().find_map(|entry| match &entry.kind {
        EntryKind::File(data) if entry.path.trim_start_matches("./") == file => Some(data.clone()),
        _ => None,
    })
}

pub fn inspect(path: &Path) -> Result<Inspection> {
    let (manifest_digest, config_bytes, layer_blobs) = image_parts(path, Platform::host())?;
    let config: serde_json::Value =
        serde_json::from_slice(&config_bytes).context("the image config is not JSON")?;
    let c = &config["config"];
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let history: Vec<String> = config["history"]
        .as_array()
        .map(|h| {
            h.iter()
                .filter(|e| !e["empty_layer"].as_bool().unwrap_or(false))
                .map(|e| e["created_by"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    let mut inspection = Inspection {
        digest: manifest_digest,
        platform: format!(
            "{}/{}{}",
            config["os"].as_str().unwrap_or("?"),
            config["architecture"].as_str().unwrap_or("?"),
            config["variant"]
                .as_str()
                .map(|v| format!("/{v}"))
                .unwrap_or_default()
        ),
        user: c["User"].as_str().map(str::to_string),
        working_dir: c["WorkingDir"].as_str().map(str::to_string),
        entrypoint: strings(&c["Entrypoint"]),
        cmd: strings(&c["Cmd"]),
        env: strings(&c["Env"]),
        exposed_ports: c["ExposedPorts"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default(),
        labels: c["Labels"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        layers: Vec::new(),
        os_packages: Vec::new(),
        python_packages: Vec::new(),
    };
    let mut os = BTreeMap::new();
    let mut python = BTreeMap::new();
    for (i, (digest, data)) in layer_blobs.iter().enumerate() {
        let entries = read_layer(data).with_context(|| format!("reading layer {digest}"))?;
        let uncompressed = tar_size(data)?;
        for entry in &entries {
            let EntryKind::File(content) = &entry.kind else {
                continue;
            };
            if let Some(name) = entry
                .path
                .strip_prefix("var/lib/dpkg/status.d/")
                .filter(|n| !n.ends_with(".md5sums"))
            {
                os.insert(
                    name.to_string(),
                    field(content, "Version").unwrap_or_default(),
                );
            } else if entry.path.ends_with(".dist-info/METADATA")
                && entry.path.contains("-packages/")
                && let (Some(n), Some(v)) = (field(content, "Name"), field(content, "Version"))
            {
                python.insert(n, v);
            }
        }
        inspection.layers.push(LayerInfo {
            digest: digest.clone(),
            size: data.len() as u64,
            uncompressed_size: uncompressed,
            created_by: history.get(i).cloned().unwrap_or_default(),
        });
    }
    inspection.os_packages = os.into_iter().collect();
    inspection.python_packages = python.into_iter().collect();
    Ok(inspection)
}

/// Size of the layer's tar stream (what the config's diff_id hashes).
fn tar_size(data: &[u8]) -> Result<u64> {
    if data.starts_with(&[0x1f, 0x8b]) {
        Ok(std::io::copy(
            &mut flate2::read::GzDecoder::new(data),
            &mut std::io::sink(),
        )?)
    } else {
        Ok(data.len() as u64)
    }
}

/// A field of a metadata file's header block (which ends at the first blank line).
fn field(content: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(content);
    crate::debian::control::field(text.split("\n\n").next().unwrap_or(""), name)
}

type Files = HashMap<String, Vec<u8>>;

fn read_dir_files(dir: &Path) -> Result<Files> {
    let mut files = Files::new();
    for name in ["index.json", "oci-layout", "manifest.json"] {
        if let Ok(data) = std::fs::read(dir.join(name)) {
            files.insert(name.to_string(), data);
        }
    }
    let blobs = dir.join("blobs/sha256");
    if blobs.is_dir() {
        for entry in std::fs::read_dir(&blobs)? {
            let entry = entry?;
            files.insert(
                format!("blobs/sha256/{}", entry.file_name().to_string_lossy()),
                std::fs::read(entry.path())?,
            );
        }
    }
    Ok(files)
}

fn read_tar_files(path: &Path) -> Result<Files> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let not_tar = || {
        format!(
            "{} is not a tar archive (nor an OCI layout directory)",
            path.display()
        )
    };
    let mut archive = tar::Archive::new(file);
    let mut files = Files::new();
    for entry in archive.entries().with_context(not_tar)? {
        let mut entry = entry.with_context(not_tar)?;
        if entry.header().entry_type().is_file() {
            let name = entry
                .path()?
                .to_string_lossy()
                .trim_start_matches("./")
                .to_string();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).with_context(not_tar)?;
            files.insert(name, data);
        }
    }
    Ok(files)
}

type Parts = (Option<String>, Vec<u8>, Vec<(String, Vec<u8>)>);

fn blob<'a>(files: &'a Files, digest: &str) -> Result<&'a Vec<u8>> {
    files
        .get(&format!(
            "blobs/sha256/{}",
            digest.trim_start_matches("sha256:")
        ))
        .with_context(|| format!("blob {digest} is missing from the image"))
}

fn oci_parts(files: &Files, platform: Platform) -> Result<Parts> {
    let index: serde_json::Value = serde_json::from_slice(&files["index.json"])?;
    let mut digest = index["manifests"][0]["digest"]
        .as_str()
        .context("index.json lists no manifest")?
        .to_string();
    let mut manifest: serde_json::Value = serde_json::from_slice(blob(files, &digest)?)?;
    // An index of several platforms' images: the one asked for.
    if let Some(entries) = manifest["manifests"].as_array() {
        let chosen = entries
            .iter()
            .find(|m| m["platform"]["architecture"] == platform.oci_arch())
            .with_context(|| format!("the image index has no {platform} image"))?;
        digest = chosen["digest"]
            .as_str()
            .context("index entry without digest")?
            .to_string();
        manifest = serde_json::from_slice(blob(files, &digest)?)?;
    }
    let config = blob(
        files,
        manifest["config"]["digest"]
            .as_str()
            .context("manifest has no config")?,
    )?
    .clone();
    let mut layers = Vec::new();
    for layer in manifest["layers"]
        .as_array()
        .context("manifest has no layers")?
    {
        let d = layer["digest"].as_str().context("layer without digest")?;
        layers.push((d.to_string(), blob(files, d)?.clone()));
    }
    Ok((Some(digest), config, layers))
}

fn docker_parts(files: &Files) -> Result<Parts> {
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"])?;
    let entry = &manifest[0];
    let get = |name: &str| {
        files
            .get(name)
            .with_context(|| format!("{name} is missing from the archive"))
    };
    let config = get(entry["Config"]
        .as_str()
        .context("manifest.json has no Config")?)?
    .clone();
    let mut layers = Vec::new();
    for layer in entry["Layers"]
        .as_array()
        .context("manifest.json has no Layers")?
    {
        let name = layer.as_str().context("bad layer entry")?;
        let digest = format!("sha256:{}", crate::digest::sha256_hex(get(name)?));
        layers.push((digest, get(name)?.clone()));
    }
    Ok((None, config, layers))
}

impl Inspection {
    /// What `pypack inspect` prints of the image at `image`: config,
    /// layers, packages.
    pub fn lines(&self, image: &Path) -> Vec<String> {
        let mut lines = vec![format!("image:    {}", image.display())];
        lines.extend(self.digest.iter().map(|d| format!("digest:   {d}")));
        lines.push(format!("platform: {}", self.platform));
        lines.push(format!(
            "user:     {}",
            self.user.as_deref().unwrap_or("(root)")
        ));
        lines.push(format!(
            "workdir:  {}",
            self.working_dir.as_deref().unwrap_or("/")
        ));
        if !self.entrypoint.is_empty() {
            lines.push(format!("entrypoint: {}", self.entrypoint.join(" ")));
        }
        lines.push(format!("cmd:      {}", self.cmd.join(" ")));
        lines.push(format!("ports:    {}", self.exposed_ports.join(", ")));
        lines.extend(self.env.iter().map(|e| format!("env:      {e}")));
        lines.extend(
            self.labels
                .iter()
                .map(|(k, v)| format!("label:    {k}={v}")),
        );
        let mb = |bytes: u64| bytes as f64 / 1e6;
        let total: u64 = self.layers.iter().map(|l| l.uncompressed_size).sum();
        lines.push(format!(
            "layers:   {} ({:.1} MB uncompressed)",
            self.layers.len(),
            mb(total)
        ));
        for l in &self.layers {
            let (digest, size, gzip) = (&l.digest[..19], mb(l.uncompressed_size), mb(l.size));
            lines.push(format!(
                "  {digest} {size:>7.1} MB ({gzip:.1} MB gzip)  {}",
                l.created_by
            ));
        }
        lines.push(format!("OS packages ({}):", self.os_packages.len()));
        lines.extend(self.os_packages.iter().map(|(n, v)| format!("  {n} {v}")));
        lines.push(format!("Python packages ({}):", self.python_packages.len()));
        lines.extend(
            self.python_packages
                .iter()
                .map(|(n, v)| format!("  {n} {v}")),
        );
        lines
    }
}
