//! The install stage's fetch-and-install: a resolution's wheels downloaded
//! (in parallel, hash-checked, cached) and installed into one venv tree.
//! Above both the resolver (whose pins it takes) and the wheel installer
//! (which installs one wheel).

use crate::oci::layer::Entry;
use anyhow::{Context, Result};
use std::collections::BTreeMap;

/// Downloads (in parallel, hash-checked, cached) and installs every pinned
/// wheel into `venv`; returns the whole tree, skeleton and parents included.
/// A file two wheels both ship ends up as the later package's (by name).
pub fn install_resolution(
    index: &crate::index::Index,
    pins: &[crate::resolve::Pin],
    venv: &crate::wheel::Venv,
    show_progress: bool,
) -> Result<Vec<Entry>> {
    let label = format!("installing {} Python packages", pins.len());
    let progress = crate::progress::Progress::start(&label, pins.len() as u64, show_progress);
    let installed = crate::parallel::map_ordered(pins, crate::parallel::WORKERS, |pin| {
        let result = index
            .wheel_of(&pin.file)
            .and_then(|w| {
                let installed = crate::wheel::install(index.cache(), venv, &w.sha256, &w.filename);
                if installed.is_err() {
                    index.cache().evict(&w.sha256);
                }
                installed
            })
            .with_context(|| format!("installing {} {}", pin.name, pin.version));
        progress.inc();
        result
    })?;
    let mut tree: BTreeMap<String, Entry> = venv
        .skeleton()
        .into_iter()
        .map(|e| (e.path.clone(), e))
        .collect();
    for entry in installed.into_iter().flatten() {
        tree.insert(entry.path.clone(), entry);
    }
    crate::oci::layer::add_parents(&mut tree)?;
    Ok(tree.into_values().collect())
}
