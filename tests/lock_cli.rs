//! `pypack lock` end to end and hermetic: the target comes from a base built
//! from a signed fixture Debian archive, the wheels from a PEP 691 index the
//! test serves; the lock is written, checked with --locked, and bad input is
//! refused with the file and line named and nothing written.

mod common;

use common::wheels::{Listing, WheelSpec};
use common::*;
use std::fs;

fn setup() -> AppWorld {
    AppWorld::new(|index| {
        let kit = WheelSpec::new("webapp-kit", "2.0")
            .requires(&["helper>=1", "winonly; sys_platform == 'win32'"]);
        index.add(&kit, Listing::default());
        index.add(
            &WheelSpec::new("helper", "1.4"),
            Listing {
                metadata_file: true,
                ..Listing::default()
            },
        );
        index.add(
            &WheelSpec::new("helper", "1.5").tag("cp311-cp311-manylinux_2_39_x86_64"),
            Listing::default(),
        );
    })
}

/// `pypack lock APP …`
fn run_lock(world: &AppWorld, extra: &[&str]) -> std::process::Output {
    world.run("lock", "cache", extra)
}

#[test]
fn lock_writes_pins_for_the_base_target_and_detects_staleness() {
    let s = setup();
    fs::write(s.work.join("app/requirements.txt"), "webapp-kit\n").unwrap();
    let out = run_lock(&s, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lock = fs::read_to_string(s.work.join("app/pylock.toml")).unwrap();
    assert!(
        lock.contains("name = \"webapp-kit\"\nversion = \"2.0\""),
        "{lock}"
    );
    assert!(
        lock.contains("name = \"helper\"\nversion = \"1.4\""),
        "manylinux_2_39 must not fit glibc 2.36: {lock}"
    );
    assert!(!lock.contains("winonly"));
    assert!(
        lock.contains("python = \"3.11.2\"") && lock.contains("libc = \"glibc 2.36\""),
        "{lock}"
    );
    assert!(lock.contains("sha256 = \""));

    assert!(run_lock(&s, &["--locked"]).status.success());
    fs::write(
        s.work.join("app/requirements.txt"),
        "webapp-kit\nhelper<1.4.1\n",
    )
    .unwrap();
    let stale = run_lock(&s, &["--locked"]);
    assert!(!stale.status.success());
    assert!(stderr(&stale).contains("stale"), "{}", stderr(&stale));
    assert!(run_lock(&s, &[]).status.success());
    assert!(run_lock(&s, &["--locked"]).status.success());
}

#[test]
fn bad_requirements_name_file_and_line_and_write_nothing() {
    let s = setup();
    let out = run_lock(&s, &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("neither requirements.txt nor pyproject.toml"),
        "{}",
        stderr(&out)
    );

    fs::write(
        s.work.join("app/requirements.txt"),
        "webapp-kit\nhelper>=\n",
    )
    .unwrap();
    let out = run_lock(&s, &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("requirements.txt:2"),
        "{}",
        stderr(&out)
    );

    fs::write(s.work.join("app/requirements.txt"), "no-such-thing\n").unwrap();
    let out = run_lock(&s, &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no-such-thing"), "{}", stderr(&out));
    assert_eq!(files_under(&s.work.join("app")), ["requirements.txt"]);
}

#[test]
fn pyproject_dependencies_and_optional_groups() {
    let s = setup();
    fs::write(
        s.work.join("app/pyproject.toml"),
        "[project]\nname = \"app\"\ndependencies = [\"helper\"]\n[project.optional-dependencies]\nweb = [\"webapp-kit\"]\n",
    )
    .unwrap();
    assert!(run_lock(&s, &[]).status.success());
    let lock = fs::read_to_string(s.work.join("app/pylock.toml")).unwrap();
    assert!(
        lock.contains("name = \"helper\"") && !lock.contains("webapp-kit"),
        "{lock}"
    );
    assert!(run_lock(&s, &["--extra", "web"]).status.success());
    let lock = fs::read_to_string(s.work.join("app/pylock.toml")).unwrap();
    assert!(lock.contains("name = \"webapp-kit\""), "{lock}");
    let out = run_lock(&s, &["--extra", "nope"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no optional-dependencies group 'nope'")
            && stderr(&out).contains("web")
    );
}
