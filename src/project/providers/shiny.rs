//! Shiny for Python apps: `shiny run FILE` (core apps with `app = App(…)`
//! and Shiny Express scripts alike), on every address and the decided port.

use super::common::{AppContext, Claim, Start, words};
use anyhow::Result;

/// Where Shiny apps usually start (`shiny run` looks for app.py), before
/// any other script importing it.
const ENTRIES: &[&str] = &[
    "app.py",
    "app-core.py",
    "app_core.py",
    "app-express.py",
    "app_express.py",
];

pub fn claim(ctx: &AppContext) -> Result<Option<Claim>> {
    if !ctx.has("shiny") {
        return Ok(None);
    }
    let Some(entry) = super::runners::entry_importing(ctx, "shiny", ENTRIES) else {
        return Ok(None);
    };
    let rule = format!("Shiny: shiny in the dependencies and {entry} imports it");
    Ok(Some(Claim::new(rule, move |port| {
        Start::argv(words(&[
            "shiny",
            "run",
            "--host",
            "0.0.0.0",
            "--port",
            &port.to_string(),
            &entry,
        ]))
    })))
}
