//! PEP 440 version specifiers as PubGrub ranges.

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
        Operator::Equal | Operator::ExactEqual => Ranges::singleton(v),
        Operator::NotEqual => Ranges::singleton(v).complement(),
        Operator::EqualStar => prefix(&v),
        Operator::NotEqualStar => prefix(&v).complement(),
        Operator::GreaterThanEqual => Ranges::higher_than(v),
        Operator::GreaterThan => Ranges::strictly_higher_than(v),
        Operator::LessThanEqual => Ranges::lower_than(v),
        // `<V` excludes V's own pre-releases unless V is one (PEP 440).
        Operator::LessThan if v.any_prerelease() => Ranges::strictly_lower_than(v),
        Operator::LessThan => Ranges::strictly_lower_than(v.with_min(Some(0))),
        Operator::TildeEqual => {
            let release = v.release();
            let upper = if release.len() >= 2 {
                bump(&release[..release.len() - 1])
            } else {
                bump(release)
            };
            Ranges::higher_than(v).intersection(&Ranges::strictly_lower_than(upper))
        }
    }
}

/// `== 1.2.*`: from 1.2's first dev release up to (not including) 1.3's.
fn prefix(v: &Version) -> VersionRange {
    let lower = Version::new(v.release().iter().copied())
        .with_epoch(v.epoch())
        .with_min(Some(0));
    Ranges::between(lower, bump(v.release()).with_epoch(v.epoch()))
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
}
