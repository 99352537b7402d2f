//! Hostile and odd inputs, each met as a user would meet it: a bad line,
//! file, flag, lock or directory. Every case must end within a deadline,
//! with a non-zero exit, an `error:` naming the input, nothing written to
//! the output and no temporary file left in the cache. Hermetic: the fixture
//! Debian archive and a test index, both on loopback.

mod common;

use common::wheels::{Listing, WheelSpec};
use common::*;
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
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(why) = run_case(case) {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

fn run_case(case: &Case) -> Result<(), String> {
    let world = AppWorld::new(|index| {
        index.add(&WheelSpec::new("webframe", "1.0"), Listing::default());
    });
    let app = world.work.join("app");
    for (path, data) in case.files {
        std::fs::write(app.join(path), data).unwrap();
    }
    (case.prepare)(&app);
    let out_dir = world.work.join("out");
    let mut args: Vec<String> = vec![case.command.into(), app.display().to_string()];
    // A case that names its own base gets the fixture archive without the fixture recipe.
    let recipe_override = case.args.contains(&"BAD_RECIPE") || case.args.contains(&"--python");
    if !recipe_override {
        args.extend(world.base.args());
    } else {
        args.extend(world.base.args().into_iter().skip(2));
    }
    if !case.args.contains(&"--index-url") && !case.args.contains(&"--no-index") {
        args.extend(["--index-url".into(), world.index_url()]);
    }
    if case.command == "build" {
        args.extend([
            "--no-compile".into(),
            "--no-smoke".into(),
            "--output".into(),
            out_dir.join("image").display().to_string(),
        ]);
    }
    for arg in case.args {
        args.push(match *arg {
            "BAD_RECIPE" => world.work.join("bad-recipe.toml").display().to_string(),
            other => other.to_string(),
        });
    }
    let cache = world.work.join("cache");
    let mut command = Command::new(env!("CARGO_BIN_EXE_pypack"));
    command
        .args(&args)
        .env("PYPACK_CACHE_DIR", &cache)
        .env_remove("PIP_INDEX_URL");
    let (out, killed) = output_within(command, 60);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    if killed {
        return Err(format!("no answer within 60 s; killed\n{err}"));
    }
    if out.status.success() {
        return Err(format!("it succeeded\n{err}"));
    }
    if !err.contains("error: ") {
        return Err(format!("no `error:` line\n{err}"));
    }
    for said in case.says {
        if !err.contains(said) {
            return Err(format!("the error does not say '{said}'\n{err}"));
        }
    }
    if !files_under(&out_dir).is_empty() {
        return Err(format!("it wrote {:?}", files_under(&out_dir)));
    }
    if !files_under(&cache.join("tmp")).is_empty() {
        return Err(format!(
            "it left temporary files {:?}",
            files_under(&cache.join("tmp"))
        ));
    }
    Ok(())
}
