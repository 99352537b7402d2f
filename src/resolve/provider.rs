//! The resolver's view of the index: PubGrub's dependency provider over
//! the target's wheels (and sdists' metadata), with the versions a
//! requirement allows.

use super::input::{Node, ResolveInput};
use super::ranges::VersionRange;
use crate::index::{DistFile, Index, normalize_name};
use crate::python::{TagRanks, Target, WheelFilename};
use anyhow::{Context, Result, bail};
use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{MarkerEnvironment, Requirement, VerbatimUrl, VersionOrUrl};
use pubgrub::{
    Dependencies, DependencyConstraints, DependencyProvider, PackageResolutionStatistics, Ranges,
};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::rc::Rc;
use std::str::FromStr;
use std::sync::Arc;

#[derive(Debug)]
pub struct ProviderError(pub(super) anyhow::Error);

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for ProviderError {}

pub(super) type Candidates = Rc<Vec<(Version, DistFile)>>;

pub(super) struct Provider<'a> {
    pub(super) index: &'a Index<'a>,
    pub(super) target: &'a Target,
    pub(super) env: MarkerEnvironment,
    pub(super) tags: TagRanks,
    pub(super) input: &'a ResolveInput,
    pub(super) constraints: HashMap<String, VersionRange>,
    pub(super) hashes: HashMap<String, Vec<String>>,
    pub(super) direct: HashMap<String, DistFile>,
    pub(super) candidates: RefCell<HashMap<String, Candidates>>,
    pub(super) chosen: RefCell<HashMap<(String, Version), DistFile>>,
    /// Why files were passed over, per package, for the error message.
    pub(super) notes: RefCell<BTreeMap<String, Vec<String>>>,
    /// The platform tags of wheels the target cannot use, per package.
    pub(super) foreign_platforms: RefCell<BTreeMap<String, std::collections::BTreeSet<String>>>,
    /// Fetches ahead of the resolver what it will likely ask for next.
    pub(super) prefetcher: Option<&'a super::prefetch::Prefetcher<'a>>,
}

impl<'a> Provider<'a> {
    pub(super) fn new(
        index: &'a Index<'a>,
        target: &'a Target,
        input: &'a ResolveInput,
    ) -> Result<Provider<'a>> {
        let mut constraints: HashMap<String, VersionRange> = HashMap::new();
        let env = target.marker_environment();
        for c in input
            .constraints
            .iter()
            .filter(|c| c.requirement.marker.evaluate(&env, &[]))
        {
            let name = normalize_name(c.requirement.name.as_ref());
            let range = requirement_range(&c.requirement);
            let entry = constraints.entry(name).or_insert_with(Ranges::full);
            *entry = entry.intersection(&range);
        }
        let mut hashes: HashMap<String, Vec<String>> = HashMap::new();
        for r in input
            .requirements
            .iter()
            .chain(&input.constraints)
            .filter(|r| !r.hashes.is_empty())
        {
            if input.require_hashes && !is_pinned(&r.requirement) {
                bail!(
                    "{}: --require-hashes needs an exact pin (==VERSION) for {}",
                    r.origin,
                    r.requirement.name
                );
            }
            hashes
                .entry(normalize_name(r.requirement.name.as_ref()))
                .or_default()
                .extend(r.hashes.iter().cloned());
        }
        let mut direct = HashMap::new();
        for d in &input.direct {
            // A wheel by path or URL, or a local project packed as an sdist.
            let name = match crate::index::sdist::is_sdist(&d.filename) {
                true => normalize_name(
                    &crate::index::file_project(&d.filename)
                        .with_context(|| format!("{}: {}", d.origin, d.filename))?,
                ),
                false => {
                    let wheel =
                        WheelFilename::parse(&d.filename).with_context(|| d.origin.clone())?;
                    normalize_name(&wheel.name)
                }
            };
            let file = DistFile {
                filename: d.filename.clone(),
                url: d.url.clone(),
                sha256: d.hashes.first().cloned(),
                requires_python: None,
                yanked: false,
                metadata: None,
                size: None,
            };
            if !d.hashes.is_empty() {
                hashes
                    .entry(name.clone())
                    .or_default()
                    .extend(d.hashes.iter().cloned());
            }
            direct.insert(name, file);
        }
        Ok(Provider {
            index,
            target,
            env,
            tags: target.tag_ranks(input.allow_linux_tag),
            input,
            constraints,
            hashes,
            direct,
            candidates: RefCell::default(),
            chosen: RefCell::default(),
            notes: RefCell::default(),
            foreign_platforms: RefCell::default(),
            prefetcher: None,
        })
    }

    pub(super) fn note(&self, name: &str, text: String) {
        self.notes
            .borrow_mut()
            .entry(name.to_string())
            .or_default()
            .push(text);
    }

    /// The best wheel of each version of `name` that the target can install.
    pub(super) fn candidates(&self, name: &str) -> Result<Candidates> {
        if let Some(c) = self.candidates.borrow().get(name) {
            return Ok(c.clone());
        }
        let files: Arc<Vec<DistFile>> = match self.direct.get(name) {
            Some(file) => Arc::new(vec![file.clone()]),
            None => self.index.files(name)?,
        };
        if files.is_empty() {
            self.note(
                name,
                format!("not found in {}", self.index.config.describe()),
            );
        }
        let python = Version::new([
            self.target.python.0 as u64,
            self.target.python.1 as u64,
            self.target.python.2 as u64,
        ]);
        let mut best: BTreeMap<Version, (usize, &DistFile)> = BTreeMap::new();
        let policy = &self.input.binary;
        // A project's files share a few Requires-Python texts: each parsed once.
        let mut python_fits: HashMap<&str, bool> = HashMap::new();
        for file in files.iter() {
            let sdist = crate::index::sdist::is_sdist(&file.filename);
            if sdist && !policy.sdists_allowed(name) {
                self.note(
                    name,
                    format!("{} is a source distribution (--only-binary)", file.filename),
                );
                continue;
            }
            if !sdist && !policy.wheels_allowed(name) {
                self.note(name, format!("{} is a wheel (--no-binary)", file.filename));
                continue;
            }
            let (version, rank) = if sdist {
                match crate::index::sdist::sdist_version(&file.filename, name) {
                    // Any fitting wheel of the same version is preferred.
                    Some(version) => (version, usize::MAX),
                    None => continue,
                }
            } else {
                match self.wheel_rank(name, file) {
                    Some(found) => found,
                    None => continue,
                }
            };
            if let Some(rp) = &file.requires_python
                && !*python_fits.entry(rp).or_insert_with(|| {
                    let spec = VersionSpecifiers::from_str(rp).ok();
                    spec.is_none_or(|spec| spec.contains(&python))
                })
            {
                self.note(name, format!("{version} requires Python {rp}"));
                continue;
            }
            if let Some(allowed) = self.hashes.get(name) {
                let sha = match &file.sha256 {
                    Some(s) => s.clone(),
                    None => self.index.download(file)?,
                };
                if !allowed.contains(&sha) {
                    self.note(
                        name,
                        format!(
                            "{} has sha256 {sha}, which is not a --hash given ({})",
                            file.filename,
                            allowed.join(", ")
                        ),
                    );
                    continue;
                }
            }
            let better = best.get(&version).is_none_or(|(r, _)| rank < *r);
            if better {
                best.insert(version, (rank, file));
            }
        }
        let list: Candidates = Rc::new(
            (best.into_iter().rev())
                .map(|(v, (_, f))| (v, f.clone()))
                .collect(),
        );
        self.candidates
            .borrow_mut()
            .insert(name.to_string(), list.clone());
        Ok(list)
    }

    /// A wheel's version and tag rank for the target (lower is better);
    /// `None`, with a note saying why, when the target cannot install it.
    pub(super) fn wheel_rank(&self, name: &str, file: &DistFile) -> Option<(Version, usize)> {
        let wheel = WheelFilename::read(&file.filename)?;
        let version = Version::from_str(&wheel.version).ok()?;
        let Some(rank) = self.tags.rank(&wheel) else {
            self.foreign_platforms
                .borrow_mut()
                .entry(name.to_string())
                .or_default()
                .extend(wheel.platform.iter().cloned());
            self.note(
                name,
                format!(
                    "{} has no wheel for {} (saw {})",
                    version,
                    self.target,
                    wheel.platform_summary()
                ),
            );
            return None;
        };
        Some((version, rank))
    }

    pub(super) fn range_for(&self, requirement: &Requirement<VerbatimUrl>) -> VersionRange {
        let range = requirement_range(requirement);
        match self
            .constraints
            .get(&normalize_name(requirement.name.as_ref()))
        {
            Some(c) => range.intersection(c),
            None => range,
        }
    }

    pub(super) fn dependencies_of(
        &self,
        requirements: &[Requirement<VerbatimUrl>],
        extras: &[pep508_rs::ExtraName],
    ) -> DependencyConstraints<Node, VersionRange> {
        let mut merged: BTreeMap<Node, VersionRange> = BTreeMap::new();
        for req in requirements
            .iter()
            .filter(|r| r.marker.evaluate(&self.env, extras))
        {
            let name = normalize_name(req.name.as_ref());
            let range = self.range_for(req);
            let mut add = |node: Node| {
                let entry = merged.entry(node).or_insert_with(Ranges::full);
                *entry = entry.intersection(&range);
            };
            add(Node::Package(name.clone()));
            for extra in &req.extras {
                add(Node::Extra(name.clone(), normalize_name(extra.as_ref())));
            }
        }
        if let Some(prefetcher) = self.prefetcher {
            prefetcher.want(merged.keys().filter_map(|node| match node {
                Node::Package(name) => Some(name.as_str()),
                _ => None,
            }));
        }
        merged.into_iter().collect()
    }
}

pub(super) fn requirement_range(requirement: &Requirement<VerbatimUrl>) -> VersionRange {
    match &requirement.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(specs)) => super::ranges::from_specifiers(specs),
        _ => Ranges::full(),
    }
}

pub(super) fn is_pinned(requirement: &Requirement<VerbatimUrl>) -> bool {
    match &requirement.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(specs)) => specs.iter().any(|s| {
            matches!(
                s.operator(),
                pep440_rs::Operator::Equal | pep440_rs::Operator::ExactEqual
            )
        }),
        Some(VersionOrUrl::Url(_)) => true,
        None => false,
    }
}

impl DependencyProvider for Provider<'_> {
    type P = Node;
    type V = Version;
    type VS = VersionRange;
    type M = String;
    type Priority = (u32, std::cmp::Reverse<usize>);
    type Err = ProviderError;

    fn prioritize(
        &self,
        package: &Node,
        range: &VersionRange,
        stats: &PackageResolutionStatistics,
    ) -> Self::Priority {
        // Packages that conflict often first; then the most constrained.
        let versions = match package {
            Node::Package(n) | Node::Extra(n, _) => self
                .candidates
                .borrow()
                .get(n)
                .map(|c| c.iter().filter(|(v, _)| range.contains(v)).count())
                .unwrap_or(usize::MAX),
            Node::Root => 0,
        };
        (stats.conflict_count(), std::cmp::Reverse(versions))
    }

    fn choose_version(
        &self,
        package: &Node,
        range: &VersionRange,
    ) -> Result<Option<Version>, ProviderError> {
        let name = match package {
            Node::Root => return Ok(Some(Version::new([0u64]))),
            Node::Package(n) | Node::Extra(n, _) => n,
        };
        let candidates = self.candidates(name).map_err(ProviderError)?;
        let pinned = super::ranges::pinned(range).is_some();
        let pick = |allow_pre: bool| {
            candidates
                .iter()
                .filter(|(v, _)| range.contains(v))
                .filter(|(v, _)| allow_pre || !v.any_prerelease())
                .find(|(_, f)| !f.yanked || pinned)
                .cloned()
        };
        // Pre-releases only when asked, or when nothing else fits.
        let chosen = pick(self.input.pre).or_else(|| pick(true));
        if chosen.is_none()
            && candidates
                .iter()
                .any(|(v, f)| range.contains(v) && f.yanked)
        {
            self.note(
                name,
                "the matching versions are yanked (pin one with == to use it)".into(),
            );
        }
        Ok(chosen.map(|(v, f)| {
            self.chosen
                .borrow_mut()
                .insert((name.clone(), v.clone()), f);
            v
        }))
    }

    fn get_dependencies(
        &self,
        package: &Node,
        version: &Version,
    ) -> Result<Dependencies<Node, VersionRange, String>, ProviderError> {
        let (name, extra) = match package {
            Node::Root => {
                let reqs: Vec<_> = self
                    .input
                    .requirements
                    .iter()
                    .map(|r| r.requirement.clone())
                    .collect();
                let mut deps: Vec<(Node, VersionRange)> =
                    self.dependencies_of(&reqs, &[]).into_iter().collect();
                for name in self.direct.keys() {
                    deps.push((Node::Package(name.clone()), Ranges::full()));
                }
                return Ok(Dependencies::Available(deps.into_iter().collect()));
            }
            Node::Package(n) => (n, None),
            Node::Extra(n, e) => (n, Some(e)),
        };
        let file = self
            .chosen
            .borrow()
            .get(&(name.clone(), version.clone()))
            .cloned();
        let file = match file {
            Some(f) => f,
            None => self
                .candidates(name)
                .map_err(ProviderError)?
                .iter()
                .find(|(v, _)| v == version)
                .map(|(_, f)| f.clone())
                .ok_or_else(|| {
                    ProviderError(anyhow::anyhow!("{name} {version} vanished from the index"))
                })?,
        };
        let metadata = self.index.metadata(&file).map_err(ProviderError)?;
        let python = Version::new([
            self.target.python.0 as u64,
            self.target.python.1 as u64,
            self.target.python.2 as u64,
        ]);
        if let Some(rp) = &metadata.requires_python
            && !rp.contains(&python)
        {
            return Ok(Dependencies::Unavailable(format!("requires Python {rp}")));
        }
        match extra {
            None => Ok(Dependencies::Available(
                self.dependencies_of(&metadata.requires_dist, &[]),
            )),
            Some(extra) => {
                let extra_name = pep508_rs::ExtraName::from_str(extra)
                    .map_err(|e| ProviderError(anyhow::anyhow!("{e}")))?;
                if !metadata
                    .provides_extra
                    .iter()
                    .any(|e| normalize_name(e) == *extra)
                {
                    self.note(
                        name,
                        format!("{version} does not provide the extra '{extra}'"),
                    );
                }
                let mut deps: Vec<(Node, VersionRange)> = self
                    .dependencies_of(&metadata.requires_dist, std::slice::from_ref(&extra_name))
                    .into_iter()
                    .collect();
                deps.retain(|(n, _)| n != &Node::Package(name.clone()) && n != package);
                deps.push((
                    Node::Package(name.clone()),
                    Ranges::singleton(version.clone()),
                ));
                Ok(Dependencies::Available(deps.into_iter().collect()))
            }
        }
    }
}
