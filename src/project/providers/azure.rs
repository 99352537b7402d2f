//! Azure App Service: the startup command file an app keeps beside its
//! code (`startup.txt`, or a `startup.sh` of plain lines, run in order).

use super::common::{AppContext, Claim};
use super::platform_files::claim_for;
use anyhow::Result;

/// Azure App Service: the startup command file an app keeps beside its
/// code (`startup.txt`, or a `startup.sh` of simple lines, run in order).
pub fn claim(ctx: &AppContext) -> Result<Option<Claim>> {
    for file in ["startup.txt", "startup.sh"] {
        let Some(text) = ctx.read(file) else {
            continue;
        };
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("set "))
            .collect();
        if lines.is_empty() {
            continue;
        }
        let chain = lines.join(" && ");
        let rule = format!("{file}: the App Service startup command");
        return Ok(claim_for(&chain, rule));
    }
    Ok(None)
}
