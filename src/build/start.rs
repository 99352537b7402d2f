//! The start stage: with the pins in hand, how the app starts (the rules
//! are `project::start`'s). When the rule that claims the app wants a
//! production server that resolution did not install (a Flask app with no
//! gunicorn, a FastAPI app with no uvicorn), the server is added to the
//! pins, as constraints around them, and the start decided again.

use crate::cache::Cache;
use crate::project::plan::Plan;
use crate::project::providers::Installed;
use crate::project::start::{StartInputs, Started, start};
use crate::resolve::Pin;
use crate::resolve::app::{LockRequest, add_to_pins};
use anyhow::Result;

/// Whether a server may be added, and what else the start needs.
pub struct StartStage<'a> {
    pub plan: &'a Plan,
    /// Normalized names of the direct requirements, with `name[extra]`s.
    pub dependencies: &'a [String],
    /// `--server none` (keep the framework's own) or `--locked` (nothing
    /// but the lock) say no.
    pub may_add_server: bool,
    /// Why a server may not be added, for the warning (`--locked`…).
    pub no_server_because: Option<&'static str>,
    pub as_root: bool,
    pub lock_request: &'a LockRequest<'a>,
    pub cache: &'a Cache,
}

/// The pins (with an added server's), how the app starts, and the server
/// added, if one was.
pub struct Decision {
    pub pins: Vec<Pin>,
    pub started: Started,
    pub added: Option<AddedServer>,
}

/// A production server pypack added to the resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedServer {
    pub name: String,
    pub version: String,
    pub why: String,
}

/// What resolution installs, as the providers see it.
pub fn installed_of(pins: &[Pin], dependencies: &[String]) -> Installed {
    Installed::new(
        pins.iter()
            .map(|p| (p.name.clone(), p.version.clone(), p.dependencies.clone())),
        dependencies,
    )
}

pub fn decide(stage: &StartStage, pins: Vec<Pin>) -> Result<Decision> {
    let inputs = |installed, may_add_server| StartInputs {
        dependencies: stage.dependencies,
        installed,
        may_add_server,
        as_root: stage.as_root,
    };
    let installed = installed_of(&pins, stage.dependencies);
    let wanting = start(stage.plan, &inputs(&installed, true))?;
    let Some(server) = wanting.missing_server else {
        return Ok(Decision {
            pins,
            started: wanting,
            added: None,
        });
    };
    if !stage.may_add_server {
        let mut started = start(stage.plan, &inputs(&installed, false))?;
        if let Some(because) = stage.no_server_because {
            started.warnings.push(format!(
                "{because}: no {server} is added, so the app starts with `{}` ({})",
                started.cmd.value.join(" "),
                started.cmd.rule
            ));
        }
        return Ok(Decision {
            pins,
            started,
            added: None,
        });
    }
    let why = match server {
        "gunicorn" => "no WSGI server among the resolved packages",
        "uvicorn" => "no ASGI server among the resolved packages",
        _ => "the command runs it and no requirement installs it",
    };
    match add_to_pins(stage.lock_request, stage.cache, &pins, server, why) {
        Ok(with_server) => {
            let mut installed = installed_of(&with_server, stage.dependencies);
            installed.mark_added(server, why);
            let started = start(stage.plan, &inputs(&installed, false))?;
            let version = installed
                .version(server)
                .map(|v| v.to_string())
                .unwrap_or_default();
            Ok(Decision {
                pins: with_server,
                started,
                added: Some(AddedServer {
                    name: server.to_string(),
                    version,
                    why: format!("{why}; --server none keeps the framework's own"),
                }),
            })
        }
        Err(e) => {
            let mut started =
                start(stage.plan, &inputs(&installed, false)).map_err(|no_start| {
                    anyhow::anyhow!("{no_start:#} ({server} could not be added: {e:#})")
                })?;
            started.warnings.push(format!(
                "{server} could not be added ({e:#}); the app starts with `{}` instead",
                started.cmd.value.join(" ")
            ));
            Ok(Decision {
                pins,
                started,
                added: None,
            })
        }
    }
}
