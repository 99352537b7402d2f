//! Flag groups several commands share (the base, the package indexes, the
//! output, the registry cache), and turning them into library settings.

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use pypack::base::{BaseOptions, Recipe};
use pypack::cache::Cache;
use pypack::index::IndexSettings;
use pypack::oci::Output;
use pypack::platform::{Platform, PlatformChoice};
use pypack::project::plan::{Overrides, recipe_for};
use std::path::PathBuf;

#[derive(Args)]
#[rustfmt::skip]
pub struct IndexArgs {
    /// Package index (simple API) URL; default from PIP_INDEX_URL, pip.conf, uv.toml.
    #[arg(long, short = 'i', value_name = "URL")] index_url: Option<String>,
    /// Additional package index URL.
    #[arg(long, value_name = "URL")] extra_index_url: Vec<String>,
    /// Directory or HTML page of wheels to use besides the indexes.
    #[arg(long, short = 'f', value_name = "PATH|URL")] find_links: Vec<String>,
    /// Use no index, only --find-links.
    #[arg(long)] no_index: bool,
    /// Never build these packages from source (names, :all: or :none:, comma-separated).
    #[arg(long, value_name = "NAMES")] only_binary: Vec<String>,
    /// Build these packages from source even when a wheel fits (names, :all: or :none:).
    #[arg(long, value_name = "NAMES")] no_binary: Vec<String>,
}

impl IndexArgs {
    /// When nothing here or in pip's environment names an index, the host's
    /// tools will be asked for their default: start that now, while the
    /// base is checked.
    pub fn ask_default_early(&self, cache: &Cache) {
        let env = [
            "PIP_INDEX_URL",
            "PIP_NO_INDEX",
            "UV_INDEX_URL",
            "UV_DEFAULT_INDEX",
        ];
        let named = self.index_url.is_some()
            || self.no_index
            || env.iter().any(|v| std::env::var_os(v).is_some());
        if !named {
            pypack::index::default_index::ask_early(cache.clone());
        }
    }

    pub fn settings(&self) -> IndexSettings {
        let list = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        IndexSettings {
            index_url: self.index_url.clone(),
            extra_index_urls: list(&self.extra_index_url),
            find_links: list(&self.find_links),
            no_index: self.no_index.then_some(true),
        }
    }

    /// `--no-binary`, then `--only-binary` (which so wins for a name in both).
    pub fn binary(&self) -> Result<pypack::resolve::BinaryPolicy> {
        let mut policy = pypack::resolve::BinaryPolicy::default();
        for value in &self.no_binary {
            policy.apply(value, false).context("--no-binary")?;
        }
        for value in &self.only_binary {
            policy.apply(value, true).context("--only-binary")?;
        }
        Ok(policy)
    }
}

/// The registry cache a build shares its work through.
#[derive(Args)]
#[rustfmt::skip]
pub struct CacheSharing {
    /// Share this build's work through a registry: push what it used (base
    /// layers, resolution, wheels, venv) as a cache entry under
    /// REGISTRY/REPOSITORY:TAG (else $PYPACK_CACHE_TO).
    #[arg(long, value_name = "REF")] cache_to: Option<String>,
    /// Start from the cache entries under REGISTRY/REPOSITORY:TAG (else
    /// $PYPACK_CACHE_FROM): what they hold is fetched when needed, not made.
    #[arg(long, value_name = "REF")] cache_from: Option<String>,
}

impl CacheSharing {
    /// `cache` with the registry caches these flags name (see
    /// `pypack::publish::shared_cache`).
    pub fn share(
        &self,
        cache: Cache,
        plain_http: bool,
        quiet: bool,
    ) -> Result<(Cache, Option<pypack::registry_cache::RegistryCache>)> {
        let (from, to) = (self.cache_from.as_deref(), self.cache_to.as_deref());
        pypack::publish::shared_cache(cache, from, to, plain_http, quiet)
    }
}

/// Which base to build or read the target from, and where its packages come from.
#[derive(Args)]
#[rustfmt::skip]
pub struct BaseArgs {
    /// Built-in recipe name (see `pypack base list`) or path of a recipe file
    /// [default: debian12, or what the app's Python version asks for].
    #[arg(long)] pub recipe: Option<String>,
    /// Python version of the image (3.11 → debian12, 3.13 → debian13, 3.14 → debian-forky).
    #[arg(long, conflicts_with = "recipe")] pub python: Option<String>,
    /// Target platform: linux/amd64 or linux/arm64; for `build`, also a
    /// comma-separated list of them, or `all` (every platform the base offers),
    /// which makes one image index.
    #[arg(long, default_value = "linux/amd64")] pub platform: String,
    /// Debian archive URL (default: from the host's apt sources).
    #[arg(long, value_name = "URL")] debian_mirror: Option<String>,
    /// Debian security archive URL (default: from the host's apt sources).
    #[arg(long, value_name = "URL")] debian_security_mirror: Option<String>,
    /// OpenPGP keyring (armored or binary) to trust instead of the recipe's shipped keys.
    #[arg(long, value_name = "PATH")] keyring: Vec<PathBuf>,
    /// Accept archive indexes whose signature does not verify (not recommended).
    #[arg(long)] insecure: bool,
    /// Fetch the archive indexes again even if a recent copy is cached.
    #[arg(long)] refresh: bool,
    /// Accept a suite index past its Valid-Until date (a snapshot archive or a stale
    /// mirror; apt's check-valid-until=no). Its signature is still checked.
    #[arg(long)] allow_expired_index: bool,
}

impl BaseArgs {
    pub fn platforms(&self) -> Result<PlatformChoice> {
        Platform::parse_choice(&self.platform)
    }

    /// The recipe named by --recipe/--python, else `debian12`.
    pub fn options(&self, quiet: bool) -> Result<(Recipe, BaseOptions)> {
        let name = match (&self.recipe, &self.python) {
            (Some(r), _) => r.clone(),
            (None, Some(v)) => {
                let python = Some(v.clone());
                let overrides = Overrides {
                    python,
                    ..Overrides::default()
                };
                recipe_for(std::path::Path::new("."), &overrides)?
                    .recipe
                    .value
            }
            (None, None) => "debian12".into(),
        };
        self.options_for(&name, quiet)
    }

    pub fn options_for(&self, recipe: &str, quiet: bool) -> Result<(Recipe, BaseOptions)> {
        let recipe = Recipe::load(recipe)?;
        let options = BaseOptions::from_host(BaseOptions {
            platform: match self.platforms()? {
                PlatformChoice::List(list) => list[0],
                PlatformChoice::All => Platform::host(),
            },
            debian_mirror: self.debian_mirror.clone(),
            debian_security_mirror: self.debian_security_mirror.clone(),
            keyrings: self.keyring.clone(),
            insecure: self.insecure,
            allow_expired: self.allow_expired_index,
            refresh: self.refresh,
            epoch: 0,
            verbose: !quiet,
            host_root: PathBuf::new(),
        })?;
        Ok((recipe, options))
    }
}

#[derive(Args)]
#[rustfmt::skip]
pub struct OutputArgs {
    /// Write an OCI image layout directory.
    #[arg(long, value_name = "DIR", conflicts_with = "archive")] pub output: Option<PathBuf>,
    /// Write an image archive file (docker-archive by default).
    #[arg(long, value_name = "FILE")] pub archive: Option<PathBuf>,
    /// Format of --archive.
    #[arg(long, value_enum, default_value_t = ArchiveFormat::Docker, requires = "archive")]
    archive_format: ArchiveFormat,
    /// Image name and tag, NAME[:TAG].
    #[arg(long, short)] pub tag: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ArchiveFormat {
    Docker,
    Oci,
}

impl OutputArgs {
    /// The layout or archive named by --output / --archive, if one is.
    pub fn written(&self) -> Option<Output> {
        match (&self.output, &self.archive) {
            (Some(dir), _) => Some(Output::Layout(dir.clone())),
            (None, Some(file)) => Some(match self.archive_format {
                ArchiveFormat::Docker => Output::DockerArchive(file.clone()),
                ArchiveFormat::Oci => Output::OciArchive(file.clone()),
            }),
            (None, None) => None,
        }
    }
}
