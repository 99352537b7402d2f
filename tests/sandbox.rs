//! The sandbox the smoke run starts an image in without the engine, checked
//! against what a container engine gives a container: the image's user and
//! environment, no network but loopback, its own PID namespace (nothing it
//! starts outlives it), a read-only /app for the app's user, writes that
//! land in the run's own layer (never in the kept trees), and root's
//! capabilities bounded to an engine's defaults. Then an edit loop: each
//! build's smoke run in the sandbox, `PYPACK_SMOKE_IN=engine` sending it
//! back to the engine, and a failing app failing there as in the engine.

mod common;

use common::*;
use pypack::cache::Cache;
use pypack::platform::Platform;
use pypack::sandbox::{self, Sandbox};
use std::path::{Path, PathBuf};
use std::process::Output;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An app built offline from the wheelhouse into the layout `out`, with
/// the build's timings printed (they say where the smoke run ran).
fn build(cache: &Path, app: &Path, out: &Path, extra: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut args = vec!["--output", out.to_str().unwrap()];
    args.extend(extra);
    let mut all = vec![("PYPACK_TIMINGS", "1")];
    all.extend(vars);
    build_sample_dir_env(cache, app, &args, &all)
}

/// Whether the sandbox can be tried here (podman for the builds, root to mount).
fn sandbox_possible(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    podman_available(test)
        && required(
            test,
            "root (to mount the layers)",
            unsafe { libc::geteuid() } == 0,
        )
}

fn digest_of(out: &Output) -> String {
    assert!(out.status.success(), "{}", stderr(out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    summary["digest"].as_str().unwrap().to_string()
}

/// Python printing, as JSON, what the process sees of its surroundings;
/// it leaves a child sleeping behind, marked by `MARK` in its command line.
const LOOK_AROUND: &str = r#"
import json, os, socket, sys
facts = {"ids": [os.getuid(), os.getgid(), os.getgroups()], "pid": os.getpid()}
facts["hostname"] = socket.gethostname()
facts["interfaces"] = sorted(n for _, n in socket.if_nameindex())
facts["localhost"] = socket.gethostbyname("localhost")
facts["env"] = {k: os.environ.get(k) for k in ("VIRTUAL_ENV", "HOME", "EXTRA")}
facts["cwd"] = os.getcwd()
try:
    open("/app/new-file", "w").close()
    facts["app_write"] = "written"
except OSError as e:
    facts["app_write"] = e.errno
try:
    open("/usr/lib/written-by-the-run", "w").close()
    facts["usr_write"] = "written"
except OSError as e:
    facts["usr_write"] = e.errno
facts["capbnd"] = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapBnd")][0]
s = socket.socket()
s.settimeout(2)
try:
    s.connect(("192.0.2.1", 80))
    facts["outside"] = "reached"
except OSError as e:
    facts["outside"] = e.errno
facts["devnull"] = open("/dev/null", "w").write("x")
try:
    open("/proc/sys/kernel/hostname", "w").write("changed")
    facts["proc_sys"] = "written"
except OSError as e:
    facts["proc_sys"] = e.errno
if os.path.exists("/proc/timer_list") and os.getuid() == 0:
    facts["timer_list"] = len(open("/proc/timer_list").read())
if os.fork() == 0:
    os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(120)", sys.argv[1]])
print(json.dumps(facts))
"#;

const MARK: &str = "pypack-sandbox-test-sleeper";

/// Host processes whose command line carries `MARK`.
fn sleepers() -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|cmdline| String::from_utf8_lossy(cmdline).contains(MARK))
        .count()
}

fn look_around(sandbox: &Sandbox, as_root: bool) -> serde_json::Value {
    let argv: Vec<String> = ["/app/.venv/bin/python", "-c", LOOK_AROUND, MARK]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let env = [("EXTRA".to_string(), "given".to_string())];
    let started = std::time::Instant::now();
    let out = sandbox
        .command(&argv, &env, as_root)
        .unwrap()
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the run waited for the child it left"
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_sandbox_runs_the_image_as_a_container_would() {
    if !sandbox_possible("sandbox") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let flask_hello = repo().join("sample-apps/flask-hello");
    let out = tmp.path().join("out");
    let out = build(
        shared_cache(),
        &flask_hello,
        &out,
        &["--json", "--no-smoke"],
        &[],
    );
    let digest = digest_of(&out);
    let cache = Cache::open(Some(shared_cache())).unwrap();
    let image = pypack::oci::image::load(&cache, &digest, Platform::host()).unwrap();
    let config = pypack::oci::image::container_config_of(&image).unwrap();
    // The base's layer and the venv's kept; the rest (app, bill of materials) per run.
    let kept = image.layers.len() - 2;
    let sandbox = Sandbox::prepare(&cache, &image, &config, kept).unwrap();
    for layer in &image.layers[..kept] {
        assert!(sandbox::trees::is_kept(&cache, layer), "{layer:?} kept");
    }

    let facts = look_around(&sandbox, false);
    assert_eq!(
        facts["ids"],
        serde_json::json!([65532, 65532, []]),
        "{facts}"
    );
    assert_eq!(
        facts["pid"], 1,
        "the command is its PID namespace's first process"
    );
    assert_eq!(facts["hostname"], "pypack-smoke");
    assert_eq!(facts["interfaces"], serde_json::json!(["lo"]));
    assert_eq!(facts["localhost"], "127.0.0.1");
    assert_eq!(
        facts["env"]["VIRTUAL_ENV"], "/app/.venv",
        "the image's environment"
    );
    assert_eq!(facts["env"]["HOME"], "/home/nonroot");
    assert_eq!(facts["env"]["EXTRA"], "given");
    assert_eq!(facts["cwd"], "/app");
    assert_eq!(
        facts["app_write"],
        libc::EACCES,
        "/app is read-only to the app"
    );
    assert_eq!(facts["usr_write"], libc::EACCES);
    assert_eq!(
        facts["outside"],
        libc::ENETUNREACH,
        "no network but loopback"
    );
    assert_eq!(facts["devnull"], 1);
    // Everything the run started went with it.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(sleepers(), 0, "a process the run started outlived it");

    // As root: writes land in the run's own layer, and capabilities are an engine's.
    let facts = look_around(&sandbox, true);
    assert_eq!(facts["ids"], serde_json::json!([0, 0, []]));
    assert_eq!(facts["app_write"], "written");
    assert_eq!(facts["usr_write"], "written");
    assert_eq!(facts["capbnd"], "00000000800405fb", "{facts}");
    assert_eq!(
        facts["proc_sys"],
        libc::EROFS,
        "kernel settings are read-only"
    );
    if Path::new("/proc/timer_list").exists() {
        assert_eq!(facts["timer_list"], 0, "the kernel's timers are hidden");
    }
    let trees = shared_cache().join("layer-trees/1");
    for tree in std::fs::read_dir(&trees).unwrap().flatten() {
        assert!(!tree.path().join("usr/lib/written-by-the-run").exists());
        assert!(!tree.path().join("app/new-file").exists());
    }
    // A new run starts from the image again.
    let facts = look_around(&sandbox, true);
    assert_eq!(facts["ids"], serde_json::json!([0, 0, []]));
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(sleepers(), 0);
}

#[test]
fn edits_run_their_smoke_run_without_the_engine() {
    if !sandbox_possible("sandbox edits") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    copy_tree(&repo().join("sample-apps/flask-hello"), &app);
    let cache = tmp.path().join("cache");
    let round = |round: usize, vars: &[(&str, &str)]| {
        let text = format!(
            "from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.route(\"/\")\ndef hello():\n    return \"round {round}\"\n"
        );
        std::fs::write(app.join("app.py"), text).unwrap();
        let out = tmp.path().join(format!("out-{round}"));
        let done = build(&cache, &app, &out, &[], vars);
        assert!(done.status.success(), "{}", stderr(&done));
        let err = stderr(&done);
        assert!(err.contains("smoke run passed"), "{err}");
        err.contains("sandbox ready")
    };
    assert!(
        round(1, &[]),
        "the sandbox runs the first build's smoke run"
    );
    assert!(round(2, &[]), "and the next's, on the kept trees");
    assert!(!round(3, &[("PYPACK_SMOKE_IN", "engine")]));
    // The sandbox's smoke run watched the app as the engine's does: a
    // failure is still a failure, with what the app printed.
    std::fs::write(
        app.join("app.py"),
        "import sys\nprint('cannot start: no settings', file=sys.stderr)\nsys.exit(3)\n",
    )
    .unwrap();
    std::fs::write(app.join("Procfile"), "web: python app.py\n").unwrap();
    let out = tmp.path().join("out-failed");
    let failed = build(&cache, &app, &out, &[], &[]);
    assert!(!failed.status.success());
    let err = stderr(&failed);
    assert!(err.contains("sandbox ready"), "{err}");
    assert!(err.contains("the app exited with status 3"), "{err}");
    assert!(err.contains("cannot start: no settings"), "{err}");
    assert!(!out.exists(), "a failed smoke run writes no image");
}
