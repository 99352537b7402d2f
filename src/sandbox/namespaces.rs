//! What a sandboxed run does between fork and exec: new namespaces, a
//! second fork so the command is the first process of its PID namespace
//! (when it ends, everything it started ends), the image's root stacked by
//! overlayfs with /proc, /dev and /sys as an engine mounts them, loopback
//! up, the root pivoted, capabilities bounded, the image's user taken.
//! Between fork and exec only system calls are made, on memory prepared
//! before the fork ([`Setup::new`]): the process that forked may have had
//! other threads, whose locks the child must not touch.

use anyhow::{Result, bail};
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where a run's pieces are, as [`super::Sandbox`] lays them out.
pub struct Paths<'a> {
    /// The empty directory the root is mounted on.
    pub root: &'a Path,
    /// The layers' trees, the top one's first.
    pub lowers: &'a [PathBuf],
    /// This run's directory: `upper` and `work` for overlayfs, the
    /// `hosts` and `hostname` files bound into /etc.
    pub run: &'a Path,
    pub hostname: &'a str,
    pub workdir: &'a str,
    pub user: (u32, u32),
}

/// Everything the child needs, as C strings made before the fork.
pub struct Setup {
    root: CString,
    overlay_options: CString,
    /// Directories made in the root when the image lacks them.
    dirs: Vec<CString>,
    proc_dir: CString,
    sys_dir: CString,
    dev_dir: CString,
    shm_dir: CString,
    /// Device files of this machine bound into the root's /dev.
    devices: Vec<(CString, CString)>,
    /// `(target, link)` symlinks in /dev.
    links: Vec<(CString, CString)>,
    /// Files of the run bound over the image's (`/etc/hosts`…).
    binds: Vec<(CString, CString)>,
    /// Parts of /proc made read-only, and hidden, as an engine does.
    proc_read_only: Vec<CString>,
    proc_masked: Vec<CString>,
    hostname: CString,
    workdir: CString,
    user: (u32, u32),
}

/// Capabilities an engine leaves a container's root (podman's defaults):
/// chown, dac_override, fowner, fsetid, kill, setgid, setuid, setpcap,
/// net_bind_service, sys_chroot, setfcap.
const KEPT_CAPABILITIES: [i32; 11] = [0, 1, 3, 4, 5, 6, 7, 8, 10, 18, 31];

impl Setup {
    pub fn new(paths: Paths) -> Result<Setup> {
        let text = |p: &Path| p.to_str().map(str::to_string);
        let mut lowers = Vec::new();
        for dir in paths
            .lowers
            .iter()
            .chain([paths.run, paths.root].map(Path::to_path_buf).iter())
        {
            match text(dir) {
                Some(t) if !t.contains([',', ':', '\\']) => lowers.push(t),
                _ => bail!("{}: a path overlayfs options cannot name", dir.display()),
            }
        }
        let run = text(paths.run).unwrap_or_default();
        let options = format!(
            "lowerdir={},upperdir={run}/upper,workdir={run}/work",
            lowers[..paths.lowers.len()].join(":")
        );
        // Mount options are read from one page.
        if options.len() >= 4000 {
            bail!("too many layers for one overlayfs mount");
        }
        let under = |rel: &str| c(&paths.root.join(rel));
        let devices = ["null", "zero", "full", "random", "urandom", "tty"]
            .iter()
            .map(|d| Ok((c(&Path::new("/dev").join(d))?, under(&format!("dev/{d}"))?)))
            .collect::<Result<Vec<_>>>()?;
        let links = [
            ("/proc/self/fd", "dev/fd"),
            ("/proc/self/fd/0", "dev/stdin"),
            ("/proc/self/fd/1", "dev/stdout"),
            ("/proc/self/fd/2", "dev/stderr"),
        ]
        .iter()
        .map(|(target, link)| Ok((CString::new(*target)?, under(link)?)))
        .collect::<Result<Vec<_>>>()?;
        let binds = ["hosts", "hostname"]
            .iter()
            .map(|f| Ok((c(&paths.run.join(f))?, under(&format!("etc/{f}"))?)))
            .collect::<Result<Vec<_>>>()?;
        let in_proc = |names: &[&str]| -> Result<Vec<CString>> {
            names.iter().map(|n| under(&format!("proc/{n}"))).collect()
        };
        Ok(Setup {
            proc_read_only: in_proc(&["sys", "sysrq-trigger", "irq", "bus", "fs"])?,
            proc_masked: in_proc(&["kcore", "keys", "timer_list"])?,
            root: c(paths.root)?,
            overlay_options: CString::new(options)?,
            dirs: ["proc", "sys", "dev", "etc", "tmp"]
                .iter()
                .map(|d| under(d))
                .collect::<Result<_>>()?,
            proc_dir: under("proc")?,
            sys_dir: under("sys")?,
            dev_dir: under("dev")?,
            shm_dir: under("dev/shm")?,
            devices,
            links,
            binds,
            hostname: CString::new(paths.hostname)?,
            workdir: CString::new(paths.workdir)?,
            user: paths.user,
        })
    }

    /// In the child: the namespaces, the second fork (this process then
    /// only waits, and exits as the command does), the root. Returns in
    /// the command's process, ready for exec.
    fn enter(&self) -> io::Result<()> {
        let namespaces = libc::CLONE_NEWNS
            | libc::CLONE_NEWPID
            | libc::CLONE_NEWNET
            | libc::CLONE_NEWIPC
            | libc::CLONE_NEWUTS;
        // SAFETY (this function): system calls on C strings and plain
        // values made before the fork; nothing allocates.
        check(unsafe { libc::unshare(namespaces) })?;
        let pid = check(unsafe { libc::fork() })?;
        if pid > 0 {
            wait_and_exit_as(pid);
        }
        // The first process of the new PID namespace; it goes when the
        // process that started it is killed.
        check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) })?;
        self.mount_root()?;
        set_hostname(&self.hostname)?;
        loopback_up()?;
        self.pivot()?;
        bound_capabilities();
        self.take_user()?;
        unsafe {
            libc::umask(0o022);
            if libc::chdir(self.workdir.as_ptr()) != 0 {
                libc::chdir(c"/".as_ptr());
            }
        }
        Ok(())
    }

    fn mount_root(&self) -> io::Result<()> {
        let none = std::ptr::null();
        unsafe {
            // Nothing mounted here shows on this machine's side.
            check(libc::mount(
                none,
                c"/".as_ptr(),
                none,
                libc::MS_REC | libc::MS_PRIVATE,
                none.cast(),
            ))?;
            check(libc::mount(
                c"overlay".as_ptr(),
                self.root.as_ptr(),
                c"overlay".as_ptr(),
                0,
                self.overlay_options.as_ptr().cast(),
            ))?;
            for dir in &self.dirs {
                libc::mkdir(dir.as_ptr(), 0o755);
            }
            let quiet = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
            check(libc::mount(
                c"proc".as_ptr(),
                self.proc_dir.as_ptr(),
                c"proc".as_ptr(),
                quiet,
                none.cast(),
            ))?;
            // Kernel settings stay read-only, kernel memory and keys hidden
            // (what is not there on this kernel is passed over).
            for path in &self.proc_read_only {
                if libc::mount(
                    path.as_ptr(),
                    path.as_ptr(),
                    none,
                    libc::MS_BIND | libc::MS_REC,
                    none.cast(),
                ) == 0
                {
                    let again = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY;
                    check(libc::mount(none, path.as_ptr(), none, again, none.cast()))?;
                }
            }
            for path in &self.proc_masked {
                libc::mount(
                    c"/dev/null".as_ptr(),
                    path.as_ptr(),
                    none,
                    libc::MS_BIND,
                    none.cast(),
                );
            }
            let dev_options = c"mode=755,size=65536k";
            check(libc::mount(
                c"tmpfs".as_ptr(),
                self.dev_dir.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NOEXEC,
                dev_options.as_ptr().cast(),
            ))?;
            libc::mkdir(self.shm_dir.as_ptr(), 0o1777);
            check(libc::mount(
                c"shm".as_ptr(),
                self.shm_dir.as_ptr(),
                c"tmpfs".as_ptr(),
                quiet,
                c"mode=1777,size=65536k".as_ptr().cast(),
            ))?;
            for (device, target) in &self.devices {
                bind(device, target)?;
            }
            for (target, link) in &self.links {
                libc::symlink(target.as_ptr(), link.as_ptr());
            }
            // /sys as an engine gives it, read-only; a machine that refuses
            // it leaves the image's own (empty) directory.
            libc::mount(
                c"sysfs".as_ptr(),
                self.sys_dir.as_ptr(),
                c"sysfs".as_ptr(),
                quiet | libc::MS_RDONLY,
                none.cast(),
            );
            for (file, target) in &self.binds {
                bind(file, target)?;
            }
        }
        Ok(())
    }

    /// The stacked root becomes `/`; this machine's root is let go.
    fn pivot(&self) -> io::Result<()> {
        unsafe {
            check(libc::chdir(self.root.as_ptr()))?;
            check(
                libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) as libc::c_int,
            )?;
            check(libc::umount2(c".".as_ptr(), libc::MNT_DETACH))?;
            check(libc::chdir(c"/".as_ptr()))?;
        }
        Ok(())
    }

    fn take_user(&self) -> io::Result<()> {
        let (uid, gid) = self.user;
        unsafe {
            check(libc::setgroups(0, std::ptr::null()))?;
            check(libc::setgid(gid))?;
            check(libc::setuid(uid))?;
        }
        Ok(())
    }
}

/// `command`, once spawned, runs in the sandbox `setup` describes.
pub fn enter(command: &mut Command, setup: Setup) {
    // SAFETY: `Setup::enter` makes only system calls on memory made before
    // the fork (see the module's comment).
    unsafe {
        command.pre_exec(move || setup.enter());
    }
}

/// The process between the spawner and the command: it closes what it
/// inherited (the spawner learns the command started once the command's
/// copy of its status pipe closes at exec), waits, and exits as the
/// command did.
fn wait_and_exit_as(pid: libc::pid_t) -> ! {
    unsafe {
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
            for fd in 3..4096 {
                libc::close(fd);
            }
        }
        let mut status = 0;
        loop {
            let waited = libc::waitpid(pid, &mut status, 0);
            if waited == pid {
                break;
            }
            if waited < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                libc::_exit(127);
            }
        }
        match (libc::WIFEXITED(status), libc::WIFSIGNALED(status)) {
            (true, _) => libc::_exit(libc::WEXITSTATUS(status)),
            (_, true) => libc::_exit(128 + libc::WTERMSIG(status)),
            _ => libc::_exit(127),
        }
    }
}

fn bind(source: &CString, target: &CString) -> io::Result<()> {
    unsafe {
        let fd = libc::open(
            target.as_ptr(),
            libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
            0o644,
        );
        if fd >= 0 {
            libc::close(fd);
        }
        check(libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        ))?;
    }
    Ok(())
}

fn set_hostname(name: &CString) -> io::Result<()> {
    check(unsafe { libc::sethostname(name.as_ptr(), name.as_bytes().len()) })?;
    Ok(())
}

/// The new network namespace's loopback, up (an engine's `--network=none`).
fn loopback_up() -> io::Result<()> {
    unsafe {
        let fd = check(libc::socket(
            libc::AF_INET,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            0,
        ))?;
        let mut request: libc::ifreq = std::mem::zeroed();
        for (to, from) in request.ifr_name.iter_mut().zip(b"lo") {
            *to = *from as libc::c_char;
        }
        let done = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut request);
        if done == 0 {
            request.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            libc::ioctl(fd, libc::SIOCSIFFLAGS, &request);
        }
        libc::close(fd);
        check(done)?;
    }
    Ok(())
}

/// Capabilities past an engine's defaults are dropped from the bounding
/// set: a command run as root gets no more than in a container.
fn bound_capabilities() {
    for capability in 0..64 {
        if !KEPT_CAPABILITIES.contains(&capability) {
            // An unknown capability number fails harmlessly.
            unsafe { libc::prctl(libc::PR_CAPBSET_DROP, capability as libc::c_ulong) };
        }
    }
}

fn check<T: Into<i64> + Copy>(result: T) -> io::Result<T> {
    match result.into() {
        -1 => Err(io::Error::last_os_error()),
        _ => Ok(result),
    }
}

fn c(path: &Path) -> Result<CString> {
    Ok(CString::new(path.as_os_str().as_bytes())?)
}
