//! Locking an app: its requirements, the index settings, and the base's
//! target in; a `pylock.toml` out.

use super::local_files::LocalRoots;
use super::{BinaryPolicy, Pin, ResolveInput, lock, resolve};
use crate::cache::Cache;
use crate::digest::sha256_hex;
use crate::http::{Http, redact};
use crate::index::config::{Host, resolve_config};
use crate::index::{Index, IndexConfig, IndexSettings, SdistBuilder};
use crate::project::RequirementSet;
use crate::python::Target;
use anyhow::{Context, Result, bail};
use std::cell::OnceCell;
use std::path::{Path, PathBuf};

pub struct LockRequest<'a> {
    pub app_dir: &'a Path,
    pub target: Target,
    pub flags: IndexSettings,
    pub pre: bool,
    /// Optional-dependency groups of pyproject.toml to include.
    pub extras: Vec<String>,
    /// Dependency groups to include (`--group`).
    pub groups: Vec<String>,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub home: Option<PathBuf>,
    /// `--only-binary` / `--no-binary`.
    pub binary: BinaryPolicy,
    /// Builds the sdists resolution picks (their metadata may need it).
    pub sdists: Option<&'a dyn SdistBuilder>,
    /// The app's requirements and the files they came from, read once.
    pub parsed: OnceCell<(RequirementSet, Vec<PathBuf>)>,
    /// Where answers worth keeping between runs go (the host tools' default index).
    pub cache: Option<&'a Cache>,
    /// Ignore other tools' lock files (`--relock`).
    pub relock: bool,
    /// Requirements added on the command line (`--server gunicorn`), already
    /// in `parsed`; part of what a resolution is keyed by.
    pub added: Vec<String>,
}

impl LockRequest<'_> {
    /// The host as index settings see it: environment, home, the app's
    /// directory (uv.toml, [tool.uv]) and the host's pip / uv to ask.
    fn host(&self) -> Host<'_> {
        Host {
            env: self.env,
            home: self.home.clone(),
            project_dir: Some(self.app_dir.to_path_buf()),
            system_root: PathBuf::from("/"),
            ask_tools: true,
            memo: self.cache,
        }
    }

    /// The app's requirements and their source files (read at first use).
    pub fn requirements(&self) -> Result<&(RequirementSet, Vec<PathBuf>)> {
        if let Some(parsed) = self.parsed.get() {
            return Ok(parsed);
        }
        let parsed =
            crate::project::read_requirements(self.app_dir, &self.extras, &self.groups, self.env)?;
        Ok(self.parsed.get_or_init(|| parsed))
    }
}

pub struct Locked {
    pub path: PathBuf,
    pub packages: Vec<(String, String)>,
    pub up_to_date: bool,
}

/// The digest a lock records: requirement files, index settings and target.
fn inputs_digest(sources: &[PathBuf], request: &LockRequest) -> Result<String> {
    // Credentials in index URLs are not inputs: changing a token must not stale the lock.
    let redact_all = |urls: &Option<Vec<String>>| {
        urls.as_ref()
            .map(|u| u.iter().map(|u| redact(u)).collect::<Vec<_>>())
    };
    let flags = IndexSettings {
        index_url: request.flags.index_url.as_deref().map(redact),
        extra_index_urls: redact_all(&request.flags.extra_index_urls),
        find_links: redact_all(&request.flags.find_links),
        no_index: request.flags.no_index,
    };
    let mut text = format!(
        "target {}\npre {}\nextras {:?}\nflags {flags:?}\n",
        request.target, request.pre, request.extras
    );
    if !request.groups.is_empty() {
        text.push_str(&format!("groups {:?}\n", request.groups));
    }
    if !request.added.is_empty() {
        text.push_str(&format!("added {:?}\n", request.added));
    }
    if request.binary != BinaryPolicy::default() {
        text.push_str(&format!("binary {:?}\n", request.binary));
    }
    // Local projects, packed as sdists: their trees are inputs too.
    if let Some((set, _)) = request.parsed.get() {
        for direct in set
            .direct
            .iter()
            .filter(|d| crate::index::sdist::is_sdist(&d.filename))
        {
            text.push_str(&format!(
                "local {} {}\n",
                direct.filename,
                direct.hashes.join(",")
            ));
        }
    }
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
    let (_, sources) = request.requirements()?;
    let path = request.app_dir.join("pylock.toml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(false);
    };
    let (_, recorded) = lock::from_toml(&text, &request.target, &path.display().to_string())?;
    Ok(recorded == inputs_digest(sources, request)?)
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
/// A client carrying the credentials the app's index settings and `~/.netrc`
/// give, for fetching locked wheels (with no index configured, netrc only).
pub fn download_client(request: &LockRequest) -> Result<Http> {
    let config = resolve_config(request.flags.clone(), &request.host()).unwrap_or_default();
    authenticated(&config, request)
}

/// Resolves the app's requirements for the target; returns the lock text
/// and the pins read back from it (so every pin has its sha256).
pub fn resolve_lock(request: &LockRequest, cache: &Cache) -> Result<(String, Vec<Pin>)> {
    let (set, sources) = request.requirements()?;
    let set = set.clone();
    let inputs = inputs_digest(sources, request)?;
    // An app with no dependencies needs no index (and must not fail for want of one).
    let config = if set.is_empty() {
        Default::default()
    } else {
        index_config_for(request, &set)?
    };
    if let Some(tool) = &config.tool_default {
        eprintln!(
            "index:    {}'s default ({}); set PIP_INDEX_URL or --index-url to use another",
            tool.tool,
            redact(&tool.url)
        );
    }
    let http = authenticated(&config, request)?;
    let mut index = Index::new(&http, cache, config);
    if let Some(builder) = request.sdists {
        index = index.with_sdist_builder(builder);
    }
    let input = ResolveInput {
        requirements: set.requirements,
        constraints: set.constraints,
        direct: set.direct,
        pre: request.pre || set.pre,
        require_hashes: set.require_hashes,
        allow_linux_tag: false,
        binary: request
            .binary
            .after_file_options(&set.binary)
            .context("--only-binary/--no-binary in the requirement files")?,
    };
    // setuptools held where it can be; where a package needs a newer one,
    // the newer one.
    let held = ResolveInput {
        constraints: with_setuptools_held(input.constraints.clone(), &input.requirements),
        ..input.clone()
    };
    let resolution = match resolve(&index, &request.target, &held) {
        Ok(resolution) => resolution,
        Err(_) if held.constraints.len() != input.constraints.len() => {
            resolve(&index, &request.target, &input)?
        }
        Err(e) => return Err(e),
    };
    let text = lock::to_toml(&resolution, &inputs, &|file| match &file.sha256 {
        Some(h) => Ok(h.clone()),
        None => index.download(file),
    })?;
    let (pins, _) = lock::from_toml(&text, &request.target, "the new lock")?;
    Ok((text, pins))
}

/// Bumped when the same inputs resolve to other pins (a rule changed).
const RESOLUTION_FORMAT: u32 = 2;

/// The last setuptools with `pkg_resources` (82.0.0 removed it).
const SETUPTOOLS_WITH_PKG_RESOURCES: &str = "setuptools<82";

/// `constraints`, and setuptools held below 82 unless the app names it: a
/// package that needs setuptools at run time needs it for `pkg_resources`
/// (gunicorn 20 does), which the setuptools a Python image or venv comes
/// with still has, and the newest no longer does.
fn with_setuptools_held(
    mut constraints: Vec<crate::project::SourcedRequirement>,
    requirements: &[crate::project::SourcedRequirement],
) -> Vec<crate::project::SourcedRequirement> {
    let named = requirements
        .iter()
        .chain(&constraints)
        .any(|r| crate::index::normalize_name(r.requirement.name.as_ref()) == "setuptools");
    if !named {
        constraints.push(crate::project::SourcedRequirement {
            requirement: crate::python::parse_requirement(SETUPTOOLS_WITH_PKG_RESOURCES)
                .expect("a valid requirement"),
            hashes: Vec::new(),
            origin: "pypack: setuptools a dependency needs at run time keeps pkg_resources".into(),
        });
    }
    constraints
}

/// The indexes the app's packages come from (command-line flags over the
/// requirement file's own options over the environment and config files),
/// as build requirements need them: even when the app itself has no
/// dependencies, since its own project may still need building.
pub fn build_index_config(request: &LockRequest) -> Result<IndexConfig> {
    let (set, _) = request.requirements()?;
    index_config_for(request, set)
}

fn index_config_for(request: &LockRequest, set: &RequirementSet) -> Result<IndexConfig> {
    let flags = &request.flags;
    let settings = IndexSettings {
        index_url: flags.index_url.clone().or(set.index.index_url.clone()),
        extra_index_urls: flags
            .extra_index_urls
            .clone()
            .or(set.index.extra_index_urls.clone()),
        find_links: flags.find_links.clone().or(set.index.find_links.clone()),
        no_index: flags.no_index.or(set.index.no_index),
    };
    resolve_config(settings, &request.host())
}

/// A client with the credentials for `config`'s indexes (and `~/.netrc`).
pub fn client_for(config: &IndexConfig, request: &LockRequest) -> Result<Http> {
    authenticated(config, request)
}

/// Resolves and writes `app_dir/pylock.toml` (atomically); `extend` may
/// add pins (a production server the app needs) to the resolution's.
pub fn lock_app(
    request: &LockRequest,
    cache: &Cache,
    extend: &dyn Fn(&[Pin]) -> Result<Vec<Pin>>,
) -> Result<Locked> {
    let (text, pins) = resolve_lock(request, cache)?;
    let extended = extend(&pins)?;
    let (text, pins) = if extended.len() == pins.len() {
        (text, pins)
    } else {
        let (_, sources) = request.requirements()?;
        let resolution = super::Resolution {
            target: request.target.clone(),
            pins: extended,
        };
        let text = lock::to_toml(&resolution, &inputs_digest(sources, request)?, &|file| {
            file.sha256
                .clone()
                .context("a locked file without its sha256")
        })?;
        let (pins, _) = lock::from_toml(&text, &request.target, "the new lock")?;
        (text, pins)
    };
    let path = request.app_dir.join("pylock.toml");
    let text = lock::relative_directories(&text, request.app_dir)?;
    let previous = std::fs::read_to_string(&path).ok();
    let mut tmp = tempfile::NamedTempFile::new_in(request.app_dir)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    tmp.persist(&path)
        .map_err(|e| e.error)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(Locked {
        up_to_date: previous.as_deref() == Some(text.as_str()),
        packages: pins
            .iter()
            .map(|p| (p.name.clone(), p.version.to_string()))
            .collect(),
        path,
    })
}

/// The pins of the app's `uv.lock`, `poetry.lock`, `Pipfile.lock` or
/// `pdm.lock`, when there is one and it fits the declared requirements;
/// `None` (after saying why) when it is stale.
fn tool_lock_pins(
    request: &LockRequest,
    cache: &Cache,
) -> Result<Option<(Vec<Pin>, &'static str)>> {
    let (set, _) = request.requirements()?;
    let input = crate::project::locks::LockInput {
        app_dir: request.app_dir,
        declared: &set.requirements,
        extras: &request.extras,
        groups: &request.groups,
        target: &request.target,
    };
    // A lock already turned into pins for these inputs: no index is asked.
    let Some((lock_file, _)) = crate::project::locks::find(request.app_dir) else {
        return Ok(None);
    };
    let (_, sources) = request.requirements()?;
    let lock_bytes = std::fs::read(&lock_file)?;
    let key = format!(
        "{}\n{} {}\n",
        inputs_digest(sources, request)?,
        lock_file.display(),
        sha256_hex(&lock_bytes)
    );
    // A lock naming local projects is not taken from the cache: their
    // trees may have changed while the lock did not (uv records no hash of
    // them), and they are packed again from what is there now.
    let Some(locked) = crate::project::locks::read(&input)? else {
        return Ok(None);
    };
    let urls: Vec<&str> = locked
        .packages
        .iter()
        .flat_map(|p| &p.files)
        .filter_map(|f| f.url.as_deref())
        .collect();
    check_local_urls(
        request,
        cache,
        &locked.file,
        &String::from_utf8_lossy(&lock_bytes),
        urls.iter().map(|url| (*url, *url)),
    )?;
    let local = locked
        .packages
        .iter()
        .flat_map(|p| &p.files)
        .filter_map(|f| f.url.as_deref()?.strip_prefix("file://"))
        .any(|path| Path::new(path).is_dir());
    if !local
        && let Some(text) = cache.get_ref("tool-lock", &key)
        && let Some((format, text)) = text.split_once('\n')
        && let Some(format) = crate::project::locks::FORMATS
            .iter()
            .find(|f| f.file == format)
        && let Ok((pins, _)) = lock::from_toml(text, &request.target, "cached lock pins")
    {
        return Ok(Some((pins, format.file)));
    }
    if let Some(why) = crate::project::locks::staleness(&locked, &input) {
        eprintln!(
            "warning: not using {}: {why}; resolving again (update the lock with its tool, or pass --relock)",
            locked.file.display()
        );
        return Ok(None);
    }
    // Only locks without URLs need the index, so a missing index
    // configuration matters only then.
    let config = match index_config_for(request, set) {
        Ok(config) => config,
        Err(e)
            if locked
                .packages
                .iter()
                .flat_map(|p| &p.files)
                .any(|f| f.url.is_none()) =>
        {
            return Err(e);
        }
        Err(_) => IndexConfig::default(),
    };
    let http = authenticated(&config, request)?;
    let mut index = Index::new(&http, cache, config);
    if let Some(builder) = request.sdists {
        index = index.with_sdist_builder(builder);
    }
    let binary = request
        .binary
        .after_file_options(&set.binary)
        .context("--only-binary/--no-binary in the requirement files")?;
    let pins = super::locked::pins(&locked, &request.target, &index, &binary)?;
    let resolution = super::Resolution {
        target: request.target.clone(),
        pins,
    };
    let text = lock::to_toml(
        &resolution,
        "from another tool's lock",
        &|file| match &file.sha256 {
            Some(h) => Ok(h.clone()),
            None => index.download(file),
        },
    )?;
    if !local {
        cache.set_ref("tool-lock", &key, &format!("{}\n{text}", locked.format))?;
    }
    let (pins, _) = lock::from_toml(&text, &request.target, "the lock's pins")?;
    Ok(Some((pins, locked.format)))
}

/// Refuses a lock's local URLs (each as the lock writes it, and as read)
/// that name what the build was not given ([`local_roots`]); the roots are
/// gathered (index settings included) only when some URL is local.
fn check_local_urls<'u>(
    request: &LockRequest,
    cache: &Cache,
    lock_file: &Path,
    lock_text: &str,
    urls: impl Iterator<Item = (&'u str, &'u str)>,
) -> Result<()> {
    let local: Vec<(&str, &str)> = urls
        .filter(|(_, url)| super::local_files::is_local(url))
        .collect();
    if local.is_empty() {
        return Ok(());
    }
    let roots = local_roots(request, cache, lock_file)?;
    for (written, url) in local {
        roots.check(lock_file, lock_text, written, url)?;
    }
    Ok(())
}

/// Where a lock at `lock_file` may point pypack on this machine: the app,
/// the lock's directory, the local projects and wheels the requirements
/// name, the configured find-links and `file://` indexes, and the cache.
fn local_roots(request: &LockRequest, cache: &Cache, lock_file: &Path) -> Result<LocalRoots> {
    let (set, _) = request.requirements()?;
    let mut roots = LocalRoots::default();
    roots.trust(request.app_dir);
    if let Some(dir) = lock_file.parent() {
        roots.trust(dir);
    }
    roots.trust(cache.root());
    for project in &set.local {
        roots.trust(&project.path);
    }
    for wheel in &set.direct {
        roots.trust_location(&wheel.url);
    }
    // With no index configured there is none to trust, which is no reason to fail here.
    if let Ok(config) = index_config_for(request, set) {
        for location in config.find_links.iter().chain(&config.index_urls) {
            roots.trust_location(location);
        }
    }
    Ok(roots)
}

/// `pins` and a package pypack adds (`requirement`, a production server)
/// with what it needs, `pins` held as they are (as constraints): what a
/// lock or resolution gave stays, the added package fits around it. The
/// answer is kept in the cache for the same pins and settings.
pub fn add_to_pins(
    request: &LockRequest,
    cache: &Cache,
    pins: &[Pin],
    requirement: &str,
    why: &str,
) -> Result<Vec<Pin>> {
    let (set, _) = request.requirements()?;
    let held: Vec<String> = pins
        .iter()
        .map(|p| format!("{}=={}", p.name, p.version))
        .collect();
    let key = format!(
        "added {requirement}\ntarget {}\npre {}\nflags {:?}\nbinary {:?}\n{}\n",
        request.target,
        request.pre || set.pre,
        IndexSettings {
            index_url: request.flags.index_url.as_deref().map(redact),
            extra_index_urls: request
                .flags
                .extra_index_urls
                .as_ref()
                .map(|u| u.iter().map(|u| redact(u)).collect()),
            find_links: request
                .flags
                .find_links
                .as_ref()
                .map(|u| u.iter().map(|u| redact(u)).collect()),
            no_index: request.flags.no_index,
        },
        request.binary,
        held.join("\n")
    );
    let added = match cache.get_ref("added-resolution", &key).and_then(|text| {
        lock::from_toml(&text, &request.target, "cached resolution")
            .ok()
            .map(|(pins, _)| pins)
    }) {
        Some(added) => added,
        None => {
            let config = index_config_for(request, set)?;
            let http = authenticated(&config, request)?;
            let mut index = Index::new(&http, cache, config);
            if let Some(builder) = request.sdists {
                index = index.with_sdist_builder(builder);
            }
            let sourced =
                |text: &str, origin: &str| -> Result<crate::project::SourcedRequirement> {
                    Ok(crate::project::SourcedRequirement {
                        requirement: crate::python::parse_requirement(text)
                            .with_context(|| format!("{origin}: {text}"))?,
                        hashes: Vec::new(),
                        origin: origin.to_string(),
                    })
                };
            let input = ResolveInput {
                requirements: vec![sourced(requirement, why)?],
                constraints: held
                    .iter()
                    .map(|h| sourced(h, "the app's pins"))
                    .collect::<Result<_>>()?,
                direct: Vec::new(),
                pre: request.pre || set.pre,
                require_hashes: false,
                allow_linux_tag: false,
                binary: request
                    .binary
                    .after_file_options(&set.binary)
                    .context("--only-binary/--no-binary in the requirement files")?,
            };
            let resolution = resolve(&index, &request.target, &input)
                .with_context(|| format!("adding {requirement} ({why})"))?;
            let text = lock::to_toml(&resolution, "added", &|file| match &file.sha256 {
                Some(h) => Ok(h.clone()),
                None => index.download(file),
            })?;
            cache.set_ref("added-resolution", &key, &text)?;
            lock::from_toml(&text, &request.target, "the added packages")?.0
        }
    };
    let mut merged = pins.to_vec();
    merged.extend(
        added
            .into_iter()
            .filter(|a| !pins.iter().any(|p| p.name == a.name)),
    );
    merged.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(merged)
}

/// Where a build's pins came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinSource {
    /// The app's own, up-to-date `pylock.toml`: no index was asked.
    LockFile,
    /// A resolution of the same inputs kept in the cache: no index was asked.
    Cached,
    /// Resolved now.
    Resolved,
    /// Another tool's lock file that fits the project (`uv.lock`…).
    ToolLock(&'static str),
}

/// The pins a build installs: the app's `pylock.toml` when it matches the
/// inputs, else a cached resolution of the same inputs, else a new one
/// (kept in the cache, not written into the app). With `locked`, only an
/// up-to-date `pylock.toml` will do.
pub fn pins_for_build(
    request: &LockRequest,
    cache: &Cache,
    locked: bool,
) -> Result<(Vec<Pin>, PinSource)> {
    let (_, sources) = request.requirements()?;
    let inputs = inputs_digest(sources, request)?;
    let path = request.app_dir.join("pylock.toml");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let why = match lock::from_toml(&text, &request.target, &path.display().to_string()) {
            Ok((mut pins, recorded)) if recorded == inputs => {
                let written: Vec<String> = pins.iter().map(|p| p.file.url.clone()).collect();
                lock::absolute_directories(&mut pins, request.app_dir);
                let urls = written.iter().zip(&pins);
                let urls = urls.map(|(written, pin)| (written.as_str(), pin.file.url.as_str()));
                check_local_urls(request, cache, &path, &text, urls)?;
                return Ok((pins, PinSource::LockFile));
            }
            Ok(_) => "it is stale for the current requirements".to_string(),
            Err(e) => format!("{e:#}"),
        };
        if locked {
            bail!(
                "--locked: {} cannot be used: {why}; run `pypack lock {}`",
                path.display(),
                request.app_dir.display()
            );
        }
        eprintln!(
            "warning: not using {}: {why}; resolving again (`pypack lock` updates it)",
            path.display()
        );
    }
    if !request.relock
        && let Some((pins, format)) = tool_lock_pins(request, cache)?
    {
        return Ok((pins, PinSource::ToolLock(format)));
    }
    if locked {
        bail!(
            "--locked needs {} (or another tool's lock file that fits the project: uv.lock, poetry.lock, Pipfile.lock, pdm.lock); create it with `pypack lock {}`",
            path.display(),
            request.app_dir.display()
        );
    }
    // Keyed by how pypack resolves too: a resolution of the same inputs
    // made by an older rule (setuptools not yet held) is not reused.
    let key = format!("resolution format {RESOLUTION_FORMAT}\n{inputs}");
    if let Some(text) = cache.get_ref("resolution", &key)
        && let Ok((pins, _)) = lock::from_toml(&text, &request.target, "cached resolution")
    {
        return Ok((pins, PinSource::Cached));
    }
    let (text, pins) = resolve_lock(request, cache)?;
    cache.set_ref("resolution", &key, &text)?;
    Ok((pins, PinSource::Resolved))
}
