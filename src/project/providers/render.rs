//! Render Blueprints: `render.yaml`'s web service `startCommand` (Render
//! sets `PORT`).

use super::common::{AppContext, Claim};
use super::platform_files::{claim_for, command_of_yaml, yaml};
use anyhow::Result;

/// Render: the first web service (Python or unsaid runtime, no other
/// `rootDir`) with a `startCommand`.
pub fn claim(ctx: &AppContext) -> Result<Option<Claim>> {
    let Some(doc) = yaml(ctx, "render.yaml") else {
        return Ok(None);
    };
    let Some(services) = doc["services"].as_vec() else {
        return Ok(None);
    };
    let found = services.iter().find_map(|service| {
        let web = matches!(service["type"].as_str(), Some("web") | Some("web_service"));
        let runtime = service["runtime"].as_str().or(service["env"].as_str());
        let python = runtime.is_none_or(|r| r.starts_with("python"));
        let root = service["rootDir"].as_str().unwrap_or(".").trim_matches('/');
        let here = root.is_empty() || root == ".";
        (web && python && here)
            .then(|| command_of_yaml(&service["startCommand"]))
            .flatten()
            .map(|command| {
                (
                    service["name"].as_str().unwrap_or("web").to_string(),
                    command,
                )
            })
    });
    Ok(found.and_then(|(name, command)| {
        claim_for(
            &command,
            format!("render.yaml: startCommand of the web service '{name}'"),
        )
    }))
}
