//! Where an image goes: an OCI image layout directory, an oci-archive tar, or a
//! docker-archive tar (what `docker save` writes, which `docker load` and
//! `podman load` read). Every output is written beside its destination and
//! renamed into place, so a failed build leaves no partial image.

use super::image::{Image, canonical_json, descriptor};
use super::index::ImageIndex;
use crate::cache::Cache;
use crate::digest::strip_sha256;
use anyhow::{Context, Result, bail};
use oci_spec::image::MediaType;
use serde_json::json;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// An OCI image layout directory.
    Layout(PathBuf),
    OciArchive(PathBuf),
    DockerArchive(PathBuf),
}

impl Output {
    pub fn path(&self) -> &Path {
        match self {
            Output::Layout(p) | Output::OciArchive(p) | Output::DockerArchive(p) => p,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Output::Layout(p) => format!("OCI layout {}", p.display()),
            Output::OciArchive(p) => format!("oci-archive {}", p.display()),
            Output::DockerArchive(p) => format!("docker-archive {}", p.display()),
        }
    }

    /// Refuses a destination that cannot be written before any work is done.
    pub fn check_destination(&self) -> Result<()> {
        let path = self.path();
        match self {
            Output::Layout(_) => {
                if path.is_file() {
                    bail!(
                        "output {} exists and is a file; pass a directory path",
                        path.display()
                    );
                }
                if path.is_dir() && !is_replaceable_layout(path)? {
                    bail!(
                        "output {} is a directory that is neither empty nor an OCI layout; \
                         choose another path or remove it",
                        path.display()
                    );
                }
            }
            _ => {
                if path.is_dir() {
                    bail!(
                        "archive path {} is a directory; pass a file path",
                        path.display()
                    );
                }
            }
        }
        // Missing parents are made when the output is written (as `docker
        // buildx --output` and `ko --tarball` make them); a file in the way
        // is refused now.
        let parent = parent_dir(path);
        if let Some(existing) = parent.ancestors().find(|a| a.exists())
            && !existing.is_dir()
        {
            bail!(
                "{} is a file, so the output {} cannot be written under it; choose another path",
                existing.display(),
                path.display()
            );
        }
        Ok(())
    }
}

/// Writes `image` to `output`; `tag` names it (`name[:tag]`) where the format can.
pub fn write_output(
    cache: &Cache,
    image: &Image,
    output: &Output,
    tag: Option<&str>,
) -> Result<()> {
    write_named(cache, &[(Named::Image(image), tag)], output)
}

/// What one name of an output stands for.
#[derive(Clone, Copy)]
pub enum Named<'a> {
    Image(&'a Image),
    /// Several platforms' images.
    Index(&'a ImageIndex),
}

/// Writes every item, each under its own name (an image and its debug
/// variant, say), into one layout or archive.
pub fn write_named(cache: &Cache, items: &[(Named, Option<&str>)], output: &Output) -> Result<()> {
    if let Output::DockerArchive(path) = output
        && let Some(index) = items.iter().find_map(|(item, _)| match item {
            Named::Index(index) => Some(index),
            Named::Image(_) => None,
        })
    {
        bail!(
            "{} would hold {} images ({}), and a docker-archive holds one: write an OCI layout \
             (--output DIR) or an oci-archive (--archive-format oci), or build one --platform",
            path.display(),
            index.images.len(),
            index
                .images
                .iter()
                .map(|i| i.platform.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    output.check_destination()?;
    let parent = parent_dir(output.path());
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("making the directory {} for the output", parent.display()))?;
    let mut files = BTreeMap::new();
    let mut named = Vec::new();
    let mut docker = Vec::new();
    for (item, tag) in items {
        match item {
            Named::Image(image) => {
                add_image_blobs(cache, image, &mut files)?;
                if let Output::DockerArchive(_) = output {
                    docker.push((*image, *tag));
                    continue;
                }
                files.insert(
                    blob_name(&image.manifest_digest)?,
                    Source::Bytes(image.manifest.clone()),
                );
                named.push((
                    MediaType::ImageManifest,
                    image.manifest_digest.clone(),
                    image.manifest.len(),
                    *tag,
                ));
            }
            Named::Index(index) => {
                for image in &index.images {
                    add_image_blobs(cache, image, &mut files)?;
                    files.insert(
                        blob_name(&image.manifest_digest)?,
                        Source::Bytes(image.manifest.clone()),
                    );
                }
                files.insert(
                    blob_name(&index.digest)?,
                    Source::Bytes(index.manifest.clone()),
                );
                named.push((
                    MediaType::ImageIndex,
                    index.digest.clone(),
                    index.manifest.len(),
                    *tag,
                ));
            }
        }
    }
    if docker.is_empty() {
        add_oci_index(&mut files, &named)?;
    } else {
        add_docker_manifest(&mut files, &docker)?;
    }
    let staging = staging_dir(cache, output.path());
    match output {
        Output::Layout(dir) => write_dir(dir, &staging, &files),
        _ => write_tar(output.path(), &staging, &files),
    }
    .with_context(|| format!("writing {}", output.describe()))
}

/// A file of the output: its path inside the layout/archive and where its bytes come from.
enum Source {
    Bytes(Vec<u8>),
    Blob(PathBuf),
}

fn blob_name(digest: &str) -> Result<String> {
    Ok(format!("blobs/sha256/{}", strip_sha256(digest)?))
}

/// The config and layers of `image` (not its manifest).
fn add_image_blobs(
    cache: &Cache,
    image: &Image,
    files: &mut BTreeMap<String, Source>,
) -> Result<()> {
    files.insert(
        blob_name(&image.config_digest)?,
        Source::Bytes(image.config.clone()),
    );
    for layer in &image.layers {
        let hex = strip_sha256(&layer.digest)?;
        files.insert(
            blob_name(&layer.digest)?,
            Source::Blob(cache.blob_path(hex)),
        );
    }
    Ok(())
}

/// `index.json` naming each manifest (or nested index) by its tag, and `oci-layout`.
fn add_oci_index(
    files: &mut BTreeMap<String, Source>,
    named: &[(MediaType, String, usize, Option<&str>)],
) -> Result<()> {
    let mut manifests = Vec::new();
    for (media_type, digest, size, tag) in named {
        // podman and skopeo read ref.name as the image's full name;
        // containerd reads its own key. Both get `name:tag`.
        let annotations = tag.map(|t| {
            BTreeMap::from([
                ("io.containerd.image.name".to_string(), full_tag(t)),
                ("org.opencontainers.image.ref.name".to_string(), full_tag(t)),
            ])
        });
        manifests.push(descriptor(
            media_type.clone(),
            digest,
            *size as u64,
            annotations,
        )?);
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    });
    files.insert("index.json".into(), Source::Bytes(canonical_json(&index)?));
    files.insert(
        "oci-layout".into(),
        Source::Bytes(br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
    );
    Ok(())
}

/// `manifest.json` (and `repositories`) of a docker-archive of `images`.
fn add_docker_manifest(
    files: &mut BTreeMap<String, Source>,
    images: &[(&Image, Option<&str>)],
) -> Result<()> {
    let mut entries = Vec::new();
    let mut repositories = serde_json::Map::new();
    for (image, tag) in images {
        let repo_tag = tag.map(full_tag);
        entries.push(json!({
            "Config": blob_name(&image.config_digest)?,
            "RepoTags": repo_tag.iter().collect::<Vec<_>>(),
            "Layers": image.layers.iter().map(|l| blob_name(&l.digest)).collect::<Result<Vec<_>>>()?,
        }));
        if let (Some(repo_tag), Some(top)) = (repo_tag, image.layers.last()) {
            let (name, tag) = repo_tag.rsplit_once(':').expect("full_tag adds a tag");
            let tags = repositories
                .entry(name.to_string())
                .or_insert_with(|| json!({}));
            tags[tag] = json!(strip_sha256(&top.diff_id)?);
        }
    }
    files.insert(
        "manifest.json".into(),
        Source::Bytes(canonical_json(&json!(entries))?),
    );
    if !repositories.is_empty() {
        files.insert(
            "repositories".into(),
            Source::Bytes(canonical_json(&repositories)?),
        );
    }
    Ok(())
}

/// `name` → `name:latest`; a name that already has a tag is kept.
pub fn full_tag(name: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') || last.contains('@') {
        name.to_string()
    } else {
        format!("{name}:latest")
    }
}

/// Where the output is put together before it is renamed into place: the
/// cache's `tmp/` when it is on the output's filesystem (a build killed
/// mid-write then leaves nothing beside the output), else the output's
/// directory (a rename cannot cross filesystems).
fn staging_dir(cache: &Cache, dest: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::MetadataExt;
    let parent = parent_dir(dest);
    let tmp = cache.root().join("tmp");
    match (fs::metadata(&tmp), fs::metadata(&parent)) {
        (Ok(a), Ok(b)) if a.dev() == b.dev() => tmp,
        _ => parent.to_path_buf(),
    }
}

fn write_dir(dest: &Path, staging: &Path, files: &BTreeMap<String, Source>) -> Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix(".pypack-out-")
        .tempdir_in(staging)?;
    for (name, source) in files {
        let path = tmp.path().join(name);
        fs::create_dir_all(path.parent().unwrap())?;
        match source {
            Source::Bytes(data) => fs::write(&path, data)?,
            // A hard link costs nothing; blobs are immutable so sharing them is safe.
            Source::Blob(blob) => {
                if fs::hard_link(blob, &path).is_err() {
                    fs::copy(blob, &path)?;
                }
            }
        }
    }
    if dest.exists() {
        fs::remove_dir_all(dest).with_context(|| format!("removing the old {}", dest.display()))?;
    }
    let kept = tmp.keep();
    fs::rename(&kept, dest).inspect_err(|_| {
        let _ = fs::remove_dir_all(&kept);
    })?;
    Ok(())
}

fn write_tar(dest: &Path, staging: &Path, files: &BTreeMap<String, Source>) -> Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix(".pypack-out-")
        .tempfile_in(staging)?;
    let mut tar = tar::Builder::new(BufWriter::new(tmp));
    let mut dirs: Vec<String> = Vec::new();
    for (name, source) in files {
        if let Some((dir, _)) = name.rsplit_once('/') {
            let mut prefix = String::new();
            for part in dir.split('/') {
                prefix = if prefix.is_empty() {
                    part.to_string()
                } else {
                    format!("{prefix}/{part}")
                };
                if !dirs.contains(&prefix) {
                    dirs.push(prefix.clone());
                    let mut h = archive_header(tar::EntryType::Directory, 0o755, 0);
                    tar.append_data(&mut h, format!("{prefix}/"), std::io::empty())?;
                }
            }
        }
        match source {
            Source::Bytes(data) => {
                let mut h = archive_header(tar::EntryType::Regular, 0o644, data.len() as u64);
                tar.append_data(&mut h, name, data.as_slice())?;
            }
            Source::Blob(path) => {
                let file = File::open(path)?;
                let mut h = archive_header(tar::EntryType::Regular, 0o644, file.metadata()?.len());
                tar.append_data(&mut h, name, file)?;
            }
        }
    }
    let mut writer = tar.into_inner()?;
    writer.flush()?;
    let tmp = writer.into_inner().map_err(|e| e.into_error())?;
    tmp.persist(dest).map_err(|e| e.error)?;
    Ok(())
}

fn archive_header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(super::epoch::DEFAULT_EPOCH);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn is_replaceable_layout(dir: &Path) -> Result<bool> {
    Ok(dir.join("oci-layout").is_file() || fs::read_dir(dir)?.next().is_none())
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::image::{ContainerConfig, LayerSpec, assemble};
    use crate::oci::layer::{Entry, write_layer};
    use crate::platform::Platform;

    fn image(cache: &Cache) -> Image {
        let blob = write_layer(cache, &[Entry::file("hello", b"hi".to_vec(), 0o644)], 0).unwrap();
        let layers = [LayerSpec {
            blob,
            created_by: "test".into(),
        }];
        let p = Platform::parse("linux/amd64").unwrap();
        assemble(
            cache,
            p,
            &ContainerConfig::default(),
            &layers,
            0,
            &BTreeMap::new(),
        )
        .unwrap()
    }

    #[test]
    fn tags() {
        assert_eq!(full_tag("app"), "app:latest");
        assert_eq!(full_tag("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(full_tag("app:1"), "app:1");
    }

    #[test]
    fn writes_layout_and_archives_deterministically() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(&dir.path().join("cache"))).unwrap();
        let img = image(&cache);
        let layout = Output::Layout(dir.path().join("layout"));
        write_output(&cache, &img, &layout, Some("app:1")).unwrap();
        let index: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.path().join("layout/index.json")).unwrap())
                .unwrap();
        assert_eq!(
            index["manifests"][0]["digest"],
            img.manifest_digest.as_str()
        );
        // Rewriting over an existing layout works.
        write_output(&cache, &img, &layout, Some("app:1")).unwrap();

        let a = dir.path().join("a.tar");
        let b = dir.path().join("b.tar");
        write_output(&cache, &img, &Output::DockerArchive(a.clone()), Some("app")).unwrap();
        write_output(&cache, &img, &Output::DockerArchive(b.clone()), Some("app")).unwrap();
        assert_eq!(fs::read(&a).unwrap(), fs::read(&b).unwrap());
        let members = crate::oci::layer::read_layer(&fs::read(&a).unwrap()).unwrap();
        let manifest = members.iter().find(|e| e.path == "manifest.json").unwrap();
        let crate::oci::layer::EntryKind::File(data) = &manifest.kind else {
            panic!()
        };
        let manifest: serde_json::Value = serde_json::from_slice(data).unwrap();
        assert_eq!(manifest[0]["RepoTags"][0], "app:latest");
    }

    #[test]
    fn refuses_bad_destinations_without_writing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(&dir.path().join("cache"))).unwrap();
        let img = image(&cache);
        let file = dir.path().join("file");
        fs::write(&file, b"x").unwrap();
        let err = write_output(&cache, &img, &Output::Layout(file.clone()), None).unwrap_err();
        assert!(err.to_string().contains("is a file"), "{err}");
        let busy = dir.path().join("busy");
        fs::create_dir(&busy).unwrap();
        fs::write(busy.join("keep.txt"), b"mine").unwrap();
        assert!(write_output(&cache, &img, &Output::Layout(busy.clone()), None).is_err());
        assert_eq!(fs::read(busy.join("keep.txt")).unwrap(), b"mine");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 3, "no temp output left: {names:?}");
    }
}
