//! Resolution and installation against a PEP 691 index the test builds and
//! serves on loopback: extras, markers, requires-python, wheel tags, yanked
//! files, pre-releases, conflicts, hash mismatches and malicious wheels.

mod common;

use common::wheels::{Listing, TestIndex, WheelSpec};
use common::*;
use pypack::cache::Cache;
use pypack::http::Http;
use pypack::index::{Index, IndexConfig};
use pypack::platform::Platform;
use pypack::project::requirements::parse_file;
use pypack::python::{Libc, Target};
use pypack::resolve::{Resolution, ResolveInput, resolve};
use std::path::Path;

struct World {
    _tmp: tempfile::TempDir,
    server: FileServer,
    cache: Cache,
    http: Http,
    dir: std::path::PathBuf,
}

fn world(build: impl FnOnce(&mut TestIndex)) -> World {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let mut index = TestIndex::new(&dir.join("index"));
    build(&mut index);
    index.publish();
    let server = FileServer::start(&dir.join("index"));
    let cache = Cache::open(Some(&dir.join("cache"))).unwrap();
    World {
        _tmp: tmp,
        server,
        cache,
        http: Http::new().unwrap(),
        dir,
    }
}

fn glibc_amd64() -> Target {
    Target {
        platform: Platform::parse("linux/amd64").unwrap(),
        python: (3, 11, 2),
        libc: Libc::Glibc {
            major: 2,
            minor: 36,
        },
    }
}

impl World {
    fn index(&self) -> Index<'_> {
        let config = IndexConfig {
            index_urls: vec![format!("{}/simple/", self.server.url)],
            ..IndexConfig::default()
        };
        Index::new(&self.http, &self.cache, config)
    }

    fn input(&self, requirements: &str) -> ResolveInput {
        let path = self.dir.join("requirements.txt");
        std::fs::write(&path, requirements).unwrap();
        let set = parse_file(&path, &|_| None).unwrap();
        ResolveInput {
            requirements: set.requirements,
            constraints: set.constraints,
            direct: set.direct,
            pre: set.pre,
            require_hashes: set.require_hashes,
            ..ResolveInput::default()
        }
    }

    fn resolve_for(&self, requirements: &str, target: &Target) -> anyhow::Result<Resolution> {
        resolve(&self.index(), target, &self.input(requirements))
    }

    fn pins(&self, requirements: &str, target: &Target) -> Vec<String> {
        let r = self
            .resolve_for(requirements, target)
            .unwrap_or_else(|e| panic!("{e:#}"));
        r.pins
            .iter()
            .map(|p| format!("{}=={}", p.name, p.version))
            .collect()
    }
}

#[test]
fn extras_and_markers_are_evaluated_for_the_target() {
    let w = world(|idx| {
        let mut web = WheelSpec::new("web", "1.0").requires(&[
            "core>=1",
            "pywin-helper; sys_platform == 'win32'",
            "arm-helper; platform_machine == 'aarch64'",
            "backport; python_version < '3.10'",
            "speedups>=2; extra == 'fast'",
        ]);
        web.extras = vec!["fast"];
        idx.add(
            &web,
            Listing {
                metadata_file: true,
                ..Listing::default()
            },
        );
        idx.add(&WheelSpec::new("core", "1.5"), Listing::default());
        idx.add(&WheelSpec::new("core", "0.9"), Listing::default());
        idx.add(&WheelSpec::new("speedups", "2.1"), Listing::default());
        idx.add(&WheelSpec::new("arm-helper", "1.0"), Listing::default());
    });
    let amd64 = glibc_amd64();
    assert_eq!(w.pins("web\n", &amd64), ["core==1.5", "web==1.0"]);
    assert_eq!(
        w.pins("web[fast]\n", &amd64),
        ["core==1.5", "speedups==2.1", "web==1.0"]
    );
    let arm64 = Target {
        platform: Platform::parse("linux/arm64").unwrap(),
        ..amd64.clone()
    };
    assert_eq!(
        w.pins("web\n", &arm64),
        ["arm-helper==1.0", "core==1.5", "web==1.0"]
    );
    assert_eq!(
        w.pins("web ; sys_platform == 'darwin'\ncore<1\n", &amd64),
        ["core==0.9"]
    );
}

#[test]
fn requires_python_filters_candidates() {
    let w = world(|idx| {
        let mut new = WheelSpec::new("modern", "2.0");
        new.requires_python = Some(">=3.12");
        idx.add(
            &new,
            Listing {
                requires_python: Some(">=3.12"),
                ..Listing::default()
            },
        );
        let mut hidden = WheelSpec::new("modern", "1.5");
        hidden.requires_python = Some(">=3.13"); // only in METADATA, not on the listing
        idx.add(&hidden, Listing::default());
        idx.add(&WheelSpec::new("modern", "1.0"), Listing::default());
    });
    assert_eq!(w.pins("modern\n", &glibc_amd64()), ["modern==1.0"]);
    let err = format!(
        "{:#}",
        w.resolve_for("modern>=2\n", &glibc_amd64()).unwrap_err()
    );
    assert!(
        err.contains("modern") && err.contains("requires Python >=3.12"),
        "{err}"
    );
}

#[test]
fn wheel_tags_pick_the_best_compatible_file() {
    let w = world(|idx| {
        for tag in [
            "py3-none-any",
            "cp38-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64",
            "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
            "cp311-cp311-musllinux_1_2_x86_64",
            "cp311-cp311-win_amd64",
        ] {
            idx.add(
                &WheelSpec::new("native", "1.0").tag(tag),
                Listing::default(),
            );
        }
        idx.add(
            &WheelSpec::new("stable-abi", "1.0").tag("cp38-abi3-manylinux_2_17_x86_64"),
            Listing::default(),
        );
        idx.add(
            &WheelSpec::new("stable-abi", "1.0").tag("py3-none-any"),
            Listing::default(),
        );
        idx.add(
            &WheelSpec::new("too-new", "1.0").tag("cp311-cp311-manylinux_2_39_x86_64"),
            Listing::default(),
        );
    });
    let file = |reqs: &str, target: &Target| {
        w.resolve_for(reqs, target).unwrap().pins[0]
            .file
            .filename
            .clone()
    };
    let glibc = glibc_amd64();
    assert_eq!(
        file("native\n", &glibc),
        "native-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    );
    let musl = Target {
        libc: Libc::Musl { major: 1, minor: 2 },
        ..glibc.clone()
    };
    assert_eq!(
        file("native\n", &musl),
        "native-1.0-cp311-cp311-musllinux_1_2_x86_64.whl"
    );
    assert_eq!(
        file("stable-abi\n", &glibc),
        "stable_abi-1.0-cp38-abi3-manylinux_2_17_x86_64.whl"
    );
    let py312 = Target {
        python: (3, 12, 0),
        ..glibc.clone()
    };
    assert_eq!(
        file("native\n", &py312),
        "native-1.0-cp38-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    );
    let err = format!("{:#}", w.resolve_for("too-new\n", &glibc).unwrap_err());
    eprintln!("{err}");
    assert!(
        err.contains("too-new (requirements.txt:1)")
            && err.contains(
                "its other wheels are for manylinux_2_39_x86_64, not CPython 3.11.2 on linux/amd64"
            )
            && err.contains("fix: too-new's wheels need glibc 2.39"),
        "{err}"
    );
}

#[test]
fn yanked_files_are_skipped_unless_pinned() {
    let w = world(|idx| {
        idx.add(
            &WheelSpec::new("yanky", "2.0"),
            Listing {
                yanked: true,
                ..Listing::default()
            },
        );
        idx.add(&WheelSpec::new("yanky", "1.0"), Listing::default());
    });
    assert_eq!(w.pins("yanky\n", &glibc_amd64()), ["yanky==1.0"]);
    assert_eq!(w.pins("yanky==2.0\n", &glibc_amd64()), ["yanky==2.0"]);
}

/// PEP 440's exclusive `>V`: neither V's post-releases nor its local
/// versions are above it (pip finds no match where only those exist).
#[test]
fn greater_than_skips_the_post_and_local_releases_of_its_version() {
    let w = world(|idx| {
        idx.add(&WheelSpec::new("pvtest", "1.0"), Listing::default());
        idx.add(&WheelSpec::new("pvtest", "1.0.post1"), Listing::default());
        idx.add(&WheelSpec::new("pvtest", "1.0+local"), Listing::default());
    });
    let err = w.resolve_for("pvtest>1.0\n", &glibc_amd64()).unwrap_err();
    assert!(format!("{err:#}").contains("pvtest"), "{err:#}");
    assert_eq!(
        w.pins("pvtest>=1.0\n", &glibc_amd64()),
        ["pvtest==1.0.post1"]
    );
    // pip's `>V` refuses local versions of V's release even when V is a
    // development release; `==1.0` takes them (its local label ignored).
    assert_eq!(
        w.pins("pvtest>1.0.dev0, <1.0.post1\n", &glibc_amd64()),
        ["pvtest==1.0"]
    );
    assert_eq!(
        w.pins("pvtest==1.0\n", &glibc_amd64()),
        ["pvtest==1.0+local"]
    );
}

#[test]
fn pre_releases_only_when_asked_or_alone() {
    let w = world(|idx| {
        idx.add(&WheelSpec::new("prerel", "1.0"), Listing::default());
        idx.add(&WheelSpec::new("prerel", "2.0b1"), Listing::default());
        idx.add(&WheelSpec::new("onlypre", "1.0rc1"), Listing::default());
    });
    assert_eq!(w.pins("prerel\n", &glibc_amd64()), ["prerel==1.0"]);
    assert_eq!(w.pins("--pre\nprerel\n", &glibc_amd64()), ["prerel==2.0b1"]);
    assert_eq!(w.pins("prerel>=2.0b1\n", &glibc_amd64()), ["prerel==2.0b1"]);
    assert_eq!(w.pins("onlypre\n", &glibc_amd64()), ["onlypre==1.0rc1"]);
}

#[test]
fn conflicts_are_explained() {
    let w = world(|idx| {
        idx.add(
            &WheelSpec::new("left", "1.0").requires(&["shared<2"]),
            Listing::default(),
        );
        idx.add(
            &WheelSpec::new("right", "1.0").requires(&["shared>=2"]),
            Listing::default(),
        );
        idx.add(&WheelSpec::new("shared", "1.0"), Listing::default());
        idx.add(&WheelSpec::new("shared", "2.0"), Listing::default());
    });
    let err = format!(
        "{:#}",
        w.resolve_for("left\nright\n", &glibc_amd64()).unwrap_err()
    );
    eprintln!("{err}");
    assert!(err.contains("cannot be satisfied"), "{err}");
    for said in [
        "left (requirements.txt:1)",
        "right (requirements.txt:2)",
        "left 1.0 requires shared<2",
        "right 1.0 requires shared>=2",
        "the index has shared 1.0, 2.0",
    ] {
        assert!(err.contains(said), "'{said}' missing from: {err}");
    }
    assert!(!err.contains('∅') && !err.contains("forbidden"), "{err}");

    // Two lines of the user's file that exclude each other: both named.
    let err = format!(
        "{:#}",
        w.resolve_for(
            "left
shared>=2.0,<3
shared<1 ; python_version >= '3'
",
            &glibc_amd64()
        )
        .unwrap_err()
    );
    for said in [
        "no version of shared meets all of these at once",
        "shared>=2.0,<3 (requirements.txt:2)",
        "shared<1 ; python_full_version >= '3' (requirements.txt:3)",
        "the index has shared 1.0, 2.0",
        "fix: keep the one you mean",
    ] {
        assert!(err.contains(said), "'{said}' missing from: {err}");
    }
    assert!(!err.contains('∅'), "{err}");
    let err = format!(
        "{:#}",
        w.resolve_for("no-such-package\n", &glibc_amd64())
            .unwrap_err()
    );
    let index = format!("not found in {}/simple/", w.server.url);
    assert!(
        err.contains("no-such-package") && err.contains(&index),
        "{err}"
    );
}

#[test]
fn a_package_without_a_wheel_for_the_target_names_the_tags() {
    let w = world(|idx| {
        for tag in ["cp311-cp311-win_amd64", "cp311-cp311-win32"] {
            idx.add(
                &WheelSpec::new("winonly", "306").tag(tag),
                Listing::default(),
            );
        }
        idx.add(
            &WheelSpec::new("newglibc", "1.0").tag("cp311-cp311-manylinux_2_39_x86_64"),
            Listing::default(),
        );
    });
    let err = format!(
        "{:#}",
        w.resolve_for(
            "winonly==306
",
            &glibc_amd64()
        )
        .unwrap_err()
    );
    for said in [
        "winonly==306 (requirements.txt:1)",
        "its other wheels are for win32, win_amd64, not CPython 3.11.2 on linux/amd64 (glibc 2.36)",
        "fix: winonly is for Windows only",
    ] {
        assert!(err.contains(said), "'{said}' missing from: {err}");
    }
    let err = format!(
        "{:#}",
        w.resolve_for(
            "newglibc
",
            &glibc_amd64()
        )
        .unwrap_err()
    );
    assert!(
        err.contains("its other wheels are for manylinux_2_39_x86_64"),
        "{err}"
    );
}

#[test]
fn hashes_are_enforced() {
    let mut good_sha = String::new();
    let w = world(|idx| {
        let bytes = idx.add(&WheelSpec::new("pinned", "1.0"), Listing::default());
        good_sha = sha256(&bytes);
        idx.add(
            &WheelSpec::new("lying", "1.0"),
            Listing {
                wrong_hash: true,
                ..Listing::default()
            },
        );
    });
    let ok = format!("pinned==1.0 --hash=sha256:{good_sha}\n");
    assert_eq!(
        w.pins(&format!("--require-hashes\n{ok}"), &glibc_amd64()),
        ["pinned==1.0"]
    );
    let err = format!(
        "{:#}",
        w.resolve_for("pinned==1.0 --hash=sha256:00ff\n", &glibc_amd64())
            .unwrap_err()
    );
    assert!(
        err.contains("which is not a --hash given (00ff)") && err.contains(&good_sha),
        "{err}"
    );
    let err = format!(
        "{:#}",
        w.resolve_for("--require-hashes\npinned\n", &glibc_amd64())
            .unwrap_err()
    );
    assert!(err.contains("no --hash line"), "{err}");

    // The index's own hash is checked when the wheel is fetched.
    let index = w.index();
    let resolution = w.resolve_for("pinned\n", &glibc_amd64()).unwrap();
    index.download(&resolution.pins[0].file).unwrap();
    let lying = index.files("lying").unwrap()[0].clone();
    let err = format!("{:#}", index.download(&lying).unwrap_err());
    assert!(err.contains("sha256 mismatch"), "{err}");
    assert_eq!(files_under(&w.dir.join("cache/tmp")), Vec::<String>::new());
}

#[test]
fn malicious_wheel_is_refused_at_install() {
    let w = world(|idx| {
        let mut evil = WheelSpec::new("evil", "1.0");
        evil.extra_files = vec![("../../../../etc/cron.d/evil", b"* * * * * root x")];
        idx.add(&evil, Listing::default());
    });
    let index = w.index();
    let resolution = w.resolve_for("evil\n", &glibc_amd64()).unwrap();
    let pin = &resolution.pins[0];
    let hex = index.download(&pin.file).unwrap();
    let venv = pypack::wheel::Venv {
        path: "/app/.venv".into(),
        base_python: "/usr/bin/python3.11".into(),
        python_version: "3.11".into(),
        python_full_version: "3.11.2".into(),
    };
    let err = format!(
        "{:#}",
        pypack::wheel::install(&w.cache, &venv, &hex, &pin.file.filename).unwrap_err()
    );
    assert!(err.contains("outside the environment"), "{err}");
}

#[test]
fn find_links_directory_and_no_index() {
    let tmp = tempfile::tempdir().unwrap();
    let wheels = tmp.path().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    for spec in [
        WheelSpec::new("local-app", "1.0").requires(&["local-dep"]),
        WheelSpec::new("local-dep", "3.0"),
    ] {
        std::fs::write(wheels.join(spec.filename()), spec.build()).unwrap();
    }
    let cache = Cache::open(Some(&tmp.path().join("cache"))).unwrap();
    let http = Http::new().unwrap();
    let config = IndexConfig {
        find_links: vec![wheels.display().to_string()],
        ..IndexConfig::default()
    };
    let index = Index::new(&http, &cache, config);
    let req = tmp.path().join("r.txt");
    std::fs::write(&req, "local-app\n").unwrap();
    let set = parse_file(&req, &|_| None).unwrap();
    let input = ResolveInput {
        requirements: set.requirements,
        ..ResolveInput::default()
    };
    let r = resolve(&index, &glibc_amd64(), &input).unwrap();
    let pins: Vec<String> = r
        .pins
        .iter()
        .map(|p| format!("{}=={}", p.name, p.version))
        .collect();
    assert_eq!(pins, ["local-app==1.0", "local-dep==3.0"]);
    assert!(Path::new(r.pins[0].file.url.trim_start_matches("file://")).is_file());
}

#[test]
fn metadata_is_read_with_range_requests_when_the_index_has_no_metadata_file() {
    let mut size = 0;
    let w = world(|idx| {
        let mut big = WheelSpec::new("bigwheel", "1.0").requires(&["core"]);
        big.extra_files = vec![("bigwheel/blob.bin", noise(3_000_000).leak())];
        size = idx.add(&big, Listing::default()).len();
        idx.add(&WheelSpec::new("core", "1.0"), Listing::default());
    });
    assert_eq!(
        w.pins("bigwheel\n", &glibc_amd64()),
        ["bigwheel==1.0", "core==1.0"]
    );
    let served = w
        .server
        .stats
        .body_bytes
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        w.server
            .stats
            .ranges
            .load(std::sync::atomic::Ordering::Relaxed)
            > 0,
        "no range request made"
    );
    assert!(
        served < size / 4,
        "served {served} bytes for a {size}-byte wheel"
    );
    // The whole wheel is still fetched, and hash-checked, when installing.
    let resolution = w.resolve_for("bigwheel\n", &glibc_amd64()).unwrap();
    w.index().download(&resolution.pins[0].file).unwrap();
}

/// A wheel with thousands of files has a zip directory larger than the
/// first request's tail: its METADATA still takes a bounded number of range
/// requests (the tail, the rest of the directory, METADATA), not one per
/// block of the directory.
#[test]
fn metadata_of_a_wheel_with_a_large_directory_takes_three_range_requests() {
    let w = world(|idx| {
        let mut big = WheelSpec::new("manyfiles", "1.0").requires(&["core"]);
        let names: Vec<String> = (0..6000)
            .map(|i| format!("manyfiles/a/rather/deep/package/path/module_{i:05}.py"))
            .collect();
        big.extra_files = names
            .into_iter()
            .map(|n| (&*n.leak(), &b"x = 1\n"[..]))
            .collect();
        idx.add(&big, Listing::default());
        idx.add(&WheelSpec::new("core", "1.0"), Listing::default());
    });
    assert_eq!(
        w.pins("manyfiles\n", &glibc_amd64()),
        ["core==1.0", "manyfiles==1.0"]
    );
    let ranges = w
        .server
        .stats
        .ranges
        .load(std::sync::atomic::Ordering::Relaxed);
    // core's own METADATA: its small wheel's tail holds all of it (1 request).
    assert!(
        ranges <= 4,
        "{ranges} range requests for two wheels' METADATA"
    );
}

/// A server that answers a range request with the whole file: each wheel
/// is downloaded once, and that download is the one the build installs.
#[test]
fn a_server_that_ignores_ranges_costs_one_download_per_wheel() {
    let w = world(|idx| {
        idx.add(
            &WheelSpec::new("web", "1.0").requires(&["core"]),
            Listing::default(),
        );
        idx.add(&WheelSpec::new("core", "1.0"), Listing::default());
    });
    w.server
        .stats
        .ignore_ranges
        .store(true, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(w.pins("web\n", &glibc_amd64()), ["core==1.0", "web==1.0"]);
    assert_eq!(
        w.server.request_count(),
        4,
        "two project pages and one whole download per wheel"
    );
}

/// A server that answers range requests a few bytes at a time: reading a
/// wheel's METADATA stops after a bounded number of requests (and the
/// wheel is downloaded whole), never one request per small read.
#[test]
fn a_server_sending_short_ranges_costs_a_bounded_number_of_requests() {
    let w = world(|idx| {
        let mut web = WheelSpec::new("web", "1.0").requires(&["core"]);
        web.extra_files = vec![("web/data.py", &[b'x'; 4000][..])];
        idx.add(&web, Listing::default());
        idx.add(&WheelSpec::new("core", "1.0"), Listing::default());
    });
    let stats = &w.server.stats;
    stats
        .max_range_bytes
        .store(16, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(w.pins("web\n", &glibc_amd64()), ["core==1.0", "web==1.0"]);
    let ranges = stats.ranges.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        ranges <= 2 * 7,
        "{ranges} range requests for two wheels' METADATA"
    );
}

#[test]
fn index_pages_are_revalidated_and_metadata_is_not_fetched_again() {
    let w = world(|idx| {
        idx.add(
            &WheelSpec::new("web", "1.0").requires(&["core"]),
            Listing {
                metadata_file: true,
                ..Listing::default()
            },
        );
        idx.add(&WheelSpec::new("core", "1.0"), Listing::default());
    });
    w.pins("web\n", &glibc_amd64());
    let first = w.server.request_count();
    w.pins("web\n", &glibc_amd64());
    let second = w.server.request_count() - first;
    let not_modified = w
        .server
        .stats
        .not_modified
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        second, 2,
        "a warm resolution asks only for the two project pages"
    );
    assert_eq!(not_modified, 2, "and both are answered 304 Not Modified");
}

#[test]
fn credentials_are_sent_and_never_recorded() {
    let w = world(|idx| {
        idx.add(&WheelSpec::new("private-pkg", "1.0"), Listing::default());
    });
    w.server.require_basic_auth("ci-bot", "s3cret");
    let url = w.server.url.replace("http://", "http://ci-bot:s3cret@");
    let config = IndexConfig {
        index_urls: vec![format!("{url}/simple/")],
        ..IndexConfig::default()
    };
    let http = Http::with_credentials(pypack::http::Credentials::from_sources(
        &config.index_urls,
        None,
    ))
    .unwrap();
    let index = Index::new(&http, &w.cache, config);
    let resolution = resolve(&index, &glibc_amd64(), &w.input("private-pkg\n")).unwrap();
    let file = &resolution.pins[0].file;
    assert!(
        !file.url.contains("s3cret") && !file.url.contains("ci-bot"),
        "{}",
        file.url
    );
    index.download(file).unwrap();

    let anonymous = w.index();
    let err = format!("{:#}", anonymous.files("private-pkg").unwrap_err());
    assert!(
        err.contains("401") && err.contains("credentials") && !err.contains("s3cret"),
        "{err}"
    );
}

#[test]
fn direct_wheel_paths_are_installed_as_given() {
    let w = world(|idx| {
        idx.add(&WheelSpec::new("core", "2.0"), Listing::default());
    });
    let local = WheelSpec::new("localpkg", "0.3").requires(&["core>=2"]);
    std::fs::write(w.dir.join(local.filename()), local.build()).unwrap();
    let pins = w.pins(&format!("./{}\n", local.filename()), &glibc_amd64());
    assert_eq!(pins, ["core==2.0", "localpkg==0.3"]);
}
