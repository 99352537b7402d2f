//! `pypack rebase` and `pypack base outdated`. flask-hello is built on a
//! one-suite copy of debian12 served by a loopback front for the host's
//! Debian archive, which signs the suite's Release with the test's key and
//! can bump one package's version in its index (a security update, as far
//! as pypack can tell). `base outdated` then names that package; the image
//! rebased onto the recipe has the new version, keeps its venv and app
//! layers byte for byte, and runs and answers in podman. A base with
//! another Python is refused (fixture archive, no network).

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const BUMPED: &str = "netbase";

/// The loopback front: `/debian/dists/bookworm/{InRelease,main/binary-ARCH/Packages.gz}`
/// are its own (signed with `key`, the package bumped when `bump` is
/// set); everything else is fetched from the real archive.
struct ArchiveFront {
    port: u16,
    bump: Arc<AtomicBool>,
    keyring: PathBuf,
}

impl ArchiveFront {
    fn start(work: &Path, real: &str, arch: &str) -> ArchiveFront {
        let client = reqwest::blocking::Client::new();
        let get = |url: &str| -> Vec<u8> {
            let response = client.get(url).send().unwrap();
            assert!(
                response.status().is_success(),
                "{url}: {}",
                response.status()
            );
            response.bytes().unwrap().to_vec()
        };
        let inrelease =
            String::from_utf8(get(&format!("{real}/dists/bookworm/InRelease"))).unwrap();
        let packages_path = format!("main/binary-{arch}/Packages.gz");
        let original = gunzip(&get(&format!("{real}/dists/bookworm/{packages_path}")));
        let original = String::from_utf8(original).unwrap();
        let bumped = bump_version(&original, BUMPED);
        let key = generate_key(7);
        let keyring = work.join("front.asc");
        std::fs::write(&keyring, public_armor(&key)).unwrap();
        let variant = |text: &str| {
            let gz = gzip(text.as_bytes());
            let release = release_listing(&inrelease, &packages_path, &gz);
            (sign_cleartext(&key, &release).into_bytes(), gz)
        };
        let served = Arc::new([variant(&original), variant(&bumped)]);
        let bump = Arc::new(AtomicBool::new(false));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (real, flag) = (real.to_string(), bump.clone());
        let client = Arc::new(Mutex::new(client));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (served, real, flag, client) =
                    (served.clone(), real.clone(), flag.clone(), client.clone());
                let packages_path = packages_path.clone();
                std::thread::spawn(move || {
                    let which = &served[usize::from(flag.load(Ordering::SeqCst))];
                    answer(stream, &|path| {
                        if path == "/debian/dists/bookworm/InRelease" {
                            return Some(which.0.clone());
                        }
                        if path == format!("/debian/dists/bookworm/{packages_path}") {
                            return Some(which.1.clone());
                        }
                        let rest = path.strip_prefix("/debian/")?;
                        let response = client
                            .lock()
                            .unwrap()
                            .get(format!("{real}/{rest}"))
                            .send()
                            .ok()?;
                        response
                            .status()
                            .is_success()
                            .then(|| response.bytes().unwrap().to_vec())
                    });
                });
            }
        });
        ArchiveFront {
            port,
            bump,
            keyring,
        }
    }

    fn mirror(&self) -> String {
        format!("http://127.0.0.1:{}/debian", self.port)
    }
}

/// One HTTP/1.0 GET answered from `lookup` (404 when it has nothing).
fn answer(mut stream: TcpStream, lookup: &dyn Fn(&str) -> Option<Vec<u8>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) <= 2 {
            break;
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
    let _ = match lookup(&path) {
        Some(body) => {
            let head = format!(
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream
                .write_all(head.as_bytes())
                .and_then(|_| stream.write_all(&body))
        }
        None => stream
            .write_all(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    };
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// The index with `package`'s version raised (`+rebase1` appended).
fn bump_version(packages: &str, package: &str) -> String {
    let paragraphs: Vec<String> = packages
        .split("\n\n")
        .map(|p| {
            if p.lines().next() != Some(&format!("Package: {package}")) {
                return p.to_string();
            }
            p.lines()
                .map(|l| match l.strip_prefix("Version: ") {
                    Some(v) => format!("Version: {v}+rebase1"),
                    None => l.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    let bumped = paragraphs.join("\n\n");
    assert_ne!(bumped, packages, "{package} is in the index");
    bumped
}

/// The real Release's fields, listing only `path` (with `data`'s hash and
/// size), without by-hash: what the front serves.
fn release_listing(inrelease: &str, path: &str, data: &[u8]) -> String {
    let body = inrelease.split_once("\n\n").unwrap().1;
    let body = body
        .split("\n-----BEGIN PGP SIGNATURE-----")
        .next()
        .unwrap();
    let mut out = String::new();
    for line in body.lines() {
        if line.starts_with(' ') || line.starts_with("Acquire-By-Hash") {
            continue;
        }
        if ["MD5Sum:", "SHA1:", "SHA256:", "SHA512:"].contains(&line.trim()) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&format!(
        "SHA256:\n {} {} {path}\n",
        sha256(data),
        data.len()
    ));
    out
}

/// debian12's recipe with only the bookworm suite and no shipped keys.
fn one_suite_recipe(work: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("templates/bases/debian12.toml")).unwrap();
    let mut out = String::new();
    let mut in_keys = false;
    for line in text.lines() {
        if line.starts_with("keys = [") {
            in_keys = !line.ends_with(']');
            out.push_str("keys = []\n");
            continue;
        }
        if in_keys {
            in_keys = !line.starts_with(']');
            continue;
        }
        let line = match line {
            l if l.starts_with("name = ") => "name = \"bookworm-only\"".to_string(),
            l if l.starts_with("suites = ") => "suites = [\"bookworm\"]".to_string(),
            l => l.to_string(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    let path = work.join("bookworm-only.toml");
    std::fs::write(&path, out).unwrap();
    path
}

/// The layer digests of the image a layout names.
fn layer_digests(layout: &Path) -> Vec<String> {
    let blob = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn rebased_onto_an_update_the_app_layers_stay_and_it_answers() {
    let test = "rebased_onto_an_update_the_app_layers_stay_and_it_answers";
    if !debian_archive_configured(test)
        || !podman_available(test)
        || !tool_available("skopeo", test)
    {
        return;
    }
    let sources = pypack::debian::sources::read_host_sources(Path::new("/")).unwrap();
    let real = pypack::debian::sources::archive_uris(&sources)
        .main
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let arch = pypack::platform::Platform::host().debian_arch();
    let front = ArchiveFront::start(tmp.path(), real.trim_end_matches('/'), arch);
    let recipe = one_suite_recipe(tmp.path());
    let cache = tmp.path().join("cache");
    let base_flags = |args: &mut Vec<String>| {
        args.extend([
            "--debian-mirror".to_string(),
            front.mirror(),
            "--keyring".to_string(),
            front.keyring.display().to_string(),
        ]);
    };
    let run = |mut args: Vec<String>| {
        base_flags(&mut args);
        pypack(&cache, &args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let (before, after) = (tmp.path().join("before"), tmp.path().join("after"));
    let wheelhouse = repo().join("sample-apps/wheelhouse");
    let built = run(vec![
        "build".into(),
        repo().join("sample-apps/flask-hello").display().to_string(),
        "--no-index".into(),
        "--find-links".into(),
        wheelhouse.display().to_string(),
        "--recipe".into(),
        recipe.display().to_string(),
        "--output".into(),
        before.display().to_string(),
        "-t".into(),
        "flask-hello:before".into(),
    ]);
    assert!(built.status.success(), "{}", stderr(&built));
    let outdated = |layout: &Path| {
        run(vec![
            "base".into(),
            "outdated".into(),
            layout.display().to_string(),
            "--recipe".into(),
            recipe.display().to_string(),
        ])
    };
    let out = outdated(&before);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("0 of "), "{}", stderr(&out));

    // The archive publishes an update.
    front.bump.store(true, Ordering::SeqCst);
    let out = outdated(&before);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        listed.starts_with(&format!("{BUMPED}\t"))
            && listed.contains("+rebase1")
            && listed.lines().count() == 1,
        "{listed}"
    );
    assert!(stderr(&out).contains("pypack rebase"), "{}", stderr(&out));

    let rebased = run(vec![
        "rebase".into(),
        before.display().to_string(),
        "--onto".into(),
        recipe.display().to_string(),
        "--output".into(),
        after.display().to_string(),
        "-t".into(),
        "flask-hello:after".into(),
    ]);
    assert!(rebased.status.success(), "{}", stderr(&rebased));
    let (old, new) = (layer_digests(&before), layer_digests(&after));
    assert_eq!(old.len(), new.len());
    assert_ne!(old[0], new[0], "a new base layer");
    // base | stdlib bytecode | venv | app | bill of materials
    assert_eq!(old[2..4], new[2..4], "the venv and app layers are kept");
    assert_ne!(old[4], new[4], "the bill of materials is made again");
    let out = outdated(&after);
    assert!(stderr(&out).contains("0 of "), "{}", stderr(&out));
    let sbom = pypack(&cache, &["sbom", after.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&sbom.stdout).contains("+rebase1"));

    // It runs and answers.
    let answer = answer_of_image(&format!("oci:{}:flask-hello:after", after.display()));
    assert!(
        answer
            .expect("the rebased image answers")
            .contains("Hello from pypack!")
    );
}

#[test]
fn a_base_with_another_python_is_refused() {
    let world = small_app();
    let layout = world.work.join("out/image");
    let out = world.run("build", "cache", &["--output", layout.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The archive's interpreter moves on to 3.11.4.
    world.base.archive.write(&PythonBase::packages("3.11.4-1"));
    let mut args: Vec<String> = vec![
        "rebase".into(),
        layout.display().to_string(),
        "--onto".into(),
        world.base.recipe.display().to_string(),
        "--output".into(),
        world.work.join("out/rebased").display().to_string(),
    ];
    args.extend(world.base.args().into_iter().skip(2));
    let out = pypack(
        &world.work.join("cache"),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("Python /usr/bin/python3.11 3.11.4 where the image was built on /usr/bin/python3.11 3.11.2")
            && err.contains("pypack build"),
        "{err}"
    );
    assert!(!world.work.join("out/rebased").exists(), "nothing written");
}

#[test]
fn an_index_of_several_platforms_is_not_written_back_as_one() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("multi");
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    let inner = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aa","size":1,"platform":{"os":"linux","architecture":"amd64"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:bb","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}}]}"#;
    let digest = sha256(inner);
    std::fs::write(layout.join("blobs/sha256").join(&digest), inner).unwrap();
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:{digest}","size":{}}}]}}"#,
        inner.len()
    );
    std::fs::write(layout.join("index.json"), &index).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let before = files_under(&layout);
    let out = pypack(
        &tmp.path().join("cache"),
        &["rebase", layout.to_str().unwrap(), "--onto", "debian12"],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("holds images for 2 platforms") && err.contains("--output DIR"),
        "{err}"
    );
    assert_eq!(files_under(&layout), before, "the layout is left as it was");
    assert_eq!(
        std::fs::read_to_string(layout.join("index.json")).unwrap(),
        index
    );
}
