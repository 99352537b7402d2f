//! `requirements.txt` in pip's syntax: line continuations, comments,
//! `${VAR}` expansion, `-r`/`-c` includes, index options, `--pre`,
//! `--only-binary`/`--no-binary`,
//! `--require-hashes` and per-line `--hash`, and direct wheel paths or URLs.
//! Every error names the file and line.

use crate::index::IndexSettings;
use anyhow::{Context, Result, bail};
use pep508_rs::{Requirement, VerbatimUrl};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct SourcedRequirement {
    pub requirement: Requirement<VerbatimUrl>,
    /// `sha256` hex digests allowed for this requirement (`--hash`).
    pub hashes: Vec<String>,
    /// `file:line`, for messages.
    pub origin: String,
}

/// A wheel named by path or URL instead of by name and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectWheel {
    /// `file://…` or `http(s)://…`
    pub url: String,
    pub filename: String,
    pub hashes: Vec<String>,
    pub origin: String,
}

/// A project in a local directory (`../libs/common`, `-e ./lib`, a
/// `file:` URL, a uv workspace member, a Poetry path dependency): built
/// like the app's own project and installed into the venv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalProject {
    /// The directory, absolute.
    pub path: PathBuf,
    /// `file:line` (or the table) that names it, for messages.
    pub origin: String,
}

#[derive(Debug, Clone, Default)]
pub struct RequirementSet {
    pub requirements: Vec<SourcedRequirement>,
    pub constraints: Vec<SourcedRequirement>,
    pub direct: Vec<DirectWheel>,
    pub index: IndexSettings,
    pub pre: bool,
    pub require_hashes: bool,
    /// `--only-binary` (true) / `--no-binary` (false) values, in file order.
    pub binary: Vec<(String, bool)>,
    /// Projects in local directories, installed as they are built.
    pub local: Vec<LocalProject>,
    /// The app's own project computes its requirements (a `setup.py`
    /// building its list): they come from its metadata, built in the
    /// builder, and are added to these.
    pub from_built_metadata: Option<std::path::PathBuf>,
}

impl RequirementSet {
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty() && self.direct.is_empty() && self.local.is_empty()
    }
}

/// Reads a requirements file (and what it includes); `env` expands `${VAR}`.
pub fn parse_file(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<RequirementSet> {
    let mut set = RequirementSet::default();
    read_into(path, env, &mut set, false, 0)?;
    Ok(set)
}

fn read_into(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    set: &mut RequirementSet,
    as_constraints: bool,
    depth: usize,
) -> Result<()> {
    if depth > 16 {
        bail!(
            "{}: -r/-c includes nest too deep (a cycle?)",
            path.display()
        );
    }
    let text = crate::project::text::read_requirements_text(path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    for (number, line) in logical_lines(&text) {
        let origin = format!("{}:{number}", path.display());
        let line = expand_env(&line, env).with_context(|| origin.clone())?;
        parse_line(&line, dir, &origin, env, set, as_constraints, depth)
            .with_context(|| format!("{origin}: '{}'", line.trim()))?;
    }
    Ok(())
}

/// Joins `\`-continued lines and strips comments; yields (first line number, text).
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if current.is_empty() {
            start = i + 1;
        }
        let line = strip_comment(raw);
        if let Some(body) = line.strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        if !current.trim().is_empty() {
            out.push((start, current.trim().to_string()));
        }
        current.clear();
    }
    if !current.trim().is_empty() {
        out.push((start, current.trim().to_string()));
    }
    out
}

/// pip's rule: `#` starts a comment at the line start or after whitespace.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return line[..i].trim_end();
        }
    }
    line.trim_end()
}

/// `${NAME}` (upper case, digits, `_`) from the environment, as pip does.
fn expand_env(line: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("${") {
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 2..start + end];
        out.push_str(&rest[..start]);
        if !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        {
            match env(name) {
                Some(value) => out.push_str(&value),
                None => bail!("environment variable {name} is not set"),
            }
        } else {
            out.push_str(&rest[start..start + end + 1]);
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Splits `--opt=value` / `--opt value` / `-o value` tokens.
fn option_value<'a>(
    words: &mut std::iter::Peekable<std::slice::Iter<'a, &'a str>>,
    word: &'a str,
) -> Result<String> {
    if let Some((_, v)) = word.split_once('=') {
        return Ok(v.to_string());
    }
    if word.len() > 2 && word.starts_with('-') && !word.starts_with("--") {
        return Ok(word[2..].to_string()); // -rfile
    }
    words
        .next()
        .map(|v| v.to_string())
        .with_context(|| format!("option {word} needs a value"))
}

fn parse_line(
    line: &str,
    dir: &Path,
    origin: &str,
    env: &dyn Fn(&str) -> Option<String>,
    set: &mut RequirementSet,
    as_constraints: bool,
    depth: usize,
) -> Result<()> {
    if line.starts_with('-') {
        return option_line(line, dir, origin, env, set, as_constraints, depth);
    }
    // A requirement, possibly followed by per-requirement options.
    let (spec, options) = match line.find(" --") {
        Some(i) => (line[..i].trim(), line[i..].trim()),
        None => (line, ""),
    };
    let hashes = hashes_of(options)?;
    if let Some(project) = local_project(spec, dir, origin)? {
        set.local.push(project);
        return Ok(());
    }
    if let Some(wheel) = direct_wheel(spec, dir) {
        set.direct.push(DirectWheel {
            url: wheel.0,
            filename: wheel.1,
            hashes,
            origin: origin.to_string(),
        });
        return Ok(());
    }
    let requirement = crate::python::parse_requirement(spec)
        .map_err(|e| anyhow::anyhow!("not a valid requirement: {e}"))?;
    if let Some(pep508_rs::VersionOrUrl::Url(url)) = &requirement.version_or_url {
        let url = url.to_string();
        let path = url.split(['#', '?']).next().unwrap_or(&url);
        if !path.ends_with(".whl") {
            bail!("'{url}' is not a wheel; direct references must name a .whl file");
        }
        let filename = path.rsplit('/').next().unwrap_or(path).to_string();
        set.direct.push(DirectWheel {
            url: path.to_string(),
            filename,
            hashes,
            origin: origin.to_string(),
        });
        return Ok(());
    }
    let sourced = SourcedRequirement {
        requirement,
        hashes,
        origin: origin.to_string(),
    };
    if as_constraints {
        set.constraints.push(sourced);
    } else {
        set.requirements.push(sourced);
    }
    Ok(())
}

/// A line of options (`-r file`, `--index-url URL`, `-e path`…).
fn option_line(
    line: &str,
    dir: &Path,
    origin: &str,
    env: &dyn Fn(&str) -> Option<String>,
    set: &mut RequirementSet,
    as_constraints: bool,
    depth: usize,
) -> Result<()> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut iter = words.iter().peekable();
    while let Some(&word) = iter.next() {
        let name = word.split('=').next().unwrap_or(word);
        match name {
            "-r" | "--requirement" => {
                let file = dir.join(option_value(&mut iter, word)?);
                read_into(&file, env, set, as_constraints, depth + 1)?;
            }
            "-c" | "--constraint" => {
                let file = dir.join(option_value(&mut iter, word)?);
                read_into(&file, env, set, true, depth + 1)?;
            }
            "-i" | "--index-url" => set.index.index_url = Some(option_value(&mut iter, word)?),
            "--extra-index-url" => set
                .index
                .extra_index_urls
                .get_or_insert_with(Vec::new)
                .push(option_value(&mut iter, word)?),
            "-f" | "--find-links" => {
                let value = option_value(&mut iter, word)?;
                let location = if value.contains("://") {
                    value
                } else {
                    dir.join(value).display().to_string()
                };
                set.index
                    .find_links
                    .get_or_insert_with(Vec::new)
                    .push(location);
            }
            "--no-index" => set.index.no_index = Some(true),
            "--pre" => set.pre = true,
            "--require-hashes" => set.require_hashes = true,
            "--only-binary" | "--no-binary" => {
                let value = option_value(&mut iter, word)?;
                set.binary.push((value, name == "--only-binary"));
            }
            "--trusted-host" | "--prefer-binary" | "--use-feature" => {
                if !word.contains('=') && name != "--prefer-binary" {
                    iter.next();
                }
            }
            // An editable local project: an image has no place for the
            // link, so it is installed as built, like `pip install PATH`.
            "-e" | "--editable" => {
                let target = option_value(&mut iter, word)?;
                let Some(project) = local_project(&target, dir, origin)? else {
                    bail!(
                        "editable requirements (-e) name a local project directory, and '{target}' is none"
                    );
                };
                set.local.push(project);
            }
            r if r.starts_with(['-', 'r']) && r.len() > 2 && r.starts_with("-r") => {
                let file = dir.join(&r[2..]);
                read_into(&file, env, set, as_constraints, depth + 1)?;
            }
            _ => bail!("unknown option {word}"),
        }
    }
    Ok(())
}

/// The sha256 hashes of a requirement's `--hash=sha256:…` options (the
/// only per-requirement option there is).
fn hashes_of(options: &str) -> Result<Vec<String>> {
    let mut hashes = Vec::new();
    for option in options.split_whitespace() {
        match option.split_once('=') {
            Some(("--hash", value)) => {
                let hex = value
                    .strip_prefix("sha256:")
                    .with_context(|| format!("only sha256 hashes are supported, got '{value}'"))?;
                hashes.push(hex.to_ascii_lowercase());
            }
            _ => bail!("unsupported per-requirement option '{option}'"),
        }
    }
    Ok(hashes)
}

/// A local project directory as pip names one: a path (`./lib`,
/// `../../libs/common`, `/srv/lib`), a `file:` URL, or `name @ file:…`;
/// `None` for anything else. A path that is no directory is an error.
pub fn local_project(spec: &str, dir: &Path, origin: &str) -> Result<Option<LocalProject>> {
    let target = spec.split(';').next().unwrap_or(spec).trim();
    let target = match target.split_once(" @ ") {
        Some((_, url)) if url.trim().starts_with("file:") => url.trim(),
        Some(_) => return Ok(None),
        None => target,
    };
    let path = if let Some(rest) = target.strip_prefix("file://") {
        PathBuf::from(rest.strip_prefix("localhost").unwrap_or(rest))
    } else if let Some(rest) = target.strip_prefix("file:") {
        dir.join(rest)
    } else if target.starts_with("./")
        || target.starts_with("../")
        || target.starts_with('/')
        || target == "."
    {
        dir.join(target)
    } else {
        return Ok(None);
    };
    if target.ends_with(".whl") || target.ends_with(".tar.gz") || target.ends_with(".zip") {
        return Ok(None);
    }
    let path = std::fs::canonicalize(&path).map_err(|e| {
        anyhow::anyhow!("{origin}: the local project '{target}' is not there ({e}); give the path of a directory with a pyproject.toml or setup.py")
    })?;
    if !path.is_dir() {
        bail!(
            "{origin}: '{target}' is not a directory: a local project is a directory with a pyproject.toml or setup.py"
        );
    }
    if !["pyproject.toml", "setup.py", "setup.cfg"]
        .iter()
        .any(|f| path.join(f).is_file())
    {
        bail!(
            "{origin}: {} has no pyproject.toml, setup.py or setup.cfg, so it is no project pip could install",
            path.display()
        );
    }
    Ok(Some(LocalProject {
        path,
        origin: origin.to_string(),
    }))
}

/// A bare path or URL of a `.whl` (no name): (url, filename).
fn direct_wheel(spec: &str, dir: &Path) -> Option<(String, String)> {
    let target = spec.split(';').next()?.trim();
    if !target.ends_with(".whl") || target.contains(" @ ") {
        return None;
    }
    let filename = target.rsplit('/').next()?.to_string();
    if target.starts_with("http://")
        || target.starts_with("https://")
        || target.starts_with("file://")
    {
        return Some((target.to_string(), filename));
    }
    let path: PathBuf = dir.join(target);
    let absolute = std::fs::canonicalize(&path).unwrap_or(path);
    Some((format!("file://{}", absolute.display()), filename))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn pip_syntax() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("base.txt"), "requests>=2  # http\n").unwrap();
        fs::write(dir.path().join("constraints.txt"), "urllib3<3\n").unwrap();
        fs::write(
            dir.path().join("requirements.txt"),
            "# top comment\n-r base.txt\n-c constraints.txt\n--index-url ${INDEX}/simple\n--extra-index-url=http://extra.example/simple\n\
             flask[async] >= 3.0, \\\n    < 4 ; python_version >= '3.8'\n\
             gunicorn==22.0.0 --hash=sha256:ABCDEF --hash=sha256:012345\n\
             ./wheels/local_pkg-1.0-py3-none-any.whl\npkg @ https://x.example/pkg-1.0-py3-none-any.whl\n--pre\n\
             --only-binary :all:\n--no-binary=cext\n",
        )
        .unwrap();
        let env = |k: &str| (k == "INDEX").then(|| "http://idx.example".to_string());
        let set = parse_file(&dir.path().join("requirements.txt"), &env).unwrap();
        let names: Vec<String> = set
            .requirements
            .iter()
            .map(|r| r.requirement.name.to_string())
            .collect();
        assert_eq!(names, ["requests", "flask", "gunicorn"]);
        assert_eq!(
            set.binary,
            [(":all:".to_string(), true), ("cext".to_string(), false)]
        );
        assert_eq!(set.constraints[0].requirement.name.to_string(), "urllib3");
        assert_eq!(
            set.index.index_url.as_deref(),
            Some("http://idx.example/simple")
        );
        assert_eq!(
            set.index.extra_index_urls.as_ref().unwrap()[0],
            "http://extra.example/simple"
        );
        assert_eq!(set.requirements[2].hashes, ["abcdef", "012345"]);
        assert!(
            set.requirements[1].origin.ends_with("requirements.txt:6"),
            "{}",
            set.requirements[1].origin
        );
        assert_eq!(set.direct.len(), 2);
        assert_eq!(set.direct[0].filename, "local_pkg-1.0-py3-none-any.whl");
        assert!(set.pre);
    }

    #[test]
    fn local_project_directories_as_pip_names_them() {
        let root = tempfile::tempdir().unwrap();
        let lib = root.path().join("libs/common");
        fs::create_dir_all(&lib).unwrap();
        fs::write(lib.join("pyproject.toml"), "[project]\nname = \"common\"\n").unwrap();
        let app = root.path().join("services/api");
        fs::create_dir_all(&app).unwrap();
        let path = app.join("requirements.txt");
        let lib_abs = fs::canonicalize(&lib).unwrap();
        fs::write(
            &path,
            format!(
                "flask\n../../libs/common\n-e ../../libs/common\ncommon @ file://{}\nfile:../../libs/common\n",
                lib_abs.display()
            ),
        )
        .unwrap();
        let set = parse_file(&path, &no_env).unwrap();
        assert_eq!(set.requirements.len(), 1);
        assert_eq!(set.local.len(), 4);
        assert!(set.local.iter().all(|l| l.path == lib_abs));
        assert!(
            set.local[0].origin.ends_with("requirements.txt:2"),
            "{}",
            set.local[0].origin
        );
        // A path that is not there is named with its line.
        fs::write(&path, "../../libs/gone\n").unwrap();
        let err = format!("{:#}", parse_file(&path, &no_env).unwrap_err());
        assert!(
            err.contains("requirements.txt:1") && err.contains("is not there"),
            "{err}"
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requirements.txt");
        fs::write(&path, "flask\n\nrequests>=\n").unwrap();
        let err = format!("{:#}", parse_file(&path, &no_env).unwrap_err());
        assert!(
            err.contains("requirements.txt:3") && err.contains("requests>="),
            "{err}"
        );
        fs::write(&path, "--frobnicate\n").unwrap();
        assert!(
            format!("{:#}", parse_file(&path, &no_env).unwrap_err()).contains("unknown option")
        );
        // `-e .` of a directory that is no project: said so, with the file and line.
        fs::write(&path, "-e .\n").unwrap();
        let err = format!("{:#}", parse_file(&path, &no_env).unwrap_err());
        assert!(
            err.contains("requirements.txt:1")
                && err.contains("no pyproject.toml, setup.py or setup.cfg"),
            "{err}"
        );
        fs::write(&path, "x==1 --hash=md5:abc\n").unwrap();
        assert!(format!("{:#}", parse_file(&path, &no_env).unwrap_err()).contains("sha256"));
        fs::write(&path, "--index-url ${MISSING}\n").unwrap();
        assert!(format!("{:#}", parse_file(&path, &no_env).unwrap_err()).contains("MISSING"));
        fs::write(&path, "-r missing.txt\n").unwrap();
        assert!(format!("{:#}", parse_file(&path, &no_env).unwrap_err()).contains("missing.txt"));
    }
}
