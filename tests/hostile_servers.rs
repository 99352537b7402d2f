//! Hostile servers: a package index or an image registry that trickles, sends
//! a body that never ends or is longer than its listing says, lies about a
//! digest or a content type, or redirects to another server. Every case must
//! end within a deadline, with a non-zero exit, an `error:` line naming what
//! was asked for and what went wrong, nothing written to the output and no
//! temporary file left in the cache. Credentials must never follow a
//! redirect to another server. Hermetic: scripted servers on loopback
//! (`common::servers`), the fixture Debian archive and a test index.

mod common;

use common::servers::{Rule, ScriptedServer, Seen, basic};
use common::wheels::{Listing, WheelSpec};
use common::*;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

const PAGE: &str = "/simple/webframe/";
const WHEEL: &str = "/files/webframe-1.0-py3-none-any.whl";
const WHEEL_NAME: &str = "webframe-1.0-py3-none-any.whl";
const PEP691: &str = "application/vnd.pypi.simple.v1+json";
const OCTETS: &str = "application/octet-stream";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const BAD_DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// A run of pypack: what it printed, whether it had to be killed, how long it took.
struct Run {
    out: Output,
    killed: bool,
    took: Duration,
}

/// Runs pypack with a private cache and none of the host's index, auth or
/// registry settings, killed if it has not ended within `seconds`.
fn pypack_within(cache: &Path, args: &[String], vars: &[(&str, &str)], seconds: u64) -> Run {
    // Nor the host's registries.conf or podman auth: every registry here is the test's.
    let mut command = pypack_command(cache, args, &[]);
    command
        .env_remove("XDG_RUNTIME_DIR")
        .env("CONTAINERS_REGISTRIES_CONF", "/dev/null")
        .envs(vars.iter().copied());
    let started = Instant::now();
    let (out, killed) = output_within(command, seconds);
    let took = started.elapsed();
    eprintln!(
        "$ {} pypack {}\n{}{}({:.1} s{})",
        vars.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        took.as_secs_f64(),
        if killed { ", killed" } else { "" }
    );
    Run { out, killed, took }
}

/// Where a run may have written: the app directory (a lock), the output
/// directory (an image) and the cache (whose `tmp/` must end empty); stdout,
/// where `sbom` prints, is checked too.
struct Outputs<'a> {
    app: &'a Path,
    out: &'a Path,
    cache: &'a Path,
}

/// The app a world starts with: nothing else may appear in it.
const APP_FILES: [&str; 2] = ["main.py", "requirements.txt"];

/// The common verdict: refused, clearly, in time, leaving nothing.
fn refused(run: &Run, within: u64, says: &[String], outputs: &Outputs) -> Result<(), String> {
    let err = String::from_utf8_lossy(&run.out.stderr).to_string();
    if run.killed {
        return Err(format!("no answer within {within} s; killed\n{err}"));
    }
    if run.took > Duration::from_secs(within) {
        return Err(format!("took {:?}, more than {within} s\n{err}", run.took));
    }
    if run.out.status.success() {
        return Err(format!("it succeeded\n{err}"));
    }
    // One `error:` line says it all: what was asked for and what went wrong.
    let line = err.lines().find(|l| l.starts_with("error: "));
    let Some(line) = line else {
        return Err(format!("no `error:` line\n{err}"));
    };
    if let Some(missing) = says.iter().find(|s| !line.contains(s.as_str())) {
        return Err(format!("the error does not say '{missing}'\n{err}"));
    }
    if !run.out.stdout.is_empty() {
        return Err(format!(
            "it printed {} bytes to stdout",
            run.out.stdout.len()
        ));
    }
    let app = files_under(outputs.app);
    if app != APP_FILES {
        return Err(format!("the app directory now holds {app:?}"));
    }
    if !files_under(outputs.out).is_empty() {
        return Err(format!("it wrote {:?}", files_under(outputs.out)));
    }
    let tmp = files_under(&outputs.cache.join("tmp"));
    if !tmp.is_empty() {
        return Err(format!("it left temporary files {tmp:?}"));
    }
    Ok(())
}

/// The small app on the fixture base, its index listing webframe 1.0 (with
/// a PEP 658 metadata file when `metadata_file`).
fn world(metadata_file: bool) -> AppWorld {
    let world = AppWorld::new(|index| {
        let listing = Listing {
            metadata_file,
            ..Listing::default()
        };
        index.add(&WheelSpec::new("webframe", "1.0"), listing);
    });
    world.write_app(&[
        ("requirements.txt", "webframe\n"),
        ("main.py", "print('hi')\n"),
    ]);
    world
}

/// `pypack lock|build APP <fixture base> --index-url INDEX`, a build
/// writing to `out/image`.
fn app_args(world: &AppWorld, command: &str, index: &str, out: &Path) -> Vec<String> {
    let mut args = vec![
        command.to_string(),
        world.work.join("app").display().to_string(),
    ];
    args.extend(world.base.args());
    args.extend(["--index-url".into(), index.to_string()]);
    if command == "build" {
        args.extend([
            "--no-compile".into(),
            "--no-smoke".into(),
            "--output".into(),
        ]);
        args.push(out.join("image").display().to_string());
    }
    args
}

/// Runs `check` on every case, then fails listing the cases that failed.
fn all_pass<C>(cases: &[C], name: impl Fn(&C) -> &str, check: impl Fn(&C) -> Result<(), String>) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| check(c).err().map(|why| format!("{}: {why}", name(c))))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

// ---------------------------------------------------------------- index --

/// One misbehaving index: the path it misbehaves at and how, made from the
/// index on disk (for bodies that start out right).
struct IndexCase {
    name: &'static str,
    metadata_file: bool,
    path: &'static str,
    rule: fn(&Path) -> Rule,
    vars: &'static [(&'static str, &'static str)],
    says: &'static [&'static str],
    within: u64,
}

fn page(index: &Path) -> Vec<u8> {
    std::fs::read(index.join("simple/webframe/index.json")).unwrap()
}

fn wheel(index: &Path) -> Vec<u8> {
    std::fs::read(index.join("files").join(WHEEL_NAME)).unwrap()
}

/// The wheel, then a megabyte it does not have.
fn wheel_and_more(index: &Path) -> Vec<u8> {
    let mut body = wheel(index);
    body.extend(noise(1 << 20));
    body
}

/// Judged slow after 2 s instead of 60.
const QUICK_TIMEOUT: &[(&str, &str)] = &[("PYPACK_HTTP_TIMEOUT", "2")];

fn index_cases() -> Vec<IndexCase> {
    vec![
        // A byte every 200 ms: no read ever waits long, so only the average
        // speed, judged once PYPACK_HTTP_TIMEOUT is over, ends it.
        IndexCase {
            name: "index page trickles",
            metadata_file: false,
            path: PAGE,
            rule: |index| Rule::trickle(PEP691, page(index), 200),
            vars: QUICK_TIMEOUT,
            says: &["webframe", "slower than the 16 KB/s pypack waits for"],
            within: 30,
        },
        // No Content-Length, no end: cut at the 256 MB an index page may have.
        IndexCase {
            name: "index page never ends",
            metadata_file: false,
            path: PAGE,
            rule: |_| Rule::endless(PEP691),
            vars: &[],
            says: &["webframe", "larger than 256 MB"],
            within: 60,
        },
        // The server's own Content-Length is honest; the index's size is not.
        IndexCase {
            name: "wheel longer than the index says",
            metadata_file: false,
            path: WHEEL,
            rule: |index| Rule::ok(OCTETS, wheel_and_more(index)),
            vars: &[],
            says: &[WHEEL_NAME, "longer than the"],
            within: 30,
        },
        // No PEP 658 file: `lock` downloads the wheel for its METADATA too.
        IndexCase {
            name: "wheel never ends",
            metadata_file: false,
            path: WHEEL,
            rule: |_| Rule::endless(OCTETS),
            vars: &[],
            says: &[WHEEL_NAME, "longer than the"],
            within: 30,
        },
        IndexCase {
            name: "wheel trickles",
            metadata_file: false,
            path: WHEEL,
            rule: |index| Rule::trickle(OCTETS, wheel(index), 200),
            vars: QUICK_TIMEOUT,
            says: &[WHEEL_NAME, "slower than the 16 KB/s pypack waits for"],
            within: 30,
        },
        // Headers, then silence: each read waits PYPACK_HTTP_TIMEOUT at most.
        IndexCase {
            name: "index page stalls after its headers",
            metadata_file: false,
            path: PAGE,
            rule: |index| Rule::stall(PEP691, page(index).len()),
            vars: QUICK_TIMEOUT,
            says: &["webframe", "/simple/webframe/", "timed out"],
            within: 30,
        },
        // Not even headers: every attempt times out, and pypack gives up.
        IndexCase {
            name: "index page never answered",
            metadata_file: false,
            path: PAGE,
            rule: |_| Rule::Silent,
            vars: QUICK_TIMEOUT,
            says: &[
                "webframe",
                "/simple/webframe/",
                "failed after 4 attempts",
                "timed out",
            ],
            within: 30,
        },
        // PEP 658 files have no size in the index: a cap of 16 MB.
        IndexCase {
            name: "metadata file never ends",
            metadata_file: true,
            path: "/files/webframe-1.0-py3-none-any.whl.metadata",
            rule: |_| Rule::endless("text/plain"),
            vars: &[],
            says: &[".whl.metadata", "larger than 16 MB"],
            within: 30,
        },
        IndexCase {
            name: "metadata file of 17 MB",
            metadata_file: true,
            path: "/files/webframe-1.0-py3-none-any.whl.metadata",
            rule: |_| Rule::ok("text/plain", vec![b'x'; 17 << 20]),
            vars: &[],
            says: &[".whl.metadata", "larger than 16 MB"],
            within: 30,
        },
    ]
}

#[test]
fn a_hostile_index_is_refused_clearly_quickly_and_leaves_nothing() {
    all_pass(&index_cases(), |c| c.name, run_index_case);
}

/// The case against `lock` and against `build`, each with a fresh cache.
fn run_index_case(case: &IndexCase) -> Result<(), String> {
    let world = world(case.metadata_file);
    let root = world.work.join("index");
    let server = ScriptedServer::start(&root);
    server.rule(case.path, (case.rule)(&root));
    let index = format!("{}/simple", server.url);
    for command in ["lock", "build"] {
        let cache = world.work.join(format!("cache-{command}"));
        let out = world.work.join("out");
        let args = app_args(&world, command, &index, &out);
        let run = pypack_within(&cache, &args, case.vars, case.within);
        let says: Vec<String> = case.says.iter().map(|s| s.to_string()).collect();
        let outputs = Outputs {
            app: &world.work.join("app"),
            out: &out,
            cache: &cache,
        };
        refused(&run, case.within, &says, &outputs).map_err(|e| format!("{command}: {e}"))?;
        if !server.was_asked_for(case.path) {
            return Err(format!("{command}: {} was never asked for", case.path));
        }
    }
    Ok(())
}

/// An index on 127.0.0.1:P1 that wants basic auth (given as the index URL's
/// user info) redirects its wheel to 127.0.0.1:P2, another server: P1 gets
/// the credentials, P2 must not, whatever comes of the build.
#[test]
fn index_credentials_do_not_follow_a_redirect_to_another_port() {
    let world = world(false);
    let root = world.work.join("index");
    let index = ScriptedServer::start(&root);
    index.require_basic_auth("alice", "s3cret");
    let elsewhere = ScriptedServer::start(&root);
    index.rule(WHEEL, Rule::Redirect(format!("{}{WHEEL}", elsewhere.url)));
    let url = format!("http://alice:s3cret@127.0.0.1:{}/simple", index.port);
    for command in ["lock", "build"] {
        let cache = world.work.join(format!("cache-{command}"));
        let out = world.work.join("out");
        let before = elsewhere.requests().len();
        let run = pypack_within(&cache, &app_args(&world, command, &url, &out), &[], 60);
        assert!(!run.killed, "{command}: killed after 60 s");
        assert!(
            elsewhere.requests()[before..]
                .iter()
                .any(|s| s.path == WHEEL),
            "{command}: the redirect was not followed: {:?}",
            elsewhere.requests()
        );
        assert_no_credentials(&elsewhere.requests(), command);
        assert!(
            index
                .requests()
                .iter()
                .any(|s| s.authorization.as_deref() == Some(basic("alice", "s3cret").as_str())),
            "{command}: the index never got the credentials: {:?}",
            index.requests()
        );
        assert_keeps_secret(&run, &world.work.join("app/pylock.toml"), "s3cret");
    }
}

/// The index page links the wheel straight at 127.0.0.1:P2, another port
/// of the same host (another origin, another server): the credentials of
/// the index at P1 must not go there either (pip keys them by host:port).
#[test]
fn index_credentials_do_not_go_to_another_port_of_the_same_host() {
    let world = world(false);
    let root = world.work.join("index");
    let index = ScriptedServer::start(&root);
    index.require_basic_auth("alice", "s3cret");
    let elsewhere = ScriptedServer::start(&root);
    let text = String::from_utf8(page(&root)).unwrap();
    let linked = text.replace("../../files/", &format!("{}/files/", elsewhere.url));
    index.rule(PAGE, Rule::ok(PEP691, linked.into_bytes()));
    let url = format!("http://alice:s3cret@127.0.0.1:{}/simple", index.port);
    let cache = world.work.join("cache");
    let out = world.work.join("out");
    let run = pypack_within(&cache, &app_args(&world, "lock", &url, &out), &[], 60);
    assert!(!run.killed, "killed after 60 s");
    assert!(elsewhere.was_asked_for(WHEEL), "{:?}", elsewhere.requests());
    assert_no_credentials(&elsewhere.requests(), "lock");
}

fn assert_no_credentials(seen: &[Seen], command: &str) {
    let leaked: Vec<&Seen> = seen.iter().filter(|s| s.authorization.is_some()).collect();
    assert!(
        leaked.is_empty(),
        "{command}: credentials went to another server: {leaked:?}"
    );
}

/// The run ended (either way) without printing `secret` or writing it into
/// `lock`; a failure must be a clear error.
fn assert_keeps_secret(run: &Run, lock: &Path, secret: &str) {
    let err = String::from_utf8_lossy(&run.out.stderr);
    let printed = String::from_utf8_lossy(&run.out.stdout);
    assert!(
        !err.contains(secret) && !printed.contains(secret),
        "the password was printed"
    );
    let written = std::fs::read_to_string(lock).unwrap_or_default();
    assert!(!written.contains(secret), "the password is in {lock:?}");
    assert!(
        run.out.status.success() || err.lines().any(|l| l.starts_with("error: ")),
        "failed without an `error:` line"
    );
}

// ------------------------------------------------------------- registry --

/// A one-layer linux/amd64 image as a registry holds it.
struct FakeImage {
    manifest: Vec<u8>,
    config: Vec<u8>,
    config_digest: String,
    layer: Vec<u8>,
    layer_digest: String,
}

fn digest(data: &[u8]) -> String {
    format!("sha256:{}", sha256(data))
}

fn fake_image() -> FakeImage {
    let mut tar = tar::Builder::new(Vec::new());
    let text = b"not a python\n";
    let mut header = tar::Header::new_gnu();
    header.set_size(text.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header.set_cksum();
    tar.append_data(&mut header, "etc/hello", &text[..])
        .unwrap();
    let tar = tar.into_inner().unwrap();
    let layer = gzip(&tar);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [digest(&tar)]},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": digest(&config),
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": digest(&layer),
            "size": layer.len(),
        }],
    }))
    .unwrap();
    FakeImage {
        config_digest: digest(&config),
        layer_digest: digest(&layer),
        manifest,
        config,
        layer,
    }
}

const MANIFEST: &str = "/v2/base/manifests/1";

fn blob(digest: &str) -> String {
    format!("/v2/base/blobs/{digest}")
}

/// A registry serving `image` as `base:1`, each response right.
fn fake_registry(image: &FakeImage) -> ScriptedServer {
    let registry = ScriptedServer::empty();
    registry.rule("/v2/", Rule::ok("application/json", b"{}".to_vec()));
    registry.rule(
        MANIFEST,
        manifest_rule(OCI_MANIFEST, &image.manifest, &digest(&image.manifest)),
    );
    registry.rule(
        &blob(&image.config_digest),
        Rule::ok(OCTETS, image.config.clone()),
    );
    registry.rule(
        &blob(&image.layer_digest),
        Rule::ok(OCTETS, image.layer.clone()),
    );
    registry
}

fn manifest_rule(content_type: &str, body: &[u8], announced: &str) -> Rule {
    Rule::Respond {
        status: 200,
        headers: vec![
            ("Content-Type".into(), content_type.into()),
            ("Docker-Content-Digest".into(), announced.into()),
        ],
        body: body.to_vec(),
    }
}

/// One misbehaving registry: which response it spoils, and how.
struct RegistryCase {
    name: &'static str,
    spoil: fn(&ScriptedServer, &FakeImage),
    vars: &'static [(&'static str, &'static str)],
    /// `IMAGE`, `CONFIG` and `LAYER` stand for the reference and the digests.
    says: &'static [&'static str],
}

fn registry_cases() -> Vec<RegistryCase> {
    vec![
        // A login page or a proxy's error page where the manifest should be.
        RegistryCase {
            name: "manifest served as text/html",
            spoil: |r, _| {
                let page = b"<html><body>Please log in</body></html>";
                r.rule(MANIFEST, manifest_rule("text/html", page, &digest(page)));
            },
            vars: &[],
            says: &[
                "IMAGE",
                "'text/html', not an OCI or Docker v2 image manifest",
            ],
        },
        RegistryCase {
            name: "Docker-Content-Digest disagrees with the manifest",
            spoil: |r, image| {
                r.rule(
                    MANIFEST,
                    manifest_rule(OCI_MANIFEST, &image.manifest, BAD_DIGEST),
                )
            },
            vars: &[],
            says: &[
                "IMAGE",
                "the registry says the manifest is sha256:0000",
                "but what it sent is",
            ],
        },
        RegistryCase {
            name: "manifest that never ends",
            spoil: |r, _| r.rule(MANIFEST, Rule::endless(OCI_MANIFEST)),
            vars: &[],
            says: &[
                "IMAGE",
                "larger than 4 MB, the most pypack reads of a manifest",
            ],
        },
        // Same length, other bytes: only the digest can tell.
        RegistryCase {
            name: "config blob that is not its digest",
            spoil: |r, image| {
                let mut config = image.config.clone();
                let last = config.len() - 2;
                config[last] = b' ';
                r.rule(&blob(&image.config_digest), Rule::ok(OCTETS, config));
            },
            vars: &[],
            says: &["IMAGE", "CONFIG", "sha256 mismatch"],
        },
        RegistryCase {
            name: "layer longer than its descriptor",
            spoil: |r, image| {
                let mut layer = image.layer.clone();
                layer.extend(noise(1 << 20));
                r.rule(&blob(&image.layer_digest), Rule::ok(OCTETS, layer));
            },
            vars: &[],
            says: &["IMAGE", "LAYER", "longer than the"],
        },
        RegistryCase {
            name: "layer that never ends",
            spoil: |r, image| r.rule(&blob(&image.layer_digest), Rule::endless(OCTETS)),
            vars: &[],
            says: &["IMAGE", "LAYER", "longer than the"],
        },
        RegistryCase {
            name: "layer that trickles",
            spoil: |r, image| {
                r.rule(
                    &blob(&image.layer_digest),
                    Rule::trickle(OCTETS, image.layer.clone(), 200),
                )
            },
            vars: QUICK_TIMEOUT,
            says: &["IMAGE", "LAYER", "slower than the 16 KB/s pypack waits for"],
        },
    ]
}

/// The two commands that pull an image: `sbom` (printing to stdout) and
/// `build --base` (writing `out/image`).
fn pull_args(command: &str, world: &AppWorld, reference: &str, out: &Path) -> Vec<String> {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match command {
        "sbom" => strings(&[
            "sbom",
            reference,
            "--insecure-registry",
            "--platform",
            "linux/amd64",
        ]),
        _ => {
            let mut args = strings(&["build", &world.work.join("app").display().to_string()]);
            args.extend(strings(&["--base", reference, "--insecure-registry"]));
            args.extend(strings(&[
                "--index-url",
                &world.index_url(),
                "--no-compile",
                "--no-smoke",
            ]));
            args.extend(strings(&[
                "--output",
                &out.join("image").display().to_string(),
            ]));
            args
        }
    }
}

#[test]
fn a_hostile_registry_is_refused_clearly_quickly_and_leaves_nothing() {
    all_pass(&registry_cases(), |c| c.name, run_registry_case);
}

/// A registry that stops sending: the index client waits PYPACK_HTTP_TIMEOUT
/// for a read, and so must the registry client (else a silent registry
/// holds a build as long as its client's own timeout).
#[test]
fn a_registry_that_goes_silent_is_given_up_on_in_time() {
    let cases = vec![
        RegistryCase {
            name: "layer stalls after its headers",
            spoil: |r, image| {
                r.rule(
                    &blob(&image.layer_digest),
                    Rule::stall(OCTETS, image.layer.len()),
                )
            },
            vars: QUICK_TIMEOUT,
            says: &["IMAGE", "LAYER"],
        },
        RegistryCase {
            name: "manifest never answered",
            spoil: |r, _| r.rule(MANIFEST, Rule::Silent),
            vars: QUICK_TIMEOUT,
            says: &["IMAGE", "manifest"],
        },
    ];
    all_pass(&cases, |c| c.name, run_registry_case);
}

fn run_registry_case(case: &RegistryCase) -> Result<(), String> {
    let world = world(false);
    let image = fake_image();
    let registry = fake_registry(&image);
    (case.spoil)(&registry, &image);
    let reference = format!("127.0.0.1:{}/base:1", registry.port);
    let says: Vec<String> = case
        .says
        .iter()
        .map(|s| match *s {
            "IMAGE" => reference.clone(),
            "CONFIG" => image.config_digest.clone(),
            "LAYER" => image.layer_digest.clone(),
            other => other.to_string(),
        })
        .collect();
    for command in ["sbom", "build"] {
        let cache = world.work.join(format!("cache-{command}"));
        let out = world.work.join("out");
        let run = pypack_within(
            &cache,
            &pull_args(command, &world, &reference, &out),
            case.vars,
            30,
        );
        let outputs = Outputs {
            app: &world.work.join("app"),
            out: &out,
            cache: &cache,
        };
        refused(&run, 30, &says, &outputs).map_err(|e| format!("{command}: {e}"))?;
    }
    Ok(())
}

/// A registry failing for a moment (a 503 for the manifest) is asked
/// again, as an index is: the pull gets through. (The push side:
/// tests/debian_archive.rs.)
#[test]
fn a_registry_failing_once_is_asked_again_for_a_pull() {
    let world = world(false);
    let image = fake_image();
    let source = fake_registry(&image);
    source.rule(
        MANIFEST,
        Rule::Once {
            status: 503,
            headers: Vec::new(),
            then: Box::new(manifest_rule(
                OCI_MANIFEST,
                &image.manifest,
                &digest(&image.manifest),
            )),
        },
    );
    let reference = format!("127.0.0.1:{}/base:1", source.port);
    let args = pull_args("sbom", &world, &reference, &world.work.join("out"));
    let run = pypack_within(&world.work.join("cache"), &args, &[], 60);
    let err = String::from_utf8_lossy(&run.out.stderr);
    let manifest_gets = source
        .requests()
        .iter()
        .filter(|s| s.method == "GET" && s.path == MANIFEST)
        .count();
    assert_eq!(manifest_gets, 2, "{:?}", source.requests());
    assert!(!err.contains("503"), "{err}");
    assert!(
        source
            .requests()
            .iter()
            .any(|s| s.path == blob(&image.config_digest)),
        "the pull did not go on past the manifest: {err}"
    );
}

/// A registry wanting basic auth (the credentials in the auth file
/// `REGISTRY_AUTH_FILE` names) redirects its blobs to another port, as
/// registries do to their storage: the storage must not get the credentials.
#[test]
fn registry_credentials_do_not_follow_a_blob_redirect_to_another_port() {
    let world = world(false);
    let image = fake_image();
    let registry = fake_registry(&image);
    registry.require_basic_auth("ci", "s3cret");
    let storage = ScriptedServer::empty();
    for (digest, bytes) in [
        (&image.config_digest, &image.config),
        (&image.layer_digest, &image.layer),
    ] {
        let path = format!("/storage/{digest}");
        storage.rule(&path, Rule::ok(OCTETS, bytes.clone()));
        registry.rule(
            &blob(digest),
            Rule::Redirect(format!("{}{path}", storage.url)),
        );
    }
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode("ci:s3cret");
    let auth_file = world.work.join("auth.json");
    let host = format!("127.0.0.1:{}", registry.port);
    let text = serde_json::json!({"auths": {host.clone(): {"auth": auth}}});
    std::fs::write(&auth_file, text.to_string()).unwrap();
    let reference = format!("{host}/base:1");
    let auth_file = auth_file.display().to_string();
    for command in ["sbom", "build"] {
        let cache = world.work.join(format!("cache-{command}"));
        let out = world.work.join("out");
        let args = pull_args(command, &world, &reference, &out);
        let before = storage.requests().len();
        let run = pypack_within(&cache, &args, &[("REGISTRY_AUTH_FILE", &auth_file)], 60);
        assert!(!run.killed, "{command}: killed after 60 s");
        assert!(
            storage.requests().len() >= before + 2,
            "{command}: the blobs were not fetched from the storage: {:?}",
            storage.requests()
        );
        assert_no_credentials(&storage.requests(), command);
        assert!(
            registry
                .requests()
                .iter()
                .any(|s| s.authorization.as_deref() == Some(basic("ci", "s3cret").as_str())),
            "{command}: the registry never got the credentials: {:?}",
            registry.requests()
        );
        assert_keeps_secret(&run, &world.work.join("app/pylock.toml"), "s3cret");
    }
}
