//! `pypack prune` and `pypack cache info`, in a podman store of the test's
//! own (CONTAINERS_STORAGE_CONF), so that nothing another test holds can
//! be touched: what pypack left goes, what the user has stays.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

/// podman on the test's own store.
fn podman_in(conf: &Path, args: &[&str]) -> Output {
    let out = Command::new("podman")
        .env("CONTAINERS_STORAGE_CONF", conf)
        .args(args)
        .output()
        .unwrap();
    eprintln!(
        "podman {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn exists(conf: &Path, name: &str) -> bool {
    podman_in(conf, &["image", "exists", name]).status.success()
}

/// A file or directory made `days` old.
fn aged(path: &Path, days: u64) {
    if path.extension().is_none() && !path.exists() {
        std::fs::create_dir_all(path).unwrap();
        std::fs::write(path.join("member"), vec![0u8; 4096]).unwrap();
    }
    let when = SystemTime::now() - Duration::from_secs(days * 24 * 3600);
    std::fs::File::open(path)
        .unwrap()
        .set_modified(when)
        .unwrap();
}

#[test]
fn prune_removes_leftovers_and_keeps_what_is_in_use_or_the_users() {
    if !podman_available("prune_removes_leftovers_and_keeps_what_is_in_use_or_the_users") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let conf = tmp.path().join("storage.conf");
    let root = tmp.path().join("store");
    std::fs::write(
        &conf,
        format!(
            "[storage]\ndriver = \"overlay\"\ngraphroot = \"{0}/graph\"\nrunroot = \"{0}/run\"\n",
            root.display()
        ),
    )
    .unwrap();
    let conf_text = conf.to_str().unwrap();
    let vars = [("CONTAINERS_STORAGE_CONF", conf_text)];

    // Two builds of the same tag: the first is replaced (pypack's, unnamed).
    let app = tmp.path().join("app");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-apps/flask-hello"),
        &app,
    );
    let build = || {
        let flags = ["--load", "-t", "localhost/prune-test:1", "--no-smoke"];
        let out = build_sample_dir_env(shared_cache(), &app, &flags, &vars);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    build();
    let replaced = String::from_utf8_lossy(
        &podman_in(
            &conf,
            &[
                "image",
                "inspect",
                "--format",
                "{{.Id}}",
                "localhost/prune-test:1",
            ],
        )
        .stdout,
    )
    .trim()
    .to_string();
    std::fs::write(
        app.join("app.py"),
        std::fs::read_to_string(app.join("app.py")).unwrap() + "# edit\n",
    )
    .unwrap();
    build();

    // pypack's helpers and a stale hold (pid above any pid_max), the
    // user's own second name and an unnamed image of the user's own.
    let current = "localhost/prune-test:1";
    for name in [
        "localhost/pypack-collectstatic:0123456789ab",
        "localhost/pypack-hold:0123456789ab-999999999-0",
        "localhost/pypack-builder:0123456789ab",
        "localhost/pypack-runtime:0123456789ab",
        "localhost/mine:kept",
    ] {
        assert!(podman_in(&conf, &["tag", current, name]).status.success());
    }
    let tar = tmp.path().join("rootfs.tar");
    let mut builder = tar::Builder::new(std::fs::File::create(&tar).unwrap());
    let mut header = tar::Header::new_gnu();
    header.set_size(2);
    header.set_mode(0o644);
    header.set_cksum();
    builder
        .append_data(&mut header, "hello.txt", &b"hi"[..])
        .unwrap();
    builder.finish().unwrap();
    drop(builder);
    let imported = podman_in(&conf, &["import", "-q", tar.to_str().unwrap()]);
    assert!(imported.status.success());
    let users_unnamed = String::from_utf8_lossy(&imported.stdout).trim().to_string();

    // A cache of the test's own: derived copies used long ago and lately,
    // a temporary file of an interrupted build, and blobs.
    let cache_dir = tmp.path().join("cache");
    let cache = pypack::cache::Cache::open(Some(&cache_dir)).unwrap();
    let now = pypack::unix_now().to_string();
    cache
        .set_ref(
            pypack::builder::engine::USED_REF,
            "localhost/pypack-runtime:0123456789ab",
            &now,
        )
        .unwrap();
    let old_tree = cache_dir.join("layer-trees/1/old");
    let new_tree = cache_dir.join("layer-trees/1/new");
    let old_interpreter = cache_dir.join("unpacked/4-old");
    let old_index = cache_dir.join("debian-index/old.txt");
    let new_index = cache_dir.join("debian-index/new.txt");
    std::fs::create_dir_all(cache_dir.join("debian-index")).unwrap();
    std::fs::write(&old_index, "Package: x\n").unwrap();
    std::fs::write(&new_index, "Package: y\n").unwrap();
    for (path, days) in [
        (&old_tree, 40),
        (&new_tree, 2),
        (&old_interpreter, 31),
        (&old_index, 45),
        (&new_index, 0),
    ] {
        aged(path, days);
    }
    let blob = cache.put_bytes(b"a blob").unwrap();
    aged(&cache.blob_path(&blob), 90);

    let info = pypack_env(&cache_dir, &["cache", "info"], &vars);
    assert!(info.status.success(), "{}", stderr(&info));
    let info = String::from_utf8_lossy(&info.stdout).into_owned();
    for line in ["layer-trees", "debian-index", "blobs", "total"] {
        assert!(
            info.lines().any(|l| l.starts_with(line)),
            "{line} in {info}"
        );
    }
    assert!(info.contains("       2 entries  image layers"), "{info}");

    let dry = pypack_env(&cache_dir, &["prune", "--dry-run"], &vars);
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(
        String::from_utf8_lossy(&dry.stdout)
            .contains("would remove: localhost/pypack-collectstatic:0123456789ab")
    );
    assert!(exists(&conf, "localhost/pypack-collectstatic:0123456789ab") && old_tree.exists());

    let out = pypack_env(&cache_dir, &["prune"], &vars);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{said}");
    assert!(
        said.contains(&format!(
            "removed: {replaced} (a pypack build a newer build replaced)"
        )),
        "{said}"
    );
    assert!(
        said.contains("held by build process 999999999, which is gone"),
        "{said}"
    );
    assert!(said.contains("localhost/pypack-builder:0123456789ab (builder image, not used since pypack began keeping track)"), "{said}");
    for gone in [
        "localhost/pypack-collectstatic:0123456789ab",
        "localhost/pypack-hold:0123456789ab-999999999-0",
        "localhost/pypack-builder:0123456789ab",
        &replaced,
    ] {
        assert!(!exists(&conf, gone), "{gone} is still there");
    }
    for kept in [
        current,
        "localhost/mine:kept",
        "localhost/pypack-runtime:0123456789ab",
        &users_unnamed,
    ] {
        assert!(exists(&conf, kept), "{kept} was removed");
    }
    for gone in [&old_tree, &old_interpreter, &old_index] {
        assert!(!gone.exists(), "{} is still there", gone.display());
    }
    for kept in [&new_tree, &new_index, &cache.blob_path(&blob)] {
        assert!(kept.exists(), "{} was removed", kept.display());
    }

    // Nothing left to remove: a second prune says so.
    let again = pypack_env(&cache_dir, &["prune"], &vars);
    let again = String::from_utf8_lossy(&again.stdout).into_owned();
    assert_eq!(again.trim(), "removed 0.0 kB from the cache", "{again}");
    let _ = podman_in(&conf, &["rmi", "-a", "-f"]);
}
