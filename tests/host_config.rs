//! A host without Debian apt sources (macOS, Fedora, Ubuntu CI runners):
//! `pypack build` run in a mount namespace where `/etc/apt` is an empty
//! directory (or holds Ubuntu's sources) finds the Debian archive through
//! PYPACK_DEBIAN_MIRROR or the config file `pypack config set` writes, and
//! without either says every way to name one.

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// Whether `unshare --mount` works here (root, a kernel that allows it).
fn namespaces_work(test: &str) -> bool {
    let works = Command::new("unshare")
        .args(["--mount", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    required(test, "unshare --mount (root)", works)
}

/// Runs pypack with `apt_dir` mounted over `/etc/apt` in a private mount
/// namespace, and with the test's private cache and config home.
fn pypack_with_apt(
    world: &AppWorld,
    apt_dir: &Path,
    args: &[&str],
    vars: &[(&str, &str)],
) -> Output {
    let cache = world.work.join("cache");
    let mut command = Command::new("unshare");
    command
        .args([
            "--mount",
            "sh",
            "-c",
            "mount --bind \"$1\" /etc/apt && shift && exec \"$@\"",
            "sh",
        ])
        .arg(apt_dir)
        .arg(env!("CARGO_BIN_EXE_pypack"))
        .args(args)
        .env("PYPACK_CACHE_DIR", &cache)
        .env_remove("PYPACK_DEBIAN_MIRROR")
        .env_remove("PYPACK_DEBIAN_SECURITY_MIRROR")
        .env_remove("PIP_INDEX_URL")
        .env_remove("PIP_FIND_LINKS")
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("XDG_CONFIG_HOME", world.work.join("config"))
        .env("HOME", world.work.join("home"));
    command.envs(vars.iter().copied());
    let out = command.output().unwrap();
    eprintln!(
        "$ (with {} as /etc/apt) pypack {}\n{}{}",
        apt_dir.display(),
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `build APP --recipe … --keyring … --index-url … --output OUT` with no mirror flag.
fn build_args(world: &AppWorld, out: &str) -> Vec<String> {
    vec![
        "build".into(),
        world.work.join("app").display().to_string(),
        "--recipe".into(),
        world.base.recipe.display().to_string(),
        "--keyring".into(),
        world.base.archive.keyring_path.display().to_string(),
        "--index-url".into(),
        world.index_url(),
        "--no-compile".into(),
        "--no-smoke".into(),
        "--output".into(),
        world.work.join("out").join(out).display().to_string(),
    ]
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn with_no_apt_sources_the_mirror_comes_from_the_environment_or_the_config_file() {
    if !namespaces_work(
        "with_no_apt_sources_the_mirror_comes_from_the_environment_or_the_config_file",
    ) {
        return;
    }
    let world = small_app();
    let empty_apt = world.work.join("empty-apt");
    fs::create_dir_all(&empty_apt).unwrap();
    fs::create_dir_all(world.work.join("out")).unwrap();
    let mirror = world.base.archive.mirror_url(&world.base.server);

    // Nothing names an archive: every way to name one is said, nothing is written.
    let out = pypack_with_apt(&world, &empty_apt, &strs(&build_args(&world, "none")), &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    for way in [
        "this host has no apt sources",
        "PYPACK_DEBIAN_MIRROR=URL",
        "pypack config set debian-mirror URL",
        "--debian-mirror URL",
    ] {
        assert!(err.contains(way), "'{way}' missing from: {err}");
    }
    assert!(files_under(&world.work.join("out")).is_empty());

    // The environment variable.
    let out = pypack_with_apt(
        &world,
        &empty_apt,
        &strs(&build_args(&world, "by-env")),
        &[("PYPACK_DEBIAN_MIRROR", &mirror)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(world.work.join("out/by-env/index.json").is_file());

    // The config file, written by `pypack config set`.
    let set = pypack_with_apt(
        &world,
        &empty_apt,
        &["config", "set", "debian-mirror", &mirror],
        &[],
    );
    assert!(set.status.success(), "{}", stderr(&set));
    assert!(
        fs::read_to_string(world.work.join("config/pypack/config.toml"))
            .unwrap()
            .contains(&mirror)
    );
    let list = pypack_with_apt(&world, &empty_apt, &["config", "list"], &[]);
    assert!(String::from_utf8_lossy(&list.stdout).contains(&format!("debian-mirror = {mirror}")));
    let out = pypack_with_apt(
        &world,
        &empty_apt,
        &strs(&build_args(&world, "by-config")),
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(world.work.join("out/by-config/index.json").is_file());

    // A bad value is refused and names the key.
    let bad = pypack_with_apt(
        &world,
        &empty_apt,
        &["config", "set", "debian-mirror", "nope"],
        &[],
    );
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("not a URL"), "{}", stderr(&bad));
}

#[test]
fn ubuntu_apt_sources_are_named_as_such() {
    if !namespaces_work("ubuntu_apt_sources_are_named_as_such") {
        return;
    }
    let world = small_app();
    let ubuntu_apt = world.work.join("ubuntu-apt");
    fs::create_dir_all(ubuntu_apt.join("sources.list.d")).unwrap();
    fs::write(
        ubuntu_apt.join("sources.list.d/ubuntu.sources"),
        "Types: deb\nURIs: http://archive.ubuntu.test/ubuntu/\nSuites: noble noble-updates\nComponents: main\n\n\
         Types: deb\nURIs: http://security.ubuntu.test/ubuntu/\nSuites: noble-security\nComponents: main\n",
    )
    .unwrap();
    fs::create_dir_all(world.work.join("out")).unwrap();
    let out = pypack_with_apt(
        &world,
        &ubuntu_apt,
        &strs(&build_args(&world, "ubuntu")),
        &[],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("apt sources are Ubuntu's (http://archive.ubuntu.test/ubuntu/)")
            && err.contains("PYPACK_DEBIAN_MIRROR"),
        "{err}"
    );
    assert!(files_under(&world.work.join("out")).is_empty());
}
