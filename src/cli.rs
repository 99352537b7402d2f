//! clap commands and flags, and turning them into library calls.

use anyhow::{Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use pypack::base::{self, BaseOptions, Recipe};
use pypack::cache::Cache;
use pypack::http::Http;
use pypack::index::IndexSettings;
use pypack::oci::{self, Output};
use pypack::platform::Platform;
use pypack::resolve::app::{self, LockRequest};
use std::path::PathBuf;

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
}

impl IndexArgs {
    fn settings(&self) -> IndexSettings {
        let list = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        IndexSettings {
            index_url: self.index_url.clone(),
            extra_index_urls: list(&self.extra_index_url),
            find_links: list(&self.find_links),
            no_index: self.no_index.then_some(true),
        }
    }
}

#[derive(Subcommand)]
enum BaseCommand {
    /// Build a base image from a recipe.
    Build(Box<BaseBuildArgs>),
    /// List the built-in recipes.
    List,
}

#[derive(Args)]
struct BaseBuildArgs {
    #[command(flatten)]
    base: BaseArgs,
    #[command(flatten)]
    output: OutputArgs,
}

/// Which base to build or read the target from, and where its packages come from.
#[derive(Args)]
struct BaseArgs {
    /// Built-in recipe name (see `pypack base list`) or path of a recipe file.
    #[arg(long, default_value = "debian12")]
    recipe: String,
    /// Target platform.
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
}

impl BaseArgs {
    fn options(&self, quiet: bool) -> Result<(Recipe, BaseOptions)> {
        let recipe = Recipe::load(&self.recipe)?;
        let options = BaseOptions {
            platform: Platform::parse(&self.platform)?,
            debian_mirror: self.debian_mirror.clone(),
            debian_security_mirror: self.debian_security_mirror.clone(),
            keyrings: self.keyring.clone(),
            insecure: self.insecure,
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

pub fn run() -> Result<()> {
    let cli = Cli::parse();
    match &cli.command {
        Command::Base(BaseCommand::List) => {
            for (name, _) in base::recipe::BUILTIN_RECIPES {
                let recipe = Recipe::load(name)?;
                println!(
                    "{name}\t{} ({})",
                    recipe.description,
                    recipe.architectures.join(", ")
                );
            }
            Ok(())
        }
        Command::Base(BaseCommand::Build(args)) => base_build(&cli, args),
        Command::Lock(args) => lock(&cli, args),
    }
}

fn lock(cli: &Cli, args: &LockArgs) -> Result<()> {
    let (recipe, options) = args.base.options(cli.quiet)?;
    let cache = Cache::open(cli.cache_dir.as_deref())?;
    let http = Http::new()?;
    let target = base::build(&recipe, &options, &cache, &http)?.target()?;
    let env = |name: &str| std::env::var(name).ok();
    let request = LockRequest {
        app_dir: &args.app,
        target,
        flags: args.index.settings(),
        pre: args.pre,
        extras: args.extra.clone(),
        env: &env,
        home: std::env::var_os("HOME").map(PathBuf::from),
    };
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
    let locked = app::lock_app(&request, &cache)?;
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
    let (recipe, options) = args.base.options(cli.quiet)?;
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
    let cache = Cache::open(cli.cache_dir.as_deref())?;
    let http = Http::new()?;
    let built = base::build(&recipe, &options, &cache, &http)?;
    oci::write_output(&cache, &built.image, &output, args.output.tag.as_deref())?;
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
