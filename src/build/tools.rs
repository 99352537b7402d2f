//! The tools stage: the engine (and whether it can run this image), the
//! sdist builder, the bytecode compiler, and which image builds sdists for
//! a registry base.

use super::base::{Based, host_interpreter};
use super::bytecode::compiler_on;
use super::request::BuilderSteps;
use crate::base::HeadStart;
use crate::base::{BaseOptions, BuiltBase, Recipe};
use crate::builder::Engine;
use crate::builder::bytecode::Compiler;
use crate::builder::sdist::{BuilderImage, SourceBuilder};
use crate::cache::Cache;
use crate::http::Http;
use crate::platform::Platform;
use crate::project::plan::Plan;
use crate::registry::Reference;
use crate::resolve::app::LockRequest;
use anyhow::{Result, bail};

/// Whether the engine can run the image (bytecode and the smoke run execute
/// its interpreter): not when it is for another architecture than this
/// machine's, which is said once.
pub(super) fn runs_here(base: &BuiltBase, steps: &BuilderSteps) -> Result<bool> {
    let host = crate::platform::Platform::host();
    let platform = base.image.platform;
    if platform == host {
        return Ok(true);
    }
    if steps.smoke == Some(true) {
        bail!(
            "--smoke runs the image, which is for {platform} while this machine is {host}; drop --smoke"
        );
    }
    eprintln!(
        "note: the {platform} image is not run here ({host}): no smoke run{}",
        if steps.compile {
            "; its bytecode is compiled by this machine's build of the same Python"
        } else {
            ""
        }
    );
    Ok(false)
}

/// The engine, when a step may need one (`--engine` names one that must work).
pub(super) fn engine_for(steps: &BuilderSteps) -> Result<Option<Engine>> {
    let engine = Engine::detect(steps.engine.as_deref())?;
    if engine.is_none() {
        if let Some(name) = &steps.engine {
            bail!("--engine {name}: it is not installed or not running");
        }
        if steps.smoke == Some(true) {
            bail!(
                "--smoke runs the image in podman or docker, and neither is installed (or running); install one, or drop --smoke"
            );
        }
    }
    Ok(engine)
}

/// Where sdists get built: the recipe's builder image, or for a registry
/// base, `--builder-image` or the full image of a known slim one.
fn builder_image_for(
    recipe: Option<Recipe>,
    options: &BaseOptions,
    pulled: Option<&(Reference, bool)>,
    builder_image: Option<&Reference>,
) -> Result<BuilderImage> {
    if let Some(recipe) = recipe {
        return Ok(BuilderImage::Recipe(
            Box::new(recipe),
            Box::new(options.clone()),
        ));
    }
    let Some((base, plain_http)) = pulled else {
        bail!("internal: a build has neither a recipe nor a --base image");
    };
    let reference = match builder_image {
        Some(r) => r.clone(),
        None => match full_image_of(base) {
            Some(r) => r,
            None => {
                return Ok(BuilderImage::Missing(format!(
                    "the base {base} is not a known slim image, so pypack does not know which image can build for it; pass --builder-image REF (an image with the same Python, a compiler and the Python headers)"
                )));
            }
        },
    };
    Ok(BuilderImage::Registry {
        reference,
        plain_http: *plain_http,
    })
}

/// `python:3.12-slim` → `python:3.12`, `python:3.12-slim-bookworm` →
/// `python:3.12-bookworm`: the official images' full variant, which has
/// the compiler and headers the slim one dropped.
pub fn full_image_of(base: &Reference) -> Option<Reference> {
    let tag = base.tag.as_deref()?;
    let full = if let Some(rest) = tag.strip_suffix("-slim") {
        rest.to_string()
    } else if tag.contains("-slim-") {
        tag.replacen("-slim-", "-", 1)
    } else if tag == "slim" {
        "latest".to_string()
    } else {
        return None;
    };
    Some(Reference {
        tag: Some(full),
        digest: None,
        ..base.clone()
    })
}

/// The tools the later stages run: the engine (when a step may need one),
/// whether it can run this image, and for another platform's image this
/// machine's base, whose interpreter compiles its bytecode.
pub(super) struct Tools<'e> {
    pub(super) engine: Option<&'e Engine>,
    pub(super) runs_here: bool,
    pub(super) interpreter: Option<BuiltBase>,
}

/// The tools for an image on `based` with `engine` (see [`engine_for`]);
/// `head_start` is given to this machine's base when it is built for
/// another platform's image.
#[allow(clippy::too_many_arguments)]
pub(super) fn ready<'e>(
    engine: Option<&'e Engine>,
    steps: &BuilderSteps,
    based: &Based,
    options: &BaseOptions,
    pulled: Option<&(Reference, bool)>,
    head_start: Option<HeadStart>,
    cache: &Cache,
    http: &Http,
) -> Result<Tools<'e>> {
    let runs_here = engine.is_some() && runs_here(&based.base, steps)?;
    // Bytecode depends on the Python version, not the CPU: for another
    // platform this machine's build of the same interpreter compiles it.
    let base = &based.base;
    let interpreter = match steps.compile && base.image.platform != Platform::host() {
        true => {
            let recipe = based.recipe.as_ref();
            host_interpreter(options, recipe, pulled, head_start, base, cache, http)
        }
        false => None,
    };
    Ok(Tools {
        engine,
        runs_here,
        interpreter,
    })
}

/// Where the sdists resolution picks are built (and the app's own
/// project), in `engine`: the builder image of the base's `recipe`, or of
/// the `pulled` base.
#[allow(clippy::too_many_arguments)]
pub(super) fn sources<'a>(
    engine: Option<&'a Engine>,
    recipe: Option<Recipe>,
    pulled: Option<&(Reference, bool)>,
    steps: &BuilderSteps,
    lock: &LockRequest,
    plan: &Plan,
    options: &BaseOptions,
    cache: &'a Cache,
) -> Result<SourceBuilder<'a>> {
    let builder = steps.builder_image.as_ref();
    let image = builder_image_for(recipe, options, pulled, builder)?;
    let sources = SourceBuilder::with_build_packages(
        engine,
        cache,
        lock,
        image,
        options.epoch,
        options.verbose,
        plan.build_packages().to_vec(),
    )?;
    crate::mark("sdist builder ready");
    Ok(sources)
}

impl Tools<'_> {
    /// The bytecode compiler (when compiling): `based`'s interpreter, or
    /// for another platform's image this machine's; unpacked here when
    /// `unpacked` allows, else in the engine.
    pub(super) fn compiler<'a>(
        &'a self,
        compile: bool,
        based: &'a Based,
        unpacked: bool,
        cache: &'a Cache,
    ) -> Option<Compiler<'a>> {
        let compiles_with = self.interpreter.as_ref().unwrap_or(&based.base);
        let compiler = match compile {
            true => compiler_on(cache, compiles_with, unpacked, self.engine),
            false => None,
        };
        crate::mark("interpreter unpacked");
        if compiler.is_none() && compile && self.engine.is_none() && self.interpreter.is_none() {
            eprintln!(
                "warning: no podman or docker: the image gets no bytecode and starts slower; install one, or pass --no-compile"
            );
        }
        compiler
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_full_image_of_a_slim_one() {
        let full = |r: &str| full_image_of(&Reference::parse(r).unwrap()).map(|r| r.to_string());
        assert_eq!(
            full("localhost:5000/library/python:3.12-slim").as_deref(),
            Some("localhost:5000/library/python:3.12")
        );
        assert_eq!(
            full("localhost:5000/python:3.12-slim-bookworm").as_deref(),
            Some("localhost:5000/python:3.12-bookworm")
        );
        assert_eq!(full("localhost:5000/distroless/python3:nonroot"), None);
    }
}
