//! The runtime image's own interpreter, run on this machine without a
//! container: the image's layers unpacked once into the cache, the
//! interpreter started through the image's dynamic loader with the image's
//! library directories, so it is the same binary with the same libraries as
//! in a container, at a fraction of a container's start-up cost. Used only
//! for images pypack assembled from signature-checked Debian packages and
//! for this machine's architecture; anything else runs in the engine.

use crate::cache::Cache;
use crate::oci::Image;
use crate::oci::layer::{
    Entry, EntryKind, check_entry_path, member_path, tar_stream, through_symlink,
};
use anyhow::{Context, Result, bail};
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// Bumped when what an unpacked tree holds changes.
const UNPACK_FORMAT: u32 = 4;

/// How long an unpacked image is kept unused.
const KEEP_UNUSED: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

#[derive(Debug, Clone)]
pub struct UnpackedPython {
    /// The image's files.
    root: PathBuf,
    /// The image's dynamic loader (its PT_INTERP), inside `root`.
    loader: PathBuf,
    /// The image's library directories, inside `root`.
    library_path: Vec<PathBuf>,
    /// The interpreter, inside `root`.
    python: PathBuf,
}

impl UnpackedPython {
    /// The interpreter `python` (a path in the image) of `image`, unpacked
    /// into the cache (once per image), when it starts here.
    pub fn prepare(cache: &Cache, image: &Image, python: &str) -> Result<UnpackedPython> {
        if image.platform != crate::platform::Platform::host() {
            bail!(
                "the image is for {}, this machine is {}",
                image.platform,
                crate::platform::Platform::host()
            );
        }
        UnpackedPython::at(unpacked_root(cache, image)?, image.platform, python)
    }

    /// The interpreter `python` of the image whose files are at `root`.
    fn at(
        root: PathBuf,
        platform: crate::platform::Platform,
        python: &str,
    ) -> Result<UnpackedPython> {
        let python_path = inside(&root, python)?;
        // Whether it starts here is tried once per unpacked image and
        // machine; the marker then holds its loader (which the interpreter,
        // megabytes, need not be read again to tell).
        let started = root.join(".pypack-started-here");
        let remembered = std::fs::read_to_string(&started)
            .ok()
            .and_then(|text| {
                Some(
                    text.strip_prefix(&format!("{python}\n"))?
                        .trim()
                        .to_string(),
                )
            })
            .filter(|interp| !interp.is_empty());
        let interp = match remembered {
            Some(interp) => interp,
            None => {
                let elf = std::fs::read(&python_path)
                    .with_context(|| format!("reading {}", python_path.display()))?;
                goblin::elf::Elf::parse(&elf)
                    .with_context(|| format!("{python} is not an ELF file"))?
                    .interpreter
                    .context("the interpreter names no dynamic loader")?
                    .to_string()
            }
        };
        let loader = inside(&root, &interp)?;
        let multiarch = platform.multiarch();
        let library_path = [
            format!("/usr/lib/{multiarch}"),
            format!("/lib/{multiarch}"),
            "/usr/lib".to_string(),
            "/lib".to_string(),
        ]
        .iter()
        .filter_map(|dir| inside(&root, dir).ok())
        .filter(|dir| dir.is_dir())
        .collect();
        let unpacked = UnpackedPython {
            root,
            loader,
            library_path,
            python: python_path,
        };
        if !started.exists() {
            let out = unpacked
                .command()
                .args(["-c", "import sys, zlib, marshal"])
                .output()
                .context("starting the unpacked interpreter")?;
            if !out.status.success() {
                bail!(
                    "the unpacked interpreter does not start here: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            std::fs::write(&started, format!("{python}\n{interp}\n"))?;
        }
        Ok(unpacked)
    }

    /// The argv that starts the interpreter (before its own arguments).
    pub fn argv(&self) -> Vec<String> {
        let library_path = self
            .library_path
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(":");
        vec![
            self.loader.to_string_lossy().into_owned(),
            "--library-path".into(),
            library_path,
            self.python.to_string_lossy().into_owned(),
        ]
    }

    /// A command starting the interpreter with an empty environment, and
    /// writing no bytecode of its own into the unpacked tree (the stdlib's
    /// would then count as compiled already).
    pub fn command(&self) -> Command {
        let argv = self.argv();
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .env_clear()
            .env("PYTHONDONTWRITEBYTECODE", "1");
        command
    }

    /// Where a path of the image is on this machine.
    pub fn host_path(&self, image_path: &str) -> Result<PathBuf> {
        inside(&self.root, image_path)
    }
}

/// Where `image`'s files are unpacked in the cache.
fn unpacked_dir(cache: &Cache, image: &Image) -> Result<PathBuf> {
    let hex = crate::digest::strip_sha256(&image.config_digest)?;
    Ok(cache
        .root()
        .join("unpacked")
        .join(format!("{UNPACK_FORMAT}-{hex}")))
}

/// The image's files in the cache, unpacked on first use (into a temporary
/// directory renamed into place, so a directory there is always complete).
fn unpacked_root(cache: &Cache, image: &Image) -> Result<PathBuf> {
    let dir = unpacked_dir(cache, image)?;
    if dir.is_dir() {
        // Kept while used; an unpacked base not used for a week goes
        // (a base is rebuilt with every security update).
        if let Some(parent) = dir.parent() {
            cache.tidy(parent, &dir, KEEP_UNUSED);
        }
        return Ok(dir);
    }
    let work = tempfile::tempdir_in(cache.root().join("tmp"))?;
    let root = work.path().join("root");
    std::fs::create_dir(&root)?;
    for layer in &image.layers {
        let hex = crate::digest::strip_sha256(&layer.digest)?;
        let file = std::fs::File::open(cache.blob_path(hex))
            .with_context(|| format!("layer {} is not in the cache", layer.digest))?;
        unpack_layer(&root, file).with_context(|| format!("unpacking layer {}", layer.digest))?;
    }
    adopt(cache, image, &root)
}

/// Moves a complete tree of `image`'s files into place.
fn adopt(cache: &Cache, image: &Image, root: &Path) -> Result<PathBuf> {
    let dir = unpacked_dir(cache, image)?;
    std::fs::create_dir_all(cache.root().join("unpacked"))?;
    match std::fs::rename(root, &dir) {
        Ok(()) => Ok(dir),
        // Another build unpacked the same image first.
        Err(_) if dir.is_dir() => Ok(dir),
        Err(e) => Err(e).with_context(|| format!("moving the unpacked image to {}", dir.display())),
    }
}

/// A one-layer image's files written from the layer's entries while they are
/// in memory (a base being built): `keep` puts them in place once the image
/// exists, sparing the first bytecode step from unpacking the layer again.
pub struct EarlyTree {
    work: tempfile::TempDir,
}

impl EarlyTree {
    pub fn write(cache: &Cache, entries: &[Entry]) -> Result<EarlyTree> {
        let work = tempfile::tempdir_in(cache.root().join("tmp"))?;
        let root = work.path().join("root");
        std::fs::create_dir(&root)?;
        for entry in entries {
            place(&root, entry)?;
        }
        Ok(EarlyTree { work })
    }

    /// The interpreter `python` run from the tree where it was written (the
    /// base's image, and so the tree's place in the cache, not known yet).
    pub fn python(&self, python: &str) -> Result<UnpackedPython> {
        UnpackedPython::at(
            self.work.path().join("root"),
            crate::platform::Platform::host(),
            python,
        )
    }

    pub fn keep(self, cache: &Cache, image: &Image) -> Result<()> {
        adopt(cache, image, &self.work.path().join("root")).map(|_| ())
    }
}

fn place(root: &Path, entry: &Entry) -> Result<()> {
    check_entry_path(&entry.path)?;
    if !needed_to_run(&entry.path) || through_symlink(root, &entry.path) {
        return Ok(());
    }
    let target = root.join(&entry.path);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mode = entry.mode & 0o777;
    match &entry.kind {
        EntryKind::Dir => {
            std::fs::create_dir_all(&target)?;
            set_mode(&target, mode | 0o700)?;
        }
        EntryKind::Symlink(link) => {
            remove_existing(&target);
            std::os::unix::fs::symlink(contained_link(&entry.path, link), &target)?;
        }
        EntryKind::Hardlink(link) => {
            check_entry_path(link)?;
            if !through_symlink(root, link) {
                remove_existing(&target);
                std::fs::hard_link(root.join(link), &target)?;
            }
        }
        EntryKind::File(data) => {
            remove_existing(&target);
            std::fs::write(&target, data)?;
            set_mode(&target, mode | 0o600)?;
        }
        EntryKind::OnDisk { path, .. } => {
            remove_existing(&target);
            std::fs::copy(path, &target)?;
            set_mode(&target, mode | 0o600)?;
        }
        EntryKind::Part(_) => {
            remove_existing(&target);
            std::fs::write(&target, entry.content()?.unwrap_or_default())?;
            set_mode(&target, mode | 0o600)?;
        }
    }
    Ok(())
}

/// Whether the interpreter may read `path` (relative to the root). Data
/// files in /usr/share (documentation, time zones, half of a Debian base's
/// files) are not unpacked: creating files is the cost of unpacking.
fn needed_to_run(path: &str) -> bool {
    !(path == "usr/share" || path.starts_with("usr/share/"))
}

/// Applies one gzip (or plain) tar layer onto `root`: files, directories,
/// links; whiteouts remove. Nothing is written through a symlink, and
/// device files are not made.
fn unpack_layer(root: &Path, file: std::fs::File) -> Result<()> {
    let mut archive = tar::Archive::new(tar_stream(file)?);
    for member in archive.entries()? {
        let mut member = member?;
        let Some(rel) = member_path(&member)? else {
            continue;
        };
        if through_symlink(root, &rel) {
            continue;
        }
        let name = rel.rsplit('/').next().unwrap_or(&rel);
        if let Some(hidden) = name.strip_prefix(".wh.") {
            if hidden != ".wh..opq" {
                let gone = root.join(&rel).with_file_name(hidden);
                let _ = std::fs::remove_dir_all(&gone).or_else(|_| std::fs::remove_file(&gone));
            }
            continue;
        }
        let link = || -> Result<String> {
            let link = member.link_name()?.context("a link without a target")?;
            Ok(link.to_string_lossy().into_owned())
        };
        let kind = match member.header().entry_type() {
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Symlink => EntryKind::Symlink(link()?),
            tar::EntryType::Link => {
                EntryKind::Hardlink(link()?.trim_start_matches('/').to_string())
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut data = Vec::new();
                member.read_to_end(&mut data)?;
                EntryKind::File(data)
            }
            // Devices, FIFOs: nothing the interpreter reads.
            _ => continue,
        };
        let mode = member.header().mode()?;
        place(
            root,
            &Entry {
                path: rel,
                kind,
                mode,
                uid: 0,
                gid: 0,
            },
        )?;
    }
    Ok(())
}

/// A symlink's target as a relative path that resolves, from the link at
/// `path`, to what the image resolves it to: an absolute target is the
/// image's root, not this machine's (Debian's `sitecustomize.py` links to
/// `/etc/python3.X/…`), and `..` stops at the image's root.
fn contained_link(path: &str, target: &str) -> String {
    let parent: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let parent = &parent[..parent.len().saturating_sub(1)];
    let mut resolved: Vec<&str> = match target.starts_with('/') {
        true => Vec::new(),
        false => parent.to_vec(),
    };
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                resolved.pop();
            }
            part => resolved.push(part),
        }
    }
    let mut relative = "../".repeat(parent.len());
    relative.push_str(&resolved.join("/"));
    match relative.trim_end_matches('/') {
        "" => ".".to_string(),
        trimmed => trimmed.to_string(),
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn remove_existing(path: &Path) {
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.is_dir() {
            let _ = std::fs::remove_dir_all(path);
        } else {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Where the image path `path` is under `root`, following the image's
/// symlinks as the image would (absolute targets are relative to `root`).
fn inside(root: &Path, path: &str) -> Result<PathBuf> {
    let mut resolved = root.to_path_buf();
    let mut pending: Vec<String> = split(path);
    pending.reverse();
    let mut hops = 0;
    while let Some(part) = pending.pop() {
        match part.as_str() {
            "." => continue,
            ".." => {
                if resolved != root {
                    resolved.pop();
                }
                continue;
            }
            _ => {}
        }
        let next = resolved.join(&part);
        match std::fs::symlink_metadata(&next) {
            Ok(meta) if meta.file_type().is_symlink() => {
                hops += 1;
                if hops > 40 {
                    bail!("{path}: too many symlinks in the image");
                }
                let target = std::fs::read_link(&next)?.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    resolved = root.to_path_buf();
                }
                let mut parts = split(&target);
                parts.reverse();
                pending.extend(parts);
            }
            Ok(_) => resolved = next,
            Err(_) => bail!("{path} is not in the image"),
        }
    }
    debug_assert!(resolved.starts_with(root));
    Ok(resolved)
}

fn split(path: &str) -> Vec<String> {
    Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_paths_resolve_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/lib/x86_64-linux-gnu")).unwrap();
        std::fs::write(root.join("usr/lib/x86_64-linux-gnu/ld.so"), b"").unwrap();
        std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
        std::fs::create_dir_all(root.join("usr/lib64")).unwrap();
        std::os::unix::fs::symlink(
            "/lib/x86_64-linux-gnu/ld.so",
            root.join("usr/lib64/ld-linux.so"),
        )
        .unwrap();
        std::os::unix::fs::symlink("usr/lib64", root.join("lib64")).unwrap();
        std::os::unix::fs::symlink("../../../../etc", root.join("usr/lib/escape")).unwrap();
        assert_eq!(
            inside(root, "/lib64/ld-linux.so").unwrap(),
            root.join("usr/lib/x86_64-linux-gnu/ld.so")
        );
        // `..` stops at the image's root, as it does in the image.
        assert!(inside(root, "/usr/lib/escape").is_err());
        assert!(inside(root, "/missing").is_err());
    }

    #[test]
    fn links_resolve_inside_the_image() {
        assert_eq!(
            contained_link(
                "usr/lib/python3.13/sitecustomize.py",
                "/etc/python3.13/sitecustomize.py"
            ),
            "../../../etc/python3.13/sitecustomize.py"
        );
        assert_eq!(contained_link("lib64", "usr/lib64"), "usr/lib64");
        assert_eq!(
            contained_link("usr/lib/a/libz.so.1", "libz.so.1.3"),
            "../../../usr/lib/a/libz.so.1.3"
        );
        // `..` beyond the root stays at the root, as in the image.
        assert_eq!(
            contained_link("usr/bin/x", "../../../../../etc/shadow"),
            "../../etc/shadow"
        );
        assert_eq!(contained_link("bin", "/"), ".");
    }

    #[test]
    fn nothing_is_written_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let mut tar = tar::Builder::new(Vec::new());
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        link.set_mode(0o777);
        tar.append_link(&mut link, "evil", outside.path()).unwrap();
        let mut file = tar::Header::new_gnu();
        file.set_size(2);
        file.set_mode(0o644);
        tar.append_data(&mut file, "evil/planted", &b"hi"[..])
            .unwrap();
        tar.append_data(&mut file, "usr/kept", &b"ok"[..]).unwrap();
        let bytes = tar.into_inner().unwrap();
        let path = dir.path().join("layer.tar");
        std::fs::write(&path, bytes).unwrap();
        unpack_layer(&root, std::fs::File::open(&path).unwrap()).unwrap();
        assert!(!outside.path().join("planted").exists());
        assert_eq!(std::fs::read(root.join("usr/kept")).unwrap(), b"ok");
    }
}
