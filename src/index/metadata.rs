//! Core metadata (`METADATA`, `PKG-INFO`, PEP 658 files) and the other
//! email-header files of a distribution (`WHEEL`), read the way Python's
//! `email` parser reads them (the compat32 policy that pip and `packaging` use):
//!
//! - a header line is `Name: value`; a line starting with a space or a tab
//!   continues the field before it, **even when it holds nothing but
//!   whitespace** (folded licence texts are full of such lines);
//! - only an empty line ends the headers; what follows is the body (the
//!   long description of metadata 2.1+);
//! - lines end in `\n`, `\r\n` or `\r`;
//! - fields may repeat (`Requires-Dist`, `Classifier`), names are
//!   case-insensitive;
//! - a line that is neither a header nor a continuation is a defect: the
//!   headers end there and that line starts the body, as in Python.

use anyhow::{Result, bail};
use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{Requirement, VerbatimUrl};
use std::str::FromStr;

/// The header fields of an email-style file, in order, and its body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// (name as written, value); a folded value keeps its line breaks and
    /// the continuation lines' indentation, as Python's parser does.
    pub fields: Vec<(String, String)>,
    /// Everything after the first empty line (`None` when there is none).
    pub body: Option<String>,
}

impl Headers {
    pub fn parse(text: &str) -> Headers {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut body = None;
        for (line, start, next) in split_lines(text) {
            if line.is_empty() {
                body = Some(text[next..].to_string());
                break;
            }
            if line.starts_with([' ', '\t']) {
                // A continuation before any field is a defect; Python drops it.
                if let Some((_, value)) = fields.last_mut() {
                    value.push('\n');
                    value.push_str(line);
                }
                continue;
            }
            match header_name(line) {
                Some((name, value)) => fields.push((
                    name.to_string(),
                    value.trim_start_matches([' ', '\t']).into(),
                )),
                None => {
                    // Not a header: the body starts with this very line.
                    body = Some(text[start..].to_string());
                    break;
                }
            }
        }
        Headers { fields, body }
    }

    /// Every value of field `name` (case-insensitive), raw.
    pub fn all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        let name = name.to_string();
        self.fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(&name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, raw.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.all(name).next()
    }

    /// The first value of `name` on one line: folds joined by a space, trimmed.
    pub fn get(&self, name: &str) -> Option<String> {
        self.raw(name).map(unfold)
    }

    /// Every value of `name`, each on one line.
    pub fn get_all(&self, name: &str) -> Vec<String> {
        self.all(name).map(unfold).collect()
    }
}

/// `Name: value` with a name of printable ASCII other than `:` (RFC 5322's
/// field-name, which Python's parser also uses to tell headers from text).
fn header_name(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once(':')?;
    let valid = !name.is_empty() && name.bytes().all(|b| (0x21..=0x7e).contains(&b));
    valid.then_some((name, value))
}

/// Lines without their ending, each with its start and the offset just past its ending.
fn split_lines(text: &str) -> impl Iterator<Item = (&str, usize, usize)> {
    let mut at = 0;
    std::iter::from_fn(move || {
        if at >= text.len() {
            return None;
        }
        let rest = &text[at..];
        let end = rest.find(['\r', '\n']).unwrap_or(rest.len());
        let line = &rest[..end];
        let start = at;
        at += end + line_ending_len(text, at + end);
        Some((line, start, at))
    })
}

/// Length of the line ending starting at `at` (`\r\n` = 2, `\n` or `\r` = 1, end = 0).
fn line_ending_len(text: &str, at: usize) -> usize {
    let bytes = text.as_bytes();
    match bytes.get(at) {
        Some(b'\r') if bytes.get(at + 1) == Some(&b'\n') => 2,
        Some(b'\r' | b'\n') => 1,
        _ => 0,
    }
}

/// A folded value on one line.
fn unfold(value: &str) -> String {
    value
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A multi-line text field (`Description`, `License`) without its folding:
/// continuation lines lose their indentation and the `|` that setuptools
/// puts after it to keep blank and indented lines.
fn unfold_text(value: &str) -> String {
    let mut lines = value.lines();
    let mut out = lines.next().unwrap_or("").to_string();
    for line in lines {
        let stripped = line.trim_start_matches([' ', '\t']);
        let stripped = match stripped.strip_prefix('|') {
            Some(rest) if line.starts_with("        |") || line.starts_with("       |") => rest,
            _ => stripped,
        };
        out.push('\n');
        out.push_str(stripped);
    }
    out
}

/// The core metadata fields pypack uses (resolution, lock files, the SBOM-ish
/// inventory), parsed and checked.
#[derive(Debug, Clone)]
pub struct CoreMetadata {
    pub metadata_version: Version,
    pub name: String,
    pub version: Version,
    pub summary: Option<String>,
    pub requires_python: Option<VersionSpecifiers>,
    pub requires_dist: Vec<Requirement<VerbatimUrl>>,
    pub provides_extra: Vec<String>,
    /// Fields PEP 643 marks as decided only at build time (sdists).
    pub dynamic: Vec<String>,
    pub license: Option<String>,
    pub license_expression: Option<String>,
    /// From the `Description` field, else the body.
    pub description: Option<String>,
}

/// The newest metadata version this parser knows; a newer major is refused.
const KNOWN_METADATA_MAJOR: u64 = 2;

/// Parses a core metadata file (METADATA, PKG-INFO, a PEP 658 file).
pub fn parse(text: &str) -> Result<CoreMetadata> {
    parse_headers(&Headers::parse(text))
}

pub fn parse_headers(headers: &Headers) -> Result<CoreMetadata> {
    let metadata_version = match headers.get("metadata-version") {
        // Some old sdists omit it; the oldest format is assumed, as pip does.
        None => Version::new([1, 0]),
        Some(text) => Version::from_str(&text)
            .map_err(|e| anyhow::anyhow!("bad Metadata-Version '{text}': {e}"))?,
    };
    if metadata_version.release().first().copied().unwrap_or(0) > KNOWN_METADATA_MAJOR {
        bail!(
            "Metadata-Version {metadata_version} is newer than pypack understands (major {KNOWN_METADATA_MAJOR}); upgrade pypack"
        );
    }
    let name = headers
        .get("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| anyhow::anyhow!("no Name field (or an empty one)"))?;
    let version_text = headers
        .get("version")
        .ok_or_else(|| anyhow::anyhow!("no Version field"))?;
    let version = Version::from_str(&version_text)
        .map_err(|e| anyhow::anyhow!("bad Version '{version_text}': {e}"))?;
    let requires_python = match headers.get("requires-python") {
        Some(text) if !text.is_empty() => Some(
            VersionSpecifiers::from_str(&text)
                .map_err(|e| anyhow::anyhow!("bad Requires-Python '{text}': {e}"))?,
        ),
        _ => None,
    };
    let mut requires_dist = Vec::new();
    for value in headers.get_all("requires-dist") {
        let req = crate::python::parse_requirement(&value)
            .map_err(|e| anyhow::anyhow!("bad Requires-Dist '{value}': {e}"))?;
        requires_dist.push(req);
    }
    let description = match headers.raw("description") {
        Some(text) => Some(unfold_text(text)),
        None => headers.body.clone().filter(|b| !b.trim().is_empty()),
    };
    Ok(CoreMetadata {
        metadata_version,
        name,
        version,
        summary: headers.get("summary"),
        requires_python,
        requires_dist,
        provides_extra: headers.get_all("provides-extra"),
        dynamic: headers.get_all("dynamic"),
        license: headers.raw("license").map(unfold_text),
        license_expression: headers.get("license-expression"),
        description,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_metadata() {
        let text = "Metadata-Version: 2.1\nName: Flask\nVersion: 3.0.0\nRequires-Python: >=3.8\n\
                    Requires-Dist: Werkzeug>=3.0.0\nRequires-Dist: asgiref>=3.2 ; extra == 'async'\n\
                    Requires-Dist: importlib-metadata>=3.6.0; python_version < '3.10'\n\
                    Provides-Extra: async\n\nRequires-Dist: not-a-header\n";
        let m = parse(text).unwrap();
        assert_eq!(m.name, "Flask");
        assert_eq!(m.version.to_string(), "3.0.0");
        assert_eq!(m.requires_dist.len(), 3);
        assert_eq!(m.provides_extra, ["async"]);
        assert!(m.requires_python.is_some());
        assert_eq!(
            m.description.as_deref(),
            Some("Requires-Dist: not-a-header\n")
        );
        assert!(parse("Name: x\nVersion: not a version\n").is_err());
    }

    #[test]
    fn whitespace_only_lines_continue_a_field() {
        let text = "Metadata-Version: 2.1\nName: p\nVersion: 1\nLicense: Copyright (c) 2020\n        \n        All rights reserved.\n\t\nRequires-Dist: numpy>=1.23\n\nbody\n";
        let m = parse(text).unwrap();
        assert_eq!(m.requires_dist.len(), 1, "{m:?}");
        assert_eq!(
            m.license.as_deref(),
            Some("Copyright (c) 2020\n\nAll rights reserved.\n")
        );
        assert_eq!(m.description.as_deref(), Some("body\n"));
    }

    #[test]
    fn crlf_cr_and_repeated_fields() {
        let text = "Metadata-Version: 2.1\r\nName: p\r\nVersion: 1.0\r\nRequires-Dist: a\r\nRequires-Dist: b;\r\n  extra == 'x'\r\nProvides-Extra: x\r\n\r\nline one\r\nline two\r\n";
        let m = parse(text).unwrap();
        let names: Vec<String> = m.requires_dist.iter().map(|r| r.to_string()).collect();
        assert_eq!(names, ["a", "b ; extra == 'x'"]);
        assert_eq!(m.description.as_deref(), Some("line one\r\nline two\r\n"));
        let cr = parse("Name: p\rVersion: 2\rRequires-Dist: c\r\rbody").unwrap();
        assert_eq!(cr.requires_dist.len(), 1);
        assert_eq!(cr.metadata_version.to_string(), "1.0");
    }

    #[test]
    fn description_field_with_pipes() {
        let text = "Metadata-Version: 1.2\nName: p\nVersion: 1\nDescription: Title\n        |\n        |    indented\n        |last\nRequires-Dist: q\n";
        let m = parse(text).unwrap();
        assert_eq!(
            m.description.as_deref(),
            Some("Title\n\n    indented\nlast")
        );
        assert_eq!(m.requires_dist.len(), 1);
    }

    #[test]
    fn defects_and_limits() {
        // A line that is no header ends the headers, as in Python's parser.
        let h = Headers::parse("Name: p\nnot a header\nVersion: 1\n");
        assert_eq!(h.fields.len(), 1);
        assert_eq!(h.body.as_deref(), Some("not a header\nVersion: 1\n"));
        let err = parse("Metadata-Version: 3.0\nName: p\nVersion: 1\n").unwrap_err();
        assert!(err.to_string().contains("upgrade pypack"), "{err}");
        let err = parse("Name: p\nVersion: 1\nRequires-Dist: ^bad\n").unwrap_err();
        assert!(err.to_string().contains("Requires-Dist '^bad'"), "{err}");
        assert!(parse("Name:\nVersion: 1\n").is_err());
        // A BOM and a folded name are read.
        let m = parse("\u{feff}Name:\n  folded\nVersion: 1\n").unwrap();
        assert_eq!(m.name, "folded");
    }
    /// What a backend's fixture must read as.
    struct Expected {
        backend: &'static str,
        text: &'static str,
        name: &'static str,
        version: &'static str,
        requires_dist: usize,
        extras: &'static [&'static str],
        requires_python: &'static str,
        description_starts: &'static str,
    }

    macro_rules! fixture {
        ($backend:literal, $name:literal, $version:literal, $deps:literal, $extras:expr, $python:literal, $body:literal) => {
            Expected {
                backend: $backend,
                text: include_str!(concat!(
                    "../../tests/fixtures/metadata/",
                    $backend,
                    ".METADATA"
                )),
                name: $name,
                version: $version,
                requires_dist: $deps,
                extras: $extras,
                requires_python: $python,
                description_starts: $body,
            }
        };
    }

    /// METADATA shaped as each major build backend writes it (fixtures written
    /// for pypack); the expected values are what Python's email parser reads.
    fn backend_cases() -> [Expected; 9] {
        [
            fixture!(
                "setuptools",
                "httpkit",
                "2.32.3",
                6,
                &["security", "socks", "use-chardet-on-py3"],
                ">=3.8",
                "# HTTP Kit"
            ),
            fixture!(
                "setuptools-old",
                "oldpkg",
                "0.4.2",
                0,
                &[],
                ">=2.7, !=3.0.*, !=3.1.*",
                "oldpkg\n======\n\nStill"
            ),
            fixture!(
                "hatchling",
                "vizgrammar",
                "5.4.1",
                9,
                &["all", "dev"],
                ">=3.9",
                "# Vizgrammar"
            ),
            fixture!(
                "flit",
                "tinyweb",
                "3.2.0",
                5,
                &["async", "dotenv"],
                ">=3.9",
                "# TinyWeb"
            ),
            fixture!(
                "poetry-core",
                "taskrunner",
                "1.8.3",
                4,
                &["yaml", "time"],
                ">=3.8, <4.0",
                "# taskrunner"
            ),
            fixture!(
                "maturin",
                "fastcore-rs",
                "2.27.1",
                1,
                &[],
                ">=3.9",
                "# fastcore-rs\r\n"
            ),
            fixture!(
                "meson-python",
                "gridcalc",
                "1.14.1",
                5,
                &["test", "doc"],
                ">=3.10",
                ".. image::"
            ),
            fixture!(
                "pdm-backend",
                "richconsole",
                "13.7.1",
                4,
                &["jupyter"],
                ">=3.8",
                "# richconsole"
            ),
            fixture!(
                "scikit-build-core",
                "fastgeom",
                "0.9.0",
                2,
                &["test"],
                ">=3.9",
                "# fastgeom"
            ),
        ]
    }

    #[test]
    fn every_backends_metadata() {
        for case in &backend_cases() {
            let backend = case.backend;
            let m = parse(case.text).unwrap_or_else(|e| panic!("{backend}: {e:#}"));
            assert_eq!(m.name, case.name, "{backend}");
            assert_eq!(m.version.to_string(), case.version, "{backend}");
            assert_eq!(
                m.requires_dist.len(),
                case.requires_dist,
                "{backend}: {:?}",
                m.requires_dist
            );
            assert_eq!(m.provides_extra, case.extras, "{backend}");
            assert_eq!(
                m.requires_python.map(|r| r.to_string()).as_deref(),
                Some(case.requires_python),
                "{backend}"
            );
            let description = m.description.unwrap_or_default();
            assert!(
                description.starts_with(case.description_starts),
                "{backend}: {description:?}"
            );
        }
    }

    /// What only some backends write: folded licences, parenthesised
    /// specifiers, `Dynamic`, `License-Expression`.
    #[test]
    fn backend_specific_fields() {
        let cases = backend_cases();
        let read = |backend: &str| {
            let case = cases.iter().find(|c| c.backend == backend).unwrap();
            parse(case.text).unwrap()
        };
        // The folded licence text is read whole, blank lines kept.
        let license = read("meson-python").license.unwrap();
        assert!(
            license.contains("are met:\n\n1. Redistributions"),
            "{license}"
        );
        assert!(license.ends_with("License: BSD-3-Clause\n"), "{license:?}");
        // poetry-core's parenthesised specifiers.
        assert_eq!(
            read("poetry-core").requires_dist[0].to_string(),
            "attrs>=22.2.0"
        );
        assert_eq!(read("setuptools").dynamic, ["author", "license"]);
        let maturin = read("maturin");
        assert_eq!(maturin.license_expression.as_deref(), Some("MIT"));
        assert_eq!(
            maturin.summary.as_deref(),
            Some("Core functionality, written in Rust")
        );
    }
}
