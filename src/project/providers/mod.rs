//! Detection as providers: one file per framework, server config or hint
//! file, each answering "is this app mine, and how does it start?". The
//! command providers are consulted in [`COMMANDS`] order and the first that
//! claims the app decides the command; the port comes from the first of
//! [`PORTS`] that finds one, else from the claiming provider's default, else
//! 8000. Every answer carries the rule that made it, which the build prints.

mod asgi_wsgi;
mod dash;
mod django;
mod dockerfile;
mod gradio;
mod gunicorn_config;
mod procfile;
mod python_main;
mod scripts;
mod streamlit;

pub use asgi_wsgi::{AppObject, Kind, app_objects};

use super::plan::Decided;
use super::pyproject::Pyproject;
use anyhow::Result;
use std::path::Path;

/// What providers look at: the app's directory, its pyproject and the
/// normalized names of its direct dependencies.
pub struct AppContext<'a> {
    pub dir: &'a Path,
    pub pyproject: &'a Pyproject,
    pub dependencies: &'a [String],
}

impl AppContext<'_> {
    /// Whether `name` (normalized) is a direct dependency.
    pub fn has(&self, name: &str) -> bool {
        self.dependencies.iter().any(|d| d == name)
    }

    /// The text of `rel` in the app dir, if it is a readable regular file.
    pub fn read(&self, rel: &str) -> Option<String> {
        crate::project::text_if_regular(&self.dir.join(rel))
    }
}

/// How the app starts: its command, and environment it needs in the image
/// (`GRADIO_SERVER_NAME=0.0.0.0`…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    /// `argv` is pypack's launcher running a chain of steps.
    pub launcher: bool,
    /// One of the steps is a known HTTP server.
    pub serves_http: bool,
}

impl Start {
    pub fn argv(argv: Vec<String>) -> Start {
        Start {
            serves_http: serves_http(&argv),
            argv,
            env: Vec::new(),
            launcher: false,
        }
    }

    fn with_env(mut self, name: &str, value: impl Into<String>) -> Start {
        self.env.push((name.to_string(), value.into()));
        self
    }
}

/// How a provider starts the app, once the port is known.
pub type Launch = Box<dyn Fn(u16) -> Start>;

/// Words of a command written as one string.
fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|w| w.to_string()).collect()
}

/// A command provider's claim on the app.
pub struct Claim {
    /// Which provider and why, e.g. `Django: manage.py and mysite.settings`.
    pub rule: String,
    /// The port the framework listens on by default (Streamlit 8501…).
    pub default_port: Option<u16>,
    pub launch: Launch,
    /// The command serves HTTP (a script may be a worker or a CLI instead).
    pub web: bool,
    /// A `Host` header the app accepts, for the smoke run.
    pub smoke_host: Option<String>,
    /// Work done at build time in the image (Django's collectstatic).
    pub steps: Vec<BuildStep>,
    /// Directories under /app the app writes to, and why.
    pub writable: Vec<Decided<String>>,
    /// Things to tell the user (a dev server started for want of another…).
    pub warnings: Vec<String>,
}

impl Claim {
    fn new(rule: String, launch: impl Fn(u16) -> Start + 'static) -> Claim {
        Claim {
            rule,
            default_port: None,
            launch: Box::new(launch),
            web: true,
            smoke_host: None,
            steps: Vec::new(),
            writable: Vec::new(),
            warnings: Vec::new(),
        }
    }

    fn writable(mut self, dir: &str, why: String) -> Claim {
        self.writable.push(Decided {
            value: dir.to_string(),
            rule: why,
        });
        self
    }

    fn port(mut self, port: u16) -> Claim {
        self.default_port = Some(port);
        self
    }
}

/// Work a provider asks to be done at build time, in a container of the
/// image, whose output becomes a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildStep {
    /// `manage.py collectstatic` with these settings.
    Collectstatic { settings_module: String },
}

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
        name: "Dash",
        claim: dash::claim,
    },
    CommandProvider {
        name: "ASGI/WSGI app",
        claim: asgi_wsgi::claim,
    },
    CommandProvider {
        name: "[project.scripts]",
        claim: scripts::claim,
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

/// The first command provider that claims the app, with its name.
pub fn claim(ctx: &AppContext) -> Result<Option<(&'static str, Claim)>> {
    for provider in COMMANDS {
        if let Some(mut claim) = (provider.claim)(ctx)? {
            // A Django project needs its static files and Host whatever starts it.
            if let Some(project) = django::project(ctx) {
                claim = django::with_django_extras(claim, &project);
            }
            return Ok(Some((provider.name, claim)));
        }
    }
    Ok(None)
}

/// What the app's kind adds whatever decided its command (also `--cmd`):
/// for a Django project, collectstatic, the smoke run's Host, a warning.
pub fn aspects(ctx: &AppContext) -> Claim {
    let claim = Claim::new(String::new(), |_| Start::argv(Vec::new()));
    match django::project(ctx) {
        Some(project) => django::with_django_extras(claim, &project),
        None => claim,
    }
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

/// A command line as a Procfile or `[tool.pypack] cmd` writes it: one
/// command runs as it is (`$PORT` filled in now); a chain (`a && b`, `cd`,
/// `VAR=value`, other `$VAR`s) runs through pypack's launcher.
pub fn start_from_line(line: &str, port: u16) -> Result<Start> {
    let steps = crate::project::chain::parse(line)?;
    if !crate::project::chain::needs_launcher(&steps) {
        let argv = steps[0]
            .argv
            .iter()
            .map(|a| procfile::substitute_port(a, port))
            .collect();
        return Ok(Start::argv(argv));
    }
    Ok(Start {
        argv: crate::project::chain::launcher_command(&steps),
        env: Vec::new(),
        launcher: true,
        serves_http: steps.iter().any(|s| serves_http(&s.argv)),
    })
}

/// Programs that serve HTTP when they run an app.
pub const SERVERS: &[&str] = &[
    "gunicorn",
    "uvicorn",
    "hypercorn",
    "daphne",
    "granian",
    "waitress-serve",
    "streamlit",
    "sanic",
    "fastapi",
    "flask",
    "panel",
    "bokeh",
    "litestar",
];

/// Whether `argv` starts a known HTTP server.
pub fn serves_http(argv: &[String]) -> bool {
    let Some(first) = argv.first() else {
        return false;
    };
    let program = first.rsplit('/').next().unwrap_or(first);
    if program.starts_with("python") {
        // `python -m gunicorn …`, `python manage.py runserver`
        return argv
            .windows(2)
            .any(|w| w[0] == "-m" && SERVERS.contains(&w[1].as_str()))
            || argv.iter().any(|a| a == "runserver");
    }
    SERVERS.contains(&program)
}

/// The leading digits of `text` as a port.
fn leading_number(text: &str) -> Option<u16> {
    let digits: String = text
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok().filter(|p| *p > 0)
}

/// The port in a `--bind`/`-b`/`--port` style argument text, if any.
fn port_in_flags(text: &str) -> Option<u16> {
    for pattern in [
        "--port ",
        "--port=",
        "--server.port ",
        "--server.port=",
        "--server-port ",
        "--bind 0.0.0.0:",
        "--bind=0.0.0.0:",
        "-b 0.0.0.0:",
        "--bind :",
        "-b :",
        "-p ",
        "0.0.0.0:",
    ] {
        if let Some(port) = text.split(pattern).nth(1).and_then(leading_number) {
            return Some(port);
        }
    }
    None
}

#[cfg(test)]
mod tests;
