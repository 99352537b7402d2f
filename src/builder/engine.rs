//! The container engine (podman or docker) the builder drives: found on
//! PATH, images loaded into it once (by config digest), steps run with the
//! host directories they read and write mounted in.

use crate::cache::Cache;
use crate::oci::Image;
use crate::oci::layout::{Output, write_output};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Output as ProcessOutput, Stdio};

/// Where helper images' last use is written (name → seconds since epoch).
pub const USED_REF: &str = "engine-image-used";
/// The repositories pypack's helper images are named in (`:<config digest prefix>`).
pub const BUILDER_IMAGES: &str = "localhost/pypack-builder";
pub const RUNTIME_IMAGES: &str = "localhost/pypack-runtime";
pub const COLLECTSTATIC_IMAGES: &str = "localhost/pypack-collectstatic";
/// In the names a build holds an image by: `…pypack-hold…<hex>-<pid>-<n>`.
pub const HOLD_NAME: &str = "pypack-hold";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    /// `podman` or `docker`.
    pub program: String,
}

impl Engine {
    /// `preferred` if it works, else podman, else docker. A docker client
    /// whose daemon is not running does not count.
    pub fn detect(preferred: Option<&str>) -> Result<Option<Engine>> {
        if let Some(p) = preferred
            && p != "podman"
            && p != "docker"
        {
            bail!("--engine '{p}' is not supported; use podman or docker");
        }
        let candidates: &[&str] = match preferred {
            Some(p) => &[p][..],
            None => &["podman", "docker"],
        };
        Ok(candidates.iter().find(|e| works(e)).map(|e| Engine {
            program: e.to_string(),
        }))
    }

    /// A command of this engine's (for the builder's own modules).
    pub(super) fn command(&self) -> Command {
        Command::new(&self.program)
    }

    /// Takes the name `tag` off its image (errors ignored); the image itself
    /// goes only when that was its last name.
    pub fn remove_name(&self, tag: &str) {
        let _ = self.remove_image(tag);
    }

    /// Removes the image `id` if nothing names it any more (a build's
    /// previous version whose name went to the new one); an image a user
    /// named, or a container uses, stays.
    pub fn remove_if_unnamed(&self, id: &str) {
        let names = self
            .command()
            .args(["image", "inspect", "--format", "{{len .RepoTags}}", id])
            .output();
        let unnamed = names
            .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "0");
        if unnamed {
            self.remove_name(id);
        }
    }

    /// The IDs of the images the `filters` (`dangling=true`, `label=K`) select.
    pub fn image_ids(&self, filters: &[&str]) -> Vec<String> {
        let mut command = self.command();
        command.args(["images", "--quiet", "--no-trunc"]);
        for filter in filters {
            command.args(["--filter", filter]);
        }
        let ids = self.lines_of(&mut command);
        ids.into_iter()
            .map(|id| id.trim_start_matches("sha256:").to_string())
            .collect()
    }

    /// Every `repository:tag` name in the engine's store.
    pub fn image_names(&self) -> Vec<String> {
        let mut command = self.command();
        command.args(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
        let names = self.lines_of(&mut command);
        names
            .into_iter()
            .filter(|n| !n.contains("<none>"))
            .collect()
    }

    fn lines_of(&self, command: &mut Command) -> Vec<String> {
        let out = command.stderr(Stdio::null()).output();
        let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
        let mut lines: Vec<String> = text
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        lines.dedup();
        lines
    }

    /// Removes a name (or, by ID, an unnamed image); an image a container
    /// uses stays. Whether it went.
    pub fn remove_image(&self, name_or_id: &str) -> bool {
        let _names = names_lock();
        self.command()
            .args(["rmi", name_or_id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Whether an image with this config digest is in the engine's store.
    pub fn has_image(&self, config_digest: &str) -> bool {
        self.command()
            .args(["image", "inspect", "--format", "{{.Id}}", config_digest])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Puts `image` into the engine's store unless it is there, named
    /// `repository:<config digest prefix>` so `podman images` tells what it
    /// is; returns the reference to run it by.
    pub fn ensure_image(&self, cache: &Cache, image: &Image, repository: &str) -> Result<String> {
        let id = image.config_digest.clone();
        let hex = crate::digest::strip_sha256(&id)?;
        let name = format!("{repository}:{}", &hex[..12]);
        if !self.has_image(&id) {
            self.load(cache, image, &name)?;
        }
        // For `pypack prune`, which removes helpers unused for long.
        let _ = cache.set_ref(USED_REF, &name, &crate::unix_now().to_string());
        Ok(id)
    }

    /// Puts `image` into the engine's store, named `tag`: a new name for
    /// it when it is there already, else loaded.
    pub fn load(&self, cache: &Cache, image: &Image, tag: &str) -> Result<()> {
        let full = crate::oci::layout::full_tag(tag);
        // Naming an image the engine has is one command; it fails when it has not.
        if self.tag(&image.config_digest, &full).is_ok() {
            return Ok(());
        }
        let held = self.hold(cache, image)?;
        self.tag(&image.config_digest, &full)?;
        drop(held);
        Ok(())
    }

    /// Puts `image` into the engine's store under a name of this process's
    /// own, which holds it there (a concurrent build removing its names
    /// cannot take it away) until the `HeldImage` is dropped; the image goes
    /// with that name unless it has others by then.
    pub fn hold(&self, cache: &Cache, image: &Image) -> Result<HeldImage> {
        let unique = unique_name(image)?;
        let name = if self.program == "podman" {
            match self.load_layout(cache, image, &unique) {
                Ok(name) => name,
                Err(_) => {
                    self.load_archive(cache, image, &format!("localhost/{HOLD_NAME}:{unique}"))?
                }
            }
        } else {
            self.load_archive(cache, image, &format!("localhost/{HOLD_NAME}:{unique}"))?
        };
        Ok(HeldImage {
            engine: self.clone(),
            name,
            ending: None,
        })
    }

    /// Runs `first` on `image` and keeps it held: podman is given the image
    /// as an OCI layout reference (`oci:PATH`), which it loads as part of
    /// that run, one command fewer than loading first; other engines load
    /// it, then run. The image is held (as by `hold`) whatever `first` gives.
    pub fn hold_running<T>(
        &self,
        cache: &Cache,
        image: &Image,
        first: impl FnOnce(&str) -> Result<T>,
    ) -> Result<(Result<T>, HeldImage)> {
        let staged = match self.program.as_str() {
            "podman" => StagedLayout::new(cache, image, &unique_name(image)?).ok(),
            _ => None,
        };
        let Some(staged) = staged else {
            let held = self.hold(cache, image)?;
            return Ok((first(&held.name), held));
        };
        let result = first(&format!("oci:{}", staged.link_text));
        Ok((
            result,
            HeldImage {
                engine: self.clone(),
                name: staged.name.clone(),
                ending: None,
            },
        ))
    }

    /// podman's fast way in: an OCI layout of hard links into the cache,
    /// which podman reads without copying the layers it already has; it
    /// names the image after the layout's path, a name unique to this load,
    /// which is returned.
    fn load_layout(&self, cache: &Cache, image: &Image, unique: &str) -> Result<String> {
        let staged = StagedLayout::new(cache, image, unique)?;
        let out = self
            .command()
            .args(["load", "-i", &staged.link_text])
            .output()?;
        if !out.status.success() {
            bail!(
                "podman load failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        // "Loaded image: localhost/tmp/pypack-hold-…:latest" (older podman:
        // "Loaded image(s): …"); the name it is expected to give otherwise.
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text
            .lines()
            .find_map(|l| l.split_once(": ").map(|(_, n)| n.trim().to_string()))
            .filter(|n| n.contains(&format!("{HOLD_NAME}-{unique}")))
            .unwrap_or_else(|| staged.name.clone()))
    }

    /// Gives the image `id` the name `tag` (it must be in the store).
    pub fn tag(&self, id: &str, tag: &str) -> Result<()> {
        let _names = names_lock();
        self.quiet(&["tag", id, tag])
    }

    /// Runs an engine command that must succeed; its output is dropped.
    fn quiet(&self, args: &[&str]) -> Result<()> {
        let out = self.command().args(args).output()?;
        if !out.status.success() {
            bail!(
                "{} {} failed: {}",
                self.program,
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// Writes a docker-archive beside the cache and has the engine load it,
    /// named `tag` (which is returned).
    fn load_archive(&self, cache: &Cache, image: &Image, tag: &str) -> Result<String> {
        let dir = tempfile::tempdir_in(cache.root().join("tmp"))?;
        let archive = dir.path().join("image.tar");
        write_output(
            cache,
            image,
            &Output::DockerArchive(archive.clone()),
            Some(tag),
        )?;
        let out = self
            .command()
            .arg("load")
            .arg("-i")
            .arg(&archive)
            .output()?;
        if !out.status.success() {
            bail!(
                "{} load failed: {}",
                self.program,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(tag.to_string())
    }

    /// Removes a container at once, running or not (podman would first wait
    /// out the stop timeout; docker's `rm -f` kills straight away).
    pub fn remove_container(&self, name: &str) {
        let mut command = self.command();
        command.args(["rm", "-f"]);
        if self.program == "podman" {
            command.args(["-t", "0"]);
        }
        let _ = command
            .arg(name)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Runs one step to completion and returns what it printed.
    pub fn run(&self, step: &Step) -> Result<ProcessOutput> {
        let mut command = self.command();
        command.args(["run", "--rm", "--pull=never"]);
        if self.program == "podman" {
            // An `oci:` image is loaded by the run; its progress is noise here.
            command.arg("-q");
        }
        if !step.network {
            command.arg("--network=none");
        }
        if let Some(user) = &step.user {
            command.args(["--user", user]);
        }
        if let Some(dir) = &step.workdir {
            command.args(["--workdir", dir]);
        }
        for (host, container, writable) in &step.mounts {
            let mode = if *writable { "rw" } else { "ro" };
            command.arg("-v").arg(format!(
                "{}:{container}:{mode}",
                host.to_str().context("mount path is not UTF-8")?
            ));
        }
        for (name, value) in &step.env {
            command.args(["-e", &format!("{name}={value}")]);
        }
        command.arg("--entrypoint").arg(&step.argv[0]);
        command.arg(&step.image);
        command.args(&step.argv[1..]);
        command
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {}", self.program))
    }
}

/// A name of this process's own for a hold of `image`.
fn unique_name(image: &Image) -> Result<String> {
    static HOLDS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let hex = crate::digest::strip_sha256(&image.config_digest)?;
    Ok(format!(
        "{}-{}-{}",
        &hex[..12],
        std::process::id(),
        HOLDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ))
}

/// An OCI layout of `image` (hard links into the cache) behind a symlink
/// whose path is a valid lower-case image name, as podman names an image
/// read from a layout after its path; both go when this is dropped.
struct StagedLayout {
    _dir: tempfile::TempDir,
    link: PathBuf,
    link_text: String,
    /// The name podman gives the image it reads from `link`.
    name: String,
}

impl StagedLayout {
    fn new(cache: &Cache, image: &Image, unique: &str) -> Result<StagedLayout> {
        let dir = tempfile::tempdir_in(cache.root().join("tmp"))?;
        let layout = dir.path().join("image");
        write_output(cache, image, &Output::Layout(layout.clone()), None)?;
        let link = std::env::temp_dir().join(format!("{HOLD_NAME}-{unique}"));
        let link_text = link.to_str().context("temp dir is not UTF-8")?.to_string();
        let valid = link_text.split('/').skip(1).all(|part| {
            part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        });
        if !valid {
            bail!("{link_text} cannot name an image");
        }
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&layout, &link)?;
        Ok(StagedLayout {
            _dir: dir,
            name: format!("localhost{link_text}:latest"),
            link,
            link_text,
        })
    }
}

impl Drop for StagedLayout {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.link);
    }
}

/// An image in the engine's store under a name of one build's own; the
/// name is removed when this is dropped.
#[derive(Debug)]
pub struct HeldImage {
    engine: Engine,
    /// The name to run it by.
    pub name: String,
    /// A run of the image still ending (its container stopping and being
    /// removed): waited for before the name goes, which may take the image.
    pub ending: Option<std::process::Child>,
}

impl HeldImage {
    /// The engine that holds it.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn wait_for_run(&mut self) {
        if let Some(mut run) = self.ending.take() {
            let _ = run.wait();
        }
    }

    /// Lets the name go without waiting for it, for an image that has
    /// another name by now (so only the name goes): once a run still ending
    /// is over, the engine's command is started and finishes on its own,
    /// after pypack if need be.
    pub fn release_in_background(mut self) {
        self.wait_for_run();
        let mut command = self.engine.command();
        // The command holds the names lock as its stdin (a lock belongs to
        // the open file, which the child shares): the next name change,
        // by this pypack or the next, waits for it.
        let stdin = names_lock().0.map_or_else(Stdio::null, Stdio::from);
        command
            .args(["rmi", &self.name])
            .stdin(stdin)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Ok(mut child) = command.spawn() {
            // Reaped by a thread when pypack runs on (`pypack run`).
            std::thread::spawn(move || child.wait());
            std::mem::forget(self);
        }
    }
}

impl Drop for HeldImage {
    fn drop(&mut self) {
        self.wait_for_run();
        self.engine.remove_name(&self.name);
    }
}

/// pypack's changes to image names in the engine's store, one at a time
/// across processes: podman 4 loses a name given to an image while another
/// of its names is being removed (tried: 9 tags lost in 20), and a build
/// lets its hold name go after it exits. `None` when the lock cannot be
/// had: a lock file that cannot be opened, or one held past a bound (a
/// stuck engine command) is not waited on further.
pub struct NamesLock(Option<std::fs::File>);

/// Held around every change to image names in the engine's store; public
/// so that others naming images there (the tests' own `podman load`) take
/// turns with pypack too.
pub fn names_lock() -> NamesLock {
    const WAIT: std::time::Duration = std::time::Duration::from_secs(10);
    let Ok(file) = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(names_lock_path())
    else {
        return NamesLock(None);
    };
    let start = std::time::Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return NamesLock(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < WAIT => {
                std::thread::sleep(std::time::Duration::from_millis(5))
            }
            Err(_) => return NamesLock(None),
        }
    }
}

/// One per user, as the engine's store is: in the user's runtime
/// directory (root's is /run), else the temporary directory.
fn names_lock_path() -> PathBuf {
    let uid = std::fs::metadata("/proc/self").map_or(0, |m| {
        use std::os::unix::fs::MetadataExt;
        m.uid()
    });
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_dir())
        .or_else(|| (uid == 0).then(|| PathBuf::from("/run")))
        .unwrap_or_else(std::env::temp_dir);
    dir.join(format!("pypack-{uid}-engine-names.lock"))
}

/// One command in a container: the image, what is mounted, the argv.
#[derive(Debug, Default)]
pub struct Step {
    pub image: String,
    pub argv: Vec<String>,
    /// (host path, container path, writable)
    pub mounts: Vec<(PathBuf, String, bool)>,
    pub env: Vec<(String, String)>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub network: bool,
}

impl Step {
    pub fn mount(mut self, host: &Path, container: &str, writable: bool) -> Step {
        self.mounts
            .push((host.to_path_buf(), container.to_string(), writable));
        self
    }
}

fn works(engine: &str) -> bool {
    if engine == "podman" {
        // Daemonless: installed is working (and a lookup spares a process).
        return on_path(engine);
    }
    // `docker --version` succeeds without a daemon; `docker info` does not.
    on_path(engine)
        && Command::new(engine)
            .args(["info", "--format", "{{.ServerVersion}}"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// Whether an executable file named `program` is in a PATH directory.
fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        std::fs::metadata(dir.join(program))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// The last lines of a step's stderr, for an error message.
pub fn tail(output: &ProcessOutput, lines: usize) -> String {
    let text = String::from_utf8_lossy(&output.stderr);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
