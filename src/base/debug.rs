//! The debug variant's extra layer: Debian's statically linked busybox at
//! `/busybox/busybox`, with its applets (a shell first) linked beside it,
//! so `/busybox` on PATH gives a shell and the usual tools in an image that
//! otherwise has none. Static: it needs nothing from the image.

use super::{BaseOptions, Recipe, RecipeArchive, suite_packages};
use crate::cache::Cache;
use crate::debian::FetchStats;
use crate::debian::closure::closure;
use crate::oci::layer::{Entry, EntryKind, LayerBlob, write_layer};
use anyhow::{Context, Result, bail};

/// Where the tools are in the debug image (added to its PATH).
pub const BUSYBOX_DIR: &str = "/busybox";
const PACKAGE: &str = "busybox-static";
/// Bumped when the layer made from the same package changes.
const FORMAT: u32 = 1;

/// The applets linked in `/busybox`: what one reaches for in a container.
const APPLETS: &[&str] = &[
    "sh", "ash", "awk", "cat", "chmod", "cp", "cut", "date", "df", "du", "echo", "env", "find",
    "free", "grep", "head", "hostname", "id", "ip", "kill", "less", "ln", "ls", "mkdir", "mv",
    "netstat", "nslookup", "ping", "ps", "pwd", "rm", "sed", "sleep", "sort", "stat", "tail",
    "tar", "top", "touch", "tr", "uname", "vi", "wc", "wget", "which", "xargs",
];

/// The busybox layer for `options.platform`, from the suites of `recipe`
/// (signature-checked indexes, hash-checked `.deb`), and the package's
/// version; remembered per suite state.
pub fn busybox_layer(
    recipe: &Recipe,
    options: &BaseOptions,
    cache: &Cache,
) -> Result<(LayerBlob, String)> {
    let opened = RecipeArchive::open(recipe, options)?;
    let archive = opened.archive(cache);
    let stats = FetchStats::default();
    let arch = options.platform.debian_arch();
    let (suites, index) = suite_packages(&archive, recipe, arch, &stats)?;
    let mut key = format!(
        "pypack {} busybox layer format {FORMAT}\nlayer bytes {}\narch {arch}\nepoch {}\n",
        env!("CARGO_PKG_VERSION"),
        crate::oci::layer::BYTES_FORMAT,
        options.epoch
    );
    for suite in &suites {
        key.push_str(&format!("suite {}\n", suite.inrelease_sha256));
    }
    if let Some(known) = cache
        .get_ref("busybox-layer", &key)
        .and_then(|text| serde_json::from_str::<(LayerBlob, String)>(&text).ok())
        .filter(|(blob, _)| cache.has_blob(crate::digest::strip_sha256(&blob.digest).unwrap_or("")))
    {
        return Ok(known);
    }
    let selected = closure(&index, &[PACKAGE.to_string()], &[]).with_context(|| {
        format!(
            "finding {PACKAGE} for {arch} in recipe {}'s suites",
            recipe.name
        )
    })?;
    let package = selected
        .iter()
        .find(|p| p.name == PACKAGE)
        .with_context(|| {
            format!(
                "recipe {}'s suites have no {PACKAGE} for {arch}",
                recipe.name
            )
        })?;
    let version = package.version.clone();
    let extracted = archive.fetch_debs(&[package], &stats)?;
    let binary = extracted
        .into_iter()
        .flatten()
        .find_map(|entry| match entry.kind {
            EntryKind::File(data)
                if matches!(
                    entry.path.trim_start_matches("./"),
                    "bin/busybox" | "usr/bin/busybox"
                ) =>
            {
                Some(data)
            }
            _ => None,
        });
    let Some(binary) = binary else {
        bail!("{PACKAGE} {version} holds no bin/busybox");
    };
    let dir = BUSYBOX_DIR.trim_start_matches('/');
    let mut entries = vec![
        Entry::dir(dir, 0o755),
        Entry::file(&format!("{dir}/busybox"), binary, 0o755),
    ];
    entries.extend(
        APPLETS
            .iter()
            .map(|applet| Entry::symlink(&format!("{dir}/{applet}"), "busybox")),
    );
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let blob = write_layer(cache, &entries, options.epoch)?;
    let made = (blob, version);
    cache.set_ref("busybox-layer", &key, &serde_json::to_string(&made)?)?;
    Ok(made)
}
