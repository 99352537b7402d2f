//! `Packages` indexes: the binary packages of a suite, with what each depends
//! on, provides, and the path and sha256 of its `.deb`.

use super::control::field;
use super::version::{Relation, compare};
use anyhow::{Context, Result, bail};
use std::cmp::Ordering;
use std::collections::HashMap;

/// One alternative of a dependency: `name[:arch] [(op version)]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dep {
    pub name: String,
    pub constraint: Option<(Relation, String)>,
}

impl Dep {
    pub fn allows(&self, version: &str) -> bool {
        self.constraint
            .as_ref()
            .is_none_or(|(rel, bound)| rel.holds(version, bound))
    }
}

impl std::fmt::Display for Dep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.constraint {
            None => write!(f, "{}", self.name),
            Some((rel, v)) => {
                let op = match rel {
                    Relation::Less => "<<",
                    Relation::LessEq => "<=",
                    Relation::Eq => "=",
                    Relation::GreaterEq => ">=",
                    Relation::Greater => ">>",
                };
                write!(f, "{} ({op} {v})", self.name)
            }
        }
    }
}

/// `a | b (>= 1)`: any one alternative satisfies the group.
pub type DepGroup = Vec<Dep>;

#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub architecture: String,
    /// Pre-Depends followed by Depends, as the index writes them: parsed
    /// (`depends()`) only for the packages a closure reaches, since holding
    /// every package's parsed relations took most of a build's memory.
    pub depends_field: String,
    /// Virtual names this package provides, with an optional provided version.
    pub provides: Vec<(String, Option<String>)>,
    pub filename: String,
    pub size: u64,
    pub sha256: String,
    /// Where the index paragraph as published is: what the image's dpkg
    /// status entry is made of (`status_paragraph()`).
    pub paragraph: Paragraph,
    /// Archive base URI that `filename` is relative to (set by the archive client).
    pub archive_uri: std::sync::Arc<str>,
}

/// A package's index paragraph: kept in memory (an index parsed from text),
/// or a span of the decompressed index file in the cache, read back only for
/// the packages an image holds (keeping every package's took tens of MB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paragraph {
    Inline(String),
    InFile {
        path: std::sync::Arc<std::path::PathBuf>,
        offset: u64,
        len: usize,
    },
}

impl Package {
    /// Its index paragraph, `STATUS_FIELDS` only.
    pub fn status_paragraph(&self) -> Result<String> {
        match &self.paragraph {
            Paragraph::Inline(text) => Ok(status_fields(text)),
            Paragraph::InFile { path, offset, len } => {
                use std::os::unix::fs::FileExt;
                let mut bytes = vec![0; *len];
                std::fs::File::open(path.as_path())
                    .and_then(|f| f.read_exact_at(&mut bytes, *offset))
                    .with_context(|| {
                        format!(
                            "reading the index entry of {} from {}",
                            self.name,
                            path.display()
                        )
                    })?;
                Ok(status_fields(&String::from_utf8_lossy(&bytes)))
            }
        }
    }

    /// Its Pre-Depends and Depends, parsed.
    pub fn depends(&self) -> Result<Vec<DepGroup>> {
        parse_relations(&self.depends_field)
            .with_context(|| format!("the Depends of package {} {}", self.name, self.version))
    }
}

/// Parses a `Depends`-style field.
pub fn parse_relations(text: &str) -> Result<Vec<DepGroup>> {
    let mut groups = Vec::new();
    for group in text.split(',').map(str::trim).filter(|g| !g.is_empty()) {
        let mut alternatives = Vec::new();
        for alt in group.split('|').map(str::trim) {
            alternatives.push(parse_dep(alt).with_context(|| format!("in relation '{group}'"))?);
        }
        groups.push(alternatives);
    }
    Ok(groups)
}

fn parse_dep(text: &str) -> Result<Dep> {
    // Architecture restrictions `[amd64]` and build profiles `<stage1>` follow
    // the version; they only appear in source relations but cost nothing to skip.
    let (name_part, constraint) = match text.split_once('(') {
        Some((name, rest)) => {
            let (inner, _) = rest.split_once(')').context("unclosed '('")?;
            let inner = inner.trim();
            let split = inner
                .find(|c: char| !"<>=".contains(c))
                .context("version relation without a version")?;
            let (op, version) = inner.split_at(split);
            let rel =
                Relation::parse(op.trim()).with_context(|| format!("unknown relation '{op}'"))?;
            if version.trim().is_empty() {
                bail!("version relation without a version");
            }
            (name.trim(), Some((rel, version.trim().to_string())))
        }
        None => (text.split(['[', '<']).next().unwrap_or(text).trim(), None),
    };
    // `name:any` / `name:native` / `name:amd64`: the name is what matters here.
    let name = name_part.split(':').next().unwrap_or(name_part).trim();
    if name.is_empty() {
        bail!("empty package name");
    }
    Ok(Dep {
        name: name.to_string(),
        constraint,
    })
}

/// The fields of an index paragraph that an image's dpkg status entry keeps
/// (scanners read them); the rest (Filename, hashes, tags…) is dropped.
pub const STATUS_FIELDS: &[&str] = &[
    "Package",
    "Source",
    "Version",
    "Architecture",
    "Maintainer",
    "Installed-Size",
    "Pre-Depends",
    "Depends",
    "Provides",
    "Multi-Arch",
    "Priority",
    "Section",
    "Homepage",
    "Description",
];

/// Parses a Packages file, keeping only packages installable on `arch`.
pub fn parse_packages(text: &str, arch: &str) -> Result<Vec<Package>> {
    read_packages(text.as_bytes(), arch, None)
}

/// Reads a Packages file one paragraph at a time (the whole file, tens of
/// megabytes, is never held), keeping only packages installable on `arch`.
/// With `file` (the same bytes, decompressed, on disk), paragraphs are
/// recorded as spans of it rather than kept.
pub fn read_packages(
    mut reader: impl std::io::BufRead,
    arch: &str,
    file: Option<std::sync::Arc<std::path::PathBuf>>,
) -> Result<Vec<Package>> {
    let mut out = Vec::new();
    let mut paragraph = String::new();
    // Bytes read so far, and where the paragraph being read began.
    let (mut position, mut began) = (0u64, 0u64);
    loop {
        let start = paragraph.len();
        let read = reader.read_line(&mut paragraph)?;
        position += read as u64;
        let blank = read > 0 && paragraph[start..].trim().is_empty();
        if blank {
            paragraph.truncate(start);
        }
        if read == 0 || blank {
            if !paragraph.trim().is_empty() {
                let at = match &file {
                    Some(path) => Paragraph::InFile {
                        path: path.clone(),
                        offset: began,
                        len: paragraph.len(),
                    },
                    None => Paragraph::Inline(paragraph.clone()),
                };
                if let Some(package) = parse_paragraph(&paragraph, arch, at)? {
                    out.push(package);
                }
            }
            paragraph.clear();
            began = position;
            if read == 0 {
                return Ok(out);
            }
        }
    }
}

/// The versions of the packages named `names` (for `arch` or `all`) in a
/// Packages index, without reading the other paragraphs: a base's
/// interpreter and C library versions need two of some sixty thousand.
pub fn versions_named(
    mut reader: impl std::io::BufRead,
    arch: &str,
    names: &[&str],
) -> Result<Vec<(String, String)>> {
    let mut found = Vec::new();
    // The paragraph being read, and whether its Package field is wanted.
    let (mut paragraph, mut wanted) = (Vec::new(), false);
    loop {
        let start = paragraph.len();
        let read = reader.read_until(b'\n', &mut paragraph)?;
        let line = &paragraph[start..];
        if !line.iter().all(u8::is_ascii_whitespace) {
            if let Some(name) = line.strip_prefix(b"Package:") {
                let name = std::str::from_utf8(name).unwrap_or_default().trim();
                wanted = names.contains(&name);
            }
            continue;
        }
        if wanted {
            let text = String::from_utf8_lossy(&paragraph);
            let field = |name: &str| field(&text, name);
            let architecture = field("Architecture").unwrap_or_default();
            if architecture == arch || architecture == "all" {
                let name = field("Package").unwrap_or_default();
                let version = field("Version")
                    .with_context(|| format!("package {name} has no Version field"))?;
                found.push((name, version));
            }
        }
        paragraph.clear();
        wanted = false;
        if read == 0 {
            return Ok(found);
        }
    }
}

fn parse_paragraph(paragraph: &str, arch: &str, at: Paragraph) -> Result<Option<Package>> {
    let field = |name: &str| field(paragraph, name);
    let architecture = field("Architecture").unwrap_or_default();
    if architecture != arch && architecture != "all" {
        return Ok(None);
    }
    let name = field("Package").context("a Packages entry has no Package field")?;
    let context = || format!("package {name}");
    let depends_field = [field("Pre-Depends"), field("Depends")]
        .into_iter()
        .flatten()
        .filter(|f| !f.trim().is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    let provides = parse_relations(&field("Provides").unwrap_or_default())
        .with_context(context)?
        .into_iter()
        .flatten()
        .map(|d| (d.name, d.constraint.map(|(_, v)| v)))
        .collect();
    Ok(Some(Package {
        version: field("Version").with_context(|| format!("package {name} has no Version"))?,
        filename: field("Filename").with_context(|| format!("package {name} has no Filename"))?,
        size: match field("Size") {
            Some(size) => size
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("package {name}: Size '{size}' is not a number"))?,
            // dpkg's status records have none; an archive's always do.
            None => 0,
        },
        sha256: field("SHA256")
            .with_context(|| format!("package {name} has no SHA256"))?
            .to_ascii_lowercase(),
        architecture,
        depends_field,
        provides,
        paragraph: at,
        archive_uri: std::sync::Arc::from(""),
        name,
    }))
}

/// `paragraph` with only its `STATUS_FIELDS` (continuation lines kept with theirs).
fn status_fields(paragraph: &str) -> String {
    let mut out = String::new();
    let mut keeping = false;
    for line in paragraph.trim().lines() {
        if !line.starts_with([' ', '\t']) {
            keeping = STATUS_FIELDS.contains(&line.split(':').next().unwrap_or(""));
        }
        if keeping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.truncate(out.trim_end().len());
    out
}

/// Every package of the configured suites, by name, for one architecture.
#[derive(Debug, Default)]
pub struct PackageIndex {
    by_name: HashMap<String, Vec<Package>>,
    /// virtual name → names of packages that provide it
    providers: HashMap<String, Vec<String>>,
}

impl PackageIndex {
    pub fn add(&mut self, packages: Vec<Package>) {
        for p in packages {
            for (virtual_name, _) in &p.provides {
                let list = self.providers.entry(virtual_name.clone()).or_default();
                if !list.contains(&p.name) {
                    list.push(p.name.clone());
                }
            }
            // Most names have one version: a list sized for one.
            self.by_name
                .entry(p.name.clone())
                .or_insert_with(|| Vec::with_capacity(1))
                .push(p);
        }
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// The highest version of `name` that `dep` allows.
    pub fn best(&self, dep: &Dep) -> Option<&Package> {
        self.by_name
            .get(&dep.name)?
            .iter()
            .filter(|p| dep.allows(&p.version))
            .max_by(|a, b| compare(&a.version, &b.version))
    }

    pub fn versions(&self, name: &str) -> Vec<&str> {
        self.by_name
            .get(name)
            .map(|v| v.iter().map(|p| p.version.as_str()).collect())
            .unwrap_or_default()
    }

    /// Real packages providing `dep` (with a provided version `dep` allows),
    /// sorted by name so the choice is stable.
    pub fn providers(&self, dep: &Dep) -> Vec<&Package> {
        let mut names: Vec<&String> = self
            .providers
            .get(&dep.name)
            .map(|v| v.iter().collect())
            .unwrap_or_default();
        names.sort();
        names
            .into_iter()
            .filter_map(|name| {
                self.by_name
                    .get(name)?
                    .iter()
                    .filter(|p| provides(p, dep))
                    .max_by(|a, b| compare(&a.version, &b.version))
            })
            .collect()
    }
}

/// Whether `p` satisfies `dep` by name and version, or through its Provides.
pub fn satisfies(p: &Package, dep: &Dep) -> bool {
    (p.name == dep.name && dep.allows(&p.version)) || provides(p, dep)
}

fn provides(p: &Package, dep: &Dep) -> bool {
    p.provides.iter().any(|(name, version)| {
        name == &dep.name
            && match (&dep.constraint, version) {
                (None, _) => true,
                (Some(_), Some(v)) => dep.allows(v),
                (Some(_), None) => false, // an unversioned Provides never meets a versioned dependency
            }
    })
}

/// Highest version first.
pub fn by_version_desc(a: &Package, b: &Package) -> Ordering {
    compare(&b.version, &a.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations_with_alternatives_and_qualifiers() {
        let groups = parse_relations("libc6 (>= 2.34), media-types | mime-support, python3:any (>> 3.1~), debconf (>= 0.5) | debconf-2.0").unwrap();
        assert_eq!(groups.len(), 4);
        assert_eq!(
            groups[0][0].constraint,
            Some((Relation::GreaterEq, "2.34".into()))
        );
        assert_eq!(groups[1].len(), 2);
        assert_eq!(groups[2][0].name, "python3");
        assert_eq!(groups[3][1].to_string(), "debconf-2.0");
        assert!(parse_relations("a (>= )").is_err());
        assert!(parse_relations("a (<= 1").is_err());
        assert_eq!(
            parse_relations("0ad-data (<= 0.0.26-3) [amd64]").unwrap()[0][0].to_string(),
            "0ad-data (<= 0.0.26-3)"
        );
    }

    #[test]
    fn versions_named_reads_only_the_named_packages_of_the_architecture() {
        let index = "Package: libc6\nVersion: 2.36-9\nArchitecture: arm64\n\n\
Package: libc6-dev\nVersion: 2.36-9\nArchitecture: amd64\n\n\
Package: python3.11-minimal\nVersion: 3.11.2-6+deb12u6\nArchitecture: amd64\n\n\
Package: tzdata\nVersion: 2025b-0\nArchitecture: all\n\n\
Package: libc6\nVersion: 2.36-9+deb12u13\nArchitecture: amd64";
        let names = ["python3.11-minimal", "libc6", "tzdata"];
        let found = versions_named(index.as_bytes(), "amd64", &names).unwrap();
        let expected = [
            ("python3.11-minimal", "3.11.2-6+deb12u6"),
            ("tzdata", "2025b-0"),
            ("libc6", "2.36-9+deb12u13"),
        ];
        assert_eq!(found, expected.map(|(n, v)| (n.to_string(), v.to_string())));
        let broken = "Package: libc6\nArchitecture: amd64\n";
        let error = versions_named(broken.as_bytes(), "amd64", &names).unwrap_err();
        assert!(
            error.to_string().contains("libc6 has no Version"),
            "{error}"
        );
    }
}
