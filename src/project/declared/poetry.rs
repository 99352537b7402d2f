//! Poetry projects: `[tool.poetry.dependencies]` (and groups, and extras)
//! turned into PEP 508 requirements, Poetry's `^` and `~` constraints into
//! PEP 440 ranges, its `python` constraint into `requires-python` or a marker.

use super::requirements::SourcedRequirement;
use anyhow::{Context, Result, bail};

/// A Poetry constraint (`^1.2`, `~1.2.3`, `>=1,<2`, `1.2.*`, `*`) as PEP 440
/// specifiers (`""` for any version).
pub fn constraint(text: &str) -> Result<String> {
    let text = text.trim();
    if text.contains("||") || text.contains(" | ") {
        bail!(
            "'{text}' is a union of ranges (||), which PEP 440 cannot say; narrow it to one range"
        );
    }
    let mut clauses = Vec::new();
    // Commas separate clauses; so do spaces between complete clauses
    // (`>=1.2 <1.5`), but not the space after an operator (`>= 1.2`).
    let normalized = text.replace(", ", ",");
    for part in normalized.split(',') {
        let mut pending = String::new();
        for word in part.split_whitespace() {
            pending.push_str(word);
            if word.chars().any(|c| c.is_ascii_digit() || c == '*') {
                clauses.push(std::mem::take(&mut pending));
            }
        }
        if !pending.is_empty() {
            clauses.push(pending);
        }
    }
    let mut out = Vec::new();
    for clause in clauses {
        out.extend(atom(&clause).with_context(|| format!("version constraint '{text}'"))?);
    }
    Ok(out.join(","))
}

fn atom(clause: &str) -> Result<Vec<String>> {
    if clause == "*" || clause.is_empty() {
        return Ok(Vec::new());
    }
    if let Some(version) = clause.strip_prefix('^') {
        let upper = bump(version, caret_index(version)?)?;
        return Ok(vec![format!(">={version}"), format!("<{upper}")]);
    }
    if let Some(version) = clause.strip_prefix("~=") {
        return Ok(vec![format!("~={version}")]);
    }
    if let Some(version) = clause.strip_prefix('~') {
        let parts = release(version)?.len();
        let upper = bump(version, if parts >= 2 { 1 } else { 0 })?;
        return Ok(vec![format!(">={version}"), format!("<{upper}")]);
    }
    for op in ["==", "!=", ">=", "<=", ">", "<"] {
        if let Some(version) = clause.strip_prefix(op) {
            return Ok(vec![format!("{op}{version}")]);
        }
    }
    if let Some(version) = clause.strip_prefix('=') {
        return Ok(vec![format!("=={version}")]);
    }
    // A bare version (`1.2.3`, `1.2.*`) is that version.
    Ok(vec![format!("=={clause}")])
}

/// The numeric release parts of a version (`1.2.3rc1` → [1, 2, 3]).
fn release(version: &str) -> Result<Vec<u64>> {
    let mut parts = Vec::new();
    for part in version.split('.') {
        let digits: String = part.chars().take_while(|c| c.is_ascii_digit()).collect();
        if digits.is_empty() {
            break;
        }
        parts.push(digits.parse()?);
        if digits.len() != part.len() {
            break;
        }
    }
    if parts.is_empty() {
        bail!("'{version}' is not a version");
    }
    Ok(parts)
}

/// Which part `^` may not raise: the first non-zero one (the last given
/// one when all are zero).
fn caret_index(version: &str) -> Result<usize> {
    let parts = release(version)?;
    Ok(parts
        .iter()
        .position(|p| *p != 0)
        .unwrap_or(parts.len() - 1))
}

/// `version` with part `index` raised by one and the rest zero.
fn bump(version: &str, index: usize) -> Result<String> {
    let parts = release(version)?;
    let mut out: Vec<u64> = parts.iter().take(index + 1).copied().collect();
    out.resize(index + 1, 0);
    out[index] += 1;
    while out.len() < parts.len().max(2) {
        out.push(0);
    }
    Ok(out
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join("."))
}

/// A `python = "^3.9"` constraint as a marker on `python_full_version`.
fn python_marker(constraint_text: &str) -> Result<String> {
    let specifiers = constraint(constraint_text)?;
    let clauses: Vec<String> = specifiers
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let op_len = s.find(|c: char| c.is_ascii_digit()).unwrap_or(0);
            format!("python_full_version {} '{}'", &s[..op_len], &s[op_len..])
        })
        .collect();
    Ok(clauses.join(" and "))
}

/// One `name = spec` line of a dependencies table; `None` for `python` and
/// for optional dependencies no asked-for extra names.
pub fn requirement(
    name: &str,
    spec: &toml::Value,
    origin: &str,
    wanted_optional: &[String],
) -> Result<Vec<SourcedRequirement>> {
    if name.eq_ignore_ascii_case("python") {
        return Ok(Vec::new());
    }
    let specs: Vec<&toml::Value> = match spec {
        toml::Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for spec in specs {
        let at = || format!("{origin}: {name}");
        let (version, table) = match spec {
            toml::Value::String(v) => (Some(v.as_str()), None),
            toml::Value::Table(t) => (t.get("version").and_then(|v| v.as_str()), Some(t)),
            _ => bail!("{}: must be a version string or a table", at()),
        };
        let get = |key: &str| table.and_then(|t| t.get(key));
        if get("optional").and_then(|v| v.as_bool()) == Some(true)
            && !wanted_optional.iter().any(|w| w.eq_ignore_ascii_case(name))
        {
            continue;
        }
        // A path dependency is required by name; where it comes from (a
        // local project) is project::sources' or the lock's to say.
        for unsupported in ["git"] {
            if get(unsupported).is_some() {
                bail!(
                    "{}: a {unsupported} dependency, which pypack does not install; publish it to an index or point --find-links at a wheel of it",
                    at()
                );
            }
        }
        let extras: Vec<String> = get("extras")
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut text = name.to_string();
        if !extras.is_empty() {
            text.push_str(&format!("[{}]", extras.join(",")));
        }
        if let Some(url) = get("url").and_then(|v| v.as_str()) {
            text.push_str(&format!(" @ {url}"));
        } else if let Some(version) = version {
            text.push_str(&constraint(version).with_context(at)?);
        }
        let mut markers = Vec::new();
        if let Some(python) = get("python").and_then(|v| v.as_str()) {
            markers.push(format!("({})", python_marker(python).with_context(at)?));
        }
        if let Some(m) = get("markers").and_then(|v| v.as_str()) {
            markers.push(format!("({m})"));
        }
        if let Some(platform) = get("platform").and_then(|v| v.as_str()) {
            markers.push(format!("sys_platform == '{platform}'"));
        }
        if !markers.is_empty() {
            text.push_str(&format!(" ; {}", markers.join(" and ")));
        }
        let parsed = crate::python::parse_requirement(&text)
            .map_err(|e| anyhow::anyhow!("{}: '{text}' is not a valid requirement: {e}", at()))?;
        out.push(SourcedRequirement {
            requirement: parsed,
            hashes: Vec::new(),
            origin: origin.to_string(),
        });
    }
    Ok(out)
}

/// The requirements of a `[tool.poetry]` table: its dependencies, the
/// optional ones the asked-for `extras` name, and the asked-for `groups`
/// (`[tool.poetry.group.NAME.dependencies]`, or the old `dev-dependencies`
/// for `dev`). `None` when it declares no dependencies table.
pub fn dependencies(
    poetry: &toml::Table,
    file: &str,
    extras: &[String],
    groups: &[String],
) -> Result<Option<Vec<SourcedRequirement>>> {
    let Some(deps) = poetry.get("dependencies").and_then(|v| v.as_table()) else {
        return Ok(None);
    };
    let mut wanted_optional: Vec<String> = Vec::new();
    let declared = poetry.get("extras").and_then(|v| v.as_table());
    for extra in extras {
        let Some(names) = declared
            .and_then(|d| d.get(extra))
            .and_then(|v| v.as_array())
        else {
            bail!(
                "{file} has no [tool.poetry.extras] '{extra}' (it has: {})",
                declared
                    .map(|d| d.keys().cloned().collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            );
        };
        wanted_optional.extend(names.iter().filter_map(|n| n.as_str().map(str::to_string)));
    }
    let mut out = Vec::new();
    let origin = format!("{file} [tool.poetry.dependencies]");
    for (name, spec) in deps {
        out.extend(requirement(name, spec, &origin, &wanted_optional)?);
    }
    for group in groups {
        let table = poetry
            .get("group")
            .and_then(|g| g.get(group))
            .and_then(|g| g.get("dependencies"))
            .or_else(|| {
                (group == "dev")
                    .then(|| poetry.get("dev-dependencies"))
                    .flatten()
            })
            .and_then(|v| v.as_table())
            .with_context(|| format!("{file} has no Poetry group '{group}'"))?;
        let origin = format!("{file} [tool.poetry.group.{group}.dependencies]");
        for (name, spec) in table {
            out.extend(requirement(name, spec, &origin, &wanted_optional)?);
        }
    }
    Ok(Some(out))
}

/// `[tool.poetry.dependencies] python`, as `requires-python` specifiers.
pub fn requires_python(poetry: &toml::Table) -> Option<String> {
    let python = poetry.get("dependencies")?.get("python")?.as_str()?;
    constraint(python).ok().filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carets_tildes_and_the_rest() {
        for (poetry, pep440) in [
            ("^1.2.3", ">=1.2.3,<2.0.0"),
            ("^1.2", ">=1.2,<2.0"),
            ("^1", ">=1,<2.0"),
            ("^0.2.3", ">=0.2.3,<0.3.0"),
            ("^0.0.3", ">=0.0.3,<0.0.4"),
            ("^0.0", ">=0.0,<0.1"),
            ("^0", ">=0,<1.0"),
            ("~1.2.3", ">=1.2.3,<1.3.0"),
            ("~1.2", ">=1.2,<1.3"),
            ("~1", ">=1,<2.0"),
            ("~=1.4", "~=1.4"),
            (">=1.2, <1.5", ">=1.2,<1.5"),
            (">= 1.2 < 1.5", ">=1.2,<1.5"),
            ("1.2.3", "==1.2.3"),
            ("1.2.*", "==1.2.*"),
            ("*", ""),
            ("!=1.3", "!=1.3"),
        ] {
            assert_eq!(constraint(poetry).unwrap(), pep440, "{poetry}");
        }
        assert!(
            constraint("^1.0 || ^2.0")
                .unwrap_err()
                .to_string()
                .contains("union")
        );
        assert!(constraint("^x").is_err());
    }

    #[test]
    fn tables_groups_and_extras() {
        let doc: toml::Table = toml::from_str(
            r#"
            [tool.poetry.dependencies]
            python = "^3.9"
            flask = "^3.0"
            gunicorn = { version = ">=22", optional = true }
            uvicorn = { version = "^0.30", extras = ["standard"] }
            tomli = { version = "^2.0", python = "<3.11" }
            pywin32 = { version = "*", markers = "sys_platform == 'win32'" }
            [tool.poetry.extras]
            serve = ["gunicorn"]
            [tool.poetry.group.dev.dependencies]
            pytest = "^8"
            "#,
        )
        .unwrap();
        let poetry = doc["tool"]["poetry"].as_table().unwrap();
        let texts = |reqs: Vec<SourcedRequirement>| -> Vec<String> {
            reqs.iter().map(|r| r.requirement.to_string()).collect()
        };
        let plain = texts(
            dependencies(poetry, "pyproject.toml", &[], &[])
                .unwrap()
                .unwrap(),
        );
        assert_eq!(
            plain,
            [
                "flask>=3.0,<4.0",
                "pywin32 ; sys_platform == 'win32'",
                "tomli>=2.0,<3.0 ; python_full_version < '3.11'",
                "uvicorn[standard]>=0.30,<0.31"
            ]
        );
        let all = texts(
            dependencies(poetry, "pyproject.toml", &["serve".into()], &["dev".into()])
                .unwrap()
                .unwrap(),
        );
        assert!(
            all.contains(&"gunicorn>=22".to_string())
                && all.contains(&"pytest>=8,<9.0".to_string()),
            "{all:?}"
        );
        assert_eq!(requires_python(poetry).as_deref(), Some(">=3.9,<4.0"));
        let err = dependencies(poetry, "pyproject.toml", &[], &["docs".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("no Poetry group 'docs'"), "{err}");
        let git: toml::Table =
            toml::from_str("[dependencies]\nlib = { git = \"https://example.invalid/lib.git\" }\n")
                .unwrap();
        let err = dependencies(&git, "pyproject.toml", &[], &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("lib") && err.contains("git dependency"),
            "{err}"
        );
    }
}
