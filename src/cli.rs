//! clap commands and flags, turned into library requests, and the
//! library's reports printed; the work is in the library.

use anyhow::Result;
use clap::{Args, Parser, Subcommand, ValueEnum};
use pypack::cache::Cache;
use pypack::config::UserConfig;
use std::path::PathBuf;

mod args;
mod base;
mod build;
mod lock;
mod rebase;
mod run;

#[derive(Parser)]
#[command(
    name = "pypack",
    version,
    about = "Python app directory → container image, no Dockerfile, no daemon"
)]
#[rustfmt::skip]
struct Cli {
    /// Cache directory (default: $PYPACK_CACHE_DIR, else the platform cache dir).
    #[arg(long, global = true, value_name = "DIR")] cache_dir: Option<PathBuf>,
    /// Print less.
    #[arg(long, short, global = true)] quiet: bool,
    #[command(subcommand)] command: Command,
}

#[derive(Subcommand)]
#[rustfmt::skip]
enum Command {
    /// Runtime base images built from Debian packages.
    #[command(subcommand)] Base(base::BaseCommand),
    /// Resolve an app's requirements for the image and write APP/pylock.toml.
    Lock(Box<lock::LockArgs>),
    /// Build an image of a Python app directory.
    Build(Box<build::BuildArgs>),
    /// Build (as `build` does, into the engine) and serve the app on localhost;
    /// with --watch, rebuild and restart on every change.
    Run(Box<run::RunArgs>),
    /// Machine-level defaults in the user's config file (Debian mirror, cache dir, engine).
    #[command(subcommand)] Config(ConfigCommand),
    /// Print the bill of materials pypack put in an image.
    Sbom(SbomArgs),
    /// Move a pypack image onto a newer base (a recipe's packages as the
    /// archive has them now, or a registry image) without rebuilding it.
    Rebase(Box<rebase::RebaseArgs>),
    /// The build cache shared through a registry (--cache-to / --cache-from).
    #[command(subcommand)] Cache(CacheCommand),
    /// Remove pypack's leftovers: replaced builds and helper images in the
    /// engine, cache entries and builder images unused for --days.
    Prune {
        /// Days unused before a builder image or an unpacked copy goes.
        #[arg(long, value_name = "N", default_value_t = 30)] days: u64,
        /// Say what would go; remove nothing.
        #[arg(long)] dry_run: bool,
    },
    /// Show the layers, config and packages of an image layout or archive.
    Inspect {
        /// An OCI layout directory, an oci-archive or a docker-archive.
        image: PathBuf,
        /// Print JSON.
        #[arg(long)] json: bool,
    },
}

#[derive(Args)]
#[rustfmt::skip]
struct SbomArgs {
    /// An OCI layout directory, an oci-archive, a docker-archive, or a
    /// registry reference (REGISTRY/REPOSITORY[:TAG|@DIGEST]).
    image: String,
    /// spdx (SPDX 2.3 JSON) or cyclonedx (CycloneDX 1.6 JSON).
    #[arg(long, value_enum, default_value_t = SbomFormat::Spdx)] format: SbomFormat,
    /// Of an index's images, this platform's (default: this machine's).
    #[arg(long)] platform: Option<String>,
    /// Speak plain HTTP to the registry (loopback only).
    #[arg(long)] insecure_registry: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum SbomFormat {
    Spdx,
    Cyclonedx,
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
#[rustfmt::skip]
enum CacheCommand {
    /// The local cache's size, by kind of entry.
    Info,
    /// Keep only the newest entries of a registry cache's index; the
    /// registry's garbage collection then reclaims what only the others held.
    Prune {
        /// The registry cache: REGISTRY/REPOSITORY:TAG, as given to --cache-to.
        #[arg(long, value_name = "REF")] registry: String,
        /// How many of the newest entries (builds) to keep.
        #[arg(long, value_name = "N", default_value_t = 10)] keep: usize,
        /// Speak plain HTTP to the registry (loopback only).
        #[arg(long)] insecure_registry: bool,
    },
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
        Command::Base(command) => base::base(&cli, command),
        Command::Lock(args) => lock::lock(&cli, args),
        Command::Build(args) => build::build(&cli, args),
        Command::Run(args) => run::run(&cli, args),
        Command::Config(command) => config(command),
        Command::Inspect { image, json } => inspect(image, *json),
        Command::Cache(CacheCommand::Prune {
            registry,
            keep,
            insecure_registry,
        }) => {
            let (kept, removed) =
                pypack::publish::prune_registry_cache(registry, *keep, *insecure_registry)?;
            eprintln!("{registry}: kept {kept} entries, removed {removed}");
            Ok(())
        }
        Command::Prune { days, dry_run } => prune(&cli, (*days, *dry_run)),
        Command::Cache(CacheCommand::Info) => print(pypack::tidy::cache_info(&cli.cache()?)),
        Command::Sbom(args) => sbom(&cli, args),
        Command::Rebase(args) => rebase::rebase(&cli, args),
    }
}

fn config(command: &ConfigCommand) -> Result<()> {
    use pypack::config::ConfigAction;
    let action = match command {
        ConfigCommand::Set { key, value } => ConfigAction::Set(key, value),
        ConfigCommand::Get { key } => ConfigAction::Get(key),
        ConfigCommand::Unset { key } => ConfigAction::Unset(key),
        ConfigCommand::List => ConfigAction::List,
    };
    print(pypack::config::apply(action)?)
}

fn print(lines: Vec<String>) -> Result<()> {
    lines.iter().for_each(|l| println!("{l}"));
    Ok(())
}

fn inspect(image: &std::path::Path, json: bool) -> Result<()> {
    let i = pypack::inspect::inspect(image)?;
    print(match json {
        true => vec![serde_json::to_string_pretty(&i)?],
        false => i.lines(image),
    })
}

/// `pypack prune`: what pypack left in the engine and the cache.
fn prune(cli: &Cli, (days, dry_run): (u64, bool)) -> Result<()> {
    let (engine, cache) = (engine_choice(&None)?, cli.cache()?);
    let done = pypack::tidy::prune(&cache, engine.as_deref(), days, dry_run)?;
    print(done)
}

/// `pypack sbom IMAGE`: the document pypack put in the image.
fn sbom(cli: &Cli, args: &SbomArgs) -> Result<()> {
    let path = match args.format {
        SbomFormat::Spdx => pypack::sbom::SPDX_PATH,
        SbomFormat::Cyclonedx => pypack::sbom::CYCLONEDX_PATH,
    };
    let (platform, insecure) = (args.platform.as_deref(), args.insecure_registry);
    let data =
        pypack::inspect::sbom_document(&args.image, path, platform, insecure, &|| cli.cache())?;
    std::io::Write::write_all(&mut std::io::stdout(), &data)?;
    Ok(())
}
