//! The native library audit, hermetic: wheels whose extension modules are
//! real ELF files (compiled by the test with the host's C compiler) linking
//! libraries the fixture base lacks. The package that ships the library is
//! found in the fixture archive's signed Contents index and added as a layer
//! of its own, with an ld.so.cache; a library no package ships stops the
//! build with the wheel, the file and the ways out named, and nothing written.

mod common;

use common::wheels::{Listing, WheelSpec};
use common::*;
use std::fs;
use std::path::Path;
use std::process::Command;

const SITE: &str = "app/.venv/lib/python3.11/site-packages";

/// Compiles `source` into a shared object at `out`, with extra `cc` arguments.
fn cc(dir: &Path, source: &str, out: &str, args: &[&str]) -> Vec<u8> {
    let c = dir.join(format!("{out}.c"));
    fs::write(&c, source).unwrap();
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(dir.join(out))
        .arg(&c)
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "cc {out}");
    fs::read(dir.join(out)).unwrap()
}

/// The ELF files: two libraries (one a package of the archive ships, one
/// nobody ships) and extension modules linking them.
struct Elves {
    libfixture: Vec<u8>,
    ext: Vec<u8>,
    bundled_ext: Vec<u8>,
    nowhere_ext: Vec<u8>,
}

fn compile(dir: &Path) -> Elves {
    let lib = "int fixture_value(void) { return 42; }\n";
    let ext = "int fixture_value(void);\nint ext_value(void) { return fixture_value(); }\n";
    let libfixture = cc(
        dir,
        lib,
        "libfixture.so.1",
        &["-Wl,-soname,libfixture.so.1"],
    );
    cc(
        dir,
        lib,
        "libnowhere.so.3",
        &["-Wl,-soname,libnowhere.so.3"],
    );
    let dir_arg = format!("-L{}", dir.display());
    Elves {
        libfixture,
        ext: cc(dir, ext, "ext.so", &[&dir_arg, "-l:libfixture.so.1"]),
        bundled_ext: cc(
            dir,
            ext,
            "bundled.so",
            &[
                &dir_arg,
                "-l:libfixture.so.1",
                "-Wl,-rpath,$ORIGIN/../bundled.libs",
            ],
        ),
        nowhere_ext: cc(dir, ext, "nowhere.so", &[&dir_arg, "-l:libnowhere.so.3"]),
    }
}

fn leak(data: Vec<u8>) -> &'static [u8] {
    Box::leak(data.into_boxed_slice())
}

/// The fixture archive's extra packages: the library, and libc-bin (ldconfig).
fn archive_packages(elves: &Elves) -> Vec<FixturePackage> {
    vec![
        FixturePackage {
            name: "libfixture1".into(),
            version: "1.0-1".into(),
            depends: "libc6".into(),
            members: vec![file(
                "./usr/lib/x86_64-linux-gnu/libfixture.so.1",
                &elves.libfixture,
            )],
        },
        FixturePackage {
            name: "libc-bin".into(),
            version: "2.36-9".into(),
            depends: "libc6".into(),
            members: vec![file("./sbin/ldconfig", b"\x7fELF stand-in")],
        },
    ]
}

fn world(elves: &Elves) -> AppWorld {
    let ext: &'static [u8] = leak(elves.ext.clone());
    let bundled_ext: &'static [u8] = leak(elves.bundled_ext.clone());
    let libfixture: &'static [u8] = leak(elves.libfixture.clone());
    let nowhere_ext: &'static [u8] = leak(elves.nowhere_ext.clone());
    let world = AppWorld::with_archive_packages(archive_packages(elves), |index| {
        let mut linking = WheelSpec::new("linking", "1.0").tag("cp311-cp311-manylinux_2_17_x86_64");
        linking.extra_files = vec![("linking/_ext.cpython-311-x86_64-linux-gnu.so", ext)];
        index.add(&linking, Listing::default());
        // As auditwheel repairs a wheel: the library inside it, found through RUNPATH.
        let mut bundled = WheelSpec::new("bundled", "1.0").tag("cp311-cp311-manylinux_2_17_x86_64");
        bundled.extra_files = vec![
            ("bundled/_ext.cpython-311-x86_64-linux-gnu.so", bundled_ext),
            ("bundled.libs/libfixture.so.1", libfixture),
        ];
        index.add(&bundled, Listing::default());
        let mut unshipped =
            WheelSpec::new("unshipped", "2.0").tag("cp311-cp311-manylinux_2_17_x86_64");
        unshipped.extra_files = vec![(
            "unshipped/_ext.cpython-311-x86_64-linux-gnu.so",
            nowhere_ext,
        )];
        index.add(&unshipped, Listing::default());
    });
    world.write_app(&[("main.py", "print('hi')\n")]);
    world
}

fn layer_paths(layout: &Path) -> Vec<Vec<String>> {
    let json =
        |p: &Path| serde_json::from_slice::<serde_json::Value>(&fs::read(p).unwrap()).unwrap();
    let blob = |digest: &str| {
        layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let index = json(&layout.join("index.json"));
    let manifest = json(&blob(index["manifests"][0]["digest"].as_str().unwrap()));
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            pypack::oci::layer::read_layer(&fs::read(blob(l["digest"].as_str().unwrap())).unwrap())
                .unwrap()
                .into_iter()
                .map(|e| e.path)
                .collect()
        })
        .collect()
}

#[test]
fn a_library_the_base_lacks_comes_from_the_package_that_ships_it() {
    if !tool_available("cc", "native library audit") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let elves = compile(tmp.path());
    let s = world(&elves);

    s.write_app(&[("requirements.txt", "linking\n")]);
    let out = s.run(
        "build",
        "cache",
        &["--output", s.work.join("out/one").to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let said = format!(
        "system:   libfixture1 1.0-1 (libfixture.so.1, needed by linking 1.0 (/{SITE}/linking/_ext.cpython-311-x86_64-linux-gnu.so))"
    );
    assert!(err.contains(&said), "{err}");
    assert!(err.contains("system:   libc-bin 2.36-9 (ldconfig"), "{err}");
    let layers = layer_paths(&s.work.join("out/one"));
    assert_eq!(
        layers.len(),
        5,
        "base, system libraries, venv, app, bill of materials"
    );
    let system = &layers[1];
    for path in [
        "usr/lib/x86_64-linux-gnu/libfixture.so.1",
        "etc/ld.so.cache",
        "usr/sbin/ldconfig",
        "var/lib/dpkg/status.d/libfixture1",
    ] {
        assert!(
            system.contains(&path.to_string()),
            "{path} not in {system:?}"
        );
    }
    assert!(
        !system.iter().any(|p| p == "lib" || p.starts_with("lib/")),
        "merged /usr: {system:?}"
    );

    // Built again: the same layer, from the cache.
    let again = s.run(
        "build",
        "cache",
        &[
            "--output",
            s.work.join("out/two").to_str().unwrap(),
            "--json",
        ],
    );
    assert!(again.status.success(), "{}", stderr(&again));
    let summary: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(summary["layers"][0]["reused"], true, "{summary}");
    assert_eq!(summary["system_packages"][0]["name"], "libc-bin");
    assert_eq!(summary["system_packages"][1]["name"], "libfixture1");

    // A library inside the wheel, found through its RUNPATH: nothing to add.
    s.write_app(&[("requirements.txt", "bundled\n")]);
    let out = s.run(
        "build",
        "cache",
        &["--output", s.work.join("out/bundled").to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("system:"), "{}", stderr(&out));
    assert_eq!(
        layer_paths(&s.work.join("out/bundled")).len(),
        4,
        "base, venv, app, bill of materials"
    );
}

#[test]
fn a_library_no_package_ships_stops_the_build() {
    if !tool_available("cc", "native library audit") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let elves = compile(tmp.path());
    let s = world(&elves);
    s.write_app(&[("requirements.txt", "unshipped\n")]);
    let out = s.run(
        "build",
        "cache",
        &["--output", s.work.join("out/image").to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    for part in [
        "no Debian package in fixture (main) ships libnowhere.so.3",
        &format!(
            "needed by unshipped 2.0 (/{SITE}/unshipped/_ext.cpython-311-x86_64-linux-gnu.so)"
        ),
        "--base",
        "[packages] include",
        "--ignore-missing-library",
    ] {
        assert!(err.contains(part), "'{part}' missing from: {err}");
    }
    assert!(
        files_under(&s.work.join("out")).is_empty(),
        "nothing may be written"
    );

    let out = s.run(
        "build",
        "cache",
        &[
            "--ignore-missing-library",
            "libnowhere.so.3",
            "--output",
            s.work.join("out/image").to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("system:"));
}

#[test]
fn without_a_usable_contents_index_the_package_is_found_by_its_name() {
    if !tool_available("cc", "native library audit") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let elves = compile(tmp.path());
    let s = world(&elves);
    // A mirror out of step with its Release: the file list does not match.
    fs::write(
        s.base.archive.dists().join("main/Contents-amd64.gz"),
        gzip(b"usr/lib/x86_64-linux-gnu/libfixture.so.1 libs/somebody-else\n"),
    )
    .unwrap();
    s.write_app(&[("requirements.txt", "linking\n")]);
    let out = s.run(
        "build",
        "cache",
        &["--output", s.work.join("out/image").to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("Contents-amd64.gz of fixture (checked against its signed Release)")
            && err.contains("found from their names instead"),
        "{err}"
    );
    assert!(
        err.contains("system:   libfixture1 1.0-1 (libfixture.so.1"),
        "{err}"
    );
    assert!(!err.contains("somebody-else"), "{err}");
}
