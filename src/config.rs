//! The user's machine-level defaults: `$XDG_CONFIG_HOME/pypack/config.toml`
//! (else `~/.config/pypack/config.toml`), written by `pypack config set`.
//! It holds what belongs to a machine rather than to an app: where the
//! Debian archive is (hosts without Debian apt sources: macOS, Fedora, the
//! Ubuntu runners most CI uses), the cache directory and the engine.
//! Flags and environment variables win over it.

use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The keys the file may hold, with what each is for.
pub const KEYS: &[(&str, &str)] = &[
    (
        "debian-mirror",
        "Debian archive URL, as in an apt sources line (env PYPACK_DEBIAN_MIRROR, flag --debian-mirror)",
    ),
    (
        "debian-security-mirror",
        "Debian security archive URL (env PYPACK_DEBIAN_SECURITY_MIRROR, flag --debian-security-mirror)",
    ),
    (
        "cache-dir",
        "cache directory (env PYPACK_CACHE_DIR, flag --cache-dir)",
    ),
    ("engine", "podman or docker (flag --engine)"),
];

/// The config file's settings (key → value), and where it lives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserConfig {
    pub path: PathBuf,
    pub values: BTreeMap<String, String>,
}

impl UserConfig {
    /// Where the file is: `$XDG_CONFIG_HOME/pypack/config.toml`, else under `$HOME/.config`.
    pub fn default_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
        let non_empty = |k: &str| env(k).filter(|v| !v.is_empty());
        let dir = non_empty("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| non_empty("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(dir.join("pypack/config.toml"))
    }

    /// The host's file (empty when there is none).
    pub fn from_host() -> Result<UserConfig> {
        let env = |k: &str| std::env::var(k).ok();
        match UserConfig::default_path(&env) {
            Some(path) => UserConfig::load(&path),
            None => Ok(UserConfig::default()),
        }
    }

    /// Reads `path`; a missing file is an empty config, a bad one an error naming it.
    pub fn load(path: &Path) -> Result<UserConfig> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(UserConfig {
                    path: path.to_path_buf(),
                    values: BTreeMap::new(),
                });
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let table: toml::Table = toml::from_str(&text).with_context(|| {
            format!(
                "{} is not valid TOML; fix it or remove it (`pypack config unset KEY` rewrites it)",
                path.display()
            )
        })?;
        let mut values = BTreeMap::new();
        for (key, value) in table {
            let Some(text) = value.as_str() else {
                bail!("{}: '{key}' must be a string", path.display());
            };
            check(&key, text).with_context(|| format!("{}: '{key}'", path.display()))?;
            values.insert(key, text.to_string());
        }
        Ok(UserConfig {
            path: path.to_path_buf(),
            values,
        })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Sets `key` (checked) and writes the file atomically.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        check(key, value)?;
        self.values.insert(key.to_string(), value.to_string());
        self.save()
    }

    /// Removes `key` and writes the file; `false` when it was not set.
    pub fn unset(&mut self, key: &str) -> Result<bool> {
        known(key)?;
        let was = self.values.remove(key).is_some();
        if was {
            self.save()?;
        }
        Ok(was)
    }

    fn save(&self) -> Result<()> {
        let dir = self
            .path
            .parent()
            .context("the config file has no directory")?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let table: toml::Table = self
            .values
            .iter()
            .map(|(k, v)| (k.clone(), toml::Value::String(v.clone())))
            .collect();
        let text = format!(
            "# pypack's machine-level defaults; written by `pypack config set`.\n{}",
            toml::to_string(&table)?
        );
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, text.as_bytes())?;
        tmp.persist(&self.path)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        Ok(())
    }
}

/// Whether `key` is one the file may hold (an error listing them if not).
pub fn known(key: &str) -> Result<()> {
    if KEYS.iter().any(|(k, _)| *k == key) {
        return Ok(());
    }
    bail!(
        "unknown config key '{key}'; known keys: {}",
        KEYS.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
    )
}

/// Whether `value` is acceptable for `key`.
fn check(key: &str, value: &str) -> Result<()> {
    known(key)?;
    match key {
        "debian-mirror" | "debian-security-mirror" => {
            let url = url::Url::parse(value)
                .with_context(|| format!("'{value}' is not a URL (e.g. http://HOST/debian)"))?;
            if !matches!(url.scheme(), "http" | "https" | "file") {
                bail!("'{value}' must be an http, https or file URL");
            }
        }
        "engine" if !matches!(value, "podman" | "docker") => {
            bail!("'{value}' is not an engine; use podman or docker")
        }
        "cache-dir" if value.trim().is_empty() => bail!("the cache directory cannot be empty"),
        _ => {}
    }
    Ok(())
}

/// A change or question `pypack config` is asked.
pub enum ConfigAction<'a> {
    Set(&'a str, &'a str),
    Get(&'a str),
    Unset(&'a str),
    List,
}

/// `action` done on the user's config file, and the lines that say what
/// was done or found.
pub fn apply(action: ConfigAction) -> Result<Vec<String>> {
    let mut config = UserConfig::from_host()?;
    if config.path.as_os_str().is_empty() {
        bail!("cannot find the config directory: set XDG_CONFIG_HOME or HOME");
    }
    let path = config.path.display().to_string();
    Ok(match action {
        ConfigAction::Set(key, value) => {
            config.set(key, value)?;
            vec![format!("{key} = {value} (in {path})")]
        }
        ConfigAction::Get(key) => match config.get(key) {
            Some(value) => vec![value.to_string()],
            // Known but not set: nothing to print.
            None => known(key).map(|_| Vec::new())?,
        },
        ConfigAction::Unset(key) => match config.unset(key)? {
            true => vec![format!("removed {key} from {path}")],
            false => vec![format!("{key} was not set in {path}")],
        },
        ConfigAction::List => {
            let keys = KEYS.iter().map(|(key, about)| match config.get(key) {
                Some(value) => format!("{key} = {value}"),
                None => format!("# {key}: not set ({about})"),
            });
            std::iter::once(format!("# {path}")).chain(keys).collect()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_unset_and_checks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pypack/config.toml");
        let mut config = UserConfig::load(&path).unwrap();
        assert!(config.values.is_empty());
        config
            .set("debian-mirror", "http://mirror.test/debian")
            .unwrap();
        config.set("engine", "podman").unwrap();
        let again = UserConfig::load(&path).unwrap();
        assert_eq!(
            again.get("debian-mirror"),
            Some("http://mirror.test/debian")
        );
        assert_eq!(again.get("engine"), Some("podman"));
        assert!(config.set("debian-mirror", "not a url").is_err());
        assert!(config.set("engine", "lxc").is_err());
        let err = config.set("colour", "blue").unwrap_err().to_string();
        assert!(err.contains("debian-mirror"), "{err}");
        assert!(config.unset("engine").unwrap());
        assert!(!config.unset("engine").unwrap());
        assert_eq!(UserConfig::load(&path).unwrap().get("engine"), None);
        std::fs::write(&path, "debian-mirror = 3\n").unwrap();
        let err = format!("{:#}", UserConfig::load(&path).unwrap_err());
        assert!(
            err.contains("config.toml") && err.contains("string"),
            "{err}"
        );
    }

    #[test]
    fn path_follows_xdg() {
        let env = |k: &str| match k {
            "XDG_CONFIG_HOME" => Some("/x".to_string()),
            "HOME" => Some("/home/u".to_string()),
            _ => None,
        };
        assert_eq!(
            UserConfig::default_path(&env).unwrap(),
            PathBuf::from("/x/pypack/config.toml")
        );
        let env = |k: &str| (k == "HOME").then(|| "/home/u".to_string());
        assert_eq!(
            UserConfig::default_path(&env).unwrap(),
            PathBuf::from("/home/u/.config/pypack/config.toml")
        );
    }
}
