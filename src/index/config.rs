//! Where packages come from, read from the settings a Python developer
//! already has: command-line flags, then `PIP_*` environment variables, then
//! pip's config files, then uv's. For each setting the first source that sets
//! it wins, as in pip. pypack knows no index of its own.

use super::default_index::{ToolIndex, ask_host_tools};
use crate::cache::Cache;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// Settings as given by one source; unset fields defer to the next source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexSettings {
    pub index_url: Option<String>,
    pub extra_index_urls: Option<Vec<String>>,
    pub find_links: Option<Vec<String>>,
    pub no_index: Option<bool>,
}

impl IndexSettings {
    fn or(self, other: IndexSettings) -> IndexSettings {
        IndexSettings {
            index_url: self.index_url.or(other.index_url),
            extra_index_urls: self.extra_index_urls.or(other.extra_index_urls),
            find_links: self.find_links.or(other.find_links),
            no_index: self.no_index.or(other.no_index),
        }
    }

    fn is_empty(&self) -> bool {
        *self == IndexSettings::default()
    }
}

/// The indexes and find-links locations one resolution uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexConfig {
    /// Simple-API base URLs, the primary index first.
    pub index_urls: Vec<String>,
    /// Directories or HTML pages of distribution files.
    pub find_links: Vec<String>,
    /// Which sources the settings came from, for messages.
    pub origin: Vec<String>,
    /// Set when the primary index is the one pip (or uv) uses by default.
    pub tool_default: Option<ToolIndex>,
}

impl IndexConfig {
    /// Where packages were looked for, for messages: every index and find-links location.
    pub fn describe(&self) -> String {
        let mut places: Vec<String> = self
            .index_urls
            .iter()
            .map(|u| crate::http::redact(u))
            .collect();
        if let Some(tool) = &self.tool_default
            && let Some(first) = places.first_mut()
        {
            *first = format!("{first} ({}'s default)", tool.tool);
        }
        places.extend(
            self.find_links
                .iter()
                .map(|f| format!("find-links {}", crate::http::redact(f))),
        );
        if places.is_empty() {
            "no index".into()
        } else {
            places.join(", ")
        }
    }
}

/// What the host provides: environment variables and files.
pub struct Host<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub home: Option<PathBuf>,
    /// The app directory (for `uv.toml` / `[tool.uv]`), if any.
    pub project_dir: Option<PathBuf>,
    /// Where system-wide config files live (`/` on a real host).
    pub system_root: PathBuf,
    /// Whether to ask the host's pip / uv for their default index when no
    /// setting names one (off in unit tests).
    pub ask_tools: bool,
    /// Where the tools' answer is remembered.
    pub memo: Option<&'a Cache>,
}

impl Host<'_> {
    fn var(&self, name: &str) -> Option<String> {
        (self.env)(name).filter(|v| !v.trim().is_empty())
    }
}

pub fn resolve_config(flags: IndexSettings, host: &Host) -> Result<IndexConfig> {
    let mut origin = Vec::new();
    let mut merged = IndexSettings::default();
    let mut add = |settings: IndexSettings, name: String, merged: &mut IndexSettings| {
        if !settings.is_empty() {
            origin.push(name);
            *merged = std::mem::take(merged).or(settings);
        }
    };
    add(flags, "command-line flags".into(), &mut merged);
    add(
        from_env(host),
        "PIP_* environment variables".into(),
        &mut merged,
    );
    for path in pip_config_files(host) {
        if path.is_file() {
            add(
                from_pip_conf(&path)?,
                path.display().to_string(),
                &mut merged,
            );
        }
    }
    for path in uv_config_files(host) {
        if path.is_file() {
            add(
                from_uv_file(&path)?,
                path.display().to_string(),
                &mut merged,
            );
        }
    }
    let no_index = merged.no_index.unwrap_or(false);
    let mut index_urls = Vec::new();
    let mut tool_default = None;
    if !no_index {
        // As in pip: with no index named, the default one is used, also beside find-links.
        match &merged.index_url {
            Some(url) => index_urls.push(url.clone()),
            None if host.ask_tools => {
                if let Some(tool) = ask_host_tools(host.env, host.memo) {
                    origin.push(format!("{}'s default index", tool.tool));
                    index_urls.push(tool.url.clone());
                    tool_default = Some(tool);
                }
            }
            None => {}
        }
        index_urls.extend(merged.extra_index_urls.clone().unwrap_or_default());
    }
    let find_links = merged.find_links.clone().unwrap_or_default();
    if index_urls.is_empty() && find_links.is_empty() {
        let why = if no_index {
            " (--no-index is set and no --find-links given)"
        } else if host.ask_tools {
            ", and neither pip nor uv is installed to say which index they use"
        } else {
            ""
        };
        bail!(
            "no package index is configured{why}. Set one the way pip does: PIP_INDEX_URL=URL \
             (or --index-url URL, or index-url in pip.conf / uv.toml), or point --find-links \
             (PIP_FIND_LINKS) at a directory of wheels"
        );
    }
    let normalize = |u: &String| u.trim().trim_end_matches('/').to_string() + "/";
    if let Some(tool) = &mut tool_default {
        tool.url = normalize(&tool.url);
    }
    Ok(IndexConfig {
        index_urls: index_urls.iter().map(normalize).collect(),
        find_links,
        origin,
        tool_default,
    })
}

fn split_list(value: &str) -> Vec<String> {
    value.split_whitespace().map(str::to_string).collect()
}

fn truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

fn from_env(host: &Host) -> IndexSettings {
    IndexSettings {
        index_url: host.var("PIP_INDEX_URL"),
        extra_index_urls: host.var("PIP_EXTRA_INDEX_URL").map(|v| split_list(&v)),
        find_links: host.var("PIP_FIND_LINKS").map(|v| split_list(&v)),
        no_index: host.var("PIP_NO_INDEX").map(|v| truthy(&v)),
    }
}

/// pip's files, most specific first: `PIP_CONFIG_FILE`, then the user's, then
/// the system-wide ones.
fn pip_config_files(host: &Host) -> Vec<PathBuf> {
    if let Some(file) = host.var("PIP_CONFIG_FILE") {
        return if file == "os.devnull" || file == "/dev/null" {
            vec![]
        } else {
            vec![PathBuf::from(file)]
        };
    }
    let mut files = Vec::new();
    let config_home = host
        .var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| host.home.as_ref().map(|h| h.join(".config")));
    if let Some(dir) = config_home {
        files.push(dir.join("pip/pip.conf"));
    }
    if let Some(home) = &host.home {
        files.push(home.join(".pip/pip.conf"));
    }
    files.push(host.system_root.join("etc/xdg/pip/pip.conf"));
    files.push(host.system_root.join("etc/pip.conf"));
    files
}

/// `[global]` / `[install]` keys of a pip INI file; `[install]` wins.
fn from_pip_conf(path: &Path) -> Result<IndexSettings> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut global = IndexSettings::default();
    let mut install = IndexSettings::default();
    let mut section = String::new();
    let mut last_key: Option<String> = None;
    let mut values: Vec<(String, String, String)> = Vec::new(); // (section, key, value)
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let (Some(key), Some(last)) = (&last_key, values.last_mut())
                && &last.1 == key
            {
                last.2.push(' ');
                last.2.push_str(trimmed);
            }
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = name.trim().to_string();
            last_key = None;
            continue;
        }
        let Some((key, value)) = trimmed.split_once(['=', ':']) else {
            continue;
        };
        let key = key.trim().replace('_', "-");
        values.push((section.clone(), key.clone(), value.trim().to_string()));
        last_key = Some(key);
    }
    for (section, key, value) in values {
        let target = match section.as_str() {
            "global" => &mut global,
            "install" => &mut install,
            _ => continue,
        };
        match key.as_str() {
            "index-url" => target.index_url = Some(value),
            "extra-index-url" => target.extra_index_urls = Some(split_list(&value)),
            "find-links" => target.find_links = Some(split_list(&value)),
            "no-index" => target.no_index = Some(truthy(&value)),
            _ => {}
        }
    }
    Ok(install.or(global))
}

fn uv_config_files(host: &Host) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Some(dir) = &host.project_dir {
        files.push(dir.join("uv.toml"));
        files.push(dir.join("pyproject.toml"));
    }
    let config_home = host
        .var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| host.home.as_ref().map(|h| h.join(".config")));
    if let Some(dir) = config_home {
        files.push(dir.join("uv/uv.toml"));
    }
    files.push(host.system_root.join("etc/uv/uv.toml"));
    files
}

/// `uv.toml`, or `[tool.uv]` of a `pyproject.toml`: `index-url`,
/// `extra-index-url`, `find-links`, `no-index`, and `[[index]]` tables.
fn from_uv_file(path: &Path) -> Result<IndexSettings> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))?;
    let table = if path.file_name().is_some_and(|n| n == "pyproject.toml") {
        match doc
            .get("tool")
            .and_then(|t| t.get("uv"))
            .and_then(|t| t.as_table())
        {
            Some(t) => t.clone(),
            None => return Ok(IndexSettings::default()),
        }
    } else {
        doc
    };
    let string = |key: &str| table.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let list = |key: &str| {
        table.get(key).and_then(|v| v.as_array()).map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
    };
    let mut settings = IndexSettings {
        index_url: string("index-url"),
        extra_index_urls: list("extra-index-url"),
        find_links: list("find-links"),
        no_index: table.get("no-index").and_then(|v| v.as_bool()),
    };
    if let Some(indexes) = table.get("index").and_then(|v| v.as_array()) {
        let mut extra = Vec::new();
        for index in indexes {
            let Some(url) = index.get("url").and_then(|v| v.as_str()) else {
                continue;
            };
            if index
                .get("default")
                .and_then(|v| v.as_bool())
                .unwrap_or(false)
            {
                settings.index_url.get_or_insert_with(|| url.to_string());
            } else {
                extra.push(url.to_string());
            }
        }
        if !extra.is_empty() {
            settings
                .extra_index_urls
                .get_or_insert_with(Vec::new)
                .extend(extra);
        }
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::fs;

    fn resolve(vars: &[(&str, &str)], home: &Path, flags: IndexSettings) -> Result<IndexConfig> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = move |k: &str| vars.get(k).cloned();
        let host = Host {
            env: &env,
            home: Some(home.to_path_buf()),
            project_dir: None,
            system_root: home.join("root"),
            ask_tools: false,
            memo: None,
        };
        resolve_config(flags, &host)
    }

    #[test]
    fn no_index_is_a_clear_error() {
        let home = tempfile::tempdir().unwrap();
        let err = resolve(&[], home.path(), IndexSettings::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("PIP_INDEX_URL") && err.contains("--find-links"),
            "{err}"
        );
    }

    #[test]
    fn flags_beat_env_beat_pip_conf() {
        let home = tempfile::tempdir().unwrap();
        fs::create_dir_all(home.path().join(".config/pip")).unwrap();
        fs::write(
            home.path().join(".config/pip/pip.conf"),
            "[global]\nindex-url = http://conf.example/simple\nextra-index-url =\n    http://extra1.example/simple\n    http://extra2.example/simple\n[install]\nfind-links = /wheels\n",
        )
        .unwrap();
        let conf = resolve(&[], home.path(), IndexSettings::default()).unwrap();
        assert_eq!(
            conf.index_urls,
            [
                "http://conf.example/simple/",
                "http://extra1.example/simple/",
                "http://extra2.example/simple/"
            ]
        );
        assert_eq!(conf.find_links, ["/wheels"]);

        let env = resolve(
            &[("PIP_INDEX_URL", "http://env.example/simple/")],
            home.path(),
            IndexSettings::default(),
        )
        .unwrap();
        assert_eq!(env.index_urls[0], "http://env.example/simple/");
        assert_eq!(env.index_urls.len(), 3, "extras still come from pip.conf");

        let flags = IndexSettings {
            index_url: Some("http://flag.example/".into()),
            ..Default::default()
        };
        let conf = resolve(
            &[("PIP_INDEX_URL", "http://env.example/")],
            home.path(),
            flags,
        )
        .unwrap();
        assert_eq!(conf.index_urls[0], "http://flag.example/");

        let conf = resolve(
            &[("PIP_NO_INDEX", "1"), ("PIP_FIND_LINKS", "/a /b")],
            home.path(),
            IndexSettings::default(),
        )
        .unwrap();
        assert!(conf.index_urls.is_empty());
        assert_eq!(conf.find_links, ["/a", "/b"]);
    }

    #[test]
    fn pip_config_file_env_and_uv_toml() {
        let home = tempfile::tempdir().unwrap();
        let file = home.path().join("custom.conf");
        fs::write(&file, "[global]\nindex_url: http://custom.example/simple\n").unwrap();
        let conf = resolve(
            &[("PIP_CONFIG_FILE", file.to_str().unwrap())],
            home.path(),
            IndexSettings::default(),
        )
        .unwrap();
        assert_eq!(conf.index_urls, ["http://custom.example/simple/"]);

        fs::create_dir_all(home.path().join(".config/uv")).unwrap();
        fs::write(
            home.path().join(".config/uv/uv.toml"),
            "[[index]]\nurl = \"http://uv-default.example/simple\"\ndefault = true\n[[index]]\nurl = \"http://uv-extra.example/simple\"\n",
        )
        .unwrap();
        let conf = resolve(&[], home.path(), IndexSettings::default()).unwrap();
        assert_eq!(
            conf.index_urls,
            [
                "http://uv-default.example/simple/",
                "http://uv-extra.example/simple/"
            ]
        );
    }
}
