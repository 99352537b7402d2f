//! Hostile and odd inputs, each met as a user would meet it: a bad line,
//! file, flag, lock or directory in the app (`cases`), or a hostile wheel,
//! sdist, `.deb` or Debian index served to it (`served`). Every case must
//! end within a deadline, with a non-zero exit, an `error:` naming the
//! input, nothing written to the output, no temporary file left in the
//! cache and the hostile file not in it. Hermetic: the fixture Debian
//! archive and a test index, both on loopback.

mod common;

use common::wheels::{Listing, TestIndex, WheelSpec, record_hash};
use common::*;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

/// One hostile input: what the app directory holds, the command and its
/// flags, and what the error must say.
struct Case {
    name: &'static str,
    files: &'static [(&'static str, &'static [u8])],
    /// Something files cannot say: a FIFO, an odd name, a path elsewhere.
    prepare: fn(&Path),
    command: &'static str,
    args: &'static [&'static str],
    says: &'static [&'static str],
}

fn nothing(_: &Path) {}

fn fifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

const MAIN: (&str, &[u8]) = ("main.py", b"print('hi')\n");
const BAD_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn cases() -> Vec<Case> {
    vec![
        Case { name: "caret in a requirement", files: &[("requirements.txt", b"webframe^1.0\n"), MAIN], prepare: nothing, command: "build", args: &[], says: &["requirements.txt:1"] },
        Case { name: "unknown option line", files: &[("requirements.txt", b"--frobnicate\nwebframe\n"), MAIN], prepare: nothing, command: "build", args: &[], says: &["requirements.txt:1", "--frobnicate"] },
        Case { name: "editable VCS line", files: &[("requirements.txt", b"-e git+https://example.invalid/x.git#egg=x\n"), MAIN], prepare: nothing, command: "build", args: &[], says: &["requirements.txt:1"] },
        Case { name: "include of a missing file", files: &[("requirements.txt", b"-r other.txt\n"), MAIN], prepare: nothing, command: "build", args: &[], says: &["other.txt"] },
        Case { name: "includes in a cycle", files: &[("requirements.txt", b"-r a.txt\n"), ("a.txt", b"-r requirements.txt\n"), MAIN], prepare: nothing, command: "build", args: &[], says: &["requirements.txt", "cycle"] },
        Case { name: "requirements not UTF-8", files: &[("requirements.txt", b"webframe\n\xff\xfe\n"), MAIN], prepare: nothing, command: "build", args: &[], says: &["requirements.txt"] },
        Case { name: "unknown package", files: &[("requirements.txt", b"no-such-dist\n"), MAIN], prepare: nothing, command: "build", args: &[], says: &["no-such-dist"] },
        Case { name: "no version in range", files: &[("requirements.txt", b"webframe>=2\n"), MAIN], prepare: nothing, command: "build", args: &[], says: &["webframe>=2 (requirements.txt:1)", "webframe 1.0"] },
        Case { name: "two lines that exclude each other", files: &[("requirements.txt", b"webframe>=1\nwebframe<1\n"), MAIN], prepare: nothing, command: "lock", args: &[], says: &["requirements.txt:1", "requirements.txt:2"] },
        Case { name: "requirements.txt is a named pipe", files: &[MAIN], prepare: |app| fifo(&app.join("requirements.txt")), command: "build", args: &[], says: &["requirements.txt is not a regular file (a named pipe)"] },
        Case { name: "pyproject.toml not TOML", files: &[("pyproject.toml", b"[project\nname = 'x'\n"), MAIN], prepare: nothing, command: "build", args: &[], says: &["pyproject.toml"] },
        Case { name: "dependencies not a list", files: &[("pyproject.toml", b"[project]\nname = 'x'\nversion = '1'\ndependencies = 'webframe'\n"), MAIN], prepare: nothing, command: "build", args: &[], says: &["pyproject.toml"] },
        Case { name: "bad requirement in pyproject", files: &[("pyproject.toml", b"[project]\nname = 'x'\nversion = '1'\ndependencies = ['web frame ^1']\n"), MAIN], prepare: nothing, command: "build", args: &[], says: &["pyproject.toml"] },
        Case { name: "unknown [tool.pypack] key", files: &[("pyproject.toml", b"[project]\nname = 'x'\nversion = '1'\ndependencies = ['webframe']\n[tool.pypack]\nbogus = 1\n"), MAIN], prepare: nothing, command: "build", args: &[], says: &["bogus"] },
        Case { name: "[tool.pypack] port not a number", files: &[("pyproject.toml", b"[project]\nname = 'x'\nversion = '1'\ndependencies = ['webframe']\n[tool.pypack]\nport = 'http'\n"), MAIN], prepare: nothing, command: "build", args: &[], says: &["port"] },
        Case { name: "--port not a number", files: &[("requirements.txt", b"webframe\n"), MAIN], prepare: nothing, command: "build", args: &["--port", "eighty"], says: &["eighty"] },
        Case { name: "--extra of a group there is not", files: &[("pyproject.toml", b"[project]\nname = 'x'\nversion = '1'\ndependencies = ['webframe']\n"), MAIN], prepare: nothing, command: "build", args: &["--extra", "web"], says: &["'web'"] },
        Case { name: "--extra with no dependency file", files: &[MAIN], prepare: nothing, command: "build", args: &["--extra", "web"], says: &["--extra"] },
        Case { name: "--platform of another OS", files: &[("requirements.txt", b"webframe\n"), MAIN], prepare: nothing, command: "build", args: &["--platform", "windows/amd64"], says: &["only linux"] },
        Case { name: "--platform list with a hole", files: &[("requirements.txt", b"webframe\n"), MAIN], prepare: nothing, command: "build", args: &["--platform", "linux/amd64,"], says: &["empty entry"] },
        Case { name: "image name with capitals", files: &[("requirements.txt", b"webframe\n"), MAIN], prepare: nothing, command: "build", args: &["-t", "Bad Name"], says: &["not a valid image name"] },
        Case { name: "--server nobody knows", files: &[("requirements.txt", b"webframe\n"), MAIN], prepare: nothing, command: "build", args: &["--server", "apache"], says: &["--server apache"] },
        Case { name: "a file name that is not UTF-8", files: &[("requirements.txt", b"webframe\n"), MAIN], prepare: |app| std::fs::write(app.join(std::ffi::OsStr::from_bytes(b"bad\xffname.py")), b"").unwrap(), command: "build", args: &[], says: &["UTF-8"] },
        Case { name: "--locked without a lock", files: &[("requirements.txt", b"webframe\n"), MAIN], prepare: nothing, command: "build", args: &["--locked"], says: &["pylock.toml"] },
        Case { name: "pylock.toml not TOML", files: &[("requirements.txt", b"webframe\n"), ("pylock.toml", b"lock-version = \n"), MAIN], prepare: nothing, command: "build", args: &["--locked"], says: &["pylock.toml"] },
        Case { name: "uv.lock not TOML", files: &[("pyproject.toml", b"[project]\nname = 'x'\nversion = '1'\ndependencies = ['webframe']\n"), ("uv.lock", b"version = [\n"), MAIN], prepare: nothing, command: "build", args: &[], says: &["uv.lock"] },
        Case { name: "Pipfile not TOML", files: &[("Pipfile", b"[packages\nwebframe = '*'\n"), MAIN], prepare: nothing, command: "build", args: &[], says: &["Pipfile"] },
        Case { name: "Poetry constraint nobody writes", files: &[("pyproject.toml", b"[tool.poetry]\nname = 'x'\nversion = '1'\n[tool.poetry.dependencies]\npython = '^3.11'\nwebframe = '^^1'\n"), MAIN], prepare: nothing, command: "build", args: &[], says: &["pyproject.toml"] },
        Case { name: "hash that matches nothing", files: &[("requirements.txt", b"webframe==1.0 --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000\n"), MAIN], prepare: nothing, command: "build", args: &[], says: &["webframe", BAD_HASH] },
        Case { name: "--require-hashes with a range", files: &[("requirements.txt", b"--require-hashes\nwebframe>=1 --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000\n"), MAIN], prepare: nothing, command: "build", args: &[], says: &["==VERSION", "requirements.txt:2"] },
        Case { name: "a wheel path that does not exist", files: &[("requirements.txt", b"webframe @ file:///nonexistent/webframe-1.0-py3-none-any.whl\n"), MAIN], prepare: nothing, command: "build", args: &[], says: &["nonexistent"] },
        Case { name: "--find-links to nowhere", files: &[("requirements.txt", b"webframe\n"), MAIN], prepare: nothing, command: "build", args: &["--no-index", "--find-links", "/nonexistent/wheels"], says: &["/nonexistent/wheels"] },
        Case { name: "[tool.pypack] cmd of the wrong type", files: &[("pyproject.toml", b"[project]\nname = 'x'\nversion = '1'\ndependencies = ['webframe']\n[tool.pypack]\ncmd = 5\n"), MAIN], prepare: nothing, command: "build", args: &[], says: &["cmd"] },
        Case { name: "--cmd with an open quote", files: &[("requirements.txt", b"webframe\n"), MAIN], prepare: nothing, command: "build", args: &["--cmd", "python 'main.py"], says: &["--cmd"] },
        Case { name: "--python nobody ships", files: &[("requirements.txt", b"webframe\n"), MAIN], prepare: nothing, command: "lock", args: &["--python", "2.7"], says: &["2.7"] },
        Case { name: "lock --locked with nothing locked", files: &[("requirements.txt", b"webframe\n"), MAIN], prepare: nothing, command: "lock", args: &["--locked"], says: &["pylock.toml is missing or stale"] },
        Case { name: "lock for every platform", files: &[("requirements.txt", b"webframe\n"), MAIN], prepare: nothing, command: "lock", args: &["--platform", "all"], says: &["one platform at a time"] },
        Case { name: "a directory with nothing to run", files: &[("requirements.txt", b"webframe\n")], prepare: nothing, command: "build", args: &[], says: &["no entrypoint found", "--cmd"] },
        Case { name: "a recipe file that is not TOML", files: &[("requirements.txt", b"webframe\n"), MAIN], prepare: |app| std::fs::write(app.join("../bad-recipe.toml"), b"name = [\n").unwrap(), command: "lock", args: &["--recipe", "BAD_RECIPE"], says: &["bad-recipe.toml"] },
        Case { name: "--index-url that is no URL", files: &[("requirements.txt", b"webframe\n"), MAIN], prepare: nothing, command: "build", args: &["--index-url", "not a url"], says: &["not a url"] },
    ]
}

#[test]
fn hostile_inputs_are_refused_clearly_quickly_and_leave_nothing() {
    let cases = cases();
    let served = served();
    assert!(cases.len() + served.len() >= 40, "{} cases", cases.len());
    let total = cases.len() + served.len() + locked().len();
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(why) = case.trial().run() {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    for case in &served {
        if let Err(why) = case.trial().run() {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    let locked = locked();
    for (name, trial) in &locked {
        if let Err(why) = trial.run() {
            failures.push(format!("{name}: {why}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        total,
        failures.join("\n\n")
    );
}

/// The app locked by `pypack lock`, then its pylock.toml edited by `edit`.
fn lock_then(world: &AppWorld, edit: fn(String) -> String) -> Vec<u8> {
    let out = world.run("lock", "cache-lock", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let path = world.work.join("app/pylock.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = edit(text.clone());
    assert_ne!(edited, text, "the edit changed nothing");
    std::fs::write(&path, edited).unwrap();
    Vec::new()
}

/// A pylock.toml's text with its (first) wheel's `url` replaced by `url`.
fn with_wheel_url(text: &str, url: &str) -> String {
    let start = text.find("url = \"").unwrap() + "url = \"".len();
    let end = start + text[start..].find('"').unwrap();
    format!("{}{url}{}", &text[..start], &text[end..])
}

/// A lock file the app's own `pypack lock` wrote, then tampered with, met
/// by `build --locked`.
fn locked() -> Vec<(&'static str, Trial<'static>)> {
    let trial = |tamper: fn(&AppWorld) -> Vec<u8>, says: &'static [&'static str]| Trial {
        files: &[("requirements.txt", b"webframe\n"), MAIN],
        prepare: nothing,
        serve: plain_index,
        tamper,
        command: "build",
        args: &["--locked"],
        says,
    };
    vec![
        (
            "pylock wheel name climbing out with ..",
            trial(
                |w| {
                    lock_then(w, |t| {
                        t.replace(
                            "name = \"webframe-1.0-py3-none-any.whl\"",
                            "name = \"../../../evil-1.0-py3-none-any.whl\"",
                        )
                    })
                },
                &["pylock.toml"],
            ),
        ),
        (
            "pylock wheel hash that matches nothing",
            trial(
                |w| {
                    lock_then(w, |t| {
                        let at = t.find("sha256 = \"").unwrap() + "sha256 = \"".len();
                        format!("{}{BAD_HASH}{}", &t[..at], &t[at + 64..])
                    })
                },
                &["webframe", BAD_HASH],
            ),
        ),
        (
            "pylock wheel URL to a file of the machine",
            trial(
                |w| lock_then(w, |t| with_wheel_url(&t, "file:///etc/passwd")),
                &[
                    "pylock.toml:",
                    "/etc/passwd is outside the directories this build reads",
                    "does not open it",
                ],
            ),
        ),
        (
            "pylock wheel URL to a device that never ends",
            trial(
                |w| lock_then(w, |t| with_wheel_url(&t, "file:///dev/zero")),
                &[
                    "pylock.toml:",
                    "/dev/zero is outside the directories this build reads",
                ],
            ),
        ),
        (
            "requirements.txt a symlink to itself",
            Trial {
                files: &[MAIN],
                prepare: |app| {
                    std::os::unix::fs::symlink("requirements.txt", app.join("requirements.txt"))
                        .unwrap()
                },
                serve: plain_index,
                tamper: no_tamper,
                command: "build",
                args: &[],
                says: &["requirements.txt"],
            },
        ),
    ]
}

/// What one case does, whichever table it comes from.
struct Trial<'a> {
    files: &'a [(&'static str, &'static [u8])],
    prepare: fn(&Path),
    /// Fills the test index; returns the hostile file it serves, if any.
    serve: fn(&mut TestIndex) -> Vec<u8>,
    /// Changes the fixture Debian archive; returns the hostile file, if any.
    tamper: fn(&common::AppWorld) -> Vec<u8>,
    command: &'a str,
    args: &'a [&'static str],
    says: &'a [&'static str],
}

impl Case {
    fn trial(&self) -> Trial<'_> {
        Trial {
            files: self.files,
            prepare: self.prepare,
            serve: |index| {
                index.add(&WheelSpec::new("webframe", "1.0"), Listing::default());
                Vec::new()
            },
            tamper: |_| Vec::new(),
            command: self.command,
            args: self.args,
            says: self.says,
        }
    }
}

impl Trial<'_> {
    fn run(&self) -> Result<(), String> {
        self.run_wrapped(&[]).0
    }

    /// Runs the case with its command prefixed by `wrapper` (e.g. GNU
    /// time); its verdict, and the command's stderr.
    fn run_wrapped(&self, wrapper: &[&str]) -> (Result<(), String>, String) {
        let mut hostile = Vec::new();
        let world = AppWorld::new(|index| hostile = (self.serve)(index));
        let app = world.work.join("app");
        for (path, data) in self.files {
            std::fs::write(app.join(path), data).unwrap();
        }
        (self.prepare)(&app);
        let tampered = (self.tamper)(&world);
        if !tampered.is_empty() {
            hostile = tampered;
        }
        let out_dir = world.work.join("out");
        let cache = world.work.join("cache");
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(env!("CARGO_BIN_EXE_pypack"));
                command
            }
            None => Command::new(env!("CARGO_BIN_EXE_pypack")),
        };
        command
            .args(self.args_in(&world, &out_dir))
            .env("PYPACK_CACHE_DIR", &cache)
            .env_remove("PIP_INDEX_URL");
        let (out, killed) = output_within(command, 60);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        let verdict = self.judge(&out, killed, &err, &out_dir, &cache, &hostile);
        (verdict, err)
    }

    fn args_in(&self, world: &AppWorld, out_dir: &Path) -> Vec<String> {
        let app = world.work.join("app");
        let mut args: Vec<String> = vec![self.command.into(), app.display().to_string()];
        // A case that names its own base gets the fixture archive without the fixture recipe.
        let recipe_override = self.args.contains(&"BAD_RECIPE") || self.args.contains(&"--python");
        if !recipe_override {
            args.extend(world.base.args());
        } else {
            args.extend(world.base.args().into_iter().skip(2));
        }
        if !self.args.contains(&"--index-url") && !self.args.contains(&"--no-index") {
            args.extend(["--index-url".into(), world.index_url()]);
        }
        if self.command == "build" {
            args.extend([
                "--no-compile".into(),
                "--no-smoke".into(),
                "--output".into(),
                out_dir.join("image").display().to_string(),
            ]);
        }
        for arg in self.args {
            args.push(match *arg {
                "BAD_RECIPE" => world.work.join("bad-recipe.toml").display().to_string(),
                other => other.to_string(),
            });
        }
        args
    }

    fn judge(
        &self,
        out: &std::process::Output,
        killed: bool,
        err: &str,
        out_dir: &Path,
        cache: &Path,
        hostile: &[u8],
    ) -> Result<(), String> {
        if killed {
            return Err(format!("no answer within 60 s; killed\n{err}"));
        }
        if out.status.success() {
            return Err(format!("it succeeded\n{err}"));
        }
        if !err.contains("error: ") {
            return Err(format!("no `error:` line\n{err}"));
        }
        for said in self.says {
            if !err.contains(said) {
                return Err(format!("the error does not say '{said}'\n{err}"));
            }
        }
        if !files_under(out_dir).is_empty() {
            return Err(format!("it wrote {:?}", files_under(out_dir)));
        }
        if !files_under(&cache.join("tmp")).is_empty() {
            return Err(format!(
                "it left temporary files {:?}",
                files_under(&cache.join("tmp"))
            ));
        }
        if !hostile.is_empty() && cache.join("blobs/sha256").join(sha256(hostile)).exists() {
            return Err(format!("the hostile file is in the cache\n{err}"));
        }
        Ok(())
    }
}

/// A hostile file served to an app that needs `webframe`: by the test
/// index (`serve`) or the fixture Debian archive (`tamper`).
struct Served {
    name: &'static str,
    serve: fn(&mut TestIndex) -> Vec<u8>,
    tamper: fn(&AppWorld) -> Vec<u8>,
    command: &'static str,
    says: &'static [&'static str],
}

impl Served {
    fn trial(&self) -> Trial<'_> {
        Trial {
            files: &[("requirements.txt", b"webframe\n"), MAIN],
            prepare: nothing,
            serve: self.serve,
            tamper: self.tamper,
            command: self.command,
            args: &[],
            says: self.says,
        }
    }
}

const WHEEL: &str = "webframe-1.0-py3-none-any.whl";
const DIST_INFO: &str = "webframe-1.0.dist-info";

/// The index serves `bytes` as webframe 1.0's wheel (with a true hash).
fn serve_wheel(index: &mut TestIndex, bytes: Vec<u8>) -> Vec<u8> {
    let metadata = WheelSpec::new("webframe", "1.0").metadata();
    index.add_bytes(
        "webframe",
        WHEEL,
        &bytes,
        Some(metadata),
        Listing::default(),
    );
    bytes
}

/// webframe 1.0's wheel holding `files` and its own METADATA and WHEEL
/// (unless `files` has them), with a RECORD true to every file.
fn wheel_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut all: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|(n, d)| (n.to_string(), d.to_vec()))
        .collect();
    let own = [
        ("METADATA", WheelSpec::new("webframe", "1.0").metadata()),
        (
            "WHEEL",
            "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n".into(),
        ),
    ];
    for (name, text) in own {
        let path = format!("{DIST_INFO}/{name}");
        if !all.iter().any(|(n, _)| *n == path) {
            all.push((path, text.into_bytes()));
        }
    }
    let mut record: String = all
        .iter()
        .map(|(n, d)| format!("{n},sha256={},{}\n", record_hash(d), d.len()))
        .collect();
    record.push_str(&format!("{DIST_INFO}/RECORD,,\n"));
    all.push((format!("{DIST_INFO}/RECORD"), record.into_bytes()));
    common::wheels::zip_files(&all)
}

/// A zip of the wheel's usual files and one member of `size` zeros,
/// deflated as it is written (a 300 MB member is a few hundred KB).
fn wheel_with_zeros(member: &str, size: u64) -> Vec<u8> {
    let mut out = std::io::Cursor::new(wheel_of(&[]));
    let mut zip = zip::ZipWriter::new_append(&mut out).unwrap();
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(size >= u32::MAX as u64);
    zip.start_file(member, options).unwrap();
    std::io::copy(&mut std::io::repeat(0).take(size), &mut zip).unwrap();
    zip.finish().unwrap();
    out.into_inner()
}

/// Rewrites, in the local and central headers of `member`, the size it
/// unpacks to: a zip that lies about it.
fn lie_about_size(zip: &mut [u8], member: &str, size: u32) {
    let name = member.as_bytes();
    let mut patched = 0;
    for at in 0..zip.len().saturating_sub(46 + name.len()) {
        let (size_at, name_at) = match &zip[at..at + 4] {
            b"PK\x03\x04" => (at + 22, at + 30),
            b"PK\x01\x02" => (at + 24, at + 46),
            _ => continue,
        };
        if zip[name_at..].starts_with(name) {
            zip[size_at..size_at + 4].copy_from_slice(&size.to_le_bytes());
            patched += 1;
        }
    }
    assert_eq!(patched, 2, "{member}: headers found");
}

fn wheel_with_symlink() -> Vec<u8> {
    let mut out = std::io::Cursor::new(wheel_of(&[]));
    let mut zip = zip::ZipWriter::new_append(&mut out).unwrap();
    zip.add_symlink(
        "webframe/passwd",
        "/etc/passwd",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    zip.finish().unwrap();
    out.into_inner()
}

/// webframe 1.0 as an sdist: `members` under `webframe-1.0/`, each a name
/// and a reader of its content with its size.
fn sdist_of(members: Vec<(&str, u64, Box<dyn Read>)>) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, size, data) in members {
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, format!("webframe-1.0/{name}"), data)
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

const PKG_INFO: &[u8] = b"Metadata-Version: 2.2\nName: webframe\nVersion: 1.0\n";

fn serve_sdist(index: &mut TestIndex, bytes: Vec<u8>) -> Vec<u8> {
    index.add_bytes(
        "webframe",
        "webframe-1.0.tar.gz",
        &bytes,
        None,
        Listing::default(),
    );
    bytes
}

fn text(bytes: &'static [u8]) -> (u64, Box<dyn Read>) {
    (bytes.len() as u64, Box::new(bytes))
}

fn zeros(size: u64) -> (u64, Box<dyn Read>) {
    (size, Box::new(std::io::repeat(0).take(size)))
}

/// The fixture archive again, with libc6's `.deb` made by `make` from its
/// usual one (hash and size in the index true to the result).
fn with_libc6_deb(world: &AppWorld, make: fn(Vec<u8>) -> Vec<u8>) -> Vec<u8> {
    let packages = common::PythonBase::packages("3.11.2-6");
    let mut debs: Vec<Vec<u8>> = packages.iter().map(|p| make_deb(&p.members)).collect();
    debs[1] = make(debs[1].clone());
    world.base.archive.write_debs(&packages, &debs, "");
    debs[1].clone()
}

/// A `.deb` whose data.tar has `members` (raw names) each `(name, size)` of zeros,
/// compressed with zstd as it is written.
fn deb_with(members: &[(&str, u64, tar::EntryType)]) -> Vec<u8> {
    let mut tar = Vec::new();
    for (name, size, kind) in members {
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_entry_type(*kind);
        header.set_size(*size);
        header.set_cksum();
        tar.push(header.as_bytes().to_vec());
    }
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    for ((_, size, _), header) in members.iter().zip(&tar) {
        encoder.write_all(header).unwrap();
        std::io::copy(
            &mut std::io::repeat(0).take(size.next_multiple_of(512)),
            &mut encoder,
        )
        .unwrap();
    }
    encoder.write_all(&[0u8; 1024]).unwrap();
    let data_tar = encoder.finish().unwrap();
    let mut ar = ar::Builder::new(Vec::new());
    for (name, data) in [
        ("debian-binary", b"2.0\n".to_vec()),
        ("control.tar.xz", xz(b"")),
        ("data.tar.zst", data_tar),
    ] {
        ar.append(
            &ar::Header::new(name.as_bytes().to_vec(), data.len() as u64),
            data.as_slice(),
        )
        .unwrap();
    }
    ar.into_inner().unwrap()
}

fn no_tamper(_: &AppWorld) -> Vec<u8> {
    Vec::new()
}

fn plain_index(index: &mut TestIndex) -> Vec<u8> {
    index.add(&WheelSpec::new("webframe", "1.0"), Listing::default());
    Vec::new()
}

/// The signed Release as the fixture archive wrote it.
fn release_of(world: &AppWorld) -> String {
    let signed = std::fs::read_to_string(world.base.archive.dists().join("InRelease")).unwrap();
    let body = signed.split("\n\n").nth(1).unwrap();
    body.split("\n-----BEGIN PGP SIGNATURE")
        .next()
        .unwrap()
        .to_string()
}

fn served() -> Vec<Served> {
    vec![
        Served {
            name: "wheel member climbing out with ..",
            serve: |i| serve_wheel(i, wheel_of(&[("../../evil.py", b"x")])),
            tamper: no_tamper,
            command: "build",
            says: &[WHEEL, "outside"],
        },
        Served {
            name: "wheel member with an absolute path",
            serve: |i| serve_wheel(i, wheel_of(&[("/etc/evil", b"x")])),
            tamper: no_tamper,
            command: "build",
            says: &[WHEEL, "outside"],
        },
        Served {
            name: "wheel member that is a symlink",
            serve: |i| serve_wheel(i, wheel_with_symlink()),
            tamper: no_tamper,
            command: "build",
            says: &[WHEEL, "symlink"],
        },
        Served {
            name: "wheel member twice",
            serve: |i| {
                let mut zip = wheel_of(&[
                    ("webframe/aaaa.py", b"good = 1\n"),
                    ("webframe/bbbb.py", b"evil = 1\n"),
                ]);
                let (from, to) = (b"webframe/bbbb.py", b"webframe/aaaa.py");
                for at in 0..zip.len() - from.len() {
                    if &zip[at..at + from.len()] == from {
                        zip[at..at + from.len()].copy_from_slice(to);
                    }
                }
                serve_wheel(i, zip)
            },
            tamper: no_tamper,
            command: "build",
            says: &[WHEEL, "twice"],
        },
        Served {
            name: "wheel member unlike its RECORD hash",
            serve: |i| {
                // A true wheel, then its one module's content swapped.
                let mut zip = wheel_of(&[("webframe/__init__.py", b"good\n")]);
                let mut out = std::io::Cursor::new(Vec::new());
                {
                    let mut source = zip::ZipArchive::new(std::io::Cursor::new(&mut zip)).unwrap();
                    let mut writer = zip::ZipWriter::new(&mut out);
                    for i in 0..source.len() {
                        let mut member = source.by_index(i).unwrap();
                        let name = member.name().unwrap().to_string();
                        let mut data = Vec::new();
                        member.read_to_end(&mut data).unwrap();
                        if name == "webframe/__init__.py" {
                            data = b"evil\n".to_vec();
                        }
                        writer
                            .start_file(name, zip::write::SimpleFileOptions::default())
                            .unwrap();
                        writer.write_all(&data).unwrap();
                    }
                    writer.finish().unwrap();
                }
                serve_wheel(i, out.into_inner())
            },
            tamper: no_tamper,
            command: "build",
            says: &[WHEEL, "webframe/__init__.py"],
        },
        Served {
            name: "wheel member RECORD does not list",
            serve: |i| {
                let mut out = std::io::Cursor::new(wheel_of(&[]));
                let mut zip = zip::ZipWriter::new_append(&mut out).unwrap();
                zip.start_file(
                    "webframe/extra.py",
                    zip::write::SimpleFileOptions::default(),
                )
                .unwrap();
                zip.write_all(b"x = 1\n").unwrap();
                zip.finish().unwrap();
                serve_wheel(i, out.into_inner())
            },
            tamper: no_tamper,
            command: "build",
            says: &[WHEEL, "RECORD"],
        },
        Served {
            name: "wheel that is not a zip",
            serve: |i| serve_wheel(i, b"<html>not a wheel</html>".to_vec()),
            tamper: no_tamper,
            command: "build",
            says: &[WHEEL, "zip"],
        },
        Served {
            name: "wheel unlike the index's hash",
            serve: |i| {
                let bytes = WheelSpec::new("webframe", "1.0").build();
                i.add_bytes(
                    "webframe",
                    WHEEL,
                    &bytes,
                    None,
                    Listing {
                        wrong_hash: true,
                        ..Listing::default()
                    },
                );
                bytes
            },
            tamper: no_tamper,
            command: "build",
            says: &[WHEEL, "sha256"],
        },
        Served {
            name: "wheel of a newer Wheel-Version",
            serve: |i| {
                serve_wheel(
                    i,
                    wheel_of(&[(
                        &format!("{DIST_INFO}/WHEEL"),
                        b"Wheel-Version: 2.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
                    )]),
                )
            },
            tamper: no_tamper,
            command: "build",
            says: &[WHEEL, "Wheel-Version"],
        },
        Served {
            name: "wheel without its .dist-info",
            serve: |i| {
                serve_wheel(
                    i,
                    common::wheels::zip_files(&[("webframe/__init__.py".into(), b"".to_vec())]),
                )
            },
            tamper: no_tamper,
            command: "build",
            says: &[WHEEL, "METADATA"],
        },
        Served {
            name: "wheel entry point climbing out",
            serve: |i| {
                serve_wheel(
                    i,
                    wheel_of(&[(
                        &format!("{DIST_INFO}/entry_points.txt"),
                        b"[console_scripts]\n../../../etc/evil = webframe:main\n",
                    )]),
                )
            },
            tamper: no_tamper,
            command: "build",
            says: &[WHEEL, "entry point"],
        },
        Served {
            name: "zip bomb (300 MB of zeros)",
            serve: |i| serve_wheel(i, wheel_with_zeros("webframe/zeros.bin", 300 << 20)),
            tamper: no_tamper,
            command: "build",
            says: &[WHEEL, "zip bomb"],
        },
        Served {
            name: "wheel member larger than it says",
            serve: |i| {
                let mut zip = wheel_with_zeros("webframe/zeros.bin", 1 << 20);
                lie_about_size(&mut zip, "webframe/zeros.bin", 10);
                serve_wheel(i, zip)
            },
            tamper: no_tamper,
            command: "build",
            says: &[WHEEL, "zeros.bin"],
        },
        Served {
            name: "METADATA of 100 MB in the wheel",
            serve: |i| {
                serve_wheel(i, {
                    let mut out = std::io::Cursor::new(Vec::new());
                    let mut zip = zip::ZipWriter::new(&mut out);
                    zip.start_file(
                        format!("{DIST_INFO}/METADATA"),
                        zip::write::SimpleFileOptions::default().compression_level(Some(1)),
                    )
                    .unwrap();
                    zip.write_all(b"Metadata-Version: 2.1\nName: webframe\nVersion: 1.0\n")
                        .unwrap();
                    std::io::copy(&mut std::io::repeat(b'x').take(100 << 20), &mut zip).unwrap();
                    zip.finish().unwrap();
                    out.into_inner()
                })
            },
            tamper: no_tamper,
            command: "lock",
            says: &[WHEEL, "METADATA is larger than 16 MB"],
        },
        Served {
            name: "PEP 658 metadata file of 20 MB",
            serve: |i| {
                let bytes = WheelSpec::new("webframe", "1.0").build();
                let mut metadata = WheelSpec::new("webframe", "1.0").metadata();
                metadata.push_str(&"x".repeat(20 << 20));
                i.add_bytes(
                    "webframe",
                    WHEEL,
                    &bytes,
                    Some(metadata),
                    Listing {
                        metadata_file: true,
                        ..Listing::default()
                    },
                );
                Vec::new()
            },
            tamper: no_tamper,
            command: "lock",
            says: &["webframe", "larger than 16 MB"],
        },
        Served {
            name: "sdist that is not gzip",
            serve: |i| serve_sdist(i, b"PK not a tarball".to_vec()),
            tamper: no_tamper,
            command: "lock",
            says: &["webframe-1.0.tar.gz"],
        },
        Served {
            name: "sdist tar bomb before its PKG-INFO",
            serve: |i| {
                serve_sdist(
                    i,
                    sdist_of(vec![
                        ("zeros.bin", zeros(400 << 20).0, zeros(400 << 20).1),
                        ("PKG-INFO", text(PKG_INFO).0, text(PKG_INFO).1),
                    ]),
                )
            },
            tamper: no_tamper,
            command: "lock",
            says: &["webframe-1.0.tar.gz", "decompression bomb"],
        },
        Served {
            name: "sdist PKG-INFO of 20 MB",
            serve: |i| {
                serve_sdist(
                    i,
                    sdist_of(vec![(
                        "PKG-INFO",
                        20 << 20,
                        Box::new(PKG_INFO.chain(std::io::repeat(b'x')).take(20 << 20)),
                    )]),
                )
            },
            tamper: no_tamper,
            command: "lock",
            says: &["webframe-1.0.tar.gz", "PKG-INFO is larger than 16 MB"],
        },
        Served {
            name: "sdist PKG-INFO of no Metadata-Version",
            serve: |i| {
                serve_sdist(
                    i,
                    sdist_of(vec![(
                        "PKG-INFO",
                        text(b"Name: webframe\n").0,
                        text(b"Name: webframe\n").1,
                    )]),
                )
            },
            tamper: no_tamper,
            command: "lock",
            says: &["webframe-1.0.tar.gz", "Metadata-Version"],
        },
        Served {
            name: ".deb that is not an ar archive",
            serve: plain_index,
            tamper: |w| with_libc6_deb(w, |_| b"<html>gone</html>".to_vec()),
            command: "build",
            says: &["libc6", ".deb"],
        },
        Served {
            name: ".deb member climbing out with ..",
            serve: plain_index,
            tamper: |w| {
                with_libc6_deb(w, |_| {
                    deb_with(&[("./../../etc/evil", 1, tar::EntryType::Regular)])
                })
            },
            command: "build",
            says: &["libc6", "escapes the root"],
        },
        Served {
            name: ".deb member with an absolute path",
            serve: plain_index,
            tamper: |w| {
                with_libc6_deb(w, |_| {
                    deb_with(&[("/etc/evil", 1, tar::EntryType::Regular)])
                })
            },
            command: "build",
            says: &["libc6", "absolute path"],
        },
        Served {
            name: ".deb member that is a device",
            serve: plain_index,
            tamper: |w| with_libc6_deb(w, |_| deb_with(&[("./dev/sda", 0, tar::EntryType::Block)])),
            command: "build",
            says: &["libc6", "unsupported type"],
        },
        Served {
            name: ".deb bomb (a member of 2 GB zeros)",
            serve: plain_index,
            tamper: |w| {
                with_libc6_deb(w, |_| {
                    deb_with(&[("./zeros", 2 << 30, tar::EntryType::Regular)])
                })
            },
            command: "build",
            says: &["libc6", "decompression bomb"],
        },
        Served {
            name: ".deb unlike its hash in Packages",
            serve: plain_index,
            tamper: |w| {
                let path = w
                    .base
                    .archive
                    .root
                    .join("debian/pool/main/libc6_1.0_amd64.deb");
                let mut deb = std::fs::read(&path).unwrap();
                let last = deb.len() - 1;
                deb[last] ^= 1;
                std::fs::write(&path, &deb).unwrap();
                deb
            },
            command: "build",
            says: &["libc6", "sha256"],
        },
        Served {
            name: "Packages longer than its signed size",
            serve: plain_index,
            tamper: |w| {
                let path = w.base.archive.dists().join("main/binary-amd64/Packages.xz");
                let mut bytes = std::fs::read(&path).unwrap();
                bytes.extend(std::iter::repeat_n(0u8, 1 << 20));
                std::fs::write(&path, &bytes).unwrap();
                bytes
            },
            command: "build",
            says: &["Packages.xz", "longer than"],
        },
        Served {
            name: "Packages unlike its signed hash",
            serve: plain_index,
            tamper: |w| {
                let path = w.base.archive.dists().join("main/binary-amd64/Packages.xz");
                let mut bytes = std::fs::read(&path).unwrap();
                let middle = bytes.len() / 2;
                bytes[middle] ^= 0xff;
                std::fs::write(&path, &bytes).unwrap();
                bytes
            },
            command: "build",
            says: &["Packages.xz"],
        },
        Served {
            name: "Packages that is not xz",
            serve: plain_index,
            tamper: |w| {
                let junk = b"Package: libc6\nVersion: 1\n".to_vec();
                std::fs::write(
                    w.base.archive.dists().join("main/binary-amd64/Packages.xz"),
                    &junk,
                )
                .unwrap();
                let release = release_of(w).replace(
                    &release_of(w)
                        .lines()
                        .find(|l| l.ends_with("main/binary-amd64/Packages.xz"))
                        .unwrap()
                        .to_string(),
                    &format!(
                        " {} {} main/binary-amd64/Packages.xz",
                        sha256(&junk),
                        junk.len()
                    ),
                );
                w.base.archive.sign_release(&release);
                junk
            },
            command: "build",
            says: &["Packages.xz"],
        },
        Served {
            name: "Packages paragraph of a bad size",
            serve: plain_index,
            tamper: |w| {
                let packages = common::PythonBase::packages("3.11.2-6");
                w.base.archive.write(&packages);
                let path = w.base.archive.dists().join("main/binary-amd64/Packages.xz");
                let index = String::from_utf8(unxz(&std::fs::read(&path).unwrap())).unwrap();
                let bad = index.replacen("\nSize: ", "\nSize: lots", 1);
                let packed = xz(bad.as_bytes());
                std::fs::write(&path, &packed).unwrap();
                let line = release_of(w)
                    .lines()
                    .find(|l| l.ends_with("main/binary-amd64/Packages.xz"))
                    .unwrap()
                    .to_string();
                let release = release_of(w).replace(
                    &line,
                    &format!(
                        " {} {} main/binary-amd64/Packages.xz",
                        sha256(&packed),
                        packed.len()
                    ),
                );
                w.base.archive.sign_release(&release);
                packed
            },
            command: "build",
            says: &["Packages.xz", "Size 'lots"],
        },
        Served {
            name: "InRelease signed by a stranger",
            serve: plain_index,
            tamper: |w| {
                let stranger = common::generate_key(99);
                let signed = common::sign_cleartext(&stranger, &release_of(w));
                std::fs::write(w.base.archive.dists().join("InRelease"), signed).unwrap();
                Vec::new()
            },
            command: "build",
            says: &["InRelease", "signature"],
        },
        Served {
            name: "InRelease not signed at all",
            serve: plain_index,
            tamper: |w| {
                std::fs::write(w.base.archive.dists().join("InRelease"), release_of(w)).unwrap();
                Vec::new()
            },
            command: "build",
            says: &["InRelease"],
        },
    ]
}

/// The cases that would cost memory if anything were read whole: bombs,
/// oversized metadata, an index past its signed size.
const BOMBS: [&str; 8] = [
    "zip bomb (300 MB of zeros)",
    "wheel member larger than it says",
    "METADATA of 100 MB in the wheel",
    "PEP 658 metadata file of 20 MB",
    "sdist tar bomb before its PKG-INFO",
    "sdist PKG-INFO of 20 MB",
    ".deb bomb (a member of 2 GB zeros)",
    "Packages longer than its signed size",
];

#[test]
fn bombs_cost_at_most_twice_the_memory_of_a_normal_build() {
    let test = "bombs_cost_at_most_twice_the_memory_of_a_normal_build";
    if !required(test, "GNU time", Path::new("/usr/bin/time").is_file()) {
        return;
    }
    let time = ["/usr/bin/time", "-v"];
    // The same app and base with nothing hostile: a normal build (which
    // succeeds, so its verdict says "it succeeded").
    let normal = Served {
        name: "normal",
        serve: plain_index,
        tamper: no_tamper,
        command: "build",
        says: &[],
    };
    let (verdict, err) = normal.trial().run_wrapped(&time);
    assert!(
        verdict.is_err_and(|e| e.starts_with("it succeeded")),
        "{err}"
    );
    let normal_kb = peak_kb(&err);
    let served = served();
    let mut report = vec![format!("normal build: {normal_kb} KB")];
    let mut failures = Vec::new();
    for name in BOMBS {
        let case = served.iter().find(|c| c.name == name).unwrap();
        let (verdict, err) = case.trial().run_wrapped(&time);
        if let Err(why) = verdict {
            failures.push(format!("{name}: {why}"));
            continue;
        }
        let kb = peak_kb(&err);
        report.push(format!(
            "{name}: {kb} KB ({:.2}x)",
            kb as f64 / normal_kb as f64
        ));
        if kb > 2 * normal_kb {
            failures.push(format!("{name}: {kb} KB, more than twice {normal_kb} KB"));
        }
    }
    eprintln!("{}", report.join("\n"));
    assert!(
        failures.is_empty(),
        "{}\n{}",
        failures.join("\n"),
        report.join("\n")
    );
}

/// Makes a file or directory in the app; returns its path.
type MakeUnreadable = fn(&Path) -> std::path::PathBuf;

/// A file or directory of the app that the user running pypack may not
/// read (root reads everything, so the build runs as `nobody`): named, with
/// what to do, and nothing written.
#[test]
fn unreadable_app_files_are_named_with_what_to_do() {
    let test = "unreadable_app_files_are_named_with_what_to_do";
    if !tool_available("setpriv", test) {
        return;
    }
    let cases: [(&str, MakeUnreadable); 2] = [
        ("a file", |app| {
            std::fs::write(app.join("notes.txt"), b"mine\n").unwrap();
            app.join("notes.txt")
        }),
        ("a directory", |app| {
            std::fs::create_dir(app.join("private")).unwrap();
            std::fs::write(app.join("private/key.txt"), b"k\n").unwrap();
            app.join("private")
        }),
    ];
    for (what, make) in cases {
        let world = common::small_app();
        let app = world.work.join("app");
        let unreadable = make(&app);
        // Everything readable by all, the cache and output nobody's own,
        // then the one thing nobody may read.
        let chmod = |mode: &str, path: &Path| {
            assert!(
                Command::new("chmod")
                    .args(["-R", mode])
                    .arg(path)
                    .status()
                    .unwrap()
                    .success()
            )
        };
        chmod("a+rX", &world.work);
        let (cache, out_dir) = (world.work.join("cache"), world.work.join("out"));
        std::fs::create_dir_all(&cache).unwrap();
        for dir in [&cache, &out_dir] {
            std::os::unix::fs::chown(dir, Some(65534), Some(65534)).unwrap();
        }
        chmod("000", &unreadable);
        let mut args: Vec<String> = vec!["build".into(), app.display().to_string()];
        args.extend(world.base.args());
        args.extend(["--index-url".into(), world.index_url()]);
        args.extend(["--no-compile", "--no-smoke", "--output"].map(String::from));
        args.push(out_dir.join("image").display().to_string());
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_pypack"))
            .args(&args)
            .env("PYPACK_CACHE_DIR", &cache)
            .env("HOME", &cache)
            .env_remove("PIP_INDEX_URL");
        let (out, killed) = output_within(command, 60);
        let err = String::from_utf8_lossy(&out.stderr);
        eprintln!("{what}:\n{err}");
        assert!(!killed && !out.status.success(), "{what}: {err}");
        let said = format!("cannot read {}: permission denied", unreadable.display());
        assert!(
            err.contains(&said) && err.contains(".dockerignore"),
            "{what}: {err}"
        );
        assert!(
            files_under(&out_dir).is_empty(),
            "{what}: wrote {:?}",
            files_under(&out_dir)
        );
        assert!(
            files_under(&cache.join("tmp")).is_empty(),
            "{what}: left temporary files"
        );
        chmod("u+rwX", &unreadable);
    }
}

/// A `pylock.toml` whose wheel URL names a FIFO outside the app (named like
/// the wheel, on an empty cache, so the URL is what would be read): refused
/// at once, naming the line, and never opened — a probe that opens the FIFO
/// for writing without blocking succeeds only while someone has it open
/// for reading (and would then let a blocked reader go on).
#[test]
fn a_lock_naming_a_fifo_outside_the_app_is_refused_without_opening_it() {
    let world = AppWorld::new(|index| {
        index.add(&WheelSpec::new("webframe", "1.0"), Listing::default());
    });
    world.write_app(&[
        ("requirements.txt", "webframe\n"),
        ("main.py", "print('hi')\n"),
    ]);
    let elsewhere = world.work.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let fifo_path = elsewhere.join("webframe-1.0-py3-none-any.whl");
    fifo(&fifo_path);
    let lock = world.work.join("app/pylock.toml");
    assert!(world.run("lock", "cache-lock", &[]).status.success());
    let text = std::fs::read_to_string(&lock).unwrap();
    let url = format!("file://{}", fifo_path.display());
    let edited = with_wheel_url(&text, &url);
    std::fs::write(&lock, &edited).unwrap();
    let line = edited.lines().position(|l| l.contains(&url)).unwrap() + 1;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probe = {
        let (stop, fifo_path) = (stop.clone(), fifo_path.clone());
        std::thread::spawn(move || {
            use std::os::unix::fs::OpenOptionsExt;
            let mut opened = false;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // O_NONBLOCK: a writer's open fails (ENXIO) while no reader has it open.
                opened |= std::fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(&fifo_path)
                    .is_ok();
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            opened
        })
    };
    let started = std::time::Instant::now();
    let image = world.work.join("out/image");
    std::fs::create_dir_all(image.parent().unwrap()).unwrap();
    let out = world.run(
        "build",
        "cache-build",
        &["--locked", "--output", image.to_str().unwrap()],
    );
    let took = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let opened = probe.join().unwrap();
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "{}:{line}: {} is outside the directories this build reads",
            lock.display(),
            fifo_path.display()
        )),
        "line {line}: {err}"
    );
    assert!(!opened, "the FIFO was opened for reading: {err}");
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
    assert!(!image.exists());
}
