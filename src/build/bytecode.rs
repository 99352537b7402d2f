//! Bytecode for the image: the standard library's layer (compiled once per
//! base, started early when the base is built here), the compiler that runs
//! the base's interpreter, and the bytecode of a layer's `.py` files.

use super::base::host_interpreter;
use super::layers::{cached_layer, remember_layer};
use super::report::LayerReport;
use crate::base::HeadStart;
use crate::base::unpacked::UnpackedPython;
use crate::base::{BaseOptions, BuiltBase, Recipe};
use crate::builder::Engine;
use crate::builder::bytecode::{Compiler, Running};
use crate::cache::Cache;
use crate::http::Http;
use crate::oci::layer::{Entry, add_parents, write_layer};
use crate::platform::Platform;
use crate::registry::Reference;
use anyhow::{Result, bail};
use std::collections::BTreeMap;

/// Bumped when the compile script's output for the same sources changes.
pub(super) const BYTECODE_FORMAT: u32 = 6;

/// Whether bytecode may be compiled by the base's interpreter unpacked on
/// this machine. A recipe base is made of signature-checked Debian packages:
/// its interpreter may; a registry base's (`pulled`) runs only in a
/// container (as every base's does with PYPACK_BYTECODE_IN=container).
pub(super) fn unpacked_allowed(pulled: bool, env: &dyn Fn(&str) -> Option<String>) -> bool {
    !pulled && env("PYPACK_BYTECODE_IN").as_deref() != Some("container")
}

/// What a build gives a base it builds here to start early: its standard
/// library's bytecode, compiled by its own interpreter while its layer is
/// compressed (collected by [`here_stdlib_bytecode`]).
pub(super) fn stdlib_head_start(
    cache: &Cache,
) -> impl Fn(&UnpackedPython) -> Option<Box<dyn std::any::Any + Send>> + Sync + '_ {
    move |python| {
        let running = Running::start(cache, python, &[], true).ok()?;
        Some(Box::new(running) as Box<dyn std::any::Any + Send>)
    }
}

/// A compiler running `base`'s interpreter (unpacked here when
/// `host_allowed`, else in `engine`); `None` when `base` is not for this
/// machine's platform or nothing can run it.
pub(super) fn compiler_on<'a>(
    cache: &'a Cache,
    base: &'a BuiltBase,
    host_allowed: bool,
    engine: Option<&'a Engine>,
) -> Option<Compiler<'a>> {
    if base.image.platform != Platform::host() {
        return None;
    }
    let early = base
        .early
        .as_ref()
        .and_then(|early| early.python(&base.python_executable));
    Compiler::new(
        cache,
        &base.image,
        &base.python_executable,
        host_allowed,
        early,
        engine,
    )
}

/// The standard library bytecode layer of `base` (a recipe's, or the
/// registry image `base_image`'s), compiled as a build would: by its own
/// interpreter on this machine or in `engine`, or for another platform's
/// base by this machine's build of the same interpreter. `None` when it
/// cannot be compiled here (said in a warning).
pub fn stdlib_bytecode_for(
    cache: &Cache,
    base: &BuiltBase,
    recipe: Option<&Recipe>,
    options: &BaseOptions,
    base_image: Option<&(Reference, bool)>,
    engine: Option<&Engine>,
) -> Result<Option<LayerReport>> {
    let http = Http::new()?;
    let host_allowed = unpacked_allowed(base_image.is_some(), &|name| std::env::var(name).ok());
    let head_start = stdlib_head_start(cache);
    let interpreter_base = match base.image.platform == Platform::host() {
        true => None,
        false => host_interpreter(
            options,
            recipe,
            base_image,
            host_allowed.then_some(&head_start as HeadStart),
            base,
            cache,
            &http,
        ),
    };
    let compiles_with = interpreter_base.as_ref().unwrap_or(base);
    let Some(compiler) = compiler_on(cache, compiles_with, host_allowed, engine) else {
        return Ok(None);
    };
    stdlib_layer(&compiler, base, options.epoch).map(Some)
}

/// [`stdlib_layer`], marked in the timings when written.
pub(super) fn stdlib_layer_marked(
    compiler: &Compiler,
    base: &BuiltBase,
    epoch: u64,
) -> Result<LayerReport> {
    let layer = stdlib_layer(compiler, base, epoch);
    crate::mark("stdlib bytecode layer written");
    layer
}

/// The layer a thread compiling the standard library made.
pub(super) fn joined(
    job: std::thread::ScopedJoinHandle<'_, Result<LayerReport>>,
) -> Result<LayerReport> {
    job.join()
        .unwrap_or_else(|_| bail!("compiling the standard library's bytecode panicked"))
}

/// Bytecode for the base's standard library, a layer of its own keyed by
/// the base image, so it is compiled once per base.
pub(super) fn stdlib_layer(
    compiler: &Compiler,
    base: &BuiltBase,
    epoch: u64,
) -> Result<LayerReport> {
    let key = format!(
        "pypack {} stdlib bytecode format {BYTECODE_FORMAT}\nbase {}\npython {}\nepoch {epoch}\ncompiled in {}\n",
        env!("CARGO_PKG_VERSION"),
        base.image.manifest_digest,
        base.python_executable,
        compiler.image.config_digest
    );
    let what = format!(
        "pypack: bytecode of {}'s standard library",
        base.python_executable
    );
    if let Some(blob) = cached_layer(compiler.cache, &key) {
        return Ok(LayerReport {
            what,
            blob,
            reused: true,
        });
    }
    // Another platform's: its sources, compiled by this machine's interpreter.
    let compiled = if compiler.image.manifest_digest != base.image.manifest_digest {
        let target = base.target()?;
        let sources = crate::builder::bytecode::stdlib_sources(
            compiler.cache,
            &base.image,
            &stdlib_dir(&base.python_executable, &target.python_version()),
            &format!("cpython-{}", target.python_version().replace('.', "")),
        )?;
        compiler.compile(&sources, false)?
    } else {
        // Started while the base was built here, else compiled now.
        here_stdlib_bytecode(compiler, base)?
    };
    let mut tree: BTreeMap<String, Entry> =
        compiled.into_iter().map(|e| (e.path.clone(), e)).collect();
    add_parents(&mut tree)?;
    let entries: Vec<Entry> = tree.into_values().collect();
    let blob = write_layer(compiler.cache, &entries, epoch)?;
    remember_layer(compiler.cache, &key, &blob)?;
    Ok(LayerReport {
        what,
        blob,
        reused: false,
    })
}

/// The bytecode of the standard library of the base the compiler runs.
pub(super) fn here_stdlib_bytecode(compiler: &Compiler, base: &BuiltBase) -> Result<Vec<Entry>> {
    match base
        .early
        .as_ref()
        .and_then(|early| early.take_started::<Running>())
        .map(Running::finish)
    {
        Some(Ok(compiled)) => Ok(compiled),
        Some(Err(e)) => {
            eprintln!("warning: {e:#}; compiling the standard library again");
            compiler.compile(&[], true)
        }
        None => compiler.compile(&[], true),
    }
}

/// `/usr/bin/python3.11` → `/usr/lib/python3.11`: where the interpreter's
/// standard library is, beside its `bin`.
pub(super) fn stdlib_dir(executable: &str, version: &str) -> String {
    let prefix = executable
        .trim_end_matches(|c| c != '/')
        .trim_end_matches('/')
        .trim_end_matches("/bin");
    format!("{prefix}/lib/python{version}")
}

/// `entries` plus the bytecode of their `.py` files, when compiling.
pub(super) fn with_bytecode(
    entries: Vec<Entry>,
    compiler: Option<&Compiler>,
) -> Result<Vec<Entry>> {
    let Some(compiler) = compiler else {
        return Ok(entries);
    };
    let compiled = compiler.compile(&entries, false)?;
    let mut tree: BTreeMap<String, Entry> =
        entries.into_iter().map(|e| (e.path.clone(), e)).collect();
    for entry in compiled {
        tree.insert(entry.path.clone(), entry);
    }
    add_parents(&mut tree)?;
    Ok(tree.into_values().collect())
}

/// The part of a layer's key that says whether (and by which interpreter) it was compiled.
pub(super) fn bytecode_key(compiler: Option<&Compiler>) -> String {
    match compiler {
        Some(c) => format!(
            "bytecode format {BYTECODE_FORMAT} by {} in {}\n",
            c.python, c.image.config_digest
        ),
        None => "no bytecode\n".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_library_beside_the_interpreter() {
        assert_eq!(
            stdlib_dir("/usr/bin/python3.11", "3.11"),
            "/usr/lib/python3.11"
        );
        assert_eq!(
            stdlib_dir("/usr/local/bin/python3.12", "3.12"),
            "/usr/local/lib/python3.12"
        );
    }
}
