//! The native library audit: every ELF file the venv and the app bring is
//! checked the way the dynamic loader will load it in the image — each
//! `DT_NEEDED` name looked up through the file's `RPATH` (and its loaders'),
//! `RUNPATH` (with `$ORIGIN`), then the base's library directories — and
//! what no place provides is reported with the file and the wheel that need
//! it. What a layer holds is summarised once per layer digest and what a base
//! provides once per base, so a rebuild audits in microseconds.

pub mod base_libraries;
pub mod elf;
pub mod ldcache;

use crate::oci::layer::{Entry, EntryKind};
use anyhow::{Context, Result};
use elf::ElfFacts;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashSet};

pub use base_libraries::BaseLibraries;

/// One ELF file in a layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElfObject {
    /// Path in the image, without the leading `/`.
    pub path: String,
    /// Who shipped it: `numpy 2.4.6`, or `the app`.
    pub owner: String,
    pub facts: ElfFacts,
}

/// What a layer holds that the loader looks at: its ELF files and the paths
/// of every library-like name (`*.so*`, files and links) they may find.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerLibraries {
    pub objects: Vec<ElfObject>,
    pub libraries: Vec<String>,
}

/// A library no place provides, and who needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub library: String,
    /// (owner, path in the image), sorted.
    pub needed_by: Vec<(String, String)>,
}

/// Summarises `entries` (a venv or app layer). ELF files of another machine
/// than `machine` are left out: nothing on the target can load them.
pub fn scan(entries: &[Entry], machine: u16) -> Result<LayerLibraries> {
    let owners = owners_from_records(entries);
    let mut out = LayerLibraries::default();
    for entry in entries {
        let name = entry.path.rsplit('/').next().unwrap_or(&entry.path);
        if name.contains(".so") && !matches!(entry.kind, EntryKind::Dir) {
            out.libraries.push(entry.path.clone());
        }
        let read = match &entry.kind {
            EntryKind::File(data) if elf::is_elf(data) => elf::read(data),
            // A file on disk (a wheel's, a large one of the app's): only the
            // parts that name libraries are read.
            EntryKind::OnDisk { path, .. } if starts_as_elf(path) => {
                elf::read_file(path).with_context(|| format!("reading {}", path.display()))
            }
            _ => continue,
        };
        let facts = match read {
            Ok(Some(facts)) if facts.machine == machine => facts,
            Ok(_) => continue,
            Err(e) => {
                eprintln!(
                    "warning: /{}: {e:#}; its libraries are not checked",
                    entry.path
                );
                continue;
            }
        };
        out.objects.push(ElfObject {
            path: entry.path.clone(),
            owner: owner_of(&owners, &entry.path),
            facts,
        });
    }
    out.libraries.sort();
    Ok(out)
}

/// The entries of a gzip layer as `scan` needs them: the content of ELF
/// files and RECORDs only, so a layer of large data files is not read
/// into memory.
fn entries_to_scan(layer: impl std::io::Read) -> Result<Vec<Entry>> {
    use std::io::Read as _;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(layer));
    let mut entries = Vec::new();
    for member in archive.entries()? {
        let mut member = member?;
        let path = member
            .path()?
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        let kind = match member.header().entry_type() {
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut data = Vec::new();
                (&mut member).take(4).read_to_end(&mut data)?;
                if elf::is_elf(&data) || path.ends_with(".dist-info/RECORD") {
                    member.read_to_end(&mut data)?;
                }
                EntryKind::File(data)
            }
            // Links carry no content to scan; their names still count.
            _ => EntryKind::Hardlink(String::new()),
        };
        entries.push(Entry::new(&path, kind, 0));
    }
    Ok(entries)
}

fn starts_as_elf(path: &std::path::Path) -> bool {
    use std::io::Read as _;
    let mut head = [0u8; 4];
    std::fs::File::open(path).is_ok_and(|mut f| f.read_exact(&mut head).is_ok())
        && elf::is_elf(&head)
}

/// Bumped when what a layer's summary records changes.
const LAYER_FORMAT: u32 = 1;

/// What the ELF files of the layer `blob` need: from the cache, else from
/// `entries` (the layer's content, when at hand) or the layer read back.
pub fn layer_libraries(
    cache: &crate::cache::Cache,
    blob: &crate::oci::layer::LayerBlob,
    entries: Option<&[Entry]>,
    machine: u16,
) -> Result<LayerLibraries> {
    let key = format!(
        "layer libraries format {LAYER_FORMAT}\n{}\nmachine {machine}\n",
        blob.digest
    );
    if let Some(known) = cache
        .get_ref("layer-libraries", &key)
        .and_then(|text| serde_json::from_str(&text).ok())
    {
        return Ok(known);
    }
    let scanned = match entries {
        Some(entries) => scan(entries, machine)?,
        None => {
            let hex = crate::digest::strip_sha256(&blob.digest)?;
            cache.verify_blob(hex)?;
            let file = std::fs::File::open(cache.blob_path(hex))?;
            scan(&entries_to_scan(file)?, machine)?
        }
    };
    cache.set_ref("layer-libraries", &key, &serde_json::to_string(&scanned)?)?;
    Ok(scanned)
}

/// Image path → `name version`, from every `*.dist-info/RECORD` in `entries`.
fn owners_from_records(entries: &[Entry]) -> BTreeMap<String, String> {
    let mut owners = BTreeMap::new();
    for entry in entries {
        let (Some(dist_info), EntryKind::File(data)) =
            (entry.path.strip_suffix("/RECORD"), &entry.kind)
        else {
            continue;
        };
        let Some((site, dir)) = dist_info.rsplit_once('/') else {
            continue;
        };
        let Some(stem) = dir.strip_suffix(".dist-info") else {
            continue;
        };
        let owner = match stem.split_once('-') {
            Some((name, version)) => format!("{} {version}", crate::index::normalize_name(name)),
            None => stem.to_string(),
        };
        let Ok(rows) = crate::wheel::dist_info::parse_record(&String::from_utf8_lossy(data)) else {
            continue;
        };
        for row in rows {
            owners.insert(normalize(&format!("{site}/{}", row.path)), owner.clone());
        }
    }
    owners
}

fn owner_of(owners: &BTreeMap<String, String>, path: &str) -> String {
    owners
        .get(path)
        .cloned()
        .unwrap_or_else(|| "the app".to_string())
}

/// `a/b/../c` → `a/c` (no leading `/`).
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// A search directory from an `RPATH`/`RUNPATH` entry of the file at `path`.
fn expand(dir: &str, path: &str) -> String {
    let origin = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let expanded = dir
        .replace("${ORIGIN}", &format!("/{origin}"))
        .replace("$ORIGIN", &format!("/{origin}"));
    normalize(&expanded)
}

/// What the audit of an image's added layers found missing, given what the
/// base provides. `ignored` names are treated as present.
pub fn audit(layers: &[&LayerLibraries], base: &BaseLibraries, ignored: &[String]) -> Vec<Need> {
    let available: BTreeSet<&str> = layers
        .iter()
        .flat_map(|l| l.libraries.iter().map(String::as_str))
        .collect();
    let objects: BTreeMap<&str, &ElfObject> = layers
        .iter()
        .flat_map(|l| l.objects.iter())
        .map(|o| (o.path.as_str(), o))
        .collect();
    // Roots: what nothing else in the layers needs (extension modules,
    // executables); the rest is reached through them, with their RPATHs.
    let needed_names: BTreeSet<&str> = objects
        .values()
        .flat_map(|o| o.facts.needed.iter().map(String::as_str))
        .collect();
    let walk = Walk {
        available: &available,
        objects: &objects,
        base,
        ignored,
    };
    let mut missing: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    let mut seen = HashSet::new();
    for object in objects.values() {
        let name = object.path.rsplit('/').next().unwrap_or(&object.path);
        let is_dependency = needed_names.contains(name)
            || object
                .facts
                .soname
                .as_deref()
                .is_some_and(|s| needed_names.contains(s));
        if !is_dependency {
            walk.visit(object, &[], &mut seen, &mut missing);
        }
    }
    missing
        .into_iter()
        .map(|(library, by)| Need {
            library,
            needed_by: by.into_iter().collect(),
        })
        .collect()
}

struct Walk<'a> {
    available: &'a BTreeSet<&'a str>,
    objects: &'a BTreeMap<&'a str, &'a ElfObject>,
    base: &'a BaseLibraries,
    ignored: &'a [String],
}

impl Walk<'_> {
    /// Resolves `object`'s needs as the loader does, `inherited` being the
    /// RPATH directories of the objects that loaded it (none with RUNPATH).
    fn visit(
        &self,
        object: &ElfObject,
        inherited: &[String],
        seen: &mut HashSet<(String, BTreeSet<String>)>,
        missing: &mut BTreeMap<String, BTreeSet<(String, String)>>,
    ) {
        // Once per object and set of inherited directories: libraries that
        // need each other (with RPATH $ORIGIN) must not send this round forever.
        let key = (object.path.clone(), inherited.iter().cloned().collect());
        if !seen.insert(key) {
            return;
        }
        let facts = &object.facts;
        let own = |dirs: &[String]| -> Vec<String> {
            dirs.iter().map(|d| expand(d, &object.path)).collect()
        };
        let (rpath, runpath) = (own(&facts.rpath), own(&facts.runpath));
        let mut dirs: Vec<String> = Vec::new();
        let mut passed_on: Vec<String> = Vec::new();
        if runpath.is_empty() {
            for dir in rpath.iter().chain(inherited) {
                if !dirs.contains(dir) {
                    dirs.push(dir.clone());
                }
            }
            passed_on = dirs.clone();
        }
        dirs.extend(runpath);
        for name in &facts.needed {
            if self.ignored.iter().any(|i| i == name) {
                continue;
            }
            let found = if name.contains('/') {
                Some(normalize(name))
            } else {
                dirs.iter()
                    .map(|d| normalize(&format!("{d}/{name}")))
                    .find(|p| self.available.contains(p.as_str()))
            };
            // A library a package ships under another file name, whose
            // SONAME is the name needed (fmpy's sundials_*.so): the package
            // loads it by path first, and the loader then knows it by SONAME.
            let found = found.or_else(|| {
                self.objects
                    .values()
                    .find(|o| o.facts.soname.as_deref() == Some(name.as_str()))
                    .map(|o| o.path.clone())
            });
            match found {
                Some(path) => {
                    if let Some(dependency) = self.objects.get(path.as_str()) {
                        self.visit(dependency, &passed_on, seen, missing);
                    }
                }
                None if self.base.provides(name) => {}
                None => {
                    missing
                        .entry(name.clone())
                        .or_default()
                        .insert((object.owner.clone(), object.path.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(path: &str, needed: &[&str], rpath: &[&str], runpath: &[&str]) -> ElfObject {
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        ElfObject {
            path: path.into(),
            owner: "pkg 1.0".into(),
            facts: ElfFacts {
                machine: elf::EM_X86_64,
                is_64: true,
                needed: strings(needed),
                rpath: strings(rpath),
                runpath: strings(runpath),
                soname: None,
            },
        }
    }

    fn base(names: &[&str]) -> BaseLibraries {
        BaseLibraries {
            libraries: names
                .iter()
                .map(|n| (n.to_string(), format!("/usr/lib/x86_64-linux-gnu/{n}")))
                .collect(),
            ..BaseLibraries::default()
        }
    }

    #[test]
    fn origin_rpaths_chains_and_the_base() {
        let site = "app/.venv/lib/python3.11/site-packages";
        let ext = object(
            &format!("{site}/pkg/_core/ext.so"),
            &["libopenblas-ab12.so", "libc.so.6", "libstdc++.so.6"],
            &["$ORIGIN/../../pkg.libs"],
            &[],
        );
        // The grafted library finds its own dependency only through the
        // extension's RPATH, which it inherits (it has no RUNPATH).
        let blas = object(
            &format!("{site}/pkg.libs/libopenblas-ab12.so"),
            &["libgfortran-cd34.so.5"],
            &[],
            &[],
        );
        let gfortran = object(
            &format!("{site}/pkg.libs/libgfortran-cd34.so.5"),
            &["libquadmath.so.0"],
            &[],
            &[],
        );
        let layer = LayerLibraries {
            libraries: vec![blas.path.clone(), gfortran.path.clone(), ext.path.clone()],
            objects: vec![ext, blas, gfortran],
        };
        let needs = audit(&[&layer], &base(&["libc.so.6"]), &[]);
        let names: Vec<&str> = needs.iter().map(|n| n.library.as_str()).collect();
        assert_eq!(names, ["libquadmath.so.0", "libstdc++.so.6"]);
        assert_eq!(needs[1].needed_by[0].1, format!("{site}/pkg/_core/ext.so"));
        assert_eq!(needs[1].needed_by[0].0, "pkg 1.0");
        assert!(
            audit(
                &[&layer],
                &base(&["libc.so.6", "libstdc++.so.6", "libquadmath.so.0"]),
                &[]
            )
            .is_empty()
        );
        let ignored = audit(
            &[&layer],
            &base(&["libc.so.6", "libquadmath.so.0"]),
            &["libstdc++.so.6".into()],
        );
        assert!(ignored.is_empty());
    }

    #[test]
    fn a_library_shipped_under_another_file_name_is_found_by_its_soname() {
        let mut ships = object(
            "app/.venv/lib/python3.11/site-packages/fmpy/sundials/sundials_sunmatrixdense.so",
            &[],
            &[],
            &[],
        );
        ships.facts.soname = Some("libsundials_sunmatrixdense.so.5".into());
        let needs = object(
            "app/.venv/lib/python3.11/site-packages/fmpy/sundials/sundials_sunlinsoldense.so",
            &["libsundials_sunmatrixdense.so.5"],
            &["$ORIGIN"],
            &[],
        );
        let layer = LayerLibraries {
            libraries: [&ships, &needs].iter().map(|o| o.path.clone()).collect(),
            objects: vec![ships, needs],
        };
        assert!(audit(&[&layer], &base(&[]), &[]).is_empty());
    }

    #[test]
    fn libraries_that_need_each_other_are_walked_once() {
        // As in wheels whose bundled libraries link each other, all with RPATH $ORIGIN.
        let ext = object("v/pkg/ext.so", &["liba.so"], &["$ORIGIN/../pkg.libs"], &[]);
        let a = object(
            "v/pkg.libs/liba.so",
            &["libb.so", "libc.so.6"],
            &["$ORIGIN"],
            &[],
        );
        let b = object(
            "v/pkg.libs/libb.so",
            &["liba.so", "libgone.so.1"],
            &["$ORIGIN"],
            &[],
        );
        let layer = LayerLibraries {
            libraries: vec![a.path.clone(), b.path.clone()],
            objects: vec![ext, a, b],
        };
        let needs = audit(&[&layer], &base(&["libc.so.6"]), &[]);
        assert_eq!(needs.len(), 1);
        assert_eq!(needs[0].library, "libgone.so.1");
    }

    #[test]
    fn runpath_is_not_inherited_and_blocks_rpath() {
        let ext = object("v/pkg/ext.so", &["liba.so"], &["$ORIGIN/libs"], &[]);
        let a = object("v/pkg/libs/liba.so", &["libb.so"], &[], &["/nowhere"]);
        let b = object("v/pkg/libs/libb.so", &[], &[], &[]);
        let layer = LayerLibraries {
            libraries: vec![a.path.clone(), b.path.clone()],
            objects: vec![ext, a, b],
        };
        let needs = audit(&[&layer], &base(&[]), &[]);
        assert_eq!(needs.len(), 1);
        assert_eq!(needs[0].library, "libb.so");
    }

    #[test]
    fn owners_come_from_record() {
        let record = "numpy/_core/x.so,sha256=abc,3\nnumpy-2.4.6.dist-info/RECORD,,\n";
        let entries = vec![
            Entry::file(
                "app/.venv/lib/python3.11/site-packages/numpy-2.4.6.dist-info/RECORD",
                record,
                0o644,
            ),
            Entry::file(
                "app/.venv/lib/python3.11/site-packages/numpy/_core/x.so",
                b"not elf".to_vec(),
                0o755,
            ),
        ];
        let owners = owners_from_records(&entries);
        assert_eq!(
            owner_of(
                &owners,
                "app/.venv/lib/python3.11/site-packages/numpy/_core/x.so"
            ),
            "numpy 2.4.6"
        );
        assert_eq!(owner_of(&owners, "app/main.so"), "the app");
        let layer = scan(&entries, elf::EM_X86_64).unwrap();
        assert!(layer.objects.is_empty());
        assert_eq!(layer.libraries.len(), 1);
    }
}
