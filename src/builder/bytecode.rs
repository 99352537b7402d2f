//! `.pyc` files compiled by the image's own interpreter, in a container of
//! the runtime image: the same interpreter build that will read them, so the
//! magic number and the code objects are the ones it expects. The mode is
//! "unchecked-hash": no timestamps, so the same sources give the same bytes
//! and the image digest stays reproducible; the interpreter trusts them
//! without reading the source first, which is what makes startup fast.
//! Where it can, the interpreter runs unpacked on this machine rather than
//! in a container (the same binary and libraries, so the same bytes, without
//! a container's start-up); else in the engine.

use super::engine::{Engine, Step, tail};
use super::unpacked::UnpackedPython;
use crate::cache::Cache;
use crate::oci::Image;
use crate::oci::layer::{Entry, EntryKind, entries_from_dir};
use anyhow::{Context, Result, bail};
use std::path::Path;

const SCRIPT: &str = include_str!("../../templates/builder/compile.py");

/// The runtime image and its interpreter, and how it runs: unpacked on
/// this machine when it can, else (or when that fails) in the engine.
pub struct Compiler<'a> {
    pub unpacked: Option<UnpackedPython>,
    pub engine: Option<&'a Engine>,
    pub cache: &'a Cache,
    pub image: &'a Image,
    /// The interpreter in the image, e.g. `/usr/bin/python3.11`.
    pub python: &'a str,
}

impl<'a> Compiler<'a> {
    /// A compiler for `image`: its interpreter unpacked here when `host` is
    /// allowed and that works, else in `engine`; `None` when neither is possible.
    pub fn new(
        cache: &'a Cache,
        image: &'a Image,
        python: &'a str,
        host: bool,
        engine: Option<&'a Engine>,
    ) -> Option<Compiler<'a>> {
        let unpacked = match host {
            true => UnpackedPython::prepare(cache, image, python)
                .inspect_err(|e| {
                    if std::env::var_os("PYPACK_TIMINGS").is_some() {
                        eprintln!("note: bytecode in a container: {e:#}");
                    }
                })
                .ok(),
            false => None,
        };
        if unpacked.is_none() && engine.is_none() {
            return None;
        }
        Some(Compiler {
            unpacked,
            engine,
            cache,
            image,
            python,
        })
    }

    /// Compiles the `.py` files among `files` (layer entries: their paths are
    /// where they will be in the image) and, with `stdlib`, the image's own
    /// standard library in place. Returns the `.pyc` entries, each at its
    /// `__pycache__` path beside its source, mode 0644, owned by root.
    pub fn compile(&self, files: &[Entry], stdlib: bool) -> Result<Vec<Entry>> {
        compile(self, files, stdlib)
    }
}

fn compile(compiler: &Compiler, files: &[Entry], stdlib: bool) -> Result<Vec<Entry>> {
    let work = tempfile::tempdir_in(compiler.cache.root().join("tmp"))?;
    let (src, out) = (work.path().join("src"), work.path().join("out"));
    std::fs::create_dir_all(&out)?;
    std::fs::write(work.path().join("compile.py"), SCRIPT)?;
    let mut sources = 0;
    for entry in files {
        if let EntryKind::File(data) = &entry.kind
            && entry.path.ends_with(".py")
        {
            let path = src.join(&entry.path);
            std::fs::create_dir_all(path.parent().context("source path has no parent")?)?;
            std::fs::write(&path, data)?;
            sources += 1;
        }
    }
    let on_host = compiler
        .unpacked
        .as_ref()
        .map(|unpacked| on_host(unpacked, work.path(), sources > 0, stdlib));
    match (on_host, compiler.engine) {
        (Some(Ok(())), _) => {}
        (Some(Err(e)), None) => return Err(e),
        (Some(Err(e)), Some(engine)) => {
            // A cache carried to another machine, say: the engine still can.
            eprintln!("warning: {e:#}; compiling in {} instead", engine.program);
            std::fs::remove_dir_all(&out)?;
            std::fs::create_dir_all(&out)?;
            in_engine(compiler, engine, work.path(), sources > 0, stdlib)?;
        }
        (None, Some(engine)) => in_engine(compiler, engine, work.path(), sources > 0, stdlib)?,
        (None, None) => bail!("internal: a compiler with no way to run the interpreter"),
    }
    let mut entries = entries_from_dir(&out, "", 0, 0)?;
    entries.retain(|e| matches!(e.kind, EntryKind::File(_)));
    for entry in &mut entries {
        entry.mode = 0o644;
    }
    Ok(entries)
}

/// Runs the compile script with the unpacked interpreter.
fn on_host(unpacked: &UnpackedPython, work: &Path, sources: bool, stdlib: bool) -> Result<()> {
    let mut command = unpacked.command();
    command
        // Set and frozenset constants are marshalled in hash order.
        .env("PYTHONHASHSEED", "0")
        .env("PYPACK_PYTHON", serde_json::to_string(&unpacked.argv())?)
        .arg("-s")
        .arg(work.join("compile.py"))
        .arg(work.join("out"));
    if stdlib {
        command.arg(format!("@stdlib={}", unpacked.host_path("/")?.display()));
    }
    if sources {
        command.arg(format!("/={}", work.join("src").display()));
    }
    let output = command
        .stdin(std::process::Stdio::null())
        .output()
        .context("running the image's interpreter")?;
    if !output.status.success() {
        bail!(
            "compiling bytecode with the image's interpreter failed:\n{}",
            tail(&output, 20)
        );
    }
    Ok(())
}

/// Runs the compile script in a container of the image.
fn in_engine(
    compiler: &Compiler,
    engine: &Engine,
    work: &Path,
    sources: bool,
    stdlib: bool,
) -> Result<()> {
    let mut argv = vec![
        compiler.python.to_string(),
        "-s".into(),
        "/pypack/compile.py".into(),
        "/pypack/out".into(),
    ];
    if stdlib {
        argv.push("@stdlib".into());
    }
    let mut step = Step {
        image: engine.ensure_image(compiler.cache, compiler.image, "localhost/pypack-runtime")?,
        argv,
        // Set and frozenset constants are marshalled in hash order; the
        // script's own imports must not leave .pyc files in the stdlib
        // (they would count as compiled already and be left out).
        env: vec![
            ("PYTHONHASHSEED".into(), "0".into()),
            ("PYTHONDONTWRITEBYTECODE".into(), "1".into()),
        ],
        user: Some("0:0".into()),
        ..Step::default()
    }
    .mount(&work.join("compile.py"), "/pypack/compile.py", false)
    .mount(&work.join("out"), "/pypack/out", true);
    if sources {
        step = step.mount(&work.join("src"), "/pypack/src", false);
        step.argv.push("/=/pypack/src".into());
    }
    let output = engine.run(&step)?;
    if !output.status.success() {
        bail!(
            "compiling bytecode in {} failed:\n{}",
            engine.program,
            tail(&output, 20)
        );
    }
    Ok(())
}
