//! The base stage: the base image pulled from a registry or built from the
//! plan's recipe (with a head start on work that needs its interpreter),
//! and, for another platform's image, this machine's base with the same
//! interpreter.

use crate::base::HeadStart;
use crate::base::{self, BaseOptions, BuiltBase, Recipe};
use crate::cache::Cache;
use crate::http::Http;
use crate::platform::Platform;
use crate::project::plan::Plan;
use crate::registry::Reference;
use anyhow::Result;

/// The base stage's product: the base image, the name the image's
/// annotations give it, and its recipe when it was built from one.
pub(super) struct Based {
    pub base: BuiltBase,
    pub name: String,
    pub recipe: Option<Recipe>,
}

/// The base image: pulled from a registry (`pulled`, `--base`) or built
/// from the plan's recipe, with `head_start` started from its interpreter
/// as soon as a base built here has its files written.
pub(super) fn ready(
    pulled: Option<&(Reference, bool)>,
    options: &BaseOptions,
    head_start: Option<HeadStart>,
    plan: &mut Plan,
    cache: &Cache,
    http: &Http,
) -> Result<Based> {
    if let Some((reference, plain_http)) = pulled {
        plan.recipe = crate::project::decided::Decided {
            value: reference.to_string(),
            rule: "--base".into(),
        };
        let base = crate::base::pulled::pull_base(reference, *plain_http, options.platform, cache)?;
        return Ok(Based {
            base,
            name: reference.to_string(),
            recipe: None,
        });
    }
    let recipe = Recipe::load(&plan.recipe.value)?;
    from_recipe(recipe, options, head_start, cache, http)
}

/// The base `recipe` makes, built (or found in the cache), with
/// `head_start` as in [`ready`].
pub(super) fn from_recipe(
    recipe: Recipe,
    options: &BaseOptions,
    head_start: Option<HeadStart>,
    cache: &Cache,
    http: &Http,
) -> Result<Based> {
    let base = base::build_and(&recipe, options, cache, http, head_start)?;
    Ok(Based {
        base,
        name: format!("pypack base {}", recipe.name),
        recipe: Some(recipe),
    })
}

/// The base of this machine's platform with the same interpreter as
/// `base` (same recipe, or the same registry image's entry for this
/// platform), whose interpreter compiles `base`'s bytecode; `None`, said
/// in a warning, when there is none with the very same Python version.
pub(super) fn host_interpreter(
    options: &BaseOptions,
    recipe: Option<&Recipe>,
    base_image: Option<&(Reference, bool)>,
    head_start: Option<HeadStart>,
    base: &BuiltBase,
    cache: &Cache,
    http: &Http,
) -> Option<BuiltBase> {
    let host = Platform::host();
    let platform = base.image.platform;
    let found = match (recipe, base_image) {
        (Some(recipe), _) => {
            let options = BaseOptions {
                platform: host,
                ..options.clone()
            };
            base::build_and(recipe, &options, cache, http, head_start)
        }
        (None, Some((reference, plain_http))) => {
            crate::base::pulled::pull_base(reference, *plain_http, host, cache)
        }
        (None, None) => return None,
    };
    let why_not = match found {
        Err(e) => format!("the {host} base it would be compiled with is not available: {e:#}"),
        Ok(found)
            if found.python_full_version == base.python_full_version
                && found.python_executable == base.python_executable =>
        {
            return Some(found);
        }
        Ok(found) => format!(
            "the {host} base has Python {} at {} where the {platform} one has {} at {}",
            found.python_full_version.as_deref().unwrap_or("?"),
            found.python_executable,
            base.python_full_version.as_deref().unwrap_or("?"),
            base.python_executable
        ),
    };
    eprintln!(
        "warning: the {platform} image gets no bytecode and starts slower: {why_not}; pass --no-compile to silence this"
    );
    None
}

/// A recipe's base found built in the cache, with its target; else only
/// the target its package indexes say (the base is yet to be built). The
/// recipe is kept either way (the sdist builder's image comes from it).
pub(super) fn cached_or_target(
    recipe: Recipe,
    options: &BaseOptions,
    cache: &Cache,
    http: &Http,
) -> Result<(Option<Based>, crate::python::Target, Option<Recipe>)> {
    Ok(
        match base::built_or_target(&recipe, options, cache, http)? {
            base::BuiltOrTarget::Built(built) => {
                let target = built.target()?;
                let based = Based {
                    base: *built,
                    name: format!("pypack base {}", recipe.name),
                    recipe: Some(recipe.clone()),
                };
                (Some(based), target, Some(recipe))
            }
            base::BuiltOrTarget::Target(target) => (None, target, Some(recipe)),
        },
    )
}

/// The base of the build: the one already `ready` (pulled, or found
/// built), else the one `building` made (its failure first). A recipe's
/// base built for another target than its package indexes said (`target`,
/// which the pins were found for) is an error, not an image with the wrong
/// wheels.
pub(super) fn joined(
    ready: Option<Based>,
    building: Option<std::thread::ScopedJoinHandle<'_, Result<Based>>>,
    target: &crate::python::Target,
) -> Result<Based> {
    let based = match (ready, building) {
        (Some(based), _) => based,
        (None, Some(building)) => building
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?,
        (None, None) => anyhow::bail!("internal: a build with neither a pulled nor a built base"),
    };
    let built_for = based.base.target()?;
    if &built_for != target {
        anyhow::bail!(
            "internal: the base was built for {built_for}, but its package indexes said {target} (please report it); building again uses the built base's target"
        );
    }
    Ok(based)
}
