//! Projects declared the classic way, in `setup.cfg` and/or `setup.py`
//! (`pip install .`): their name, version, requirements and entry points.
//! `setup.cfg` is read as setuptools reads it (an INI file; lists one per
//! line or separated by `;`). From `setup.py` only literal values are read
//! (`install_requires=["flask>=3"]`); one that computes its requirements
//! (reads them from a file, builds the list) is marked dynamic, and its
//! requirements come from the metadata of the project built in the builder.

use super::requirements::SourcedRequirement;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Default)]
pub struct SetupProject {
    pub name: Option<String>,
    pub version: Option<String>,
    pub requirements: Vec<SourcedRequirement>,
    pub extras: BTreeMap<String, Vec<SourcedRequirement>>,
    pub python_requires: Option<String>,
    /// Entry points by group (`console_scripts`…).
    pub entry_points: BTreeMap<String, Vec<(String, String)>>,
    /// `setup.py` computes its requirements: they come from its metadata.
    pub dynamic: bool,
    /// The files that declared it (`setup.cfg`, `setup.py`), which key a lock.
    pub files: Vec<std::path::PathBuf>,
}

/// The project `app_dir` declares in `setup.cfg` / `setup.py`, if any.
pub fn read(app_dir: &Path) -> Result<Option<SetupProject>> {
    let cfg_path = app_dir.join("setup.cfg");
    let py_path = app_dir.join("setup.py");
    let cfg = crate::project::text::text_if_regular(&cfg_path);
    let py = crate::project::text::text_if_regular(&py_path);
    if cfg.is_none() && py.is_none() {
        return Ok(None);
    }
    let mut project = SetupProject::default();
    if let Some(text) = &cfg {
        read_cfg(text, &cfg_path, &mut project)?;
        project.files.push(cfg_path.clone());
    }
    if let Some(text) = &py {
        read_py(text, &py_path, &mut project)?;
        project.files.push(py_path.clone());
    }
    Ok(Some(project))
}

/// `setup.cfg`: `[metadata]` name and version, `[options]`
/// install_requires and python_requires, `[options.extras_require]`,
/// `[options.entry_points]`.
fn read_cfg(text: &str, path: &Path, project: &mut SetupProject) -> Result<()> {
    let sections = ini(text);
    let at = |key: &str| format!("{} [{key}]", path.display());
    if let Some(metadata) = sections.get("metadata") {
        project.name = metadata.get("name").map(|(v, _)| v.trim().to_string());
        project.version = metadata
            .get("version")
            .map(|(v, _)| v.trim().to_string())
            .filter(|v| !v.starts_with("attr:") && !v.starts_with("file:"));
    }
    if let Some(options) = sections.get("options") {
        if let Some((value, line)) = options.get("install_requires") {
            project.requirements = requirement_list(value, &format!("{}:{line}", path.display()))
                .with_context(|| at("options"))?;
        }
        project.python_requires = options
            .get("python_requires")
            .map(|(v, _)| v.trim().to_string());
    }
    if let Some(extras) = sections.get("options.extras_require") {
        for (extra, (value, line)) in extras {
            let list = requirement_list(value, &format!("{}:{line}", path.display()))
                .with_context(|| at("options.extras_require"))?;
            project.extras.insert(extra.clone(), list);
        }
    }
    if let Some(points) = sections.get("options.entry_points") {
        for (group, (value, _)) in points {
            let entries = value
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(n, t)| (n.trim().to_string(), t.trim().to_string()))
                .collect();
            project.entry_points.insert(group.clone(), entries);
        }
    }
    Ok(())
}

/// An INI file as configparser reads setup.cfg: section → key → (value,
/// line), indented lines continuing the value before them.
fn ini(text: &str) -> BTreeMap<String, BTreeMap<String, (String, usize)>> {
    let mut sections: BTreeMap<String, BTreeMap<String, (String, usize)>> = BTreeMap::new();
    let mut section = String::new();
    let mut last: Option<String> = None;
    for (number, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            continue;
        }
        if raw.starts_with([' ', '\t'])
            && let Some(key) = &last
            && let Some((value, _)) = sections.get_mut(&section).and_then(|s| s.get_mut(key))
        {
            value.push('\n');
            value.push_str(trimmed);
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            section = name.trim().to_string();
            sections.entry(section.clone()).or_default();
            last = None;
            continue;
        }
        if let Some((key, value)) = trimmed.split_once(['=', ':']) {
            let key = key.trim().to_string();
            sections
                .entry(section.clone())
                .or_default()
                .insert(key.clone(), (value.trim().to_string(), number + 1));
            last = Some(key);
        }
    }
    sections
}

/// A setuptools list of requirements: one per line, or `;`-separated on one.
fn requirement_list(value: &str, origin: &str) -> Result<Vec<SourcedRequirement>> {
    let items: Vec<&str> = if value.contains('\n') {
        value.lines().collect()
    } else {
        value.split(';').collect()
    };
    items
        .into_iter()
        .map(|i| i.split(" #").next().unwrap_or(i).trim())
        .filter(|i| !i.is_empty())
        .map(|i| requirement(i, origin))
        .collect()
}

fn requirement(text: &str, origin: &str) -> Result<SourcedRequirement> {
    Ok(SourcedRequirement {
        requirement: crate::python::parse_requirement(text)
            .with_context(|| format!("{origin}: '{text}'"))?,
        hashes: Vec::new(),
        origin: origin.to_string(),
    })
}

/// `setup.py`: the literal keyword arguments of its `setup(…)` call.
fn read_py(text: &str, path: &Path, project: &mut SetupProject) -> Result<()> {
    let Some(call) = setup_call(text) else {
        return Ok(());
    };
    if project.name.is_none() {
        project.name = keyword(call, "name").and_then(|v| string_literal(&v));
    }
    if project.version.is_none() {
        project.version = keyword(call, "version").and_then(|v| string_literal(&v));
    }
    if let Some(value) = keyword(call, "install_requires") {
        match string_list(&value) {
            Some(items) => {
                let origin = format!("{} (install_requires)", path.display());
                project.requirements = items
                    .iter()
                    .map(|i| requirement(i, &origin))
                    .collect::<Result<_>>()?;
            }
            None => project.dynamic = true,
        }
    }
    if let Some(value) = keyword(call, "python_requires")
        && project.python_requires.is_none()
    {
        project.python_requires = string_literal(&value);
    }
    if let Some(value) = keyword(call, "entry_points")
        && let Some(at) = value.find("console_scripts")
        && let Some((_, after)) = value[at..].split_once(':')
        && let Some(list) = string_list(&after.trim_start()[..expression_end(after.trim_start())])
    {
        let entries = list
            .iter()
            .filter_map(|l| l.split_once('='))
            .map(|(n, t)| (n.trim().to_string(), t.trim().to_string()))
            .collect();
        project
            .entry_points
            .insert("console_scripts".to_string(), entries);
    }
    Ok(())
}

/// The text inside `setup(` … `)`.
fn setup_call(text: &str) -> Option<&str> {
    let at = text.find("setup(")?;
    let body = &text[at + "setup(".len()..];
    let end = matching_close(body)?;
    Some(&body[..end])
}

/// Where the bracket closing the one just opened is (nesting and quotes passed over).
fn matching_close(text: &str) -> Option<usize> {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match quote {
            Some(q) if c == '\\' => {
                chars.next();
                let _ = q;
            }
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '"' | '\'' => quote = Some(c),
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' if depth == 0 => return Some(i),
                ')' | ']' | '}' => depth -= 1,
                _ => {}
            },
        }
    }
    None
}

/// The expression given to `name=` in a call's arguments.
fn keyword(call: &str, name: &str) -> Option<String> {
    let mut search = call;
    loop {
        let at = search.find(name)?;
        let before = search[..at].chars().last();
        let rest = search[at + name.len()..].trim_start();
        let boundary = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        if boundary && let Some(value) = rest.strip_prefix('=').filter(|r| !r.starts_with('=')) {
            let value = value.trim_start();
            let end = expression_end(value);
            return Some(value[..end].trim().to_string());
        }
        search = &search[at + name.len()..];
    }
}

/// Where an argument's expression ends: the comma or closing bracket at
/// its own level.
fn expression_end(text: &str) -> usize {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match quote {
            Some(_) if c == '\\' => {
                chars.next();
            }
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '"' | '\'' => quote = Some(c),
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' if depth == 0 => return i,
                ')' | ']' | '}' => depth -= 1,
                ',' if depth == 0 => return i,
                _ => {}
            },
        }
    }
    text.len()
}

/// `"text"` or `'text'` (no escapes, no concatenation).
fn string_literal(value: &str) -> Option<String> {
    let value = value.trim();
    let q = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let inner = value.strip_prefix(q)?.strip_suffix(q)?;
    (!inner.contains(q) && !inner.contains('\\')).then(|| inner.to_string())
}

/// `["a", 'b>=1']` (or a tuple) of string literals only; `None` for
/// anything computed.
fn string_list(value: &str) -> Option<Vec<String>> {
    let value = value.trim();
    let inner = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .or_else(|| value.strip_prefix('(').and_then(|v| v.strip_suffix(')')))?;
    let mut items = Vec::new();
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let end = expression_end(rest);
        let item = rest[..end].trim();
        // Comments between items.
        let item = item
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        let item = item.trim();
        if !item.is_empty() {
            items.push(string_literal(item)?);
        }
        rest = rest[end..].trim_start_matches(',').trim();
    }
    Some(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[SourcedRequirement]) -> Vec<String> {
        list.iter().map(|r| r.requirement.to_string()).collect()
    }

    #[test]
    fn setup_cfg_as_setuptools_reads_it() {
        let dir = crate::project::test_app(&[(
            "setup.cfg",
            "[metadata]\nname = guestbook\nversion = 1.2\n\n[options]\npackages = find:\npython_requires = >=3.9\ninstall_requires =\n    flask>=2.2\n    # a comment\n    gunicorn ; sys_platform != \"win32\"\n\n[options.extras_require]\ndev = pytest; black\n\n[options.entry_points]\nconsole_scripts =\n    guestbook-admin = guestbook.cli:main\n",
        )]);
        let project = read(dir.path()).unwrap().unwrap();
        assert_eq!(project.name.as_deref(), Some("guestbook"));
        assert_eq!(project.version.as_deref(), Some("1.2"));
        assert_eq!(
            names(&project.requirements),
            ["flask>=2.2", "gunicorn ; sys_platform != 'win32'"]
        );
        assert!(
            project.requirements[0].origin.ends_with("setup.cfg:8"),
            "{}",
            project.requirements[0].origin
        );
        assert_eq!(names(&project.extras["dev"]), ["pytest", "black"]);
        assert_eq!(
            project.entry_points["console_scripts"],
            [(
                "guestbook-admin".to_string(),
                "guestbook.cli:main".to_string()
            )]
        );
        assert_eq!(project.python_requires.as_deref(), Some(">=3.9"));
        assert!(!project.dynamic);
    }

    #[test]
    fn setup_py_literals_are_read_and_computed_ones_are_dynamic() {
        let dir = crate::project::test_app(&[(
            "setup.py",
            "from setuptools import setup, find_packages\n\nsetup(\n    name='flaskr',\n    version=\"1.0.0\",\n    packages=find_packages(),\n    include_package_data=True,\n    install_requires=[\n        'flask',  # the framework\n        \"flask-sqlalchemy>=3\",\n    ],\n    entry_points={'console_scripts': ['flaskr-init = flaskr.db:init']},\n)\n",
        )]);
        let project = read(dir.path()).unwrap().unwrap();
        assert_eq!(project.name.as_deref(), Some("flaskr"));
        assert_eq!(
            names(&project.requirements),
            ["flask", "flask-sqlalchemy>=3"]
        );
        assert!(!project.dynamic);
        assert_eq!(project.entry_points["console_scripts"][0].0, "flaskr-init");
        let dir = crate::project::test_app(&[(
            "setup.py",
            "from setuptools import setup\nwith open('requirements.in') as f:\n    deps = f.read().split()\nsetup(name='svc', install_requires=deps)\n",
        )]);
        let project = read(dir.path()).unwrap().unwrap();
        assert!(project.dynamic);
        assert!(project.requirements.is_empty());
        assert_eq!(project.name.as_deref(), Some("svc"));
    }
}
