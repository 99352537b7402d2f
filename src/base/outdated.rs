//! `pypack base outdated`: which of an image's Debian packages its suites
//! now have newer versions of (security and point-release updates), from
//! freshly fetched, signature-checked indexes.

use super::{BaseOptions, Recipe, archive_config, keyring};
use crate::cache::Cache;
use crate::debian::packages::PackageIndex;
use crate::debian::version::compare;
use crate::debian::{Archive, FetchStats};
use crate::http::Http;
use crate::sbom::OsPackage;
use anyhow::Result;
use std::cmp::Ordering;

/// A package with a newer version in the suites.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Update {
    pub name: String,
    pub installed: String,
    pub available: String,
}

/// The updates the suites of `recipe` (indexes fetched again) offer for
/// `installed`, by name.
pub fn updates(
    recipe: &Recipe,
    options: &BaseOptions,
    cache: &Cache,
    installed: &[OsPackage],
) -> Result<Vec<Update>> {
    let index = suite_packages(recipe, options, cache)?;
    Ok(newer(&index, installed))
}

/// Every package of the recipe's suites and components for the platform.
fn suite_packages(recipe: &Recipe, options: &BaseOptions, cache: &Cache) -> Result<PackageIndex> {
    let http = Http::new()?;
    let keyring = keyring(recipe, &options.keyrings)?;
    let archive = Archive {
        http: &http,
        cache,
        keyring: &keyring,
        config: archive_config(options)?,
    };
    let stats = FetchStats::default();
    let arch = options.platform.debian_arch();
    let mut index = PackageIndex::default();
    for suite in &recipe.suites {
        let suite = archive.suite(suite, &stats)?;
        for component in &recipe.components {
            index.add(archive.packages(&suite, component, arch, &stats)?);
        }
    }
    Ok(index)
}

fn newer(index: &PackageIndex, installed: &[OsPackage]) -> Vec<Update> {
    installed
        .iter()
        .filter_map(|package| {
            let best = index
                .versions(&package.name)
                .into_iter()
                .max_by(|a, b| compare(a, b))?;
            (compare(best, &package.version) == Ordering::Greater).then(|| Update {
                name: package.name.clone(),
                installed: package.version.clone(),
                available: best.to_string(),
            })
        })
        .collect()
}
