//! `pypack run APP`: the edit loop. Builds as `build` does, into the engine,
//! starts the image with its port published on localhost, streams its logs,
//! and stops it on Ctrl-C; with `--watch`, a change in the app directory
//! rebuilds and, when the image changed, restarts it on the same port.

use super::{BuildArgs, Cli, build_image};
use anyhow::{Result, bail};
use clap::Args;
use pypack::builder::Engine;
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    build: BuildArgs,
    /// Rebuild and restart the app when a file in the app directory changes.
    #[arg(long)]
    watch: bool,
    /// The localhost port to serve on (default: the app's own port if free, else a free one).
    #[arg(long, value_name = "PORT")]
    publish: Option<u16>,
}

/// Set by SIGINT / SIGTERM: stop the app and return.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
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

pub fn run(cli: &Cli, args: &RunArgs) -> Result<()> {
    let build = &args.build;
    if build.output.output.is_some() || build.output.archive.is_some() || build.push.is_some() {
        bail!(
            "`pypack run` serves the image from the engine; --output, --archive and --push belong to `pypack build`"
        );
    }
    if build.json {
        bail!("`pypack run` prints the app's logs; --json belongs to `pypack build`");
    }
    build
        .base
        .platforms()?
        .single("`pypack run` (it serves this machine's image)")?;
    let built = build_image(cli, build, true)?;
    // From here Ctrl-C is caught, not fatal: the app is stopped and removed
    // before pypack exits (a rebuild under way finishes first).
    let handler = on_signal as extern "C" fn(libc::c_int) as *const () as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
    let engine = built
        .engine
        .clone()
        .ok_or_else(|| anyhow::anyhow!("internal: `pypack run` built into no engine"))?;
    let port = built.report.start.port.value;
    let host_port = match args.publish {
        Some(p) => p,
        None => free_port(port)?,
    };
    let name = format!("pypack-run-{}", std::process::id());
    let tag = pypack::oci::layout::full_tag(&built.tag);
    let mut serving = Serving::start(&engine, &name, &tag, host_port, port)?;
    let mut digest = built.report.image.manifest_digest.clone();
    let mut image_id = built.report.image.config_digest.clone();
    let mut seen = snapshot(&build.app);
    let mut exit_said = false;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        if STOP.load(Ordering::SeqCst) {
            break;
        }
        if let Some(status) = serving.exited() {
            if !args.watch {
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
        if !args.watch {
            continue;
        }
        let now = snapshot(&build.app);
        if now == seen {
            continue;
        }
        // Editors save in several writes: wait for the tree to settle.
        seen = settle(&build.app, now);
        eprintln!(
            "pypack run: a change in {}; rebuilding",
            build.app.display()
        );
        let rebuilt = build_image(cli, build, true);
        if STOP.load(Ordering::SeqCst) {
            break;
        }
        match rebuilt {
            Ok(rebuilt) if rebuilt.report.image.manifest_digest == digest && serving.running() => {
                eprintln!("pypack run: the image is unchanged; still serving it");
            }
            Ok(rebuilt) => {
                drop(serving);
                // The image it replaces has lost its name to the new one: it
                // goes, unless something else still names or uses it.
                if rebuilt.report.image.config_digest != image_id {
                    engine.remove_if_unnamed(&image_id);
                }
                digest = rebuilt.report.image.manifest_digest.clone();
                image_id = rebuilt.report.image.config_digest.clone();
                serving = Serving::start(&engine, &name, &tag, host_port, port)?;
                exit_said = false;
            }
            Err(e) => eprintln!("error: {e:#}\npypack run: still serving the previous image"),
        }
    }
    eprintln!("pypack run: stopping");
    drop(serving);
    Ok(())
}

/// The app's container, attached (its output is ours); removed when dropped.
struct Serving {
    engine: Engine,
    name: String,
    child: Child,
    status: Option<std::process::ExitStatus>,
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
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
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
fn free_port(preferred: u16) -> Result<u16> {
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
    let _ = pypack::walk::walk_sorted(dir, "", &mut |_, meta, rel| {
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
