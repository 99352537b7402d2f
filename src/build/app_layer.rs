//! The app-layer stage: the app's files under /app (owned by root, read-
//! only to the app's user, the paths it writes made its own) and its own
//! project installed into the venv, with their bytecode.

use super::bytecode::{bytecode_key, with_bytecode};
use super::layers::{Layering, cached_layer};
use super::report::LayerReport;
use super::request::APP_DIR;
use crate::builder::sdist::SourceBuilder;
use crate::cache::Cache;
use crate::digest::sha256_hex;
use crate::oci::layer::{Entry, EntryKind, add_parents};
use crate::project::plan::Plan;
use crate::project::start::Started;
use crate::wheel::Venv;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

/// Bumped when the app layer's content for the same files changes (how
/// the app's own project is installed: Poetry's scripts).
pub(super) const APP_FORMAT: u32 = 2;

/// The app's files under /app, owned by root and read-only to the app user,
/// plus the app's own project (if it is one) installed into the venv.
/// App files at least this large are streamed from disk into the layer,
/// not read into memory.
pub(super) const LARGE_APP_FILE: u64 = 16 << 20;

pub(super) fn app_layer(
    l: &Layering,
    plan: &Plan,
    started: &Started,
    venv: &Venv,
    sources: &SourceBuilder,
) -> Result<LayerReport> {
    let (cache, compiler, epoch) = (l.cache, l.compiler, l.epoch);
    let mut tree = BTreeMap::new();
    let mut key = format!(
        "pypack app layer format {APP_FORMAT}\nepoch {epoch}\nvenv {} {} {}\n{}",
        venv.path,
        venv.base_python,
        venv.python_full_version,
        bytecode_key(compiler)
    );
    let mut contents = Vec::with_capacity(plan.files.len());
    for rel in &plan.files {
        let path = plan.app_dir.join(rel);
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path)?.to_string_lossy().into_owned();
            key.push_str(&format!("{rel} -> {target}\n"));
            let link = Entry::symlink(&format!("app/{rel}"), &target);
            tree.insert(link.path.clone(), link);
        } else {
            let mode = if meta.permissions().mode() & 0o111 != 0 {
                0o755
            } else {
                0o644
            };
            let unreadable = |e| crate::walk::unreadable(&path, e);
            // Small files are read once: hashed for the key now, kept for
            // the layer. Large ones (models, datasets) are hashed as they
            // stream and copied into the layer from disk.
            let (hash, content) = if meta.len() >= LARGE_APP_FILE {
                let hash = std::fs::File::open(&path)
                    .and_then(crate::digest::sha256_reader)
                    .map_err(unreadable)?;
                let size = meta.len();
                (hash, EntryKind::OnDisk { path, size })
            } else {
                let data = std::fs::read(&path).map_err(unreadable)?;
                (sha256_hex(&data), EntryKind::File(data))
            };
            key.push_str(&format!("{rel} {mode:o} {hash}\n"));
            contents.push((rel.clone(), content, mode));
        }
    }
    if let Ok(pyproject) = std::fs::read(plan.app_dir.join("pyproject.toml")) {
        key.push_str(&format!("pyproject {}\n", sha256_hex(&pyproject)));
    }
    for dir in &started.writable {
        key.push_str(&format!("writable {}\n", dir.value));
    }
    if started.launcher {
        // The command is a chain: the launcher that runs it ships with the app.
        let script = crate::project::chain::LAUNCHER_SCRIPT;
        key.push_str(&format!("launcher {}\n", sha256_hex(script.as_bytes())));
        let path = crate::project::chain::LAUNCHER.trim_start_matches('/');
        tree.insert(path.to_string(), Entry::file(path, script, 0o644));
    }
    if !started.processes.is_empty() {
        let dir = crate::project::start::PROCESS_DIR.trim_start_matches('/');
        tree.insert(dir.to_string(), Entry::dir(dir, 0o755));
        for process in &started.processes {
            let name = &process.value.name;
            let program = crate::project::chain::process_program(&process.value.steps);
            key.push_str(&format!(
                "process {name} {}\n",
                sha256_hex(program.as_bytes())
            ));
            let path = format!("{dir}/{name}");
            tree.insert(path.clone(), Entry::file(&path, program, 0o755));
        }
    }
    let what = format!("pypack: {} app files into {APP_DIR}", plan.files.len());
    if let Some(blob) = cached_layer(cache, &key) {
        return Ok(LayerReport {
            what,
            blob,
            reused: true,
        });
    }
    let project = match &plan.app_wheel {
        Some(why) => built_project(cache, plan, venv, sources, &contents)
            .with_context(|| format!("building the app's own project ({why})"))?,
        None => local_project(plan, venv)?,
    };
    for (rel, content, mode) in contents {
        let path = format!("app/{rel}");
        tree.insert(path.clone(), Entry::new(&path, content, mode));
    }
    tree.insert("app".into(), Entry::dir("app", 0o755));
    for entry in project {
        tree.insert(entry.path.clone(), entry);
    }
    // What the app writes to is its own; the rest of /app stays root's.
    for dir in &started.writable {
        if dir.value != "." {
            let path = format!("app/{}", dir.value);
            tree.entry(path.clone())
                .or_insert_with(|| Entry::dir(&path, 0o755));
        }
    }
    give_writable(&mut tree, &started.writable);
    add_parents(&mut tree)?;
    let entries = with_bytecode(tree.into_values().collect(), compiler)?;
    l.write(&key, what, "app", &entries)
}

/// Entries of `tree` (paths without a leading `/`) under the writable
/// paths made the app's own (65532); `.` is /app itself, the directory
/// alone, not what it holds.
pub(super) fn give_writable(
    tree: &mut BTreeMap<String, Entry>,
    writable: &[crate::project::decided::Decided<String>],
) {
    for dir in writable {
        let path = match dir.value.as_str() {
            "." => {
                if let Some(app) = tree.get_mut("app") {
                    (app.uid, app.gid) = (65532, 65532);
                }
                continue;
            }
            value => format!("app/{value}"),
        };
        for (p, entry) in tree.iter_mut() {
            if *p == path || p.starts_with(&format!("{path}/")) {
                entry.uid = 65532;
                entry.gid = 65532;
            }
        }
    }
}

/// Entries installing the app's own `[project]` into the venv from a wheel
/// the builder makes of the app's files (for projects whose code compiles).
pub(super) fn built_project(
    cache: &Cache,
    plan: &Plan,
    venv: &Venv,
    sources: &SourceBuilder,
    contents: &[(String, EntryKind, u32)],
) -> Result<Vec<Entry>> {
    let project = &plan.pyproject;
    let name = project.name.as_deref().unwrap_or(&plan.name);
    let version = project.version.as_deref().unwrap_or("0");
    // The sdist is made in memory, large files and all: a project built
    // as a wheel ships its files in it.
    let files = contents
        .iter()
        .map(|(rel, content, mode)| {
            let data = content.content()?.unwrap_or_default().into_owned();
            Ok((rel.clone(), data, *mode))
        })
        .collect::<Result<Vec<_>>>()?;
    let wheel = sources.build_tree(name, version, &files)?;
    crate::wheel::install(cache, venv, &wheel.sha256, &wheel.filename)
}

/// Entries installing the app's own `[project]` into the venv, editable-style.
pub(super) fn local_project(plan: &Plan, venv: &Venv) -> Result<Vec<Entry>> {
    let project = &plan.pyproject;
    let Some(name) = project.name.as_deref() else {
        return Ok(Vec::new());
    };
    let source_root = if plan.app_dir.join("src").is_dir() {
        format!("{APP_DIR}/src")
    } else {
        APP_DIR.to_string()
    };
    let local = crate::wheel::LocalProject {
        name,
        version: project.version.as_deref().unwrap_or("0"),
        requires_python: project.requires_python.as_deref(),
        dependencies: project
            .dependencies
            .iter()
            .map(|d| d.requirement.to_string())
            .collect(),
        entry_points: &project.entry_points,
        project_root: APP_DIR.into(),
        source_root,
    };
    crate::wheel::install_local_project(venv, &local)
}
