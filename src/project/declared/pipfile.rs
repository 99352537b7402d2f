//! Pipenv's `Pipfile`: `[packages]` (and `[dev-packages]` with `--group dev`)
//! as PEP 508 requirements. Its versions are PEP 440 already (`*` for any).

use super::requirements::SourcedRequirement;
use anyhow::{Context, Result, bail};
use std::path::Path;

pub fn dependencies(path: &Path, groups: &[String]) -> Result<Vec<SourcedRequirement>> {
    let text = crate::project::text::read_text(path)?;
    let doc: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))?;
    let mut sections = vec!["packages".to_string()];
    for group in groups {
        match group.as_str() {
            "dev" | "dev-packages" => sections.push("dev-packages".into()),
            other => bail!(
                "{}: --group {other}: a Pipfile has only [packages] and [dev-packages] (--group dev)",
                path.display()
            ),
        }
    }
    let mut out = Vec::new();
    for section in sections {
        let Some(table) = doc.get(&section).and_then(|v| v.as_table()) else {
            continue;
        };
        let origin = format!("{} [{section}]", path.display());
        for (name, spec) in table {
            out.push(requirement(name, spec, &origin)?);
        }
    }
    Ok(out)
}

fn requirement(name: &str, spec: &toml::Value, origin: &str) -> Result<SourcedRequirement> {
    let at = || format!("{origin}: {name}");
    let (version, table) = match spec {
        toml::Value::String(v) => (v.as_str(), None),
        toml::Value::Table(t) => (
            t.get("version").and_then(|v| v.as_str()).unwrap_or("*"),
            Some(t),
        ),
        _ => bail!("{}: must be a version string or a table", at()),
    };
    let get = |key: &str| table.and_then(|t| t.get(key));
    for unsupported in ["git", "path", "file", "editable"] {
        if get(unsupported).is_some() {
            bail!(
                "{}: a {unsupported} dependency, which pypack does not install; publish it to an index or point --find-links at a wheel of it",
                at()
            );
        }
    }
    let mut text = name.to_string();
    let extras: Vec<&str> = get("extras")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|e| e.as_str()).collect())
        .unwrap_or_default();
    if !extras.is_empty() {
        text.push_str(&format!("[{}]", extras.join(",")));
    }
    if version.trim() != "*" {
        text.push_str(version.trim());
    }
    let mut markers: Vec<String> = Vec::new();
    if let Some(m) = get("markers").and_then(|v| v.as_str()) {
        markers.push(format!("({m})"));
    }
    // Pipenv's shorthand markers: `sys_platform = "== 'linux'"`.
    for key in [
        "sys_platform",
        "platform_machine",
        "os_name",
        "python_version",
        "platform_system",
    ] {
        if let Some(m) = get(key).and_then(|v| v.as_str()) {
            markers.push(format!("{key} {m}"));
        }
    }
    if !markers.is_empty() {
        text.push_str(&format!(" ; {}", markers.join(" and ")));
    }
    let requirement = crate::python::parse_requirement(&text)
        .map_err(|e| anyhow::anyhow!("{}: '{text}' is not a valid requirement: {e}", at()))?;
    Ok(SourcedRequirement {
        requirement,
        hashes: Vec::new(),
        origin: origin.to_string(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn packages_and_dev_packages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Pipfile");
        std::fs::write(
            &path,
            "[[source]]\nurl = \"https://index.invalid/simple\"\nname = \"main\"\n\n[packages]\nflask = \"*\"\ngunicorn = \">=22\"\nrequests = {version = \"==2.32.3\", extras = [\"socks\"]}\npywin32 = {version = \"*\", sys_platform = \"== 'win32'\"}\n\n[dev-packages]\npytest = \"*\"\n\n[requires]\npython_version = \"3.11\"\n",
        )
        .unwrap();
        let texts = |groups: &[String]| -> Vec<String> {
            super::dependencies(&path, groups)
                .unwrap()
                .iter()
                .map(|r| r.requirement.to_string())
                .collect()
        };
        assert_eq!(
            texts(&[]),
            [
                "flask",
                "gunicorn>=22",
                "pywin32 ; sys_platform == 'win32'",
                "requests[socks]==2.32.3"
            ]
        );
        assert_eq!(texts(&["dev".into()]).len(), 5);
        std::fs::write(
            &path,
            "[packages]\nlib = {path = \"../lib\", editable = true}\n",
        )
        .unwrap();
        let err = super::dependencies(&path, &[]).unwrap_err().to_string();
        assert!(
            err.contains("lib") && err.contains("path dependency"),
            "{err}"
        );
    }
}
