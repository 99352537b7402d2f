//! Detection as providers: one file per framework, server config or hint
//! file, each answering "is this app mine, and how does it start?". The
//! command providers are consulted in [`COMMANDS`] order and the first that
//! claims the app decides the command; the port comes from the first of
//! [`PORTS`] that finds one, else from the claiming provider's default, else
//! 8000. Every answer carries the rule that made it, which the build prints.

mod aiohttp;
mod app_engine;
mod asgi_wsgi;
mod azure;
mod common;
mod dash;
mod declared;
mod digitalocean;
mod django;
mod dockerfile;
mod fly;
mod gradio;
mod gunicorn_config;
mod module_main;
mod platform_files;
mod procfile;
mod python_main;
mod railway;
mod render;
mod runners;
mod scripts;
mod shiny;
mod streamlit;

pub use asgi_wsgi::{AppObject, Kind, app_objects};
pub use common::{
    AppContext, BuildStep, Claim, Installed, Launch, SERVERS, Start, package_missing_for,
    server_package, serves_http, start_from_line,
};
pub use django::MIGRATIONS_NOTE;
pub use procfile::other_processes;

use super::decided::Decided;
use anyhow::Result;

/// A command provider.
pub struct CommandProvider {
    pub name: &'static str,
    pub claim: fn(&AppContext) -> Result<Option<Claim>>,
}

/// The command providers, most explicit first.
pub const COMMANDS: &[CommandProvider] = &[
    CommandProvider {
        name: "Procfile",
        claim: procfile::claim,
    },
    CommandProvider {
        name: "render.yaml",
        claim: render::claim,
    },
    CommandProvider {
        name: "Railway",
        claim: railway::claim,
    },
    CommandProvider {
        name: "fly.toml",
        claim: fly::claim,
    },
    CommandProvider {
        name: "App Engine",
        claim: app_engine::claim,
    },
    CommandProvider {
        name: "Azure startup file",
        claim: azure::claim,
    },
    CommandProvider {
        name: "DigitalOcean app spec",
        claim: digitalocean::claim,
    },
    CommandProvider {
        name: "Dockerfile",
        claim: dockerfile::claim,
    },
    CommandProvider {
        name: "Django",
        claim: django::claim,
    },
    CommandProvider {
        name: "Streamlit",
        claim: streamlit::claim,
    },
    CommandProvider {
        name: "Gradio",
        claim: gradio::claim,
    },
    CommandProvider {
        name: "Shiny",
        claim: shiny::claim,
    },
    CommandProvider {
        name: "Dash",
        claim: dash::claim,
    },
    CommandProvider {
        name: "ASGI/WSGI app",
        claim: asgi_wsgi::claim,
    },
    CommandProvider {
        name: "aiohttp",
        claim: aiohttp::claim,
    },
    CommandProvider {
        name: "[project.scripts]",
        claim: scripts::claim,
    },
    CommandProvider {
        name: "python -m package",
        claim: module_main::claim,
    },
    CommandProvider {
        name: "python script",
        claim: python_main::claim,
    },
];

/// A port provider: where the app says which port it listens on.
pub struct PortProvider {
    pub name: &'static str,
    pub port: fn(&AppContext) -> Result<Option<Decided<u16>>>,
}

/// The port providers, most explicit first.
pub const PORTS: &[PortProvider] = &[
    PortProvider {
        name: "Procfile",
        port: procfile::port,
    },
    PortProvider {
        name: "fly.toml",
        port: fly::port,
    },
    PortProvider {
        name: "DigitalOcean app spec",
        port: digitalocean::port,
    },
    PortProvider {
        name: "gunicorn config",
        port: gunicorn_config::port,
    },
    PortProvider {
        name: "Streamlit config",
        port: streamlit::port,
    },
    PortProvider {
        name: "Dockerfile",
        port: dockerfile::port,
    },
    PortProvider {
        name: "app.run(port=…)",
        port: python_main::port,
    },
];

/// The first command provider that claims the app, with its name. A
/// claim wanting a server that is not installed is taken when the server
/// may be added (`may_add_server`: the build adds it and asks again);
/// otherwise only when it starts without one (a development server).
pub fn claim(ctx: &AppContext, may_add_server: bool) -> Result<Option<(&'static str, Claim)>> {
    for provider in COMMANDS {
        let Some(mut claim) = (provider.claim)(ctx)? else {
            continue;
        };
        if claim.missing_server.is_some() && !may_add_server && !claim.starts_without_server {
            continue;
        }
        if claim.missing_server.is_none() {
            claim.missing_server = package_missing_for(&(claim.launch)(8000), ctx.installed);
        }
        return Ok(Some((provider.name, with_aspects(ctx, claim))));
    }
    Ok(None)
}

/// What the app's kind adds whatever decided its command (also `--cmd`):
/// see [`with_aspects`].
pub fn aspects(ctx: &AppContext) -> Claim {
    with_aspects(ctx, Claim::new(String::new(), |_| Start::argv(Vec::new())))
}

/// What is known of the app whichever rule chose its command: a Django
/// project's static files, Host and database directories; a Flask app's
/// instance folder; Gradio's directories.
fn with_aspects(ctx: &AppContext, mut claim: Claim) -> Claim {
    if let Some(project) = django::project(ctx) {
        claim = django::with_django_extras(claim, &project);
    }
    claim = asgi_wsgi::with_instance_folder(ctx, claim);
    gradio::with_gradio_dirs(ctx, claim)
}

/// The first port a port provider finds.
pub fn port(ctx: &AppContext) -> Result<Option<Decided<u16>>> {
    for provider in PORTS {
        if let Some(port) = (provider.port)(ctx)? {
            return Ok(Some(port));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests;
