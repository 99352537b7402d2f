//! The smoke run: the finished image, started once in the engine before it
//! is written anywhere. A web app (it has a port) is started as the image
//! would start and must answer HTTP on its port: exiting first, with any
//! status, or not answering in time fails; a 5xx answer passes with a
//! warning. It runs in one container with no network, asked from inside by
//! a small probe. When its command serves `module:object` (gunicorn,
//! uvicorn…) and it stops before answering, the module is then imported on
//! its own, so an import error shows as its traceback. A command that is no
//! web app (a worker) may also exit 0 or keep running without answering; a
//! `module:object` one is checked by importing the module alone.

use super::engine::{Engine, HeldImage, Step};
use crate::cache::Cache;
use crate::oci::Image;
use crate::sandbox::Sandbox;
use anyhow::{Context, Result, bail};
use std::time::{Duration, Instant};

/// How long the app gets to import or to answer.
const DEADLINE: Duration = Duration::from_secs(30);

/// Bumped when what a passing smoke run means (or records) changes.
const SMOKE_FORMAT: u32 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Import `module` and look up `object` in it.
    Import { module: String, object: String },
    /// Run the command and GET `/` on `port`.
    Http(HttpProbe),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpProbe {
    pub port: u16,
    /// A web app must answer; anything else may also exit 0 or keep quiet.
    pub web: bool,
    /// `(module, object)` to import before the command starts.
    pub precheck: Option<(String, String)>,
    /// The command (the image's own).
    pub argv: Vec<String>,
    /// The `Host` header to send (one the app accepts).
    pub host: String,
    /// Run the app as this `UID:GID` with /app made its own for this run,
    /// and list what it writes there (the probe itself runs as root).
    pub observe_as: Option<String>,
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Probe::Import { module, object } => write!(f, "import {module} and find {object}"),
            Probe::Http(h) => {
                if let Some((module, object)) = &h.precheck {
                    write!(f, "import {module} and find {object}, then ")?;
                }
                write!(
                    f,
                    "start `{}` and GET / on port {} (Host: {}{}{})",
                    h.argv.join(" "),
                    h.port,
                    h.host,
                    if h.web { ", a web app" } else { "" },
                    match &h.observe_as {
                        Some(user) => format!(", as {user} watching what it writes"),
                        None => String::new(),
                    }
                )
            }
        }
    }
}

/// The probe for a command: a web app gets the HTTP probe (with an import
/// check of its `module:object`, if it names one); other commands naming
/// `module:object` get the import alone; the rest the lenient HTTP probe.
pub fn probe_for(
    cmd: &[String],
    port: u16,
    web: bool,
    host: &str,
    observe_as: Option<&str>,
) -> Probe {
    let target = app_target(cmd);
    match (web, target) {
        (false, Some((module, object))) => Probe::Import { module, object },
        (web, precheck) => Probe::Http(HttpProbe {
            port,
            web,
            precheck: precheck.filter(|_| web),
            argv: cmd.to_vec(),
            host: host.to_string(),
            observe_as: observe_as.map(str::to_string),
        }),
    }
}

/// The first `module:object` argument (an app server's target; a factory
/// call's parentheses dropped).
fn app_target(cmd: &[String]) -> Option<(String, String)> {
    cmd.iter().skip(1).find_map(|arg| {
        let (module, object) = arg.split_once(':')?;
        let object = object.split('(').next().unwrap_or(object);
        let dotted = |s: &str| {
            !s.is_empty()
                && s.split('.').all(|part| {
                    part.chars()
                        .next()
                        .is_some_and(|c| c.is_alphabetic() || c == '_')
                        && part.chars().all(|c| c.is_alphanumeric() || c == '_')
                })
        };
        (dotted(module) && dotted(object)).then(|| (module.to_string(), object.to_string()))
    })
}

pub struct SmokeRun<'a> {
    pub engine: &'a Engine,
    /// Readies the image to run on this machine without the engine, when
    /// it can (else, or when that cannot start it, the engine runs it).
    pub sandbox: Option<&'a dyn Fn() -> Result<Sandbox>>,
    /// The image goes into the engine afterwards: a run without the engine
    /// loads it meanwhile (and returns it held there).
    pub load_meanwhile: bool,
    pub cache: &'a Cache,
    pub image: &'a Image,
    /// The interpreter of the image's venv, for the import probe.
    pub python: &'a str,
    pub probe: Probe,
    /// `NAME=VALUE` settings the app needs to start (`--smoke-env`); they
    /// are given to the smoke run only, never written into the image.
    pub env: &'a [String],
}

/// What happened, for the build's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed(Observed),
    /// Passed before for this very image: not run again.
    Cached(Observed),
}

impl Outcome {
    pub fn observed(&self) -> &Observed {
        match self {
            Outcome::Passed(o) | Outcome::Cached(o) => o,
        }
    }
}

/// What a passing run saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Observed {
    /// What passed: `answered 200 on port 8000`, `app:app imports`…
    pub what: String,
    /// The port the app answered HTTP on.
    #[serde(default)]
    pub port: Option<u16>,
    /// What the app wrote under /app (when the run watched).
    #[serde(default)]
    pub writes: Option<Writes>,
}

/// Paths under /app (relative to it) the app created (directories end
/// in `/`), changed or removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Writes {
    #[serde(default)]
    pub created: Vec<String>,
    #[serde(default)]
    pub changed: Vec<String>,
    #[serde(default)]
    pub removed: Vec<String>,
}

impl Writes {
    pub fn is_empty(&self) -> bool {
        self.created.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

/// Runs the probe; an error carries what the app printed. On a pass that
/// was run now, the image stays in the engine, held for the caller.
pub fn run(smoke: &SmokeRun) -> Result<(Outcome, Option<HeldImage>)> {
    // Settings are part of what passed, but may be secrets: only their hash is kept.
    let key = format!(
        "smoke format {SMOKE_FORMAT}\n{}\n{}\nenv {}\n",
        smoke.image.manifest_digest,
        smoke.probe,
        crate::digest::sha256_hex(smoke.env.join("\n").as_bytes())
    );
    if let Some(text) = smoke.cache.get_ref("smoke", &key)
        && let Ok(observed) = serde_json::from_str::<Observed>(&text)
    {
        return Ok((Outcome::Cached(observed), None));
    }
    let sandbox = smoke
        .sandbox
        .map(|ready| ready())
        .and_then(|ready| ready.inspect_err(|e| note_engine_runs(smoke, e)).ok());
    if let Some(sandbox) = &sandbox {
        crate::mark("sandbox ready");
        match in_sandbox(smoke, sandbox) {
            Err(e) if e.downcast_ref::<NotStarted>().is_some() => note_engine_runs(smoke, &e),
            result => {
                let (passed, held) = result?;
                return passed_now(smoke, &key, passed, held);
            }
        }
    }
    // A name of this run's own holds the image while it runs: a concurrent
    // build of the same image removing its name cannot pull it away. On a
    // failure it goes (and the image with it, unless it has other names).
    let (passed, mut held) = smoke
        .engine
        .hold_running(smoke.cache, smoke.image, |image| {
            probe(smoke, &Runner::Engine(smoke.engine, image))
        })?;
    let (passed, ending) = passed?;
    held.ending = ending;
    passed_now(smoke, &key, passed, Some(held))
}

/// The probe run in `sandbox`, the image loaded into the engine meanwhile
/// when it goes there: what passed, and the image held in the engine.
fn in_sandbox(smoke: &SmokeRun, sandbox: &Sandbox) -> Result<(Observed, Option<HeldImage>)> {
    std::thread::scope(|scope| {
        let loading = (smoke.load_meanwhile)
            .then(|| scope.spawn(|| smoke.engine.hold(smoke.cache, smoke.image)));
        let (passed, ending) = probe(smoke, &Runner::Sandbox(sandbox))?;
        crate::mark("smoke run answered");
        // What it started goes with it: no engine waits out a stop.
        if let Some(mut run) = ending {
            let _ = run.kill();
            let _ = run.wait();
        }
        crate::mark("smoke run stopped");
        let held = match loading.map(|l| l.join()) {
            Some(Ok(held)) => Some(held?),
            Some(Err(_)) => bail!("loading the image into {} panicked", smoke.engine.program),
            None => None,
        };
        Ok((passed, held))
    })
}

/// Says (when timings are asked for) why the engine runs the image.
fn note_engine_runs(smoke: &SmokeRun, why: &anyhow::Error) {
    if std::env::var_os("PYPACK_TIMINGS").is_some() {
        eprintln!("note: smoke run in {}: {why:#}", smoke.engine.program);
    }
}

/// A pass run now, remembered under `key`.
fn passed_now(
    smoke: &SmokeRun,
    key: &str,
    passed: Observed,
    held: Option<HeldImage>,
) -> Result<(Outcome, Option<HeldImage>)> {
    crate::mark("smoke run passed");
    smoke
        .cache
        .set_ref("smoke", key, &serde_json::to_string(&passed)?)?;
    Ok((Outcome::Passed(passed), held))
}

/// Where a probe runs the image: in the engine (by the image's reference
/// there), or in the sandbox.
enum Runner<'a> {
    Engine(&'a Engine, &'a str),
    Sandbox(&'a Sandbox),
}

/// The sandbox could not start the command (the engine then runs it).
#[derive(Debug)]
struct NotStarted(String);

impl std::fmt::Display for NotStarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the image did not start without the engine: {}", self.0)
    }
}

impl std::error::Error for NotStarted {}

impl Runner<'_> {
    /// A command running `argv` in the image (named `name` in the engine)
    /// with the settings `env`, as root when `as_root`.
    fn command(
        &self,
        name: &str,
        argv: &[String],
        env: &[String],
        as_root: bool,
    ) -> Result<std::process::Command> {
        match self {
            Runner::Engine(engine, image) => {
                let mut command = engine.command();
                command
                    .args([
                        "run",
                        "--rm",
                        "--pull=never",
                        "--network=none",
                        "--name",
                        name,
                    ])
                    .args(env.iter().flat_map(|e| ["-e", e.as_str()]))
                    .args(as_root.then_some(["--user", "0:0"]).into_iter().flatten())
                    .arg(image)
                    .args(argv);
                Ok(command)
            }
            Runner::Sandbox(sandbox) => sandbox
                .command(argv, &settings(env)?, as_root)
                .map_err(|e| NotStarted(format!("{e:#}")).into()),
        }
    }

    /// Spawns `command`, made by [`Runner::command`].
    fn spawn(&self, command: &mut std::process::Command) -> Result<std::process::Child> {
        match self {
            Runner::Engine(engine, _) => {
                (command.spawn()).with_context(|| format!("running {}", engine.program))
            }
            Runner::Sandbox(_) => command
                .spawn()
                .map_err(|e| NotStarted(e.to_string()).into()),
        }
    }

    /// Ends the run named `name` at once (its process is killed too).
    fn stop(&self, name: &str) {
        if let Runner::Engine(engine, _) = self {
            engine.remove_container(name);
        }
    }
}

/// The probe `smoke` asks for, run by `runner`: what passed and, when
/// the app answered, the run still ending.
fn probe(smoke: &SmokeRun, runner: &Runner) -> Result<(Observed, Option<std::process::Child>)> {
    match &smoke.probe {
        Probe::Import { module, object } => import(smoke, runner, module, object).map(|what| {
            let observed = Observed {
                what,
                ..Observed::default()
            };
            (observed, None)
        }),
        Probe::Http(probe) => http(smoke, runner, probe),
    }
}

/// Python run in the image: import, look up, and give up with a traceback
/// of where it hung when the deadline passes.
const IMPORT_CODE: &str = "import faulthandler, importlib, sys
faulthandler.dump_traceback_later(int(sys.argv[3]), exit=True)
obj = importlib.import_module(sys.argv[1])
for part in sys.argv[2].split('.'):
    obj = getattr(obj, part)
";

fn import(smoke: &SmokeRun, runner: &Runner, module: &str, object: &str) -> Result<String> {
    let argv = vec![
        smoke.python.to_string(),
        "-c".into(),
        IMPORT_CODE.into(),
        module.into(),
        object.into(),
        DEADLINE.as_secs().to_string(),
    ];
    let output = match runner {
        Runner::Engine(engine, image) => engine.run(&Step {
            image: image.to_string(),
            argv,
            env: settings(smoke.env)?,
            ..Step::default()
        })?,
        Runner::Sandbox(_) => {
            let mut command = runner.command("", &argv, smoke.env, false)?;
            command.stdin(std::process::Stdio::null());
            command
                .output()
                .map_err(|e| anyhow::Error::new(NotStarted(e.to_string())))?
        }
    };
    if !output.status.success() {
        bail!(
            "smoke run: `{module}:{object}` does not import in the image:\n{}\nfix the app or its requirements, give it the settings it needs with --smoke-env NAME=VALUE, or build with --no-smoke",
            String::from_utf8_lossy(&output.stderr).trim_end()
        );
    }
    Ok(format!("{module}:{object} imports"))
}

/// The probe run as the container's first process: it starts the image's
/// command, asks it for a page from inside the container (which has no
/// network), and prints one verdict line.
const PROBE_SCRIPT: &str = include_str!("../../templates/builder/smoke_probe.py");

/// How much longer than the probe's own deadline the container may take
/// (starting, stopping) before it is killed.
const GRACE: Duration = Duration::from_secs(30);

/// The verdict, and when the app answered, the container run still ending
/// (its stop and removal overlap what the build does next).
fn http(
    smoke: &SmokeRun,
    runner: &Runner,
    probe: &HttpProbe,
) -> Result<(Observed, Option<std::process::Child>)> {
    let port = probe.port;
    let name = format!(
        "pypack-smoke-{}-{}",
        std::process::id(),
        crate::unix_now() % 100_000
    );
    // The app is started at once: its `module:object` is imported on its
    // own (for the traceback) only when the app fails to start, which
    // spares a passing run one import of the app.
    let mut argv = vec![
        smoke.python.to_string(),
        "-c".into(),
        PROBE_SCRIPT.into(),
        port.to_string(),
        probe.host.clone(),
        DEADLINE.as_secs().to_string(),
    ];
    if let Some(user) = &probe.observe_as {
        argv.extend(["--as".into(), user.clone()]);
    }
    argv.push("--".into());
    argv.extend(probe.argv.iter().cloned());
    // Watching writes: the probe runs as root, the app as the image's user.
    let command = runner.command(&name, &argv, smoke.env, probe.observe_as.is_some())?;
    let (verdict, printed, ending) = run_probe(smoke, runner, command, &name)?;
    let printed = printed.trim_end().to_string();
    let verdict: serde_json::Value = match verdict {
        Some(v) => v,
        None => bail!("smoke run: the image did not start: {printed}"),
    };
    let writes: Option<Writes> = verdict
        .get("writes")
        .and_then(|w| serde_json::from_value(w.clone()).ok());
    if let Some(status) = verdict["answered"].as_u64() {
        let answered_on = verdict["port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(port);
        if status >= 500 {
            eprintln!(
                "warning: smoke run: GET / on port {answered_on} answered {status}; the page began:\n{}",
                first_lines(verdict["body"].as_str().unwrap_or_default(), 8)
            );
        }
        let observed = Observed {
            what: format!("answered {status} on port {answered_on}"),
            port: Some(answered_on),
            writes,
        };
        return Ok((observed, ending));
    }
    let observed = |what: String| Observed {
        what,
        port: None,
        writes: writes.clone(),
    };
    let reachable = format!(
        "it must listen on 0.0.0.0:{port} (127.0.0.1 is not reachable from outside the container); set the port with --port"
    );
    if verdict.get("loopback").is_some() {
        if probe.web {
            bail!(
                "smoke run: the app answers on port {port} only on the container's loopback, so no published port reaches it; {reachable}. It printed:\n{printed}\n{WAYS_OUT}"
            );
        }
        eprintln!(
            "warning: smoke run: the command answers on port {port} only on the container's loopback; counted as started (it is not known to be a web app). If it is one, {reachable}"
        );
        return Ok((
            observed(format!("answered on loopback only, port {port}")),
            None,
        ));
    }
    if let Some(code) = verdict["exited"].as_i64() {
        if code == 0 && !probe.web {
            return Ok((observed("ran to completion with status 0".into()), None));
        }
        // Why it stopped: an app that does not import says so best by its traceback.
        if let Some((module, object)) = &probe.precheck {
            import(smoke, runner, module, object)?;
        }
        bail!(
            "smoke run: the app exited with status {code} before answering HTTP on port {port} (a web app must keep serving); it printed:\n{printed}\n{}{WAYS_OUT}",
            hint_for(&printed)
        );
    }
    // The deadline passed with the command still running.
    if probe.web {
        bail!(
            "smoke run: the app did not answer HTTP on port {port} within {} s; {reachable}. It printed:\n{printed}\n{WAYS_OUT}",
            DEADLINE.as_secs()
        );
    }
    eprintln!(
        "warning: smoke run: the command is running but did not answer HTTP on port {port} within {} s; counted as started (it is not known to be a web app). If it is one, {reachable}",
        DEADLINE.as_secs()
    );
    Ok((observed(format!("running, no answer on port {port}")), None))
}

/// Runs the probe's container to its end (killing it past the deadline):
/// the verdict line it printed, if any, and everything else it printed.
/// Once the app has answered, what it printed is not needed: the run is
/// returned still going (the container stopping and being removed), for
/// the caller to wait on while it goes on.
fn run_probe(
    smoke: &SmokeRun,
    runner: &Runner,
    mut command: std::process::Command,
    name: &str,
) -> Result<(
    Option<serde_json::Value>,
    String,
    Option<std::process::Child>,
)> {
    let work = tempfile::tempdir_in(smoke.cache.root().join("tmp"))?;
    let (out_path, err_path) = (work.path().join("stdout"), work.path().join("stderr"));
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out_path)?)
        .stderr(std::fs::File::create(&err_path)?);
    let mut child = runner.spawn(&mut command)?;
    let start = Instant::now();
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
        if let Some(verdict) = verdict_in(&stdout).filter(|v| v.get("answered").is_some()) {
            return Ok((Some(verdict), String::new(), Some(child)));
        }
        if start.elapsed() > DEADLINE + GRACE {
            runner.stop(name);
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let mut printed = String::new();
    for line in stdout.lines() {
        if !line.starts_with(VERDICT) {
            printed.push_str(line);
            printed.push('\n');
        }
    }
    printed.push_str(&stderr);
    Ok((verdict_in(&stdout), printed, None))
}

const VERDICT: &str = "pypack-smoke: ";

/// The probe's verdict among its output's whole lines.
fn verdict_in(stdout: &str) -> Option<serde_json::Value> {
    stdout
        .split_inclusive('\n')
        .filter(|line| line.ends_with('\n'))
        .filter_map(|line| line.strip_prefix(VERDICT))
        .filter(|json| json.starts_with('{'))
        .find_map(|json| serde_json::from_str(json.trim_end()).ok())
}

/// `NAME=VALUE` pairs, checked.
pub fn settings(env: &[String]) -> Result<Vec<(String, String)>> {
    env.iter()
        .map(|e| match e.split_once('=') {
            Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
            _ => bail!("--smoke-env '{e}' is not NAME=VALUE"),
        })
        .collect()
}

/// How to fix what the smoke run found, said after each failure.
const WAYS_OUT: &str = "fix the app, give it the settings it needs with --smoke-env NAME=VALUE, or build with --no-smoke";

/// A likely cause, said before the ways out, for output that shows one.
fn hint_for(printed: &str) -> String {
    let writes_beside_code = [
        "unable to open database file",
        "attempt to write a readonly database",
        "Read-only file system",
        "Permission denied: '/app",
        "PermissionError: [Errno 13]",
    ]
    .iter()
    .any(|sign| printed.contains(sign));
    if writes_beside_code {
        return "it looks like the app writes next to its code (an SQLite file in /app?), and /app is read-only to it: \
                keep such files in a directory listed in [tool.pypack] writable = [\"data\"], or point the app at \
                another database with --smoke-env (and the same setting when you run it). Then: "
            .into();
    }
    String::new()
}

fn first_lines(text: &str, n: usize) -> String {
    text.lines().take(n).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn hints_at_writes_beside_the_code() {
        let sqlite = "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) unable to open database file";
        assert!(hint_for(sqlite).contains("[tool.pypack] writable"));
        assert!(
            hint_for("OSError: [Errno 30] Read-only file system: '/app/app.db'")
                .contains("/app is read-only")
        );
        assert_eq!(hint_for("ModuleNotFoundError: No module named 'flask'"), "");
    }

    #[test]
    fn probes() {
        let import = |m: &str, o: &str| Probe::Import {
            module: m.into(),
            object: o.into(),
        };
        let http = |cmd: &str, port: u16, web: bool, pre: Option<(&str, &str)>| {
            Probe::Http(HttpProbe {
                port,
                web,
                precheck: pre.map(|(m, o)| (m.to_string(), o.to_string())),
                argv: argv(cmd),
                host: "localhost".into(),
                observe_as: None,
            })
        };
        assert_eq!(
            probe_for(
                &argv("gunicorn --bind 0.0.0.0:8000 app:app"),
                8000,
                true,
                "localhost",
                None
            ),
            http(
                "gunicorn --bind 0.0.0.0:8000 app:app",
                8000,
                true,
                Some(("app", "app"))
            )
        );
        assert_eq!(
            probe_for(
                &argv("uvicorn pkg.main:create_app() --port 80"),
                80,
                false,
                "localhost",
                None
            ),
            import("pkg.main", "create_app")
        );
        assert_eq!(
            probe_for(&argv("python app.py"), 5000, false, "localhost", None),
            http("python app.py", 5000, false, None)
        );
        assert_eq!(
            probe_for(
                &argv("gunicorn --bind :8000 app"),
                8000,
                true,
                "localhost",
                None
            ),
            http("gunicorn --bind :8000 app", 8000, true, None)
        );
    }
}
