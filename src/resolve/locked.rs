//! Pins from another tool's lock file: for each locked package, the file
//! the target installs — the best wheel by the target's tags, else its sdist
//! (built in the builder) — found by URL, or in the index by name or hash.

use super::{BinaryPolicy, Pin};
use crate::index::{DistFile, Index};
use crate::project::locks::{LockedFile, LockedPackage, LockedSet};
use crate::python::{Target, WheelFilename};
use anyhow::{Result, bail};
use pep440_rs::Version;
use std::str::FromStr;

/// The pins a lock file gives for `target`.
pub fn pins(
    set: &LockedSet,
    target: &Target,
    index: &Index,
    binary: &BinaryPolicy,
) -> Result<Vec<Pin>> {
    let ranks = target.tag_ranks(false);
    let mut pins = Vec::new();
    for package in &set.packages {
        let version = Version::from_str(&package.version).map_err(|e| {
            anyhow::anyhow!(
                "{}: {} has a bad version '{}': {e}",
                set.file.display(),
                package.name,
                package.version
            )
        })?;
        let files = dist_files(set, package, index)?;
        let wheel = files
            .iter()
            .filter(|_| binary.wheels_allowed(&package.name))
            .filter_map(|f| Some((ranks.rank(&WheelFilename::read(&f.filename)?)?, f)))
            .min_by_key(|(rank, _)| *rank)
            .map(|(_, f)| f.clone());
        let sdist = || {
            files
                .iter()
                .find(|f| {
                    crate::index::sdist::is_sdist(&f.filename)
                        && binary.sdists_allowed(&package.name)
                })
                .cloned()
        };
        let Some(file) = wheel.or_else(sdist) else {
            let seen: Vec<&str> = files.iter().map(|f| f.filename.as_str()).collect();
            bail!(
                "{}: it pins {} {}, which has no wheel for {target}{} (its files: {}); update the lock for this Python and platform, or pass --relock to resolve afresh",
                set.file.display(),
                package.name,
                package.version,
                if binary.sdists_allowed(&package.name) {
                    " and no sdist"
                } else {
                    " (and sdists are not allowed)"
                },
                if seen.is_empty() {
                    "none found".to_string()
                } else {
                    seen.join(", ")
                }
            );
        };
        pins.push(Pin {
            name: package.name.clone(),
            version,
            file,
            dependencies: package.dependencies.clone(),
        });
    }
    pins.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(pins)
}

/// The package's files as the index would list them: straight from the
/// lock when it gives URLs, else the index's files of that version matched
/// by name or hash (a hash given by the lock must match).
fn dist_files(set: &LockedSet, package: &LockedPackage, index: &Index) -> Result<Vec<DistFile>> {
    let mut out = Vec::new();
    let needs_index = package.files.iter().any(|f| f.url.is_none());
    let listed = if needs_index {
        index.files(&package.name)?
    } else {
        Default::default()
    };
    for locked in &package.files {
        if let Some(filename) = &locked.filename {
            crate::index::check_locked_file(filename, &package.name, &package.version)
                .map_err(|e| anyhow::anyhow!("{}: {e}", set.file.display()))?;
        }
        match (&locked.url, &locked.filename) {
            (Some(url), Some(filename)) => out.push(DistFile {
                filename: filename.clone(),
                url: url.clone(),
                sha256: locked.sha256.clone(),
                requires_python: None,
                yanked: false,
                metadata: None,
                size: locked.size,
            }),
            _ => out.extend(in_index(&listed, package, locked, index)?),
        }
    }
    if out.is_empty() && !package.files.is_empty() {
        bail!(
            "{}: none of the files it locks for {} {} is in the configured indexes ({}); pass --relock to resolve afresh",
            set.file.display(),
            package.name,
            package.version,
            index.config.describe()
        );
    }
    Ok(out)
}

fn in_index(
    listed: &[DistFile],
    package: &LockedPackage,
    locked: &LockedFile,
    index: &Index,
) -> Result<Option<DistFile>> {
    for file in listed {
        if let Some(name) = &locked.filename {
            if &file.filename == name {
                let mut file = file.clone();
                if locked.sha256.is_some() {
                    file.sha256 = locked.sha256.clone(); // the download is checked against the lock's hash
                }
                return Ok(Some(file));
            }
            continue;
        }
        // Only a hash: a file of the locked version whose hash it is.
        let of_version = WheelFilename::parse(&file.filename)
            .map(|w| w.version)
            .ok()
            .or_else(|| {
                crate::index::sdist::sdist_version(&file.filename, &package.name)
                    .map(|v| v.to_string())
            });
        let same_version = of_version
            .as_deref()
            .and_then(|v| Version::from_str(v).ok())
            .zip(Version::from_str(&package.version).ok())
            .is_some_and(|(a, b)| a == b);
        if !same_version {
            continue;
        }
        let sha256 = match &file.sha256 {
            Some(h) => h.clone(),
            None => index.download(file)?,
        };
        if locked.sha256.as_deref() == Some(sha256.as_str()) {
            let mut file = file.clone();
            file.sha256 = Some(sha256);
            return Ok(Some(file));
        }
    }
    Ok(None)
}
