//! What `pypack run --watch` waits on: a change in the app directory, told
//! by the kernel (inotify) as it is made, and settled once the writes stop
//! (editors save in several writes). Where inotify cannot watch (its limit
//! of watches reached), the tree is compared with a snapshot at every poll.

use inotify::{Inotify, WatchMask};
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Directories whose changes never change the image (or are the tools' own).
pub const UNWATCHED: &[&str] = &[
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

/// How long the tree must stay quiet after a change before it counts.
const QUIET: Duration = Duration::from_millis(60);

/// A change is what a file's create, write, move or removal makes.
const MASK: WatchMask = WatchMask::CLOSE_WRITE
    .union(WatchMask::MODIFY)
    .union(WatchMask::CREATE)
    .union(WatchMask::DELETE)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::MOVED_TO);

pub struct Changes {
    dir: PathBuf,
    how: How,
}

enum How {
    Events(Inotify),
    Polling(Snapshot),
}

impl Changes {
    /// Watches `dir` and every directory under it (but [`UNWATCHED`] ones).
    pub fn watch(dir: &Path) -> Changes {
        let how = match Inotify::init().and_then(|mut inotify| {
            add_watches(&mut inotify, dir)?;
            Ok(inotify)
        }) {
            Ok(inotify) => How::Events(inotify),
            Err(e) => {
                eprintln!(
                    "warning: cannot watch {} for changes ({e}); looking at it every 200 ms instead",
                    dir.display()
                );
                How::Polling(snapshot(dir))
            }
        };
        Changes {
            dir: dir.to_path_buf(),
            how,
        }
    }

    /// Waits up to `timeout`: whether the tree changed (and has settled).
    pub fn wait(&mut self, timeout: Duration) -> bool {
        match &mut self.how {
            How::Events(inotify) => {
                if !readable(inotify, timeout) || !drain(inotify) {
                    return false;
                }
                // Whatever else comes before the tree is quiet is part of it.
                while readable(inotify, QUIET) {
                    drain(inotify);
                }
                // Directories made since are watched too.
                let _ = add_watches(inotify, &self.dir);
                true
            }
            How::Polling(seen) => {
                std::thread::sleep(timeout);
                let now = snapshot(&self.dir);
                if now == *seen {
                    return false;
                }
                *seen = settle(&self.dir, now);
                true
            }
        }
    }
}

fn add_watches(inotify: &mut Inotify, dir: &Path) -> std::io::Result<()> {
    inotify.watches().add(dir, MASK)?;
    let mut failed = None;
    let _ = crate::walk::walk_sorted(dir, "", &mut |path, meta, rel| {
        if !meta.is_dir() {
            return Ok(false);
        }
        let name = rel.rsplit('/').next().unwrap_or(rel);
        if UNWATCHED.contains(&name) {
            return Ok(false);
        }
        if let Err(e) = inotify.watches().add(path, MASK) {
            failed = Some(e);
            return Ok(false);
        }
        Ok(true)
    });
    failed.map_or(Ok(()), Err)
}

/// Whether events wait to be read within `timeout`.
fn readable(inotify: &Inotify, timeout: Duration) -> bool {
    let mut poll = libc::pollfd {
        fd: inotify.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let millis = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one pollfd, valid for the call.
    let ready = unsafe { libc::poll(&mut poll, 1, millis) };
    ready > 0 && poll.revents & libc::POLLIN != 0
}

/// Reads every waiting event: whether one of them is a change that counts
/// (not a tool's own directory being made or removed).
fn drain(inotify: &mut Inotify) -> bool {
    let mut buffer = [0u8; 16 * 1024];
    let mut counts = false;
    while let Ok(events) = inotify.read_events(&mut buffer) {
        let mut any = false;
        for event in events {
            any = true;
            let name = event.name.and_then(|n| n.to_str()).unwrap_or("");
            counts |= !UNWATCHED.contains(&name);
        }
        if !any {
            break;
        }
    }
    counts
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_is_seen_at_once_and_tool_directories_are_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("pkg")).unwrap();
        let mut changes = Changes::watch(dir.path());
        assert!(matches!(changes.how, How::Events(_)));
        assert!(!changes.wait(Duration::from_millis(20)));

        let started = std::time::Instant::now();
        std::fs::write(dir.path().join("pkg/mod.py"), "x = 1\n").unwrap();
        assert!(changes.wait(Duration::from_secs(2)));
        assert!(started.elapsed() < Duration::from_millis(500));
        assert!(!changes.wait(Duration::from_millis(20)));

        // A directory made after the start is watched from the next wait on.
        std::fs::create_dir(dir.path().join("new")).unwrap();
        assert!(changes.wait(Duration::from_secs(2)));
        std::fs::write(dir.path().join("new/file.txt"), "x").unwrap();
        assert!(changes.wait(Duration::from_secs(2)));

        // Python's own cache directory coming and going is no change.
        std::fs::create_dir(dir.path().join("__pycache__")).unwrap();
        std::fs::write(dir.path().join("__pycache__/mod.pyc"), "x").unwrap();
        assert!(!changes.wait(Duration::from_millis(100)));
    }
}
