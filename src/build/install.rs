//! The install stage: the venv, and its layer of every pinned wheel (reused
//! when the pins, the interpreter and the timestamp are the same).

use super::bytecode::{bytecode_key, with_bytecode};
use super::layers::{Layering, cached_layer};
use super::report::LayerReport;
use super::request::VENV_DIR;
use crate::base::BuiltBase;
use crate::builder::sdist::SourceBuilder;
use crate::cache::Cache;
use crate::http::Http;
use crate::index::{Index, IndexConfig};
use crate::install::install_resolution;
use crate::python::Target;
use crate::resolve::Pin;
use crate::wheel::Venv;
use anyhow::Result;

/// Bumped when the venv layer's content for the same pins changes.
pub(super) const DEPS_FORMAT: u32 = 1;

/// The venv with every pinned wheel; reused from the cache when the pins,
/// the interpreter and the timestamp are the same.
pub(super) fn deps_layer(
    l: &Layering,
    downloads: &Http,
    sources: &SourceBuilder,
    pins: &[Pin],
    venv: &Venv,
) -> Result<LayerReport> {
    let index = &Index::new(downloads, l.cache, IndexConfig::default()).with_sdist_builder(sources);
    let (cache, compiler, epoch) = (l.cache, l.compiler, l.epoch);
    let mut key = format!(
        "pypack {} deps format {DEPS_FORMAT}\nvenv {} {} {}\nepoch {epoch}\n{}",
        env!("CARGO_PKG_VERSION"),
        venv.path,
        venv.base_python,
        venv.python_full_version,
        bytecode_key(compiler)
    );
    for pin in pins {
        // A pin with no hash (a local project's directory) is keyed by what
        // its tree packs to now: two trees of one name and version differ.
        let sha256 = match &pin.file.sha256 {
            Some(hex) => hex.clone(),
            None => index.download(&pin.file)?,
        };
        key.push_str(&format!("{} {} {sha256}\n", pin.name, pin.version));
    }
    let what = format!("pypack: {} Python packages into {}", pins.len(), venv.path);
    if let Some(blob) = cached_layer(cache, &key) {
        return Ok(LayerReport {
            what,
            blob,
            reused: true,
        });
    }
    let entries = install_resolution(index, pins, venv, l.verbose)?;
    crate::mark("venv installed");
    let entries = with_bytecode(entries, compiler)?;
    crate::mark("venv bytecode compiled");
    l.write(&key, what, "venv", &entries)
}

/// Every pinned wheel downloaded (and every pinned sdist built) into the
/// cache, and unpacked there, by a build still waiting for its base: the
/// install then finds them there. Failures are left for the install to
/// meet, and say.
pub(super) fn fetch_ahead(downloads: &Http, sources: &SourceBuilder, pins: &[Pin], cache: &Cache) {
    let index = Index::new(downloads, cache, IndexConfig::default());
    let index = index.with_sdist_builder(sources);
    let _ = crate::parallel::map_ordered(pins, crate::parallel::WORKERS, |pin| {
        let wheel = index.wheel_of(&pin.file)?;
        crate::wheel::unpacked::unpacked(cache, &wheel.sha256, &wheel.filename).map(|_| ())
    });
}

/// The venv the image gets: at [`VENV_DIR`], for the base's interpreter.
pub(super) fn venv_for(base: &BuiltBase, target: &Target) -> Venv {
    Venv {
        path: VENV_DIR.into(),
        base_python: base.python_executable.clone(),
        python_version: target.python_version(),
        python_full_version: target.python_full_version(),
    }
}
