//! The sample apps, end to end: `pypack build` (base from the host's Debian
//! archive, wheels from sample-apps/wheelhouse, no index) → `podman load` →
//! `podman run -d -p` → an HTTP GET answers with the app's page. The container
//! runs as 65532 and has no shell; flask-hello stays within its size budget.

mod common;

use common::*;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Running(String);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = podman(&["rm", "-f", "-t", "0", &self.0]);
    }
}

/// Builds `app` (into an archive then `podman load`, or with `--load`; with
/// `extra` flags), runs it and GETs its page; returns what the image's
/// `python --version` says.
fn serve_and_get(
    app: &str,
    container_port: u16,
    expect: &str,
    max_megabytes: Option<f64>,
    load: bool,
    extra: &[&str],
    more: &dyn Fn(u16),
) -> String {
    if !podman_available(app) {
        return String::new();
    }
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("image.tar");
    // Two tests may build the same app with other flags at once: their own names.
    let variant = &sha256(extra.join(" ").as_bytes())[..8];
    let tag = format!(
        "localhost/pypack-sample-{app}:{}-{variant}",
        std::process::id()
    );
    let app_dir = repo().join("sample-apps").join(app);
    let wheelhouse = repo().join("sample-apps/wheelhouse");
    let flags = extra;
    let build = |extra: &[&str]| {
        let mut args = vec![
            "build",
            app_dir.to_str().unwrap(),
            "--no-index",
            "--find-links",
            wheelhouse.to_str().unwrap(),
        ];
        args.extend(extra);
        args.extend(flags);
        pypack(shared_cache(), &args)
    };
    let out = if load {
        build(&["--load", "--engine=podman", "-t", &tag, "--json"])
    } else {
        build(&["--archive", archive.to_str().unwrap(), "-t", &tag, "--json"])
    };
    assert!(out.status.success(), "{app}: {}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let megabytes = summary["uncompressed_size"].as_f64().unwrap() / 1e6;
    eprintln!(
        "{app}: {megabytes:.1} MB uncompressed, command {}",
        summary["command"]["argv"]
    );
    // The smoke run is on by default when an engine is installed.
    assert_eq!(
        summary["smoke"]["passed"], true,
        "{app}: {}",
        summary["smoke"]
    );
    if let Some(max) = max_megabytes {
        assert!(
            megabytes <= max,
            "{app} is {megabytes:.1} MB, over {max} MB"
        );
    }

    if load {
        assert!(String::from_utf8_lossy(&out.stdout).contains("loaded into podman"));
        // Loading the same image under a second name keeps the first.
        let second = format!("{tag}-again");
        let again = build(&["--load", "-t", &second]);
        assert!(again.status.success(), "{}", stderr(&again));
        for name in [&tag, &second] {
            assert!(
                podman(&["image", "exists", name]).status.success(),
                "{name} is gone"
            );
        }
        let _ = podman(&["rmi", &second]);
    } else {
        assert!(
            podman(&["load", "-i", archive.to_str().unwrap()])
                .status
                .success()
        );
    }
    let (container, host_port) = run_published(&tag, container_port);
    let running = Running(container);

    let Some(response) = poll_http(host_port, "/", 30, |r| r.starts_with("HTTP/1.")) else {
        let logs = podman(&["logs", &running.0]);
        panic!(
            "{app}: no HTTP answer in 30 s; logs:\n{}{}",
            String::from_utf8_lossy(&logs.stdout),
            String::from_utf8_lossy(&logs.stderr)
        );
    };
    assert!(response.contains(" 200 "), "{app}: {response}");
    assert!(
        response.contains(expect),
        "{app}: '{expect}' not in {response}"
    );
    more(host_port);

    let uid = podman(&[
        "exec",
        &running.0,
        "python",
        "-c",
        "import os; print(os.getuid())",
    ]);
    assert_eq!(String::from_utf8_lossy(&uid.stdout).trim(), "65532");
    let shell = podman(&["exec", &running.0, "/bin/sh", "-c", "true"]);
    assert!(!shell.status.success(), "{app} must have no /bin/sh");
    let exists = podman(&[
        "exec",
        &running.0,
        "python",
        "-c",
        "import os; print(os.path.exists('/bin/sh'))",
    ]);
    assert_eq!(String::from_utf8_lossy(&exists.stdout).trim(), "False");
    let version = podman(&["exec", &running.0, "python", "--version"]);
    drop(running);
    let _ = podman(&["rmi", &tag]);
    String::from_utf8_lossy(&version.stdout).trim().to_string()
}

#[test]
fn flask_hello_serves_its_page() {
    // Issue 6's budget, with the bytecode of the stdlib, the venv and the app.
    let version = serve_and_get(
        "flask-hello",
        8000,
        "Hello from pypack!",
        Some(65.0),
        false,
        &[],
        &|_| {},
    );
    assert!(version.starts_with("Python 3.11."), "{version}");
}

#[test]
fn flask_hello_needs_no_system_libraries() {
    // markupsafe's one extension module links only libc, which the base has:
    // the native library audit adds no layer, so the image is what it was.
    let app_dir = repo().join("sample-apps/flask-hello");
    let wheelhouse = repo().join("sample-apps/wheelhouse");
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("image");
    let out = pypack_env(
        shared_cache(),
        &[
            "build",
            app_dir.to_str().unwrap(),
            "--no-index",
            "-f",
            wheelhouse.to_str().unwrap(),
            "--no-smoke",
            "--output",
            layout.to_str().unwrap(),
            "--json",
        ],
        &[("PYPACK_TIMINGS", "1")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["system_packages"], serde_json::json!([]));
    let layers: Vec<&str> = summary["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["what"].as_str().unwrap())
        .collect();
    assert!(
        !layers.iter().any(|w| w.contains("Debian packages")),
        "{layers:?}"
    );
    assert!(
        stderr(&out).contains("native library audit")
            && stderr(&out).contains("0 libraries missing"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn flask_hello_serves_on_python_3_14() {
    // debian-forky is Debian's testing suite; the mirror this runs against may
    // serve an index past its Valid-Until (its signature is still checked).
    let version = serve_and_get(
        "flask-hello",
        8000,
        "Hello from pypack!",
        None,
        false,
        &["--python", "3.14", "--allow-expired-index"],
        &|_| {},
    );
    assert!(
        version.is_empty() || version.starts_with("Python 3.14."),
        "{version}"
    );
}

#[test]
fn flask_templates_serves_a_rendered_template() {
    serve_and_get(
        "flask-templates",
        5000,
        "<li>Bonjour, world</li>",
        None,
        true,
        &[],
        &|_| {},
    );
}

#[test]
fn fastapi_pyproject_serves_json() {
    serve_and_get(
        "fastapi-pyproject",
        8000,
        "Hello from FastAPI in a pypack image",
        None,
        false,
        &[],
        &|_| {},
    );
}

#[test]
fn flask_hello_builds_reproducibly_from_two_caches() {
    let tmp = tempfile::tempdir().unwrap();
    let app_dir = repo().join("sample-apps/flask-hello");
    let wheelhouse = repo().join("sample-apps/wheelhouse");
    let digest = |cache: &Path, out: &str| {
        let layout = tmp.path().join(out);
        let args = [
            "build",
            app_dir.to_str().unwrap(),
            "--no-index",
            "-f",
            wheelhouse.to_str().unwrap(),
        ];
        let out = pypack(
            cache,
            &[&args[..], &["--output", layout.to_str().unwrap(), "--json"]].concat(),
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        summary["digest"].as_str().unwrap().to_string()
    };
    let a = digest(&tmp.path().join("cache-a"), "a");
    let b = digest(&tmp.path().join("cache-b"), "b");
    assert_eq!(a, b);
}

/// The body of `GET path` on the host port.
fn get(port: u16, path: &str) -> String {
    let response = poll_http(port, path, 10, |r| r.starts_with("HTTP/1."))
        .unwrap_or_else(|| panic!("no answer for {path}"));
    assert!(response.contains(" 200 "), "{path}: {response}");
    response
}

#[test]
fn django_notes_migrates_at_start_and_serves_collected_static_files() {
    serve_and_get(
        "django-notes",
        8000,
        "<li>Packed by pypack, migrated at start</li>",
        None,
        false,
        &[],
        &|port| {
            // The stylesheet's hashed name comes from the manifest that
            // collectstatic wrote at build time; WhiteNoise serves it.
            let page = get(port, "/");
            let href = page
                .split("href=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .expect("a stylesheet link");
            assert!(
                href.starts_with("/static/notes/site.") && href.ends_with(".css"),
                "{href}"
            );
            assert!(get(port, href).contains("notes-site-stylesheet"));
        },
    );
}

#[test]
fn flask_factory_writes_to_its_instance_folder_as_nonroot() {
    serve_and_get(
        "flask-factory",
        8000,
        "guestbook visits: 1",
        None,
        false,
        &[],
        &|port| assert!(get(port, "/").contains("guestbook visits: 2")),
    );
}

#[test]
fn the_port_of_a_gunicorn_config_file_is_the_image_port() {
    serve_and_get(
        "flask-gunicorn-conf",
        5050,
        "served on the port gunicorn.conf.py names",
        None,
        false,
        &[],
        &|_| {},
    );
}

#[test]
fn a_dockerfile_cmd_alone_says_how_the_app_starts() {
    serve_and_get(
        "dockerfile-cmd",
        7000,
        "portal started the way its Dockerfile says",
        None,
        false,
        &[],
        &|_| {},
    );
}

#[test]
fn a_poetry_project_installs_its_lock() {
    serve_and_get(
        "poetry-api",
        8000,
        "\"service\":\"poetry-api\"",
        None,
        true,
        &[],
        &|_| {},
    );
}

#[test]
fn a_fastapi_src_project_installs_its_uv_lock() {
    // Its only [project.scripts] entry is a hello-world script: the FastAPI
    // app in src/ is what serves.
    serve_and_get(
        "fastapi-uv",
        8000,
        "{\"tasks\":3,\"done\":2}",
        None,
        false,
        &[],
        &|port| assert!(get(port, "/tasks/3").contains("\"title\":\"ship it\"")),
    );
}

/// Process types: web-worker's Procfile `worker:` line, and `[tool.pypack]
/// processes` added to a copy, run from the one image by name (arguments
/// after the name go to the process); no name still serves `web`. A process
/// named after the program it runs (`flask: flask --version`) runs that
/// program, not itself again.
#[test]
fn process_types_run_from_the_one_image_by_name() {
    if !podman_available("process_types_run_from_the_one_image_by_name") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("web-worker");
    copy_tree(&repo().join("sample-apps/web-worker"), &app);
    std::fs::write(
        app.join("pyproject.toml"),
        "[tool.pypack]\nprocesses = { report = \"python worker.py --once --report\", flask = \"flask --version\" }\n",
    )
    .unwrap();
    let tag = format!("localhost/pypack-processes:{}", std::process::id());
    let out = build_sample_dir_env(shared_cache(), &app, &["--load", "-t", &tag, "--json"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = summary["processes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["flask", "report", "worker"], "{summary}");
    assert_eq!(summary["processes"][2]["rule"], "Procfile worker: line");

    let run = |args: &[&str]| {
        let mut all = vec!["run", "--rm", "--network=none", tag.as_str()];
        all.extend(args);
        let out = podman(&all);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let worker = run(&["worker", "--once"]);
    assert!(
        worker.contains("worker: started (args: --once)"),
        "{worker}"
    );
    assert!(worker.contains("worker: round 1 handled"), "{worker}");
    let report = run(&["report"]);
    assert!(report.contains("(args: --once --report)"), "{report}");
    // Arguments given after the name are passed as they are, not expanded.
    let literal = run(&["worker", "--once", "$HOME"]);
    assert!(literal.contains("(args: --once $HOME)"), "{literal}");
    let flask = run(&["flask"]);
    assert!(flask.contains("Flask 3."), "{flask}");
    // Any other command still runs as given.
    let python = run(&["python", "-c", "print('plain command')"]);
    assert_eq!(python.trim(), "plain command");

    let (container, port) = run_published(&tag, 8000);
    let running = Running(container);
    let answer = poll_http(port, "/", 30, |r| r.contains(" 200 "));
    drop(running);
    let _ = podman(&["rmi", &tag]);
    let answer = answer.expect("the web process answers");
    assert!(answer.contains("web process"), "{answer}");
}

/// A Procfile process line that needs a shell is left out of the image's
/// process types with a warning naming it; the web app builds as before.
#[test]
fn a_procfile_line_needing_a_shell_is_left_out_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("web-worker");
    copy_tree(&repo().join("sample-apps/web-worker"), &app);
    std::fs::write(
        app.join("Procfile"),
        "web: gunicorn app:app\nworker: python worker.py | tee log\n",
    )
    .unwrap();
    let out_dir = tmp.path().join("out");
    let args = [
        "--output",
        out_dir.to_str().unwrap(),
        "--no-smoke",
        "--json",
    ];
    let out = build_sample_dir_env(shared_cache(), &app, &args, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("Procfile worker: left out") && err.contains("needs a shell"),
        "{err}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["processes"], serde_json::json!([]));
}
