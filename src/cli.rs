//! clap commands and flags, and turning them into library calls.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use pypack::base::{self, BaseOptions, Recipe};
use pypack::builder::Engine;
use pypack::cache::Cache;
use pypack::config::UserConfig;
use pypack::http::Http;
use pypack::index::IndexSettings;
use pypack::oci::{self, Output};
use pypack::platform::{Platform, PlatformChoice};
use pypack::project::plan::{Overrides, recipe_for};
use pypack::resolve::app::{self, LockRequest};
use std::path::PathBuf;

mod rebase;
mod run;

#[derive(Parser)]
#[command(
    name = "pypack",
    version,
    about = "Python app directory → container image, no Dockerfile, no daemon"
)]
struct Cli {
    /// Cache directory (default: $PYPACK_CACHE_DIR, else the platform cache dir).
    #[arg(long, global = true, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Print less.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runtime base images built from Debian packages.
    #[command(subcommand)]
    Base(BaseCommand),
    /// Resolve an app's requirements for the image and write APP/pylock.toml.
    Lock(Box<LockArgs>),
    /// Build an image of a Python app directory.
    Build(Box<BuildArgs>),
    /// Build (as `build` does, into the engine) and serve the app on localhost;
    /// with --watch, rebuild and restart on every change.
    Run(Box<run::RunArgs>),
    /// Machine-level defaults in the user's config file (Debian mirror, cache dir, engine).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the bill of materials pypack put in an image.
    Sbom(SbomArgs),
    /// Move a pypack image onto a newer base (a recipe's packages as the
    /// archive has them now, or a registry image) without rebuilding it.
    Rebase(Box<rebase::RebaseArgs>),
    /// The build cache shared through a registry (--cache-to / --cache-from).
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Show the layers, config and packages of an image layout or archive.
    Inspect {
        /// An OCI layout directory, an oci-archive or a docker-archive.
        image: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct BuildArgs {
    /// The app directory.
    app: PathBuf,
    #[command(flatten)]
    base: BaseArgs,
    #[command(flatten)]
    index: IndexArgs,
    /// The command to run, e.g. "gunicorn app:app" (default: detected).
    #[arg(long)]
    cmd: Option<String>,
    /// The port the app listens on (default: detected, else 8000).
    #[arg(long)]
    port: Option<String>,
    /// Run as root instead of nonroot (65532).
    #[arg(long)]
    root: bool,
    /// Allow pre-releases.
    #[arg(long)]
    pre: bool,
    /// Include this optional-dependencies group of pyproject.toml (repeatable).
    #[arg(long, value_name = "GROUP")]
    extra: Vec<String>,
    /// Include this dependency group: PEP 735 [dependency-groups], a Poetry
    /// group, or a Pipfile's dev-packages (`dev`) (repeatable).
    #[arg(long, value_name = "NAME")]
    group: Vec<String>,
    /// Install exactly APP/pylock.toml (or a fitting uv.lock, poetry.lock,
    /// Pipfile.lock, pdm.lock); fail if there is none.
    #[arg(long)]
    locked: bool,
    /// Resolve afresh, ignoring uv.lock, poetry.lock, Pipfile.lock and pdm.lock.
    #[arg(long)]
    relock: bool,
    /// Add this production server to the dependencies and serve the app with it
    /// (gunicorn, uvicorn, granian, hypercorn, waitress); `none`: add none, even
    /// when no server is installed (the framework's own server then).
    #[arg(long, value_name = "NAME")]
    server: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
    /// Load the image into a container engine (podman or docker).
    #[arg(long, conflicts_with_all = ["output", "archive"])]
    load: bool,
    /// Engine for --load and the builder (default: podman if installed, else docker).
    #[arg(long, value_name = "podman|docker")]
    engine: Option<String>,
    /// Do not compile .pyc files (the image starts slower; no engine is needed for it).
    #[arg(long)]
    no_compile: bool,
    /// Run the built image once and fail if its entrypoint does not import or answer
    /// (default: on when podman or docker is installed).
    #[arg(long, conflicts_with = "no_smoke")]
    smoke: bool,
    /// Do not run the built image once.
    #[arg(long)]
    no_smoke: bool,
    /// A NAME=VALUE setting the app needs to start, for the smoke run only (repeatable;
    /// not written into the image).
    #[arg(long, value_name = "NAME=VALUE", conflicts_with = "no_smoke")]
    smoke_env: Vec<String>,
    /// Build on this registry image instead of a recipe's base (e.g. localhost:5000/python:3.12-slim).
    #[arg(long = "base", value_name = "REF", conflicts_with_all = ["recipe", "python"])]
    base_image: Option<String>,
    /// With --base: the image to build source distributions in (default: the full
    /// variant of a -slim base, e.g. python:3.12 for python:3.12-slim).
    #[arg(long, value_name = "REF", requires = "base_image")]
    builder_image: Option<String>,
    /// Push the image to a registry: REGISTRY/REPOSITORY[:TAG] (alone, it is the only destination).
    #[arg(long, value_name = "REF")]
    push: Option<String>,
    /// Speak plain HTTP to the --push registry (loopback only).
    #[arg(long)]
    insecure_registry: bool,
    #[command(flatten)]
    sharing: CacheSharing,
    /// Treat this shared library as present in the image even though no
    /// package ships it (for a file of a package that is never loaded; repeatable).
    #[arg(long, value_name = "NAME")]
    ignore_missing_library: Vec<String>,
    /// Print one JSON summary on stdout instead of text.
    #[arg(long)]
    json: bool,
    /// Also make the debug variant, NAME:TAG-debug: the same image plus a
    /// static busybox at /busybox (a shell and the usual tools, on PATH).
    #[arg(long)]
    debug: bool,
    /// Also write the image's bill of materials into DIR, as NAME.spdx.json
    /// and NAME.cdx.json (NAME-ARCH.… for each of several platforms).
    #[arg(long, value_name = "DIR")]
    sbom: Option<PathBuf>,
}

#[derive(Args)]
struct SbomArgs {
    /// An OCI layout directory, an oci-archive, a docker-archive, or a
    /// registry reference (REGISTRY/REPOSITORY[:TAG|@DIGEST]).
    image: String,
    /// spdx (SPDX 2.3 JSON) or cyclonedx (CycloneDX 1.6 JSON).
    #[arg(long, value_enum, default_value_t = SbomFormat::Spdx)]
    format: SbomFormat,
    /// Of an index's images, this platform's (default: this machine's).
    #[arg(long)]
    platform: Option<String>,
    /// Speak plain HTTP to the registry (loopback only).
    #[arg(long)]
    insecure_registry: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum SbomFormat {
    Spdx,
    Cyclonedx,
}

#[derive(Args)]
struct LockArgs {
    /// The app directory (with requirements.txt or pyproject.toml).
    app: PathBuf,
    #[command(flatten)]
    base: BaseArgs,
    #[command(flatten)]
    index: IndexArgs,
    /// Allow pre-releases.
    #[arg(long)]
    pre: bool,
    /// Do not resolve: fail unless pylock.toml is up to date with the requirements.
    #[arg(long)]
    locked: bool,
    /// Include this optional-dependencies group of pyproject.toml (repeatable).
    #[arg(long, value_name = "GROUP")]
    extra: Vec<String>,
    /// Include this dependency group: PEP 735 [dependency-groups], a Poetry
    /// group, or a Pipfile's dev-packages (`dev`) (repeatable).
    #[arg(long, value_name = "NAME")]
    group: Vec<String>,
    /// As for build: lock this production server too; `none`: no server is
    /// added when the app has none.
    #[arg(long, value_name = "NAME")]
    server: Option<String>,
}

#[derive(Args)]
struct IndexArgs {
    /// Package index (simple API) URL; default from PIP_INDEX_URL, pip.conf, uv.toml.
    #[arg(long, short = 'i', value_name = "URL")]
    index_url: Option<String>,
    /// Additional package index URL.
    #[arg(long, value_name = "URL")]
    extra_index_url: Vec<String>,
    /// Directory or HTML page of wheels to use besides the indexes.
    #[arg(long, short = 'f', value_name = "PATH|URL")]
    find_links: Vec<String>,
    /// Use no index, only --find-links.
    #[arg(long)]
    no_index: bool,
    /// Never build these packages from source (names, :all: or :none:, comma-separated).
    #[arg(long, value_name = "NAMES")]
    only_binary: Vec<String>,
    /// Build these packages from source even when a wheel fits (names, :all: or :none:).
    #[arg(long, value_name = "NAMES")]
    no_binary: Vec<String>,
}

impl IndexArgs {
    /// When nothing here or in pip's environment names an index, the host's
    /// tools will be asked for their default: start that now, while the
    /// base is checked.
    fn ask_default_early(&self, cache: &Cache) {
        let named = self.index_url.is_some()
            || self.no_index
            || [
                "PIP_INDEX_URL",
                "PIP_NO_INDEX",
                "UV_INDEX_URL",
                "UV_DEFAULT_INDEX",
            ]
            .iter()
            .any(|v| std::env::var_os(v).is_some());
        if !named {
            pypack::index::default_index::ask_early(cache.clone());
        }
    }

    fn settings(&self) -> IndexSettings {
        let list = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        IndexSettings {
            index_url: self.index_url.clone(),
            extra_index_urls: list(&self.extra_index_url),
            find_links: list(&self.find_links),
            no_index: self.no_index.then_some(true),
        }
    }

    /// `--no-binary`, then `--only-binary` (which so wins for a name in both).
    fn binary(&self) -> Result<pypack::resolve::BinaryPolicy> {
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

#[derive(Subcommand)]
enum ConfigCommand {
    /// Set KEY to VALUE (keys: debian-mirror, debian-security-mirror, cache-dir, engine).
    Set { key: String, value: String },
    /// Print KEY's value.
    Get { key: String },
    /// Remove KEY.
    Unset { key: String },
    /// Print the file's path and every key with its value.
    List,
}

#[derive(Subcommand)]
enum BaseCommand {
    /// Build a base image from a recipe.
    Build(Box<BaseBuildArgs>),
    /// List the built-in recipes.
    List,
    /// List an image's Debian packages that have newer versions in its suites.
    Outdated(Box<rebase::OutdatedArgs>),
}

/// The registry cache a build shares its work through.
#[derive(Args)]
struct CacheSharing {
    /// Share this build's work through a registry: push what it used (base
    /// layers, resolution, wheels, venv) as a cache entry under
    /// REGISTRY/REPOSITORY:TAG (else $PYPACK_CACHE_TO).
    #[arg(long, value_name = "REF")]
    cache_to: Option<String>,
    /// Start from the cache entries under REGISTRY/REPOSITORY:TAG (else
    /// $PYPACK_CACHE_FROM): what they hold is fetched when needed, not made.
    #[arg(long, value_name = "REF")]
    cache_from: Option<String>,
}

#[derive(Subcommand)]
enum CacheCommand {
    /// Keep only the newest entries of a registry cache's index; the
    /// registry's garbage collection then reclaims what only the others held.
    Prune {
        /// The registry cache: REGISTRY/REPOSITORY:TAG, as given to --cache-to.
        #[arg(long, value_name = "REF")]
        registry: String,
        /// How many of the newest entries (builds) to keep.
        #[arg(long, value_name = "N", default_value_t = 10)]
        keep: usize,
        /// Speak plain HTTP to the registry (loopback only).
        #[arg(long)]
        insecure_registry: bool,
    },
}

#[derive(Args)]
struct BaseBuildArgs {
    #[command(flatten)]
    base: BaseArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// Also push the base to a registry: REGISTRY/REPOSITORY[:TAG].
    #[arg(long, value_name = "REF")]
    push: Option<String>,
    /// Speak plain HTTP to the --push registry (loopback only).
    #[arg(long)]
    insecure_registry: bool,
    #[command(flatten)]
    sharing: CacheSharing,
    /// Build the recipe's builder image (compiler and Python headers added) instead.
    #[arg(long)]
    builder: bool,
}

/// Which base to build or read the target from, and where its packages come from.
#[derive(Args)]
struct BaseArgs {
    /// Built-in recipe name (see `pypack base list`) or path of a recipe file
    /// [default: debian12, or what the app's Python version asks for].
    #[arg(long)]
    recipe: Option<String>,
    /// Python version of the image (3.11 → debian12, 3.13 → debian13, 3.14 → debian-forky).
    #[arg(long, conflicts_with = "recipe")]
    python: Option<String>,
    /// Target platform: linux/amd64 or linux/arm64; for `build`, also a
    /// comma-separated list of them, or `all` (every platform the base offers),
    /// which makes one image index.
    #[arg(long, default_value = "linux/amd64")]
    platform: String,
    /// Debian archive URL (default: from the host's apt sources).
    #[arg(long, value_name = "URL")]
    debian_mirror: Option<String>,
    /// Debian security archive URL (default: from the host's apt sources).
    #[arg(long, value_name = "URL")]
    debian_security_mirror: Option<String>,
    /// OpenPGP keyring (armored or binary) to trust instead of the recipe's shipped keys.
    #[arg(long, value_name = "PATH")]
    keyring: Vec<PathBuf>,
    /// Accept archive indexes whose signature does not verify (not recommended).
    #[arg(long)]
    insecure: bool,
    /// Fetch the archive indexes again even if a recent copy is cached.
    #[arg(long)]
    refresh: bool,
    /// Accept a suite index past its Valid-Until date (a snapshot archive or a stale
    /// mirror; apt's check-valid-until=no). Its signature is still checked.
    #[arg(long)]
    allow_expired_index: bool,
}

impl BaseArgs {
    fn platforms(&self) -> Result<PlatformChoice> {
        Platform::parse_choice(&self.platform)
    }

    /// The recipe named by --recipe/--python, else `debian12`.
    fn options(&self, quiet: bool) -> Result<(Recipe, BaseOptions)> {
        let name = match (&self.recipe, &self.python) {
            (Some(r), _) => r.clone(),
            (None, Some(v)) => {
                let overrides = Overrides {
                    python: Some(v.clone()),
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

    fn options_for(&self, recipe: &str, quiet: bool) -> Result<(Recipe, BaseOptions)> {
        let recipe = Recipe::load(recipe)?;
        let config = UserConfig::from_host()?;
        // Flag, then environment, then the user's config file; else the host's apt sources.
        let setting = |flag: &Option<String>, var: &str, key: &str| {
            flag.clone()
                .or_else(|| std::env::var(var).ok().filter(|v| !v.trim().is_empty()))
                .or_else(|| config.get(key).map(str::to_string))
        };
        let options = BaseOptions {
            platform: match self.platforms()? {
                PlatformChoice::List(list) => list[0],
                PlatformChoice::All => Platform::host(),
            },
            debian_mirror: setting(&self.debian_mirror, "PYPACK_DEBIAN_MIRROR", "debian-mirror"),
            debian_security_mirror: setting(
                &self.debian_security_mirror,
                "PYPACK_DEBIAN_SECURITY_MIRROR",
                "debian-security-mirror",
            ),
            keyrings: self.keyring.clone(),
            insecure: self.insecure,
            allow_expired: self.allow_expired_index,
            refresh: self.refresh,
            epoch: oci::source_date_epoch()?,
            verbose: !quiet,
            host_root: base::host_root().to_path_buf(),
        };
        Ok((recipe, options))
    }
}

#[derive(Args)]
struct OutputArgs {
    /// Write an OCI image layout directory.
    #[arg(long, value_name = "DIR", conflicts_with = "archive")]
    output: Option<PathBuf>,
    /// Write an image archive file (docker-archive by default).
    #[arg(long, value_name = "FILE")]
    archive: Option<PathBuf>,
    /// Format of --archive.
    #[arg(long, value_enum, default_value_t = ArchiveFormat::Docker, requires = "archive")]
    archive_format: ArchiveFormat,
    /// Image name and tag, NAME[:TAG].
    #[arg(long, short)]
    tag: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ArchiveFormat {
    Docker,
    Oci,
}

impl OutputArgs {
    fn resolve(&self, default_dir: PathBuf) -> Output {
        match (&self.output, &self.archive) {
            (Some(dir), _) => Output::Layout(dir.clone()),
            (None, Some(file)) => match self.archive_format {
                ArchiveFormat::Docker => Output::DockerArchive(file.clone()),
                ArchiveFormat::Oci => Output::OciArchive(file.clone()),
            },
            (None, None) => Output::Layout(default_dir),
        }
    }
}

impl Cli {
    /// `--cache-dir`, else `$PYPACK_CACHE_DIR`, else the config file's
    /// `cache-dir`, else the platform's cache directory.
    fn cache(&self) -> Result<Cache> {
        if self.cache_dir.is_some()
            || std::env::var_os("PYPACK_CACHE_DIR").is_some_and(|v| !v.is_empty())
        {
            return Cache::open(self.cache_dir.as_deref());
        }
        let config = UserConfig::from_host()?;
        Cache::open(config.get("cache-dir").map(std::path::Path::new))
    }
}

/// `--engine`, else the config file's `engine` (else pypack detects one).
fn engine_choice(flag: &Option<String>) -> Result<Option<String>> {
    if flag.is_some() {
        return Ok(flag.clone());
    }
    Ok(UserConfig::from_host()?.get("engine").map(str::to_string))
}

pub fn run() -> Result<()> {
    let cli = Cli::parse();
    match &cli.command {
        Command::Base(BaseCommand::List) => {
            for (name, _) in base::recipe::BUILTIN_RECIPES {
                let recipe = Recipe::load(name)?;
                println!(
                    "{name}\tPython {}\t{} ({}){}",
                    recipe.python.version,
                    recipe.description,
                    recipe.architectures.join(", "),
                    if recipe.testing {
                        "\tTESTING: Debian's testing suite, which changes daily"
                    } else {
                        ""
                    }
                );
            }
            Ok(())
        }
        Command::Base(BaseCommand::Build(args)) => base_build(&cli, args),
        Command::Lock(args) => lock(&cli, args),
        Command::Build(args) => build(&cli, args),
        Command::Run(args) => run::run(&cli, args),
        Command::Config(command) => config(command),
        Command::Inspect { image, json } => inspect(image, *json),
        Command::Cache(CacheCommand::Prune {
            registry,
            keep,
            insecure_registry,
        }) => prune_registry_cache(registry, *keep, *insecure_registry),
        Command::Sbom(args) => sbom(&cli, args),
        Command::Rebase(args) => rebase::rebase(&cli, args),
        Command::Base(BaseCommand::Outdated(args)) => rebase::outdated(&cli, args),
    }
}

fn config(command: &ConfigCommand) -> Result<()> {
    let mut config = UserConfig::from_host()?;
    if config.path.as_os_str().is_empty() {
        bail!("cannot find the config directory: set XDG_CONFIG_HOME or HOME");
    }
    match command {
        ConfigCommand::Set { key, value } => {
            config.set(key, value)?;
            println!("{key} = {value} (in {})", config.path.display());
        }
        ConfigCommand::Get { key } => match config.get(key) {
            Some(value) => println!("{value}"),
            None => pypack::config::known(key)?, // known but not set: nothing to print
        },
        ConfigCommand::Unset { key } => {
            if config.unset(key)? {
                println!("removed {key} from {}", config.path.display());
            } else {
                println!("{key} was not set in {}", config.path.display());
            }
        }
        ConfigCommand::List => {
            println!("# {}", config.path.display());
            for (key, about) in pypack::config::KEYS {
                match config.get(key) {
                    Some(value) => println!("{key} = {value}"),
                    None => println!("# {key}: not set ({about})"),
                }
            }
        }
    }
    Ok(())
}

fn lock(cli: &Cli, args: &LockArgs) -> Result<()> {
    let overrides = Overrides {
        python: args.base.python.clone(),
        recipe: args.base.recipe.clone(),
        ..Overrides::default()
    };
    let env = |name: &str| std::env::var(name).ok();
    let mut parsed = pypack::project::read_requirements(&args.app, &args.extra, &args.group, &env)?;
    pypack::build::add_server(&mut parsed.0, args.server.as_deref())?;
    let mut plan = pypack::project::plan::plan(&args.app, &overrides)?;
    for warning in plan.warnings.iter().filter(|w| w.contains("Python")) {
        eprintln!("warning: {warning}");
    }
    if let Some(better) = pypack::project::python_version::base_keeping(
        &plan.recipe,
        &parsed.0.requirements,
        plan.pyproject.requires_python.as_deref(),
    ) {
        plan.recipe = better;
    }
    args.base
        .platforms()?
        .single("`pypack lock` (pylock.toml is for one platform)")?;
    let (recipe, options) = args.base.options_for(&plan.recipe.value, cli.quiet)?;
    let cache = cli.cache()?;
    args.index.ask_default_early(&cache);
    let http = Http::new()?;
    let target = base::build(&recipe, &options, &cache, &http)?.target()?;
    let request = LockRequest {
        app_dir: &args.app,
        target,
        flags: args.index.settings(),
        pre: args.pre,
        extras: args.extra.clone(),
        groups: args.group.clone(),
        env: &env,
        home: std::env::var_os("HOME").map(PathBuf::from),
        binary: args.index.binary()?,
        sdists: None,
        parsed: parsed.into(),
        cache: Some(&cache),
        relock: false,
        added: args
            .server
            .clone()
            .into_iter()
            .filter(|s| s != "none")
            .collect(),
    };
    // An sdist whose metadata is not static has to be built to be locked.
    let engine = pypack::builder::Engine::detect(engine_choice(&None)?.as_deref())?;
    let epoch = options.epoch;
    let sources = pypack::builder::sdist::SourceBuilder::with_build_packages(
        engine.as_ref(),
        &cache,
        &request,
        pypack::builder::sdist::BuilderImage::Recipe(Box::new(recipe), Box::new(options)),
        epoch,
        !cli.quiet,
        plan.build_packages().to_vec(),
    )?;
    let mut request = LockRequest {
        sdists: Some(&sources),
        ..request
    };
    // A setup.py that computes its requirements: from its built metadata.
    let parsed = std::mem::take(&mut request.parsed)
        .into_inner()
        .expect("set above");
    let parsed = (
        pypack::build::local::as_sdists(
            pypack::build::project::with_built_requirements(parsed.0, &plan, &sources, &cache)?,
            &cache,
        )?,
        parsed.1,
    );
    let dependencies = pypack::build::dependency_names(&parsed.0);
    request.parsed = parsed.into();
    if args.locked {
        if !app::check(&request)? {
            bail!(
                "{} is missing or stale for the current requirements; run `pypack lock {}`",
                args.app.join("pylock.toml").display(),
                args.app.display()
            );
        }
        println!("{} is up to date", args.app.join("pylock.toml").display());
        return Ok(());
    }
    // The production server a build would add is locked too.
    let with_server = |pins: &[pypack::resolve::Pin]| -> Result<Vec<pypack::resolve::Pin>> {
        let stage = pypack::build::start::StartStage {
            plan: &plan,
            dependencies: &dependencies,
            may_add_server: args.server.as_deref() != Some("none"),
            no_server_because: None,
            as_root: false,
            lock_request: &request,
            cache: &cache,
        };
        // An app whose start is not found (a library, say) is locked as it is.
        match pypack::build::start::decide(&stage, pins.to_vec()) {
            Ok(decision) => {
                if let Some(added) = &decision.added {
                    eprintln!(
                        "server:   {} {} (added: {})",
                        added.name, added.version, added.why
                    );
                }
                Ok(decision.pins)
            }
            Err(_) => Ok(pins.to_vec()),
        }
    };
    let locked = app::lock_app(&request, &cache, &with_server)?;
    for (name, version) in &locked.packages {
        println!("{name}=={version}");
    }
    println!(
        "{} {} ({} packages for {})",
        if locked.up_to_date {
            "unchanged:"
        } else {
            "wrote"
        },
        locked.path.display(),
        locked.packages.len(),
        request.target
    );
    Ok(())
}

fn base_build(cli: &Cli, args: &BaseBuildArgs) -> Result<()> {
    args.base.platforms()?.single("`pypack base build`")?;
    let (recipe, options) = args.base.options(cli.quiet)?;
    let recipe = if args.builder {
        recipe.builder_recipe()?
    } else {
        recipe
    };
    let platform = options.platform;
    let default_dir =
        PathBuf::from("dist").join(format!("base-{}-{}", recipe.name, platform.oci_arch()));
    let output = args.output.resolve(default_dir);
    if args.output.output.is_none() && args.output.archive.is_none() {
        std::fs::create_dir_all("dist")?;
    }
    output.check_destination()?;
    if let Some(tag) = &args.output.tag {
        check_tag(tag)?;
    }
    let (cache, cache_to) = shared_cache(
        cli.cache()?,
        &args.sharing,
        args.insecure_registry,
        cli.quiet,
    )?;
    let http = Http::new()?;
    let push = args
        .push
        .as_deref()
        .map(pypack::registry::Reference::parse)
        .transpose()?;
    let built = base::build(&recipe, &options, &cache, &http)?;
    if let Some(to) = &cache_to {
        share_cache(&cache, to, cli.quiet);
    }
    oci::write_output(&cache, &built.image, &output, args.output.tag.as_deref())?;
    if let Some(reference) = &push {
        let pushed = push_image(
            &cache,
            &built.image,
            reference,
            args.insecure_registry,
            None,
        )?;
        println!(
            "pushed {reference}@{} ({} blobs uploaded, {} already there)",
            pushed.digest, pushed.uploaded, pushed.skipped
        );
    }
    println!(
        "base {} for {}: {} ({:.1} MB uncompressed, {:.1} MB compressed, {} packages, {} downloads) → {}",
        recipe.name,
        platform,
        built.image.manifest_digest,
        built.uncompressed_size as f64 / 1e6,
        built.image.compressed_size() as f64 / 1e6,
        built.packages.len(),
        built.downloads,
        output.describe()
    );
    Ok(())
}

fn check_tag(tag: &str) -> Result<()> {
    let ok = !tag.is_empty()
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c))
        && !tag.starts_with(['-', '.', '/', ':'])
        && tag.chars().any(|c| c.is_ascii_alphanumeric());
    if !ok || tag.chars().any(|c| c.is_ascii_uppercase()) {
        bail!("'{tag}' is not a valid image name: use lower-case NAME[:TAG], e.g. myapp:1.0");
    }
    Ok(())
}

fn build(cli: &Cli, args: &BuildArgs) -> Result<()> {
    match args.base.platforms()? {
        PlatformChoice::List(list) if list.len() == 1 => build_image(cli, args, false).map(|_| ()),
        choice => build_index(cli, args, &choice),
    }
}

/// What every build starts from, checked before any work.
struct BuildStart {
    base_options: BaseOptions,
    /// The image's name: `-t`, else the app directory's.
    tag: String,
    push: Option<pypack::registry::Reference>,
    /// `--engine`, else the config file's.
    engine: Option<String>,
}

fn build_start(cli: &Cli, args: &BuildArgs) -> Result<BuildStart> {
    let (_, base_options) = args.base.options_for("debian12", cli.quiet || args.json)?;
    let tag = args
        .output
        .tag
        .clone()
        .unwrap_or_else(|| image_name(&app_dir_name(&args.app)));
    check_tag(&tag)?;
    let push = args
        .push
        .as_deref()
        .map(pypack::registry::Reference::parse)
        .transpose()?;
    Ok(BuildStart {
        base_options,
        tag,
        push,
        engine: engine_choice(&args.engine)?,
    })
}

/// An image built as `build` does, its name, and its destination said;
/// `load` makes the engine the destination whatever the flags say.
fn build_image(cli: &Cli, args: &BuildArgs, load: bool) -> Result<Built> {
    let BuildStart {
        base_options,
        tag,
        push,
        engine,
    } = build_start(cli, args)?;
    let destination = match load {
        true => match Engine::detect(engine.as_deref())? {
            Some(found) => Destination::Load(found),
            None => bail!(
                "{} is not installed (or not running): `pypack run` starts the image in it; install podman",
                engine.as_deref().unwrap_or("podman or docker")
            ),
        },
        false => build_destination(args, engine.as_deref(), &tag)?,
    };
    if let Destination::Write(output) = &destination {
        output.check_destination()?;
    }
    let (cache, cache_to) = build_cache(cli, args)?;
    let env = |name: &str| std::env::var(name).ok();
    let request = build_request(args, base_options, engine.clone(), &env)?;
    let mut report = pypack::build::build(&request, &cache)?;
    if let Some(to) = &cache_to {
        share_cache(&cache, to, cli.quiet || args.json);
    }
    let loaded_into = match &destination {
        Destination::Load(engine) => Some(engine.clone()),
        _ => None,
    };
    let went = match &destination {
        Destination::Write(output) => {
            let debug = debug_name(&tag);
            let mut items = vec![(oci::layout::Named::Image(&report.image), Some(tag.as_str()))];
            if let Some(image) = &report.debug {
                items.push((oci::layout::Named::Image(image), Some(debug.as_str())));
            }
            oci::layout::write_named(&cache, &items, output)?;
            output.describe()
        }
        Destination::Load(engine) => {
            load_into(engine, &cache, &mut report, &tag)?;
            format!(
                "loaded into {} as {}",
                engine.program,
                oci::layout::full_tag(&tag)
            )
        }
        Destination::PushOnly => String::new(),
    };
    if let Some(dir) = &args.sbom {
        write_sbom(dir, short_name(&tag), &report.sbom)?;
    }
    pypack::mark("image at its destination");
    let went = match &push {
        Some(reference) => {
            // Blobs of a base pulled from the same registry can be mounted, not uploaded.
            let mount_from = args
                .base_image
                .as_deref()
                .and_then(|b| pypack::registry::Reference::parse(b).ok())
                .filter(|b| {
                    b.registry == reference.registry && b.repository != reference.repository
                })
                .map(|b| b.repository);
            let pushed = push_image(
                &cache,
                &report.image,
                reference,
                args.insecure_registry,
                mount_from.as_deref(),
            )?;
            push_sbom(&cache, &[&report], reference, args.insecure_registry)?;
            if let Some(image) = &report.debug {
                push_image(
                    &cache,
                    image,
                    &debug_reference(reference),
                    args.insecure_registry,
                    mount_from.as_deref(),
                )?;
            }
            let also = if went.is_empty() {
                String::new()
            } else {
                format!("{went}; ")
            };
            format!(
                "{also}pushed {reference}@{} ({} blobs uploaded, {} already there)",
                pushed.digest, pushed.uploaded, pushed.skipped
            )
        }
        None => went,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json_summary(&report, &tag, &went))?
        );
        return Ok(Built {
            report,
            tag,
            engine: loaded_into,
        });
    }
    let (plan, start) = (&report.plan, &report.start);
    if !cli.quiet {
        eprintln!("base:     {} ({})", plan.recipe.value, plan.recipe.rule);
        eprintln!(
            "command:  {} ({})",
            start.cmd.value.join(" "),
            start.cmd.rule
        );
        eprintln!("port:     {} ({})", start.port.value, start.port.rule);
        if let Some(added) = &report.added_server {
            eprintln!(
                "server:   {} {} (added: {})",
                added.name, added.version, added.why
            );
        }
        for dir in &start.writable {
            eprintln!(
                "writable: {} ({}; owned by 65532)",
                writable_path(&dir.value),
                dir.rule
            );
        }
        if let Some(why) = &plan.app_wheel {
            eprintln!("project:  built into a wheel in the builder ({why})");
        }
        let source = pin_source(report.pin_source);
        eprintln!("packages: {} ({source})", report.pins.len());
        for added in &report.system_packages {
            eprintln!("system:   {} {} ({})", added.name, added.version, added.why);
        }
        match &report.smoke {
            Some(pypack::builder::smoke::Outcome::Passed(observed)) => {
                eprintln!("smoke:    passed ({})", observed.what)
            }
            Some(pypack::builder::smoke::Outcome::Cached(observed)) => {
                eprintln!(
                    "smoke:    passed (before, for this same image: {})",
                    observed.what
                )
            }
            None => {}
        }
        for layer in &report.layers {
            let state = if layer.reused { "reused" } else { "built" };
            eprintln!(
                "layer:    {} {:.1} MB ({state}: {})",
                &layer.blob.digest[..19],
                layer.blob.uncompressed_size as f64 / 1e6,
                layer.what
            );
        }
    }
    println!(
        "{} {} {:.1} MB → {went}",
        oci::layout::full_tag(&tag),
        report.image.manifest_digest,
        report.uncompressed_size() as f64 / 1e6
    );
    if let Some(debug) = &report.debug {
        println!(
            "{} {} (with busybox)",
            debug_name(&tag),
            debug.manifest_digest
        );
    }
    Ok(Built {
        report,
        tag,
        engine: loaded_into,
    })
}

/// What `build` asks of the library, from its flags.
fn build_request<'a>(
    args: &'a BuildArgs,
    base_options: BaseOptions,
    engine: Option<String>,
    env: &'a dyn Fn(&str) -> Option<String>,
) -> Result<pypack::build::BuildRequest<'a>> {
    Ok(pypack::build::BuildRequest {
        host_smoke: None,
        app_dir: &args.app,
        overrides: Overrides {
            python: args.base.python.clone(),
            recipe: args.base.recipe.clone(),
            cmd: args.cmd.clone(),
            port: args.port.clone(),
        },
        base: base_options,
        index: args.index.settings(),
        pre: args.pre,
        extras: args.extra.clone(),
        groups: args.group.clone(),
        locked: args.locked,
        relock: args.relock,
        server: args.server.clone(),
        as_root: args.root,
        base_image: args
            .base_image
            .as_deref()
            .map(|r| {
                pypack::registry::RegistriesConf::from_host()
                    .resolve(r)
                    .map(|r| (r, args.insecure_registry))
            })
            .transpose()?,
        env,
        home: std::env::var_os("HOME").map(PathBuf::from),
        steps: pypack::build::BuilderSteps {
            compile: !args.no_compile,
            smoke: match (args.smoke, args.no_smoke) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            engine,
            binary: args.index.binary()?,
            builder_image: args
                .builder_image
                .as_deref()
                .map(|r| pypack::registry::RegistriesConf::from_host().resolve(r))
                .transpose()?,
            smoke_env: args.smoke_env.clone(),
        },
        ignore_missing_libraries: args.ignore_missing_library.clone(),
        debug: args.debug,
        plan_warnings: true,
        host_steps: None,
    })
}

/// `build` for several platforms: one image each, in one index.
fn build_index(cli: &Cli, args: &BuildArgs, choice: &PlatformChoice) -> Result<()> {
    let BuildStart {
        base_options,
        tag,
        push,
        engine,
    } = build_start(cli, args)?;
    // Several images go where all of them can: an engine takes only this
    // machine's, so without --output/--archive/--push they go to ./dist.
    let destination = match args.load {
        true => match Engine::detect(engine.as_deref())? {
            Some(found) => Destination::Load(found),
            None => bail!(
                "--load needs {} installed (and running)",
                engine.as_deref().unwrap_or("podman or docker")
            ),
        },
        false => index_destination(args, &tag)?,
    };
    if let Destination::Write(output) = &destination {
        output.check_destination()?;
        if let Output::DockerArchive(path) = output {
            bail!(
                "{}: a docker-archive holds one image and --platform {} makes several; \
                 write an OCI layout (--output DIR) or an oci-archive (--archive-format oci)",
                path.display(),
                args.base.platform
            );
        }
    }
    let (cache, cache_to) = build_cache(cli, args)?;
    let env = |name: &str| std::env::var(name).ok();
    let request = build_request(args, base_options, engine, &env)?;
    let mut reports = pypack::build::build_platforms(&request, choice, &cache)?;
    if let Some(to) = &cache_to {
        share_cache(&cache, to, cli.quiet || args.json);
    }
    let host = Platform::host();
    if let Destination::Load(_) = &destination
        && !reports.iter().any(|r| r.image.platform == host)
    {
        bail!(
            "--load loads this machine's image ({host}), which --platform {} does not build; write them with --output DIR or --push REF",
            args.base.platform
        );
    }
    let index =
        pypack::oci::assemble_index(&cache, reports.iter().map(|r| r.image.clone()).collect())?;
    let debug_index = match args.debug {
        true => Some(pypack::oci::assemble_index(
            &cache,
            reports.iter().filter_map(|r| r.debug.clone()).collect(),
        )?),
        false => None,
    };
    let debug = debug_name(&tag);
    let mut went = Vec::new();
    match &destination {
        Destination::Write(output) => {
            let mut items = vec![(oci::layout::Named::Index(&index), Some(tag.as_str()))];
            if let Some(debug_index) = &debug_index {
                items.push((oci::layout::Named::Index(debug_index), Some(debug.as_str())));
            }
            oci::layout::write_named(&cache, &items, output)?;
            went.push(output.describe());
        }
        Destination::Load(engine) => {
            let report = reports
                .iter_mut()
                .find(|r| r.image.platform == host)
                .expect("checked above");
            load_into(engine, &cache, report, &tag)?;
            went.push(format!(
                "the {host} image loaded into {} as {} (an engine holds one platform)",
                engine.program,
                oci::layout::full_tag(&tag)
            ));
        }
        Destination::PushOnly => {}
    }
    if let Some(reference) = &push {
        let credentials =
            pypack::registry::CredentialSources::from_host().lookup(&reference.registry)?;
        let registry =
            pypack::registry::Registry::connect(reference, args.insecure_registry, credentials)?;
        let pushed = registry.push_index(&cache, &index, None)?;
        if let Some(debug_index) = &debug_index {
            let debug_ref = debug_reference(reference);
            let credentials =
                pypack::registry::CredentialSources::from_host().lookup(&debug_ref.registry)?;
            pypack::registry::Registry::connect(&debug_ref, args.insecure_registry, credentials)?
                .push_index(&cache, debug_index, None)?;
        }
        push_sbom(
            &cache,
            &reports.iter().collect::<Vec<_>>(),
            reference,
            args.insecure_registry,
        )?;
        went.push(format!(
            "pushed {reference}@{} ({} blobs uploaded, {} already there)",
            pushed.digest, pushed.uploaded, pushed.skipped
        ));
    }
    if let Some(dir) = &args.sbom {
        for report in &reports {
            let name = format!("{}-{}", short_name(&tag), report.image.platform.oci_arch());
            write_sbom(dir, &name, &report.sbom)?;
        }
    }
    let went = went.join("; ");
    if args.json {
        let summary = serde_json::json!({
            "image": oci::layout::full_tag(&tag),
            "digest": index.digest,
            "destination": went,
            "platforms": reports.iter().map(|r| json_summary(r, &tag, &went)).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    if !cli.quiet {
        for report in &reports {
            eprintln!(
                "{}: {} {:.1} MB, {} packages, smoke: {}",
                report.image.platform,
                report.image.manifest_digest,
                report.uncompressed_size() as f64 / 1e6,
                report.pins.len(),
                match &report.smoke {
                    Some(_) => "passed",
                    None if report.image.platform == host => "not run",
                    None => "not run (only this machine's platform is run)",
                },
            );
        }
    }
    println!(
        "{} {} ({} platforms) → {went}",
        oci::layout::full_tag(&tag),
        index.digest,
        reports.len()
    );
    if let Some(debug_index) = &debug_index {
        println!("{debug} {} (with busybox)", debug_index.digest);
    }
    Ok(())
}

/// --output / --archive, else with --push nothing more, else a layout under ./dist/.
fn index_destination(args: &BuildArgs, tag: &str) -> Result<Destination> {
    if args.output.output.is_some() || args.output.archive.is_some() {
        return Ok(Destination::Write(args.output.resolve(PathBuf::new())));
    }
    if args.push.is_some() {
        return Ok(Destination::PushOnly);
    }
    std::fs::create_dir_all("dist")?;
    Ok(Destination::Write(Output::Layout(
        PathBuf::from("dist").join(short_name(tag)),
    )))
}

/// `registry/team/app:1` → `app`.
fn short_name(tag: &str) -> &str {
    let last = tag.rsplit('/').next().unwrap_or(tag);
    last.split(':').next().unwrap_or(last)
}

/// The app directory's own name, lower case (`app` when it has none).
fn app_dir_name(app: &std::path::Path) -> String {
    app.canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_lowercase()))
        .unwrap_or_else(|| "app".into())
}

/// Puts the image (and its debug variant) into `engine` as `tag`.
fn load_into(
    engine: &Engine,
    cache: &Cache,
    report: &mut pypack::build::BuildReport,
    tag: &str,
) -> Result<()> {
    // The smoke run left the image in the engine: it only needs its name.
    match report.held.take() {
        Some(h) if h.engine() == engine => {
            engine.tag(&report.image.config_digest, &oci::layout::full_tag(tag))?;
            h.release_in_background();
        }
        _ => engine.load(cache, &report.image, tag)?,
    }
    if let Some(image) = &report.debug {
        engine.load(cache, image, &debug_name(tag))?;
    }
    Ok(())
}

/// `name[:tag]` → `name:tag-debug`: the debug variant's name.
fn debug_name(tag: &str) -> String {
    format!("{}-debug", oci::layout::full_tag(tag))
}

/// The reference the debug variant is pushed to: the tag with `-debug`.
fn debug_reference(reference: &pypack::registry::Reference) -> pypack::registry::Reference {
    pypack::registry::Reference {
        tag: Some(format!(
            "{}-debug",
            reference.tag.as_deref().unwrap_or("latest")
        )),
        digest: None,
        ..reference.clone()
    }
}

/// `DIR/NAME.spdx.json` and `DIR/NAME.cdx.json`.
fn write_sbom(dir: &std::path::Path, name: &str, sbom: &pypack::build::Sbom) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating --sbom {}", dir.display()))?;
    for (suffix, data) in [("spdx.json", &sbom.spdx), ("cdx.json", &sbom.cyclonedx)] {
        let path = dir.join(format!("{name}.{suffix}"));
        // Written beside and renamed: never half a document.
        let tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::fs::write(tmp.path(), data)?;
        std::fs::set_permissions(
            tmp.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )?;
        tmp.persist(&path)
            .map_err(|e| e.error)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Each image's bill of materials, pushed as two artifacts referring to it.
fn push_sbom(
    cache: &Cache,
    reports: &[&pypack::build::BuildReport],
    reference: &pypack::registry::Reference,
    plain_http: bool,
) -> Result<()> {
    for report in reports {
        push_sbom_of(cache, &report.image, &report.sbom, reference, plain_http)?;
    }
    Ok(())
}

/// `sbom`'s two documents, pushed as artifacts referring to `image`.
fn push_sbom_of(
    cache: &Cache,
    image: &pypack::oci::Image,
    sbom: &pypack::sbom::Sbom,
    reference: &pypack::registry::Reference,
    plain_http: bool,
) -> Result<()> {
    let credentials =
        pypack::registry::CredentialSources::from_host().lookup(&reference.registry)?;
    let registry = pypack::registry::Registry::connect(reference, plain_http, credentials)?;
    for (media_type, data) in [
        (pypack::sbom::SPDX_MEDIA_TYPE, &sbom.spdx),
        (pypack::sbom::CYCLONEDX_MEDIA_TYPE, &sbom.cyclonedx),
    ] {
        registry
            .push_referrer(cache, image, media_type, data, &sbom.created)
            .with_context(|| format!("pushing the bill of materials of {reference}"))?;
    }
    Ok(())
}

/// `pypack sbom IMAGE`: the document pypack put in the image.
fn sbom(cli: &Cli, args: &SbomArgs) -> Result<()> {
    let platform = match &args.platform {
        Some(p) => Platform::parse(p)?,
        None => Platform::host(),
    };
    let path = match args.format {
        SbomFormat::Spdx => pypack::sbom::SPDX_PATH,
        SbomFormat::Cyclonedx => pypack::sbom::CYCLONEDX_PATH,
    };
    let local = std::path::Path::new(&args.image);
    let data = if local.exists() {
        pypack::inspect::image_file(local, platform, path)?
    } else if args.image.contains('/') && !args.image.starts_with(['.', '/']) {
        let reference = pypack::registry::RegistriesConf::from_host().resolve(&args.image)?;
        let credentials =
            pypack::registry::CredentialSources::from_host().lookup(&reference.registry)?;
        let registry =
            pypack::registry::Registry::connect(&reference, args.insecure_registry, credentials)?;
        let cache = cli.cache()?;
        let image = registry
            .pull(&cache, platform)
            .with_context(|| format!("pulling {reference}"))?;
        pypack::inspect::cached_image_file(&cache, &image, path)?
    } else {
        bail!(
            "{} is neither an image layout or archive on this machine nor a registry reference",
            args.image
        );
    };
    let data = data.with_context(|| {
        format!("{} holds no /{path}: it was not built by pypack, or by a pypack without bills of materials", args.image)
    })?;
    use std::io::Write;
    std::io::stdout().write_all(&data)?;
    Ok(())
}

/// What `build_image` made.
struct Built {
    pub report: pypack::build::BuildReport,
    /// The image's name (as given or derived from the app directory).
    pub tag: String,
    /// The engine it was loaded into, when that was its destination.
    pub engine: Option<Engine>,
}

enum Destination {
    Write(Output),
    Load(Engine),
    PushOnly,
}

/// --output / --archive / --load; with none, load into an engine if one is
/// installed, else write a layout under ./dist/.
fn build_destination(args: &BuildArgs, engine: Option<&str>, tag: &str) -> Result<Destination> {
    if args.output.output.is_some() || args.output.archive.is_some() {
        return Ok(Destination::Write(args.output.resolve(PathBuf::new())));
    }
    if args.push.is_some() && !args.load {
        return Ok(Destination::PushOnly);
    }
    match Engine::detect(engine)? {
        Some(found) => Ok(Destination::Load(found)),
        None if args.load || engine.is_some() => bail!(
            "--load needs {} installed (and running); install it, or write with --output DIR / --archive FILE",
            engine.unwrap_or("podman or docker")
        ),
        None => {
            std::fs::create_dir_all("dist")?;
            Ok(Destination::Write(Output::Layout(
                PathBuf::from("dist").join(short_name(tag)),
            )))
        }
    }
}

/// A valid image name from a directory name: lower case, other characters → '-'.
fn image_name(dir: &str) -> String {
    let cleaned: String = dir
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string();
    if cleaned.is_empty() {
        "app".into()
    } else {
        cleaned
    }
}

/// Where the pins came from, as the output says it.
fn pin_source(source: app::PinSource) -> &'static str {
    match source {
        app::PinSource::LockFile => "pylock.toml",
        app::PinSource::Cached => "cached resolution",
        app::PinSource::Resolved => "resolved now",
        app::PinSource::ToolLock(file) => file,
    }
}

fn json_summary(report: &pypack::build::BuildReport, tag: &str, went: &str) -> serde_json::Value {
    let (plan, start) = (&report.plan, &report.start);
    serde_json::json!({
        "image": oci::layout::full_tag(tag),
        "digest": report.image.manifest_digest,
        "platform": report.image.platform.to_string(),
        "uncompressed_size": report.uncompressed_size(),
        "compressed_size": report.image.compressed_size(),
        "destination": went,
        "base": {"recipe": plan.recipe.value, "rule": plan.recipe.rule, "digest": report.base.image.manifest_digest},
        "command": {"argv": start.cmd.value, "rule": start.cmd.rule},
        "port": {"value": start.port.value, "rule": start.port.rule},
        "server_added": report.added_server.as_ref().map(|a| serde_json::json!({"name": a.name, "version": a.version, "why": a.why})),
        "writable": start.writable.iter().map(|d| serde_json::json!({"path": writable_path(&d.value), "rule": d.rule})).collect::<Vec<_>>(),
        "layers": report.layers.iter().map(|l| serde_json::json!({
            "digest": l.blob.digest, "size": l.blob.size, "uncompressed_size": l.blob.uncompressed_size,
            "what": l.what, "reused": l.reused,
        })).collect::<Vec<_>>(),
        "packages": report.pins.iter().map(|p| serde_json::json!({"name": p.name, "version": p.version.to_string()})).collect::<Vec<_>>(),
        "packages_from": pin_source(report.pin_source),
        "debug": report.debug.as_ref().map(|d| serde_json::json!({"image": debug_name(tag), "digest": d.manifest_digest})),
        "system_packages": report.system_packages.iter().map(|p| serde_json::json!({"name": p.name, "version": p.version, "why": p.why})).collect::<Vec<_>>(),
        "smoke": match &report.smoke {
            Some(pypack::builder::smoke::Outcome::Passed(o)) => serde_json::json!({"passed": true, "what": o.what, "port": o.port, "writes": o.writes}),
            Some(pypack::builder::smoke::Outcome::Cached(o)) => serde_json::json!({"passed": true, "what": format!("passed before for this image: {}", o.what), "port": o.port, "writes": o.writes}),
            None => serde_json::Value::Null,
        },
    })
}

/// A writable path as the image has it (`.` is /app itself).
fn writable_path(value: &str) -> String {
    match value {
        "." => "/app".into(),
        path => format!("/app/{path}"),
    }
}

fn inspect(image: &std::path::Path, json: bool) -> Result<()> {
    let i = pypack::inspect::inspect(image)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&i)?);
        return Ok(());
    }
    println!("image:    {}", image.display());
    if let Some(d) = &i.digest {
        println!("digest:   {d}");
    }
    println!("platform: {}", i.platform);
    println!("user:     {}", i.user.as_deref().unwrap_or("(root)"));
    println!("workdir:  {}", i.working_dir.as_deref().unwrap_or("/"));
    if !i.entrypoint.is_empty() {
        println!("entrypoint: {}", i.entrypoint.join(" "));
    }
    println!("cmd:      {}", i.cmd.join(" "));
    println!("ports:    {}", i.exposed_ports.join(", "));
    for e in &i.env {
        println!("env:      {e}");
    }
    for (k, v) in &i.labels {
        println!("label:    {k}={v}");
    }
    let total: u64 = i.layers.iter().map(|l| l.uncompressed_size).sum();
    println!(
        "layers:   {} ({:.1} MB uncompressed)",
        i.layers.len(),
        total as f64 / 1e6
    );
    for l in &i.layers {
        println!(
            "  {} {:>7.1} MB ({:.1} MB gzip)  {}",
            &l.digest[..19],
            l.uncompressed_size as f64 / 1e6,
            l.size as f64 / 1e6,
            l.created_by
        );
    }
    println!("OS packages ({}):", i.os_packages.len());
    for (n, v) in &i.os_packages {
        println!("  {n} {v}");
    }
    println!("Python packages ({}):", i.python_packages.len());
    for (n, v) in &i.python_packages {
        println!("  {n} {v}");
    }
    Ok(())
}

/// A build's cache (shared through a registry as its flags say), with the
/// default index asked for early.
fn build_cache(
    cli: &Cli,
    args: &BuildArgs,
) -> Result<(Cache, Option<pypack::registry_cache::RegistryCache>)> {
    let quiet = cli.quiet || args.json;
    let shared = shared_cache(cli.cache()?, &args.sharing, args.insecure_registry, quiet)?;
    args.index.ask_default_early(&shared.0);
    Ok(shared)
}

/// The build's cache, with the registry cache of `--cache-from` (else
/// `$PYPACK_CACHE_FROM`) behind it, traced when `--cache-to` (else
/// `$PYPACK_CACHE_TO`) is to get what it used. A registry cache that cannot
/// be read is a warning: the build does the work itself.
fn shared_cache(
    cache: Cache,
    sharing: &CacheSharing,
    insecure_registry: bool,
    quiet: bool,
) -> Result<(Cache, Option<pypack::registry_cache::RegistryCache>)> {
    let flag_or_env = |flag: &Option<String>, var: &str| {
        flag.clone()
            .or_else(|| std::env::var(var).ok().filter(|v| !v.trim().is_empty()))
    };
    let connect = |text: &str| -> Result<pypack::registry_cache::RegistryCache> {
        let reference = pypack::registry::Reference::parse(text)?;
        let credentials =
            pypack::registry::CredentialSources::from_host().lookup(&reference.registry)?;
        let registry =
            pypack::registry::Registry::connect(&reference, insecure_registry, credentials)?;
        Ok(pypack::registry_cache::RegistryCache::new(
            registry, reference,
        ))
    };
    let mut cache = cache;
    if let Some(from) = flag_or_env(&sharing.cache_from, "PYPACK_CACHE_FROM") {
        let remote = connect(&from)?;
        match remote.import(&cache) {
            Ok(entries) => {
                if !quiet {
                    eprintln!("cache:    {entries} entries from {from}");
                }
                cache = cache.with_remote(std::sync::Arc::new(remote));
            }
            Err(e) => eprintln!(
                "warning: cannot read the registry cache {from} ({e:#}); building without it"
            ),
        }
    }
    let to = match flag_or_env(&sharing.cache_to, "PYPACK_CACHE_TO") {
        Some(to) => {
            cache = cache.traced();
            Some(connect(&to)?)
        }
        None => None,
    };
    Ok((cache, to))
}

fn prune_registry_cache(text: &str, keep: usize, insecure: bool) -> Result<()> {
    let reference = pypack::registry::Reference::parse(text)?;
    let credentials =
        pypack::registry::CredentialSources::from_host().lookup(&reference.registry)?;
    let registry = pypack::registry::Registry::connect(&reference, insecure, credentials)?;
    let cache = pypack::registry_cache::RegistryCache::new(registry, reference);
    let (kept, removed) = cache.prune(keep)?;
    eprintln!("{text}: kept {kept} entries, removed {removed}");
    Ok(())
}

/// Pushes what the build used as a cache entry; a failure is a warning
/// (the image is built, only the sharing failed).
fn share_cache(cache: &Cache, to: &pypack::registry_cache::RegistryCache, quiet: bool) {
    let created = pypack::oci::image::rfc3339(pypack::unix_now());
    match to.export(cache, &cache.trace(), &created) {
        Ok(e) if !quiet => eprintln!(
            "cache:    pushed entry {} ({} refs, {} blobs of which {} uploaded) to {}",
            e.entry,
            e.refs,
            e.blobs,
            e.uploaded,
            to.reference()
        ),
        Ok(_) => {}
        Err(e) => eprintln!("warning: cannot push the build cache ({e:#}); the image is built"),
    }
}

fn push_image(
    cache: &Cache,
    image: &pypack::oci::Image,
    reference: &pypack::registry::Reference,
    plain_http: bool,
    mount_from: Option<&str>,
) -> Result<pypack::registry::PushReport> {
    let credentials =
        pypack::registry::CredentialSources::from_host().lookup(&reference.registry)?;
    let registry = pypack::registry::Registry::connect(reference, plain_http, credentials)?;
    registry.push_mounting(cache, image, mount_from)
}
