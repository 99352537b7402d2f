//! Django's `collectstatic`, run at build time in a container of the image
//! (its interpreter, venv and app; no network), so the pages find their
//! static files without a step at start. Its output becomes a layer of its
//! own, at the app's `STATIC_ROOT`, keyed by the image it was run in.

use super::engine::{Engine, Step, tail};
use crate::cache::Cache;
use crate::oci::Image;
use crate::oci::layer::{Entry, EntryKind, entries_from_dir};
use anyhow::{Context, Result, bail};

const SCRIPT: &str = include_str!("../../templates/image/collectstatic.py");

/// The static files, as entries at `STATIC_ROOT` (owned by root, read-only
/// to the app), or nothing when the settings set no `STATIC_ROOT`.
pub fn collect(
    engine: &Engine,
    cache: &Cache,
    image: &Image,
    python: &str,
    settings_module: &str,
    settings_env: &[(String, String)],
) -> Result<Vec<Entry>> {
    let work = tempfile::tempdir_in(cache.root().join("tmp"))?;
    let out = work.path().join("out");
    std::fs::create_dir_all(&out)?;
    std::fs::write(work.path().join("collectstatic.py"), SCRIPT)?;
    let mut env = vec![("PYTHONHASHSEED".to_string(), "0".to_string())];
    env.extend(settings_env.iter().cloned());
    let step = Step {
        image: engine.ensure_image(cache, image, super::engine::COLLECTSTATIC_IMAGES)?,
        argv: vec![
            python.to_string(),
            "/pypack/collectstatic.py".into(),
            settings_module.to_string(),
            "/pypack/out".into(),
        ],
        env,
        user: Some("0:0".into()),
        workdir: Some("/app".into()),
        ..Step::default()
    }
    .mount(
        &work.path().join("collectstatic.py"),
        "/pypack/collectstatic.py",
        false,
    )
    .mount(&out, "/pypack/out", true);
    let output = engine.run(&step)?;
    if !output.status.success() {
        bail!(
            "`manage.py collectstatic` failed at build time (settings {settings_module}, no network, no database):\n{}\n\
             give the settings it needs with --smoke-env NAME=VALUE (also passed to build steps, never written into the image), or fix the settings",
            tail(&output, 25)
        );
    }
    let root = std::fs::read_to_string(out.join("static_root"))
        .context("collectstatic left no STATIC_ROOT behind")?;
    let root = root.trim().trim_start_matches('/');
    if root.is_empty() {
        return Ok(Vec::new());
    }
    let mut entries = entries_from_dir(&out.join("files"), root, 0, 0)?;
    for entry in &mut entries {
        entry.mode = match entry.kind {
            EntryKind::Dir => 0o755,
            EntryKind::File(_) => 0o644,
            _ => entry.mode,
        };
    }
    entries.push(Entry::dir(root, 0o755));
    Ok(entries)
}
