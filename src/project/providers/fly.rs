//! Fly.io: `fly.toml`'s `[processes]` (the group its HTTP service runs)
//! or `[experimental] cmd`; `internal_port` is the port.

use super::common::{AppContext, Claim};
use super::platform_files::{claim_for, command_of_toml, toml_of};
use crate::project::decided::Decided;
use anyhow::Result;

/// Fly.io: the process group the HTTP service runs (`app` by default),
/// else `[experimental] cmd`.
pub fn claim(ctx: &AppContext) -> Result<Option<Claim>> {
    let Some(doc) = toml_of(ctx, "fly.toml") else {
        return Ok(None);
    };
    if let Some(processes) = doc.get("processes").and_then(|p| p.as_table()) {
        let served: Option<String> = doc
            .get("http_service")
            .and_then(|h| h.get("processes"))
            .and_then(|p| p.as_array())
            .and_then(|p| p.first())
            .and_then(|p| p.as_str())
            .map(str::to_string);
        let group = served
            .filter(|g| processes.contains_key(g))
            .or_else(|| processes.contains_key("app").then(|| "app".to_string()))
            .or_else(|| processes.keys().next().cloned());
        if let Some(group) = group
            && let Some(command) = processes.get(&group).and_then(command_of_toml)
        {
            return Ok(claim_for(
                &command,
                format!("fly.toml: [processes] {group}"),
            ));
        }
    }
    let command = doc
        .get("experimental")
        .and_then(|e| e.get("cmd"))
        .and_then(command_of_toml);
    Ok(command.and_then(|c| claim_for(&c, "fly.toml: [experimental] cmd".into())))
}

/// Fly.io's `internal_port` (of `[http_service]`, else the first `[[services]]`).
pub fn port(ctx: &AppContext) -> Result<Option<Decided<u16>>> {
    let Some(doc) = toml_of(ctx, "fly.toml") else {
        return Ok(None);
    };
    let port = doc
        .get("http_service")
        .and_then(|h| h.get("internal_port"))
        .or_else(|| {
            doc.get("services")?
                .as_array()?
                .first()?
                .get("internal_port")
        })
        .and_then(|p| p.as_integer())
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0);
    Ok(port.map(|value| Decided {
        value,
        rule: "internal_port in fly.toml".into(),
    }))
}
