//! Several platforms in one run: this machine's first (its interpreter
//! compiles the others' bytecode, its smoke run and build steps are
//! followed by theirs).

use super::report::BuildReport;
use super::request::BuildRequest;
use crate::base::Recipe;
use crate::cache::Cache;
use crate::platform::{Platform, PlatformChoice};
use anyhow::{Context, Result};

/// [`build`] once per platform `choice` names (`all`: every platform the
/// base offers), this machine's first: its base's interpreter compiles the
/// bytecode of the others. The reports come in the order asked for.
pub(super) fn each_platform(
    request: &BuildRequest,
    choice: &PlatformChoice,
    cache: &Cache,
    build: impl Fn(&BuildRequest, &Cache) -> Result<BuildReport>,
) -> Result<Vec<BuildReport>> {
    let platforms = platforms_of(request, choice)?;
    let host = Platform::host();
    let mut order: Vec<usize> = (0..platforms.len()).collect();
    order.sort_by_key(|&i| platforms[i] != host);
    let mut reports: Vec<Option<BuildReport>> = platforms.iter().map(|_| None).collect();
    let first = order.first().copied();
    for i in order {
        let mut one = request.clone();
        one.base.platform = platforms[i];
        one.plan_warnings = request.plan_warnings && Some(i) == first;
        if platforms[i] != host {
            let host_report = reports.iter().flatten().find(|r| r.image.platform == host);
            one.host_steps = host_report.map(|r| (host, r.step_layers.clone()));
            one.host_smoke = host_report
                .and_then(|r| r.smoke.as_ref())
                .map(|o| o.observed().clone());
        }
        let report =
            build(&one, cache).with_context(|| format!("building for {}", platforms[i]))?;
        reports[i] = Some(report);
    }
    Ok(reports.into_iter().flatten().collect())
}

/// The platforms `choice` names, checked against those the base offers.
pub(super) fn platforms_of(
    request: &BuildRequest,
    choice: &PlatformChoice,
) -> Result<Vec<Platform>> {
    if let PlatformChoice::List(list) = choice
        && list.len() == 1
    {
        return Ok(list.clone());
    }
    match &request.base_image {
        Some((reference, plain_http)) => {
            let offered = crate::base::pulled::platforms_offered(reference, *plain_http)?;
            choice.within(&offered, &format!("the base {reference}"))
        }
        None => {
            let decided = crate::project::plan::recipe_for(request.app_dir, &request.overrides)?;
            let recipe = Recipe::load(&decided.recipe.value)?;
            let offered: Vec<Platform> = Platform::ALL
                .into_iter()
                .filter(|p| recipe.architectures.iter().any(|a| a == p.debian_arch()))
                .collect();
            choice.within(&offered, &format!("recipe {}", recipe.name))
        }
    }
}
