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
use crate::base::unpacked::UnpackedPython;
use crate::cache::Cache;
use crate::oci::Image;
use crate::oci::layer::{Entry, EntryKind, FilePart, KeptFile, check_entry_path};
use anyhow::{Context, Result, bail};
use std::io::Write;
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
    /// allowed and that works (`early`: already unpacked where a base being
    /// built wrote its files), else in `engine`; `None` when neither is possible.
    pub fn new(
        cache: &'a Cache,
        image: &'a Image,
        python: &'a str,
        host: bool,
        early: Option<UnpackedPython>,
        engine: Option<&'a Engine>,
    ) -> Option<Compiler<'a>> {
        let unpacked = match (host, early) {
            (true, Some(early)) => Some(early),
            (true, None) => UnpackedPython::prepare(cache, image, python)
                .inspect_err(|e| {
                    if std::env::var_os("PYPACK_TIMINGS").is_some() {
                        eprintln!("note: bytecode in a container: {e:#}");
                    }
                })
                .ok(),
            (false, _) => None,
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
    if let Some(unpacked) = &compiler.unpacked {
        let on_host =
            Running::start(compiler.cache, unpacked, files, stdlib).and_then(Running::finish);
        match (on_host, compiler.engine) {
            (Ok(entries), _) => return Ok(entries),
            (Err(e), None) => return Err(e),
            // A cache carried to another machine, say: the engine still can.
            (Err(e), Some(engine)) => {
                eprintln!("warning: {e:#}; compiling in {} instead", engine.program)
            }
        }
    }
    let engine = compiler
        .engine
        .context("internal: a compiler with no way to run the interpreter")?;
    let (work, has_sources) = work_dir(compiler.cache, files)?;
    in_engine(compiler, engine, work.path(), has_sources, stdlib)?;
    compiled_entries(work)
}

/// A directory for one run of the compile script: the script, the sources
/// (whether there are any is returned), an empty `out`.
fn work_dir(cache: &Cache, files: &[Entry]) -> Result<(tempfile::TempDir, bool)> {
    let work = tempfile::tempdir_in(cache.root().join("tmp"))?;
    std::fs::create_dir(work.path().join("out"))?;
    std::fs::write(work.path().join("compile.py"), SCRIPT)?;
    let has_sources = write_source_records(files, &work.path().join("sources"))?;
    Ok((work, has_sources))
}

/// The compile script running with the unpacked interpreter, in a process
/// of its own: a base being built starts its standard library's while its
/// layer is still compressed, and collects it later. Dropped unfinished,
/// the process is killed.
pub struct Running {
    child: Option<std::process::Child>,
    /// Taken by `finish`: the `.pyc` entries keep it.
    work: Option<tempfile::TempDir>,
}

impl Running {
    /// Starts compiling `files` (see [`Compiler::compile`]) and, with
    /// `stdlib`, the standard library of the unpacked image.
    pub fn start(
        cache: &Cache,
        unpacked: &UnpackedPython,
        files: &[Entry],
        stdlib: bool,
    ) -> Result<Running> {
        let (work, has_sources) = work_dir(cache, files)?;
        let mut command = unpacked.command();
        command
            // Set and frozenset constants are marshalled in hash order.
            .env("PYTHONHASHSEED", "0")
            .args(["-s", "-S"])
            .arg(work.path().join("compile.py"))
            .arg(work.path().join("out"));
        if stdlib {
            command.arg(format!("--stdlib={}", unpacked.host_path("/")?.display()));
        }
        if has_sources {
            command.arg("--sources").arg(work.path().join("sources"));
        }
        // Its messages go to a file: nobody reads a pipe while it runs.
        let log = std::fs::File::create(work.path().join("log"))?;
        let child = command
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("running the image's interpreter")?;
        Ok(Running {
            child: Some(child),
            work: Some(work),
        })
    }

    /// Waits for the script; its `.pyc` entries.
    pub fn finish(mut self) -> Result<Vec<Entry>> {
        let status = self
            .child
            .take()
            .expect("a running compile has its process")
            .wait()?;
        let work = self
            .work
            .take()
            .expect("a running compile has its directory");
        if !status.success() {
            let log = std::fs::read_to_string(work.path().join("log")).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            bail!(
                "compiling bytecode with the image's interpreter failed:\n{}",
                lines[lines.len().saturating_sub(20)..].join("\n")
            );
        }
        compiled_entries(work)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Writes the `.py` files among `files` to `dest` as the compile script
/// reads them: for each, its path in the image, a newline, its length, a
/// newline, its bytes (read from disk for a file that is there, one at a
/// time). Whether there was any; with none, `dest` is not made.
fn write_source_records(files: &[Entry], dest: &Path) -> Result<bool> {
    let mut sources = files
        .iter()
        .filter(|e| e.path.ends_with(".py"))
        .filter(|e| matches!(e.kind, EntryKind::File(_) | EntryKind::OnDisk { .. }))
        .peekable();
    if sources.peek().is_none() {
        return Ok(false);
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(dest)?);
    for entry in sources {
        let data = entry.content()?.unwrap_or_default();
        out.write_all(format!("/{}\n{}\n", entry.path, data.len()).as_bytes())?;
        out.write_all(&data)?;
    }
    out.flush()?;
    Ok(true)
}

/// The `.pyc` entries the compile script wrote into `work`'s `out` (records
/// in files named 0, 1, ...), each at its image path, mode 0644, owned by
/// root. Their bytes stay in those files, which stay until the last entry
/// is dropped: a large venv's bytecode is not held in memory.
fn compiled_entries(work: tempfile::TempDir) -> Result<Vec<Entry>> {
    // The sources are done with; only the records are kept.
    let _ = std::fs::remove_file(work.path().join("sources"));
    let out = work.path().join("out");
    let work = std::sync::Arc::new(work);
    let mut parts: Vec<(u32, std::path::PathBuf)> = Vec::new();
    for dirent in std::fs::read_dir(&out)? {
        let path = dirent?.path();
        let number = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse().ok())
            .with_context(|| {
                format!("unexpected file {} from the compile script", path.display())
            })?;
        parts.push((number, path));
    }
    parts.sort();
    let mut entries = Vec::new();
    for (_, path) in parts {
        let file = std::sync::Arc::new(KeptFile::new(path, work.clone()));
        parse_records(&file, &mut entries)
            .with_context(|| format!("reading the compile script's {}", file.path.display()))?;
    }
    Ok(entries)
}

/// The records of `file` as entries naming their bytes in it.
fn parse_records(file: &std::sync::Arc<KeptFile>, entries: &mut Vec<Entry>) -> Result<()> {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::new(std::fs::File::open(&file.path)?);
    let len = std::fs::metadata(&file.path)?.len();
    let mut at = 0u64;
    let line = |reader: &mut std::io::BufReader<std::fs::File>, at: &mut u64| -> Result<String> {
        let mut text = Vec::new();
        reader.read_until(b'\n', &mut text)?;
        *at += text.len() as u64;
        if text.pop() != Some(b'\n') {
            bail!("a record ends early");
        }
        Ok(String::from_utf8(text)?)
    };
    while at < len {
        let path = line(&mut reader, &mut at)?;
        let size: u64 = line(&mut reader, &mut at)?
            .parse()
            .context("a record's length")?;
        if size > len - at {
            bail!("the record of {path} runs past the end");
        }
        let path = path.trim_start_matches('/');
        check_entry_path(path)?;
        let part = FilePart {
            file: file.clone(),
            offset: at,
            size,
        };
        entries.push(Entry::new(path, EntryKind::Part(part), 0o644));
        reader.seek_relative(size as i64)?;
        at += size;
    }
    Ok(())
}

/// The standard library's `.py` files in `image`'s layers, as the compile
/// script finds them in place (`--stdlib`): under `stdlib_dir` (e.g.
/// `/usr/lib/python3.11`), without site-packages, dist-packages and
/// `__pycache__`, and without those that already have their `.pyc` (`tag`
/// e.g. `cpython-311`); a `.py` symlink gets the file it points to. For an
/// image of another platform, whose interpreter cannot run here: the same
/// sources are compiled by this machine's interpreter of the same version.
pub fn stdlib_sources(
    cache: &Cache,
    image: &Image,
    stdlib_dir: &str,
    tag: &str,
) -> Result<Vec<Entry>> {
    let prefix = format!("{}/", stdlib_dir.trim_matches('/'));
    let wanted = |path: &str| {
        path.strip_prefix(&prefix).is_some_and(|rest| {
            rest.split('/')
                .all(|part| !["__pycache__", "site-packages", "dist-packages"].contains(&part))
        })
    };
    let mut sources: std::collections::BTreeMap<String, Entry> = Default::default();
    let mut compiled = std::collections::BTreeSet::new();
    let mut links: Vec<(String, String)> = Vec::new();
    for_each_layer_file(cache, image, &mut |path, entry| {
        if path.starts_with(&prefix) && path.ends_with(".pyc") {
            compiled.insert(path.to_string());
        } else if path.ends_with(".py") && wanted(path) {
            match entry {
                LayerFile::Data(data) => {
                    sources.insert(path.into(), Entry::file(path, data, 0o644));
                }
                LayerFile::Link(target) => links.push((path.into(), target)),
            }
        }
        Ok(())
    })?;
    if !links.is_empty() {
        let targets: std::collections::BTreeMap<String, String> = links
            .iter()
            .map(|(path, target)| (link_target(path, target), path.clone()))
            .collect();
        for_each_layer_file(cache, image, &mut |path, entry| {
            if let (Some(source), LayerFile::Data(data)) = (targets.get(path), entry) {
                sources.insert(source.clone(), Entry::file(source, data, 0o644));
            }
            Ok(())
        })?;
    }
    let has_pyc = |path: &str| {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let stem = name.trim_end_matches(".py");
        compiled.contains(&format!("{dir}/__pycache__/{stem}.{tag}.pyc"))
    };
    Ok(sources
        .into_values()
        .filter(|entry| !has_pyc(&entry.path))
        .collect())
}

/// A file of a layer as [`for_each_layer_file`] hands it over.
enum LayerFile {
    Data(Vec<u8>),
    /// A symlink and its target as written.
    Link(String),
}

/// Calls `each` with the path (no leading `/`) of every regular file and
/// symlink in the image's layers, bottom layer first. A file's bytes are
/// read only when `each` can use them (a `.py` file).
fn for_each_layer_file(
    cache: &Cache,
    image: &Image,
    each: &mut dyn FnMut(&str, LayerFile) -> Result<()>,
) -> Result<()> {
    for layer in &image.layers {
        let hex = crate::digest::strip_sha256(&layer.digest)?;
        let file = std::fs::File::open(cache.blob_path(hex))
            .with_context(|| format!("reading layer {}", layer.digest))?;
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
        for member in archive.entries()? {
            let mut member = member?;
            let path = member.path()?.to_string_lossy().into_owned();
            let path = path
                .trim_start_matches("./")
                .trim_start_matches('/')
                .to_string();
            let kind = member.header().entry_type();
            if kind.is_symlink() {
                let target = member
                    .link_name()?
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default();
                each(&path, LayerFile::Link(target))?;
            } else if kind.is_file() {
                let data = if path.ends_with(".py") {
                    let mut data = Vec::with_capacity(member.size() as usize);
                    std::io::Read::read_to_end(&mut member, &mut data)?;
                    data
                } else {
                    Vec::new()
                };
                each(&path, LayerFile::Data(data))?;
            }
        }
    }
    Ok(())
}

/// Where a symlink at `path` pointing to `target` leads (no leading `/`).
fn link_target(path: &str, target: &str) -> String {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        path.split('/').collect::<Vec<_>>()[..path.matches('/').count()].to_vec()
    };
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
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
        "-S".into(),
        "/pypack/compile.py".into(),
        "/pypack/out".into(),
    ];
    if stdlib {
        argv.push("--stdlib".into());
    }
    let mut step = Step {
        image: engine.ensure_image(
            compiler.cache,
            compiler.image,
            super::engine::RUNTIME_IMAGES,
        )?,
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
        step = step.mount(&work.join("sources"), "/pypack/sources", false);
        step.argv
            .extend(["--sources".into(), "/pypack/sources".into()]);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_lead_where_they_point() {
        assert_eq!(
            link_target(
                "usr/lib/python3.11/sitecustomize.py",
                "/etc/python3.11/sitecustomize.py"
            ),
            "etc/python3.11/sitecustomize.py"
        );
        assert_eq!(
            link_target("usr/lib/python3.11/a.py", "../../share/b.py"),
            "usr/share/b.py"
        );
        assert_eq!(link_target("usr/lib/x.py", "y.py"), "usr/lib/y.py");
    }

    #[test]
    fn stdlib_sources_of_another_platforms_image() {
        use crate::oci::image::{ContainerConfig, LayerSpec, assemble};
        use crate::oci::layer::write_layer;
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(dir.path())).unwrap();
        let entries = [
            Entry::file("etc/python3.11/sitecustomize.py", "import x\n", 0o644),
            Entry::file("usr/lib/python3.11/os.py", "import sys\n", 0o644),
            Entry::file("usr/lib/python3.11/json/__init__.py", "", 0o644),
            Entry::symlink(
                "usr/lib/python3.11/sitecustomize.py",
                "/etc/python3.11/sitecustomize.py",
            ),
            Entry::file("usr/lib/python3.11/done.py", "", 0o644),
            Entry::file(
                "usr/lib/python3.11/__pycache__/done.cpython-311.pyc",
                "",
                0o644,
            ),
            Entry::file("usr/lib/python3/dist-packages/apt.py", "", 0o644),
            Entry::file("usr/lib/python3.11/site-packages/x.py", "", 0o644),
            Entry::file("usr/lib/python3.11/lib-dynload/m.so", "\x7fELF", 0o644),
        ];
        let blob = write_layer(&cache, &entries, 0).unwrap();
        let layers = [LayerSpec {
            blob,
            created_by: "test".into(),
        }];
        let platform = crate::platform::Platform::parse("linux/arm64").unwrap();
        let image = assemble(
            &cache,
            platform,
            &ContainerConfig::default(),
            &layers,
            0,
            &Default::default(),
        )
        .unwrap();
        let found = stdlib_sources(&cache, &image, "/usr/lib/python3.11", "cpython-311").unwrap();
        let paths: Vec<&str> = found.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "usr/lib/python3.11/json/__init__.py",
                "usr/lib/python3.11/os.py",
                "usr/lib/python3.11/sitecustomize.py"
            ]
        );
        assert_eq!(found[2].kind, EntryKind::File(b"import x\n".to_vec()));
    }

    #[test]
    fn sources_go_out_and_compiled_records_come_back_as_entries() {
        let dir = tempfile::tempdir().unwrap();
        let on_disk = dir.path().join("big.py");
        std::fs::write(&on_disk, "x = 1\n").unwrap();
        let files = [
            Entry::file("app/app.py", "print('a')\n", 0o644),
            Entry::file("app/data.txt", "not python", 0o644),
            Entry::new(
                "app/big.py",
                EntryKind::OnDisk {
                    path: on_disk,
                    size: 6,
                },
                0o644,
            ),
            Entry::file("app/pkg/mod.py", "", 0o644),
        ];
        let records = dir.path().join("sources");
        assert!(write_source_records(&files, &records).unwrap());
        assert_eq!(
            std::fs::read(&records).unwrap(),
            b"/app/app.py\n11\nprint('a')\n/app/big.py\n6\nx = 1\n/app/pkg/mod.py\n0\n".to_vec()
        );
        let none = dir.path().join("none");
        assert!(!write_source_records(&files[1..2], &none).unwrap());
        assert!(!none.exists());
        let records = |data: &[u8]| -> Result<Vec<(String, Vec<u8>)>> {
            let work = std::sync::Arc::new(tempfile::tempdir().unwrap());
            let path = work.path().join("0");
            std::fs::write(&path, data).unwrap();
            let mut entries = Vec::new();
            parse_records(
                &std::sync::Arc::new(KeptFile::new(path, work)),
                &mut entries,
            )?;
            Ok(entries
                .into_iter()
                .map(|e| (e.path.clone(), e.content().unwrap().unwrap().into_owned()))
                .collect())
        };
        assert_eq!(
            records(b"/app/__pycache__/app.cpython-311.pyc\n3\n\x01\n\x02/app/pkg/__pycache__/mod.cpython-311.pyc\n0\n").unwrap(),
            [
                ("app/__pycache__/app.cpython-311.pyc".to_string(), b"\x01\n\x02".to_vec()),
                ("app/pkg/__pycache__/mod.cpython-311.pyc".to_string(), Vec::new()),
            ]
        );
        for bad in [
            &b"/app/x.pyc\n9\nshort"[..],
            b"/app/x.pyc\nten\n",
            b"/app/x.pyc",
            b"/../etc/passwd\n1\nx",
        ] {
            assert!(records(bad).is_err(), "{bad:?}");
        }
    }
}
