//! The smoke run: the finished image, started once in the engine before it
//! is written anywhere. A command that serves `module:object` (gunicorn,
//! uvicorn, ...) is checked by importing the module and looking the object
//! up with the venv's interpreter, which is quick and needs no network; any
//! other command is started as the image would start and must answer HTTP
//! on its port (or run to completion with status 0).

use super::engine::{Engine, Step};
use crate::cache::Cache;
use crate::oci::Image;
use anyhow::{Context, Result, bail};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// How long the app gets to import or to answer.
const DEADLINE: Duration = Duration::from_secs(30);

/// Bumped when what a passing smoke run means changes.
const SMOKE_FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Import `module` and look up `object` in it.
    Import { module: String, object: String },
    /// Run the image's command and GET `/` on `port`.
    Http { port: u16 },
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Probe::Import { module, object } => write!(f, "import {module} and find {object}"),
            Probe::Http { port } => write!(f, "start the command and GET / on port {port}"),
        }
    }
}

/// The probe for a command: the first `module:object` argument (an app
/// server's target; a factory call's parentheses dropped), else HTTP.
pub fn probe_for(cmd: &[String], port: u16) -> Probe {
    let target = cmd.iter().skip(1).find_map(|arg| {
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
    });
    match target {
        Some((module, object)) => Probe::Import { module, object },
        None => Probe::Http { port },
    }
}

pub struct SmokeRun<'a> {
    pub engine: &'a Engine,
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
    Passed(String),
    /// Passed before for this very image: not run again.
    Cached,
}

/// Runs the probe; an error carries what the app printed.
pub fn run(smoke: &SmokeRun) -> Result<Outcome> {
    // Settings are part of what passed, but may be secrets: only their hash is kept.
    let key = format!(
        "smoke format {SMOKE_FORMAT}\n{}\n{}\nenv {}\n",
        smoke.image.manifest_digest,
        smoke.probe,
        crate::digest::sha256_hex(smoke.env.join("\n").as_bytes())
    );
    if smoke.cache.get_ref("smoke", &key).is_some() {
        return Ok(Outcome::Cached);
    }
    // A name of this run's own holds the image while it runs: a concurrent
    // build of the same image removing its name cannot pull it away.
    let tag = format!(
        "localhost/pypack-smoke:{}-{}",
        &crate::digest::strip_sha256(&smoke.image.manifest_digest)?[..16],
        std::process::id()
    );
    let named = smoke.engine.has_image(&smoke.image.config_digest)
        && smoke.engine.tag(&smoke.image.config_digest, &tag).is_ok();
    if !named {
        smoke.engine.load(smoke.cache, smoke.image, &tag)?;
    }
    let result = match &smoke.probe {
        Probe::Import { module, object } => import(smoke, &tag, module, object),
        Probe::Http { port } => http(smoke, &tag, *port),
    };
    // Only this name goes; the image stays if it has others (the user's).
    smoke.engine.remove_name(&tag);
    let passed = result?;
    smoke.cache.set_ref("smoke", &key, &passed)?;
    Ok(Outcome::Passed(passed))
}

/// Python run in the image: import, look up, and give up with a traceback
/// of where it hung when the deadline passes.
const IMPORT_CODE: &str = "import faulthandler, importlib, sys
faulthandler.dump_traceback_later(int(sys.argv[3]), exit=True)
obj = importlib.import_module(sys.argv[1])
for part in sys.argv[2].split('.'):
    obj = getattr(obj, part)
";

fn import(smoke: &SmokeRun, image: &str, module: &str, object: &str) -> Result<String> {
    let step = Step {
        image: image.to_string(),
        argv: vec![
            smoke.python.to_string(),
            "-c".into(),
            IMPORT_CODE.into(),
            module.into(),
            object.into(),
            DEADLINE.as_secs().to_string(),
        ],
        env: settings(smoke.env)?,
        ..Step::default()
    };
    let output = smoke.engine.run(&step)?;
    if !output.status.success() {
        bail!(
            "smoke run: `{module}:{object}` does not import in the image:\n{}\nfix the app or its requirements, give it the settings it needs with --smoke-env NAME=VALUE, or build with --no-smoke",
            String::from_utf8_lossy(&output.stderr).trim_end()
        );
    }
    Ok(format!("{module}:{object} imports"))
}

fn http(smoke: &SmokeRun, image: &str, port: u16) -> Result<String> {
    let host_port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let name = format!(
        "pypack-smoke-{}-{}",
        std::process::id(),
        crate::unix_now() % 100_000
    );
    let started = smoke
        .engine
        .command()
        .args(["run", "-d", "--pull=never", "--name", &name, "-p"])
        .arg(format!("127.0.0.1:{host_port}:{port}"))
        .args(smoke.env.iter().flat_map(|e| ["-e", e.as_str()]))
        .arg(image)
        .output()?;
    if !started.status.success() {
        bail!(
            "smoke run: the image did not start: {}",
            String::from_utf8_lossy(&started.stderr).trim()
        );
    }
    let verdict = watch(smoke.engine, &name, host_port, port);
    smoke.engine.remove_container(&name);
    verdict
}

/// `NAME=VALUE` pairs, checked.
fn settings(env: &[String]) -> Result<Vec<(String, String)>> {
    env.iter()
        .map(|e| match e.split_once('=') {
            Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
            _ => bail!("--smoke-env '{e}' is not NAME=VALUE"),
        })
        .collect()
}

/// Polls the port until the app answers, exits, or the deadline passes.
fn watch(engine: &Engine, name: &str, host_port: u16, port: u16) -> Result<String> {
    let start = Instant::now();
    loop {
        if let Some(status) = http_status(host_port) {
            if status >= 500 {
                bail!(
                    "smoke run: GET / on port {port} answered {status}; the app printed:\n{}\nfix the app, give it the settings it needs with --smoke-env NAME=VALUE, or build with --no-smoke",
                    logs(engine, name)
                );
            }
            return Ok(format!("answered {status} on port {port}"));
        }
        match exit_code(engine, name)? {
            Some(0) => return Ok("ran to completion with status 0".into()),
            Some(code) => bail!(
                "smoke run: the app exited with status {code} before answering on port {port}; it printed:\n{}\nfix the app, give it the settings it needs with --smoke-env NAME=VALUE, or build with --no-smoke",
                logs(engine, name)
            ),
            None => {}
        }
        if start.elapsed() > DEADLINE {
            eprintln!(
                "warning: smoke run: the app is running but did not answer HTTP on port {port} within {} s; counted as started. If it is a web app, it must listen on 0.0.0.0:{port} (127.0.0.1 is not reachable from outside the container); set the port with --port",
                DEADLINE.as_secs()
            );
            return Ok(format!("running, no answer on port {port}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The status code of `GET /`, if anything answers HTTP on the port.
fn http_status(port: u16) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    let text = std::str::from_utf8(&head).ok()?;
    text.strip_prefix("HTTP/")?.split(' ').nth(1)?.parse().ok()
}

fn exit_code(engine: &Engine, name: &str) -> Result<Option<i32>> {
    let out = engine
        .command()
        .args([
            "inspect",
            "--format",
            "{{.State.Running}} {{.State.ExitCode}}",
            name,
        ])
        .output()
        .context("inspecting the smoke container")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = text.split_whitespace();
    match (fields.next(), fields.next()) {
        (Some("false"), Some(code)) => Ok(Some(code.parse().unwrap_or(-1))),
        _ => Ok(None),
    }
}

fn logs(engine: &Engine, name: &str) -> String {
    let out = engine
        .command()
        .args(["logs", name])
        .output()
        .map(|o| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        })
        .unwrap_or_default();
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn probes() {
        let import = |m: &str, o: &str| Probe::Import {
            module: m.into(),
            object: o.into(),
        };
        assert_eq!(
            probe_for(&argv("gunicorn --bind 0.0.0.0:8000 app:app"), 8000),
            import("app", "app")
        );
        assert_eq!(
            probe_for(&argv("uvicorn pkg.main:create_app() --port 80"), 80),
            import("pkg.main", "create_app")
        );
        assert_eq!(
            probe_for(&argv("python app.py"), 5000),
            Probe::Http { port: 5000 }
        );
        assert_eq!(
            probe_for(&argv("gunicorn --bind :8000 app"), 8000),
            Probe::Http { port: 8000 }
        );
    }
}
