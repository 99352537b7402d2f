//! The serve loop of `pypack run`: the image an engine holds, started with
//! its port published on localhost, its output streamed, and stopped on
//! Ctrl-C; when watching, a change in the app directory has the caller
//! rebuild (into the engine, under the same name), and a changed image is
//! restarted on the same port.

mod front;

use crate::builder::engine::Engine;
use anyhow::{Context, Result, bail};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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
    if serve.watch {
        return Watching::start(serve, host_port, &name, first)?.run(rebuild);
    }
    let mut serving = Serving::start(&serve.engine, &name, &serve.tag, host_port, serve.port)?;
    say_serving(&serve.tag, host_port);
    while !stopped() {
        std::thread::sleep(Duration::from_millis(200));
        if let Some(status) = serving.exited() {
            drop(serving);
            if !status.success() {
                bail!("the app exited with {status}");
            }
            return Ok(());
        }
    }
    eprintln!("pypack run: stopping");
    Ok(())
}

fn say_serving(tag: &str, host_port: u16) {
    eprintln!("pypack run: serving {tag} at http://127.0.0.1:{host_port}/ (Ctrl-C stops)");
}

/// How long a new version gets to answer before the port moves to it anyway.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// `run --watch`: the port held by pypack ([`front::Front`]), each version
/// in a container of its own on a port of its own.
struct Watching<'a> {
    serve: &'a Serve<'a>,
    front: front::Front,
    name: &'a str,
    serving: Serving,
    current: Served,
    versions: u32,
    /// Containers (and images) of replaced versions, going in the background.
    retiring: Vec<std::thread::JoinHandle<()>>,
}

impl<'a> Watching<'a> {
    fn start(
        serve: &'a Serve<'a>,
        host_port: u16,
        name: &'a str,
        first: Served,
    ) -> Result<Watching<'a>> {
        let front = front::Front::listen(host_port).with_context(|| {
            format!("cannot listen on 127.0.0.1:{host_port} (pass another port with --publish)")
        })?;
        let (serving, port) = start_version(serve, name, 0)?;
        front.switch(port);
        say_serving(&serve.tag, host_port);
        Ok(Watching {
            serve,
            front,
            name,
            serving,
            current: first,
            versions: 0,
            retiring: Vec::new(),
        })
    }

    fn run(mut self, rebuild: &mut dyn FnMut() -> Result<Served>) -> Result<()> {
        let mut changes = crate::watch::Changes::watch(self.serve.app_dir);
        let mut exit_said = false;
        loop {
            // Woken by a change at once; every 200 ms otherwise, to see a
            // Ctrl-C or the app exiting.
            let changed = changes.wait(Duration::from_millis(200));
            if stopped() {
                break;
            }
            if let Some(status) = self.serving.exited()
                && !exit_said
            {
                eprintln!("pypack run: the app exited ({status}); waiting for a change to rebuild");
                exit_said = true;
            }
            if !changed {
                continue;
            }
            crate::mark("a change seen");
            eprintln!(
                "pypack run: a change in {}; rebuilding",
                self.serve.app_dir.display()
            );
            let rebuilt = rebuild();
            if stopped() {
                break;
            }
            match rebuilt {
                Ok(rebuilt)
                    if rebuilt.manifest_digest == self.current.manifest_digest
                        && self.serving.running() =>
                {
                    eprintln!("pypack run: the image is unchanged; still serving it");
                }
                Ok(rebuilt) => {
                    self.replace(rebuilt)?;
                    exit_said = false;
                }
                Err(e) => eprintln!("error: {e:#}\npypack run: still serving the previous image"),
            }
        }
        eprintln!("pypack run: stopping");
        let Watching {
            serving, retiring, ..
        } = self;
        drop(serving);
        for going in retiring {
            let _ = going.join();
        }
        Ok(())
    }

    /// Starts `rebuilt` beside the version served now, moves the port to
    /// it once it answers, and retires the old one in the background. A
    /// version that exits before it answers leaves the old one serving.
    fn replace(&mut self, rebuilt: Served) -> Result<()> {
        self.versions += 1;
        let (mut next, port) = start_version(self.serve, self.name, self.versions)?;
        let deadline = Instant::now() + START_DEADLINE;
        if !front::answers(port, deadline, &mut || next.running() && !stopped()) {
            if let Some(status) = next.exited() {
                eprintln!(
                    "pypack run: the new version exited ({status}) before it answered; still serving the previous one"
                );
                return Ok(());
            }
            eprintln!("pypack run: the new version does not answer yet; serving it anyway");
        }
        crate::mark("the new version answers");
        eprintln!("pypack run: serving the new version");
        self.front.switch(port);
        let old = std::mem::replace(&mut self.serving, next);
        let old_image = std::mem::replace(&mut self.current, rebuilt).config_digest;
        let (engine, same_image) = (
            self.serve.engine.clone(),
            old_image == self.current.config_digest,
        );
        self.retiring.push(std::thread::spawn(move || {
            drop(old);
            // The image it served has lost its name to the new one: it goes,
            // unless something else still names or uses it.
            if !same_image {
                engine.remove_if_unnamed(&old_image);
            }
        }));
        Ok(())
    }
}

/// Version `n` of the app, in a container of its own published on a free
/// localhost port, which is returned.
fn start_version(serve: &Serve, name: &str, n: u32) -> Result<(Serving, u16)> {
    let port = any_free_port()?;
    let serving = Serving::start(
        &serve.engine,
        &format!("{name}-{n}"),
        &serve.tag,
        port,
        serve.port,
    )?;
    Ok((serving, port))
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
    any_free_port()
}

/// A port nothing listens on at localhost now.
fn any_free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}
