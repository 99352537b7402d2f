//! Base images built from Debian packages: recipe → verified indexes →
//! dependency closure → verified `.deb`s → root filesystem → one layer.

pub mod debug;
pub mod outdated;
pub mod pulled;
pub mod recipe;
pub mod rootfs;
pub mod system_libraries;
pub mod target;
pub mod unpacked;

use crate::cache::Cache;
use crate::debian::closure::closure;
use crate::debian::packages::PackageIndex;
use crate::debian::release::Keyring;
use crate::debian::sources::{archive_uris, read_host_sources};
use crate::debian::{Archive, ArchiveConfig, FetchStats};
use crate::digest::sha256_hex;
use crate::http::Http;
use crate::oci::image::{self, ContainerConfig, Image, LayerSpec};
use crate::oci::layer::write_layer;
use crate::platform::Platform;
use crate::python::{Libc, Target};
use anyhow::{Context, Result, bail};
pub use recipe::Recipe;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use target::{glibc, target_from, versions_of};

/// Bumped whenever the rootfs assembly changes what a recipe produces, so
/// cached bases made by older code are not reused.
const BASE_FORMAT: u32 = 1;

#[derive(Debug, Clone)]
pub struct BaseOptions {
    pub platform: Platform,
    /// Debian archive URI; default: the host's apt sources.
    pub debian_mirror: Option<String>,
    /// Debian security archive URI; default: the host's apt sources.
    pub debian_security_mirror: Option<String>,
    /// Keyrings to trust instead of the keys the recipe names.
    pub keyrings: Vec<PathBuf>,
    pub insecure: bool,
    /// Accept a suite index past its `Valid-Until` date (snapshot archives,
    /// stale mirrors); its signature is still checked.
    pub allow_expired: bool,
    pub refresh: bool,
    pub epoch: u64,
    pub verbose: bool,
    /// Root of the host filesystem whose apt sources are read (tests use a fixture tree).
    pub host_root: PathBuf,
}

impl BaseOptions {
    /// Options for `platform`: the mirrors from `options` (a flag), else
    /// the environment (`PYPACK_DEBIAN_MIRROR`, `PYPACK_DEBIAN_SECURITY_MIRROR`),
    /// else the user's config file, else (left unset) the host's apt sources;
    /// the timestamp from `SOURCE_DATE_EPOCH`; the host's root.
    pub fn from_host(options: BaseOptions) -> Result<BaseOptions> {
        let config = crate::config::UserConfig::from_host()?;
        let setting = |flag: Option<String>, var: &str, key: &str| {
            flag.or_else(|| std::env::var(var).ok().filter(|v| !v.trim().is_empty()))
                .or_else(|| config.get(key).map(str::to_string))
        };
        let security = options.debian_security_mirror.clone();
        Ok(BaseOptions {
            debian_mirror: setting(
                options.debian_mirror.clone(),
                "PYPACK_DEBIAN_MIRROR",
                "debian-mirror",
            ),
            debian_security_mirror: setting(
                security,
                "PYPACK_DEBIAN_SECURITY_MIRROR",
                "debian-security-mirror",
            ),
            epoch: crate::oci::source_date_epoch()?,
            host_root: host_root().to_path_buf(),
            ..options
        })
    }
}

#[derive(Debug, Clone)]
pub struct BuiltBase {
    pub image: Image,
    pub packages: Vec<(String, String)>,
    pub uncompressed_size: u64,
    /// Files fetched over the network by this build (0 on a warm build).
    pub downloads: usize,
    pub python_executable: String,
    /// The interpreter's full version, e.g. `3.11.2` (from its Debian package).
    pub python_full_version: Option<String>,
    /// The C library and its version (glibc from libc6, or what a pulled base shows).
    pub libc: Option<Libc>,
    /// A base built by this run for this machine: its files as written.
    pub early: Option<Early>,
}

/// Work a build starts from the base's interpreter as soon as the base's
/// files are written, while its layer is still being compressed (the
/// builder compiles the standard library's bytecode there). What it returns
/// is kept in [`Early`] until the build takes it; the base does not look
/// inside.
pub type HeadStart<'a> =
    &'a (dyn Fn(&unpacked::UnpackedPython) -> Option<Box<dyn std::any::Any + Send>> + Sync);

/// What a base built here for this machine leaves for the steps after it:
/// its files, written while its layer was compressed, and maybe the work a
/// [`HeadStart`] started there. The files move to the cache's unpacked
/// trees ([`unpacked`]) when the last copy of the base goes, once nothing
/// runs from them any more (a move would break a running interpreter's
/// paths); work nobody collected is dropped first (a compile is killed).
#[derive(Clone)]
pub struct Early(std::sync::Arc<std::sync::Mutex<EarlyParts>>);

struct EarlyParts {
    // Declared first: dropped (stopped) before the tree is moved.
    started: Option<Box<dyn std::any::Any + Send>>,
    tree: Option<unpacked::EarlyTree>,
    cache: Cache,
    image: crate::oci::Image,
}

impl Early {
    fn new(
        tree: unpacked::EarlyTree,
        started: Option<Box<dyn std::any::Any + Send>>,
        cache: &Cache,
        image: &crate::oci::Image,
    ) -> Early {
        Early(std::sync::Arc::new(std::sync::Mutex::new(EarlyParts {
            started,
            tree: Some(tree),
            cache: cache.clone(),
            image: image.clone(),
        })))
    }

    fn parts(&self) -> std::sync::MutexGuard<'_, EarlyParts> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The base's interpreter, run from where its files were written.
    pub fn python(&self, python: &str) -> Option<unpacked::UnpackedPython> {
        self.parts().tree.as_ref()?.python(python).ok()
    }

    /// What the head start started, when it started something of type `T`
    /// (taken once).
    pub fn take_started<T: 'static>(&self) -> Option<T> {
        let started = self.parts().started.take()?;
        started.downcast::<T>().ok().map(|b| *b)
    }
}

impl Drop for EarlyParts {
    fn drop(&mut self) {
        self.started.take();
        if let Some(tree) = self.tree.take() {
            // Only a head start for later builds: they unpack the layer otherwise.
            let _ = tree.keep(&self.cache, &self.image);
        }
    }
}

impl std::fmt::Debug for Early {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Early")
    }
}

impl BuiltBase {
    /// The platform, interpreter and libc that wheels must fit.
    pub fn target(&self) -> Result<Target> {
        let python = self.python_full_version.as_deref();
        target_from(self.image.platform, python, self.libc)
    }
}

/// The label of the Python version every base (and so every image built
/// on one) carries.
pub const PYTHON_VERSION_LABEL: &str = "io.pypack.python.version";

/// What resolution needs of the base `recipe` makes with `options`: the
/// platform, interpreter and C library wheels must fit. From a base already
/// built with the same inputs, else from the suites' signed package indexes
/// alone (see [`target`]): no `.deb` is fetched, no layer written.
pub fn target_of(
    recipe: &Recipe,
    options: &BaseOptions,
    cache: &Cache,
    http: &Http,
) -> Result<Target> {
    match built_or_target(recipe, options, cache, http)? {
        BuiltOrTarget::Built(built) => built.target(),
        BuiltOrTarget::Target(target) => Ok(target),
    }
}

/// The base `recipe` makes with `options` when one built with the same
/// inputs is in the cache, else only its target (as [`target_of`]).
pub enum BuiltOrTarget {
    Built(Box<BuiltBase>),
    Target(Target),
}

pub fn built_or_target(
    recipe: &Recipe,
    options: &BaseOptions,
    cache: &Cache,
    http: &Http,
) -> Result<BuiltOrTarget> {
    let arch = check_architecture(recipe, options)?;
    let opened = RecipeArchive::with_client(recipe, options, http)?;
    let archive = opened.archive(cache);
    let stats = FetchStats::default();
    let (suites, key) = signed_suites(recipe, options, &archive, &stats)?;
    if let Some(built) = cached_build(cache, &key, options.platform, recipe) {
        let downloads = stats.downloads();
        return Ok(BuiltOrTarget::Built(Box::new(BuiltBase {
            downloads,
            ..built
        })));
    }
    let versions = target::versions_for(recipe, &archive, &suites, arch, &key, &stats)?;
    let (python, libc) = versions_of(recipe, &versions);
    let libc = libc.as_deref().and_then(glibc);
    let target = target_from(options.platform, python.as_deref(), libc)?;
    Ok(BuiltOrTarget::Target(target))
}

/// The recipe's Debian architecture for the options' platform, if the
/// recipe is made for it.
fn check_architecture<'a>(recipe: &Recipe, options: &'a BaseOptions) -> Result<&'a str> {
    let arch = options.platform.debian_arch();
    if !recipe.architectures.iter().any(|a| a == arch) {
        bail!(
            "recipe {} is not made for {arch} (it supports {})",
            recipe.name,
            recipe.architectures.join(", ")
        );
    }
    Ok(arch)
}

/// The recipe's suites as the archive signs them now, and the key under
/// which a base built from them with `options` is cached.
fn signed_suites(
    recipe: &Recipe,
    options: &BaseOptions,
    archive: &Archive,
    stats: &FetchStats,
) -> Result<(Vec<crate::debian::SuiteIndex>, String)> {
    let suites = archive.suites(&recipe.suites, stats)?;
    let key = build_key(
        recipe,
        options,
        suites.iter().map(|s| s.inrelease_sha256.as_str()),
    );
    Ok((suites, key))
}

pub fn build(
    recipe: &Recipe,
    options: &BaseOptions,
    cache: &Cache,
    http: &Http,
) -> Result<BuiltBase> {
    build_and(recipe, options, cache, http, None)
}

/// [`build`], and with a `head_start`, a base built here (not found in the
/// cache) for this machine starts that work with its own interpreter as
/// soon as its files are written, while its layer is still being
/// compressed (see [`Early`]).
pub fn build_and(
    recipe: &Recipe,
    options: &BaseOptions,
    cache: &Cache,
    http: &Http,
    head_start: Option<HeadStart>,
) -> Result<BuiltBase> {
    let arch = check_architecture(recipe, options)?;
    let opened = RecipeArchive::with_client(recipe, options, http)?;
    let archive = opened.archive(cache);
    let stats = FetchStats::default();
    let (suites, key) = signed_suites(recipe, options, &archive, &stats)?;
    if let Some(built) = cached_build(cache, &key, options.platform, recipe) {
        return Ok(BuiltBase {
            downloads: stats.downloads(),
            ..built
        });
    }

    crate::mark("Debian releases verified");
    let selected = chosen_packages(recipe, &archive, &suites, arch, &stats)?;
    let selected: Vec<&crate::debian::packages::Package> = selected.iter().collect();
    crate::mark("Debian packages chosen");
    let extracted = archive.fetch_debs(&selected, &stats)?;
    crate::mark("Debian packages fetched and unpacked");
    let mut packages: Vec<_> = selected.iter().copied().zip(extracted).collect();
    let entries = rootfs::assemble(recipe, &mut packages)?;
    check_python(recipe, &entries)?;

    let (blob, early_tree) = write_layer_and_tree(recipe, options, &entries, head_start, cache);
    let blob = blob?;
    crate::mark("base layer written");
    let uncompressed_size = blob.uncompressed_size;
    let package_list: Vec<(String, String)> = selected
        .iter()
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    let layer = LayerSpec {
        blob,
        created_by: format!(
            "pypack base {}: {} Debian packages",
            recipe.name,
            package_list.len()
        ),
    };
    let image = image::assemble(
        cache,
        options.platform,
        &container_config(recipe),
        &[layer],
        options.epoch,
        &annotations(recipe),
    )?;

    crate::audit::BaseLibraries::from_entries(&entries, options.platform)
        .remember(cache, &image)?;
    let early = early_tree.map(|(tree, started)| Early::new(tree, started, cache, &image));
    let record = CachedBuild {
        manifest: image.manifest_digest.clone(),
        uncompressed_size,
        packages: package_list.clone(),
    };
    cache.set_ref("base", &key, &serde_json::to_string(&record)?)?;
    let (python_full_version, glibc_version) = versions_of(recipe, &package_list);
    let libc = glibc_version.as_deref().and_then(glibc);
    Ok(BuiltBase {
        image,
        packages: package_list,
        uncompressed_size,
        downloads: stats.downloads(),
        python_executable: recipe.python.executable.clone(),
        python_full_version,
        libc,
        early,
    })
}

/// The recipe's packages and everything they depend on, from the suites'
/// package indexes.
fn chosen_packages(
    recipe: &Recipe,
    archive: &Archive,
    suites: &[crate::debian::SuiteIndex],
    arch: &str,
    stats: &FetchStats,
) -> Result<Vec<crate::debian::packages::Package>> {
    // Fetched and read at once (a security suite's index is small, the main
    // suite's is not); added in the recipe's order, which decides ties.
    let lists: Vec<(&crate::debian::SuiteIndex, &String)> = suites
        .iter()
        .flat_map(|suite| recipe.components.iter().map(move |c| (suite, c)))
        .collect();
    let mut index = PackageIndex::default();
    for packages in crate::parallel::map_ordered(&lists, lists.len(), |(suite, component)| {
        archive.packages(suite, component, arch, stats)
    })? {
        index.add(packages);
    }
    let selected = closure(&index, &recipe.packages.include, &recipe.packages.exclude)
        .with_context(|| {
            format!(
                "resolving the packages of recipe {} for {arch}",
                recipe.name
            )
        })?;
    // The chosen few outlive the index of tens of thousands.
    let selected: Vec<crate::debian::packages::Package> = selected.into_iter().cloned().collect();
    drop(index);
    release_freed_memory();
    Ok(selected)
}

/// What a base built here started from its files: the unpacked tree, and
/// what the head start returned.
type EarlyStart = (unpacked::EarlyTree, Option<Box<dyn std::any::Any + Send>>);

/// The base layer, written while (for this machine only) its files are
/// written out for later steps to run the interpreter from, and the head
/// start is started there.
fn write_layer_and_tree(
    recipe: &Recipe,
    options: &BaseOptions,
    entries: &[crate::oci::Entry],
    head_start: Option<HeadStart>,
    cache: &Cache,
) -> (Result<crate::oci::LayerBlob>, Option<EarlyStart>) {
    std::thread::scope(|scope| {
        let tree = (options.platform == crate::platform::Platform::host()).then(|| {
            scope.spawn(|| {
                let tree = unpacked::EarlyTree::write(cache, entries)?;
                let started = head_start.and_then(|start| {
                    let python = tree.python(&recipe.python.executable).ok()?;
                    start(&python)
                });
                anyhow::Ok((tree, started))
            })
        });
        let _progress =
            crate::progress::Progress::start("writing the base layer", 0, options.verbose);
        let blob = write_layer(cache, entries, options.epoch);
        // Only a head start: a tree that could not be written is made later.
        let tree = tree.and_then(|t| t.join().ok()).and_then(Result::ok);
        (blob, tree)
    })
}

/// Hands memory freed by the main thread back to the system: the allocator
/// keeps it for that thread otherwise, while the package workers that come
/// next allocate from arenas of their own.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The Debian packages of `recipe`'s suites that ship a file `wanted`
/// accepts (`question` names it, for the cache), with the paths.
pub fn packages_shipping(
    recipe: &Recipe,
    options: &BaseOptions,
    cache: &Cache,
    question: &str,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Vec<(String, String)>> {
    let opened = RecipeArchive::open(recipe, options)?;
    let archive = opened.archive(cache);
    let stats = crate::debian::FetchStats::default();
    let arch = options.platform.debian_arch();
    let mut found = Vec::new();
    for index in archive.suites(&recipe.suites, &stats)? {
        for component in &recipe.components {
            found.extend(archive.file_owners(&index, component, arch, question, wanted, &stats)?);
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// What opens the archive a recipe's packages come from: the client, the
/// keys it trusts (the recipe's, or `--keyring`), and where it is.
struct RecipeArchive {
    http: Http,
    keyring: Keyring,
    config: ArchiveConfig,
}

impl RecipeArchive {
    fn open(recipe: &Recipe, options: &BaseOptions) -> Result<RecipeArchive> {
        RecipeArchive::with_client(recipe, options, &Http::new()?)
    }

    /// Like `open`, speaking through `http` (a client the caller already has).
    fn with_client(recipe: &Recipe, options: &BaseOptions, http: &Http) -> Result<RecipeArchive> {
        Ok(RecipeArchive {
            http: http.clone(),
            keyring: keyring(recipe, &options.keyrings)?,
            config: archive_config(options)?,
        })
    }

    fn archive<'a>(&'a self, cache: &'a Cache) -> Archive<'a> {
        Archive {
            http: &self.http,
            cache,
            keyring: &self.keyring,
            config: self.config.clone(),
        }
    }
}

/// The recipe's suites (signature-checked indexes) and every package of
/// their components for `arch`.
fn suite_packages(
    archive: &Archive,
    recipe: &Recipe,
    arch: &str,
    stats: &FetchStats,
) -> Result<(Vec<crate::debian::SuiteIndex>, PackageIndex)> {
    let suites = archive.suites(&recipe.suites, stats)?;
    let mut index = PackageIndex::default();
    for suite in &suites {
        for component in &recipe.components {
            index.add(archive.packages(suite, component, arch, stats)?);
        }
    }
    Ok((suites, index))
}

fn keyring(recipe: &Recipe, extra: &[PathBuf]) -> Result<Keyring> {
    let mut ring = Keyring::default();
    if extra.is_empty() {
        for (name, data) in recipe.shipped_keys() {
            ring.add(data.as_bytes(), name)?;
        }
    } else {
        for path in extra {
            ring.add_file(path)?;
        }
    }
    Ok(ring)
}

fn archive_config(options: &BaseOptions) -> Result<ArchiveConfig> {
    let sources = read_host_sources(&options.host_root).unwrap_or_default();
    let host = archive_uris(&sources);
    let main_uri = match options.debian_mirror.clone().or(host.main) {
        Some(uri) => uri,
        None => bail!("{}", no_archive_message(options, &sources)),
    };
    let trim = |u: String| u.trim_end_matches('/').to_string();
    Ok(ArchiveConfig {
        main_uri: trim(main_uri),
        security_uri: options
            .debian_security_mirror
            .clone()
            .or(host.security)
            .map(trim),
        insecure: options.insecure,
        allow_expired: options.allow_expired,
        refresh: options.refresh,
        verbose: options.verbose,
    })
}

/// Why no Debian archive is known, and every way to name one.
fn no_archive_message(
    options: &BaseOptions,
    sources: &[crate::debian::sources::AptSource],
) -> String {
    let apt = options.host_root.join("etc/apt");
    let why = if let Some(ubuntu) = crate::debian::sources::ubuntu_source(sources) {
        format!(
            "this host's apt sources are Ubuntu's ({}), and pypack's bases are made of Debian packages, which Ubuntu's archive does not serve",
            ubuntu.uri
        )
    } else if sources.is_empty() {
        format!(
            "this host has no apt sources ({} names none)",
            apt.display()
        )
    } else {
        format!(
            "none of this host's apt sources ({}) is a Debian archive",
            apt.display()
        )
    };
    format!(
        "no Debian archive configured: {why}. Name a Debian archive (the URL in a Debian apt sources line) one of these ways: \
         set PYPACK_DEBIAN_MIRROR=URL (and PYPACK_DEBIAN_SECURITY_MIRROR=URL for security updates), e.g. in CI; \
         or run `pypack config set debian-mirror URL` (and `pypack config set debian-security-mirror URL`) once on this machine; \
         or pass --debian-mirror URL"
    )
}

fn build_key<'a>(
    recipe: &Recipe,
    options: &BaseOptions,
    indexes: impl Iterator<Item = &'a str>,
) -> String {
    let mut key = format!(
        "pypack {} base format {BASE_FORMAT}\nlayer bytes {}\nplatform {}\nepoch {}\n",
        env!("CARGO_PKG_VERSION"),
        crate::oci::layer::BYTES_FORMAT,
        options.platform,
        options.epoch
    );
    for hex in indexes {
        key.push_str(&format!("index {hex}\n"));
    }
    key.push_str(&sha256_hex(recipe.source_text.as_bytes()));
    key
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CachedBuild {
    manifest: String,
    uncompressed_size: u64,
    packages: Vec<(String, String)>,
}

/// A previous build with the same inputs, if all its blobs are still intact.
fn cached_build(
    cache: &Cache,
    key: &str,
    platform: Platform,
    recipe: &Recipe,
) -> Option<BuiltBase> {
    let record: CachedBuild = serde_json::from_str(&cache.get_ref("base", key)?).ok()?;
    let image = image::load(cache, &record.manifest, platform).ok()?;
    let (python_full_version, glibc_version) = versions_of(recipe, &record.packages);
    let libc = glibc_version.as_deref().and_then(glibc);
    Some(BuiltBase {
        image,
        packages: record.packages,
        uncompressed_size: record.uncompressed_size,
        downloads: 0,
        python_executable: recipe.python.executable.clone(),
        python_full_version,
        libc,
        early: None,
    })
}

fn check_python(recipe: &Recipe, entries: &[crate::oci::Entry]) -> Result<()> {
    let exe = recipe.python.executable.trim_start_matches('/');
    if !entries.iter().any(|e| e.path == exe) {
        bail!(
            "recipe {}: the packages do not provide {}",
            recipe.name,
            recipe.python.executable
        );
    }
    Ok(())
}

fn container_config(recipe: &Recipe) -> ContainerConfig {
    let defaults = &recipe.image;
    let mut labels = BTreeMap::new();
    labels.insert(
        "org.opencontainers.image.title".to_string(),
        format!("pypack base {}", recipe.name),
    );
    labels.insert(
        "org.opencontainers.image.description".to_string(),
        recipe.description.clone(),
    );
    labels.insert(
        PYTHON_VERSION_LABEL.to_string(),
        recipe.python.version.clone(),
    );
    labels.insert(
        "io.pypack.python.executable".to_string(),
        recipe.python.executable.clone(),
    );
    ContainerConfig {
        env: defaults.env.clone(),
        user: defaults.user.clone(),
        working_dir: defaults.working_dir.clone(),
        cmd: defaults.cmd.clone(),
        labels,
        ..ContainerConfig::default()
    }
}

fn annotations(recipe: &Recipe) -> BTreeMap<String, String> {
    BTreeMap::from([(
        "org.opencontainers.image.title".to_string(),
        format!("pypack base {}", recipe.name),
    )])
}

/// Default root for reading the host's apt sources.
pub fn host_root() -> &'static Path {
    Path::new("/")
}

#[cfg(test)]
mod tests {
    #[test]
    fn upstream_versions() {
        assert_eq!(
            super::target::upstream_version("3.11.2-6+deb12u8"),
            "3.11.2"
        );
        assert_eq!(super::target::upstream_version("2.36-9+deb12u14"), "2.36");
        assert_eq!(
            super::target::upstream_version("1:1.2.13.dfsg-1"),
            "1.2.13.dfsg"
        );
        assert_eq!(super::target::upstream_version("3.13.5-2"), "3.13.5");
    }
}
