//! The serve loop of `pypack run`: the image an engine holds, started with
//! its port published on localhost, its output streamed, and stopped on
//! Ctrl-C; when watching, a change in the app directory has the caller
//! rebuild (into the engine, under the same name), and a changed image is
//! restarted on the same port.

use crate::builder::engine::Engine;
use anyhow::{Result, bail};
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// What to serve, and how.
pub struct Serve<'a> {
    /// The engine that holds the image.
    pub engine: Engine,
    /// The image's name in the engine, `NAME:TAG`; every rebuild puts its
    /// image under it.
    pub tag: String,
    /// The port the app listens on in the container.
    pub port: u16,
    /// The localhost port to serve on (default: the app's own port if
    /// free, else a free one).
    pub publish: Option<u16>,
    /// The app directory, watched when `watch`.
    pub app_dir: &'a Path,
    /// Rebuild and restart on every change in the app directory.
    pub watch: bool,
}

/// An image a build put into the engine under the served name.
#[derive(Clone, PartialEq, Eq)]
pub struct Served {
    pub manifest_digest: String,
    /// The engine's id of it.
    pub config_digest: String,
}

/// Set by SIGINT / SIGTERM: stop the app and return.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn stopped() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Directories whose changes never change the image (or are the tools' own).
const UNWATCHED: &[&str] = &[
    ".git",
    "__pycache__",
    ".venv",
    "venv",
    "node_modules",
    "dist",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".tox",
];

/// Serves `first` until Ctrl-C (or, when not watching, until the app
/// exits: an error when it failed); `rebuild` builds the app again into the
/// engine under `serve.tag` (its failure is said, and the previous image
/// keeps being served).
pub fn serve(
    serve: &Serve,
    first: Served,
    rebuild: &mut dyn FnMut() -> Result<Served>,
) -> Result<()> {
    catch_stop_signals();
    let host_port = match serve.publish {
        Some(p) => p,
        None => free_port(serve.port)?,
    };
    let name = format!("pypack-run-{}", std::process::id());
    let start = || Serving::start(&serve.engine, &name, &serve.tag, host_port, serve.port);
    let mut serving = start()?;
    let mut current = first;
    let mut seen = snapshot(serve.app_dir);
    let mut exit_said = false;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        if stopped() {
            break;
        }
        if let Some(status) = serving.exited() {
            if !serve.watch {
                drop(serving);
                if !status.success() {
                    bail!("the app exited with {status}");
                }
                return Ok(());
            }
            if !exit_said {
                eprintln!("pypack run: the app exited ({status}); waiting for a change to rebuild");
                exit_said = true;
            }
        }
        if !serve.watch {
            continue;
        }
        let now = snapshot(serve.app_dir);
        if now == seen {
            continue;
        }
        // Editors save in several writes: wait for the tree to settle.
        seen = settle(serve.app_dir, now);
        eprintln!(
            "pypack run: a change in {}; rebuilding",
            serve.app_dir.display()
        );
        let rebuilt = rebuild();
        if stopped() {
            break;
        }
        match rebuilt {
            Ok(rebuilt)
                if rebuilt.manifest_digest == current.manifest_digest && serving.running() =>
            {
                eprintln!("pypack run: the image is unchanged; still serving it");
            }
            Ok(rebuilt) => {
                drop(serving);
                // The image it replaces has lost its name to the new one: it
                // goes, unless something else still names or uses it.
                if rebuilt.config_digest != current.config_digest {
                    serve.engine.remove_if_unnamed(&current.config_digest);
                }
                current = rebuilt;
                serving = start()?;
                exit_said = false;
            }
            Err(e) => eprintln!("error: {e:#}\npypack run: still serving the previous image"),
        }
    }
    eprintln!("pypack run: stopping");
    drop(serving);
    Ok(())
}

/// From here Ctrl-C is caught, not fatal: the app is stopped and removed
/// before pypack exits (a rebuild under way finishes first).
fn catch_stop_signals() {
    let handler = on_signal as extern "C" fn(libc::c_int) as *const () as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

/// The app's container, attached (its output is ours); removed when dropped.
struct Serving {
    engine: Engine,
    name: String,
    child: Child,
    status: Option<ExitStatus>,
}

impl Serving {
    fn start(engine: &Engine, name: &str, tag: &str, host_port: u16, port: u16) -> Result<Serving> {
        engine.remove_container(name);
        let child = Command::new(&engine.program)
            .args(["run", "--rm", "--pull=never", "--name", name, "-p"])
            .arg(format!("127.0.0.1:{host_port}:{port}"))
            .arg(tag)
            .stdin(Stdio::null())
            // Its own process group: Ctrl-C reaches pypack, which stops it.
            .process_group(0)
            .spawn()?;
        eprintln!("pypack run: serving {tag} at http://127.0.0.1:{host_port}/ (Ctrl-C stops)");
        Ok(Serving {
            engine: engine.clone(),
            name: name.to_string(),
            child,
            status: None,
        })
    }

    /// Its exit status, once it has exited.
    fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    fn running(&mut self) -> bool {
        self.exited().is_none()
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if self.running() {
            self.engine.remove_container(&self.name);
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.running() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if self.running() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

/// `preferred` when nothing listens there on localhost, else any free port.
pub fn free_port(preferred: u16) -> Result<u16> {
    if std::net::TcpListener::bind(("127.0.0.1", preferred)).is_ok() {
        return Ok(preferred);
    }
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

type Snapshot = BTreeMap<String, (u64, Option<SystemTime>)>;

/// Every file's size and modification time under `dir` (unreadable parts skipped).
fn snapshot(dir: &Path) -> Snapshot {
    let mut files = Snapshot::new();
    let _ = crate::walk::walk_sorted(dir, "", &mut |_, meta, rel| {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        if meta.is_dir() {
            return Ok(!UNWATCHED.contains(&name));
        }
        files.insert(rel.to_string(), (meta.len(), meta.modified().ok()));
        Ok(false)
    });
    files
}

/// The snapshot once two in a row, 150 ms apart, agree.
fn settle(dir: &Path, mut last: Snapshot) -> Snapshot {
    loop {
        std::thread::sleep(Duration::from_millis(150));
        let now = snapshot(dir);
        if now == last {
            return now;
        }
        last = now;
    }
}
