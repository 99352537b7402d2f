//! PEP 440 version specifiers as PubGrub ranges, with the comparisons pip
//! makes (its `packaging` library), checked against it by
//! `tests/pep440_parity.rs`:
//! - a specifier without a local label ignores the candidate's (`==1.0`
//!   and `<=1.0` admit `1.0+cpu`);
//! - `<V` admits no pre-release of V's release unless V is one (`<1.0.post1`
//!   still admits `1.0`);
//! - `>V` admits neither a post-release of V's release (unless V is one)
//!   nor a local version of it (`>1.0` admits neither `1.0.post1` nor
//!   `1.0+local`).
//!
//! Ranges are intervals, so two rare cases are approximated: `>V` with V
//! a pre-, post- or development release admits, within V's release, local
//! versions of its pre-/post-releases and post-releases of its pre-releases
//! (`1.0a1.post1`), which pip refuses; `<V.postN` beyond 64 post-releases
//! admits the development releases of the post-releases below it.

use pep440_rs::{Operator, Version, VersionSpecifier, VersionSpecifiers};
use pubgrub::Ranges;

pub type VersionRange = Ranges<Version>;

pub fn from_specifiers(specifiers: &VersionSpecifiers) -> VersionRange {
    specifiers.iter().fold(Ranges::full(), |acc, s| {
        acc.intersection(&from_specifier(s))
    })
}

fn from_specifier(spec: &VersionSpecifier) -> VersionRange {
    let v = spec.version().clone();
    match spec.operator() {
        Operator::ExactEqual => Ranges::singleton(v),
        Operator::Equal => equal(v),
        Operator::NotEqual => equal(v).complement(),
        Operator::EqualStar | Operator::NotEqualStar if v.any_prerelease() || v.is_post() => {
            // A wildcard after a suffix (`==1.0rc1.*`): pep440_rs's reading.
            VersionRange::from(spec.clone())
        }
        Operator::EqualStar => prefix(v.release(), v.epoch()),
        Operator::NotEqualStar => prefix(v.release(), v.epoch()).complement(),
        Operator::GreaterThanEqual => Ranges::higher_than(v),
        Operator::LessThanEqual if v.is_local() => Ranges::lower_than(v),
        Operator::LessThanEqual => Ranges::strictly_lower_than(after_locals(&v)),
        Operator::LessThan => less_than(v),
        Operator::GreaterThan => greater_than(v),
        Operator::TildeEqual => {
            let release = v.release();
            let kept = &release[..release.len().saturating_sub(1).max(1)];
            Ranges::higher_than(v.clone()).intersection(&prefix(kept, v.epoch()))
        }
    }
}

/// `==V`: V itself, and with any local label when V has none.
fn equal(v: Version) -> VersionRange {
    if v.is_local() {
        return Ranges::singleton(v);
    }
    let end = after_locals(&v);
    Ranges::between(v, end)
}

/// `<V`: below V, without the pre-releases of V's release unless V is one.
fn less_than(v: Version) -> VersionRange {
    if v.any_prerelease() {
        return Ranges::strictly_lower_than(v);
    }
    let base = base_of(&v);
    let below_base = Ranges::strictly_lower_than(base.clone().with_min(Some(0)));
    let Some(post) = v.post() else {
        return below_base;
    };
    if post > 64 {
        return below_base.union(&Ranges::between(base, v.without_local().with_dev(Some(0))));
    }
    // V's release and its post-releases below V, each with its local
    // versions but not its development releases.
    let mut out = below_base.union(&Ranges::between(base.clone(), after_locals(&base)));
    for k in 0..post {
        let release = base.clone().with_post(Some(k));
        out = out.union(&Ranges::between(release.clone(), after_locals(&release)));
    }
    out
}

/// `>V`: above V, without the post-releases of V's release (unless V is
/// one) and without local versions of V's release.
fn greater_than(v: Version) -> VersionRange {
    let base = base_of(&v);
    let above_release = Ranges::strictly_higher_than(base.clone().with_max(Some(0)));
    if v.is_post() {
        return Ranges::higher_than(after_locals(&v));
    }
    if v.any_prerelease() {
        // The rest of V's pre-releases and the release itself (no posts,
        // no local label of the release).
        let within = Ranges::higher_than(after_locals(&v)).intersection(&Ranges::lower_than(base));
        return within.union(&above_release);
    }
    above_release
}

/// The version a range pins (`==V`: V with or without a local label, or
/// `===V`), for PEP 592: a yanked file may be chosen when pinned.
pub fn pinned(range: &VersionRange) -> Option<&Version> {
    if let Some(v) = range.as_singleton() {
        return Some(v);
    }
    let (std::ops::Bound::Included(low), std::ops::Bound::Excluded(high)) =
        range.bounding_range()?
    else {
        return None;
    };
    (range.iter().count() == 1 && !low.is_local() && *high == after_locals(low)).then_some(low)
}

/// V's release with its epoch, without pre/post/dev/local: PEP 440's
/// "base version".
fn base_of(v: &Version) -> Version {
    Version::new(v.release().iter().copied()).with_epoch(v.epoch())
}

/// The first version after V and every local version of V.
fn after_locals(v: &Version) -> Version {
    let v = v.clone().without_local();
    match (v.dev(), v.post()) {
        (Some(dev), _) => v.with_dev(Some(dev + 1)),
        (None, Some(post)) => v.with_post(Some(post + 1)).with_dev(Some(0)),
        (None, None) => v.with_post(Some(0)).with_dev(Some(0)),
    }
}

/// `== 1.2.*`: from 1.2's first development release up to (not including)
/// 1.3's, local labels included.
fn prefix(release: &[u64], epoch: u64) -> VersionRange {
    let lower = Version::new(release.iter().copied())
        .with_epoch(epoch)
        .with_min(Some(0));
    Ranges::between(lower, bump(release).with_epoch(epoch))
}

/// The first version after every release starting with `release`.
fn bump(release: &[u64]) -> Version {
    let mut next = release.to_vec();
    if let Some(last) = next.last_mut() {
        *last += 1;
    }
    Version::new(next).with_min(Some(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn range(s: &str) -> VersionRange {
        from_specifiers(&VersionSpecifiers::from_str(s).unwrap())
    }
    fn v(s: &str) -> Version {
        Version::from_str(s).unwrap()
    }

    #[test]
    fn specifiers() {
        let r = range(">=2.0, <3");
        assert!(r.contains(&v("2.0")) && r.contains(&v("2.9.9")) && !r.contains(&v("3.0")));
        assert!(!r.contains(&v("3.0rc1")), "<3 excludes 3's pre-releases");
        assert!(range("<3.0rc2").contains(&v("3.0rc1")));
        let r = range("~=2.2");
        assert!(
            r.contains(&v("2.2"))
                && r.contains(&v("2.9"))
                && !r.contains(&v("3.0"))
                && !r.contains(&v("2.1"))
        );
        let r = range("~=1.4.5");
        assert!(r.contains(&v("1.4.9")) && !r.contains(&v("1.5.0")));
        let r = range("==1.2.*");
        assert!(
            r.contains(&v("1.2"))
                && r.contains(&v("1.2.7"))
                && !r.contains(&v("1.3"))
                && !r.contains(&v("1.1.9"))
        );
        let r = range("!=1.5, >1");
        assert!(!r.contains(&v("1.5")) && r.contains(&v("1.6")) && !r.contains(&v("1")));
        assert!(range("==3.0.0").contains(&v("3.0")));
        assert!(!range("!=2.*").contains(&v("2.4")));
    }

    /// PEP 440: "The exclusive ordered comparison >V MUST NOT allow a
    /// post-release of the given version unless V itself is a post release"
    /// and must not match a local version of V.
    #[test]
    fn greater_than_excludes_the_post_and_local_releases_of_its_version() {
        let r = range(">1.0");
        for excluded in ["1.0", "1.0.post1", "1.0+local", "1.0.post1+local"] {
            assert!(!r.contains(&v(excluded)), ">1.0 admits {excluded}");
        }
        for admitted in ["1.0.1", "1.1", "2.0"] {
            assert!(r.contains(&v(admitted)), ">1.0 refuses {admitted}");
        }
        let r = range(">1.0.post1");
        assert!(!r.contains(&v("1.0.post1")) && r.contains(&v("1.0.post2")));
        assert!(!range("<1.0").contains(&v("1.0.dev1")));
    }
}
