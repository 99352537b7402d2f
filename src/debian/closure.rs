//! The dependency closure of a package list: what dpkg would insist on having
//! installed, minus what the recipe deliberately leaves out (distroless leaves
//! out dpkg, perl, debconf and the shell, whose absence a runtime never notices).

use super::packages::{Dep, DepGroup, Package, PackageIndex, satisfies};
use anyhow::{Result, bail};
use std::collections::{BTreeMap, VecDeque};

/// Resolves `roots` and everything they depend on. Dependencies on an
/// `exclude`d package count as met. Returns packages sorted by name.
pub fn closure<'a>(
    index: &'a PackageIndex,
    roots: &[String],
    exclude: &[String],
) -> Result<Vec<&'a Package>> {
    let mut selected: BTreeMap<String, &Package> = BTreeMap::new();
    let mut needed_by: BTreeMap<String, String> = BTreeMap::new();
    let mut queue: VecDeque<(DepGroup, Option<String>)> = VecDeque::new();
    for root in roots {
        if exclude.contains(root) {
            bail!("package '{root}' is both listed and excluded in the recipe");
        }
        queue.push_back((
            vec![Dep {
                name: root.clone(),
                constraint: None,
            }],
            None,
        ));
    }
    while let Some((group, parent)) = queue.pop_front() {
        if group.iter().any(|d| exclude.contains(&d.name)) {
            continue;
        }
        if group
            .iter()
            .any(|d| selected.values().any(|p| satisfies(p, d)))
        {
            continue;
        }
        let chosen = choose(index, &group, &selected)
            .ok_or_else(|| unmet(index, &group, &parent, &needed_by))?;
        if let Some(existing) = selected.get(&chosen.name) {
            bail!(
                "conflicting requirements on {}: {} is selected but {} needs {}",
                chosen.name,
                existing.version,
                parent.as_deref().unwrap_or("the recipe"),
                group
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
        if let Some(parent) = parent {
            needed_by.insert(chosen.name.clone(), parent);
        }
        for dep in chosen.depends()? {
            queue.push_back((dep, Some(chosen.name.clone())));
        }
        selected.insert(chosen.name.clone(), chosen);
    }
    Ok(selected.into_values().collect())
}

/// The first alternative that a real package (highest version) or, failing
/// that, a provider can meet; a provider already chosen wins over a new one.
fn choose<'a>(
    index: &'a PackageIndex,
    group: &DepGroup,
    selected: &BTreeMap<String, &Package>,
) -> Option<&'a Package> {
    for dep in group {
        if selected.contains_key(&dep.name) {
            continue; // selected at a version this alternative rejects
        }
        if let Some(p) = index.best(dep) {
            return Some(p);
        }
        let providers = index.providers(dep);
        if let Some(p) = providers.iter().find(|p| !selected.contains_key(&p.name)) {
            return Some(p);
        }
    }
    None
}

fn unmet(
    index: &PackageIndex,
    group: &DepGroup,
    parent: &Option<String>,
    needed_by: &BTreeMap<String, String>,
) -> anyhow::Error {
    let wanted = group
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(" | ");
    let available: Vec<String> = group
        .iter()
        .filter(|d| !index.versions(&d.name).is_empty())
        .map(|d| format!("{} has {}", d.name, index.versions(&d.name).join(", ")))
        .collect();
    let mut chain = Vec::new();
    let mut at = parent.clone();
    while let Some(name) = at {
        at = needed_by.get(&name).cloned();
        chain.push(name);
    }
    let via = if chain.is_empty() {
        "listed in the recipe".to_string()
    } else {
        chain.reverse();
        format!("needed by {}", chain.join(" → "))
    };
    let found = if available.is_empty() {
        "no such package in the configured suites".to_string()
    } else {
        format!("no allowed version ({})", available.join("; "))
    };
    anyhow::anyhow!("cannot satisfy '{wanted}' ({via}): {found}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debian::packages::parse_packages;

    const FIXTURE: &str = include_str!("../../tests/fixtures/Packages");

    fn index() -> PackageIndex {
        let mut idx = PackageIndex::default();
        idx.add(parse_packages(FIXTURE, "amd64").unwrap());
        idx
    }

    fn names(pkgs: &[&Package]) -> Vec<String> {
        pkgs.iter()
            .map(|p| format!("{}={}", p.name, p.version))
            .collect()
    }

    #[test]
    fn closure_follows_depends_provides_and_versions() {
        let idx = index();
        let roots = vec![
            "python3.11-minimal".to_string(),
            "ca-certificates".to_string(),
        ];
        let exclude = vec!["debconf".to_string(), "openssl".to_string()];
        let got = closure(&idx, &roots, &exclude).unwrap();
        assert_eq!(
            names(&got),
            [
                "ca-certificates=20230311",
                "gcc-12-base=12.2.0-14",
                "libc6=2.36-9+deb12u9",
                "libgcc-s1=12.2.0-14",
                "libpython3.11-minimal=3.11.2-6+deb12u5",
                "media-types=10.0.0",
                "python3.11-minimal=3.11.2-6+deb12u5",
                "zlib1g=1:1.2.13.dfsg-1",
            ]
        );
    }

    #[test]
    fn arm64_only_and_other_arch_are_filtered() {
        let mut idx = PackageIndex::default();
        idx.add(parse_packages(FIXTURE, "arm64").unwrap());
        let err = closure(&idx, &["python3.11-minimal".to_string()], &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("'python3.11-minimal'"), "{err}");
    }

    #[test]
    fn unmet_dependency_names_the_chain() {
        let idx = index();
        let err = closure(&idx, &["needs-new-libc".to_string()], &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("libc6 (>= 9.0)"), "{err}");
        assert!(err.contains("needed by needs-new-libc"), "{err}");
        assert!(err.contains("2.36-9+deb12u9"), "{err}");
        let err = closure(&idx, &["no-such-package".to_string()], &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no such package"), "{err}");
    }

    #[test]
    fn excluded_alternative_counts_as_met() {
        let idx = index();
        let got = closure(&idx, &["tzdata".to_string()], &["debconf".to_string()]).unwrap();
        assert_eq!(names(&got), ["tzdata=2024a-0+deb12u1"]);
        // Without the exclusion, the virtual debconf-2.0 is met by its provider.
        let got = closure(&idx, &["tzdata".to_string()], &[]).unwrap();
        assert_eq!(names(&got), ["debconf=1.5.82", "tzdata=2024a-0+deb12u1"]);
    }
}
