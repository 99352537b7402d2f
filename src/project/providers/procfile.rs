//! `Procfile` (Heroku-style platforms): the `web:` process is the command;
//! `$PORT` is the port pypack decides (no shell runs in the image, so it is
//! substituted at build time); a port written into its flags is the port.

use super::common::{AppContext, Claim, leading_number, port_in_flags, start_from_line};
use super::declared::processes;
use crate::project::decided::Decided;
use anyhow::{Context, Result};

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

/// The Procfile's process types besides `web` and `release` (which is not
/// run at all), each as (name, command line); and a warning for each line
/// pypack cannot run (a shell's syntax, an odd name): those are left out,
/// not an error, since an app that only needs `web` built before they
/// were run at all.
pub fn other_processes(ctx: &AppContext) -> (Vec<(String, String)>, Vec<String>) {
    let (mut others, mut warnings) = (Vec::new(), Vec::new());
    for (name, command) in processes(ctx) {
        if name == "web" || name == "release" {
            continue;
        }
        let checked = crate::project::plan::check_process_name(&name)
            .and_then(|()| crate::project::chain::parse(&command).map(|_| ()));
        match checked {
            Ok(()) => others.push((name, command)),
            Err(e) => warnings.push(format!(
                "Procfile {name}: left out of the image's process types: {e:#}"
            )),
        }
    }
    (others, warnings)
}
