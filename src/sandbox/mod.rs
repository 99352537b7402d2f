//! A run of an image without a container engine: the image's layers
//! unpacked into trees (see [`trees`]) and stacked by overlayfs into its
//! root, the command started there as a container engine would start it:
//! in new mount, PID, network (loopback only), IPC and UTS namespaces, as
//! the image's user, in its working directory, with its environment, and
//! the root's capabilities bounded to an engine's defaults. It spares a
//! run the engine's start-up (a few hundred milliseconds with podman):
//! the smoke run of every edit uses it. It needs this machine's root (to
//! mount and to run as the image's user) and an image for this machine;
//! elsewhere the engine runs the image.

mod namespaces;
pub mod trees;

use crate::cache::Cache;
use crate::oci::Image;
use crate::oci::image::ContainerConfig;
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Command;

/// Past this many bytes of layers to unpack, the engine is quicker.
const MOST_TO_UNPACK: u64 = 256 * 1024 * 1024;

/// An image ready to run: its layers' trees, and what its configuration
/// says about how it runs.
pub struct Sandbox {
    /// The trees, the top layer's first (as overlayfs lists them).
    lowers: Vec<PathBuf>,
    /// The trees unpacked for this run, each run's writable layer, the mount point.
    work: tempfile::TempDir,
    env: Vec<(String, String)>,
    /// The image's user, `(uid, gid)`.
    user: (u32, u32),
    workdir: String,
    runs: std::sync::atomic::AtomicU32,
}

impl Sandbox {
    /// `image` (with its configuration `config`) ready to run here. The
    /// trees of its first `kept` layers are kept in the cache for the next
    /// build (unpacked now where they are not there yet); the others are
    /// unpacked for this sandbox only. An error says why it cannot run
    /// here (the engine then runs it).
    pub fn prepare(
        cache: &Cache,
        image: &Image,
        config: &ContainerConfig,
        kept: usize,
    ) -> Result<Sandbox> {
        check_machine(image)?;
        let user = numeric_user(config.user.as_deref())?;
        let to_unpack: u64 = (image.layers.iter().enumerate())
            .filter(|(i, layer)| *i >= kept || !trees::is_kept(cache, layer))
            .map(|(_, layer)| layer.uncompressed_size)
            .sum();
        if to_unpack > MOST_TO_UNPACK {
            bail!("{} MB of layers to unpack", to_unpack / 1_000_000);
        }
        let work = tempfile::tempdir_in(cache.root().join("tmp"))?;
        let lowers = unpack_all(cache, image, kept, &work)?;
        std::fs::create_dir(work.path().join("root"))?;
        Ok(Sandbox {
            lowers,
            work,
            env: config
                .env
                .iter()
                .filter_map(|e| e.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            user,
            workdir: config.working_dir.clone().unwrap_or_else(|| "/".into()),
            runs: std::sync::atomic::AtomicU32::new(0),
        })
    }

    /// A command running `argv` in the image with `env` added to the
    /// image's environment, as the image's user or, `as_root`, as root.
    /// Killing it ends everything it started.
    pub fn command(
        &self,
        argv: &[String],
        env: &[(String, String)],
        as_root: bool,
    ) -> Result<Command> {
        let program = argv.first().context("an empty command")?;
        if !program.starts_with('/') {
            bail!("{program}: the sandbox runs a command by its path in the image");
        }
        let run = self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let layer = self.work.path().join(format!("run-{run}"));
        std::fs::create_dir_all(layer.join("upper"))?;
        std::fs::create_dir_all(layer.join("work"))?;
        std::fs::write(layer.join("hosts"), HOSTS)?;
        std::fs::write(layer.join("hostname"), format!("{HOSTNAME}\n"))?;
        let setup = namespaces::Setup::new(namespaces::Paths {
            root: &self.work.path().join("root"),
            lowers: &self.lowers,
            run: &layer,
            hostname: HOSTNAME,
            workdir: &self.workdir,
            user: if as_root { (0, 0) } else { self.user },
        })?;
        let mut command = Command::new(program);
        command.args(&argv[1..]).env_clear();
        let mut all: Vec<(String, String)> = self.env.clone();
        for (name, value) in env {
            all.retain(|(n, _)| n != name);
            all.push((name.clone(), value.clone()));
        }
        if !all.iter().any(|(n, _)| n == "PATH") {
            all.push(("PATH".into(), DEFAULT_PATH.into()));
        }
        command.envs(all);
        namespaces::enter(&mut command, setup);
        Ok(command)
    }
}

const HOSTNAME: &str = "pypack-smoke";
const HOSTS: &str =
    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tpypack-smoke\n";
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Why this machine cannot run `image` itself, if it cannot.
fn check_machine(image: &Image) -> Result<()> {
    if image.platform != crate::platform::Platform::host() {
        bail!("the image is for {}", image.platform);
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("mounting the image's layers needs root");
    }
    Ok(())
}

/// The image's user as numbers (`uid[:gid]`, empty: root); a user named
/// by name would need the image's /etc/passwd, which the engine reads.
fn numeric_user(user: Option<&str>) -> Result<(u32, u32)> {
    let user = user.unwrap_or("").trim();
    if user.is_empty() || user == "root" {
        return Ok((0, 0));
    }
    // A uid alone takes its group from the image's /etc/passwd.
    let parsed = (user.split_once(':')).and_then(|(u, g)| Some((u.parse().ok()?, g.parse().ok()?)));
    parsed.with_context(|| format!("the image's user {user} is not given as UID:GID"))
}

/// The trees of `image`'s layers, the top one's first, unpacked on
/// threads of their own where they are not kept yet.
fn unpack_all(
    cache: &Cache,
    image: &Image,
    kept: usize,
    work: &tempfile::TempDir,
) -> Result<Vec<PathBuf>> {
    let trees: Vec<Result<PathBuf>> = std::thread::scope(|scope| {
        let unpacking: Vec<_> = (image.layers.iter().enumerate())
            .map(|(i, layer)| {
                scope.spawn(move || match i < kept {
                    true => trees::kept(cache, layer),
                    false => {
                        let dir = work.path().join(format!("layer-{i}"));
                        trees::unpack(cache, layer, &dir).map(|()| dir)
                    }
                })
            })
            .collect();
        unpacking
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| bail!("unpacking a layer panicked"))
            })
            .collect()
    });
    let mut lowers = trees.into_iter().collect::<Result<Vec<_>>>()?;
    lowers.reverse();
    Ok(lowers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_by_number() {
        assert_eq!(numeric_user(None).unwrap(), (0, 0));
        assert_eq!(numeric_user(Some("65532:65532")).unwrap(), (65532, 65532));
        assert!(numeric_user(Some("1000")).is_err());
        assert!(numeric_user(Some("nonroot")).is_err());
    }
}
