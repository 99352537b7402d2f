//! The system-libraries layer: for libraries the venv's ELF files link and a
//! Debian-recipe base lacks, the Debian packages that ship them (found in the
//! suites' signed `Contents-<arch>` indexes), with their dependency closure,
//! as one layer over the base — plus an `/etc/ld.so.cache` for the final
//! library set and `ldconfig` to read it, so `ctypes.util.find_library` works.
//! Keyed by the base and the missing names, so a rebuild reuses it.

use super::{BaseOptions, BuiltBase, Recipe, RecipeArchive};
use crate::audit::{BaseLibraries, Need, ldcache};
use crate::cache::Cache;
use crate::debian::closure::closure;
use crate::debian::contents::{LibraryOwners, library_dirs};
use crate::debian::packages::{Dep, PackageIndex};
use crate::debian::{Archive, FetchStats};
use crate::oci::layer::{Entry, LayerBlob, write_layer};
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bumped when the layer made for the same inputs changes.
const FORMAT: u32 = 1;
/// Where `ctypes.util.find_library` looks, and the package it comes in.
const LDCONFIG_PACKAGE: &str = "libc-bin";

/// A package the layer adds, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddedPackage {
    pub name: String,
    pub version: String,
    /// E.g. `libstdc++.so.6, needed by numpy 2.4.6 (…/_multiarray_umath….so)`,
    /// or `needed by libstdc++6`.
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemLibraries {
    pub blob: LayerBlob,
    pub packages: Vec<AddedPackage>,
    #[serde(skip)]
    pub reused: bool,
}

/// The layer that gives `base` (built from `recipe`) what `needs` lack.
pub fn for_needs(
    recipe: &Recipe,
    options: &BaseOptions,
    cache: &Cache,
    base: &BuiltBase,
    provided: &BaseLibraries,
    needs: &[Need],
) -> Result<SystemLibraries> {
    let mut key = format!(
        "pypack {} system libraries format {FORMAT}\nlayer bytes {}\nbase {}\nepoch {}\n",
        env!("CARGO_PKG_VERSION"),
        crate::oci::layer::BYTES_FORMAT,
        base.image.manifest_digest,
        options.epoch
    );
    for need in needs {
        key.push_str(&format!("needs {}\n", need.library));
    }
    if let Some(known) = cache
        .get_ref("system-libraries", &key)
        .and_then(|text| serde_json::from_str::<SystemLibraries>(&text).ok())
        .filter(|s| cache.has_blob(crate::digest::strip_sha256(&s.blob.digest).unwrap_or("")))
    {
        return Ok(SystemLibraries {
            reused: true,
            ..known
        });
    }
    let made = make(recipe, options, cache, base, provided, needs)?;
    cache.set_ref("system-libraries", &key, &serde_json::to_string(&made)?)?;
    Ok(made)
}

fn make(
    recipe: &Recipe,
    options: &BaseOptions,
    cache: &Cache,
    base: &BuiltBase,
    provided: &BaseLibraries,
    needs: &[Need],
) -> Result<SystemLibraries> {
    let opened = RecipeArchive::open(recipe, options)?;
    let archive = opened.archive(cache);
    let stats = FetchStats::default();
    let arch = options.platform.debian_arch();
    let multiarch = options.platform.multiarch();
    let suites = archive.suites(&recipe.suites, &stats)?;
    let mut index = PackageIndex::default();
    let mut owners = LibraryOwners::new();
    let mut contents_missing = false;
    for suite in &suites {
        for component in &recipe.components {
            index.add(archive.packages(suite, component, arch, &stats)?);
            match archive.library_owners(suite, component, arch, multiarch, &stats) {
                Ok(found) => {
                    for (name, places) in found {
                        owners.entry(name).or_default().extend(places);
                    }
                }
                // The file list only says where to look; a package found
                // without it is checked against its own (signed) contents.
                Err(e) => {
                    contents_missing = true;
                    eprintln!(
                        "warning: {e:#}; packages for missing libraries are found from their names instead, and checked"
                    );
                }
            }
        }
    }
    if contents_missing {
        owners_by_soname(&archive, &index, &mut owners, needs, multiarch, &stats)?;
    }
    let in_base: Vec<String> = base.packages.iter().map(|(n, _)| n.clone()).collect();
    let chosen = choose_packages(recipe, &index, &owners, &in_base, needs, multiarch)?;
    let mut roots: Vec<String> = chosen.keys().cloned().collect();
    if !provided.has_ldconfig && !in_base.iter().any(|p| p == LDCONFIG_PACKAGE) {
        roots.push(LDCONFIG_PACKAGE.to_string());
    }
    let mut exclude = recipe.packages.exclude.clone();
    exclude.extend(in_base.iter().cloned());
    let selected = closure(&index, &roots, &exclude).with_context(|| {
        format!(
            "resolving the Debian packages for {}",
            needs
                .iter()
                .map(|n| n.library.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let extracted = archive.fetch_debs(&selected, &stats)?;
    let mut packages: Vec<_> = selected.iter().copied().zip(extracted).collect();
    let mut entries = super::rootfs::packages_layer(recipe, &mut packages)?;
    entries.push(ld_so_cache(provided, &entries, options)?);
    let blob = write_layer(cache, &entries, options.epoch)?;
    let added = selected
        .iter()
        .map(|p| AddedPackage {
            name: p.name.clone(),
            version: p.version.clone(),
            why: match chosen.get(&p.name) {
                Some(why) => why.clone(),
                None if p.name == LDCONFIG_PACKAGE => {
                    "ldconfig, which ctypes.util.find_library runs to read /etc/ld.so.cache".into()
                }
                None => format!("a dependency of {}", dependent_of(&p.name, &selected)),
            },
        })
        .collect();
    Ok(SystemLibraries {
        blob,
        packages: added,
        reused: false,
    })
}

/// Debian's name for the package of a shared library (policy 8.1):
/// `libstdc++.so.6` → `libstdc++6`, `libfoo2.so.3` → `libfoo2-3`; and the
/// `t64` variants of the 64-bit time transition.
pub fn package_names_for(soname: &str) -> Vec<String> {
    let Some((stem, version)) = soname.split_once(".so.") else {
        return Vec::new();
    };
    let stem = stem.to_ascii_lowercase().replace('_', "-");
    let version = version.split('.').next().unwrap_or(version);
    let joined = if stem.ends_with(|c: char| c.is_ascii_digit()) {
        format!("{stem}-{version}")
    } else {
        format!("{stem}{version}")
    };
    vec![joined.clone(), format!("{joined}t64")]
}

/// Without a Contents index: for each need no known package ships, the
/// package its soname names, kept only if its `.deb` (hash-checked against
/// the signed index) really holds the library in a searched directory.
fn owners_by_soname(
    archive: &Archive,
    index: &PackageIndex,
    owners: &mut LibraryOwners,
    needs: &[Need],
    multiarch: &str,
    stats: &FetchStats,
) -> Result<()> {
    let dirs = library_dirs(multiarch);
    let unknown: Vec<&Need> = needs
        .iter()
        .filter(|n| !owners.contains_key(&n.library))
        .collect();
    for need in unknown {
        for name in package_names_for(&need.library) {
            let Some(package) = index.best(&Dep {
                name: name.clone(),
                constraint: None,
            }) else {
                continue;
            };
            let entries = archive.fetch_debs(&[package], stats)?.remove(0);
            let dir = entries.iter().find_map(|e| {
                let (dir, file) = e.path.rsplit_once('/')?;
                (file == need.library && dirs.iter().any(|d| d == dir)).then(|| dir.to_string())
            });
            if let Some(dir) = dir {
                owners
                    .entry(need.library.clone())
                    .or_default()
                    .push((dir, package.name.clone()));
                break;
            }
        }
    }
    Ok(())
}

/// For each need, the package that ships it in a searched directory (the
/// multiarch one first); the value says which library and who needs it.
fn choose_packages(
    recipe: &Recipe,
    index: &PackageIndex,
    owners: &LibraryOwners,
    in_base: &[String],
    needs: &[Need],
    multiarch: &str,
) -> Result<BTreeMap<String, String>> {
    let dirs = library_dirs(multiarch);
    let mut chosen: BTreeMap<String, String> = BTreeMap::new();
    let mut unshipped = Vec::new();
    for need in needs {
        let mut candidates: Vec<&(String, String)> = owners
            .get(&need.library)
            .into_iter()
            .flatten()
            .filter(|(_, package)| {
                index
                    .best(&Dep {
                        name: package.clone(),
                        constraint: None,
                    })
                    .is_some()
            })
            .collect();
        candidates
            .sort_by_key(|(dir, package)| (dirs.iter().position(|d| d == dir), package.clone()));
        let Some((_, package)) = candidates.first() else {
            unshipped.push(need);
            continue;
        };
        if in_base.contains(package) {
            bail!(
                "{} ships {}, and it is in the base, but recipe {} leaves that file out (its [files] drop rules); keep it in the recipe, or pass --ignore-missing-library {} if it is never loaded",
                package,
                need.library,
                recipe.name,
                need.library
            );
        }
        let why = format!("{}, needed by {}", need.library, who(need));
        chosen
            .entry(package.clone())
            .and_modify(|w| {
                w.push_str("; ");
                w.push_str(&why);
            })
            .or_insert(why);
    }
    if !unshipped.is_empty() {
        let lines: Vec<String> = unshipped
            .iter()
            .map(|n| format!("{} (needed by {})", n.library, who(n)))
            .collect();
        bail!(
            "no Debian package in {} ({}) ships {} in a library directory. Build on a --base image that has it, \
             or list the package that has it in a recipe of your own ([packages] include), \
             or pass --ignore-missing-library NAME for a file that is never loaded",
            recipe.suites.join(", "),
            recipe.components.join(", "),
            lines.join("; ")
        );
    }
    Ok(chosen)
}

/// `numpy 2.4.6 (/app/.venv/…/x.so) and 29 more files, also of pandas 3.1.1`.
pub fn who(need: &Need) -> String {
    let (owner, path) = &need.needed_by[0];
    let mut text = format!("{owner} (/{path})");
    if need.needed_by.len() > 1 {
        text.push_str(&format!(" and {} more files", need.needed_by.len() - 1));
        let others: std::collections::BTreeSet<&str> = need.needed_by[1..]
            .iter()
            .map(|(o, _)| o.as_str())
            .filter(|o| o != owner)
            .collect();
        if !others.is_empty() {
            let others: Vec<&str> = others.into_iter().collect();
            text.push_str(&format!(", also of {}", others.join(", ")));
        }
    }
    text
}

/// A package of `selected` that depends on `name`, for saying why it came.
fn dependent_of(name: &str, selected: &[&crate::debian::packages::Package]) -> String {
    selected
        .iter()
        .find(|p| {
            p.depends()
                .unwrap_or_default()
                .iter()
                .flatten()
                .any(|d| d.name == name)
        })
        .map(|p| p.name.clone())
        .unwrap_or_else(|| "the added packages".into())
}

/// `/etc/ld.so.cache` listing the base's libraries and the layer's.
fn ld_so_cache(
    provided: &BaseLibraries,
    entries: &[Entry],
    options: &BaseOptions,
) -> Result<Entry> {
    let flags = ldcache::entry_flags(options.platform.elf_machine())
        .context("no ld.so.cache format for this architecture")?;
    let added = BaseLibraries::from_entries(entries, options.platform);
    let mut libraries = provided.libraries.clone();
    libraries.extend(added.libraries);
    Ok(Entry::file(
        "etc/ld.so.cache",
        ldcache::write(&libraries, flags),
        0o644,
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn package_names_follow_debian_policy() {
        assert_eq!(
            super::package_names_for("libstdc++.so.6"),
            ["libstdc++6", "libstdc++6t64"]
        );
        assert_eq!(
            super::package_names_for("libxml2.so.2"),
            ["libxml2-2", "libxml2-2t64"]
        );
        assert_eq!(
            super::package_names_for("libGL.so.1.7.0"),
            ["libgl1", "libgl1t64"]
        );
        assert_eq!(
            super::package_names_for("libfoo_bar.so.3"),
            ["libfoo-bar3", "libfoo-bar3t64"]
        );
        assert!(super::package_names_for("libnoversion.so").is_empty());
    }
}
