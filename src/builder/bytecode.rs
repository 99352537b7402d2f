//! `.pyc` files compiled by the image's own interpreter, in a container of
//! the runtime image: the same interpreter build that will read them, so the
//! magic number and the code objects are the ones it expects. The mode is
//! "unchecked-hash": no timestamps, so the same sources give the same bytes
//! and the image digest stays reproducible; the interpreter trusts them
//! without reading the source first, which is what makes startup fast.

use super::engine::{Engine, Step, tail};
use crate::cache::Cache;
use crate::oci::Image;
use crate::oci::layer::{Entry, EntryKind, entries_from_dir};
use anyhow::{Context, Result, bail};

const SCRIPT: &str = include_str!("../../templates/builder/compile.py");

/// The runtime image and its interpreter, run through an engine.
pub struct Compiler<'a> {
    pub engine: &'a Engine,
    pub cache: &'a Cache,
    pub image: &'a Image,
    /// The interpreter in the image, e.g. `/usr/bin/python3.11`.
    pub python: &'a str,
}

impl Compiler<'_> {
    /// Compiles the `.py` files among `files` (layer entries: their paths are
    /// where they will be in the image) and, with `stdlib`, the image's own
    /// standard library in place. Returns the `.pyc` entries, each at its
    /// `__pycache__` path beside its source, mode 0644, owned by root.
    pub fn compile(&self, files: &[Entry], stdlib: bool) -> Result<Vec<Entry>> {
        compile(self, files, stdlib)
    }
}

fn compile(compiler: &Compiler, files: &[Entry], stdlib: bool) -> Result<Vec<Entry>> {
    let Compiler {
        engine,
        cache,
        image,
        python,
    } = compiler;
    let work = tempfile::tempdir_in(cache.root().join("tmp"))?;
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
    let mut argv = vec![
        python.to_string(),
        "-s".into(),
        "/pypack/compile.py".into(),
        "/pypack/out".into(),
    ];
    if stdlib {
        argv.push("@stdlib".into());
    }
    let mut step = Step {
        image: engine.ensure_image(cache, image, "localhost/pypack-runtime")?,
        argv,
        // Set and frozenset constants are marshalled in hash order.
        env: vec![("PYTHONHASHSEED".into(), "0".into())],
        user: Some("0:0".into()),
        ..Step::default()
    }
    .mount(&work.path().join("compile.py"), "/pypack/compile.py", false)
    .mount(&out, "/pypack/out", true);
    if sources > 0 {
        step = step.mount(&src, "/pypack/src", false);
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
    let mut entries = entries_from_dir(&out, "", 0, 0)?;
    entries.retain(|e| matches!(e.kind, EntryKind::File(_)));
    for entry in &mut entries {
        entry.mode = 0o644;
    }
    Ok(entries)
}
