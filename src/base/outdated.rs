//! `pypack base outdated`: which of an image's Debian packages its suites
//! now have newer versions of (security and point-release updates), from
//! freshly fetched, signature-checked indexes.

use super::{BaseOptions, Recipe, RecipeArchive, suite_packages};
use crate::cache::Cache;
use crate::debian::FetchStats;
use crate::debian::packages::PackageIndex;
use crate::debian::version::compare;
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
    let opened = RecipeArchive::open(recipe, options)?;
    let archive = opened.archive(cache);
    let arch = options.platform.debian_arch();
    let (_, index) = suite_packages(&archive, recipe, arch, &FetchStats::default())?;
    Ok(newer(&index, installed))
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
