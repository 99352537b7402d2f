//! Walking a directory tree in a stable order, without following symlinks:
//! what makes a layer built from files the same on every run.

use anyhow::{Context, Result};
use std::fs::Metadata;
use std::path::Path;

/// What kind of file `meta` is, in words (for the special ones pypack skips).
pub fn kind_of(meta: &Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    if kind.is_fifo() {
        "a named pipe"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        "a symlink"
    } else {
        "a regular file"
    }
}

/// Whether `meta` is a regular file, a directory or a symlink: what an
/// image can hold of an app. The rest (FIFOs, sockets, devices) is skipped.
pub fn is_shippable(meta: &Metadata) -> bool {
    let kind = meta.file_type();
    kind.is_file() || kind.is_dir() || kind.is_symlink()
}

/// The error for a file or directory that cannot be read: for want of
/// permission (a build run as another user than the files' owner), what
/// to do about it.
pub fn unreadable(path: &Path, e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        return anyhow::anyhow!(
            "cannot read {}: permission denied; make it readable by the user running pypack, \
             or leave it out of the image with a line naming it in the app's .dockerignore",
            path.display()
        );
    }
    anyhow::Error::new(e).context(format!("cannot read {}", path.display()))
}

/// Visits every entry under `dir` in name order, depth first, passing its
/// path, metadata (of the entry itself, not a symlink's target) and its path
/// relative to `dir` prefixed by `rel` (`rel/a/b`, or `a/b` when `rel` is
/// empty). A directory's contents are visited when `visit` returns true.
pub fn walk_sorted(
    dir: &Path,
    rel: &str,
    visit: &mut dyn FnMut(&Path, &Metadata, &str) -> Result<bool>,
) -> Result<()> {
    let mut children: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| unreadable(dir, e))?
        .collect::<std::io::Result<_>>()?;
    children.sort_by_key(|c| c.file_name());
    for child in children {
        let path = child.path();
        let name = child
            .file_name()
            .to_str()
            .map(str::to_string)
            .with_context(|| format!("{}: file names must be UTF-8", path.display()))?;
        let child_rel = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let meta = std::fs::symlink_metadata(&path)?;
        if visit(&path, &meta, &child_rel)? && meta.is_dir() {
            walk_sorted(&path, &child_rel, visit)?;
        }
    }
    Ok(())
}
