//! Streamlit apps: `streamlit run FILE`, on port 8501 unless
//! `.streamlit/config.toml` says otherwise, listening on every address.

use super::common::{AppContext, Claim, Start, words};
use crate::project::decided::Decided;
use anyhow::{Context, Result};

/// Where Streamlit apps usually start, before any other script importing it.
const ENTRIES: &[&str] = &[
    "streamlit_app.py",
    "app.py",
    "main.py",
    "Home.py",
    "Hello.py",
    "dashboard.py",
];

pub fn claim(ctx: &AppContext) -> Result<Option<Claim>> {
    if !ctx.has("streamlit") {
        return Ok(None);
    }
    let Some(entry) = super::runners::entry_importing(ctx, "streamlit", ENTRIES) else {
        return Ok(None);
    };
    let rule = format!("Streamlit: streamlit in the dependencies and {entry} imports it");
    Ok(Some(
        Claim::new(rule, move |port| {
            Start::argv(words(&[
                "streamlit",
                "run",
                &entry,
                "--server.port",
                &port.to_string(),
                "--server.address",
                "0.0.0.0",
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ]))
        })
        .port(8501),
    ))
}

/// `[server] port` in `.streamlit/config.toml`.
pub fn port(ctx: &AppContext) -> Result<Option<Decided<u16>>> {
    let Some(text) = ctx.read(".streamlit/config.toml") else {
        return Ok(None);
    };
    let doc: toml::Table = toml::from_str(&text).with_context(|| {
        format!(
            "{} is not valid TOML",
            ctx.dir.join(".streamlit/config.toml").display()
        )
    })?;
    let port = doc
        .get("server")
        .and_then(|s| s.get("port"))
        .and_then(|p| p.as_integer())
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0);
    Ok(port.map(|value| Decided {
        value,
        rule: "[server] port in .streamlit/config.toml".into(),
    }))
}
