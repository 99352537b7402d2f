//! `pypack rebase IMAGE --onto BASE` and `pypack base outdated IMAGE`: an
//! image's base, swapped for a newer one or checked for updates.

use super::Cli;
use super::args::{BaseArgs, OutputArgs};
use anyhow::{Result, bail};
use clap::Args;
use pypack::rebase::{ImageSource, OutdatedRequest, RebaseRequest};

#[derive(Args)]
#[rustfmt::skip]
pub struct RebaseArgs {
    /// The image: an OCI layout directory, an oci-archive, or a registry
    /// reference (REGISTRY/REPOSITORY[:TAG]).
    image: String,
    /// The new base: a recipe (built again from the archive's current
    /// indexes), or a registry image REF.
    #[arg(long, value_name = "RECIPE|REF")] onto: String,
    #[command(flatten)] base: BaseArgs,
    /// Where the rebased image goes (default: where it came from).
    #[command(flatten)] output: OutputArgs,
    /// Push the rebased image to REF (default for a registry image: its own reference).
    #[arg(long, value_name = "REF")] push: Option<String>,
    /// Speak plain HTTP to the registries (loopback only).
    #[arg(long)] insecure_registry: bool,
    /// Engine for compiling the new base's bytecode when this machine cannot run its interpreter.
    #[arg(long, value_name = "podman|docker")] engine: Option<String>,
}

#[derive(Args)]
#[rustfmt::skip]
pub struct OutdatedArgs {
    /// The image: an OCI layout directory, an oci-archive, or a registry reference.
    image: String,
    #[command(flatten)] base: BaseArgs,
    /// Speak plain HTTP to the registry (loopback only).
    #[arg(long)] insecure_registry: bool,
}

pub fn rebase(cli: &Cli, args: &RebaseArgs) -> Result<()> {
    if args.base.recipe.is_some() || args.base.python.is_some() {
        bail!(
            "rebase takes the new base from --onto; --recipe and --python belong to `pypack build`"
        );
    }
    let base_options = || Ok(args.base.options_for("debian12", cli.quiet)?.1);
    let request = RebaseRequest {
        image: &args.image,
        onto: &args.onto,
        platform: args.base.platforms()?.single("`pypack rebase`")?,
        output: args.output.written(),
        tag: args.output.tag.as_deref(),
        push: args.push.as_deref(),
        plain_http: args.insecure_registry,
        base_options: &base_options,
        engine: &|| super::engine_choice(&args.engine),
    };
    let planned = pypack::rebase::plan(&request)?;
    let report = planned.run(&cli.cache()?)?;
    let name = &report.base_name;
    if !cli.quiet {
        eprintln!("base:     {name} {}", report.base_digest);
        for line in &report.rebased.layers {
            eprintln!("layer:    {line}");
        }
    }
    let (from, to) = (&report.from, &report.rebased.image.manifest_digest);
    println!("{from} → {to} on {name} → {}", report.went.join("; "));
    Ok(())
}

pub fn outdated(cli: &Cli, args: &OutdatedArgs) -> Result<()> {
    let options_for = |recipe: &str| args.base.options_for(recipe, cli.quiet);
    let request = OutdatedRequest {
        image: &args.image,
        platform: args.base.platforms()?.single("`pypack base outdated`")?,
        plain_http: args.insecure_registry,
        recipe: args.base.recipe.as_deref(),
        options_for: &options_for,
    };
    let source = ImageSource::parse(&args.image)?;
    let report = pypack::rebase::outdated(&request, &source, &cli.cache()?)?;
    for update in &report.updates {
        let (name, installed, available) = (&update.name, &update.installed, &update.available);
        println!("{name}\t{installed}\t→ {available}");
    }
    let apply = match report.updates.is_empty() {
        true => String::new(),
        false => format!(
            "; `pypack rebase {} --onto {}` applies them",
            args.image, report.recipe
        ),
    };
    eprintln!(
        "{} of {} Debian packages have newer versions in recipe {}'s suites{apply}",
        report.updates.len(),
        report.installed,
        report.recipe
    );
    Ok(())
}
