//! `pypack build` without network or engine: the base comes from a signed
//! fixture Debian archive, wheels from a test index. Checks the image's
//! config and layers, and that each kind of bad input is refused with a clear
//! message, a non-zero exit, and nothing written.

mod common;

use common::wheels::{Listing, WheelSpec};
use common::*;
use std::fs;
use std::path::Path;

fn setup() -> AppWorld {
    AppWorld::new(|index| {
        let mut web = WheelSpec::new("webframe", "1.0");
        web.entry_points = Some("[console_scripts]\nwebframe-serve = webframe:main\n");
        index.add(&web, Listing::default());
        index.add(&WheelSpec::new("gunicorn", "22.0"), Listing::default());
    })
}

/// `pypack build` in the world's app, and what the tests check of its results.
trait BuildWorld {
    fn build(&self, extra: &[&str]) -> std::process::Output;
    fn out(&self, name: &str) -> String;
    fn refused(&self, extra: &[&str], message: &str);
}

impl BuildWorld for AppWorld {
    fn build(&self, extra: &[&str]) -> std::process::Output {
        self.run("build", "cache", extra)
    }

    fn out(&self, name: &str) -> String {
        self.work.join("out").join(name).display().to_string()
    }

    fn refused(&self, extra: &[&str], message: &str) {
        let out = self.build(extra);
        assert!(!out.status.success(), "expected failure with '{message}'");
        let err = stderr(&out);
        assert!(err.contains(message), "expected '{message}' in: {err}");
        assert!(
            err.starts_with("error: ") || err.contains("\nerror: "),
            "{err}"
        );
        assert_eq!(
            files_under(&self.work.join("out")),
            Vec::<String>::new(),
            "nothing may be written"
        );
    }
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

#[test]
fn builds_an_image_with_the_app_conventions() {
    let s = setup();
    s.write_app(&[
        ("requirements.txt", "webframe\ngunicorn\n"),
        (
            "wsgi.py",
            "import webframe\napplication = webframe.Flask(__name__)\n",
        ),
        ("static/style.css", "body {}\n"),
        ("notes.txt", "not shipped\n"),
        (".dockerignore", "notes.txt\n"),
        (".env", "SECRET_KEY=from-a-laptop\n"),
        ("config/deploy.pem", "-----BEGIN PRIVATE KEY-----\n"),
    ]);
    let out = s.build(&["--output", &s.out("image"), "-t", "myapp:1.0", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("left out of the image as secrets or local data: .env, config/deploy.pem"),
        "{}",
        stderr(&out)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["command"]["argv"],
        serde_json::json!(["gunicorn", "--bind", "0.0.0.0:8000", "wsgi:application"])
    );
    assert_eq!(summary["packages"].as_array().unwrap().len(), 2);

    let layout = s.work.join("out/image");
    let blob = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let index = json(&layout.join("index.json"));
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "myapp:1.0"
    );
    let manifest = json(&blob(index["manifests"][0]["digest"].as_str().unwrap()));
    let config = json(&blob(manifest["config"]["digest"].as_str().unwrap()));
    let c = &config["config"];
    assert_eq!(c["WorkingDir"], "/app");
    assert_eq!(c["User"], "65532:65532");
    assert_eq!(c["ExposedPorts"], serde_json::json!({"8000/tcp": {}}));
    let env: Vec<&str> = c["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for want in [
        "PATH=/app/.venv/bin:/usr/bin:/bin",
        "PYTHONUNBUFFERED=1",
        "PYTHONDONTWRITEBYTECODE=1",
        "PORT=8000",
        "HOME=/home/nonroot",
    ] {
        assert!(env.contains(&want), "{want} not in {env:?}");
    }
    assert_eq!(
        manifest["layers"].as_array().unwrap().len(),
        4,
        "base | deps | app | bill of materials"
    );
    let history: Vec<&str> = config["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["created_by"].as_str().unwrap())
        .collect();
    assert!(
        history[1].contains("2 Python packages") && history[2].contains("app files"),
        "{history:?}"
    );

    let layer = |i: usize| {
        let data = fs::read(blob(manifest["layers"][i]["digest"].as_str().unwrap())).unwrap();
        pypack::oci::layer::read_layer(&data).unwrap()
    };
    let deps = layer(1);
    let script = deps
        .iter()
        .find(|e| e.path == "app/.venv/bin/webframe-serve")
        .expect("console script");
    assert_eq!(script.mode, 0o755);
    assert!(deps.iter().any(|e| e.path == "app/.venv/pyvenv.cfg"));
    let app: Vec<String> = layer(2).into_iter().map(|e| e.path).collect();
    assert!(
        app.contains(&"app/wsgi.py".to_string())
            && app.contains(&"app/static/style.css".to_string()),
        "{app:?}"
    );
    assert!(
        !app.iter().any(|p| p.contains("notes.txt")
            || p.contains(".dockerignore")
            || p.ends_with(".env")
            || p.ends_with(".pem")),
        "{app:?}"
    );

    // inspect reads the layout and a docker-archive of the same image alike.
    let archive = s.out("image.tar");
    assert!(
        s.build(&["--archive", &archive, "-t", "myapp:1.0"])
            .status
            .success()
    );
    for image in [layout.display().to_string(), archive] {
        let out = pypack(&s.work.join("cache"), &["inspect", &image, "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let i: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            i["python_packages"],
            serde_json::json!([["gunicorn", "22.0"], ["webframe", "1.0"]])
        );
        assert_eq!(
            i["os_packages"],
            serde_json::json!([["libc6", "2.36-9"], ["python3.11-minimal", "3.11.2-6"]])
        );
        assert_eq!(i["layers"].as_array().unwrap().len(), 4);
        assert_eq!(i["cmd"][0], "gunicorn");
        // The bill of materials in the image names the same packages.
        let sbom = pypack(&s.work.join("cache"), &["sbom", &image]);
        assert!(sbom.status.success(), "{}", stderr(&sbom));
        let spdx: serde_json::Value = serde_json::from_slice(&sbom.stdout).unwrap();
        let names: Vec<&str> = spdx["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        for name in ["gunicorn", "webframe", "libc6", "python3.11-minimal"] {
            assert!(names.contains(&name), "{name} in {names:?}");
        }
    }
    let out = pypack(
        &s.work.join("cache"),
        &["inspect", &s.work.join("app/wsgi.py").display().to_string()],
    );
    assert!(
        !out.status.success() && stderr(&out).contains("not a tar archive"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn rebuilds_are_reproducible_and_an_app_edit_changes_only_the_app_layer() {
    let s = setup();
    s.write_app(&[
        ("requirements.txt", "webframe\n"),
        ("main.py", "print('v1')\n"),
    ]);
    let layers = |name: &str| -> Vec<String> {
        let out = s.build(&["--output", &s.out(name), "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let layout = s.work.join("out").join(name);
        let index = json(&layout.join("index.json"));
        let digest = index["manifests"][0]["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:")
            .to_string();
        let manifest = json(&layout.join("blobs/sha256").join(&digest));
        assert_eq!(summary["digest"], format!("sha256:{digest}"));
        let mut all = vec![digest];
        all.extend(
            manifest["layers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["digest"].as_str().unwrap().to_string()),
        );
        all
    };
    let first = layers("a");
    let requests = s.base.server.request_count() + s.index.request_count();
    let second = layers("b");
    assert_eq!(first, second, "same inputs, same image");
    assert_eq!(
        s.base.server.request_count() + s.index.request_count(),
        requests,
        "a warm build makes no request"
    );
    s.write_app(&[("main.py", "print('v2')\n")]);
    let third = layers("c");
    assert_eq!(
        s.base.server.request_count() + s.index.request_count(),
        requests,
        "an app edit makes no request"
    );
    assert_ne!(first[0], third[0]);
    assert_eq!(first[1..3], third[1..3], "base and deps layers unchanged");
    assert_ne!(first[3], third[3], "app layer changed");
}

#[test]
fn bad_input_is_refused_clearly_and_writes_nothing() {
    let s = setup();
    let image = s.out("image");
    // No dependency file is no dependencies; with nothing to run either,
    // the error says how the app should start.
    s.refused(&["--output", &image], "no entrypoint found");

    s.write_app(&[("requirements.txt", "webframe\nflask>=\n"), ("main.py", "")]);
    s.refused(&["--output", &image], "requirements.txt:2");

    s.write_app(&[("requirements.txt", "webframe\nno-such-dist\n")]);
    s.refused(&["--output", &image], "no-such-dist");

    s.write_app(&[("requirements.txt", "webframe\n")]);
    s.refused(
        &["--output", &image, "--port", "eighty"],
        "--port 'eighty' is not a port number",
    );

    fs::remove_file(s.work.join("app/main.py")).unwrap();
    s.write_app(&[("lib.py", "x = 1\n")]);
    s.refused(&["--output", &image], "no entrypoint found");

    s.write_app(&[("main.py", "print('ok')\n")]);
    let file = s.work.join("out/taken");
    fs::write(&file, b"keep me").unwrap();
    let out = s.build(&["--output", file.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("exists and is a file"),
        "{}",
        stderr(&out)
    );
    assert_eq!(fs::read(&file).unwrap(), b"keep me");
    assert_eq!(files_under(&s.work.join("out")), ["taken"]);
    fs::remove_file(&file).unwrap();

    s.refused(&["--output", &image, "--locked"], "--locked needs");
}

#[test]
fn outputs_go_where_asked_with_missing_directories_made() {
    let s = setup();
    s.write_app(&[
        ("requirements.txt", "webframe\n"),
        ("main.py", "print('ok')\n"),
    ]);
    // A file where a directory would be made is refused before any work.
    let file = s.work.join("out/taken");
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    fs::write(&file, b"keep me").unwrap();
    let under_file = s.out("taken/deeper/image");
    let out = s.build(&["--output", &under_file]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is a file"), "{}", stderr(&out));
    assert_eq!(files_under(&s.work.join("out")), ["taken"]);
    fs::remove_file(&file).unwrap();

    let layout = s.out("builds/2026/layout");
    let out = s.build(&["--output", &layout]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(Path::new(&layout).join("index.json").is_file());
    for format in ["docker", "oci"] {
        let archive = s.out(&format!("archives/{format}/nested/image.tar"));
        let out = s.build(&["--archive", &archive, "--archive-format", format]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(fs::metadata(&archive).unwrap().len() > 0);
    }
}

#[test]
fn a_lock_file_is_used_without_asking_the_index() {
    let s = setup();
    s.write_app(&[
        ("requirements.txt", "webframe\n"),
        ("main.py", "print('hi')\n"),
    ]);
    let lock = s.run("lock", "cache-lock", &[]);
    assert!(lock.status.success(), "{}", stderr(&lock));
    let before = s
        .index
        .stats
        .requests
        .load(std::sync::atomic::Ordering::Relaxed);
    let out = s.build(&["--output", &s.out("image"), "--locked", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["packages"][0]["name"], "webframe");
    let page_requests: usize = s
        .index
        .stats
        .requests
        .load(std::sync::atomic::Ordering::Relaxed)
        - before;
    // Only the wheel itself is fetched (this cache has never seen it); no page.
    assert_eq!(
        page_requests, 1,
        "a locked build asks the index for nothing but the locked wheel"
    );

    s.write_app(&[("requirements.txt", "webframe\ngunicorn\n")]);
    let out = s.build(&["--output", &s.out("image2"), "--locked"]);
    assert!(
        !out.status.success() && stderr(&out).contains("stale"),
        "{}",
        stderr(&out)
    );
    assert!(!s.work.join("out/image2").exists());
}

#[test]
fn a_pyproject_app_is_installed_with_its_scripts() {
    let s = setup();
    s.write_app(&[
        (
            "pyproject.toml",
            "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\
             [project]\nname = \"my-service\"\nversion = \"2.1.0\"\ndependencies = [\"webframe\"]\n\
             [project.scripts]\nmy-service = \"my_service.cli:main\"\n",
        ),
        ("src/my_service/__init__.py", ""),
        (
            "src/my_service/cli.py",
            "def main():\n    print('serving')\n",
        ),
    ]);
    let out = s.build(&["--output", &s.out("image"), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["command"]["argv"],
        serde_json::json!(["my-service"])
    );
    assert!(
        summary["command"]["rule"]
            .as_str()
            .unwrap()
            .contains("[project.scripts]")
    );

    let layout = s.work.join("out/image");
    let index = json(&layout.join("index.json"));
    let blob = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let manifest = json(&blob(index["manifests"][0]["digest"].as_str().unwrap()));
    let app_layer = fs::read(blob(manifest["layers"][2]["digest"].as_str().unwrap())).unwrap();
    let entries = pypack::oci::layer::read_layer(&app_layer).unwrap();
    let find = |p: &str| {
        entries
            .iter()
            .find(|e| e.path == p)
            .unwrap_or_else(|| panic!("{p} missing"))
    };
    let site = "app/.venv/lib/python3.11/site-packages";
    let pypack::oci::EntryKind::File(pth) =
        &find(&format!("{site}/__editable__.my_service.pth")).kind
    else {
        panic!()
    };
    assert_eq!(pth, b"/app/src\n");
    let pypack::oci::EntryKind::File(script) = &find("app/.venv/bin/my-service").kind else {
        panic!()
    };
    assert!(String::from_utf8_lossy(script).contains("from my_service.cli import main"));
    let pypack::oci::EntryKind::File(meta) =
        &find(&format!("{site}/my_service-2.1.0.dist-info/METADATA")).kind
    else {
        panic!()
    };
    assert!(String::from_utf8_lossy(meta).contains("Requires-Dist: webframe"));

    s.write_app(&[(
        "pyproject.toml",
        "[build-system]\nbuild-backend = \"maturin\"\n[project]\nname = \"x\"\nversion = \"1\"\ndependencies = []\n",
    )]);
    // A project whose backend compiles is built in the builder image, which
    // the fixture recipe (no [builder] packages) cannot make.
    let out = s.build(&["--output", &s.out("image2"), "--cmd", "x"]);
    assert!(
        !out.status.success()
            && stderr(&out).contains(
                "building the app's own project (its build backend maturin compiles code)"
            ),
        "{}",
        stderr(&out)
    );
    assert!(!s.work.join("out/image2").exists());
}

#[test]
fn private_index_credentials_reach_locked_downloads_but_not_the_lock() {
    let s = setup();
    s.write_app(&[
        ("requirements.txt", "webframe\n"),
        ("main.py", "print('hi')\n"),
    ]);
    s.index.require_basic_auth("deploy", "t0ken");
    let private = format!(
        "{}/simple",
        s.index.url.replace("http://", "http://deploy:t0ken@")
    );
    let lock = s.run_with("lock", "cache-lock", &private, &[], &[]);
    assert!(lock.status.success(), "{}", stderr(&lock));
    let text = fs::read_to_string(s.work.join("app/pylock.toml")).unwrap();
    assert!(
        !text.contains("t0ken") && !text.contains("deploy"),
        "{text}"
    );
    let out = s.run_with(
        "build",
        "cache-build",
        &private,
        &["--output", &s.out("image"), "--locked"],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn server_adds_a_production_server_to_the_dependencies() {
    let s = setup();
    s.write_app(&[
        ("requirements.txt", "webframe\n"),
        (
            "app.py",
            "import webframe\napp = webframe.Flask(__name__)\n",
        ),
    ]);
    // `--server none`: the framework's own server, said.
    let out = s.build(&["--output", &s.out("dev"), "--json", "--server", "none"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("development server"),
        "{}",
        stderr(&out)
    );
    // No flag: the WSGI app has no server, so gunicorn is added and said.
    let out = s.build(&["--output", &s.out("auto")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("server:   gunicorn 22.0 (added: no WSGI server"),
        "{}",
        stderr(&out)
    );
    let out = s.build(&["--output", &s.out("auto-json"), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["server_added"]["name"], "gunicorn", "{summary}");
    assert_eq!(
        summary["command"]["argv"],
        serde_json::json!(["gunicorn", "--bind", "0.0.0.0:8000", "app:app"])
    );
    let out = s.build(&["--output", &s.out("prod"), "--json", "--server", "gunicorn"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["command"]["argv"],
        serde_json::json!(["gunicorn", "--bind", "0.0.0.0:8000", "app:app"])
    );
    assert!(
        summary["packages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "gunicorn"),
        "{summary}"
    );
    let out = s.build(&["--output", &s.out("x"), "--server", "apache"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--server apache: pypack knows gunicorn"),
        "{}",
        stderr(&out)
    );
    assert!(!s.work.join("out/x").exists());
}

#[test]
fn the_lock_holds_the_server_a_build_would_add() {
    let s = setup();
    s.write_app(&[
        ("requirements.txt", "webframe\n"),
        (
            "app.py",
            "import webframe\napp = webframe.Flask(__name__)\n",
        ),
    ]);
    let out = s.run("lock", "cache", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("gunicorn==22.0"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr(&out).contains("server:   gunicorn 22.0 (added: no WSGI server"));
    let lock = fs::read_to_string(s.work.join("app/pylock.toml")).unwrap();
    assert!(lock.contains("name = \"gunicorn\""), "{lock}");
    // The lock is up to date, and a --locked build runs what it holds.
    assert!(s.run("lock", "cache", &["--locked"]).status.success());
    let out = s.build(&["--output", &s.out("locked"), "--json", "--locked"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["packages_from"], "pylock.toml");
    assert_eq!(summary["command"]["argv"][0], "gunicorn");
    assert!(summary["server_added"].is_null(), "{summary}");
    assert!(
        summary["command"]["rule"]
            .as_str()
            .unwrap()
            .contains("gunicorn 22.0 from the lock"),
        "{summary}"
    );
    // Told not to, the lock has no server; a --locked build then adds none
    // and says so.
    let out = s.run("lock", "cache", &["--server", "none"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lock = fs::read_to_string(s.work.join("app/pylock.toml")).unwrap();
    assert!(!lock.contains("name = \"gunicorn\""), "{lock}");
    let out = s.build(&["--output", &s.out("locked-dev"), "--json", "--locked"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--locked takes only the lock's packages: no gunicorn is added"),
        "{}",
        stderr(&out)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["command"]["argv"][0], "flask");
}
