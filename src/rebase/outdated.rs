//! `pypack base outdated`: an image's Debian packages that its recipe's
//! suites have newer versions of now.

use crate::base::outdated::Update;
use crate::base::{BaseOptions, Recipe};
use crate::cache::Cache;
use crate::inspect::ImageSource;
use crate::oci::Image;
use crate::platform::Platform;
use anyhow::{Context, Result, bail};

/// Which image to check, and against which recipe.
pub struct OutdatedRequest<'a> {
    /// The image as named (for messages).
    pub image: &'a str,
    pub platform: Platform,
    /// Speak plain HTTP to the registry (loopback only).
    pub plain_http: bool,
    /// The recipe whose suites to ask (default: the one the image's base
    /// was built from, else the one for its Debian release).
    pub recipe: Option<&'a str>,
    /// The recipe of that name and the options to read its archive with.
    pub options_for: &'a dyn Fn(&str) -> Result<(Recipe, BaseOptions)>,
}

/// What the check found.
pub struct OutdatedReport {
    pub updates: Vec<Update>,
    /// How many Debian packages the image has.
    pub installed: usize,
    /// The recipe asked.
    pub recipe: String,
}

/// The image's Debian packages with newer versions in the recipe's suites
/// (their indexes fetched again).
pub fn outdated(
    request: &OutdatedRequest,
    source: &ImageSource,
    cache: &Cache,
) -> Result<OutdatedReport> {
    let image = source.load(cache, request.platform, request.plain_http)?;
    let (installed, distro) = crate::sbom::os_packages(cache, &image.layers)?;
    if installed.is_empty() {
        bail!(
            "{} records no Debian packages (no dpkg status)",
            request.image
        );
    }
    let recipe = match request.recipe {
        Some(name) => name.to_string(),
        None => recipe_of(&image, distro.as_deref()).with_context(|| {
            format!(
                "which Debian suites {} comes from is not known; pass --recipe NAME",
                request.image
            )
        })?,
    };
    let (recipe, mut options) = (request.options_for)(&recipe)?;
    options.platform = image.platform;
    options.refresh = true;
    let updates = crate::base::outdated::updates(&recipe, &options, cache, &installed)?;
    Ok(OutdatedReport {
        updates,
        installed: installed.len(),
        recipe: recipe.name,
    })
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
