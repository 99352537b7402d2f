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
fn lock_on_an_empty_cache_reads_the_debian_indexes_and_fetches_no_package() {
    let s = setup();
    fs::write(s.work.join("app/requirements.txt"), "webapp-kit\n").unwrap();
    let out = run_lock(&s, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lock = fs::read_to_string(s.work.join("app/pylock.toml")).unwrap();
    assert!(
        lock.contains("python = \"3.11.2\"") && lock.contains("libc = \"glibc 2.36\""),
        "the target comes from the fixture archive's package versions: {lock}"
    );
    // The .debs a base build would fetch are served; none is in the cache.
    let pool = s.work.join("mirror/debian/pool/main");
    let debs = files_under(&pool);
    assert!(!debs.is_empty(), "the fixture archive has packages");
    let blobs = s.work.join("cache/blobs/sha256");
    for deb in &debs {
        let hex = sha256(&fs::read(pool.join(deb)).unwrap());
        assert!(
            !blobs.join(&hex).exists(),
            "{deb} was fetched, but a lock needs no base image"
        );
    }
    // The same target afterwards, from the base a build makes.
    fs::write(s.work.join("app/main.py"), "print('hi')\n").unwrap();
    let image = s.work.join("out/image").display().to_string();
    let built = s.run("build", "cache", &["--output", &image]);
    assert!(built.status.success(), "{}", stderr(&built));
    assert!(run_lock(&s, &["--locked"]).status.success());
}

#[test]
fn bad_requirements_name_file_and_line_and_write_nothing() {
    let s = setup();
    // No dependency file: no dependencies, said in a note.
    let out = run_lock(&s, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the app gets no dependencies"),
        "{}",
        stderr(&out)
    );
    let _ = fs::remove_file(s.work.join("app/pylock.toml"));

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

/// A licence text as hatchling and meson-python fold it: its blank lines
/// become lines of spaces, which continue the field (only an empty line ends
/// the headers). Read wrongly, every Requires-Dist after it is lost.
const FOLDED_LICENSE: &str = "Copyright (c) 2015-2024, The Developers\nAll rights reserved.\n\nRedistribution and use in source and binary forms are permitted.\n\n----\n\nThis binary distribution also bundles OpenBLAS.\n";

#[test]
fn dependencies_after_a_folded_license_are_kept() {
    let s = AppWorld::new(|index| {
        // Shaped like scipy (meson-python) and altair (hatchling): the licence
        // comes before Requires-Dist; one is served as a PEP 658 file, one
        // read from the wheel.
        let scipy = WheelSpec::new("scipy", "1.14.1")
            .tag("cp311-cp311-manylinux_2_17_x86_64")
            .license(FOLDED_LICENSE)
            .requires(&["numpy<2.3,>=1.23.5", "pytest; extra == 'test'"]);
        index.add(
            &scipy,
            Listing {
                metadata_file: true,
                ..Listing::default()
            },
        );
        let altair = WheelSpec::new("altair", "5.4.1")
            .license(FOLDED_LICENSE)
            .requires(&[
                "jinja2",
                "jsonschema>=3.0",
                "narwhals>=1.5.2",
                "packaging",
                "typing-extensions>=4.10.0; python_version < '3.13'",
            ]);
        index.add(&altair, Listing::default());
        for (name, version) in [
            ("numpy", "2.1.3"),
            ("jinja2", "3.1.4"),
            ("jsonschema", "4.23.0"),
            ("narwhals", "1.13.0"),
            ("packaging", "24.2"),
            ("typing-extensions", "4.12.2"),
        ] {
            let spec = WheelSpec::new(name, version).license(FOLDED_LICENSE);
            index.add(&spec, Listing::default());
        }
    });
    for (requirement, wanted) in [
        ("scipy", &["scipy==1.14.1", "numpy==2.1.3"][..]),
        (
            "altair",
            &[
                "altair==5.4.1",
                "jinja2==3.1.4",
                "jsonschema==4.23.0",
                "narwhals==1.13.0",
                "packaging==24.2",
                "typing-extensions==4.12.2",
            ][..],
        ),
    ] {
        fs::write(
            s.work.join("app/requirements.txt"),
            format!("{requirement}\n"),
        )
        .unwrap();
        let out = run_lock(&s, &[]);
        assert!(out.status.success(), "{}", stderr(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut pins: Vec<&str> = stdout.lines().filter(|l| l.contains("==")).collect();
        let mut wanted = wanted.to_vec();
        pins.sort();
        wanted.sort();
        assert_eq!(pins, wanted, "{requirement}");
    }
}

/// A stand-in for the host's pip: a script on PATH whose `install --help`
/// names `default_index` as pip's default, as pip's own help does.
fn fake_pip(dir: &std::path::Path, default_index: &str) {
    use std::os::unix::fs::PermissionsExt;
    fs::create_dir_all(dir).unwrap();
    let script = format!(
        "#!/bin/sh\n/bin/cat <<'HELP'\nPackage Index Options:\n  -i, --index-url <url>       Base URL of the Python Package Index (default\n                              {default_index}). This should point to a\n                              repository compliant with PEP 503.\n  --extra-index-url <url>     Extra URLs of package indexes to use in addition\n                              to --index-url.\nHELP\n"
    );
    let pip = dir.join("pip3");
    fs::write(&pip, script).unwrap();
    fs::set_permissions(&pip, fs::Permissions::from_mode(0o755)).unwrap();
}

/// `pypack lock APP <base flags> EXTRA…` with no index flag and PATH = `path`.
fn lock_with_path(s: &AppWorld, path: &str, extra: &[&str]) -> std::process::Output {
    let app = s.work.join("app").display().to_string();
    let mut args: Vec<String> = vec!["lock".into(), app];
    args.extend(s.base.args());
    args.extend(extra.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    pypack_env(&s.work.join("cache"), &args, &[("PATH", path)])
}

#[test]
fn with_no_index_configured_pips_default_is_used() {
    let s = setup();
    fs::write(s.work.join("app/requirements.txt"), "webapp-kit\n").unwrap();
    let bin = s.work.join("bin");
    fake_pip(&bin, &s.index_url());
    let out = lock_with_path(&s, bin.to_str().unwrap(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = format!("index:    pip's default ({}/)", s.index_url());
    assert!(stderr(&out).contains(&said), "{}", stderr(&out));
    let lock = fs::read_to_string(s.work.join("app/pylock.toml")).unwrap();
    assert!(lock.contains("name = \"webapp-kit\""), "{lock}");

    // With find-links too, pip's default index is still consulted (as pip does),
    // and a missing package names every place that was looked in.
    let wheels = s.work.join("wheels");
    fs::create_dir_all(&wheels).unwrap();
    fs::write(s.work.join("app/requirements.txt"), "not-there\n").unwrap();
    let out = lock_with_path(
        &s,
        bin.to_str().unwrap(),
        &["--find-links", wheels.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    let looked = format!(
        "not found in {}/ (pip's default), find-links {}",
        s.index_url(),
        wheels.display()
    );
    assert!(err.contains(&looked), "{err}");
}

#[test]
fn with_no_index_and_no_pip_or_uv_the_error_says_how_to_set_one() {
    let s = setup();
    fs::write(s.work.join("app/requirements.txt"), "webapp-kit\n").unwrap();
    let empty = s.work.join("empty-bin");
    fs::create_dir_all(&empty).unwrap();
    let out = lock_with_path(&s, empty.to_str().unwrap(), &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("neither pip nor uv is installed") && err.contains("PIP_INDEX_URL"),
        "{err}"
    );
    assert!(!s.work.join("app/pylock.toml").exists());
}

#[test]
fn poetry_pipfile_and_dependency_group_projects_get_their_dependencies() {
    let s = setup();
    let pins = |out: &std::process::Output| -> Vec<String> {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("=="))
            .map(str::to_string)
            .collect()
    };
    // Poetry, no [project], no lock: ^2.0 is >=2.0,<3.0.
    fs::write(
        s.work.join("app/pyproject.toml"),
        "[tool.poetry]\nname = \"svc\"\nversion = \"0.1.0\"\n\n[tool.poetry.dependencies]\npython = \"^3.10\"\nwebapp-kit = \"^2.0\"\n\n[tool.poetry.group.dev.dependencies]\nhelper = \"^1.4\"\n",
    )
    .unwrap();
    let out = run_lock(&s, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(pins(&out), ["helper==1.4", "webapp-kit==2.0"]);
    let lock = fs::read_to_string(s.work.join("app/pylock.toml")).unwrap();
    assert!(lock.contains("name = \"webapp-kit\""), "{lock}");
    fs::remove_file(s.work.join("app/pylock.toml")).unwrap();

    // PEP 735 [dependency-groups] beside [project], only with --group.
    fs::write(
        s.work.join("app/pyproject.toml"),
        "[project]\nname = \"svc\"\nversion = \"0.1\"\ndependencies = []\n\n[dependency-groups]\nserve = [\"webapp-kit>=2\"]\nall = [{include-group = \"serve\"}]\n",
    )
    .unwrap();
    let out = run_lock(&s, &["--group", "all"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(pins(&out), ["helper==1.4", "webapp-kit==2.0"]);
    let out = run_lock(&s, &["--group", "docs"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no [dependency-groups] 'docs' (it has: all, serve)"),
        "{}",
        stderr(&out)
    );
    fs::remove_file(s.work.join("app/pyproject.toml")).unwrap();
    let _ = fs::remove_file(s.work.join("app/pylock.toml"));

    // Pipenv, no lock.
    fs::write(
        s.work.join("app/Pipfile"),
        "[packages]\nwebapp-kit = \"*\"\n\n[dev-packages]\npytest = \"*\"\n\n[requires]\npython_version = \"3.11\"\n",
    )
    .unwrap();
    let out = run_lock(&s, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(pins(&out), ["helper==1.4", "webapp-kit==2.0"]);
}

#[test]
fn a_pyproject_with_tool_settings_only_means_no_dependencies() {
    let s = setup();
    fs::write(
        s.work.join("app/pyproject.toml"),
        "[tool.black]\nline-length = 100\n",
    )
    .unwrap();
    let out = run_lock(&s, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("(0 packages for"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn setuptools_a_dependency_needs_at_run_time_keeps_pkg_resources() {
    let s = AppWorld::new(|index| {
        let server = WheelSpec::new("oldserver", "20.1").requires(&["setuptools>=3.0"]);
        index.add(&server, Listing::default());
        for version in ["81.0.0", "82.0.0"] {
            index.add(&WheelSpec::new("setuptools", version), Listing::default());
        }
    });
    // Needed by a dependency (for pkg_resources): the last one that has it.
    fs::write(s.work.join("app/requirements.txt"), "oldserver\n").unwrap();
    let out = run_lock(&s, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lock = fs::read_to_string(s.work.join("app/pylock.toml")).unwrap();
    assert!(
        lock.contains("name = \"setuptools\"\nversion = \"81.0.0\""),
        "{lock}"
    );
    // Named by the app: the newest, as pip would.
    fs::write(
        s.work.join("app/requirements.txt"),
        "oldserver\nsetuptools\n",
    )
    .unwrap();
    assert!(run_lock(&s, &[]).status.success());
    let lock = fs::read_to_string(s.work.join("app/pylock.toml")).unwrap();
    assert!(
        lock.contains("name = \"setuptools\"\nversion = \"82.0.0\""),
        "{lock}"
    );
    // A dependency that needs a newer one gets it: the hold gives way.
    let s = AppWorld::new(|index| {
        let modern = WheelSpec::new("modern", "1.0").requires(&["setuptools>=82"]);
        index.add(&modern, Listing::default());
        for version in ["81.0.0", "82.0.0"] {
            index.add(&WheelSpec::new("setuptools", version), Listing::default());
        }
    });
    fs::write(s.work.join("app/requirements.txt"), "modern\n").unwrap();
    let out = run_lock(&s, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lock = fs::read_to_string(s.work.join("app/pylock.toml")).unwrap();
    assert!(lock.contains("version = \"82.0.0\""), "{lock}");
}

#[test]
fn requirements_in_any_encoding_pip_reads_lock_like_their_utf8_twin() {
    let s = setup();
    let plain = "# the app's requirements\nwebapp-kit>=2\nhelper<1.5\n";
    let pins = |bytes: &[u8]| -> Vec<String> {
        fs::write(s.work.join("app/requirements.txt"), bytes).unwrap();
        let out = run_lock(&s, &[]);
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("=="))
            .map(str::to_string)
            .collect()
    };
    let want = pins(plain.as_bytes());
    assert_eq!(want, ["helper==1.4", "webapp-kit==2.0"]);
    // PowerShell's `pip freeze > requirements.txt`: UTF-16 LE, BOM, CRLF.
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in plain.replace('\n', "\r\n").encode_utf16() {
        utf16.extend(unit.to_le_bytes());
    }
    assert_eq!(pins(&utf16), want);
    let mut bom8 = vec![0xEF, 0xBB, 0xBF];
    bom8.extend(plain.as_bytes());
    assert_eq!(pins(&bom8), want);
    let mut latin = b"# -*- coding: latin-1 -*-\n# d\xe9pendances\n".to_vec();
    latin.extend(plain.as_bytes());
    assert_eq!(pins(&latin), want);
}
