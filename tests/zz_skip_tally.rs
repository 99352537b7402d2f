//! The last test binary of a `cargo test` run (test binaries run in name
//! order): prints how many tests of this run skipped and why, as the line
//! the suite ends with, and fails when any did with `CI` set. Skips are
//! recorded by `common::skip`, in a file of this run (named by the cargo
//! process every test binary is a child of).

mod common;

#[test]
fn skips_are_counted() {
    let dir = common::skip_tally_dir();
    let file = dir.join(common::skip_tally_file());
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let _ = std::fs::remove_file(&file);
    forget_old_runs(&dir);
    let reasons: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let line = match reasons.len() {
        0 => "0 skipped".to_string(),
        n => format!("{n} skipped: {}", reasons.join("; ")),
    };
    common::shout(&format!("\n{line}\n"));
    assert!(
        reasons.is_empty() || std::env::var_os("CI").is_none(),
        "{line}"
    );
}

/// Tallies of runs that stopped before this binary (a filtered or killed
/// run), once they are a day old.
fn forget_old_runs(dir: &std::path::Path) {
    let day = std::time::Duration::from_secs(24 * 3600);
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > day);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
