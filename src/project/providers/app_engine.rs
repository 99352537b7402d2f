//! Google App Engine: `app.yaml`'s `entrypoint` for a Python runtime (it
//! listens on `$PORT`). With none, App Engine runs gunicorn on `main:app`,
//! which the ASGI/WSGI provider finds by itself.

use super::common::{AppContext, Claim};
use super::platform_files::{claim_for, command_of_yaml, yaml};
use anyhow::Result;

/// Google App Engine: `entrypoint` in `app.yaml` (a Python runtime's).
pub fn claim(ctx: &AppContext) -> Result<Option<Claim>> {
    let Some(doc) = yaml(ctx, "app.yaml") else {
        return Ok(None);
    };
    let python = doc["runtime"]
        .as_str()
        .is_some_and(|r| r.starts_with("python"));
    let command = command_of_yaml(&doc["entrypoint"]).filter(|_| python);
    Ok(command.and_then(|c| claim_for(&c, "app.yaml: entrypoint (App Engine)".into())))
}
