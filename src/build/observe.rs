//! What the smoke run saw, followed: the image is made to fit what the app
//! does rather than what the rules guessed. The port it answered HTTP on
//! becomes the image's `EXPOSE`/`PORT`; the paths it wrote under /app
//! become its own (uid 65532), the directory of each and no more, `/app`
//! itself only when it writes right there. Each change is a rule of its own.

use crate::builder::smoke::{Observed, Writes};
use crate::project::decided::Decided;
use crate::project::start::{Started, writable_dirs};
use anyhow::{Result, bail};

/// `started` changed to fit `observed`; `None` when it already does.
pub fn follow(started: &Started, observed: &Observed) -> Result<Option<Started>> {
    let mut followed = started.clone();
    let mut changed = false;
    if let Some(port) = observed.port
        && port != started.port.value
    {
        followed.port = Decided {
            value: port,
            rule: format!(
                "observed: the app answered HTTP on {port} in the smoke run, not on {} ({})",
                started.port.value, started.port.rule
            ),
        };
        changed = true;
    }
    if let Some(writes) = &observed.writes
        && !writes.is_empty()
    {
        let wanted = paths_for(writes);
        let new: Vec<Decided<String>> = wanted
            .iter()
            .filter(|w| !covered(&started.writable, &w.value))
            // A directory another one holds is covered by it.
            .filter(|w| {
                !wanted
                    .iter()
                    .any(|o| o.value != w.value && covered(std::slice::from_ref(o), &w.value))
            })
            .cloned()
            .collect();
        if !new.is_empty() {
            if started.read_only {
                bail!(
                    "smoke run: the app writes under /app ({}), and [tool.pypack] read-only = true refuses to make it \
                     writable: keep what it writes outside /app (/tmp is writable), or drop read-only",
                    describe(writes)
                );
            }
            let mut all = started.writable.clone();
            all.extend(new);
            followed.writable = writable_dirs(all, &[])?;
            changed = true;
        }
    }
    Ok(changed.then_some(followed))
}

/// What following changed, in a few words for the build's output.
pub fn changes(before: &Started, after: &Started) -> String {
    let mut said = Vec::new();
    if before.port.value != after.port.value {
        said.push(format!(
            "the app answered HTTP on port {}, not {} (EXPOSE and PORT follow)",
            after.port.value, before.port.value
        ));
    }
    let new: Vec<String> = after
        .writable
        .iter()
        .filter(|w| !before.writable.iter().any(|b| b.value == w.value))
        .map(|w| match w.value.as_str() {
            "." => "/app itself".to_string(),
            path => format!("/app/{path}"),
        })
        .collect();
    if !new.is_empty() {
        said.push(format!(
            "it writes under /app, so these become its own (uid 65532): {}",
            new.join(", ")
        ));
    }
    said.join("; ")
}

/// Whether `path` is already writable under `writable` (a directory given
/// over with all below it; `.` is the app directory alone).
fn covered(writable: &[Decided<String>], path: &str) -> bool {
    writable
        .iter()
        .any(|w| w.value == path || (w.value != "." && path.starts_with(&format!("{}/", w.value))))
}

/// The writable paths the writes need: a created directory (its top-most
/// new one) itself; for a created, changed or removed file, its directory
/// (`.` when that is /app, and a changed file there itself, since /app
/// alone is given over without what it holds).
fn paths_for(writes: &Writes) -> Vec<Decided<String>> {
    let created_dirs: Vec<&str> = writes
        .created
        .iter()
        .filter_map(|c| c.strip_suffix('/'))
        .collect();
    let parent = |path: &str| -> String {
        match path.trim_end_matches('/').rsplit_once('/') {
            Some((dir, _)) => dir.to_string(),
            None => ".".to_string(),
        }
    };
    // Under a directory the app created: that directory covers it.
    let under_new = |path: &str| {
        created_dirs
            .iter()
            .any(|d| path != *d && path.trim_end_matches('/').starts_with(&format!("{d}/")))
    };
    let mut out: Vec<Decided<String>> = Vec::new();
    let mut add = |value: String, why: String| {
        if !out.iter().any(|d| d.value == value) {
            out.push(Decided { value, rule: why });
        }
    };
    for path in &writes.created {
        if under_new(path) {
            continue;
        }
        match path.strip_suffix('/') {
            Some(dir) => add(
                dir.to_string(),
                format!("observed: the app created {dir}/ in the smoke run"),
            ),
            None => add(
                parent(path),
                format!("observed: the app created {path} in the smoke run"),
            ),
        }
    }
    for (path, what) in writes
        .changed
        .iter()
        .map(|p| (p, "changed"))
        .chain(writes.removed.iter().map(|p| (p, "removed")))
    {
        if under_new(path) {
            continue;
        }
        let dir = parent(path);
        if dir == "." && what == "changed" {
            add(
                path.clone(),
                format!("observed: the app changed {path} in the smoke run"),
            );
        }
        add(
            dir,
            format!("observed: the app {what} {path} in the smoke run"),
        );
    }
    out
}

fn describe(writes: &Writes) -> String {
    let mut parts = Vec::new();
    for (what, paths) in [
        ("created", &writes.created),
        ("changed", &writes.changed),
        ("removed", &writes.removed),
    ] {
        if !paths.is_empty() {
            let mut shown: Vec<String> = paths.iter().take(5).cloned().collect();
            if paths.len() > 5 {
                shown.push(format!("and {} more", paths.len() - 5));
            }
            parts.push(format!("{what} {}", shown.join(", ")));
        }
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writes(created: &[&str], changed: &[&str], removed: &[&str]) -> Writes {
        let own = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        Writes {
            created: own(created),
            changed: own(changed),
            removed: own(removed),
        }
    }

    fn values(found: Vec<Decided<String>>) -> Vec<String> {
        found.into_iter().map(|d| d.value).collect()
    }

    #[test]
    fn writes_become_the_directories_that_hold_them() {
        // Flask-SQLAlchemy making instance/ and its database at import.
        let found = paths_for(&writes(&["instance/", "instance/app.db"], &[], &[]));
        assert_eq!(values(found.clone()), ["instance"]);
        assert!(
            found[0].rule.contains("created instance/"),
            "{}",
            found[0].rule
        );
        // Files changed in many directories under one that also changed: that one.
        let found = paths_for(&writes(
            &[],
            &["static/a/x.css", "static/b/y.js", "static/manifest.json"],
            &[],
        ));
        let all: Vec<Decided<String>> = found;
        let kept: Vec<String> = all
            .iter()
            .filter(|w| {
                !all.iter()
                    .any(|o| o.value != w.value && covered(std::slice::from_ref(o), &w.value))
            })
            .map(|w| w.value.clone())
            .collect();
        assert_eq!(kept, ["static"]);
        // SQLite right beside manage.py: /app itself, alone.
        assert_eq!(values(paths_for(&writes(&["db.sqlite3"], &[], &[]))), ["."]);
        // A file the app rewrites in place in /app: it and /app.
        assert_eq!(
            values(paths_for(&writes(&[], &["counter.txt"], &[]))),
            ["counter.txt", "."]
        );
        // A new file in a directory the image has: that directory.
        assert_eq!(
            values(paths_for(&writes(
                &["data/cache/x.json"],
                &[],
                &["data/old.json"]
            ))),
            ["data/cache", "data"]
        );
    }

    #[test]
    fn what_is_already_writable_is_not_followed_again() {
        let writable = vec![Decided {
            value: "data".to_string(),
            rule: "x".into(),
        }];
        assert!(covered(&writable, "data/cache"));
        assert!(!covered(&writable, "database"));
        let root = vec![Decided {
            value: ".".to_string(),
            rule: "x".into(),
        }];
        assert!(covered(&root, "."));
        assert!(!covered(&root, "instance"));
    }
}
