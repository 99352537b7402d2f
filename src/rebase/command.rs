//! A rebase as `pypack rebase` asks for it: the image found (here or in a
//! registry), the new base made (a recipe, built from the archive as it is
//! now) or pulled (a registry image), the image rebased onto it, and the
//! result written back where it came from, written elsewhere, or pushed.

use super::{Rebased, Remake};
use crate::base::{BaseOptions, BuiltBase, Recipe};
use crate::builder::engine::Engine;
use crate::cache::Cache;
use crate::inspect::ImageSource;
use crate::oci::{Image, Output};
use crate::platform::Platform;
use crate::registry::{CredentialSources, Reference, RegistriesConf, Registry};
use anyhow::{Context, Result, bail};

/// A rebase, as the user names its parts.
pub struct RebaseRequest<'a> {
    /// The image: a layout or archive path, or a registry reference.
    pub image: &'a str,
    /// The new base: a recipe (built-in name or file), else a registry reference.
    pub onto: &'a str,
    pub platform: Platform,
    /// Where the rebased image is written (default: back where a local
    /// image came from, unless it is pushed).
    pub output: Option<Output>,
    /// Its name, `NAME[:TAG]` (default: the image's own).
    pub tag: Option<&'a str>,
    /// Push it to this reference (default, for a registry image written
    /// nowhere: its own reference).
    pub push: Option<&'a str>,
    /// Speak plain HTTP to the registries (loopback only).
    pub plain_http: bool,
    /// The options a recipe base is built with (its platform and
    /// refresh are set here); asked once the image is found and checked.
    pub base_options: &'a dyn Fn() -> Result<BaseOptions>,
    /// The engine to compile the new base's bytecode in, if one is named.
    pub engine: &'a dyn Fn() -> Result<Option<String>>,
}

/// A rebase with its image found and its destinations decided.
pub struct PlannedRebase<'a> {
    request: &'a RebaseRequest<'a>,
    source: ImageSource,
    output: Option<Output>,
    push: Option<Reference>,
}

/// What a rebase made, and where it went.
pub struct RebaseReport {
    /// The image's manifest digest before the rebase.
    pub from: String,
    pub rebased: Rebased,
    /// The new base: `pypack base RECIPE`, or its registry reference.
    pub base_name: String,
    /// The new base's manifest digest.
    pub base_digest: String,
    /// Each destination as said: `OCI layout DIR`, `pushed REF@DIGEST`.
    pub went: Vec<String>,
}

/// Finds the image and decides where the rebased one goes, before any work.
pub fn plan<'a>(request: &'a RebaseRequest<'a>) -> Result<PlannedRebase<'a>> {
    let source = ImageSource::parse(request.image)?;
    let push = request.push.map(Reference::parse).transpose()?;
    let output = match (&request.output, &source) {
        (None, ImageSource::Local(path)) if push.is_none() => Some(match path.is_dir() {
            true => Output::Layout(path.clone()),
            false => Output::OciArchive(path.clone()),
        }),
        (output, _) => output.clone(),
    };
    let push = match (&push, &output, &source) {
        (None, None, ImageSource::Registry(reference)) => Some(reference.clone()),
        _ => push,
    };
    if let Some(tag) = request.tag {
        crate::publish::check_tag(tag)?;
    }
    let planned = PlannedRebase {
        request,
        source,
        output,
        push,
    };
    planned.refuse_losing_platforms()?;
    Ok(planned)
}

impl PlannedRebase<'_> {
    /// Written back where it came from, one platform's image would replace
    /// an index of several: the others would be lost.
    fn refuse_losing_platforms(&self) -> Result<()> {
        let platforms = match (&self.source, &self.output, &self.push) {
            (ImageSource::Local(path), Some(out), _) if out.path() == path.as_path() => {
                crate::inspect::platform_count(path)?
            }
            (ImageSource::Registry(from), _, Some(to)) if from == to => {
                let credentials = CredentialSources::from_host().lookup(&from.registry)?;
                Registry::connect(from, self.request.plain_http, credentials)?
                    .platforms()?
                    .len()
            }
            _ => 1,
        };
        if platforms > 1 {
            bail!(
                "{} holds images for {platforms} platforms and a rebase makes one ({}): writing it back would lose the others; pass --output DIR, --archive FILE or --push REF",
                self.request.image,
                self.request.platform
            );
        }
        Ok(())
    }

    /// Loads the image, makes the new base, rebases and puts the result
    /// where it goes.
    pub fn run(self, cache: &Cache) -> Result<RebaseReport> {
        let request = self.request;
        let image = self
            .source
            .load(cache, request.platform, request.plain_http)?;
        super::recorded_base(&image)?;
        let onto = Onto::parse(request.onto)?;
        let mut options = (request.base_options)()?;
        options.platform = image.platform;
        // "Onto a recipe" means onto what the archive has now.
        options.refresh = true;
        let http = crate::http::Http::new()?;
        let (new_base, base_name) = onto.base(&options, image.platform, request, cache, &http)?;
        let engine = Engine::detect((request.engine)()?.as_deref())?;
        let registry_base = onto.reference().map(|r| (r.clone(), request.plain_http));
        let stdlib = || {
            crate::build::stdlib_bytecode_for(
                cache,
                &new_base,
                onto.recipe(),
                &options,
                registry_base.as_ref(),
                engine.as_ref(),
            )
        };
        let remake = Remake {
            stdlib: &stdlib,
            epoch: options.epoch,
        };
        let rebased = super::rebase(cache, &image, &new_base, &base_name, &remake)?;
        let went = self.put(cache, &rebased.image)?;
        Ok(RebaseReport {
            from: image.manifest_digest,
            rebased,
            base_name,
            base_digest: new_base.image.manifest_digest.clone(),
            went,
        })
    }

    /// Writes and pushes the rebased image; says where it went.
    fn put(&self, cache: &Cache, rebased: &Image) -> Result<Vec<String>> {
        let tag = self
            .request
            .tag
            .map(str::to_string)
            .or_else(|| match &self.source {
                ImageSource::Local(path) => crate::inspect::ref_name(path),
                ImageSource::Registry(reference) => Some(reference.to_string()),
            })
            .unwrap_or_else(|| "rebased".into());
        let mut went = Vec::new();
        if let Some(output) = &self.output {
            crate::oci::write_output(cache, rebased, output, Some(&tag))?;
            went.push(output.describe());
        }
        if let Some(reference) = &self.push {
            let plain_http = self.request.plain_http;
            let pushed = crate::publish::push_image(cache, rebased, reference, plain_http, None)?;
            went.push(format!("pushed {reference}@{}", pushed.digest));
        }
        Ok(went)
    }
}

/// The new base: a recipe, or a registry image.
enum Onto {
    Recipe(Box<Recipe>),
    Image(Reference),
}

impl Onto {
    /// A recipe (built-in name or file), else a registry reference.
    fn parse(onto: &str) -> Result<Onto> {
        match Recipe::load(onto) {
            Ok(recipe) => Ok(Onto::Recipe(Box::new(recipe))),
            Err(recipe_error) if onto.contains('/') && !onto.ends_with(".toml") => {
                let reference = RegistriesConf::from_host()
                    .resolve(onto)
                    .with_context(|| format!("--onto {onto}: not a recipe ({recipe_error:#})"))?;
                Ok(Onto::Image(reference))
            }
            Err(e) => Err(e.context(format!(
                "--onto {onto}: neither a recipe (see `pypack base list`) nor a registry reference"
            ))),
        }
    }

    fn recipe(&self) -> Option<&Recipe> {
        match self {
            Onto::Recipe(recipe) => Some(recipe),
            Onto::Image(_) => None,
        }
    }

    fn reference(&self) -> Option<&Reference> {
        match self {
            Onto::Recipe(_) => None,
            Onto::Image(reference) => Some(reference),
        }
    }

    /// The base built (from the archive as it is now) or pulled, and its name.
    fn base(
        &self,
        options: &BaseOptions,
        platform: Platform,
        request: &RebaseRequest,
        cache: &Cache,
        http: &crate::http::Http,
    ) -> Result<(BuiltBase, String)> {
        Ok(match self {
            Onto::Recipe(recipe) => (
                crate::base::build(recipe, options, cache, http)?,
                format!("pypack base {}", recipe.name),
            ),
            Onto::Image(reference) => (
                crate::base::pulled::pull_base(reference, request.plain_http, platform, cache)?,
                reference.to_string(),
            ),
        })
    }
}
