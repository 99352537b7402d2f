//! An image's layers as directory trees, as a container engine keeps them:
//! each layer unpacked on its own, with the owners, modes and times its tar
//! stream gives, so overlayfs can stack them into the image's root. Trees
//! of the layers that stay the same from build to build (the base, the
//! venv) are kept in the cache by the layer's diff id; the others are
//! unpacked for one run.

use crate::cache::Cache;
use crate::oci::layer::{LayerBlob, check_entry_path, member_path, tar_stream, through_symlink};
use anyhow::{Context, Result, bail};
use std::ffi::CString;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Bumped when what a kept tree holds changes.
const TREE_FORMAT: u32 = 1;

/// How long a kept tree stays unused (a base is rebuilt with every
/// security update, a venv with every change of the pins).
const KEEP_UNUSED: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// The kept tree of `layer`, unpacked now when it is not there.
pub fn kept(cache: &Cache, layer: &LayerBlob) -> Result<PathBuf> {
    let hex = crate::digest::strip_sha256(&layer.diff_id)?;
    let parent = cache
        .root()
        .join("layer-trees")
        .join(TREE_FORMAT.to_string());
    let dir = parent.join(hex);
    if dir.is_dir() {
        cache.tidy(&parent, &dir, KEEP_UNUSED);
        return Ok(dir);
    }
    let work = tempfile::tempdir_in(cache.root().join("tmp"))?;
    let root = work.path().join("tree");
    unpack(cache, layer, &root)?;
    std::fs::create_dir_all(&parent)?;
    match std::fs::rename(&root, &dir) {
        Ok(()) => Ok(dir),
        // Another build unpacked the same layer first.
        Err(_) if dir.is_dir() => Ok(dir),
        Err(e) => Err(e).with_context(|| format!("moving a layer's tree to {}", dir.display())),
    }
}

/// Whether `kept` would have to unpack `layer`.
pub fn is_kept(cache: &Cache, layer: &LayerBlob) -> bool {
    crate::digest::strip_sha256(&layer.diff_id).is_ok_and(|hex| {
        (cache.root().join("layer-trees"))
            .join(TREE_FORMAT.to_string())
            .join(hex)
            .is_dir()
    })
}

/// Unpacks `layer` (from the cache's blobs) into the new directory `root`.
/// A layer that removes files of the layers below it (whiteouts) is
/// refused: overlayfs marks those its own way, which is not made here.
pub fn unpack(cache: &Cache, layer: &LayerBlob, root: &Path) -> Result<()> {
    let hex = crate::digest::strip_sha256(&layer.digest)?;
    let file = std::fs::File::open(cache.blob_path(hex))
        .with_context(|| format!("layer {} is not in the cache", layer.digest))?;
    std::fs::create_dir(root)?;
    let mut directories = Vec::new();
    let mut archive = tar::Archive::new(tar_stream(file)?);
    for member in archive.entries()? {
        let member = member?;
        if let Some(dir) = place(root, member).with_context(|| format!("layer {}", layer.digest))? {
            directories.push(dir);
        }
    }
    // A directory's time changes as files are made in it: set last.
    for (path, mtime) in directories.iter().rev() {
        set_time(path, *mtime)?;
    }
    Ok(())
}

/// Writes one tar member under `root`; a directory is returned with its
/// time, to be set once its files are in it.
fn place<R: Read>(root: &Path, mut member: tar::Entry<R>) -> Result<Option<(PathBuf, u64)>> {
    let Some(rel) = member_path(&member)? else {
        return Ok(None);
    };
    let name = rel.rsplit('/').next().unwrap_or(&rel);
    if name.starts_with(".wh.") {
        bail!("{rel}: the layer removes files of the layers below it");
    }
    let header = member.header().clone();
    let target = root.join(&rel);
    if through_symlink(root, &rel) {
        bail!("{rel}: written through a symlink of the layer");
    }
    let (uid, gid, mtime) = (header.uid()?, header.gid()?, header.mtime()?);
    // Owners and modes as the image has them, without set-id bits.
    let mode = header.mode()? & 0o1777;
    if let Ok(meta) = std::fs::symlink_metadata(&target)
        && !(meta.is_dir() && header.entry_type().is_dir())
    {
        bail!("{rel} is twice in the layer");
    }
    match header.entry_type() {
        tar::EntryType::Directory => {
            if !target.is_dir() {
                std::fs::create_dir(&target).with_context(|| rel.clone())?;
            }
            chown(&target, uid, gid)?;
            set_mode(&target, mode)?;
            return Ok(Some((target, mtime)));
        }
        tar::EntryType::Symlink => {
            let link = member.link_name()?.context("a symlink without a target")?;
            std::os::unix::fs::symlink(&link, &target).with_context(|| rel.clone())?;
            chown(&target, uid, gid)?;
        }
        tar::EntryType::Link => {
            let link = member
                .link_name()?
                .context("a hard link without a target")?;
            let link = link.to_string_lossy().trim_start_matches('/').to_string();
            check_entry_path(&link)?;
            if through_symlink(root, &link) {
                bail!("{rel}: a hard link through a symlink");
            }
            std::fs::hard_link(root.join(&link), &target)
                .with_context(|| format!("{rel}: a hard link to {link}, not in this layer"))?;
            return Ok(None);
        }
        tar::EntryType::Regular | tar::EntryType::Continuous => {
            let mut file = std::fs::File::create_new(&target).with_context(|| rel.clone())?;
            std::io::copy(&mut member, &mut file)?;
            drop(file);
            chown(&target, uid, gid)?;
            set_mode(&target, mode)?;
        }
        other => bail!("{rel}: a {other:?} entry, which is not unpacked here"),
    }
    set_time(&target, mtime)?;
    Ok(None)
}

fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes()).context("a path with a NUL byte")
}

fn chown(path: &Path, uid: u64, gid: u64) -> Result<()> {
    let (uid, gid) = (u32::try_from(uid)?, u32::try_from(gid)?);
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .with_context(|| format!("giving {} its owner", path.display()))
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// Sets the modification (and access) time of `path`, not following a symlink.
fn set_time(path: &Path, mtime: u64) -> Result<()> {
    let path = c_path(path)?;
    let time = libc::timespec {
        tv_sec: libc::time_t::try_from(mtime)?,
        tv_nsec: 0,
    };
    let times = [time, time];
    // SAFETY: a NUL-terminated path and two timespecs, as utimensat reads them.
    let done = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            path.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if done != 0 {
        return Err(std::io::Error::last_os_error()).context("setting a file's time");
    }
    Ok(())
}
