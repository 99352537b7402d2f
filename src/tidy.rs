//! `pypack prune` and `pypack cache info`: what pypack leaves on the
//! machine, sized and removed once it is no longer used. In the container
//! engine: the images of builds a newer build replaced (unnamed, with
//! pypack's label), the collectstatic helper images, names a build held an
//! image by and did not release (its process is gone), and the builder and
//! runtime images not used for the given days. In the cache: the copies
//! pypack derives and marks when used (unpacked layers and interpreters,
//! decompressed Debian indexes) not used for the given days.

use crate::builder::Engine;
use crate::builder::engine::{
    BUILDER_IMAGES, COLLECTSTATIC_IMAGES, HOLD_NAME, RUNTIME_IMAGES, USED_REF,
};
use crate::cache::Cache;
use anyhow::Result;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// The cache's parts: directory, what it holds, and whether prune may
/// remove its entries unused for the given days (pypack marks their use).
const KINDS: &[(&str, &str, bool)] = &[
    (
        "blobs",
        "downloads, built layers and images (by digest)",
        false,
    ),
    (
        "refs",
        "answers and keys (resolutions, smoke runs, pages)",
        false,
    ),
    ("unpacked-wheels", "wheels unpacked for installs", false),
    ("unpacked", "interpreter trees for bytecode", true),
    ("layer-trees", "image layers unpacked for smoke runs", true),
    ("debian-index", "decompressed Debian package indexes", true),
    ("tmp", "files of builds in progress or interrupted", false),
];

/// Engine image names of pypack's helpers: (repository, used for what).
const HELPERS: &[(&str, &str)] = &[
    (BUILDER_IMAGES, "builder image"),
    (RUNTIME_IMAGES, "runtime image for bytecode"),
];

/// `pypack cache info`: each part's size and entry count, and the total.
pub fn cache_info(cache: &Cache) -> Vec<String> {
    let mut lines = vec![format!("cache: {}", cache.root().display())];
    let mut total = 0;
    for (dir, what, _) in KINDS {
        let path = cache.root().join(dir);
        let (size, entries) = (tree_size(&path), entry_count(&path));
        total += size;
        lines.push(format!(
            "{dir:<16} {:>9} {entries:>7} entries  {what}",
            human(size)
        ));
    }
    lines.push(format!("{:<16} {:>9}", "total", human(total)));
    lines
}

/// What `prune` did (or, `dry_run`, would do): a line per thing removed,
/// then what it freed in the cache.
/// `engine`: the engine to tidy (as `--engine` names one; else the one
/// found on PATH, if any).
pub fn prune(cache: &Cache, engine: Option<&str>, days: u64, dry_run: bool) -> Result<Vec<String>> {
    let engine = Engine::detect(engine)?;
    let engine = engine.as_ref();
    let unused_for = Duration::from_secs(days * 24 * 3600);
    let verb = if dry_run { "would remove" } else { "removed" };
    let mut lines = Vec::new();
    if let Some(engine) = engine {
        for (name, why) in engine_leftovers(engine, cache, unused_for) {
            let gone = dry_run || engine.remove_image(&name);
            let said = if gone { verb } else { "kept (in use)" };
            lines.push(format!("{said}: {name} ({why}) from {}", engine.program));
        }
    }
    let mut freed = 0;
    for (path, why) in cache_leftovers(cache, unused_for) {
        let size = tree_size(&path);
        if dry_run || remove(&path) {
            freed += size;
            lines.push(format!(
                "{verb}: {} ({why}, {})",
                path.display(),
                human(size)
            ));
        }
    }
    lines.push(format!("{verb} {} from the cache", human(freed)));
    Ok(lines)
}

/// The engine images (by name or ID) prune removes, each with why.
fn engine_leftovers(engine: &Engine, cache: &Cache, unused_for: Duration) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for id in engine.image_ids(&[
        "dangling=true",
        &format!("label={}", crate::base::PYTHON_VERSION_LABEL),
    ]) {
        found.push((id, "a pypack build a newer build replaced".to_string()));
    }
    for name in engine.image_names() {
        let repository = name.rsplit_once(':').map_or(name.as_str(), |(r, _)| r);
        if repository == COLLECTSTATIC_IMAGES {
            found.push((name, "collectstatic helper".into()));
        } else if let Some(pid) =
            hold_pid(&name).filter(|pid| !Path::new(&format!("/proc/{pid}")).exists())
        {
            found.push((name, format!("held by build process {pid}, which is gone")));
        } else if let Some((_, what)) = HELPERS.iter().find(|(r, _)| *r == repository) {
            let last = cache
                .get_ref(USED_REF, &name)
                .and_then(|t| t.parse::<u64>().ok());
            let age = last.map(|t| crate::unix_now().saturating_sub(t));
            if age.is_none_or(|age| age >= unused_for.as_secs()) {
                let when = age.map_or("not used since pypack began keeping track".into(), |a| {
                    format!("not used for {} days", a / 86_400)
                });
                found.push((name, format!("{what}, {when}")));
            }
        }
    }
    found
}

/// The process that holds an image by `name`, if it is a hold's name
/// (`…pypack-hold…<hex>-<pid>-<n>`).
fn hold_pid(name: &str) -> Option<u32> {
    let (_, rest) = name.split_once(HOLD_NAME)?;
    let tag = rest
        .rsplit([':', '/'])
        .find(|p| p.contains('-'))
        .unwrap_or(rest);
    let tag = tag.trim_start_matches(['-', ':']);
    let mut parts = tag.split('-');
    let (_hex, pid) = (parts.next()?, parts.next()?);
    pid.parse().ok()
}

/// The cache entries prune removes: derived copies not used for
/// `unused_for` (their use marks their modification time). Temporary
/// files of interrupted builds go whenever the cache is opened.
fn cache_leftovers(cache: &Cache, unused_for: Duration) -> Vec<(std::path::PathBuf, String)> {
    let mut found = Vec::new();
    for (dir, what, prunable) in KINDS {
        let root = cache.root().join(dir);
        // layer-trees keeps its entries one level down, under a format number.
        let parents: Vec<_> = match *dir {
            "layer-trees" => children(&root),
            _ => vec![root],
        };
        for entry in parents.iter().flat_map(|p| children(p)) {
            let age = age_of(&entry);
            if *prunable && age >= unused_for {
                found.push((
                    entry,
                    format!("{what}, not used for {} days", age.as_secs() / 86_400),
                ));
            }
        }
    }
    found
}

fn children(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    entries
}

/// How long ago `path` was last modified (zero when unknown).
fn age_of(path: &Path) -> Duration {
    std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or_default()
}

fn remove(path: &Path) -> bool {
    match path.is_dir() && !path.is_symlink() {
        true => std::fs::remove_dir_all(path).is_ok(),
        false => std::fs::remove_file(path).is_ok(),
    }
}

/// The bytes of the files under `path` (a hard-linked file counted once
/// per link: what removing this tree alone could free at most).
fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    children(path).iter().map(|p| tree_size(p)).sum()
}

fn entry_count(path: &Path) -> usize {
    match path.file_name().and_then(|n| n.to_str()) {
        Some("blobs") => children(&path.join("sha256")).len(),
        Some("layer-trees" | "refs") => children(path).iter().map(|p| children(p).len()).sum(),
        _ => children(path).len(),
    }
}

fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GB", b as f64 / f64::from(1u32 << 30)),
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / f64::from(1u32 << 20)),
        b => format!("{:.1} kB", b as f64 / 1024.0),
    }
}
