//! The publish stage: a build's images put where they are asked (the
//! `publish` module's destinations), after the build's work is shared
//! through the registry cache when one is named.

use super::report::BuildReport;
use super::request::BuildRequest;
use crate::builder::engine::HeldImage;
use crate::cache::Cache;
use crate::platform::{Platform, PlatformChoice};
use crate::publish::{Built, Destination, Published, PublishedIndex, Request};
use crate::registry_cache::RegistryCache;
use anyhow::{Result, bail};

/// Where a build shares its work: the registry cache, and whether to say so.
pub struct Sharing<'a> {
    pub to: Option<&'a RegistryCache>,
    pub quiet: bool,
}

/// An image built and published, and the engine's hold on it when it was
/// not loaded into that engine (released when dropped: a caller drops it
/// once it has said what it has to say).
pub struct Delivered {
    pub report: BuildReport,
    pub published: Published,
    pub held: Option<HeldImage>,
}

/// One image: built, the work shared, published as `publish` asks.
pub fn image(
    request: &BuildRequest,
    publish: &Request,
    sharing: Sharing,
    cache: &Cache,
) -> Result<Delivered> {
    // An image bound for the engine may go there while its smoke run runs.
    let mut request = request.clone();
    request.steps.loads = matches!(publish.destination, Destination::Load(_));
    let mut report = super::build(&request, cache)?;
    share(cache, &sharing);
    let held = report.held.take();
    let mut built = built_of(&report, held);
    let published = crate::publish::publish_image(cache, &mut built, publish)?;
    let held = built.held.take();
    Ok(Delivered {
        report,
        published,
        held,
    })
}

/// Several platforms' images (`choice`, as `asked`): built, the work
/// shared, published as one index; the engine's holds on them, as for one
/// image.
pub fn index(
    request: &BuildRequest,
    (choice, asked): (&PlatformChoice, &str),
    publish: &Request,
    sharing: Sharing,
    cache: &Cache,
) -> Result<(Vec<BuildReport>, PublishedIndex, Vec<HeldImage>)> {
    let mut reports = super::build_platforms(request, choice, cache)?;
    share(cache, &sharing);
    let host = Platform::host();
    if let Destination::Load(_) = &publish.destination
        && !reports.iter().any(|r| r.image.platform == host)
    {
        bail!(
            "--load loads this machine's image ({host}), which --platform {asked} does not build; write them with --output DIR or --push REF"
        );
    }
    let helds: Vec<_> = reports.iter_mut().map(|r| r.held.take()).collect();
    let mut builts: Vec<_> = (reports.iter().zip(helds))
        .map(|(r, h)| built_of(r, h))
        .collect();
    let published = crate::publish::publish_index(cache, &mut builts, publish)?;
    let helds = builts.iter_mut().filter_map(|b| b.held.take()).collect();
    drop(builts);
    Ok((reports, published, helds))
}

fn share(cache: &Cache, sharing: &Sharing) {
    if let Some(to) = sharing.to {
        crate::publish::share_cache(cache, to, sharing.quiet);
    }
}

/// The image as publishing takes it: `held`, the engine's hold on it.
fn built_of(report: &BuildReport, held: Option<HeldImage>) -> Built<'_> {
    Built {
        image: &report.image,
        debug: report.debug.as_ref(),
        sbom: &report.sbom,
        held,
    }
}
