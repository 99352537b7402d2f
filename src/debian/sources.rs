//! The host's apt sources: where the Debian archive is, read the way apt reads
//! it, from `/etc/apt/sources.list` (one-line format) and
//! `/etc/apt/sources.list.d/*.list` / `*.sources` (deb822 format).

use anyhow::{Context, Result};
use std::fs;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptSource {
    pub uri: String,
    pub suites: Vec<String>,
    pub components: Vec<String>,
    pub signed_by: Option<String>,
}

/// Reads every binary (`deb`) source under `root` (normally `/`).
pub fn read_host_sources(root: &Path) -> Result<Vec<AptSource>> {
    let mut sources = Vec::new();
    let list = root.join("etc/apt/sources.list");
    if list.is_file() {
        sources.extend(parse_one_line(&read(&list)?));
    }
    let dir = root.join("etc/apt/sources.list.d");
    if dir.is_dir() {
        let mut names: Vec<_> = fs::read_dir(&dir)?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .collect();
        names.sort();
        for path in names {
            match path.extension().and_then(|e| e.to_str()) {
                Some("list") => sources.extend(parse_one_line(&read(&path)?)),
                Some("sources") => sources.extend(parse_deb822(&read(&path)?)),
                _ => {} // apt ignores other names too (e.g. *.disabled)
            }
        }
    }
    Ok(sources)
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read apt sources {}", path.display()))
}

/// `deb [options] uri suite [component...]`
pub fn parse_one_line(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(rest) = line
            .strip_prefix("deb ")
            .or_else(|| line.strip_prefix("deb\t"))
        else {
            continue;
        };
        let mut rest = rest.trim_start();
        let mut signed_by = None;
        if let Some(opts) = rest.strip_prefix('[') {
            let Some((opts, after)) = opts.split_once(']') else {
                continue;
            };
            for opt in opts.split_whitespace() {
                if let Some(v) = opt.strip_prefix("signed-by=") {
                    signed_by = Some(v.to_string());
                }
            }
            rest = after;
        }
        let words: Vec<&str> = rest.split_whitespace().collect();
        if words.len() < 2 {
            continue;
        }
        out.push(AptSource {
            uri: words[0].to_string(),
            suites: vec![words[1].to_string()],
            components: words[2..].iter().map(|s| s.to_string()).collect(),
            signed_by,
        });
    }
    out
}

/// deb822 stanzas with `Types`, `URIs`, `Suites`, `Components`, `Signed-By`, `Enabled`.
pub fn parse_deb822(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    for stanza in super::control::paragraphs(text) {
        let field = |name: &str| {
            stanza
                .get(name)
                .map(|v| v.split_whitespace().map(String::from).collect::<Vec<_>>())
        };
        let types = field("Types").unwrap_or_default();
        if !types.iter().any(|t| t == "deb") {
            continue;
        }
        if stanza
            .get("Enabled")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("no"))
        {
            continue;
        }
        let suites = field("Suites").unwrap_or_default();
        let components = field("Components").unwrap_or_default();
        // Signed-By is either a path or an embedded key block; keep paths only.
        let signed_by = stanza
            .get("Signed-By")
            .map(|v| v.trim().to_string())
            .filter(|v| !v.contains('\n'));
        for uri in field("URIs").unwrap_or_default() {
            out.push(AptSource {
                uri,
                suites: suites.clone(),
                components: components.clone(),
                signed_by: signed_by.clone(),
            });
        }
    }
    out
}

/// The Debian archive and its security archive, as the host's sources name them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveUris {
    pub main: Option<String>,
    pub security: Option<String>,
}

/// Picks the archive URIs out of the host's sources: a source serving a
/// Debian `*-security` suite is the security archive; one serving a plain
/// release or `*-updates` suite of Debian is the main archive. Sources for
/// other distributions' suites (Ubuntu's `noble-security`, a third-party
/// `nodistro`) are ignored.
pub fn archive_uris(sources: &[AptSource]) -> ArchiveUris {
    let mut uris = ArchiveUris::default();
    for s in sources {
        let uri = s.uri.trim_end_matches('/').to_string();
        let debian: Vec<&String> = s.suites.iter().filter(|x| is_debian_suite(x)).collect();
        if debian
            .iter()
            .any(|suite| suite.ends_with("-security") || suite.ends_with("/updates"))
        {
            uris.security.get_or_insert(uri);
        } else if !debian.is_empty() {
            uris.main.get_or_insert(uri);
        }
    }
    uris
}

/// The first source that serves Ubuntu (by its suites' code names or an
/// `ubuntu` path), for saying plainly why no Debian archive was found.
pub fn ubuntu_source(sources: &[AptSource]) -> Option<&AptSource> {
    const UBUNTU: &[&str] = &[
        "xenial", "bionic", "focal", "jammy", "kinetic", "lunar", "mantic", "noble", "oracular",
        "plucky", "questing", "resolute",
    ];
    sources.iter().find(|s| {
        s.uri.contains("ubuntu")
            || s.suites
                .iter()
                .any(|suite| UBUNTU.contains(&suite.split(['-', '/']).next().unwrap_or(suite)))
    })
}

fn is_debian_suite(suite: &str) -> bool {
    const NAMES: &[&str] = &[
        "buster",
        "bullseye",
        "bookworm",
        "trixie",
        "forky",
        "duke",
        "sid",
        "stable",
        "oldstable",
        "testing",
        "unstable",
    ];
    let base = suite.split(['-', '/']).next().unwrap_or(suite);
    NAMES.contains(&base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_format() {
        let text = "# comment\n\
            deb http://mirror.example/debian bookworm main contrib # trailing\n\
            deb-src http://mirror.example/debian bookworm main\n\
            deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://mirror.example/debian-security bookworm-security main\n\
            deb broken\n";
        let s = parse_one_line(text);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].uri, "http://mirror.example/debian");
        assert_eq!(s[0].components, ["main", "contrib"]);
        assert_eq!(s[1].signed_by.as_deref(), Some("/usr/share/keyrings/k.gpg"));
        let uris = archive_uris(&s);
        assert_eq!(uris.main.as_deref(), Some("http://mirror.example/debian"));
        assert_eq!(
            uris.security.as_deref(),
            Some("http://mirror.example/debian-security")
        );
    }

    #[test]
    fn deb822_format() {
        let text = "Types: deb deb-src\n\
            # a comment inside\n\
            URIs: http://mirror.example/debian/\n\
            Suites: bookworm bookworm-updates\n\
            Components: main\n\
            Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\
            \n\
            Types: deb\n\
            URIs: http://mirror.example/debian-security\n\
            Suites: bookworm-security\n\
            Components: main\n\
            \n\
            Types: deb\n\
            URIs: http://third-party.example/node\n\
            Suites: nodistro\n\
            Components: main\n\
            \n\
            Types: deb\n\
            Enabled: no\n\
            URIs: http://disabled.example/debian\n\
            Suites: trixie\n";
        let s = parse_deb822(text);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].suites, ["bookworm", "bookworm-updates"]);
        assert_eq!(
            s[0].signed_by.as_deref(),
            Some("/usr/share/keyrings/debian-archive-keyring.gpg")
        );
        let uris = archive_uris(&s);
        assert_eq!(uris.main.as_deref(), Some("http://mirror.example/debian"));
        assert_eq!(
            uris.security.as_deref(),
            Some("http://mirror.example/debian-security")
        );
    }

    #[test]
    fn ubuntu_sources_are_not_debian() {
        let text = "Types: deb\nURIs: http://archive.test/ubuntu/\nSuites: noble noble-updates noble-backports\nComponents: main universe\n\n\
            Types: deb\nURIs: http://security.test/ubuntu/\nSuites: noble-security\nComponents: main\n";
        let s = parse_deb822(text);
        assert_eq!(archive_uris(&s), ArchiveUris::default());
        assert_eq!(
            ubuntu_source(&s).map(|s| s.uri.as_str()),
            Some("http://archive.test/ubuntu/")
        );
        let debian = parse_one_line("deb http://deb.test/debian bookworm main\n");
        assert!(ubuntu_source(&debian).is_none());
    }

    #[test]
    fn reads_a_host_tree() {
        let root = tempfile::tempdir().unwrap();
        let d = root.path().join("etc/apt/sources.list.d");
        fs::create_dir_all(&d).unwrap();
        fs::write(
            d.join("debian.sources"),
            "Types: deb\nURIs: http://m.example/debian\nSuites: trixie\nComponents: main\n",
        )
        .unwrap();
        fs::write(
            d.join("other.list.disabled"),
            "deb http://x.example/ x main\n",
        )
        .unwrap();
        let s = read_host_sources(root.path()).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(
            archive_uris(&s).main.as_deref(),
            Some("http://m.example/debian")
        );
    }
}
