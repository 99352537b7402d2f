//! Lock files other tools write, read as inputs: the exact pins of `uv.lock`,
//! `poetry.lock`, `Pipfile.lock` and `pdm.lock`, selected for the target
//! (markers evaluated, extras and groups followed) without resolving again.
//! One file per format, consulted in [`FORMATS`] order; `pylock.toml`
//! (PEP 751, pypack's own) is read by `resolve::lock`.
//!
//! A lock is used when it fits the project: every requirement the project
//! declares (for the target) is locked at a version it allows. Otherwise it
//! is stale, and the build says so and resolves.

mod locked;
mod pdm;
mod pipfile;
mod poetry;
mod uv;

pub use locked::{
    Edge, LockInput, LockedFile, LockedPackage, LockedSet, check_reached, check_version,
    filename_of, listed_files, local_file, marker_holds, name_of, package_tables, read_toml, roots,
    sha256_of, strings, unusable, version_of, walk,
};

use anyhow::Result;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A lock format: its file name and reader.
pub struct Format {
    pub file: &'static str,
    pub read: fn(&Path, &LockInput) -> Result<Vec<LockedPackage>>,
}

pub const FORMATS: &[Format] = &[
    Format {
        file: "uv.lock",
        read: uv::read,
    },
    Format {
        file: "poetry.lock",
        read: poetry::read,
    },
    Format {
        file: "Pipfile.lock",
        read: pipfile::read,
    },
    Format {
        file: "pdm.lock",
        read: pdm::read,
    },
];

/// The lock file that speaks for the app: the first of [`FORMATS`] in the
/// app dir, else the `uv.lock` at the root of the uv workspace the app is a
/// member of (uv keeps one lock for the whole workspace).
pub fn find(app_dir: &Path) -> Option<(PathBuf, &'static Format)> {
    for format in FORMATS {
        let path = app_dir.join(format.file);
        if path.is_file() {
            return Some((path, format));
        }
    }
    let workspace = crate::project::sources::uv_workspace(app_dir)?;
    let path = workspace.root.join("uv.lock");
    (workspace.holds(app_dir) && path.is_file()).then(|| (path, &FORMATS[0]))
}

/// The lock file that speaks for the app ([`find`]), read for the target.
pub fn read(input: &LockInput) -> Result<Option<LockedSet>> {
    let Some((path, format)) = find(input.app_dir) else {
        return Ok(None);
    };
    let packages = (format.read)(&path, input)?;
    Ok(Some(LockedSet {
        file: path,
        format: format.file,
        packages,
    }))
}

/// Why the lock does not fit the declared requirements, if it does not:
/// a requirement (true on the target) not locked, or locked at a version it
/// does not allow.
pub fn staleness(set: &LockedSet, input: &LockInput) -> Option<String> {
    let env = input.env();
    let locked: BTreeMap<&str, &str> = set
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str()))
        .collect();
    for declared in input.declared {
        let requirement = &declared.requirement;
        if !requirement.marker.evaluate(&env, &[]) {
            continue;
        }
        let name = crate::index::normalize_name(requirement.name.as_ref());
        let Some(version) = locked.get(name.as_str()) else {
            return Some(format!("{name} ({}) is not in it", declared.origin));
        };
        if let Some(pep508_rs::VersionOrUrl::VersionSpecifier(specs)) = &requirement.version_or_url
            && let Ok(v) = pep440_rs::Version::from_str(version)
            && !specs.contains(&v)
        {
            return Some(format!(
                "it pins {name} {version}, which {} does not allow ({})",
                declared.origin, specs
            ));
        }
    }
    None
}
