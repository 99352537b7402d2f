//! What every provider answers with, and the helpers two or more of them
//! share: the app as providers see it ([`AppContext`], [`Installed`]), a
//! claim on it ([`Claim`], [`Start`], [`BuildStep`]), and reading start
//! commands and ports out of command lines. Providers import this, never
//! the table in `mod.rs` nor one another.

use crate::project::decided::Decided;
use crate::project::pyproject::Pyproject;
use anyhow::Result;
use pep440_rs::Version;
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

/// What providers look at: the app's directory, its pyproject, the
/// normalized names of its direct dependencies, and what resolution
/// installs (versions, dependencies of dependencies included).
pub struct AppContext<'a> {
    pub dir: &'a Path,
    pub pyproject: &'a Pyproject,
    /// Direct dependencies, and `name[extra]` for each extra asked for.
    pub dependencies: &'a [String],
    pub installed: &'a Installed,
}

/// The packages the image's venv holds, by normalized name: what the
/// commands providers choose must exist in these versions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Installed {
    versions: BTreeMap<String, Version>,
    /// For a package no requirement names: a package that depends on it.
    brought_by: BTreeMap<String, String>,
    /// Packages pypack added to the resolution, and why.
    added: BTreeMap<String, String>,
    /// What the requirements name.
    direct: std::collections::BTreeSet<String>,
}

impl Installed {
    /// From the pins: `(name, version, names of its dependencies)`, and
    /// the names the app's requirements give.
    pub fn new(
        pins: impl IntoIterator<Item = (String, Version, Vec<String>)>,
        direct: &[String],
    ) -> Installed {
        let mut versions = BTreeMap::new();
        let mut needs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, version, dependencies) in pins {
            versions.insert(name.clone(), version);
            needs.insert(name, dependencies);
        }
        // Breadth first from what the requirements name: the nearest
        // package that brings each other one.
        let mut brought_by = BTreeMap::new();
        let mut queue: std::collections::VecDeque<String> = direct
            .iter()
            .filter(|d| versions.contains_key(*d))
            .cloned()
            .collect();
        let mut seen: std::collections::BTreeSet<String> = queue.iter().cloned().collect();
        while let Some(name) = queue.pop_front() {
            for dependency in needs.get(&name).into_iter().flatten() {
                if seen.insert(dependency.clone()) {
                    brought_by.insert(dependency.clone(), name.clone());
                    queue.push_back(dependency.clone());
                }
            }
        }
        Installed {
            versions,
            brought_by,
            added: BTreeMap::new(),
            direct: direct.iter().cloned().collect(),
        }
    }

    /// For tests: `name` or `name==version` (else version 99), each with
    /// no dependencies, all direct.
    #[cfg(test)]
    pub fn of(packages: &[&str]) -> Installed {
        let pins: Vec<(String, Version, Vec<String>)> = packages
            .iter()
            .filter(|p| !p.contains('['))
            .map(|p| {
                let (name, version) = p.split_once("==").unwrap_or((p, "99"));
                (
                    name.to_string(),
                    Version::from_str(version).unwrap(),
                    Vec::new(),
                )
            })
            .collect();
        let direct: Vec<String> = pins.iter().map(|(n, _, _)| n.clone()).collect();
        Installed::new(pins, &direct)
    }

    /// Records that pypack added `name` to the resolution, and why.
    pub fn mark_added(&mut self, name: &str, why: &str) {
        self.added.insert(name.to_string(), why.to_string());
    }

    pub fn version(&self, name: &str) -> Option<&Version> {
        self.versions.get(name)
    }

    pub fn is_empty(&self) -> bool {
        self.versions.is_empty()
    }

    /// How `name` came to be installed, for a rule: `from the dependencies`,
    /// `which quart brings`, `added by pypack (…)`.
    pub fn origin(&self, name: &str) -> String {
        if let Some(why) = self.added.get(name) {
            return format!("added by pypack ({why})");
        }
        match self.brought_by.get(name) {
            Some(parent) => format!("which {parent} brings"),
            // Pinned, yet nothing the app requires needs it: a lock's.
            None if !self.direct.contains(name) => "from the lock".into(),
            None => "from the dependencies".into(),
        }
    }
}

impl AppContext<'_> {
    /// Whether `name` (normalized) is installed or a direct dependency
    /// (`fastapi[standard]` style names are only the latter).
    pub fn has(&self, name: &str) -> bool {
        self.declares(name) || self.installed.version(name).is_some()
    }

    /// Whether a requirement of the app names `name`.
    pub fn declares(&self, name: &str) -> bool {
        self.dependencies.iter().any(|d| d == name)
    }

    /// Whether the installed `name` is at least `version`; a package whose
    /// version is not known (nothing resolved yet) counts as current.
    pub fn at_least(&self, name: &str, version: &str) -> bool {
        let wanted = Version::from_str(version).expect("a valid version");
        self.installed
            .version(name)
            .is_none_or(|installed| installed.only_release() >= wanted)
    }

    /// `gunicorn 23.0.0 from the dependencies`: a package as a rule says it.
    pub fn described(&self, name: &str) -> String {
        match self.installed.version(name) {
            Some(version) => format!("{name} {version} {}", self.installed.origin(name)),
            None => format!("{name} {}", self.installed.origin(name)),
        }
    }

    /// The text of `rel` in the app dir, if it is a readable regular file.
    pub fn read(&self, rel: &str) -> Option<String> {
        crate::project::text::text_if_regular(&self.dir.join(rel))
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
    /// The program each step runs (`python -m X` counts as `X`).
    pub programs: Vec<String>,
}

impl Start {
    pub fn argv(argv: Vec<String>) -> Start {
        Start {
            serves_http: serves_http(&argv),
            programs: program_of(&argv).into_iter().collect(),
            argv,
            env: Vec::new(),
            launcher: false,
        }
    }

    pub(super) fn with_env(mut self, name: &str, value: impl Into<String>) -> Start {
        self.env.push((name.to_string(), value.into()));
        self
    }
}

/// How a provider starts the app, once the port is known.
pub type Launch = Box<dyn Fn(u16) -> Start>;

/// Words of a command written as one string.
pub(super) fn words(list: &[&str]) -> Vec<String> {
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
    /// The production server that would serve the app and is not installed
    /// (`gunicorn`, `uvicorn`): the build adds it to the resolution and
    /// asks again, unless told not to (`--server none`, `--locked`).
    pub missing_server: Option<&'static str>,
    /// Without that server the claim still starts the app (with the
    /// framework's development server); `false`: only with it.
    pub starts_without_server: bool,
}

impl Claim {
    pub(super) fn new(rule: String, launch: impl Fn(u16) -> Start + 'static) -> Claim {
        Claim {
            rule,
            default_port: None,
            launch: Box::new(launch),
            web: true,
            smoke_host: None,
            steps: Vec::new(),
            writable: Vec::new(),
            warnings: Vec::new(),
            missing_server: None,
            starts_without_server: true,
        }
    }

    /// The claim of an app that `server` would serve, which is not installed.
    pub(super) fn wanting(mut self, server: &'static str) -> Claim {
        self.missing_server = Some(server);
        self
    }

    pub(super) fn writable(mut self, dir: &str, why: String) -> Claim {
        self.writable.push(Decided {
            value: dir.to_string(),
            rule: why,
        });
        self
    }

    pub(super) fn port(mut self, port: u16) -> Claim {
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

/// A command line as a Procfile or `[tool.pypack] cmd` writes it: one
/// command runs as it is (`$PORT` filled in now); a chain (`a && b`, `cd`,
/// `VAR=value`, other `$VAR`s) runs through pypack's launcher.
pub fn start_from_line(line: &str, port: u16) -> Result<Start> {
    let steps = crate::project::chain::parse(line)?;
    if !crate::project::chain::needs_launcher(&steps) {
        // An argument of expansions alone that comes out empty goes, as
        // an unquoted one does in a shell (`${PORT:+…}` forms).
        let argv = steps[0]
            .argv
            .iter()
            .map(|a| (a, crate::project::chain::substitute_port(a, port)))
            .filter(|(a, expanded)| !(expanded.is_empty() && a.starts_with('$')))
            .map(|(_, expanded)| expanded)
            .collect();
        return Ok(Start::argv(argv));
    }
    Ok(Start {
        argv: crate::project::chain::launcher_command(&steps),
        env: Vec::new(),
        launcher: true,
        serves_http: steps.iter().any(|s| serves_http(&s.argv)),
        programs: steps.iter().filter_map(|s| program_of(&s.argv)).collect(),
    })
}

/// The program `argv` runs: its first word's file name, or `X` of `python -m X`.
pub(super) fn program_of(argv: &[String]) -> Option<String> {
    let first = argv.first()?;
    let program = first.rsplit('/').next().unwrap_or(first);
    if program.starts_with("python")
        && let Some(w) = argv.windows(2).find(|w| w[0] == "-m")
    {
        return Some(w[1].clone());
    }
    Some(program.to_string())
}

/// Server programs and the package that installs each.
pub(super) const SERVER_PACKAGES: &[(&str, &str)] = &[
    ("gunicorn", "gunicorn"),
    ("uvicorn", "uvicorn"),
    ("hypercorn", "hypercorn"),
    ("daphne", "daphne"),
    ("granian", "granian"),
    ("waitress-serve", "waitress"),
    ("waitress", "waitress"),
];

/// For a command naming a server program that nothing installs (a
/// Procfile's `gunicorn app:app` with no gunicorn): that program's package.
pub fn package_missing_for(start: &Start, installed: &Installed) -> Option<&'static str> {
    start
        .programs
        .iter()
        .filter_map(|program| server_package(program))
        .find(|package| installed.version(package).is_none())
}

/// The package of a server program (`waitress-serve` → `waitress`).
pub fn server_package(program: &str) -> Option<&'static str> {
    SERVER_PACKAGES
        .iter()
        .find(|(p, _)| *p == program)
        .map(|(_, package)| *package)
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
    "twistd",
    "shiny",
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
pub(super) fn leading_number(text: &str) -> Option<u16> {
    let digits: String = text
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok().filter(|p| *p > 0)
}

/// The port in a `--bind`/`-b`/`--port` style argument text, if any.
pub(super) fn port_in_flags(text: &str) -> Option<u16> {
    for pattern in [
        "--port ",
        "--port=",
        "--server.port ",
        "--server.port=",
        "--server-port ",
        "--bind 0.0.0.0:",
        "--bind=0.0.0.0:",
        "-b 0.0.0.0:",
        "-b=0.0.0.0:",
        "--bind :",
        "--bind=:",
        "-b :",
        "-b=:",
        "[::]:",
        "tcp:port=",
        "-p ",
        "0.0.0.0:",
    ] {
        if let Some(port) = text.split(pattern).nth(1).and_then(leading_number) {
            return Some(port);
        }
    }
    None
}
