//! clap commands and flags, and turning them into library calls.

use anyhow::{Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use pypack::base::{self, BaseOptions, Recipe};
use pypack::cache::Cache;
use pypack::http::Http;
use pypack::oci::{self, Output};
use pypack::platform::Platform;
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
    /// Built-in recipe name (see `pypack base list`) or path of a recipe file.
    #[arg(long, default_value = "debian12")]
    recipe: String,
    /// Target platform.
    #[arg(long, default_value = "linux/amd64")]
    platform: String,
    #[command(flatten)]
    output: OutputArgs,
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
    }
}

fn base_build(cli: &Cli, args: &BaseBuildArgs) -> Result<()> {
    let platform = Platform::parse(&args.platform)?;
    let recipe = Recipe::load(&args.recipe)?;
    let default_dir =
        PathBuf::from("dist").join(format!("base-{}-{}", recipe.name, platform.oci_arch()));
    let output = args.output.resolve(default_dir);
    if matches!(output, Output::Layout(ref d) if d.starts_with("dist"))
        && args.output.output.is_none()
    {
        std::fs::create_dir_all("dist")?;
    }
    output.check_destination()?;
    if let Some(tag) = &args.output.tag {
        check_tag(tag)?;
    }
    let cache = Cache::open(cli.cache_dir.as_deref())?;
    let http = Http::new()?;
    let options = BaseOptions {
        platform,
        debian_mirror: args.debian_mirror.clone(),
        debian_security_mirror: args.debian_security_mirror.clone(),
        keyrings: args.keyring.clone(),
        insecure: args.insecure,
        refresh: args.refresh,
        epoch: oci::source_date_epoch()?,
        verbose: !cli.quiet,
        host_root: base::host_root().to_path_buf(),
    };
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
