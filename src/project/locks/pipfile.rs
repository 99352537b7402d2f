//! `Pipfile.lock` (JSON): a flat `default` section (and `develop`, with
//! `--group dev`) of `==version` pins with their files' hashes and markers;
//! the files themselves are found in the index by hash.

use super::locked::{LockInput, LockedFile, LockedPackage, marker_holds, sha256_of, unusable};
use crate::index::normalize_name;
use anyhow::Result;
use std::path::Path;

pub fn read(path: &Path, input: &LockInput) -> Result<Vec<LockedPackage>> {
    let text = crate::project::text::read_text(path)?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| unusable(path, format!("not valid JSON: {e}")))?;
    let mut sections = vec!["default"];
    if input.groups.iter().any(|g| g == "dev") {
        sections.push("develop");
    }
    let env = input.env();
    let mut out = Vec::new();
    for section in sections {
        let Some(entries) = doc.get(section).and_then(|s| s.as_object()) else {
            continue;
        };
        for (name, entry) in entries {
            if !marker_holds(entry.get("markers").and_then(|m| m.as_str()), &env, &[])? {
                continue;
            }
            for unsupported in ["git", "path", "file", "editable"] {
                if entry.get(unsupported).is_some() {
                    return Err(unusable(
                        path,
                        format!(
                            "{name} is a {unsupported} dependency, which pypack does not install"
                        ),
                    ));
                }
            }
            let version = entry
                .get("version")
                .and_then(|v| v.as_str())
                .and_then(|v| v.strip_prefix("=="))
                .ok_or_else(|| unusable(path, format!("{name} has no ==version")))?;
            let files = entry
                .get("hashes")
                .and_then(|h| h.as_array())
                .into_iter()
                .flatten()
                .filter_map(|h| h.as_str().and_then(sha256_of))
                .map(|sha256| LockedFile {
                    sha256: Some(sha256),
                    ..LockedFile::default()
                })
                .collect();
            out.push(LockedPackage {
                name: normalize_name(name),
                version: version.to_string(),
                files,
                dependencies: Vec::new(),
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    Ok(out)
}
