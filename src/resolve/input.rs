//! What a resolution is asked (requirements, binary policy) and what it
//! answers (pins): the vocabulary the resolver, its explanations and its
//! callers share.

use crate::index::{DistFile, normalize_name};
use crate::project::{DirectWheel, SourcedRequirement};
use crate::python::Target;
use anyhow::{Result, bail};
use pep440_rs::Version;
use std::fmt;

/// What to resolve.
#[derive(Debug, Clone, Default)]
pub struct ResolveInput {
    pub requirements: Vec<SourcedRequirement>,
    pub constraints: Vec<SourcedRequirement>,
    pub direct: Vec<DirectWheel>,
    /// Allow pre-releases everywhere (`--pre`).
    pub pre: bool,
    /// Every package must be pinned with `--hash` (`--require-hashes`).
    pub require_hashes: bool,
    /// Accept `linux_<arch>` wheels (built for one machine; off for images).
    pub allow_linux_tag: bool,
    /// Which packages may come as wheels and which as sdists.
    pub binary: BinaryPolicy,
}

/// pip's `--only-binary` / `--no-binary`: by default a version may come as
/// a wheel or, when no wheel of it fits, as an sdist that the builder turns
/// into one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BinaryPolicy {
    only_binary: NameSet,
    no_binary: NameSet,
    /// What was applied, in order (`true`: --only-binary), to replay.
    applied: Vec<(String, bool)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) enum NameSet {
    #[default]
    Nothing,
    All,
    Names(Vec<String>),
}

impl NameSet {
    fn contains(&self, name: &str) -> bool {
        match self {
            NameSet::Nothing => false,
            NameSet::All => true,
            NameSet::Names(names) => names.iter().any(|n| n == name),
        }
    }

    fn remove(&mut self, name: &str) {
        if let NameSet::Names(names) = self {
            names.retain(|n| n != name);
        }
    }
}

impl BinaryPolicy {
    /// Applies one `--only-binary` (`only = true`) or `--no-binary` value:
    /// comma-separated names, `:all:` or `:none:`. As with pip, the later
    /// of two contradicting options wins.
    pub fn apply(&mut self, value: &str, only: bool) -> Result<()> {
        self.applied.push((value.to_string(), only));
        let (this, other) = if only {
            (&mut self.only_binary, &mut self.no_binary)
        } else {
            (&mut self.no_binary, &mut self.only_binary)
        };
        for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match item {
                ":all:" => {
                    *this = NameSet::All;
                    *other = NameSet::Nothing;
                }
                ":none:" => *this = NameSet::Nothing,
                name if name.starts_with(':') => {
                    bail!("'{name}' is not a package name, :all: or :none:")
                }
                name => {
                    let name = normalize_name(name);
                    other.remove(&name);
                    match this {
                        NameSet::All => {}
                        NameSet::Names(names) => names.push(name),
                        NameSet::Nothing => *this = NameSet::Names(vec![name]),
                    }
                }
            }
        }
        Ok(())
    }

    /// A requirement file's options, then these (so the command line wins).
    pub fn after_file_options(&self, file: &[(String, bool)]) -> Result<BinaryPolicy> {
        let mut policy = BinaryPolicy::default();
        for (value, only) in file.iter().chain(&self.applied) {
            policy.apply(value, *only)?;
        }
        Ok(policy)
    }

    pub fn wheels_allowed(&self, name: &str) -> bool {
        !self.no_binary.contains(name) || self.only_binary.contains(name)
    }

    pub fn sdists_allowed(&self, name: &str) -> bool {
        !self.only_binary.contains(name)
    }
}

/// One package of the result.
#[derive(Debug, Clone)]
pub struct Pin {
    /// Normalized name.
    pub name: String,
    pub version: Version,
    pub file: DistFile,
    /// Normalized names of the packages it needs on the target.
    pub dependencies: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Resolution {
    pub target: Target,
    /// Sorted by name.
    pub pins: Vec<Pin>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Node {
    Root,
    Package(String),
    /// A package with one extra; depends on the package at the same version.
    Extra(String, String),
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Root => write!(f, "your requirements"),
            Node::Package(n) => write!(f, "{n}"),
            Node::Extra(n, e) => write!(f, "{n}[{e}]"),
        }
    }
}
