//! `Procfile` (Heroku-style platforms): the `web:` process is the command;
//! `$PORT` is the port pypack decides (no shell runs in the image, so it is
//! substituted at build time); a port written into its flags is the port.

use super::{AppContext, Claim, leading_number, port_in_flags, start_from_line};
use crate::project::decided::Decided;
use anyhow::{Context, Result};

/// The `name:` lines of the app's Procfile, in order.
pub fn processes(ctx: &AppContext) -> Vec<(String, String)> {
    let Some(text) = ctx.read("Procfile") else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let (name, command) = l.split_once(':')?;
            let name = name.trim();
            (!name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-'))
            .then(|| (name.to_string(), command.trim().to_string()))
        })
        .collect()
}

fn web(ctx: &AppContext) -> Option<String> {
    processes(ctx)
        .into_iter()
        .find(|(n, _)| n == "web")
        .map(|(_, c)| c)
}

pub fn claim(ctx: &AppContext) -> Result<Option<Claim>> {
    let Some(web) = web(ctx) else {
        return Ok(None);
    };
    // Checked now, so a bad line is an error naming the file.
    let checked = start_from_line(&web, 8000).context("Procfile web:")?;
    let rule = if checked.launcher {
        "Procfile web: line (a chain of steps, run by pypack's launcher: no shell in the image)"
    } else {
        "Procfile web: line"
    };
    let mut claim = Claim::new(rule.into(), move |port| {
        start_from_line(&web, port).expect("checked above")
    });
    for (name, command) in processes(ctx) {
        if name == "release" {
            claim.warnings.push(format!(
                "Procfile release: `{command}` is not run (no release phase at build time: no database, no network); run it where you deploy"
            ));
        }
    }
    Ok(Some(claim))
}

pub fn port(ctx: &AppContext) -> Result<Option<Decided<u16>>> {
    let Some(web) = web(ctx) else {
        return Ok(None);
    };
    // A default in `${PORT:-5000}` is the port too.
    let default = web.split("${PORT:-").nth(1).and_then(leading_number);
    Ok(port_in_flags(&web).or(default).map(|port| Decided {
        value: port,
        rule: "Procfile web: line".into(),
    }))
}
