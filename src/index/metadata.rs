//! Core metadata (`METADATA` / PEP 658 files): the fields resolution needs.

use anyhow::{Context, Result, bail};
use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{Requirement, VerbatimUrl};
use std::str::FromStr;

#[derive(Debug, Clone)]
pub struct CoreMetadata {
    pub name: String,
    pub version: Version,
    pub requires_python: Option<VersionSpecifiers>,
    pub requires_dist: Vec<Requirement<VerbatimUrl>>,
    pub provides_extra: Vec<String>,
}

/// Parses the header part (up to the first blank line) of a metadata file.
pub fn parse(text: &str) -> Result<CoreMetadata> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            break; // the description body follows
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = fields.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            fields.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let name = get("name").context("no Name field")?;
    let version_text = get("version").context("no Version field")?;
    let version = Version::from_str(&version_text)
        .map_err(|e| anyhow::anyhow!("bad Version '{version_text}': {e}"))?;
    let requires_python = match get("requires-python") {
        Some(text) if !text.is_empty() => Some(
            VersionSpecifiers::from_str(&text)
                .map_err(|e| anyhow::anyhow!("bad Requires-Python '{text}': {e}"))?,
        ),
        _ => None,
    };
    let mut requires_dist = Vec::new();
    for (_, value) in fields.iter().filter(|(k, _)| k == "requires-dist") {
        let req = Requirement::<VerbatimUrl>::from_str(value)
            .map_err(|e| anyhow::anyhow!("bad Requires-Dist '{value}': {e}"))?;
        requires_dist.push(req);
    }
    let provides_extra = fields
        .iter()
        .filter(|(k, _)| k == "provides-extra")
        .map(|(_, v)| v.clone())
        .collect();
    if name.is_empty() {
        bail!("empty Name field");
    }
    Ok(CoreMetadata {
        name,
        version,
        requires_python,
        requires_dist,
        provides_extra,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_metadata() {
        let text = "Metadata-Version: 2.1\nName: Flask\nVersion: 3.0.0\nRequires-Python: >=3.8\n\
                    Requires-Dist: Werkzeug>=3.0.0\nRequires-Dist: asgiref>=3.2 ; extra == 'async'\n\
                    Requires-Dist: importlib-metadata>=3.6.0; python_version < '3.10'\n\
                    Provides-Extra: async\n\nRequires-Dist: not-a-header\n";
        let m = super::parse(text).unwrap();
        assert_eq!(m.name, "Flask");
        assert_eq!(m.version.to_string(), "3.0.0");
        assert_eq!(m.requires_dist.len(), 3);
        assert_eq!(m.provides_extra, ["async"]);
        assert!(m.requires_python.is_some());
        assert!(super::parse("Name: x\nVersion: not a version\n").is_err());
    }
}
