//! Odd things real app directories hold, met as a new user would: a named
//! pipe and a socket beside the code (skipped with a warning, never opened:
//! a FIFO nobody writes to used to hang the build), an app of the standard
//! library alone with no dependency file (built, and it serves), and an app
//! with 100,000 data files and a 512 MB model file (built within bounded time
//! and memory, the model streamed from disk into the layer).
//! Real debian12 base, podman; every build has a deadline.

mod common;

use common::*;
use std::path::PathBuf;
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `pypack ARGS` with the shared cache, killed (and the test failed) if it
/// has not finished within `seconds`.
fn pypack_within(seconds: u64, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pypack"));
    command.args(args).env("PYPACK_CACHE_DIR", shared_cache());
    let (out, killed) = output_within(command, seconds);
    assert!(!killed, "pypack {args:?} did not finish within {seconds} s");
    out
}

/// A copy of sample-apps/flask-hello under `dir`, to add odd things to.
fn flask_hello_copy(dir: &std::path::Path) -> PathBuf {
    let app = dir.join("flask-hello");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(repo().join("sample-apps/flask-hello"))
        .arg(&app)
        .status()
        .unwrap();
    assert!(copied.success());
    app
}

fn needs_everything(test: &str) -> bool {
    debian_archive_configured(test) && podman_available(test) && tool_available("skopeo", test)
}

#[test]
fn special_files_in_the_app_are_skipped_and_the_image_works() {
    let test = "special_files_in_the_app_are_skipped_and_the_image_works";
    if !needs_everything(test) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let app = flask_hello_copy(tmp.path());
    assert!(
        Command::new("mkfifo")
            .arg(app.join("logpipe"))
            .status()
            .unwrap()
            .success()
    );
    let _socket = std::os::unix::net::UnixListener::bind(app.join("control.sock")).unwrap();
    let layout = tmp.path().join("layout");
    let wheelhouse = repo().join("sample-apps/wheelhouse");
    let out = pypack_within(
        300,
        &[
            "build",
            app.to_str().unwrap(),
            "--no-index",
            "--find-links",
            wheelhouse.to_str().unwrap(),
            "--output",
            layout.to_str().unwrap(),
            "-t",
            "odd:fifo",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let warnings: Vec<String> = stderr(&out)
        .lines()
        .filter(|l| l.starts_with("warning: skipped"))
        .map(str::to_string)
        .collect();
    assert_eq!(warnings.len(), 1, "one warning line: {warnings:?}");
    assert!(
        warnings[0].contains("control.sock (a socket)")
            && warnings[0].contains("logpipe (a named pipe)"),
        "{warnings:?}"
    );
    let answer = answer_of_image(&format!("oci:{}:odd:fifo", layout.display()));
    assert!(
        answer
            .expect("the image answers")
            .contains("Hello from pypack!")
    );
}

#[test]
fn a_standard_library_app_with_no_dependency_file_builds_and_serves() {
    let test = "a_standard_library_app_with_no_dependency_file_builds_and_serves";
    if !needs_everything(test) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("plain");
    std::fs::create_dir(&app).unwrap();
    std::fs::write(
        app.join("app.py"),
        "import os\nfrom http.server import BaseHTTPRequestHandler, HTTPServer\n\n\n\
         class Hello(BaseHTTPRequestHandler):\n    def do_GET(self):\n        body = b\"standard library only\\n\"\n\
         \x20       self.send_response(200)\n        self.send_header(\"Content-Length\", str(len(body)))\n\
         \x20       self.end_headers()\n        self.wfile.write(body)\n\n\n\
         if __name__ == \"__main__\":\n    HTTPServer((\"0.0.0.0\", int(os.environ.get(\"PORT\", \"8000\"))), Hello).serve_forever()\n",
    )
    .unwrap();
    let layout = tmp.path().join("layout");
    let out = pypack_within(
        300,
        &[
            "build",
            app.to_str().unwrap(),
            "--output",
            layout.to_str().unwrap(),
            "-t",
            "odd:plain",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("the app gets no dependencies"), "{err}");
    assert!(err.contains("packages: 0"), "{err}");
    let answer = answer_of_image(&format!("oci:{}:odd:plain", layout.display()));
    assert!(
        answer
            .expect("the image answers")
            .contains("standard library only")
    );
}

#[test]
fn an_app_with_100k_files_and_a_512mb_file_builds_in_bounded_memory() {
    let test = "an_app_with_100k_files_and_a_512mb_file_builds_in_bounded_memory";
    if !needs_everything(test)
        || !required(
            test,
            "GNU time",
            std::path::Path::new("/usr/bin/time").is_file(),
        )
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let app = flask_hello_copy(tmp.path());
    for d in 0..100 {
        let dir = app.join(format!("data/d{d:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..1000 {
            std::fs::write(dir.join(format!("f{f:04}.txt")), format!("{d} {f}\n")).unwrap();
        }
    }
    // A sparse 512 MB file with a marker inside: read whole, it alone
    // would take more memory than the bound below.
    let model = std::fs::File::create(app.join("model.bin")).unwrap();
    model.set_len(512 << 20).unwrap();
    use std::os::unix::fs::FileExt;
    model.write_all_at(b"weights", 256 << 20).unwrap();
    let layout = tmp.path().join("layout");
    let wheelhouse = repo().join("sample-apps/wheelhouse");
    let mut command = Command::new("/usr/bin/time");
    command
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_pypack"))
        .args(["build", app.to_str().unwrap(), "--no-index", "--find-links"])
        .arg(&wheelhouse)
        .args(["--output", layout.to_str().unwrap(), "-t", "odd:large"])
        .env("PYPACK_CACHE_DIR", shared_cache());
    let (out, killed) = output_within(command, 300);
    let err = stderr(&out);
    assert!(!killed && out.status.success(), "{err}");
    assert!(
        err.contains("the app holds 100003 files, 100000 of them under data/"),
        "{err}"
    );
    let peak = peak_kb(&err);
    assert!(peak < 400 * 1024, "peak memory {peak} KB\n{err}");
    eprintln!(
        "100k files and a 512 MB file: peak memory {} MB",
        peak / 1024
    );
    // The model is in the image, byte for byte.
    let image = format!("oci:{}:odd:large", layout.display());
    let unpacked = tmp.path().join("unpacked");
    let copied = Command::new("skopeo")
        .args(["copy", "--quiet", &image])
        .arg(format!("dir:{}", unpacked.display()))
        .status()
        .unwrap();
    assert!(copied.success());
    let mut found = false;
    for blob in std::fs::read_dir(&unpacked).unwrap().flatten() {
        let listing = Command::new("tar")
            .arg("tzvf")
            .arg(blob.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&listing.stdout);
        if let Some(line) = text.lines().find(|l| l.ends_with("app/model.bin")) {
            assert!(line.contains(&(512u64 << 20).to_string()), "{line}");
            let content = Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "tar xzOf {} app/model.bin | sha256sum",
                    blob.path().display()
                ))
                .output()
                .unwrap();
            let expected = Command::new("sha256sum")
                .arg(app.join("model.bin"))
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&content.stdout)
                    .split_whitespace()
                    .next(),
                String::from_utf8_lossy(&expected.stdout)
                    .split_whitespace()
                    .next()
            );
            found = true;
        }
    }
    assert!(found, "no layer holds app/model.bin");
    let answer = answer_of_image(&image);
    assert!(
        answer
            .expect("the image answers")
            .contains("Hello from pypack!")
    );
}

/// Lines of text as large data files hold them: `len` bytes, compressible.
fn text_like(len: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    let mut n = seed;
    while out.len() < len {
        n = n.wrapping_mul(6364136223846793005).wrapping_add(1);
        out.extend_from_slice(format!("{seed},{},{}\n", n >> 54, out.len()).as_bytes());
    }
    out.truncate(len);
    out
}

/// A venv of 256 MB (one wheel with two 128 MB members) goes into its layer
/// in bounded memory: the wheel is unpacked to disk once and the layer
/// streamed from there, compressed on every core; the layer holds every
/// byte. Hermetic: the fixture base and a test index on loopback.
#[test]
fn a_256mb_venv_builds_in_bounded_memory() {
    let test = "a_256mb_venv_builds_in_bounded_memory";
    let time = std::path::Path::new("/usr/bin/time");
    if !required(test, "GNU time", time.is_file()) {
        return;
    }
    let first: &'static [u8] = Box::leak(text_like(128 << 20, 1).into_boxed_slice());
    let second: &'static [u8] = Box::leak(text_like(128 << 20, 2).into_boxed_slice());
    let world = AppWorld::new(|index| {
        let mut spec = wheels::WheelSpec::new("bigdata", "1.0");
        spec.extra_files = vec![("bigdata/first.csv", first), ("bigdata/second.csv", second)];
        index.add(&spec, wheels::Listing::default());
    });
    world.write_app(&[
        ("requirements.txt", "bigdata\n"),
        ("main.py", "print('hi')\n"),
    ]);
    let layout = world.work.join("layout");
    let mut command = Command::new(time);
    command
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_pypack"))
        .args(["build", world.work.join("app").to_str().unwrap()])
        .args(world.base.args())
        .args([
            "--index-url",
            &world.index_url(),
            "--no-compile",
            "--no-smoke",
        ])
        .args(["--output", layout.to_str().unwrap()])
        .env("PYPACK_CACHE_DIR", world.work.join("cache"));
    let (out, killed) = output_within(command, 300);
    let err = stderr(&out);
    assert!(!killed && out.status.success(), "{err}");
    let peak = peak_kb(&err);
    eprintln!("a 256 MB venv: peak memory {} MB", peak / 1024);
    assert!(peak < 128 * 1024, "peak memory {peak} KB\n{err}");

    // The largest blob is the venv's layer: both files in it, byte for byte.
    let blobs = layout.join("blobs/sha256");
    let venv_layer = std::fs::read_dir(&blobs)
        .unwrap()
        .flatten()
        .max_by_key(|e| e.metadata().unwrap().len())
        .unwrap()
        .path();
    let layer = std::fs::File::open(&venv_layer).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(layer));
    let mut found = Vec::new();
    for member in archive.entries().unwrap() {
        let mut member = member.unwrap();
        let path = member.path().unwrap().to_string_lossy().into_owned();
        for (name, data) in [("first.csv", first), ("second.csv", second)] {
            if path.ends_with(&format!("site-packages/bigdata/{name}")) {
                let mut content = Vec::new();
                std::io::Read::read_to_end(&mut member, &mut content).unwrap();
                assert!(content == data, "{path} differs in the layer");
                found.push(name);
            }
        }
    }
    assert_eq!(found, ["first.csv", "second.csv"]);
}
