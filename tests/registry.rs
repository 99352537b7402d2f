//! Pushing to Debian's docker-registry on loopback, with and without htpasswd
//! auth: the pushed image reads back with skopeo under the same digest, a
//! second push uploads no blob, wrong or missing credentials are refused
//! clearly, and podman runs the image pulled from the registry.

mod common;

use common::registry::start_registry;
use common::wheels::{Listing, TestIndex, WheelSpec};
use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn auth_file(dir: &Path, registry: &str, user: &str, password: &str) -> PathBuf {
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let path = dir.join(format!("auth-{user}-{password}.json"));
    fs::write(
        &path,
        format!("{{\"auths\": {{\"{registry}\": {{\"auth\": \"{auth}\"}}}}}}"),
    )
    .unwrap();
    path
}

/// A small app built hermetically (fixture base, test index).
fn app() -> AppWorld {
    small_app()
}

/// Builds the app and pushes it to `reference` over plain HTTP.
fn push(world: &AppWorld, reference: &str, vars: &[(&str, &str)]) -> std::process::Output {
    let extra = ["--push", reference, "--insecure-registry"];
    world.run_with("build", "cache", &world.index_url(), &extra, vars)
}

/// The digest skopeo reads for `reference` (plain HTTP).
fn skopeo_digest(reference: &str) -> String {
    let out = Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{reference}"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo inspect: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    info["Digest"].as_str().unwrap().to_string()
}

/// Copies `reference` to a `dir:` with skopeo (which fetches every blob) and
/// returns the digest of the manifest it wrote.
fn skopeo_copy_digest(reference: &str, dir: &Path) -> String {
    let out = Command::new("skopeo")
        .args([
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{reference}"),
        ])
        .arg(format!("dir:{}", dir.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo copy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!(
        "sha256:{}",
        sha256(&fs::read(dir.join("manifest.json")).unwrap())
    )
}

fn pushed_digest(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let at = stdout
        .find("@sha256:")
        .unwrap_or_else(|| panic!("no pushed digest in: {stdout}"));
    stdout[at + 1..at + 72].to_string()
}

/// The push report's "(N blobs uploaded, M already there)", as (N, M).
fn blob_counts(out: &std::process::Output) -> (usize, usize) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let counts = stdout.split('(').find_map(|part| {
        let (uploaded, rest) = part.split_once(" blobs uploaded, ")?;
        let already = rest.split_once(" already there)")?.0;
        Some((uploaded.trim().parse().ok()?, already.trim().parse().ok()?))
    });
    counts.unwrap_or_else(|| panic!("no blob counts in: {stdout}"))
}

#[test]
fn push_reads_back_with_skopeo_and_a_second_push_uploads_nothing() {
    let test = "push_reads_back_with_skopeo_and_a_second_push_uploads_nothing";
    if !tool_available("docker-registry", test) || !tool_available("skopeo", test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let registry = start_registry(dir.path(), None);
    let app = app();
    let reference = format!("localhost:{}/team/app:1.0", registry.port);
    let first = push(&app, &reference, &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let digest = pushed_digest(&first);
    let (uploaded, already) = blob_counts(&first);
    assert!(
        uploaded > 0 && already == 0,
        "{uploaded} uploaded, {already} already there"
    );

    assert_eq!(skopeo_digest(&reference), digest);

    assert_eq!(
        skopeo_copy_digest(&reference, &dir.path().join("copy")),
        digest
    );

    let second = push(&app, &reference, &[]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(blob_counts(&second), (0, uploaded));
    assert_eq!(pushed_digest(&second), digest);
}

#[test]
fn htpasswd_registry_needs_the_right_credentials() {
    let test = "htpasswd_registry_needs_the_right_credentials";
    if !tool_available("docker-registry", test) || !tool_available("htpasswd", test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let registry = start_registry(dir.path(), Some(("ci-bot", "s3cret")));
    let host = format!("localhost:{}", registry.port);
    let reference = format!("{host}/private/app:1");
    let app = app();

    let none = push(&app, &reference, &[]);
    assert!(!none.status.success());
    assert!(
        stderr(&none).contains("needs credentials") && stderr(&none).contains("login"),
        "{}",
        stderr(&none)
    );

    let wrong = auth_file(dir.path(), &host, "ci-bot", "guess");
    let out = push(
        &app,
        &reference,
        &[("REGISTRY_AUTH_FILE", wrong.to_str().unwrap())],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("refused the credentials") && !stderr(&out).contains("guess"),
        "{}",
        stderr(&out)
    );

    // A Docker credential helper named in config.json supplies them too.
    let bin = dir.path().join("bin");
    fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-pypacktest");
    fs::write(&helper, "#!/bin/sh\nread host\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"ci-bot\",\"Secret\":\"s3cret\"}' \"$host\"\n").unwrap();
    fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let docker_config = dir.path().join("docker");
    fs::create_dir_all(&docker_config).unwrap();
    fs::write(
        docker_config.join("config.json"),
        format!("{{\"credHelpers\": {{\"{host}\": \"pypacktest\"}}}}"),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = push(
        &app,
        &reference,
        &[
            ("DOCKER_CONFIG", docker_config.to_str().unwrap()),
            ("PATH", &path),
        ],
    );
    assert!(out.status.success(), "credential helper: {}", stderr(&out));

    let right = auth_file(dir.path(), &host, "ci-bot", "s3cret");
    let out = push(
        &app,
        &reference,
        &[("REGISTRY_AUTH_FILE", right.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("s3cret")
            && !stderr(&out).contains("s3cret")
    );
}

#[test]
fn flask_hello_on_a_base_from_the_registry_runs_in_podman() {
    let test = "flask_hello_on_a_base_from_the_registry_runs_in_podman";
    if !tool_available("docker-registry", test) || !podman_available(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let registry = start_registry(dir.path(), None);
    // The debian12 base goes to the registry first, and flask-hello is then
    // built on it as on any registry image.
    let base_ref = format!("localhost:{}/bases/debian12:1", registry.port);
    let layout = dir.path().join("base-layout");
    let base = pypack(
        &dir.path().join("cache"),
        &[
            "base",
            "build",
            "--recipe",
            "debian12",
            "--output",
            layout.to_str().unwrap(),
            "--push",
            &base_ref,
            "--insecure-registry",
        ],
    );
    assert!(base.status.success(), "{}", stderr(&base));
    let reference = format!(
        "localhost:{}/samples/flask-hello:{}",
        registry.port,
        std::process::id()
    );
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = pypack(
        &dir.path().join("cache-app"),
        &[
            "build",
            repo.join("sample-apps/flask-hello").to_str().unwrap(),
            "--no-index",
            "-f",
            repo.join("sample-apps/wheelhouse").to_str().unwrap(),
            "--base",
            &base_ref,
            "--push",
            &reference,
            "--insecure-registry",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("(--base)"), "{}", stderr(&out));
    // The base layer is mounted from the base's repository, not uploaded
    // again; the stdlib bytecode, venv, app and bill-of-materials layers
    // and the config are.
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("(5 blobs uploaded, 1 already there)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let port = free_port();
    let run = podman(&[
        "run",
        "-d",
        "--tls-verify=false",
        "-p",
        &format!("127.0.0.1:{port}:8000"),
        &reference,
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let id = String::from_utf8_lossy(&run.stdout).trim().to_string();
    let page = poll_http(port, "/", 30, |r| r.contains("Hello from pypack!"));
    podman(&["rm", "-f", "-t", "0", &id]);
    podman(&["rmi", &reference]);
    assert!(
        page.is_some(),
        "no page from the image built on the pulled base"
    );
}

/// Pushes a one-layer image of `entries` for `platform` with `env`; returns
/// its manifest digest and size. Enough of a "base" for pypack to inspect.
fn push_synthetic_base(
    cache: &pypack::cache::Cache,
    reference: &str,
    platform: &str,
    entries: &[pypack::oci::Entry],
    env: &[&str],
) -> (String, usize) {
    use pypack::oci::{ContainerConfig, LayerSpec};
    let blob = pypack::oci::layer::write_layer(cache, entries, 0).unwrap();
    let container = ContainerConfig {
        env: env.iter().map(|e| e.to_string()).collect(),
        ..ContainerConfig::default()
    };
    let platform = pypack::platform::Platform::parse(platform).unwrap();
    let layers = [LayerSpec {
        blob,
        created_by: "synthetic base".into(),
    }];
    let image =
        pypack::oci::image::assemble(cache, platform, &container, &layers, 0, &Default::default())
            .unwrap();
    let reference = pypack::registry::Reference::parse(reference).unwrap();
    pypack::registry::Registry::connect(&reference, true, None)
        .unwrap()
        .push(cache, &image)
        .unwrap();
    (image.manifest_digest.clone(), image.manifest.len())
}

/// The loader, a python3.12 marker and Alpine's package database: a musl 1.2 target.
fn push_musl_base(cache_dir: &Path, reference: &str) {
    use pypack::oci::Entry;
    let cache = pypack::cache::Cache::open(Some(cache_dir)).unwrap();
    let entries = [
        Entry::file("lib/ld-musl-x86_64.so.1", b"\x7fELF".to_vec(), 0o755),
        Entry::file("usr/local/bin/python3.12", b"\x7fELF".to_vec(), 0o755),
        Entry::file(
            "lib/apk/db/installed",
            b"P:musl\nV:1.2.5-r0\n\nP:python3\nV:3.12.8-r1\n".to_vec(),
            0o644,
        ),
    ];
    push_synthetic_base(
        &cache,
        reference,
        "linux/amd64",
        &entries,
        &["PYTHON_VERSION=3.12.8"],
    );
}

#[test]
fn a_musl_base_gets_musllinux_wheels_and_refuses_glibc_only_ones() {
    let test = "a_musl_base_gets_musllinux_wheels_and_refuses_glibc_only_ones";
    if !tool_available("docker-registry", test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let registry = start_registry(dir.path(), None);
    let base_ref = format!("localhost:{}/bases/musl-python:3.12", registry.port);
    push_musl_base(&dir.path().join("push-cache"), &base_ref);

    let mut index = TestIndex::new(&dir.path().join("index"));
    for tag in [
        "cp312-cp312-manylinux_2_17_x86_64",
        "cp312-cp312-musllinux_1_2_x86_64",
    ] {
        index.add(
            &WheelSpec::new("native", "1.0").tag(tag),
            Listing::default(),
        );
    }
    index.add(
        &WheelSpec::new("glibc-only", "1.0").tag("cp312-cp312-manylinux_2_17_x86_64"),
        Listing::default(),
    );
    index.publish();
    let server = FileServer::start(&dir.path().join("index"));
    let app = dir.path().join("app");
    fs::create_dir_all(&app).unwrap();
    fs::write(app.join("main.py"), "print('hi')\n").unwrap();
    let index_url = format!("{}/simple", server.url);
    let build = |requirements: &str, out: &str| {
        fs::write(app.join("requirements.txt"), requirements).unwrap();
        let layout = dir.path().join(out);
        let args = [
            "build",
            app.to_str().unwrap(),
            "--base",
            &base_ref,
            "--insecure-registry",
            "--index-url",
            &index_url,
            "--output",
            layout.to_str().unwrap(),
            "--json",
            // The pushed fixture base's interpreter is a stub nothing can run.
            "--no-compile",
            "--no-smoke",
        ];
        (pypack(&dir.path().join("cache"), &args), layout)
    };

    let (out, layout) = build("native\n", "image");
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let inspect = pypack(
        &dir.path().join("cache"),
        &["inspect", layout.to_str().unwrap(), "--json"],
    );
    let i: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(i["python_packages"], serde_json::json!([["native", "1.0"]]));
    let digest = summary["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_string();
    let deps = pypack::oci::layer::read_layer(
        &fs::read(layout.join("blobs/sha256").join(digest)).unwrap(),
    )
    .unwrap();
    let wheel_file = deps
        .iter()
        .find(|e| e.path.ends_with("native-1.0.dist-info/WHEEL"))
        .expect("WHEEL installed");
    let pypack::oci::EntryKind::File(text) = &wheel_file.kind else {
        panic!()
    };
    assert!(
        String::from_utf8_lossy(text).contains("musllinux_1_2_x86_64"),
        "{}",
        String::from_utf8_lossy(text)
    );
    assert!(
        deps.iter()
            .any(|e| e.path == "app/.venv/lib/python3.12/site-packages/native/__init__.py")
    );
    assert!(
        i["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "PYTHON_VERSION=3.12.8"),
        "the base's environment is kept"
    );

    let (out, layout) = build("glibc-only\n", "image2");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("glibc-only")
            && err.contains("musl 1.2")
            && err.contains("manylinux_2_17_x86_64"),
        "{err}"
    );
    assert!(!layout.exists());
}

/// Forwards loopback connections to `target` and cuts every connection once
/// `cut_after` bytes have gone from clients to the target in all.
fn cutting_proxy(target: u16, cut_after: usize) -> u16 {
    use std::io::{Read, Write};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", target)) else {
                continue;
            };
            let (mut c_read, mut s_write) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut s_read, mut c_write) = (server, client);
            let sent = sent.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                while let Ok(n) = c_read.read(&mut buf) {
                    if n == 0 || sent.fetch_add(n, Ordering::SeqCst) + n > cut_after {
                        break;
                    }
                    if s_write.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = c_read.shutdown(std::net::Shutdown::Both);
                let _ = s_write.shutdown(std::net::Shutdown::Both);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s_read, &mut c_write);
            });
        }
    });
    port
}

#[test]
fn an_interrupted_push_resumes_and_leaves_a_consistent_image() {
    let test = "an_interrupted_push_resumes_and_leaves_a_consistent_image";
    if !tool_available("docker-registry", test) || !tool_available("skopeo", test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let registry = start_registry(dir.path(), None);
    let app = app();
    // Incompressible app data makes the app layer ~2 MB: the base, deps and
    // config blobs go through, the connection is cut inside the app layer.
    fs::write(app.work.join("app/data.bin"), noise(2_000_000)).unwrap();
    let proxy = cutting_proxy(registry.port, 500_000);
    let cut = push(&app, &format!("localhost:{proxy}/team/big:1"), &[]);
    assert!(!cut.status.success(), "the cut push must fail");
    assert!(stderr(&cut).contains("error:"), "{}", stderr(&cut));

    // Same storage, reached directly: what arrived before the cut is reused.
    let reference = format!("localhost:{}/team/big:1", registry.port);
    let resumed = push(&app, &reference, &[]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let (_, already) = blob_counts(&resumed);
    assert!(
        already > 0,
        "blobs from the first attempt must be reused: {}",
        String::from_utf8_lossy(&resumed.stdout)
    );
    assert_eq!(skopeo_digest(&reference), pushed_digest(&resumed));
    // Copying reads every blob: all of them must be complete.
    assert_eq!(
        skopeo_copy_digest(&reference, &dir.path().join("copy")),
        pushed_digest(&resumed)
    );
}

/// A glibc "Python 3.11" base for `platform` (dpkg entries for libc6 and
/// python3.11-minimal); returns its manifest digest and size.
fn push_glibc_base(
    cache: &pypack::cache::Cache,
    reference: &str,
    platform: &str,
) -> (String, usize) {
    use pypack::oci::Entry;
    let entries = [
        Entry::file("usr/bin/python3.11", platform.as_bytes().to_vec(), 0o755),
        Entry::file(
            "var/lib/dpkg/status.d/libc6",
            b"Package: libc6\nVersion: 2.36-9\n".to_vec(),
            0o644,
        ),
        Entry::file(
            "var/lib/dpkg/status.d/python3.11-minimal",
            b"Package: python3.11-minimal\nVersion: 3.11.2-6\n".to_vec(),
            0o644,
        ),
    ];
    push_synthetic_base(cache, reference, platform, &entries, &[])
}

#[test]
fn a_multi_platform_base_is_resolved_to_the_target_platform() {
    let test = "a_multi_platform_base_is_resolved_to_the_target_platform";
    if !tool_available("docker-registry", test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let registry = start_registry(dir.path(), None);
    let cache = pypack::cache::Cache::open(Some(&dir.path().join("push-cache"))).unwrap();
    let repo = format!("localhost:{}/bases/py", registry.port);
    let (amd64, amd64_size) = push_glibc_base(&cache, &format!("{repo}:amd64"), "linux/amd64");
    let (arm64, arm64_size) = push_glibc_base(&cache, &format!("{repo}:arm64"), "linux/arm64");
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": amd64, "size": amd64_size,
             "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": arm64, "size": arm64_size,
             "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
        ],
    });
    let multi = pypack::registry::Reference::parse(&format!("{repo}:multi")).unwrap();
    pypack::registry::Registry::connect(&multi, true, None)
        .unwrap()
        .put_manifest(
            "application/vnd.oci.image.index.v1+json",
            index.to_string().as_bytes(),
        )
        .unwrap();

    let app = app();
    let app_dir = app.work.join("app").display().to_string();
    let base = format!("{repo}:multi");
    let index_url = format!("{}/simple", app.index.url);
    let build = |platform: &str, out: &str| {
        let layout = dir.path().join(out);
        let args = [
            "build",
            app_dir.as_str(),
            "--base",
            &base,
            "--insecure-registry",
            "--platform",
            platform,
            "--index-url",
            &index_url,
            "--output",
            layout.to_str().unwrap(),
            "--json",
            // The pushed fixture base's interpreter is a stub nothing can run.
            "--no-compile",
            "--no-smoke",
        ];
        (pypack(&dir.path().join("cache"), &args), layout)
    };
    let (out, layout) = build("linux/arm64", "image");
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["platform"], "linux/arm64/v8");
    assert_eq!(
        summary["base"]["digest"], arm64,
        "the arm64 entry of the index is the base"
    );
    let inspect = pypack(
        &dir.path().join("cache"),
        &["inspect", layout.to_str().unwrap(), "--json"],
    );
    let i: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(i["platform"], "linux/arm64/v8");
    assert_eq!(
        i["os_packages"],
        serde_json::json!([["libc6", "2.36-9"], ["python3.11-minimal", "3.11.2-6"]])
    );

    let (out, _) = build("linux/amd64", "image-amd64");
    assert!(
        out.status.success(),
        "amd64 from the same index: {}",
        stderr(&out)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["base"]["digest"], amd64);
}

/// An HTTP front for the registry at `target` that wants a bearer token:
/// a request without `Authorization: Bearer good-token` gets a 401 challenge
/// naming the front's `/token` endpoint, which hands the token out for the
/// basic credentials ci-bot:s3cret. Authorized connections are piped through.
fn bearer_front(target: u16) -> u16 {
    use base64::Engine as _;
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("ci-bot:s3cret")
    );
    std::thread::spawn(move || {
        for mut client in listener.incoming().flatten() {
            let basic = basic.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if client.read(&mut byte).unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head).to_string();
                let path = text.split_whitespace().nth(1).unwrap_or("").to_string();
                let auth = text
                    .lines()
                    .find_map(|l| {
                        l.split_once(':')
                            .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                            .map(|(_, v)| v.trim().to_string())
                    })
                    .unwrap_or_default();
                let reply = |client: &mut std::net::TcpStream,
                             status: &str,
                             extra: &str,
                             body: &str| {
                    let _ = write!(
                        client,
                        "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                };
                if path.starts_with("/token") {
                    if auth == basic {
                        reply(
                            &mut client,
                            "200 OK",
                            "Content-Type: application/json\r\n",
                            "{\"token\": \"good-token\"}",
                        );
                    } else {
                        reply(&mut client, "401 Unauthorized", "", "");
                    }
                    return;
                }
                if auth != "Bearer good-token" {
                    let challenge = format!(
                        "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"test\",scope=\"repository:team/app:pull,push\"\r\n"
                    );
                    reply(&mut client, "401 Unauthorized", &challenge, "");
                    return;
                }
                let Ok(mut upstream) = std::net::TcpStream::connect(("127.0.0.1", target)) else {
                    return;
                };
                let _ = upstream.write_all(&head);
                let (mut up_read, mut client_write) =
                    (upstream.try_clone().unwrap(), client.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut up_read, &mut client_write);
                });
                let _ = std::io::copy(&mut client, &mut upstream);
            });
        }
    });
    port
}

#[test]
fn bearer_token_challenge_is_answered_with_the_credentials() {
    let test = "bearer_token_challenge_is_answered_with_the_credentials";
    if !tool_available("docker-registry", test) || !tool_available("skopeo", test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let registry = start_registry(dir.path(), None);
    let front = bearer_front(registry.port);
    let host = format!("localhost:{front}");
    let reference = format!("{host}/team/app:1");
    let app = app();

    let anonymous = push(&app, &reference, &[]);
    assert!(!anonymous.status.success());
    assert!(
        stderr(&anonymous).contains("token service") && stderr(&anonymous).contains("401"),
        "{}",
        stderr(&anonymous)
    );

    let right = auth_file(dir.path(), &host, "ci-bot", "s3cret");
    let out = push(
        &app,
        &reference,
        &[("REGISTRY_AUTH_FILE", right.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let digest = pushed_digest(&out);
    assert_eq!(
        skopeo_digest(&format!("localhost:{}/team/app:1", registry.port)),
        digest
    );
}
