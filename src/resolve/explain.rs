//! A resolution that failed, in the words of the user's files: each
//! constraint with where it came from (`requirements.txt:2`, `flask 3.1.3
//! requires werkzeug>=3.1`), the versions the index has, why the others
//! were passed over (wheels for other platforms, Python versions), and the
//! fix when one is plain. Never PubGrub's own prose, nor an empty set `∅`.

use super::input::{Node, ResolveInput};
use super::provider::{Provider, requirement_range};
use super::ranges::VersionRange;
use crate::index::normalize_name;
use crate::project::SourcedRequirement;
use pep440_rs::Version;
use pubgrub::{DerivationTree, External, Ranges};
use std::collections::{BTreeMap, BTreeSet};

type Tree = DerivationTree<Node, VersionRange, String>;

/// Root requirements (and constraints) of one name that no version can
/// meet together: the lines and why, before anything is fetched.
pub(super) fn contradiction(input: &ResolveInput, provider: &Provider) -> Option<String> {
    let mut by_name: BTreeMap<String, Vec<&SourcedRequirement>> = BTreeMap::new();
    for r in input
        .requirements
        .iter()
        .chain(&input.constraints)
        .filter(|r| r.requirement.marker.evaluate(&provider.env, &[]))
    {
        by_name
            .entry(normalize_name(r.requirement.name.as_ref()))
            .or_default()
            .push(r);
    }
    for (name, lines) in by_name.iter().filter(|(_, l)| l.len() > 1) {
        let together = lines.iter().fold(Ranges::full(), |acc: VersionRange, r| {
            acc.intersection(&requirement_range(&r.requirement))
        });
        if together != Ranges::empty() {
            continue;
        }
        let mut text = format!("no version of {name} meets all of these at once:");
        for line in lines {
            text.push_str(&format!("\n  {}", said(line)));
        }
        text.push_str(&format!(
            "\n{}\nfix: keep the one you mean and remove the others",
            provider.versions_line(name)
        ));
        return Some(text);
    }
    None
}

/// The explanation of PubGrub's `tree`.
pub(super) fn failure(provider: &Provider, input: &ResolveInput, tree: &Tree) -> String {
    let mut facts = Facts::default();
    facts.collect(provider, input, tree);
    let mut text = String::from("these cannot all hold:");
    for line in facts.asked.iter().chain(&facts.lines) {
        text.push_str(&format!("\n  {line}"));
    }
    for name in &facts.packages {
        text.push('\n');
        text.push_str(&provider.versions_line(name));
        if let Some(passed) = provider.passed_over(name) {
            text.push_str(&format!("\n  {passed}"));
        }
    }
    if let Some(fix) = facts.fix {
        text.push_str(&format!("\nfix: {fix}"));
    }
    text
}

#[derive(Default)]
struct Facts {
    /// What the user's files ask for.
    asked: Vec<String>,
    /// What the packages require, and what the index lacks.
    lines: Vec<String>,
    seen: BTreeSet<String>,
    /// The packages the facts name, for the versions the index has.
    packages: BTreeSet<String>,
    fix: Option<String>,
}

impl Facts {
    fn add(&mut self, line: String) {
        if self.seen.insert(line.clone()) {
            self.lines.push(line);
        }
    }

    fn add_asked(&mut self, line: String) {
        if self.seen.insert(line.clone()) {
            self.asked.push(line);
        }
    }

    fn collect(&mut self, provider: &Provider, input: &ResolveInput, tree: &Tree) {
        match tree {
            DerivationTree::Derived(derived) => {
                self.collect(provider, input, &derived.cause1);
                self.collect(provider, input, &derived.cause2);
            }
            DerivationTree::External(External::FromDependencyOf(from, versions, to, range)) => {
                let (Node::Package(to_name) | Node::Extra(to_name, _)) = to else {
                    return;
                };
                match from {
                    Node::Root => {
                        for r in root_lines(input, provider, to_name) {
                            self.add_asked(said(r));
                        }
                    }
                    // An extra needs its own package at the same version: no news.
                    Node::Extra(name, _) if name == to_name => return,
                    Node::Package(name) | Node::Extra(name, _) => {
                        self.add(format!(
                            "{from} {} requires {to_name}{}",
                            provider.versions_in(name, versions),
                            range_text(range)
                        ));
                        self.packages.insert(name.clone());
                    }
                }
                self.packages.insert(to_name.clone());
            }
            DerivationTree::External(External::NoVersions(node, range)) => {
                let (Node::Package(name) | Node::Extra(name, _)) = node else {
                    return;
                };
                // PubGrub also records the gaps between the versions there
                // are (`>3.0.0,<3.0.1|…`): nothing a user asked for.
                let asked = root_lines(input, provider, name)
                    .iter()
                    .any(|r| requirement_range(&r.requirement).subset_of(range));
                if !asked && range.iter().count() > 1 {
                    return;
                }
                self.add(format!(
                    "no version of {name} the target can install is {}",
                    range_text(range).trim_start()
                ));
                self.packages.insert(name.clone());
                if self.fix.is_none() {
                    self.fix = provider.fix_for(name, input);
                }
            }
            DerivationTree::External(External::Custom(node, _, why)) => {
                self.add(format!("{node}: {why}"));
            }
            DerivationTree::External(External::NotRoot(..)) => {}
        }
    }
}

/// The root requirements of `name` whose markers hold for the target.
fn root_lines<'a>(
    input: &'a ResolveInput,
    provider: &Provider,
    name: &str,
) -> Vec<&'a SourcedRequirement> {
    input
        .requirements
        .iter()
        .chain(&input.constraints)
        .filter(|r| normalize_name(r.requirement.name.as_ref()) == name)
        .filter(|r| r.requirement.marker.evaluate(&provider.env, &[]))
        .collect()
}

/// `flask>=3.0,<4 (requirements.txt:1)`: the requirement and the file
/// (without its directory) and line or table it came from.
fn said(r: &SourcedRequirement) -> String {
    let origin = match r.origin.rsplit_once('/') {
        Some((_, rest)) => rest,
        None => &r.origin,
    };
    format!("{} ({origin})", r.requirement)
}

/// A range as a requirement writes it (`>=3.1`, `==2.0`, ` (any version)`).
fn range_text(range: &VersionRange) -> String {
    if range == &Ranges::full() {
        return " (any version)".into();
    }
    if let Some(version) = super::ranges::pinned(range) {
        return format!("=={version}");
    }
    let text = range.to_string();
    // PubGrub writes `>=3.1, <4`; a requirement has no space after the comma.
    text.replace(", ", ",").replace(' ', "")
}

impl Provider<'_> {
    /// `the index has flask 0.1 … 3.1.3 (57 versions) for the target`.
    fn versions_line(&self, name: &str) -> String {
        match self.candidates(name) {
            Ok(list) if list.is_empty() => {
                let missing = self.notes.borrow().get(name).and_then(|notes| {
                    notes
                        .iter()
                        .find(|n| n.starts_with("not found in"))
                        .cloned()
                });
                match missing {
                    Some(where_) => {
                        format!("{name} is {where_}: check its spelling, or the index settings")
                    }
                    None => format!("the index has no version of {name} the target can install"),
                }
            }
            Ok(list) => {
                let versions: Vec<&Version> = list.iter().map(|(v, _)| v).collect();
                format!(
                    "the index has {name} {} for {}",
                    summary(&versions),
                    self.target
                )
            }
            Err(e) => format!("{name}: {e:#}"),
        }
    }

    /// The candidate versions of `name` in `range`, summarised.
    fn versions_in(&self, name: &str, range: &VersionRange) -> String {
        let Ok(list) = self.candidates(name) else {
            return range_text(range);
        };
        let versions: Vec<&Version> = list
            .iter()
            .map(|(v, _)| v)
            .filter(|v| range.contains(v))
            .collect();
        if versions.is_empty() {
            return range_text(range);
        }
        summary(&versions)
    }

    /// Why the files of `name` the target cannot use were passed over, in
    /// one line: the platforms of wheels that do not fit, and the rest.
    fn passed_over(&self, name: &str) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(platforms) = self.foreign_platforms.borrow().get(name) {
            parts.push(format!(
                "its other wheels are for {}, not {}",
                platforms.iter().cloned().collect::<Vec<_>>().join(", "),
                self.target
            ));
        }
        if let Some(notes) = self.notes.borrow().get(name) {
            let mut notes: Vec<String> = notes
                .iter()
                .filter(|n| !n.contains(" has no wheel for "))
                .cloned()
                .collect();
            notes.retain(|n| !n.starts_with("not found in"));
            notes.sort();
            notes.dedup();
            let shown = notes.len().min(4);
            parts.extend(notes[..shown].iter().cloned());
            if notes.len() > shown {
                parts.push(format!("and {} more like these", notes.len() - shown));
            }
        }
        (!parts.is_empty()).then(|| format!("passed over: {}", parts.join("; ")))
    }

    /// The plain fix when `name`'s wheels are all for other platforms.
    fn fix_for(&self, name: &str, input: &ResolveInput) -> Option<String> {
        let platforms = self.foreign_platforms.borrow().get(name)?.clone();
        if platforms.iter().all(|p| p.starts_with("win")) {
            return Some(format!(
                "{name} is for Windows only: give its line a marker, `{name}; sys_platform == \"win32\"`, or remove it"
            ));
        }
        if platforms.iter().all(|p| p.starts_with("macosx")) {
            return Some(format!(
                "{name} is for macOS only: give its line a marker, `{name}; sys_platform == \"darwin\"`, or remove it"
            ));
        }
        // Wheels for this CPU that need a newer C library than the base's.
        let needed_glibc = platforms
            .iter()
            .filter(|p| p.ends_with(self.target.machine()))
            .filter_map(|p| {
                let rest = p.strip_prefix("manylinux_2_")?;
                rest.split('_').next()?.parse::<u32>().ok()
            })
            .min();
        if let (Some(needed), crate::python::Libc::Glibc { minor, .. }) =
            (needed_glibc, &self.target.libc)
            && needed > *minor
        {
            return Some(format!(
                "{name}'s wheels need glibc 2.{needed} and the image has {}: build on a base with a newer one (e.g. --recipe debian13), or pin an older {name}",
                self.target.libc
            ));
        }
        let direct = root_lines(input, self, name);
        (!direct.is_empty()).then(|| {
            format!(
                "pick a version of {name} with a wheel for {} (see above), or let the builder compile one from its source distribution (drop --only-binary)",
                self.target
            )
        })
    }
}

/// `1.0, 1.1` or `0.1 … 3.1.3 (57 versions)`.
fn summary(versions: &[&Version]) -> String {
    let mut sorted: Vec<&&Version> = versions.iter().collect();
    sorted.sort();
    match sorted.len() {
        0 => "(none)".into(),
        1..=3 => sorted
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        n => format!("{} … {} ({n} versions)", sorted[0], sorted[n - 1]),
    }
}
