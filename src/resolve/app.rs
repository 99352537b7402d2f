//! Locking an app: its requirements, the index settings, and the base's
//! target in; a `pylock.toml` out.

use super::{ResolveInput, lock, resolve};
use crate::cache::Cache;
use crate::digest::sha256_hex;
use crate::http::Http;
use crate::index::config::{Host, resolve_config};
use crate::index::{Index, IndexSettings};
use crate::python::Target;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

pub struct LockRequest<'a> {
    pub app_dir: &'a Path,
    pub target: Target,
    pub flags: IndexSettings,
    pub pre: bool,
    /// Optional-dependency groups of pyproject.toml to include.
    pub extras: Vec<String>,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub home: Option<PathBuf>,
}

pub struct Locked {
    pub path: PathBuf,
    pub packages: Vec<(String, String)>,
    pub up_to_date: bool,
}

/// The digest a lock records: requirement files, index settings and target.
fn inputs_digest(sources: &[PathBuf], request: &LockRequest) -> Result<String> {
    let mut text = format!(
        "target {}\npre {}\nextras {:?}\nflags {:?}\n",
        request.target, request.pre, request.extras, request.flags
    );
    for path in sources {
        let content =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        text.push_str(&format!("{name} {}\n", sha256_hex(&content)));
    }
    Ok(sha256_hex(text.as_bytes()))
}

/// Whether `app_dir/pylock.toml` exists and was made from the current inputs.
pub fn check(request: &LockRequest) -> Result<bool> {
    let (_, sources) =
        crate::project::read_requirements(request.app_dir, &request.extras, request.env)?;
    let path = request.app_dir.join("pylock.toml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(false);
    };
    let (_, recorded) = lock::from_toml(&text, &request.target, &path.display().to_string())?;
    Ok(recorded == inputs_digest(&sources, request)?)
}

/// A client that sends the credentials in the index URLs and `~/.netrc`
/// (or `$NETRC`) to the hosts they name.
fn authenticated(config: &crate::index::IndexConfig, request: &LockRequest) -> Result<Http> {
    let netrc_path = (request.env)("NETRC")
        .map(PathBuf::from)
        .or_else(|| request.home.as_ref().map(|h| h.join(".netrc")));
    let netrc = netrc_path.and_then(|p| std::fs::read_to_string(p).ok());
    let urls: Vec<String> = config
        .index_urls
        .iter()
        .chain(&config.find_links)
        .cloned()
        .collect();
    let credentials = crate::http::Credentials::from_sources(&urls, netrc.as_deref());
    Http::with_credentials(credentials)
}

/// Resolves the app's requirements for the target and writes `pylock.toml`.
pub fn lock_app(request: &LockRequest, cache: &Cache) -> Result<Locked> {
    let (set, sources) =
        crate::project::read_requirements(request.app_dir, &request.extras, request.env)?;
    let inputs = inputs_digest(&sources, request)?;
    // Command-line flags win over the requirements file's own options.
    let settings = IndexSettings {
        index_url: request
            .flags
            .index_url
            .clone()
            .or(set.index.index_url.clone()),
        extra_index_urls: request
            .flags
            .extra_index_urls
            .clone()
            .or(set.index.extra_index_urls.clone()),
        find_links: request
            .flags
            .find_links
            .clone()
            .or(set.index.find_links.clone()),
        no_index: request.flags.no_index.or(set.index.no_index),
    };
    let host = Host {
        env: request.env,
        home: request.home.clone(),
        project_dir: Some(request.app_dir.to_path_buf()),
        system_root: PathBuf::from("/"),
    };
    let config = resolve_config(settings, &host)?;
    let http = authenticated(&config, request)?;
    let index = Index::new(&http, cache, config);
    let input = ResolveInput {
        requirements: set.requirements,
        constraints: set.constraints,
        direct: set.direct,
        pre: request.pre || set.pre,
        require_hashes: set.require_hashes,
        allow_linux_tag: false,
    };
    let resolution = resolve(&index, &request.target, &input)?;
    let text = lock::to_toml(&resolution, &inputs, &|file| match &file.sha256 {
        Some(h) => Ok(h.clone()),
        None => index.download(file),
    })?;
    let path = request.app_dir.join("pylock.toml");
    let previous = std::fs::read_to_string(&path).ok();
    let mut tmp = tempfile::NamedTempFile::new_in(request.app_dir)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    tmp.persist(&path)
        .map_err(|e| e.error)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(Locked {
        up_to_date: previous.as_deref() == Some(text.as_str()),
        packages: resolution
            .pins
            .iter()
            .map(|p| (p.name.clone(), p.version.to_string()))
            .collect(),
        path,
    })
}
