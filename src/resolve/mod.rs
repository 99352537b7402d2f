//! Dependency resolution for one target with PubGrub: extras, markers and
//! `requires-python` evaluated for the image's interpreter, wheels chosen by
//! the image's tags, pre-releases only when asked or when nothing else fits,
//! constraints, hashes and direct wheel references.

pub mod app;
mod explain;
mod input;
pub mod local_files;
pub mod lock;
pub mod locked;
pub mod prefetch;
mod provider;
pub mod ranges;

use crate::index::{Index, normalize_name};
use crate::python::Target;
use anyhow::{Context, Result, bail};
pub use input::{BinaryPolicy, Node, Pin, Resolution, ResolveInput};
use pep440_rs::Version;
use provider::Provider;
pub use provider::ProviderError;
use pubgrub::PubGrubError;

pub fn resolve(index: &Index, target: &Target, input: &ResolveInput) -> Result<Resolution> {
    let prefetcher = prefetch::Prefetcher::new(index, target, input.allow_linux_tag);
    let mut provider = Provider::new(index, target, input)?;
    if let Some(text) = explain::contradiction(input, &provider) {
        bail!("the requirements cannot be satisfied for {target}:\n{text}");
    }
    provider.prefetcher = Some(&prefetcher);
    // PubGrub decides on this thread; a few others fetch ahead of it.
    let outcome = std::thread::scope(|scope| {
        for _ in 0..crate::parallel::WORKERS {
            scope.spawn(|| prefetcher.work());
        }
        // Boxed: PubGrub's error holds its whole derivation tree.
        let outcome = Box::new(pubgrub::resolve(
            &provider,
            Node::Root,
            Version::new([0u64]),
        ));
        prefetcher.finish();
        outcome
    });
    let selected = match *outcome {
        Ok(selected) => selected,
        Err(PubGrubError::NoSolution(tree)) => {
            bail!(
                "the requirements cannot be satisfied for {target}:\n{}",
                explain::failure(&provider, input, &tree)
            );
        }
        Err(PubGrubError::ErrorChoosingVersion { source, .. }) => return Err(source.0),
        Err(PubGrubError::ErrorRetrievingDependencies { source, .. }) => return Err(source.0),
        Err(e) => bail!("resolution failed: {e}"),
    };
    let mut pins = Vec::new();
    for (node, version) in selected {
        let Node::Package(name) = node else { continue };
        let file = provider
            .chosen
            .borrow()
            .get(&(name.clone(), version.clone()))
            .cloned()
            .context("internal: no file")?;
        let metadata = index.metadata(&file)?;
        let mut dependencies: Vec<String> = metadata
            .requires_dist
            .iter()
            .filter(|r| r.marker.evaluate(&provider.env, &[]))
            .map(|r| normalize_name(r.name.as_ref()))
            .collect();
        dependencies.sort();
        dependencies.dedup();
        pins.push(Pin {
            name,
            version,
            file,
            dependencies,
        });
    }
    pins.sort_by(|a, b| a.name.cmp(&b.name));
    if input.require_hashes {
        let missing: Vec<&str> = pins
            .iter()
            .filter(|p| !provider.hashes.contains_key(&p.name))
            .map(|p| p.name.as_str())
            .collect();
        if !missing.is_empty() {
            bail!(
                "--require-hashes is set but these packages have no --hash line: {}; pin each with ==VERSION --hash=sha256:…",
                missing.join(", ")
            );
        }
    }
    Ok(Resolution {
        target: target.clone(),
        pins,
    })
}

#[cfg(test)]
mod tests {
    use super::BinaryPolicy;

    fn policy(options: &[(&str, bool)]) -> BinaryPolicy {
        let mut p = BinaryPolicy::default();
        for (value, only) in options {
            p.apply(value, *only).unwrap();
        }
        p
    }

    #[test]
    fn binary_policy_follows_pip() {
        let default = policy(&[]);
        assert!(default.wheels_allowed("a") && default.sdists_allowed("a"));
        let only_all = policy(&[(":all:", true)]);
        assert!(only_all.wheels_allowed("a") && !only_all.sdists_allowed("a"));
        let no_named = policy(&[("My_Pkg,other", false)]);
        assert!(!no_named.wheels_allowed("my-pkg") && no_named.wheels_allowed("a"));
        // The later option wins for a name in both.
        let later = policy(&[(":all:", false), ("numpy", true)]);
        assert!(later.wheels_allowed("numpy") && !later.sdists_allowed("numpy"));
        assert!(!later.wheels_allowed("flask"));
        let cleared = policy(&[(":all:", true), (":none:", true)]);
        assert!(cleared.sdists_allowed("a"));
        let file = [("flask".to_string(), false)];
        let merged = policy(&[("flask", true)])
            .after_file_options(&file)
            .unwrap();
        assert!(merged.wheels_allowed("flask") && !merged.sdists_allowed("flask"));
        let mut bad = BinaryPolicy::default();
        assert!(bad.apply(":some:", true).is_err());
    }
}
