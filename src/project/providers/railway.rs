//! Railway: `deploy.startCommand` of `railway.json` or `railway.toml`
//! (Railway sets `PORT`).

use super::common::{AppContext, Claim};
use super::platform_files::{claim_for, toml_of};
use anyhow::Result;

/// Railway: `deploy.startCommand` of `railway.json` or `railway.toml`.
pub fn claim(ctx: &AppContext) -> Result<Option<Claim>> {
    if let Some(text) = ctx.read("railway.json")
        && let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text)
        && let Some(command) = doc["deploy"]["startCommand"].as_str()
    {
        return Ok(claim_for(
            command,
            "railway.json: deploy.startCommand".into(),
        ));
    }
    let command = toml_of(ctx, "railway.toml").and_then(|doc| {
        doc.get("deploy")?
            .get("startCommand")?
            .as_str()
            .map(str::to_string)
    });
    Ok(command.and_then(|c| claim_for(&c, "railway.toml: [deploy] startCommand".into())))
}
