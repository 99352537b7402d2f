//! Walking a directory tree in a stable order, without following symlinks:
//! what makes a layer built from files the same on every run.

use anyhow::{Context, Result};
use std::fs::Metadata;
use std::path::Path;

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
        .with_context(|| format!("cannot read directory {}", dir.display()))?
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
