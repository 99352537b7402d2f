//! `pypack base build | list | outdated`.

use super::Cli;
use super::args::{BaseArgs, CacheSharing, OutputArgs};
use anyhow::Result;
use clap::{Args, Subcommand};
use pypack::base::{self, Recipe};
use pypack::http::Http;
use pypack::publish::{check_tag, push_image, share_cache};
use pypack::registry::Reference;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum BaseCommand {
    /// Build a base image from a recipe.
    Build(Box<BaseBuildArgs>),
    /// List the built-in recipes.
    List,
    /// List an image's Debian packages that have newer versions in its suites.
    Outdated(Box<super::rebase::OutdatedArgs>),
}

#[derive(Args)]
#[rustfmt::skip]
pub struct BaseBuildArgs {
    #[command(flatten)] base: BaseArgs,
    #[command(flatten)] output: OutputArgs,
    /// Also push the base to a registry: REGISTRY/REPOSITORY[:TAG].
    #[arg(long, value_name = "REF")] push: Option<String>,
    /// Speak plain HTTP to the --push registry (loopback only).
    #[arg(long)] insecure_registry: bool,
    #[command(flatten)] sharing: CacheSharing,
    /// Build the recipe's builder image (compiler and Python headers added) instead.
    #[arg(long)] builder: bool,
}

pub fn base(cli: &Cli, command: &BaseCommand) -> Result<()> {
    match command {
        BaseCommand::Build(args) => base_build(cli, args),
        BaseCommand::List => list(),
        BaseCommand::Outdated(args) => super::rebase::outdated(cli, args),
    }
}

fn list() -> Result<()> {
    for (name, _) in base::recipe::BUILTIN_RECIPES {
        let recipe = Recipe::load(name)?;
        let testing = match recipe.testing {
            true => "\tTESTING: Debian's testing suite, which changes daily",
            false => "",
        };
        let (python, about) = (&recipe.python.version, &recipe.description);
        let architectures = recipe.architectures.join(", ");
        println!("{name}\tPython {python}\t{about} ({architectures}){testing}");
    }
    Ok(())
}

fn base_build(cli: &Cli, args: &BaseBuildArgs) -> Result<()> {
    args.base.platforms()?.single("`pypack base build`")?;
    let (recipe, options) = args.base.options(cli.quiet)?;
    let recipe = match args.builder {
        true => recipe.builder_recipe()?,
        false => recipe,
    };
    let platform = options.platform;
    let output = match args.output.written() {
        Some(output) => output,
        None => {
            let name = format!("base-{}-{}", recipe.name, platform.oci_arch());
            std::fs::create_dir_all("dist")?;
            pypack::oci::Output::Layout(PathBuf::from("dist").join(name))
        }
    };
    output.check_destination()?;
    let tag = args.output.tag.as_deref();
    tag.map(check_tag).transpose()?;
    let plain_http = args.insecure_registry;
    let (cache, cache_to) = args.sharing.share(cli.cache()?, plain_http, cli.quiet)?;
    let http = Http::new()?;
    let push = args.push.as_deref().map(Reference::parse).transpose()?;
    let built = base::build(&recipe, &options, &cache, &http)?;
    if let Some(to) = &cache_to {
        share_cache(&cache, to, cli.quiet);
    }
    pypack::oci::write_output(&cache, &built.image, &output, tag)?;
    if let Some(reference) = &push {
        let pushed = push_image(&cache, &built.image, reference, plain_http, None)?;
        let (digest, uploaded, skipped) = (&pushed.digest, pushed.uploaded, pushed.skipped);
        println!(
            "pushed {reference}@{digest} ({uploaded} blobs uploaded, {skipped} already there)"
        );
    }
    let (image, mb) = (&built.image, |bytes: u64| bytes as f64 / 1e6);
    println!(
        "base {} for {platform}: {} ({:.1} MB uncompressed, {:.1} MB compressed, {} packages, {} downloads) → {}",
        recipe.name,
        image.manifest_digest,
        mb(built.uncompressed_size),
        mb(image.compressed_size()),
        built.packages.len(),
        built.downloads,
        output.describe()
    );
    Ok(())
}
