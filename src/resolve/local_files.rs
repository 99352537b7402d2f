//! Where a lock may point pypack on this machine. A lock file arrives with
//! the app and may come from anyone: a `file://` URL (or path) in it may
//! name only what the user gave pypack to read — the app directory, the
//! lock's own directory (a uv workspace's root), the local projects and
//! wheels the app's requirements name, the find-links directories and
//! `file://` indexes configured, and pypack's cache. Anything else is
//! refused before it is opened (a FIFO would block, `/dev/zero` never
//! ends, `/etc/passwd` is nobody's wheel), naming the lock's line; so is
//! anything there that is not a regular file or a directory.

use anyhow::{Result, bail};
use std::path::{Path, PathBuf};

/// The directories (and files) a lock's local URLs may name, canonical.
#[derive(Debug, Default)]
pub struct LocalRoots {
    roots: Vec<PathBuf>,
}

impl LocalRoots {
    /// Trusts `path` and everything under it (ignored when it is not there).
    pub fn trust(&mut self, path: &Path) {
        if let Ok(canonical) = std::fs::canonicalize(path) {
            self.roots.push(canonical);
        }
    }

    /// Trusts a `file://` URL's path, or a plain path; http(s) locations are no local files.
    pub fn trust_location(&mut self, location: &str) {
        if location.starts_with("http://") || location.starts_with("https://") {
            return;
        }
        self.trust(Path::new(
            location.strip_prefix("file://").unwrap_or(location),
        ));
    }

    /// Refuses `url` (a lock's, `written` as the lock has it) unless it is
    /// a remote URL, or a local file or directory under a trusted root;
    /// nothing is opened to decide (paths are resolved, entries stat'ed).
    pub fn check(&self, lock: &Path, lock_text: &str, written: &str, url: &str) -> Result<()> {
        let Some(path) = local_path(url) else {
            return Ok(());
        };
        let at = match line_of(lock_text, written, path) {
            Some(line) => format!("{}:{line}", lock.display()),
            None => lock.display().to_string(),
        };
        let refuse = |why: String| -> Result<()> {
            bail!(
                "{at}: {why}; a lock may come from anyone, so pypack does not open it. \
                 A lock may name files under the app directory, the local projects its requirements name, \
                 the find-links directories and indexes configured, or pypack's cache: fix the lock, or pass --relock to resolve afresh"
            )
        };
        let canonical = match std::fs::canonicalize(path) {
            Ok(canonical) => canonical,
            Err(e) => return refuse(format!("{path} is not there ({e})")),
        };
        if !self.roots.iter().any(|root| canonical.starts_with(root)) {
            return refuse(format!(
                "{path} is outside the directories this build reads"
            ));
        }
        match std::fs::metadata(&canonical) {
            Ok(meta) if meta.is_file() || meta.is_dir() => Ok(()),
            Ok(meta) => refuse(format!(
                "{path} is not a regular file ({})",
                crate::walk::kind_of(&meta)
            )),
            Err(e) => refuse(format!("{path} cannot be read ({e})")),
        }
    }
}

/// Whether `url` names something on this machine (what [`LocalRoots::check`]
/// looks at; a lock of remote URLs alone needs no roots).
pub fn is_local(url: &str) -> bool {
    local_path(url).is_some()
}

/// The local path of a `file://` URL or a plain absolute path; `None` for
/// a remote URL.
fn local_path(url: &str) -> Option<&str> {
    if let Some(path) = url.strip_prefix("file://") {
        return Some(path);
    }
    (!url.contains("://")).then_some(url)
}

/// The 1-based line of `text` where the lock writes this location: as
/// written, else its path, else its last component.
fn line_of(text: &str, written: &str, path: &str) -> Option<usize> {
    let last = path.rsplit('/').find(|s| !s.is_empty()).unwrap_or(path);
    [written, path, last]
        .into_iter()
        .filter(|needle| !needle.is_empty())
        .find_map(|needle| text.lines().position(|l| l.contains(needle)))
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_lies_under_a_trusted_root_passes_and_the_line_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let app = tmp.path().join("app");
        std::fs::create_dir_all(app.join("wheels")).unwrap();
        let wheel = app.join("wheels/w-1.0-py3-none-any.whl");
        std::fs::write(&wheel, b"zip").unwrap();
        let outside = tmp.path().join("outside-1.0-py3-none-any.whl");
        std::fs::write(&outside, b"zip").unwrap();
        // A link inside the app to a file outside it is outside.
        std::os::unix::fs::symlink(&outside, app.join("wheels/link-1.0-py3-none-any.whl")).unwrap();
        let mut roots = LocalRoots::default();
        roots.trust(&app);
        let lock = app.join("pylock.toml");
        let text = format!(
            "[[packages]]\nname = \"w\"\nurl = \"file://{}\"\n\n[[packages]]\nname = \"o\"\nurl = \"file://{}\"\n",
            wheel.display(),
            outside.display()
        );
        let url = |p: &Path| format!("file://{}", p.display());
        roots
            .check(&lock, &text, &url(&wheel), &url(&wheel))
            .unwrap();
        roots
            .check(&lock, &text, "https://x/o.whl", "https://x/o.whl")
            .unwrap();
        let err = roots
            .check(&lock, &text, &url(&outside), &url(&outside))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("{}:7:", lock.display())) && err.contains("outside"),
            "{err}"
        );
        let link = app.join("wheels/link-1.0-py3-none-any.whl");
        let err = roots
            .check(&lock, &text, &url(&link), &url(&link))
            .unwrap_err()
            .to_string();
        assert!(err.contains("outside"), "{err}");
        for machine in ["file:///etc/passwd", "file:///dev/zero", "/etc/passwd"] {
            let err = roots.check(&lock, "", machine, machine).unwrap_err();
            assert!(err.to_string().contains("outside"), "{err}");
        }
    }

    #[test]
    fn a_fifo_under_a_trusted_root_is_refused_without_blocking() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("w-1.0-py3-none-any.whl");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let mut roots = LocalRoots::default();
        roots.trust(tmp.path());
        let url = format!("file://{}", fifo.display());
        let err = roots
            .check(&tmp.path().join("uv.lock"), "", &url, &url)
            .unwrap_err();
        assert!(err.to_string().contains("a named pipe"), "{err}");
    }
}
