//! The target interpreter as the resolver sees it: the PEP 508 marker
//! environment of the image's Python, and the wheel tags it accepts, best
//! first (the order of `packaging.tags.sys_tags` for CPython on Linux).

use crate::platform::{Arch, Platform};
use anyhow::{Context, Result, bail};
use pep508_rs::{MarkerEnvironment, MarkerEnvironmentBuilder};
use std::collections::HashMap;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Libc {
    Glibc { major: u32, minor: u32 },
    Musl { major: u32, minor: u32 },
}

impl fmt::Display for Libc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Libc::Glibc { major, minor } => write!(f, "glibc {major}.{minor}"),
            Libc::Musl { major, minor } => write!(f, "musl {major}.{minor}"),
        }
    }
}

/// The image's platform, CPython version and C library.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    pub platform: Platform,
    /// (major, minor, micro)
    pub python: (u32, u32, u32),
    pub libc: Libc,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (a, b, c) = self.python;
        write!(
            f,
            "CPython {a}.{b}.{c} on {} ({})",
            self.platform, self.libc
        )
    }
}

/// One wheel compatibility tag: (python, abi, platform).
pub type Tag = (String, String, String);

impl Target {
    /// Parses `3.11` or `3.11.2`; a missing micro version is taken as 0.
    pub fn parse_python(text: &str) -> Result<(u32, u32, u32)> {
        let parts: Vec<u32> = text
            .trim()
            .split('.')
            .map(|p| p.parse::<u32>())
            .collect::<Result<_, _>>()
            .with_context(|| format!("'{text}' is not a Python version such as 3.11 or 3.11.2"))?;
        match parts.as_slice() {
            [3, minor] => Ok((3, *minor, 0)),
            [3, minor, micro] => Ok((3, *minor, *micro)),
            _ => bail!("'{text}' is not a Python 3 version such as 3.11 or 3.11.2"),
        }
    }

    pub fn python_version(&self) -> String {
        format!("{}.{}", self.python.0, self.python.1)
    }

    pub fn python_full_version(&self) -> String {
        let (a, b, c) = self.python;
        format!("{a}.{b}.{c}")
    }

    /// `platform.machine()` inside the image.
    pub fn machine(&self) -> &'static str {
        match self.platform.arch {
            Arch::Amd64 => "x86_64",
            Arch::Arm64 => "aarch64",
        }
    }

    /// The values PEP 508 markers are evaluated against, for the image.
    pub fn marker_environment(&self) -> MarkerEnvironment {
        linux_cpython_markers(&self.python_full_version(), self.machine())
    }

    /// Platform tags, most specific first. `linux_<arch>` (wheels built for
    /// one machine only) is included only when `allow_linux_tag` is set.
    pub fn platform_tags(&self, allow_linux_tag: bool) -> Vec<String> {
        let arch = self.machine();
        let mut tags = Vec::new();
        match self.libc {
            Libc::Glibc { major, minor } => {
                // manylinux for x86_64 starts at glibc 2.5, for aarch64 at 2.17.
                let oldest = if arch == "x86_64" { 5 } else { 17 };
                if major == 2 {
                    for m in (oldest..=minor).rev() {
                        tags.push(format!("manylinux_2_{m}_{arch}"));
                        match m {
                            17 => tags.push(format!("manylinux2014_{arch}")),
                            12 => tags.push(format!("manylinux2010_{arch}")),
                            5 => tags.push(format!("manylinux1_{arch}")),
                            _ => {}
                        }
                    }
                }
            }
            Libc::Musl { major, minor } => {
                for m in (0..=minor).rev() {
                    tags.push(format!("musllinux_{major}_{m}_{arch}"));
                }
            }
        }
        if allow_linux_tag {
            tags.push(format!("linux_{arch}"));
        }
        tags
    }

    /// Every tag the interpreter accepts, best first.
    pub fn tags(&self, allow_linux_tag: bool) -> Vec<Tag> {
        let platforms = self.platform_tags(allow_linux_tag);
        let (_, minor, _) = self.python;
        let cp = format!("cp3{minor}");
        let mut tags = Vec::new();
        let mut push = |py: &str, abi: &str, plat: &str| {
            tags.push((py.to_string(), abi.to_string(), plat.to_string()))
        };
        for abi in [cp.as_str(), "abi3", "none"] {
            for plat in &platforms {
                push(&cp, abi, plat);
            }
        }
        for older in (2..minor).rev() {
            for plat in &platforms {
                push(&format!("cp3{older}"), "abi3", plat);
            }
        }
        let py_versions: Vec<String> = std::iter::once(format!("py3{minor}"))
            .chain(std::iter::once("py3".to_string()))
            .chain((0..minor).rev().map(|m| format!("py3{m}")))
            .collect();
        for py in &py_versions {
            for plat in &platforms {
                push(py, "none", plat);
            }
        }
        push(&cp, "none", "any");
        for py in &py_versions {
            push(py, "none", "any");
        }
        tags
    }

    /// A lookup from tag to rank (0 = best).
    pub fn tag_ranks(&self, allow_linux_tag: bool) -> TagRanks {
        let mut ranks = TagRanks::default();
        for (rank, (python, abi, platform)) in self.tags(allow_linux_tag).into_iter().enumerate() {
            let by_python = ranks.0.entry(platform).or_default();
            by_python.entry(python).or_default().insert(abi, rank);
        }
        ranks
    }
}

/// Tag ranks by platform, then Python tag, then ABI: a wheel's tags are
/// looked up by its own strings, without making a tag per combination
/// (an index page has thousands of files, most for other platforms).
#[derive(Default)]
pub struct TagRanks(HashMap<String, HashMap<String, HashMap<String, usize>>>);

impl TagRanks {
    /// The best rank among a wheel's tags, or None if the target accepts none.
    pub fn rank(&self, wheel: &WheelFilename) -> Option<usize> {
        let pythons = wheel.platform.iter().filter_map(|p| self.0.get(p.as_str()));
        let abis = pythons.flat_map(|by_python| {
            wheel
                .python
                .iter()
                .filter_map(|p| by_python.get(p.as_str()))
        });
        abis.flat_map(|by_abi| wheel.abi.iter().filter_map(|a| by_abi.get(a.as_str())))
            .copied()
            .min()
    }
}

/// `{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl`, where each tag
/// part may be a `.`-separated set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelFilename {
    pub name: String,
    pub version: String,
    pub build: Option<String>,
    pub python: Vec<String>,
    pub abi: Vec<String>,
    pub platform: Vec<String>,
}

impl WheelFilename {
    pub fn parse(filename: &str) -> Result<WheelFilename> {
        if !filename.ends_with(".whl") {
            bail!("'{filename}' is not a wheel file name");
        }
        WheelFilename::read(filename).with_context(|| {
            format!(
                "'{filename}' is not a valid wheel file name (name-version-python-abi-platform.whl)"
            )
        })
    }

    /// `filename` read as a wheel's, `None` when it is not one: for loops
    /// over an index's files, most of which may be sdists, where making an
    /// error (with a backtrace, when RUST_BACKTRACE is set) for each costs
    /// more than reading the name.
    pub fn read(filename: &str) -> Option<WheelFilename> {
        let stem = filename.strip_suffix(".whl")?;
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, build, tags) = match parts.as_slice() {
            [n, v, p, a, pl] => (n, v, None, [p, a, pl]),
            [n, v, b, p, a, pl] => (n, v, Some(b.to_string()), [p, a, pl]),
            _ => return None,
        };
        // Names and versions of letters, digits, `.` and `_` (`+`/`!` in
        // versions): a name is also a path, and a hostile one (`../x`) must
        // not get that far.
        let plain = |s: &str, more: &[char]| {
            !s.is_empty()
                && s.chars().all(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '.' | '_') || more.contains(&c)
                })
        };
        if !plain(name, &[])
            || !plain(version, &['+', '!'])
            || name.starts_with('.')
            || filename.contains(['/', '\\'])
        {
            return None;
        }
        let split = |s: &str| s.split('.').map(str::to_string).collect::<Vec<_>>();
        Some(WheelFilename {
            name: name.to_string(),
            version: version.to_string(),
            build,
            python: split(tags[0]),
            abi: split(tags[1]),
            platform: split(tags[2]),
        })
    }

    pub fn tags(&self) -> impl Iterator<Item = Tag> + '_ {
        self.python.iter().flat_map(move |py| {
            self.abi.iter().flat_map(move |abi| {
                self.platform
                    .iter()
                    .map(move |pl| (py.clone(), abi.clone(), pl.clone()))
            })
        })
    }

    /// The platform tags as written in the file name (used to explain why no
    /// wheel fits the target).
    pub fn platform_summary(&self) -> String {
        self.platform.join(".")
    }
}

/// A PEP 508 requirement that pep508_rs could not read, and why.
#[derive(Debug)]
pub struct RequirementError(String);

impl fmt::Display for RequirementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RequirementError {}

/// Parses a PEP 508 requirement. A name ending in `.`, `-` or `_` before
/// more text (`asgiref_>=3`) is refused here: pep508_rs 0.9 panics on it
/// (its name check and its parser disagree), and a hostile METADATA or
/// requirements line must never take pypack down.
pub fn parse_requirement(
    text: &str,
) -> Result<pep508_rs::Requirement<pep508_rs::VerbatimUrl>, RequirementError> {
    let name: String = text
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    if name.ends_with(['.', '-', '_']) {
        return Err(RequirementError(format!(
            "package name '{name}' must end with a letter or digit"
        )));
    }
    // pep508_rs 0.9 also panics on other odd input (an extra ending in `-`,
    // an error underline inside a multi-byte character): contained here.
    parse_contained(text, "a requirement")
}

/// `text` parsed by pep508_rs, its panics made errors saying `text` is not
/// `what` pypack can read.
fn parse_contained<T>(text: &str, what: &str) -> Result<T, RequirementError>
where
    T: std::str::FromStr<Err = pep508_rs::Pep508Error<pep508_rs::VerbatimUrl>>,
{
    let parsed = contained(|| T::from_str(text).map_err(|e| e.to_string()));
    match parsed {
        Some(result) => result.map_err(RequirementError),
        None => Err(RequirementError(format!(
            "'{}' is not {what} pypack can read",
            text.chars().take(200).collect::<String>()
        ))),
    }
}

/// Parses a PEP 508 marker (as a lock file writes one): pep508_rs 0.9
/// panics on some (an error inside a multi-byte character), contained here.
pub fn parse_marker(text: &str) -> Result<pep508_rs::MarkerTree, RequirementError> {
    parse_contained(text, "a marker")
}

thread_local! {
    /// Set while [`contained`] runs: its panics are not printed.
    static CONTAINING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `f()`, or `None` when it panics (silently: the caller says what failed).
fn contained<T>(f: impl FnOnce() -> T) -> Option<T> {
    static QUIET_HOOK: std::sync::Once = std::sync::Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !CONTAINING.with(|c| c.get()) {
                previous(info);
            }
        }));
    });
    CONTAINING.with(|c| c.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CONTAINING.with(|c| c.set(false));
    result.ok()
}

/// The values PEP 508 markers are evaluated against for CPython
/// `full_version` (`3.11.2`) on Linux on `machine` (`x86_64`).
pub fn linux_cpython_markers(full_version: &str, machine: &str) -> MarkerEnvironment {
    let short: String = full_version
        .splitn(3, '.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".");
    MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
        implementation_name: "cpython",
        implementation_version: full_version,
        os_name: "posix",
        platform_machine: machine,
        platform_python_implementation: "CPython",
        // The kernel is the host's at run time; nothing in the image fixes it.
        platform_release: "",
        platform_system: "Linux",
        platform_version: "",
        python_full_version: full_version,
        python_version: &short,
        sys_platform: "linux",
    })
    .expect("versions built from numbers parse")
}

#[cfg(test)]
mod tests {
    use super::*;
    use pep508_rs::{MarkerTree, Requirement};
    use std::str::FromStr;

    fn target(arch: &str, libc: Libc) -> Target {
        Target {
            platform: Platform::parse(arch).unwrap(),
            python: (3, 11, 2),
            libc,
        }
    }

    const GLIBC_236: Libc = Libc::Glibc {
        major: 2,
        minor: 36,
    };

    #[test]
    fn a_name_ending_in_punctuation_is_an_error_not_a_panic() {
        for text in ["asgiref_>=3", "a- ; extra == 'x'", "b. (>=1)", "c_[x]"] {
            let err = parse_requirement(text).unwrap_err().to_string();
            assert!(
                err.contains("must end with a letter or digit"),
                "{text}: {err}"
            );
        }
        assert!(parse_requirement("a_b.c-d>=1").is_ok());
        // What pep508_rs itself panics on is an error too.
        for text in [
            "a[asyn-]",
            "a>=3.2; extra == \"async\"Provides-Extra: asyéc",
        ] {
            assert!(parse_requirement(text).is_err(), "{text}");
        }
    }

    #[test]
    fn markers_for_linux_amd64() {
        let env = target("linux/amd64", GLIBC_236).marker_environment();
        let eval = |m: &str| MarkerTree::from_str(m).unwrap().evaluate(&env, &[]);
        assert!(eval(
            "sys_platform == 'linux' and platform_machine == 'x86_64'"
        ));
        assert!(eval(
            "python_version >= '3.8' and python_full_version == '3.11.2'"
        ));
        assert!(!eval("sys_platform == 'win32'"));
        assert!(!eval("platform_machine == 'aarch64'"));
        assert!(eval(
            "implementation_name == 'cpython' and os_name == 'posix'"
        ));
        let arm = target("linux/arm64", GLIBC_236).marker_environment();
        assert!(
            MarkerTree::from_str("platform_machine == 'aarch64'")
                .unwrap()
                .evaluate(&arm, &[])
        );
        let req =
            Requirement::<pep508_rs::VerbatimUrl>::from_str("pywin32; sys_platform == 'win32'")
                .unwrap();
        assert!(!req.marker.evaluate(&env, &[]));
    }

    #[test]
    fn tag_order_matches_packaging() {
        let t = target("linux/amd64", GLIBC_236);
        let tags = t.tags(false);
        let s = |i: usize| format!("{}-{}-{}", tags[i].0, tags[i].1, tags[i].2);
        assert_eq!(s(0), "cp311-cp311-manylinux_2_36_x86_64");
        assert_eq!(
            tags.last().unwrap(),
            &("py30".into(), "none".into(), "any".into())
        );
        let ranks = t.tag_ranks(false);
        let rank = |f: &str| ranks.rank(&WheelFilename::parse(f).unwrap());
        let cp311 = rank("x-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl").unwrap();
        let abi3 = rank("x-1-cp38-abi3-manylinux_2_17_x86_64.whl").unwrap();
        let pure = rank("x-1-py3-none-any.whl").unwrap();
        let old = rank("x-1-cp311-cp311-manylinux1_x86_64.whl").unwrap();
        assert!(
            cp311 < old && old < abi3 && abi3 < pure,
            "{cp311} {old} {abi3} {pure}"
        );
        assert_eq!(rank("x-1-cp311-cp311-musllinux_1_2_x86_64.whl"), None);
        assert_eq!(
            rank("x-1-cp311-cp311-manylinux_2_38_x86_64.whl"),
            None,
            "newer glibc than the target"
        );
        assert_eq!(rank("x-1-cp312-cp312-manylinux_2_17_x86_64.whl"), None);
        assert_eq!(rank("x-1-cp311-cp311-linux_x86_64.whl"), None);
        assert!(
            t.tag_ranks(true)
                .rank(&WheelFilename::parse("x-1-cp311-cp311-linux_x86_64.whl").unwrap())
                .is_some()
        );
        assert_eq!(rank("x-1-cp311-cp311-win_amd64.whl"), None);
        assert_eq!(rank("x-1-cp311-cp311-manylinux_2_17_aarch64.whl"), None);
    }

    #[test]
    fn musl_and_arm64_tags() {
        let musl = target("linux/amd64", Libc::Musl { major: 1, minor: 2 });
        let ranks = musl.tag_ranks(false);
        let rank = |f: &str| ranks.rank(&WheelFilename::parse(f).unwrap());
        assert!(rank("x-1-cp311-cp311-musllinux_1_1_x86_64.whl").is_some());
        assert_eq!(rank("x-1-cp311-cp311-manylinux_2_17_x86_64.whl"), None);
        let arm = target("linux/arm64", GLIBC_236).platform_tags(false);
        assert_eq!(arm.last().unwrap(), "manylinux2014_aarch64");
    }

    #[test]
    fn wheel_filenames() {
        let w = WheelFilename::parse("Flask-3.0.0-1build-py3-none-any.whl").unwrap();
        assert_eq!(
            (w.name.as_str(), w.build.as_deref()),
            ("Flask", Some("1build"))
        );
        assert!(WheelFilename::parse("flask-3.0.0.tar.gz").is_err());
        assert!(WheelFilename::parse("bad-name.whl").is_err());
        assert_eq!(Target::parse_python("3.11").unwrap(), (3, 11, 0));
        assert!(Target::parse_python("2.7").is_err());
    }
}
