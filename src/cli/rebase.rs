//! `pypack rebase IMAGE --onto BASE` and `pypack base outdated IMAGE`: an
//! image's base, swapped for a newer one or checked for updates.

use super::{BaseArgs, Cli, OutputArgs, check_tag, push_image};
use anyhow::{Context, Result, bail};
use clap::Args;
use pypack::base::{self, BuiltBase, Recipe};
use pypack::builder::Engine;
use pypack::cache::Cache;
use pypack::oci::{self, Image, Output};
use pypack::platform::Platform;
use pypack::registry::{CredentialSources, Reference, RegistriesConf, Registry};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct RebaseArgs {
    /// The image: an OCI layout directory, an oci-archive, or a registry
    /// reference (REGISTRY/REPOSITORY[:TAG]).
    image: String,
    /// The new base: a recipe (built again from the archive's current
    /// indexes), or a registry image REF.
    #[arg(long, value_name = "RECIPE|REF")]
    onto: String,
    #[command(flatten)]
    base: BaseArgs,
    /// Where the rebased image goes (default: where it came from).
    #[command(flatten)]
    output: OutputArgs,
    /// Push the rebased image to REF (default for a registry image: its own reference).
    #[arg(long, value_name = "REF")]
    push: Option<String>,
    /// Speak plain HTTP to the registries (loopback only).
    #[arg(long)]
    insecure_registry: bool,
    /// Engine for compiling the new base's bytecode when this machine cannot run its interpreter.
    #[arg(long, value_name = "podman|docker")]
    engine: Option<String>,
}

#[derive(Args)]
pub struct OutdatedArgs {
    /// The image: an OCI layout directory, an oci-archive, or a registry reference.
    image: String,
    #[command(flatten)]
    base: BaseArgs,
    /// Speak plain HTTP to the registry (loopback only).
    #[arg(long)]
    insecure_registry: bool,
}

/// Where an image came from.
enum Source {
    Local(PathBuf),
    Registry(Reference),
}

impl Source {
    fn parse(text: &str) -> Result<Source> {
        let path = Path::new(text);
        if path.exists() {
            return Ok(Source::Local(path.to_path_buf()));
        }
        if text.contains('/') && !text.starts_with(['.', '/']) {
            return Ok(Source::Registry(RegistriesConf::from_host().resolve(text)?));
        }
        bail!(
            "{text} is neither an image layout or archive on this machine nor a registry reference"
        )
    }

    /// The image (for `platform`, of an index), its blobs in the cache.
    fn load(&self, cache: &Cache, platform: Platform, plain_http: bool) -> Result<Image> {
        match self {
            Source::Local(path) => pypack::inspect::load_image(cache, path, platform),
            Source::Registry(reference) => {
                let credentials = CredentialSources::from_host().lookup(&reference.registry)?;
                Registry::connect(reference, plain_http, credentials)?
                    .pull(cache, platform)
                    .with_context(|| format!("pulling {reference}"))
            }
        }
    }
}

pub fn rebase(cli: &Cli, args: &RebaseArgs) -> Result<()> {
    if args.base.recipe.is_some() || args.base.python.is_some() {
        bail!(
            "rebase takes the new base from --onto; --recipe and --python belong to `pypack build`"
        );
    }
    let platform = args.base.platforms()?.single("`pypack rebase`")?;
    let source = Source::parse(&args.image)?;
    let push = args.push.as_deref().map(Reference::parse).transpose()?;
    let output = match (&args.output.output, &args.output.archive, &source) {
        (None, None, Source::Local(path)) if push.is_none() => Some(match path.is_dir() {
            true => Output::Layout(path.clone()),
            false => Output::OciArchive(path.clone()),
        }),
        (None, None, _) => None,
        _ => Some(args.output.resolve(PathBuf::new())),
    };
    let push = match (&push, &output, &source) {
        (None, None, Source::Registry(reference)) => Some(reference.clone()),
        _ => push,
    };
    if let Some(tag) = &args.output.tag {
        check_tag(tag)?;
    }
    // Written back where it came from, one platform's image would replace
    // an index of several: the others would be lost.
    let platforms = match (&source, &output, &push) {
        (Source::Local(path), Some(out), _) if out.path() == path.as_path() => {
            pypack::inspect::platform_count(path)?
        }
        (Source::Registry(from), _, Some(to)) if from == to => {
            let credentials = CredentialSources::from_host().lookup(&from.registry)?;
            Registry::connect(from, args.insecure_registry, credentials)?
                .platforms()?
                .len()
        }
        _ => 1,
    };
    if platforms > 1 {
        bail!(
            "{} holds images for {platforms} platforms and a rebase makes one ({platform}): writing it back would lose the others; pass --output DIR, --archive FILE or --push REF",
            args.image
        );
    }
    let cache = cli.cache()?;
    let image = source.load(&cache, platform, args.insecure_registry)?;
    pypack::rebase::recorded_base(&image)?;
    let (recipe, onto) = onto(args)?;
    let (_, mut options) = args.base.options_for("debian12", cli.quiet)?;
    options.platform = image.platform;
    // "Onto a recipe" means onto what the archive has now.
    options.refresh = true;
    let http = pypack::http::Http::new()?;
    let (new_base, name): (BuiltBase, String) = match (&recipe, &onto) {
        (Some(recipe), _) => (
            base::build(recipe, &options, &cache, &http)?,
            format!("pypack base {}", recipe.name),
        ),
        (None, Some(reference)) => (
            base::pulled::pull_base(reference, args.insecure_registry, image.platform, &cache)?,
            reference.to_string(),
        ),
        (None, None) => unreachable!("onto() gives one of them"),
    };
    let engine = Engine::detect(super::engine_choice(&args.engine)?.as_deref())?;
    let registry_base = onto.clone().map(|r| (r, args.insecure_registry));
    let stdlib = || {
        pypack::build::stdlib_bytecode_for(
            &cache,
            &new_base,
            recipe.as_ref(),
            &options,
            registry_base.as_ref(),
            engine.as_ref(),
        )
    };
    let remake = pypack::rebase::Remake {
        stdlib: &stdlib,
        epoch: options.epoch,
    };
    let rebased = pypack::rebase::rebase(&cache, &image, &new_base, &name, &remake)?;
    let tag = args
        .output
        .tag
        .clone()
        .or_else(|| match &source {
            Source::Local(path) => pypack::inspect::ref_name(path),
            Source::Registry(reference) => Some(reference.to_string()),
        })
        .unwrap_or_else(|| "rebased".into());
    let mut went = Vec::new();
    if let Some(output) = &output {
        oci::write_output(&cache, &rebased.image, output, Some(&tag))?;
        went.push(output.describe());
    }
    if let Some(reference) = &push {
        let pushed = push_image(
            &cache,
            &rebased.image,
            reference,
            args.insecure_registry,
            None,
        )?;
        went.push(format!("pushed {reference}@{}", pushed.digest));
    }
    if !cli.quiet {
        eprintln!("base:     {name} {}", new_base.image.manifest_digest);
        for line in &rebased.layers {
            eprintln!("layer:    {line}");
        }
    }
    println!(
        "{} → {} on {name} → {}",
        image.manifest_digest,
        rebased.image.manifest_digest,
        went.join("; ")
    );
    Ok(())
}

/// `--onto`: a recipe (built-in name or file), else a registry reference.
fn onto(args: &RebaseArgs) -> Result<(Option<Recipe>, Option<Reference>)> {
    match Recipe::load(&args.onto) {
        Ok(recipe) => Ok((Some(recipe), None)),
        Err(recipe_error) if args.onto.contains('/') && !args.onto.ends_with(".toml") => {
            let reference = RegistriesConf::from_host()
                .resolve(&args.onto)
                .with_context(|| {
                    format!("--onto {}: not a recipe ({recipe_error:#})", args.onto)
                })?;
            Ok((None, Some(reference)))
        }
        Err(e) => Err(e.context(format!(
            "--onto {}: neither a recipe (see `pypack base list`) nor a registry reference",
            args.onto
        ))),
    }
}

pub fn outdated(cli: &Cli, args: &OutdatedArgs) -> Result<()> {
    let platform = args.base.platforms()?.single("`pypack base outdated`")?;
    let source = Source::parse(&args.image)?;
    let cache = cli.cache()?;
    let image = source.load(&cache, platform, args.insecure_registry)?;
    let (installed, distro) = pypack::sbom::os_packages(&cache, &image.layers)?;
    if installed.is_empty() {
        bail!("{} records no Debian packages (no dpkg status)", args.image);
    }
    let recipe = match &args.base.recipe {
        Some(name) => name.clone(),
        None => recipe_of(&image, distro.as_deref()).with_context(|| {
            format!(
                "which Debian suites {} comes from is not known; pass --recipe NAME",
                args.image
            )
        })?,
    };
    let (recipe, mut options) = args.base.options_for(&recipe, cli.quiet)?;
    options.platform = image.platform;
    options.refresh = true;
    let updates = base::outdated::updates(&recipe, &options, &cache, &installed)?;
    for update in &updates {
        println!(
            "{}\t{}\t→ {}",
            update.name, update.installed, update.available
        );
    }
    eprintln!(
        "{} of {} Debian packages have newer versions in recipe {}'s suites{}",
        updates.len(),
        installed.len(),
        recipe.name,
        if updates.is_empty() {
            String::new()
        } else {
            format!(
                "; `pypack rebase {} --onto {}` applies them",
                args.image, recipe.name
            )
        }
    );
    Ok(())
}

/// The recipe an image's base was built from (its base-name annotation),
/// else the one for its Debian release.
fn recipe_of(image: &Image, distro: Option<&str>) -> Option<String> {
    let manifest: serde_json::Value = serde_json::from_slice(&image.manifest).ok()?;
    let named = manifest["annotations"]["org.opencontainers.image.base.name"]
        .as_str()
        .and_then(|n| n.strip_prefix("pypack base "))
        .map(str::to_string);
    named.or_else(|| match distro? {
        "debian-12" => Some("debian12".into()),
        "debian-13" => Some("debian13".into()),
        "debian-forky" | "debian-14" => Some("debian-forky".into()),
        _ => None,
    })
}
