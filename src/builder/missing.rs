//! What a failed source build says it missed: a header (`fatal error:
//! libpq-fe.h: No such file or directory`), a `*-config` tool (`pg_config
//! executable not found`), a pkg-config module (`Package 'cairo', required
//! by 'virtual:world', not found`). The builder then names the Debian
//! package that ships it (from the suite's Contents index) and how to add it.

/// A file the build looked for and did not find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// A header, as the `#include` names it (`mysql/mysql.h`).
    Header(String),
    /// A program the build runs (`pg_config`).
    Tool(String),
    /// A pkg-config module (`cairo`): its `.pc` file.
    PkgConfig(String),
}

impl Missing {
    /// What to look for in the Contents index, said for the cache.
    pub fn question(&self) -> String {
        match self {
            Missing::Header(h) => format!("header {h}"),
            Missing::Tool(t) => format!("tool {t}"),
            Missing::PkgConfig(m) => format!("pkg-config {m}"),
        }
    }

    /// Whether a path of the Contents index is that file.
    pub fn is(&self, path: &str) -> bool {
        match self {
            Missing::Header(h) => path
                .strip_prefix("usr/include/")
                .is_some_and(|rest| rest == h || rest.ends_with(&format!("/{h}"))),
            Missing::Tool(t) => path == format!("usr/bin/{t}"),
            Missing::PkgConfig(m) => {
                path.ends_with(&format!("/pkgconfig/{m}.pc"))
                    && (path.starts_with("usr/lib/") || path.starts_with("usr/share/"))
            }
        }
    }

    /// The word a package that ships it likely holds (`ssl` of
    /// `openssl/ssl.h`, `curl` of `curl-config`).
    pub fn stem(&self) -> String {
        let name = match self {
            Missing::Header(h) => h.rsplit('/').next().unwrap_or(h).trim_end_matches(".h"),
            Missing::Tool(t) => t.trim_end_matches("config").trim_end_matches(['-', '_']),
            Missing::PkgConfig(m) => m.as_str(),
        };
        name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '.')
            .to_ascii_lowercase()
    }

    pub fn describe(&self) -> String {
        match self {
            Missing::Header(h) => format!("the header {h}"),
            Missing::Tool(t) => format!("the program {t}"),
            Missing::PkgConfig(m) => format!("the pkg-config module {m}"),
        }
    }
}

/// The first thing the build log says it missed.
pub fn in_log(log: &str) -> Option<Missing> {
    for line in log.lines() {
        let line = line.trim();
        if let Some(at) = line.find("fatal error: ") {
            let rest = &line[at + "fatal error: ".len()..];
            if let Some((header, _)) = rest.split_once(": No such file or directory") {
                return Some(Missing::Header(header.trim().to_string()));
            }
        }
        // `[Errno 2] No such file or directory: 'curl-config'` (a build
        // running the tool from Python).
        if let Some((_, rest)) = line.split_once("No such file or directory: '")
            && let Some((name, _)) = rest.split_once('\'')
            && name.ends_with("config")
            && !name.contains('/')
        {
            return Some(Missing::Tool(name.to_string()));
        }
        // `pg_config executable not found`, `sh: 1: mysql_config: not found`:
        // the word before, when it names a *config tool.
        for tail in [
            " executable not found",
            ": command not found",
            ": not found",
        ] {
            let Some((before, _)) = line.split_once(tail) else {
                continue;
            };
            let word = before
                .rsplit([' ', ':', '\''])
                .find(|w| !w.is_empty())
                .unwrap_or_default();
            if word.ends_with("config") {
                return Some(Missing::Tool(word.to_string()));
            }
        }
        if let Some(rest) = line.strip_prefix("Package '")
            && let Some((module, after)) = rest.split_once('\'')
            && after.contains("not found")
        {
            return Some(Missing::PkgConfig(module.to_string()));
        }
        if let Some(rest) = line.strip_prefix("Package ")
            && let Some((module, _)) =
                rest.split_once(" was not found in the pkg-config search path")
        {
            return Some(Missing::PkgConfig(module.to_string()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_builds_say_they_missed() {
        assert_eq!(
            in_log(
                "psycopg/psycopgmodule.c:28:10: fatal error: libpq-fe.h: No such file or directory"
            ),
            Some(Missing::Header("libpq-fe.h".into()))
        );
        assert_eq!(
            in_log("running egg_info\n    Error: pg_config executable not found.\n"),
            Some(Missing::Tool("pg_config".into()))
        );
        assert_eq!(
            in_log("/bin/sh: 1: mysql_config: not found\n"),
            Some(Missing::Tool("mysql_config".into()))
        );
        assert_eq!(
            in_log("Package 'cairo', required by 'virtual:world', not found\n"),
            Some(Missing::PkgConfig("cairo".into()))
        );
        assert_eq!(
            in_log(
                "ConfigurationError: Could not run curl-config: [Errno 2] No such file or directory: 'curl-config'"
            ),
            Some(Missing::Tool("curl-config".into()))
        );
        assert_eq!(in_log("error: command 'gcc' failed\n"), None);
        let header = Missing::Header("mysql/mysql.h".into());
        assert!(header.is("usr/include/mariadb/mysql/mysql.h"));
        assert!(header.is("usr/include/mysql/mysql.h"));
        assert!(!header.is("usr/include/mysql/mysql.hpp"));
        assert!(Missing::Tool("pg_config".into()).is("usr/bin/pg_config"));
        assert!(
            Missing::PkgConfig("cairo".into()).is("usr/lib/x86_64-linux-gnu/pkgconfig/cairo.pc")
        );
    }
}
