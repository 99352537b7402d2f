//! How the app starts in the image: the command, the port, the environment
//! and the directories it writes to. Decided once the packages are known,
//! so that a command exists in the installed versions (`flask --app` only
//! from Flask 2.2) and servers that dependencies bring count: flags and
//! `[tool.pypack]` first, then the first provider that claims the app.

use super::decided::Decided;
use super::plan::{CmdSpec, Plan};
use super::providers::{self, AppContext, Installed};
use anyhow::{Context, Result, bail};

/// How the app starts in the image.
#[derive(Debug, Clone)]
pub struct Started {
    pub cmd: Decided<Vec<String>>,
    pub port: Decided<u16>,
    /// Environment the command needs (from the provider that chose it).
    pub env: Vec<(String, String)>,
    /// The command serves HTTP on `port` (the smoke run then requires an
    /// answer); `false` for what may be a worker or a tool.
    pub web: bool,
    /// The command runs through pypack's launcher (a chain of steps), which
    /// the app layer then carries.
    pub launcher: bool,
    /// The `Host` the smoke run sends (one the app accepts).
    pub smoke_host: String,
    /// Work done at build time in the image (Django's collectstatic).
    pub build_steps: Vec<providers::BuildStep>,
    /// Paths under /app the app writes to, made its own (65532); `.` is
    /// /app itself (the directory alone). The rest of /app stays
    /// read-only to it.
    pub writable: Vec<Decided<String>>,
    /// Refuse, rather than follow, writes the smoke run sees under /app.
    pub read_only: bool,
    /// Things the user should know about these choices.
    pub warnings: Vec<String>,
    /// A production server the chosen rule wants and resolution did not
    /// install (`gunicorn`, `uvicorn`): the build may add it and decide again.
    pub missing_server: Option<&'static str>,
    /// Process types besides `web`, run by name (`podman run IMAGE worker`).
    pub processes: Vec<Decided<Process>>,
}

/// A process type the image runs by its name: the name is a program on
/// the image's PATH that runs the steps through pypack's launcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub name: String,
    /// The command line as written.
    pub line: String,
    pub steps: Vec<super::chain::Step>,
}

/// Where the process types' programs are, first on the image's PATH (and
/// taken off it for what they run, so a process named after its own
/// program, `celery: celery -A app worker`, runs the program).
pub const PROCESS_DIR: &str = "/app/.venv/pypack-processes";

/// The Procfile's process types besides `web`, and `[tool.pypack]
/// processes` (which wins for a name both give), in name order.
fn other_processes(
    ctx: &AppContext,
    plan: &Plan,
    warnings: &mut Vec<String>,
) -> Result<Vec<Decided<Process>>> {
    let mut found = std::collections::BTreeMap::new();
    let (procfile, left_out) = providers::other_processes(ctx);
    warnings.extend(left_out);
    for (name, command) in procfile {
        let rule = format!("Procfile {name}: line");
        found.insert(name, (command, rule));
    }
    for (name, command) in &plan.start_settings.tool.processes {
        let rule = format!("[tool.pypack] processes.{name}");
        found.insert(name.clone(), (command.clone(), rule));
    }
    found
        .into_iter()
        .map(|(name, (command, rule))| {
            let steps = super::chain::parse(&command).with_context(|| rule.clone())?;
            Ok(Decided {
                value: Process {
                    name,
                    line: command,
                    steps,
                },
                rule,
            })
        })
        .collect()
}

/// What the start is decided from, besides the plan.
pub struct StartInputs<'a> {
    /// Normalized names of the direct requirements (and `name[extra]`).
    pub dependencies: &'a [String],
    pub installed: &'a Installed,
    /// A missing production server may be added to the resolution.
    pub may_add_server: bool,
    /// The image runs as root (`--root`): any port may be bound.
    pub as_root: bool,
}

/// What chose the command: a flag or `[tool.pypack] cmd` (with what is
/// known of the app whichever rule chose), or a provider's claim.
enum Chooser {
    Explicit {
        spec: CmdSpec,
        rule: &'static str,
        aspects: providers::Claim,
    },
    Claimed(providers::Claim),
}

impl Chooser {
    fn of(plan: &Plan, ctx: &AppContext, may_add_server: bool) -> Result<Chooser> {
        let (overrides, tool) = (&plan.start_settings.overrides, &plan.start_settings.tool);
        let explicit = match (&overrides.cmd, &tool.cmd) {
            (Some(cmd), _) => Some((CmdSpec::Text(cmd.clone()), "--cmd")),
            (None, Some(cmd)) => Some((cmd.clone(), "[tool.pypack] cmd")),
            (None, None) => None,
        };
        if let Some((spec, rule)) = explicit {
            return Ok(Chooser::Explicit {
                spec,
                rule,
                aspects: providers::aspects(ctx),
            });
        }
        match providers::claim(ctx, may_add_server)? {
            Some((_, claim)) => Ok(Chooser::Claimed(claim)),
            None => bail!(
                "no entrypoint found in {}: no Procfile web: line, no hosting platform's start command, no Dockerfile CMD, \
                 no Django, Streamlit, Gradio, Shiny or Dash app, no WSGI/ASGI app object or factory, no aiohttp app, \
                 no single [project.scripts] entry, no app.py or main.py.{} \
                 Pass --cmd \"...\" or set [tool.pypack] cmd in pyproject.toml",
                ctx.dir.display(),
                unserved_apps(ctx)?
            ),
        }
    }

    fn launch(&self, port: u16) -> Result<providers::Start> {
        match self {
            Chooser::Claimed(claim) => Ok((claim.launch)(port)),
            Chooser::Explicit {
                spec: CmdSpec::Text(text),
                rule,
                ..
            } => providers::start_from_line(text, port).context(*rule),
            Chooser::Explicit {
                spec: CmdSpec::Argv(argv),
                ..
            } => Ok(providers::Start::argv(argv.clone())),
        }
    }

    fn rule(&self) -> String {
        match self {
            Chooser::Claimed(claim) => claim.rule.clone(),
            Chooser::Explicit { rule, .. } => rule.to_string(),
        }
    }

    /// What the rule knows beyond the command (port default, Host,
    /// build steps, writable paths, warnings, a wanted server).
    fn known(&self) -> &providers::Claim {
        match self {
            Chooser::Claimed(claim) => claim,
            Chooser::Explicit { aspects, .. } => aspects,
        }
    }
}

/// Decides the start of the app `plan` describes.
pub fn start(plan: &Plan, inputs: &StartInputs) -> Result<Started> {
    let ctx = AppContext {
        dir: &plan.app_dir,
        pyproject: &plan.pyproject,
        dependencies: inputs.dependencies,
        installed: inputs.installed,
    };
    let chooser = Chooser::of(plan, &ctx, inputs.may_add_server)?;
    let known = chooser.known();
    let claimed = matches!(chooser, Chooser::Claimed(_));
    let mut warnings = Vec::new();
    let processes = other_processes(&ctx, plan, &mut warnings)?;
    let port = choose_port(&ctx, plan, claimed.then_some(known))?;
    let (port, start) = unprivileged(port, inputs.as_root, &|p| chooser.launch(p), &mut warnings)?;
    // A server whose default address is loopback, started by a command the
    // app wrote without one, would be unreachable in a container.
    let (start, everywhere) = super::listen::everywhere(start, port.value);
    let cmd_rule = match everywhere {
        Some(added) => format!("{}; {added}", chooser.rule()),
        None => chooser.rule(),
    };
    let missing_server = match claimed {
        true => known.missing_server,
        false => providers::package_missing_for(&start, ctx.installed),
    };
    // A server program, or a port someone set, says it is a web app.
    let web = (claimed && known.web) || port.rule != "default" || start.serves_http;
    warnings.extend(known.warnings.iter().cloned());
    // A command that migrates at start needs no word on migrations.
    if start.argv.iter().any(|a| a.contains("migrate")) {
        warnings.retain(|w| w != providers::MIGRATIONS_NOTE);
    }
    Ok(Started {
        cmd: Decided {
            value: start.argv,
            rule: cmd_rule,
        },
        port,
        env: start.env,
        web,
        // Process types run their steps through the launcher too.
        launcher: start.launcher || !processes.is_empty(),
        smoke_host: known
            .smoke_host
            .clone()
            .unwrap_or_else(|| "localhost".into()),
        build_steps: known.steps.clone(),
        writable: writable_dirs(known.writable.clone(), &plan.start_settings.tool.writable)?,
        read_only: plan.start_settings.tool.read_only,
        warnings,
        missing_server: missing_server.filter(|_| inputs.may_add_server),
        processes,
    })
}

/// The port and the start. A port below 1024, which uid 65532 cannot
/// bind, is moved 8000 above (80 → 8080, 443 → 8443) when the command
/// says it (its flags, its `$PORT`), said in a warning: the image stays
/// non-root. One the app's own code binds cannot be moved: said too.
fn unprivileged(
    port: Decided<u16>,
    as_root: bool,
    launch: &dyn Fn(u16) -> Result<providers::Start>,
    warnings: &mut Vec<String>,
) -> Result<(Decided<u16>, providers::Start)> {
    let start = launch(port.value)?;
    if as_root || port.value >= 1024 {
        return Ok((port, start));
    }
    let (from, to) = (port.value, port.value + 8000);
    let moved = super::listen::moved_port(launch(to)?, from, to);
    if moved == start {
        warnings.push(format!(
            "port {from} ({}) is below 1024, which the image's user (uid 65532) cannot bind, and the command does not \
             say it (the app's code does): change the app's port, or pass --root",
            port.rule
        ));
        return Ok((port, start));
    }
    warnings.push(format!(
        "port {from} ({}) is below 1024, which the image's user (uid 65532) cannot bind: the command listens on {to} \
         instead (EXPOSE and PORT say so; publish it as `-p {from}:{to}`), or pass --root to keep {from}",
        port.rule
    ));
    let port = Decided {
        value: to,
        rule: format!(
            "moved from {from} ({}): below 1024, which uid 65532 cannot bind",
            port.rule
        ),
    };
    Ok((port, moved))
}

/// The providers' writable paths and `[tool.pypack] writable`, each a
/// relative path inside the app dir (`.` for the app dir itself).
pub fn writable_dirs(
    found: Vec<Decided<String>>,
    listed: &[String],
) -> Result<Vec<Decided<String>>> {
    let mut out: Vec<Decided<String>> = Vec::new();
    let listed = listed.iter().map(|w| Decided {
        value: w.clone(),
        rule: "[tool.pypack] writable".into(),
    });
    for dir in found.into_iter().chain(listed) {
        let value = match dir.value.trim_end_matches('/') {
            "." | "./" | "" if dir.value.starts_with('.') => ".".to_string(),
            other => other.trim_start_matches("./").to_string(),
        };
        if value.is_empty() || value.starts_with('/') || value.split('/').any(|p| p == "..") {
            bail!(
                "writable directory '{}' ({}) must be a relative path inside the app",
                dir.value,
                dir.rule
            );
        }
        if !out.iter().any(|d| d.value == value) {
            out.push(Decided {
                value,
                rule: dir.rule,
            });
        }
    }
    Ok(out)
}

/// Apps found that no installed server can run, said with the fix.
fn unserved_apps(ctx: &AppContext) -> Result<String> {
    let apps = providers::app_objects(ctx)?;
    let Some(app) = apps.first() else {
        return Ok(String::new());
    };
    let server = match app.kind {
        providers::Kind::Asgi => "uvicorn",
        providers::Kind::Wsgi => "gunicorn",
    };
    Ok(format!(
        " It found {}, but no installed server runs it: add {server} to the dependencies, or pass --server {server}.",
        app.describe()
    ))
}

fn choose_port(
    ctx: &AppContext,
    plan: &Plan,
    claim: Option<&providers::Claim>,
) -> Result<Decided<u16>> {
    let (overrides, tool) = (&plan.start_settings.overrides, &plan.start_settings.tool);
    if let Some(text) = &overrides.port {
        let port = text
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .with_context(|| format!("--port '{text}' is not a port number (1-65535)"))?;
        return Ok(Decided {
            value: port,
            rule: "--port".into(),
        });
    }
    if let Some(port) = tool.port {
        return Ok(Decided {
            value: port,
            rule: "[tool.pypack] port".into(),
        });
    }
    if let Some(port) = providers::port(ctx)? {
        return Ok(port);
    }
    if let Some(claim) = claim
        && let Some(port) = claim.default_port
    {
        return Ok(Decided {
            value: port,
            rule: format!(
                "the default of {}",
                claim.rule.split(':').next().unwrap_or("its framework")
            ),
        });
    }
    Ok(Decided {
        value: 8000,
        rule: "default".into(),
    })
}
