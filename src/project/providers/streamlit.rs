//! Streamlit apps: `streamlit run FILE`, on port 8501 unless
//! `.streamlit/config.toml` says otherwise, listening on every address.

use super::{AppContext, Claim, Start, words};
use crate::project::plan::Decided;
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

fn imports(text: &str, module: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with(&format!("import {module}")) || l.starts_with(&format!("from {module}"))
    })
}

/// The script that imports `module`: a usual entry name first, else the
/// first top-level script that does.
pub fn entry_importing(ctx: &AppContext, module: &str, usual: &[&str]) -> Option<String> {
    for name in usual {
        if ctx.read(name).is_some_and(|t| imports(&t, module)) {
            return Some(name.to_string());
        }
    }
    let mut scripts: Vec<String> = std::fs::read_dir(ctx.dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".py") && !n.starts_with("test_") && !n.ends_with("_test.py"))
        .collect();
    scripts.sort();
    scripts
        .into_iter()
        .find(|n| ctx.read(n).is_some_and(|t| imports(&t, module)))
}

pub fn claim(ctx: &AppContext) -> Result<Option<Claim>> {
    if !ctx.has("streamlit") {
        return Ok(None);
    }
    let Some(entry) = entry_importing(ctx, "streamlit", ENTRIES) else {
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
