//! The builder, end to end on the real debian12 base (from the host's Debian
//! archive) and podman: a source distribution with a C extension compiled in
//! the builder image and called from the running container over HTTP; the
//! bytecode pypack compiles (present, unchecked-hash, reproducible, absent
//! with --no-compile); the smoke run catching apps that break at import or
//! at start; and a clear error when an sdist needs an engine there is none of.

mod common;

use common::wheels::{Listing, TestIndex};
use common::*;
use std::fs;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const SETUPTOOLS: &str = "setuptools-80.9.0-py3-none-any.whl";

/// `cext-1.0.tar.gz`: a setuptools project with one C module, `cext.add`.
/// Its PKG-INFO is metadata 2.1, so pypack must build it to learn its
/// dependencies (as it must for most sdists).
fn cext_sdist() -> Vec<u8> {
    sdist("cext-1.0", &CEXT_FILES)
}

/// A `.tar.gz` sdist whose top directory `top` holds `files`.
fn sdist(top: &str, files: &[(&str, &str)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (name, text) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        tar.append_data(&mut header, format!("{top}/{name}"), text.as_bytes())
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

/// `cppext-1.0.tar.gz`: one C++ module, `cppext.total`, which links the C++
/// runtime (libstdc++.so.6): the builder image has it, the runtime base not.
/// Its setup.py runs `make`, whose recipe (run by /bin/sh) makes a header
/// with sed and awk, and calls cc and c++ by those names, as build tools do.
const CPPEXT_FILES: [(&str, &str); 6] = [
    (
        "pyproject.toml",
        "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"cppext\"\nversion = \"1.0\"\n",
    ),
    (
        "setup.py",
        // Build tools run their commands through /bin/sh (make, ninja,
        // ./configure): the builder image must have one, and the userland
        // their recipes call (sed here).
        "import subprocess\nfrom setuptools import Extension, setup\nsubprocess.run(['make'], check=True)\nsetup(ext_modules=[Extension(\"cppext\", [\"cppext.cpp\"], language=\"c++\")])\n",
    ),
    (
        "Makefile",
        // cc, c++ and awk are names Debian's maintainer scripts give
        // (update-alternatives): grpcio's setup.py calls c++, configure calls awk.
        "prefix.h: prefix.h.in\n\tc++ --version >/dev/null && cc --version >/dev/null\n\tsed 's/@PREFIX@/sum=/' prefix.h.in | awk '{ print }' > prefix.h\n",
    ),
    ("prefix.h.in", "#define PREFIX \"@PREFIX@\"\n"),
    (
        "cppext.cpp",
        r#"#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "prefix.h"
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

static long checked_sum(const std::vector<long> &values) {
    if (values.empty()) throw std::invalid_argument("nothing to add");
    return std::accumulate(values.begin(), values.end(), 0L);
}

static PyObject *total(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    try {
        std::string text = PREFIX + std::to_string(checked_sum({a, b}));
        return PyUnicode_FromString(text.c_str());
    } catch (const std::exception &e) {
        PyErr_SetString(PyExc_ValueError, e.what());
        return NULL;
    }
}

static PyMethodDef methods[] = {{"total", total, METH_VARARGS, "a + b, as text"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "cppext", NULL, -1, methods};
PyMODINIT_FUNC PyInit_cppext(void) { return PyModule_Create(&module); }
"#,
    ),
    (
        "PKG-INFO",
        "Metadata-Version: 2.1\nName: cppext\nVersion: 1.0\n",
    ),
];

/// An HTTP app (standard library only) that answers with `cppext.total(2, 3)`.
fn write_cppext_app(dir: &Path) {
    write_module_app(dir, "cppext", "f\"cppext says {cppext.total(2, 3)}\"");
}

/// An HTTP app (standard library only) requiring `module==1.0` and
/// answering `GET /` with the Python expression `body` (a str).
fn write_module_app(dir: &Path, module: &str, body: &str) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("requirements.txt"), format!("{module}==1.0\n")).unwrap();
    fs::write(
        dir.join("app.py"),
        format!("import http.server\nimport {module}\n\n\nclass Handler(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        body = {body}.encode()\n        self.send_response(200)\n        self.end_headers()\n        self.wfile.write(body)\n\n\nif __name__ == \"__main__\":\n    http.server.HTTPServer((\"0.0.0.0\", 8000), Handler).serve_forever()\n"),
    )
    .unwrap();
}

/// One file of the cext project.
fn cext_sdist_member(name: &str) -> Vec<u8> {
    let (_, text) = CEXT_FILES.iter().find(|(n, _)| *n == name).unwrap();
    text.as_bytes().to_vec()
}

const CEXT_FILES: [(&str, &str); 4] = [
    (
        "pyproject.toml",
        "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"cext\"\nversion = \"1.0\"\n",
    ),
    (
        "setup.py",
        "from setuptools import Extension, setup\nsetup(ext_modules=[Extension(\"cext\", [\"cext.c\"])])\n",
    ),
    (
        "cext.c",
        r#"#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}

static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "a + b"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "cext", NULL, -1, methods};
PyMODINIT_FUNC PyInit_cext(void) { return PyModule_Create(&module); }
"#,
    ),
    (
        "PKG-INFO",
        "Metadata-Version: 2.1\nName: cext\nVersion: 1.0\n",
    ),
];

/// `broken-1.0.tar.gz`: a C extension that does not compile anywhere.
const BROKEN_FILES: [(&str, &str); 3] = [
    (
        "setup.py",
        "from setuptools import Extension, setup\nsetup(name='broken', version='1.0', ext_modules=[Extension('broken', ['broken.c'])])\n",
    ),
    ("broken.c", "#error this extension does not build\n"),
    (
        "PKG-INFO",
        "Metadata-Version: 2.1\nName: broken\nVersion: 1.0\n",
    ),
];

/// `asker-1.0.tar.gz`: an in-tree backend that, as flit_core does for a
/// project whose version it must import, answers `get_requires_for_build_wheel`
/// with every requirement of the project, the extras' and other Pythons' too
/// (none of which the index has): only setuptools applies.
const ASKER_FILES: [(&str, &str); 4] = [
    (
        "pyproject.toml",
        "[build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\".\"]\n\n[project]\nname = \"asker\"\nversion = \"1.0\"\n\n[tool.setuptools]\npy-modules = [\"asker\"]\n",
    ),
    (
        "backend.py",
        "def get_requires_for_build_wheel(config_settings=None):\n    return ['setuptools>=61', 'sphinx-not-here>=7; extra == \"docs\"', 'py2-only-thing; python_version < \"3\"']\n\n\ndef build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n    from setuptools import build_meta\n\n    return build_meta.build_wheel(wheel_directory, config_settings, metadata_directory)\n",
    ),
    ("asker.py", "ANSWER = 'asked only for what applies'\n"),
    (
        "PKG-INFO",
        "Metadata-Version: 2.1\nName: asker\nVersion: 1.0\n",
    ),
];

/// An index with the cext sdist and the setuptools wheel it builds with.
fn sdist_index(root: &Path) -> Option<FileServer> {
    let setuptools = repo().join("sample-apps/wheelhouse").join(SETUPTOOLS);
    if !required(
        "sdist index",
        "sample-apps/wheelhouse (setuptools)",
        setuptools.exists(),
    ) {
        return None;
    }
    let mut index = TestIndex::new(root);
    index.add_bytes(
        "cext",
        "cext-1.0.tar.gz",
        &cext_sdist(),
        None,
        Listing::default(),
    );
    index.add_bytes(
        "cppext",
        "cppext-1.0.tar.gz",
        &sdist("cppext-1.0", &CPPEXT_FILES),
        None,
        Listing::default(),
    );
    index.add_bytes(
        "broken",
        "broken-1.0.tar.gz",
        &sdist("broken-1.0", &BROKEN_FILES),
        None,
        Listing::default(),
    );
    index.add_bytes(
        "asker",
        "asker-1.0.tar.gz",
        &sdist("asker-1.0", &ASKER_FILES),
        None,
        Listing::default(),
    );
    index.add_bytes(
        "setuptools",
        SETUPTOOLS,
        &fs::read(setuptools).unwrap(),
        None,
        Listing::default(),
    );
    index.publish();
    Some(FileServer::start(root))
}

/// An HTTP app (standard library only) that answers with `cext.add(2, 3)`.
fn write_cext_app(dir: &Path) {
    write_module_app(dir, "cext", "f\"cext.add(2, 3) = {cext.add(2, 3)}\"");
}

struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman(&["rm", "-f", "-t", "0", &self.0]);
    }
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn an_sdist_with_a_c_extension_is_built_and_called_in_the_image() {
    if !podman_available("sdist build") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = sdist_index(&tmp.path().join("index")) else {
        return;
    };
    let app = tmp.path().join("app");
    write_cext_app(&app);
    let index_url = format!("{}/simple", server.url);
    let archive = tmp.path().join("image.tar");
    let tag = format!("localhost/pypack-cext:{}", std::process::id());
    let build = |cache: &Path, extra: &[&str]| {
        let mut args = vec![
            "build",
            app.to_str().unwrap(),
            "--index-url",
            &index_url,
            "--json",
        ];
        args.extend(extra);
        pypack(cache, &args)
    };
    let out = build(
        shared_cache(),
        &["--archive", archive.to_str().unwrap(), "-t", &tag],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = json(&out);
    assert_eq!(summary["packages"][0]["name"], "cext");
    assert_eq!(
        summary["command"]["argv"],
        serde_json::json!(["python", "app.py"])
    );
    assert_eq!(summary["smoke"]["passed"], true, "{}", summary["smoke"]);

    assert_eq!(
        load_and_serve(&archive, &tag).as_deref(),
        Some("cext.add(2, 3) = 5")
    );

    // The built wheel is cached: a lock and a --locked build reuse it, and
    // the lock records the sdist (PEP 751's `sdist` table) with its hash.
    let lock = pypack(
        shared_cache(),
        &["lock", app.to_str().unwrap(), "--index-url", &index_url],
    );
    assert!(lock.status.success(), "{}", stderr(&lock));
    let text = fs::read_to_string(app.join("pylock.toml")).unwrap();
    assert!(
        text.contains("[packages.sdist]") && text.contains("cext-1.0.tar.gz"),
        "{text}"
    );
    let layout = tmp.path().join("layout");
    let locked = build(
        shared_cache(),
        &["--locked", "--output", layout.to_str().unwrap()],
    );
    assert!(locked.status.success(), "{}", stderr(&locked));
    // The venv layer is the same (pylock.toml itself joins the app layer).
    let venv_layer = |summary: &serde_json::Value| {
        summary["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["what"].as_str().unwrap().contains("Python packages"))
            .map(|l| l["digest"].clone())
            .unwrap()
    };
    let locked = json(&locked);
    assert_eq!(venv_layer(&locked), venv_layer(&summary));
    assert!(venv_layer(&locked) != serde_json::Value::Null);

    // A fresh cache builds the builder image, the wheel and the image again:
    // the same digest, C extension included.
    fs::remove_file(app.join("pylock.toml")).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let again = build(
        fresh.path(),
        &["--output", tmp.path().join("again").to_str().unwrap()],
    );
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(json(&again)["digest"], summary["digest"]);

    // --only-binary :all: rules the sdist out, and says so.
    let only = build(
        fresh.path(),
        &[
            "--only-binary",
            ":all:",
            "--output",
            tmp.path().join("x").to_str().unwrap(),
        ],
    );
    assert!(!only.status.success());
    assert!(stderr(&only).contains("cext-1.0.tar.gz is a source distribution (--only-binary)"));
}

#[test]
fn a_library_a_built_wheel_links_is_added_from_debian() {
    if !podman_available("sdist build (C++)") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = sdist_index(&tmp.path().join("index")) else {
        return;
    };
    let app = tmp.path().join("app");
    write_cppext_app(&app);
    let archive = tmp.path().join("image.tar");
    let tag = format!("localhost/pypack-cppext:{}", std::process::id());
    let out = build_archive(&app, &server, &archive, &tag, &["--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = json(&out);
    let added: Vec<&str> = summary["system_packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(added.contains(&"libstdc++6"), "{summary}");
    let why = summary["system_packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "libstdc++6")
        .unwrap()["why"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        why.starts_with(
            "libstdc++.so.6, needed by cppext 1.0 (/app/.venv/lib/python3.11/site-packages/cppext."
        ),
        "{why}"
    );
    assert_eq!(summary["smoke"]["passed"], true, "{}", summary["smoke"]);
    assert_eq!(
        load_and_serve(&archive, &tag).as_deref(),
        Some("cppext says sum=5")
    );
}

/// `pypack build APP --index-url <server> --archive FILE -t TAG EXTRA…`, shared cache.
fn build_archive(
    app: &Path,
    server: &FileServer,
    archive: &Path,
    tag: &str,
    extra: &[&str],
) -> std::process::Output {
    let index_url = format!("{}/simple", server.url);
    let mut args = vec![
        "build",
        app.to_str().unwrap(),
        "--index-url",
        &index_url,
        "--archive",
        archive.to_str().unwrap(),
        "-t",
        tag,
    ];
    args.extend(extra);
    pypack(shared_cache(), &args)
}

/// Runs `tag` with its port 8000 published and returns the body of `GET /`.
fn serve_once(tag: &str) -> Option<String> {
    let port = free_port();
    let run = podman(&["run", "-d", "-p", &format!("127.0.0.1:{port}:8000"), tag]);
    assert!(run.status.success());
    let _container = Container(String::from_utf8_lossy(&run.stdout).trim().to_string());
    let response = poll_http(port, "/", 30, |r| r.contains(" 200 "))?;
    response.split("\r\n\r\n").nth(1).map(str::to_string)
}

/// Loads `archive`, serves it once and removes it; the body of `GET /`.
fn load_and_serve(archive: &Path, tag: &str) -> Option<String> {
    assert!(
        podman(&["load", "-i", archive.to_str().unwrap()])
            .status
            .success()
    );
    let body = serve_once(tag);
    // Only this name: `rmi -f` would take the image from under a concurrent
    // test (or smoke run) that names the same image otherwise.
    let _ = podman(&["rmi", tag]);
    body
}

const FAST_APP: [(&str, &str); 3] = [
    (
        "pyproject.toml",
        r#"[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "fast-app"
version = "0.1"
dependencies = []

[tool.setuptools]
py-modules = ["app"]

[tool.pypack]
cmd = "python app.py"
"#,
    ),
    (
        "setup.py",
        "from setuptools import Extension, setup\nsetup(ext_modules=[Extension(\"fastmath\", [\"fastmath.c\"])])\n",
    ),
    (
        "app.py",
        r#"import http.server
import fastmath


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"fastmath.add(40, 2) = {fastmath.add(40, 2)}".encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    http.server.HTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
"#,
    ),
];

#[test]
fn an_app_project_with_a_c_extension_is_built_into_a_wheel_in_the_builder() {
    if !podman_available("app project build") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = sdist_index(&tmp.path().join("index")) else {
        return;
    };
    let app = tmp.path().join("app");
    fs::create_dir_all(&app).unwrap();
    for (name, text) in FAST_APP {
        fs::write(app.join(name), text).unwrap();
    }
    let c_source = String::from_utf8(cext_sdist_member("cext.c"))
        .unwrap()
        .replace("\"cext\"", "\"fastmath\"")
        .replace("PyInit_cext", "PyInit_fastmath");
    fs::write(app.join("fastmath.c"), c_source).unwrap();
    let archive = tmp.path().join("image.tar");
    let tag = format!("localhost/pypack-fast-app:{}", std::process::id());
    let out = build_archive(&app, &server, &archive, &tag, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "project:  built into a wheel in the builder (its setup.py declares ext_modules"
        ),
        "{err}"
    );
    assert_eq!(
        load_and_serve(&archive, &tag).as_deref(),
        Some("fastmath.add(40, 2) = 42")
    );
}

#[test]
fn a_registry_base_builds_sdists_in_its_builder_image() {
    if !podman_available("registry builder")
        || !tool_available("docker-registry", "registry builder")
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = sdist_index(&tmp.path().join("index")) else {
        return;
    };
    let registry = common::registry::start_registry(tmp.path(), None);
    // The debian12 base and its builder image go to the registry, as a
    // team's own base and builder image would.
    let cache = tmp.path().join("cache");
    let base = format!("localhost:{}/bases/debian12:1", registry.port);
    let builder = format!("localhost:{}/bases/debian12-builder:1", registry.port);
    for (reference, extra) in [(&base, None), (&builder, Some("--builder"))] {
        let layout = tmp.path().join(reference.replace([':', '/'], "_"));
        let mut args = vec![
            "base",
            "build",
            "--output",
            layout.to_str().unwrap(),
            "--push",
            reference,
            "--insecure-registry",
        ];
        args.extend(extra);
        let out = pypack(&cache, &args);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let app = tmp.path().join("app");
    write_cext_app(&app);
    let index_url = format!("{}/simple", server.url);
    let archive = tmp.path().join("image.tar");
    let tag = format!("localhost/pypack-cext-registry:{}", std::process::id());
    let build = |extra: &[&str]| {
        let mut args = vec![
            "build",
            app.to_str().unwrap(),
            "--base",
            &base,
            "--insecure-registry",
            "--index-url",
            &index_url,
            "--archive",
            archive.to_str().unwrap(),
            "-t",
            &tag,
        ];
        args.extend(extra);
        pypack(&tmp.path().join("app-cache"), &args)
    };
    // A base that is not a known -slim image has no default builder image.
    let none = build(&[]);
    assert!(!none.status.success());
    assert!(
        stderr(&none).contains("pass --builder-image REF"),
        "{}",
        stderr(&none)
    );
    assert!(!archive.exists());

    let out = build(&["--builder-image", &builder]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        load_and_serve(&archive, &tag).as_deref(),
        Some("cext.add(2, 3) = 5")
    );

    // A C++ module links libstdc++.so.6, which this base lacks: a registry
    // base gets nothing added, so the build stops, naming who needs what.
    fs::remove_file(&archive).unwrap();
    let cpp_app = tmp.path().join("cpp-app");
    write_cppext_app(&cpp_app);
    let out = pypack(
        &tmp.path().join("app-cache"),
        &[
            "build",
            cpp_app.to_str().unwrap(),
            "--base",
            &base,
            "--builder-image",
            &builder,
            "--insecure-registry",
            "--index-url",
            &index_url,
            "--archive",
            archive.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    for part in [
        &format!("the base {base} lacks libraries the packages link"),
        "cppext 1.0 (/app/.venv/lib/python3.11/site-packages/cppext.",
        "needs libstdc++.so.6",
        "--base REF",
        "--ignore-missing-library",
    ] {
        assert!(err.contains(part), "'{part}' missing from: {err}");
    }
    assert!(!archive.exists(), "nothing may be written");
}

#[test]
fn without_an_engine_an_sdist_is_a_clear_error_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = sdist_index(&tmp.path().join("index")) else {
        return;
    };
    let app = tmp.path().join("app");
    write_cext_app(&app);
    let empty_path = tmp.path().join("bin");
    fs::create_dir_all(&empty_path).unwrap();
    let cache = tmp.path().join("cache");
    let output = tmp.path().join("out");
    let out = pypack_env(
        &cache,
        &[
            "build",
            app.to_str().unwrap(),
            "--index-url",
            &format!("{}/simple", server.url),
            "--output",
            output.to_str().unwrap(),
        ],
        &[("PATH", empty_path.to_str().unwrap())],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    for want in [
        "cext-1.0.tar.gz is a source distribution",
        "needs podman or docker",
        "provide a wheel",
    ] {
        assert!(err.contains(want), "'{want}' not in: {err}");
    }
    assert!(!output.exists(), "no image may be written");
    assert!(!cache.join("refs/built-wheel").exists());
    assert!(!cache.join("refs/resolution").exists());
}

/// Builds `files` as an app under `tmp` with `--cmd cmd`, no dependencies.
fn build_app(
    tmp: &Path,
    files: &[(&str, &str)],
    cmd: &str,
    extra: &[&str],
) -> (std::process::Output, PathBuf) {
    let app = tmp.join("app");
    fs::create_dir_all(&app).unwrap();
    for (name, text) in files {
        fs::write(app.join(name), text).unwrap();
    }
    let output = tmp.join(format!("out{}", extra.len()));
    let mut args = vec![
        "build",
        app.to_str().unwrap(),
        "--cmd",
        cmd,
        "--output",
        output.to_str().unwrap(),
    ];
    args.extend(extra);
    (pypack(shared_cache(), &args), output)
}

#[test]
fn the_smoke_run_prints_the_traceback_of_an_app_that_does_not_import() {
    if !podman_available("smoke import") {
        return;
    }
    let files = [
        ("requirements.txt", ""),
        ("app.py", "import helpers\n\napp = helpers.make_app()\n"),
        ("helpers.py", "import flask_that_is_not_installed\n"),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let (out, output) = build_app(tmp.path(), &files, "gunicorn app:app", &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    for want in [
        "smoke run: `app:app` does not import",
        "Traceback (most recent call last)",
        "/app/helpers.py",
        "ModuleNotFoundError: No module named 'flask_that_is_not_installed'",
        "--no-smoke",
    ] {
        assert!(err.contains(want), "'{want}' not in: {err}");
    }
    assert!(!output.exists(), "a failed smoke run writes no image");

    let (skipped, output) = build_app(tmp.path(), &files, "gunicorn app:app", &["--no-smoke"]);
    assert!(skipped.status.success(), "{}", stderr(&skipped));
    assert!(output.join("index.json").exists());
}

#[test]
fn a_web_app_that_exits_at_once_fails_the_smoke_run() {
    if !podman_available("smoke web exit") {
        return;
    }
    // A Procfile web: process is a web app: printing a hint and leaving with
    // status 0 is no pass.
    let files = [
        ("requirements.txt", ""),
        ("Procfile", "web: python app.py\n"),
        (
            "app.py",
            "print('open http://localhost:8000/ to see the app')\n",
        ),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    fs::create_dir_all(&app).unwrap();
    for (name, text) in files {
        fs::write(app.join(name), text).unwrap();
    }
    let output = tmp.path().join("out");
    let out = pypack(
        shared_cache(),
        &[
            "build",
            app.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    for want in [
        "the app exited with status 0 before answering HTTP on port 8000",
        "open http://localhost:8000/ to see the app",
        "--no-smoke",
    ] {
        assert!(err.contains(want), "'{want}' not in: {err}");
    }
    assert!(!output.exists(), "a failed smoke run writes no image");
}

#[test]
fn a_procfile_chain_runs_its_steps_then_the_server_without_a_shell() {
    if !podman_available("procfile chain") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    fs::create_dir_all(&app).unwrap();
    let files = [
        ("requirements.txt", ""),
        (
            "Procfile",
            "release: python migrate.py\nweb: python step_a.py && STEP=two python step_b.py && python server.py --port $PORT\n",
        ),
        ("step_a.py", "open('/tmp/a', 'w').write('done')\n"),
        (
            "step_b.py",
            "import os\nopen('/tmp/b', 'w').write(os.environ['STEP'])\n",
        ),
        (
            "server.py",
            "import http.server, os, sys\nport = int(sys.argv[2])\nclass H(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        body = f\"a={open('/tmp/a').read()} b={open('/tmp/b').read()} port={port} shell={os.path.exists('/bin/sh')}\".encode()\n        self.send_response(200)\n        self.end_headers()\n        self.wfile.write(body)\nhttp.server.HTTPServer(('0.0.0.0', port), H).serve_forever()\n",
        ),
    ];
    for (name, text) in files {
        fs::write(app.join(name), text).unwrap();
    }
    let archive = tmp.path().join("image.tar");
    let tag = format!("localhost/pypack-chain:{}", std::process::id());
    let out = pypack(
        shared_cache(),
        &[
            "build",
            app.to_str().unwrap(),
            "--archive",
            archive.to_str().unwrap(),
            "-t",
            &tag,
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("Procfile release: `python migrate.py` is not run"),
        "{err}"
    );
    let summary = json(&out);
    assert!(
        summary["command"]["rule"]
            .as_str()
            .unwrap()
            .contains("pypack's launcher"),
        "{summary}"
    );
    assert_eq!(summary["smoke"]["passed"], true, "{}", summary["smoke"]);
    assert_eq!(
        load_and_serve(&archive, &tag).as_deref(),
        Some("a=done b=two port=8000 shell=False")
    );
}

#[test]
fn the_smoke_run_starts_a_server_command_and_catches_its_crash() {
    if !podman_available("smoke http") {
        return;
    }
    // Serves only when its setting is there, as many apps do.
    let files = [
        ("requirements.txt", ""),
        (
            "app.py",
            "import http.server, os\nif not os.environ.get('DATABASE_URL'):\n    raise SystemExit('missing setting: DATABASE_URL')\nhttp.server.HTTPServer(('0.0.0.0', 8000), http.server.SimpleHTTPRequestHandler).serve_forever()\n",
        ),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let (out, output) = build_app(tmp.path(), &files, "python app.py", &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    for want in [
        "the app exited with status 1",
        "missing setting: DATABASE_URL",
        "--smoke-env NAME=VALUE",
    ] {
        assert!(err.contains(want), "'{want}' not in: {err}");
    }
    assert!(!output.exists());

    let (out, output) = build_app(
        tmp.path(),
        &files,
        "python app.py",
        &["--json", "--smoke-env", "DATABASE_URL=postgres://db/app"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["smoke"]["what"], "answered 200 on port 8000");
    // The setting was the smoke run's only; the image does not carry it.
    let inspect = pypack(
        shared_cache(),
        &["inspect", output.to_str().unwrap(), "--json"],
    );
    assert!(inspect.status.success());
    assert!(!String::from_utf8_lossy(&inspect.stdout).contains("DATABASE_URL"));
}

/// The layers of an OCI layout written by pypack, as (path → entry) maps.
fn layers(layout: &Path) -> Vec<Vec<pypack::oci::layer::Entry>> {
    let read = |digest: &str| {
        fs::read(
            layout
                .join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:")),
        )
        .unwrap()
    };
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&read(index["manifests"][0]["digest"].as_str().unwrap())).unwrap();
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| pypack::oci::layer::read_layer(&read(l["digest"].as_str().unwrap())).unwrap())
        .collect()
}

/// `pypack build` of flask-hello offline from the wheelhouse, without the
/// smoke run, into the OCI layout `layout`, with the JSON summary.
fn flask_hello_to_layout(layout: &Path) -> Vec<String> {
    let app = repo().join("sample-apps/flask-hello");
    let wheelhouse = repo().join("sample-apps/wheelhouse");
    [
        "build",
        app.to_str().unwrap(),
        "--no-index",
        "--find-links",
        wheelhouse.to_str().unwrap(),
        "--no-smoke",
        "--output",
        layout.to_str().unwrap(),
        "--json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn bytecode_is_compiled_for_stdlib_venv_and_app_reproducibly() {
    if !podman_available("bytecode") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let build = |cache: &Path, out: &str, extra: &[&str]| {
        let layout = tmp.path().join(out);
        let mut args = flask_hello_to_layout(&layout);
        args.extend(extra.iter().map(|s| s.to_string()));
        let out = pypack(cache, &args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(out.status.success(), "{}", stderr(&out));
        (json(&out), layout)
    };
    let (first, layout) = build(shared_cache(), "first", &[]);
    let all: Vec<pypack::oci::layer::Entry> = layers(&layout).into_iter().flatten().collect();
    for want in [
        "usr/lib/python3.11/__pycache__/os.cpython-311.pyc",
        "usr/lib/python3.11/json/__pycache__/decoder.cpython-311.pyc",
        "app/.venv/lib/python3.11/site-packages/flask/__pycache__/app.cpython-311.pyc",
        "app/__pycache__/app.cpython-311.pyc",
    ] {
        let entry = all
            .iter()
            .find(|e| e.path == want)
            .unwrap_or_else(|| panic!("{want} is not in the image"));
        let pypack::oci::layer::EntryKind::File(data) = &entry.kind else {
            panic!("{want} is not a file");
        };
        // PEP 552: flags word 0b01 = hash-based, source not checked.
        assert_eq!(&data[4..8], &[1, 0, 0, 0], "{want} is not unchecked-hash");
    }

    // A second cache: compiled again from scratch, byte for byte the same.
    let fresh = tempfile::tempdir().unwrap();
    let (second, _) = build(fresh.path(), "second", &[]);
    assert_eq!(first["digest"], second["digest"]);
    let reused: Vec<bool> = second["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["reused"].as_bool().unwrap())
        .collect();
    assert!(reused.iter().all(|r| !r), "{reused:?}");

    // The image's interpreter unpacked on this machine (the default for a
    // recipe base) and in a container compile the very same bytes.
    let in_container = tempfile::tempdir().unwrap();
    let args = flask_hello_to_layout(&tmp.path().join("in-container"));
    let out = pypack_env(
        in_container.path(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &[("PYPACK_BYTECODE_IN", "container")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out)["digest"], first["digest"]);
    // The same on debian13, whose stdlib has a link out of it
    // (sitecustomize.py → /etc/python3.13/…) that must resolve in the image,
    // not on this machine.
    let plain_app = tmp.path().join("plain-app");
    fs::create_dir(&plain_app).unwrap();
    fs::write(plain_app.join("requirements.txt"), "").unwrap();
    fs::write(plain_app.join("main.py"), "print('hi')\n").unwrap();
    let digests: Vec<serde_json::Value> = [("host", "host"), ("container", "container")]
        .iter()
        .map(|(name, mode)| {
            let cache = tempfile::tempdir().unwrap();
            let out = pypack_env(
                cache.path(),
                &[
                    "build",
                    plain_app.to_str().unwrap(),
                    "--python",
                    "3.13",
                    "--no-index",
                    "--no-smoke",
                    "--output",
                    tmp.path().join(format!("py313-{name}")).to_str().unwrap(),
                    "--json",
                ],
                &[("PYPACK_BYTECODE_IN", mode)],
            );
            assert!(out.status.success(), "{}", stderr(&out));
            assert!(
                !stderr(&out).contains("compiling bytecode"),
                "{}",
                stderr(&out)
            );
            json(&out)["digest"].clone()
        })
        .collect();
    assert_eq!(digests[0], digests[1]);

    let (plain, layout) = build(shared_cache(), "plain", &["--no-compile"]);
    assert_ne!(plain["digest"], first["digest"]);
    let pyc: Vec<String> = layers(&layout)
        .into_iter()
        .flatten()
        .filter(|e| e.path.ends_with(".pyc"))
        .map(|e| e.path)
        .collect();
    assert!(pyc.is_empty(), "--no-compile left {pyc:?}");
    eprintln!(
        "uncompressed: {} bytes with bytecode, {} without",
        first["uncompressed_size"], plain["uncompressed_size"]
    );
}

/// A build that ran its smoke run lets the image's hold name go after it
/// exits; the next build must not name an image in the engine while that
/// goes (podman 4 loses a name given while another name of the image is
/// removed: 9 in 20 when both start together). podman is run through a
/// wrapper that makes `rmi` slow and logs when each command starts and ends.
#[test]
fn no_name_is_given_while_a_released_name_goes() {
    if !podman_available("names") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("app");
    fs::create_dir(&app).unwrap();
    for name in ["app.py", "requirements.txt"] {
        fs::copy(
            repo().join("sample-apps/flask-hello").join(name),
            app.join(name),
        )
        .unwrap();
    }
    let wheelhouse = repo().join("sample-apps/wheelhouse");
    let prefix = format!("localhost/pypack-names-{}", std::process::id());
    let bin = tmp.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let real = std::process::Command::new("sh")
        .args(["-c", "command -v podman"])
        .output()
        .unwrap()
        .stdout;
    let log = tmp.path().join("podman.log");
    let wrapper = bin.join("podman");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"start $1 $$\" >> {log}\n[ \"$1\" = rmi ] && sleep 0.5\n{real} \"$@\"\nstatus=$?\necho \"end $1 $$\" >> {log}\nexit $status\n",
            log = log.display(),
            real = String::from_utf8(real).unwrap().trim()
        ),
    )
    .unwrap();
    fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let mut names = Vec::new();
    // Each round is a new image, so its first build runs the smoke run and
    // lets its hold name go in the background; the second only names it.
    for round in 0..2 {
        let mut source = fs::read_to_string(app.join("app.py")).unwrap();
        source.push_str(&format!("# round {round}\n"));
        fs::write(app.join("app.py"), source).unwrap();
        for name in ["first", "second"] {
            let tag = format!("{prefix}:{name}-{round}");
            let out = pypack_env(
                shared_cache(),
                &[
                    "build",
                    app.to_str().unwrap(),
                    "--no-index",
                    "--find-links",
                    wheelhouse.to_str().unwrap(),
                    "--load",
                    "-t",
                    &tag,
                ],
                &[("PATH", &path)],
            );
            assert!(out.status.success(), "{}", stderr(&out));
            names.push(tag);
        }
    }
    // The last release may still be going.
    std::thread::sleep(std::time::Duration::from_secs(1));
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !podman(&["image", "exists", n]).status.success())
        .collect();
    for name in &names {
        let _ = podman(&["rmi", name]);
    }
    assert!(missing.is_empty(), "names lost: {missing:?}");
    let log = fs::read_to_string(&log).unwrap();
    let mut removing = std::collections::BTreeSet::new();
    let (mut tags, mut removals) = (0, 0);
    for line in log.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        match fields[..] {
            ["start", "rmi", pid] => {
                removals += 1;
                removing.insert(pid);
            }
            ["end", "rmi", pid] => {
                removing.remove(pid);
            }
            ["start", "tag", _] => {
                tags += 1;
                assert!(removing.is_empty(), "a tag while a name goes:\n{log}");
            }
            _ => {}
        }
    }
    assert!(tags >= 4 && removals >= 2, "{log}");
}

/// `pypack run --watch`: the app served on the given localhost port; an
/// edit of app.py rebuilt and served (the new version beside the old until
/// it answers, the old one then removed with its image); Ctrl-C (SIGINT)
/// stops and removes the containers, and pypack exits 0.
#[test]
fn pypack_run_serves_the_app_and_serves_an_edit_with_watch() {
    if !podman_available("pypack run") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("runapp");
    fs::create_dir(&app).unwrap();
    fs::copy(
        repo().join("sample-apps/flask-hello/requirements.txt"),
        app.join("requirements.txt"),
    )
    .unwrap();
    let page = |text: &str| {
        format!(
            "from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.get(\"/\")\ndef hello():\n    return \"{text}\\n\"\n"
        )
    };
    fs::write(app.join("app.py"), page("first version")).unwrap();
    let port = free_port();
    let log = tmp.path().join("run.log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pypack"))
        .args(["run", app.to_str().unwrap(), "--watch", "--publish"])
        .arg(port.to_string())
        .args(["--no-index", "--find-links"])
        .arg(repo().join("sample-apps/wheelhouse"))
        .args(["-t", "pypack-test/runapp"])
        .env("PYPACK_CACHE_DIR", shared_cache())
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env_remove("PIP_INDEX_URL")
        .stdout(fs::File::create(&log).unwrap())
        .stderr(fs::File::create(tmp.path().join("run.err")).unwrap())
        .spawn()
        .unwrap();
    let printed = || {
        format!(
            "{}{}",
            fs::read_to_string(&log).unwrap_or_default(),
            fs::read_to_string(tmp.path().join("run.err")).unwrap_or_default()
        )
    };
    let first = poll_http(port, "/", 180, |r| r.contains("first version"));
    if first.is_none() {
        let _ = child.kill();
        panic!("the first version was not served:\n{}", printed());
    }
    assert!(
        printed().contains(&format!("http://127.0.0.1:{port}/")),
        "{}",
        printed()
    );
    let first_id = String::from_utf8_lossy(
        &podman(&[
            "image",
            "inspect",
            "--format",
            "{{.Id}}",
            "pypack-test/runapp",
        ])
        .stdout,
    )
    .trim()
    .to_string();
    fs::write(app.join("app.py"), page("second version")).unwrap();
    let second = poll_http(port, "/", 120, |r| r.contains("second version"));
    // The replaced version, named by nothing now, is not left behind: it is
    // retired in the background once the new one answers.
    let retired_by = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let first_left = loop {
        let left = podman(&["image", "exists", &first_id]).status.success();
        if !left || std::time::Instant::now() > retired_by {
            break left;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    // SIGINT, as Ctrl-C sends it.
    interrupt(child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let log_text = printed();
    assert!(second.is_some(), "the edit was not served:\n{log_text}");
    assert!(
        !first_left,
        "the first version's image {first_id} was left in podman"
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "pypack run did not stop cleanly on SIGINT ({status:?}):\n{log_text}"
    );
    let left = podman(&["ps", "-a", "--format", "{{.Names}}"]);
    let name = format!("pypack-run-{}", child.id());
    assert!(
        !String::from_utf8_lossy(&left.stdout).contains(&name),
        "{name} was left behind"
    );
    assert!(http_get(port, "/").is_none(), "still serving after Ctrl-C");
    podman(&["rmi", "pypack-test/runapp"]);
}

fn interrupt(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A build killed (SIGKILL) at any point leaves no output and no partial
/// file beside it, and the cache it was filling still gives the same image
/// as a fresh one.
#[test]
fn a_killed_build_leaves_nothing_behind_and_the_cache_stays_sound() {
    if !debian_archive_configured("killed build") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let out_dir = tmp.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let layout = out_dir.join("image");
    let args = flask_hello_to_layout;
    // Killed early and late: while the base is fetched, while the venv and
    // bytecode are made, while layers are written.
    let mut killed_midway = 0;
    for millis in [300u64, 900, 1600, 2400, 3200] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pypack"))
            .args(args(&layout))
            .env("PYPACK_CACHE_DIR", &cache)
            .env("PIP_CONFIG_FILE", "/dev/null")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(millis));
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill();
        let _ = child.wait();
        if finished {
            // Faster than the kill: the layout is whole and nothing else
            // is beside it; start again.
            let left = files_under(&out_dir);
            assert!(
                layout.join("index.json").is_file() && left.iter().all(|f| f.starts_with("image/")),
                "finished before {millis} ms, it left {left:?}"
            );
            fs::remove_dir_all(&layout).unwrap();
            continue;
        }
        killed_midway += 1;
        assert!(
            files_under(&out_dir).is_empty(),
            "killed after {millis} ms, it left {:?}",
            files_under(&out_dir)
        );
    }
    // The points are worth something only if builds were cut by them.
    assert!(
        killed_midway >= 2,
        "only {killed_midway} of 5 builds were still running when killed"
    );
    let out = pypack(
        &cache,
        &args(&layout).iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let fresh = tempfile::tempdir().unwrap();
    let again = pypack(
        fresh.path(),
        &args(&tmp.path().join("fresh"))
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(json(&out)["digest"], json(&again)["digest"]);
}

#[test]
fn psycopg2_from_its_sdist_gets_libpq_dev_in_the_builder_and_libpq_in_the_image() {
    let app = repo().join("sample-apps/psycopg2-libpq");
    let Some((summary, answer)) = build_and_serve(&app, &[], "/", "psycopg2 2.9.10 with libpq 15")
    else {
        return;
    };
    let added: Vec<&str> = summary["system_packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(added.contains(&"libpq5"), "{added:?}");
    assert!(answer.contains("with libpq 15"), "{answer}");
}

#[test]
fn an_sdist_that_does_not_build_is_explained_first() {
    if !podman_available("sdist build failure") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = sdist_index(&tmp.path().join("index")) else {
        return;
    };
    let app = tmp.path().join("app");
    fs::create_dir_all(&app).unwrap();
    fs::write(app.join("requirements.txt"), "broken==1.0\n").unwrap();
    fs::write(app.join("main.py"), "import broken\n").unwrap();
    // Python 3.12, which no base has: the nearest is built on, and the
    // error says so before the compiler's words.
    fs::write(app.join("runtime.txt"), "python-3.12.4\n").unwrap();
    let archive = tmp.path().join("image.tar");
    let out = build_archive(&app, &server, &archive, "localhost/pypack-broken:x", &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    // The final error, after the bases tried, says the cause first.
    let last = err
        .lines()
        .rfind(|l| l.starts_with("error: broken"))
        .unwrap_or_default();
    assert!(
        last.starts_with("error: broken 1.0 has no wheel for Python 3.13")
            && last.contains(
                "runtime.txt asks for Python 3.12, which no base has; Python 3.13 is the nearest"
            )
            && last.contains("--base python:3.12-slim"),
        "{err}"
    );
    assert!(err.contains("this extension does not build"), "{err}");
    assert!(!archive.exists());

    // Source asked for: the error does not speak of wheels.
    fs::remove_file(app.join("runtime.txt")).unwrap();
    let out = build_archive(
        &app,
        &server,
        &archive,
        "localhost/pypack-broken:x",
        &["--no-binary", "broken"],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("error: broken 1.0 is built from source (--no-binary), and its source distribution did not build on Python")
            && err.contains("this extension does not build"),
        "{err}"
    );
    assert!(!archive.exists());
}

#[test]
fn a_backend_asking_for_its_extras_requirements_gets_only_those_that_apply() {
    if !podman_available("sdist build requirements with markers") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let Some(server) = sdist_index(&tmp.path().join("index")) else {
        return;
    };
    let app = tmp.path().join("app");
    write_module_app(&app, "asker", "asker.ANSWER");
    let archive = tmp.path().join("image.tar");
    let tag = "localhost/pypack-asker:x";
    let out = build_archive(&app, &server, &archive, tag, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        load_and_serve(&archive, tag).as_deref(),
        Some("asked only for what applies")
    );
}
