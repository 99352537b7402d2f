//! Hermetic tests of `pypack base build` against a Debian archive that the test
//! makes, signs with a key it generates, and serves on loopback: the good path,
//! then each kind of tampering, which must be refused and leave nothing behind.

mod common;

use common::servers::{Rule, ScriptedServer};
use common::*;
use std::fs;
use std::path::{Path, PathBuf};

fn recipe_text() -> String {
    fixture_recipe("\"fixture-python\"", "")
}

fn good_packages() -> Vec<FixturePackage> {
    vec![
        FixturePackage {
            name: "fixture-python".into(),
            version: "1.0".into(),
            depends: "fixture-libc".into(),
            members: vec![
                dir("./"),
                dir("./usr/"),
                dir("./usr/bin/"),
                file("./usr/bin/python3.11", b"\x7fELF fake"),
            ],
        },
        FixturePackage {
            name: "fixture-libc".into(),
            version: "1.0".into(),
            depends: "".into(),
            members: vec![
                dir("./"),
                dir("./lib/"),
                file("./lib/libc.so.6", b"\x7fELF libc"),
            ],
        },
    ]
}

struct Setup {
    _tmp: tempfile::TempDir,
    work: PathBuf,
    archive: FixtureArchive,
    server: FileServer,
    recipe: PathBuf,
}

fn setup(packages: &[FixturePackage]) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().to_path_buf();
    let archive = FixtureArchive::create(&work.join("mirror"), packages);
    let server = FileServer::start(&work.join("mirror"));
    let recipe = work.join("fixture.toml");
    fs::write(&recipe, recipe_text()).unwrap();
    fs::create_dir_all(work.join("out")).unwrap();
    Setup {
        _tmp: tmp,
        work,
        archive,
        server,
        recipe,
    }
}

impl Setup {
    fn build(&self, cache: &str, output: &str) -> std::process::Output {
        self.build_with(cache, output, &[])
    }

    /// `base build` of the fixture recipe into out/`output`, with `extra` flags.
    fn build_with(&self, cache: &str, output: &str, extra: &[&str]) -> std::process::Output {
        self.build_from(&self.archive.mirror_url(&self.server), cache, output, extra)
    }

    /// [`Setup::build_with`] from the archive at `mirror`.
    fn build_from(
        &self,
        mirror: &str,
        cache: &str,
        output: &str,
        extra: &[&str],
    ) -> std::process::Output {
        let out = self.work.join("out").join(output);
        let mut args = vec![
            "base",
            "build",
            "--recipe",
            self.recipe.to_str().unwrap(),
            "--debian-mirror",
            mirror,
            "--keyring",
            self.archive.keyring_path.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        pypack(&self.work.join(cache), &args)
    }

    /// With `data` served as the suite's Packages.xz, a build is refused for
    /// its hash (or, longer than signed, its size), leaving nothing behind.
    fn assert_packages_file_refused(&self, data: &[u8]) {
        let path = self.archive.dists().join("main/binary-amd64/Packages.xz");
        fs::write(&path, data).unwrap();
        let out = self.build("cache", "image");
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(
            err.contains("Packages.xz of fixture (checked against its signed Release)")
                && (err.contains("sha256 mismatch") || err.contains("longer than the")),
            "{err}"
        );
        self.assert_nothing_left("cache", Some(&sha256(data)));
    }

    /// The refused build left no output, no temp files and no cache entry for `bad`.
    fn assert_nothing_left(&self, cache: &str, bad_sha256: Option<&str>) {
        assert_eq!(
            files_under(&self.work.join("out")),
            Vec::<String>::new(),
            "output dir must stay empty"
        );
        let cache = self.work.join(cache);
        assert_eq!(
            files_under(&cache.join("tmp")),
            Vec::<String>::new(),
            "no temp files in the cache"
        );
        if let Some(bad) = bad_sha256 {
            assert!(
                !cache.join("blobs/sha256").join(bad).exists(),
                "refused content must not be cached"
            );
        }
    }
}

fn index_digest(layout: &Path) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn builds_the_same_image_twice_and_warm_builds_download_nothing() {
    let s = setup(&good_packages());
    let first = s.build("cache1", "a");
    assert!(first.status.success(), "{}", stderr(&first));
    let second = s.build("cache2", "b");
    assert!(second.status.success());
    let (a, b) = (s.work.join("out/a"), s.work.join("out/b"));
    assert_eq!(
        index_digest(&a),
        index_digest(&b),
        "two cold builds must give one digest"
    );

    let requests = s.server.request_count();
    let warm = s.build("cache1", "c");
    assert!(warm.status.success());
    assert_eq!(
        s.server.request_count(),
        requests,
        "a warm build makes no request"
    );
    assert!(String::from_utf8_lossy(&warm.stdout).contains("0 downloads"));
    assert_eq!(index_digest(&a), index_digest(&s.work.join("out/c")));

    // The layer holds the merged-/usr tree and the status entries.
    let manifest_hex = index_digest(&a).trim_start_matches("sha256:").to_string();
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(a.join("blobs/sha256").join(manifest_hex)).unwrap())
            .unwrap();
    let layer_hex = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let entries =
        pypack::oci::layer::read_layer(&fs::read(a.join("blobs/sha256").join(layer_hex)).unwrap())
            .unwrap();
    let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    for want in [
        "lib",
        "usr/lib/libc.so.6",
        "usr/bin/python3.11",
        "var/lib/dpkg/status.d/fixture-libc",
    ] {
        assert!(paths.contains(&want), "{want} missing from {paths:?}");
    }
}

/// A registry failing for a moment — `/v2/` answering 429 with
/// `Retry-After: 1`, the manifest's PUT a 503 — is asked again, as an index
/// is, and gets the push.
#[test]
fn a_push_gets_through_a_registry_failing_once() {
    let setup = setup(&good_packages());
    let registry = ScriptedServer::empty();
    let once = |status: u16, headers: Vec<(String, String)>, then: Rule| Rule::Once {
        status,
        headers,
        then: Box::new(then),
    };
    let created = Rule::Respond {
        status: 201,
        headers: Vec::new(),
        body: Vec::new(),
    };
    registry.rule(
        "/v2/",
        once(
            429,
            vec![("Retry-After".into(), "1".into())],
            Rule::ok("application/json", b"{}".to_vec()),
        ),
    );
    registry.rule(
        "/v2/fixture/blobs/uploads/",
        Rule::Respond {
            status: 202,
            headers: vec![(
                "Location".into(),
                "/v2/fixture/blobs/uploads/session".into(),
            )],
            body: Vec::new(),
        },
    );
    registry.rule("/v2/fixture/blobs/uploads/session", created.clone());
    registry.rule("/v2/fixture/manifests/1", once(503, Vec::new(), created));
    let reference = format!("127.0.0.1:{}/fixture:1", registry.port);
    let out = setup.build_with(
        "cache",
        "pushed",
        &["--push", &reference, "--insecure-registry"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let asked = |method: &str, path: &str| {
        registry
            .requests()
            .iter()
            .filter(|s| s.method == method && s.path == path)
            .count()
    };
    assert_eq!(asked("GET", "/v2/"), 2, "{:?}", registry.requests());
    assert_eq!(
        asked("PUT", "/v2/fixture/manifests/1"),
        2,
        "{:?}",
        registry.requests()
    );
}

#[test]
fn tampered_inrelease_is_refused() {
    let s = setup(&good_packages());
    let path = s.archive.dists().join("InRelease");
    let signed = fs::read_to_string(&path).unwrap();
    fs::write(&path, signed.replace("Origin: Fixture", "Origin: Fixturf")).unwrap();
    let out = s.build("cache", "image");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("InRelease") && err.contains("no signature verifies"),
        "{err}"
    );
    s.assert_nothing_left("cache", None);
    assert_eq!(
        files_under(&s.work.join("cache/blobs")),
        Vec::<String>::new()
    );
}

#[test]
fn an_expired_index_is_refused_unless_allowed() {
    let s = setup(&good_packages());
    s.archive.write_with(
        &good_packages(),
        "Valid-Until: Fri, 06 Nov 2020 08:08:01 UTC\n",
    );
    let out = s.build("cache", "image");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("expired on Fri, 06 Nov 2020") && err.contains("--allow-expired-index"),
        "{err}"
    );
    s.assert_nothing_left("cache", None);
    let out = s.build_with("cache", "image", &["--allow-expired-index"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("past its Valid-Until (Fri, 06 Nov 2020 08:08:01 UTC); used anyway"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn index_signed_by_an_untrusted_key_is_refused() {
    let s = setup(&good_packages());
    fs::write(&s.archive.keyring_path, public_armor(&generate_key(2))).unwrap();
    let out = s.build("cache", "image");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no signature verifies"),
        "{}",
        stderr(&out)
    );
    s.assert_nothing_left("cache", None);
}

/// A signature that verified is remembered for the keys it verified with
/// only: the same cached index with another keyring is checked again.
#[test]
fn a_remembered_signature_does_not_vouch_for_other_keys() {
    let s = setup(&good_packages());
    let out = s.build("cache", "first");
    assert!(out.status.success(), "{}", stderr(&out));
    fs::write(&s.archive.keyring_path, public_armor(&generate_key(2))).unwrap();
    let out = s.build("cache", "second");
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no signature verifies"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn packages_file_with_another_hash_is_refused() {
    let s = setup(&good_packages());
    let path = s.archive.dists().join("main/binary-amd64/Packages.xz");
    let mut data = fs::read(&path).unwrap();
    data.extend_from_slice(b"junk");
    s.assert_packages_file_refused(&data);
}

/// The index is read as it downloads: a replacement that reads as a good
/// index (here: the same packages, another description) is still refused
/// once its hash is known, and neither it nor its decompressed copy is kept.
#[test]
fn a_well_formed_packages_file_with_another_hash_is_refused() {
    let s = setup(&good_packages());
    let path = s.archive.dists().join("main/binary-amd64/Packages.xz");
    let text = String::from_utf8(common::unxz(&fs::read(&path).unwrap())).unwrap();
    let evil = common::xz(
        text.replace("Description: fixture", "Description: evil")
            .as_bytes(),
    );
    s.assert_packages_file_refused(&evil);
    assert_eq!(
        files_under(&s.work.join("cache/debian-index")),
        Vec::<String>::new(),
        "no decompressed copy of a refused index"
    );
}

#[test]
fn deb_with_another_hash_is_refused() {
    let s = setup(&good_packages());
    let path = s
        .work
        .join("mirror/debian/pool/main/fixture-libc_1.0_amd64.deb");
    let evil = make_deb(&[file("./lib/libc.so.6", b"backdoor")]);
    fs::write(&path, &evil).unwrap();
    let out = s.build("cache", "image");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("fixture-libc") && err.contains("sha256 mismatch"),
        "{err}"
    );
    s.assert_nothing_left("cache", Some(&sha256(&evil)));
}

#[test]
fn deb_members_outside_the_root_are_refused() {
    for bad_member in ["./../etc/cron.d/evil", "/etc/cron.d/evil"] {
        let mut packages = good_packages();
        packages[1]
            .members
            .push(file(bad_member, b"* * * * * root evil"));
        let s = setup(&packages);
        let deb = fs::read(
            s.work
                .join("mirror/debian/pool/main/fixture-libc_1.0_amd64.deb"),
        )
        .unwrap();
        let out = s.build("cache", "image");
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(
            err.contains("fixture-libc") && err.contains(bad_member),
            "{err}"
        );
        s.assert_nothing_left("cache", Some(&sha256(&deb)));
    }
}

#[test]
fn unknown_package_in_recipe_is_named() {
    let s = setup(&good_packages());
    fs::write(
        &s.recipe,
        recipe_text().replace(
            "[\"fixture-python\"]",
            "[\"fixture-python\", \"no-such-pkg\"]",
        ),
    )
    .unwrap();
    let out = s.build("cache", "image");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("no-such-pkg") && err.contains("no such package"),
        "{err}"
    );
    s.assert_nothing_left("cache", None);
}

#[test]
fn two_processes_share_one_cache() {
    let s = setup(&good_packages());
    let mirror = s.archive.mirror_url(&s.server);
    let spawn = |output: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_pypack"))
            .env("PYPACK_CACHE_DIR", s.work.join("cache"))
            .args([
                "-q",
                "base",
                "build",
                "--recipe",
                s.recipe.to_str().unwrap(),
                "--debian-mirror",
                &mirror,
            ])
            .args(["--keyring", s.archive.keyring_path.to_str().unwrap()])
            .args([
                "--output",
                s.work.join("out").join(output).to_str().unwrap(),
            ])
            .spawn()
            .unwrap()
    };
    let (mut a, mut b) = (spawn("a"), spawn("b"));
    assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    assert_eq!(
        index_digest(&s.work.join("out/a")),
        index_digest(&s.work.join("out/b"))
    );
    assert_eq!(files_under(&s.work.join("cache/tmp")), Vec::<String>::new());
}

/// Serves the fixture mirror at `root`, except that a `.deb` gets a body
/// that never ends (zeros, no Content-Length, until the client hangs up).
fn endless_deb_server(root: PathBuf) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request = String::new();
                let _ = reader.read_line(&mut request);
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 2 {
                    line.clear();
                }
                let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
                if path.ends_with(".deb") {
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
                    let zeros = [0u8; 65536];
                    // At most 4 GiB, so a broken client cannot keep the test alive.
                    for _ in 0..65536 {
                        if stream.write_all(&zeros).is_err() {
                            break;
                        }
                    }
                    return;
                }
                let _ = match fs::read(root.join(path.trim_start_matches('/'))) {
                    Ok(body) => stream
                        .write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).as_bytes())
                        .and_then(|_| stream.write_all(&body)),
                    Err(_) => stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
                };
            });
        }
    });
    port
}

#[test]
fn a_deb_whose_body_never_ends_is_cut_at_its_signed_size() {
    let s = setup(&good_packages());
    let port = endless_deb_server(s.work.join("mirror"));
    let mirror = format!("http://127.0.0.1:{port}/debian");
    let started = std::time::Instant::now();
    let out = s.build_from(&mirror, "cache", "image", &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("fixture-") && err.contains("longer than the") && err.contains("refusing it"),
        "{err}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "refused in {:?}",
        started.elapsed()
    );
    s.assert_nothing_left("cache", None);
}
