//! A build's work shared through a registry cache: the cache a build runs
//! on (the entries of `--cache-from` behind it, traced when `--cache-to` is
//! to get what it used), the entry pushed afterwards, and old entries pruned.

use super::push::connect;
use crate::cache::Cache;
use crate::registry::Reference;
use crate::registry_cache::RegistryCache;
use anyhow::Result;
use std::sync::Arc;

/// The registry cache that `text` (REGISTRY/REPOSITORY:TAG) names.
pub fn registry_cache(text: &str, plain_http: bool) -> Result<RegistryCache> {
    let reference = Reference::parse(text)?;
    let registry = connect(&reference, plain_http)?;
    Ok(RegistryCache::new(registry, reference))
}

/// `cache`, with the registry cache `from` (else `$PYPACK_CACHE_FROM`)
/// behind it, traced when `to` (else `$PYPACK_CACHE_TO`) is to get what it
/// used; returns it and the registry cache to push to. A registry cache
/// that cannot be read is a warning: the build does the work itself.
pub fn shared_cache(
    cache: Cache,
    from: Option<&str>,
    to: Option<&str>,
    plain_http: bool,
    quiet: bool,
) -> Result<(Cache, Option<RegistryCache>)> {
    let mut cache = cache;
    if let Some(from) = or_env(from, "PYPACK_CACHE_FROM") {
        let remote = registry_cache(&from, plain_http)?;
        match remote.import(&cache) {
            Ok(entries) => {
                if !quiet {
                    eprintln!("cache:    {entries} entries from {from}");
                }
                cache = cache.with_remote(Arc::new(remote));
            }
            Err(e) => eprintln!(
                "warning: cannot read the registry cache {from} ({e:#}); building without it"
            ),
        }
    }
    let to = match or_env(to, "PYPACK_CACHE_TO") {
        Some(to) => {
            cache = cache.traced();
            Some(registry_cache(&to, plain_http)?)
        }
        None => None,
    };
    Ok((cache, to))
}

/// `value`, else the environment variable `var` when it is set to something.
fn or_env(value: Option<&str>, var: &str) -> Option<String> {
    value
        .map(str::to_string)
        .or_else(|| std::env::var(var).ok().filter(|v| !v.trim().is_empty()))
}

/// Pushes what the build used as a cache entry; a failure is a warning
/// (the image is built, only the sharing failed).
pub fn share_cache(cache: &Cache, to: &RegistryCache, quiet: bool) {
    let created = crate::oci::image::rfc3339(crate::unix_now());
    match to.export(cache, &cache.trace(), &created) {
        Ok(e) if !quiet => eprintln!(
            "cache:    pushed entry {} ({} refs, {} blobs of which {} uploaded) to {}",
            e.entry,
            e.refs,
            e.blobs,
            e.uploaded,
            to.reference()
        ),
        Ok(_) => {}
        Err(e) => eprintln!("warning: cannot push the build cache ({e:#}); the image is built"),
    }
}

/// Keeps the `keep` newest entries of the registry cache `text`; returns
/// how many entries were kept and how many removed.
pub fn prune_registry_cache(text: &str, keep: usize, plain_http: bool) -> Result<(usize, usize)> {
    registry_cache(text, plain_http)?.prune(keep)
}
