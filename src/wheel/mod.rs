//! Installing wheels into a virtual environment tree for the image, without
//! running Python: files placed per the binary distribution format, each one
//! checked against the wheel's RECORD, entry-point scripts generated with the
//! image's interpreter path, and RECORD rewritten for what was installed.

pub mod dist_info;
pub mod unpacked;

use crate::cache::Cache;
use crate::oci::layer::{Entry, EntryKind, check_entry_path};
use anyhow::{Context, Result, bail};
use dist_info::parse_entry_points;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use unpacked::Unpacked;

/// A venv inside the image, e.g. at `/app/.venv` for CPython 3.11.
#[derive(Debug, Clone)]
pub struct Venv {
    /// Absolute path in the image, e.g. `/app/.venv`.
    pub path: String,
    /// The base image's interpreter, e.g. `/usr/bin/python3.11`.
    pub base_python: String,
    /// `3.11`
    pub python_version: String,
    /// `3.11.2`
    pub python_full_version: String,
}

impl Venv {
    fn rel(&self) -> String {
        self.path.trim_matches('/').to_string()
    }

    pub fn site_packages(&self) -> String {
        format!(
            "{}/lib/python{}/site-packages",
            self.rel(),
            self.python_version
        )
    }

    fn bin(&self) -> String {
        format!("{}/bin", self.rel())
    }

    /// The interpreter path scripts run with.
    pub fn python(&self) -> String {
        format!("{}/bin/python", self.path.trim_end_matches('/'))
    }

    /// `pyvenv.cfg`, the `bin/python*` links to the base interpreter, and the
    /// empty site-packages, as `python -m venv` would make them.
    pub fn skeleton(&self) -> Vec<Entry> {
        let home = Path::new(&self.base_python)
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let cfg = format!(
            "home = {home}\ninclude-system-site-packages = false\nversion = {}\nexecutable = {}\ncommand = {} -m venv {}\n",
            self.python_full_version, self.base_python, self.base_python, self.path
        );
        let bin = self.bin();
        vec![
            Entry::file(&format!("{}/pyvenv.cfg", self.rel()), cfg, 0o644),
            Entry::symlink(&format!("{bin}/python"), &self.base_python),
            Entry::symlink(&format!("{bin}/python3"), "python"),
            Entry::symlink(&format!("{bin}/python{}", self.python_version), "python"),
            Entry::symlink(&format!("{}/lib64", self.rel()), "lib"),
            Entry::dir(&self.site_packages(), 0o755),
        ]
    }
}

/// The app's own project, installed the way `pip install -e` does it: a
/// `.pth` file puts its source root (`/app` or `/app/src`) on `sys.path`, a
/// `.dist-info` gives its metadata and entry points, and `bin/` gets its
/// scripts. Its code stays where the app layer puts it, not copied twice.
pub struct LocalProject<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub requires_python: Option<&'a str>,
    pub dependencies: Vec<String>,
    pub entry_points: &'a BTreeMap<String, Vec<(String, String)>>,
    /// Absolute path in the image of the project (e.g. `/app`) and of the
    /// directory its packages import from (`/app` or `/app/src`).
    pub project_root: String,
    pub source_root: String,
}

pub fn install_local_project(venv: &Venv, project: &LocalProject) -> Result<Vec<Entry>> {
    let site = venv.site_packages();
    let dist = crate::index::normalize_name(project.name).replace('-', "_");
    let dist_info = format!("{site}/{dist}-{}.dist-info", project.version);
    let mut out: BTreeMap<String, Entry> = BTreeMap::new();
    let mut add = |path: String, data: Vec<u8>, mode: u32| {
        out.insert(path.clone(), Entry::file(&path, data, mode));
    };
    add(
        format!("{site}/__editable__.{dist}.pth"),
        format!("{}\n", project.source_root).into_bytes(),
        0o644,
    );
    let mut metadata = format!(
        "Metadata-Version: 2.1\nName: {}\nVersion: {}\n",
        project.name, project.version
    );
    if let Some(rp) = project.requires_python {
        metadata.push_str(&format!("Requires-Python: {rp}\n"));
    }
    for dep in &project.dependencies {
        metadata.push_str(&format!("Requires-Dist: {dep}\n"));
    }
    add(
        format!("{dist_info}/METADATA"),
        metadata.into_bytes(),
        0o644,
    );
    add(
        format!("{dist_info}/INSTALLER"),
        b"pypack\n".to_vec(),
        0o644,
    );
    let direct_url = format!(
        "{{\"dir_info\": {{\"editable\": true}}, \"url\": \"file://{}\"}}\n",
        project.project_root
    );
    add(
        format!("{dist_info}/direct_url.json"),
        direct_url.into_bytes(),
        0o644,
    );
    if !project.entry_points.is_empty() {
        let mut text = String::new();
        for (group, entries) in project.entry_points {
            text.push_str(&format!("[{group}]\n"));
            for (name, target) in entries {
                text.push_str(&format!("{name} = {target}\n"));
            }
            text.push('\n');
        }
        add(
            format!("{dist_info}/entry_points.txt"),
            text.into_bytes(),
            0o644,
        );
    }
    for group in ["console_scripts", "gui_scripts"] {
        for (name, target) in project.entry_points.get(group).into_iter().flatten() {
            let dest = format!("{}/{name}", venv.bin());
            check_entry_path(&dest).with_context(|| format!("[project.scripts] entry '{name}'"))?;
            add(
                dest,
                script_text(&venv.python(), target)?.into_bytes(),
                0o755,
            );
        }
    }
    let record_path = format!("{dist_info}/RECORD");
    let record = new_record(&out, &KnownHashes::new(), &site, &record_path)?;
    out.insert(
        record_path.clone(),
        Entry::file(&record_path, record, 0o644),
    );
    Ok(out.into_values().collect())
}

/// Installs the wheel stored in `cache` as blob `sha256` (named `filename`)
/// into `venv`; returns the files it adds to the image. Their content stays
/// in the wheel's unpacked copy in the cache until the layer is written.
pub fn install(cache: &Cache, venv: &Venv, sha256: &str, filename: &str) -> Result<Vec<Entry>> {
    let wheel = unpacked::unpacked(cache, sha256, filename)?;
    install_unpacked(venv, &wheel, filename)
}

fn install_unpacked(venv: &Venv, wheel: &Unpacked, filename: &str) -> Result<Vec<Entry>> {
    let dist_info = &wheel.dist_info;
    let data_dir = format!("{}.data", dist_info.trim_end_matches(".dist-info"));
    let site = venv.site_packages();
    let mut out: BTreeMap<String, Entry> = BTreeMap::new();
    // RECORD rows of the files installed as they are: hashed when unpacked.
    let mut known = KnownHashes::new();
    for (name, member) in &wheel.members {
        let (dest, is_script) = destination(venv, &site, &data_dir, name, filename)?;
        let entry = if is_script {
            let data = std::fs::read(wheel.path_of(name))
                .with_context(|| format!("{filename}: reading the unpacked {name}"))?;
            Entry::file(&dest, rewrite_shebang(&data, &venv.python()), 0o755)
        } else {
            known.insert(dest.clone(), (member.sha256.clone(), member.size));
            let kind = EntryKind::OnDisk {
                path: wheel.path_of(name),
                size: member.size,
            };
            Entry::new(&dest, kind, if member.executable { 0o755 } else { 0o644 })
        };
        out.insert(dest, entry);
    }
    let points = format!("{dist_info}/entry_points.txt");
    if let Some(points) = wheel.text(&points)? {
        let groups = parse_entry_points(&points)
            .with_context(|| format!("{filename}: {dist_info}/entry_points.txt"))?;
        let scripts = ["console_scripts", "gui_scripts"]
            .iter()
            .flat_map(|g| groups.get(*g).into_iter().flatten());
        for (script, target) in scripts {
            let dest = format!("{}/{script}", venv.bin());
            check_entry_path(&dest)
                .with_context(|| format!("{filename}: entry point '{script}'"))?;
            out.insert(
                dest.clone(),
                Entry::file(&dest, script_text(&venv.python(), target)?, 0o755),
            );
        }
    }
    let installer = format!("{site}/{dist_info}/INSTALLER");
    out.insert(
        installer.clone(),
        Entry::file(&installer, b"pypack\n".to_vec(), 0o644),
    );
    let record_path = format!("{site}/{dist_info}/RECORD");
    let record_text = new_record(&out, &known, &site, &record_path)?;
    out.insert(
        record_path.clone(),
        Entry::file(&record_path, record_text, 0o644),
    );
    Ok(out.into_values().collect())
}

fn record_hash(data: &[u8]) -> String {
    dist_info::b64(&Sha256::digest(data))
}

/// Where a wheel member goes; `true` when it is a script from `.data/scripts`.
fn destination(
    venv: &Venv,
    site: &str,
    data_dir: &str,
    name: &str,
    filename: &str,
) -> Result<(String, bool)> {
    let Some(rest) = name.strip_prefix(&format!("{data_dir}/")) else {
        return Ok((format!("{site}/{name}"), false));
    };
    let (scheme, path) = rest
        .split_once('/')
        .with_context(|| format!("{filename}: stray file {name}"))?;
    let root = venv.rel();
    let dest = match scheme {
        "purelib" | "platlib" => format!("{site}/{path}"),
        "scripts" => return Ok((format!("{root}/bin/{path}"), true)),
        "headers" => {
            let project = data_dir
                .trim_end_matches(".data")
                .rsplit_once('-')
                .map(|(n, _)| n)
                .unwrap_or(data_dir);
            format!(
                "{root}/include/site/python{}/{project}/{path}",
                venv.python_version
            )
        }
        "data" => format!("{root}/{path}"),
        other => bail!("{filename}: unknown .data scheme '{other}' in {name}"),
    };
    Ok((dest, false))
}

/// `#!python` (and `#!pythonw`) become the venv's interpreter, as installers do.
fn rewrite_shebang(data: &[u8], python: &str) -> Vec<u8> {
    let first_line_end = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let first = &data[..first_line_end];
    if first == b"#!python" || first == b"#!pythonw" || first.starts_with(b"#!python ") {
        let mut out = format!("#!{python}").into_bytes();
        out.extend_from_slice(
            &first[first.iter().position(|&b| b == b' ').unwrap_or(first.len())..],
        );
        out.extend_from_slice(&data[first_line_end..]);
        return out;
    }
    data.to_vec()
}

fn script_text(python: &str, target: &str) -> Result<String> {
    let target = target.split('[').next().unwrap_or(target).trim(); // drop `[extra]`
    let (module, attr) = target
        .split_once(':')
        .with_context(|| format!("entry point '{target}' has no ':'"))?;
    let (module, attr) = (module.trim(), attr.trim());
    let ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
    };
    if !ok(module) || !ok(attr) {
        bail!("entry point '{target}' is not module:attribute");
    }
    let head = attr.split('.').next().unwrap_or(attr);
    Ok(format!(
        "#!{python}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom {module} import {head}\n\
         if __name__ == \"__main__\":\n    sys.argv[0] = re.sub(r\"(-script\\.pyw|\\.exe)?$\", \"\", sys.argv[0])\n    sys.exit({attr}())\n"
    ))
}

/// Image path → (RECORD hash, size) of files whose hash is already known.
type KnownHashes = HashMap<String, (String, u64)>;

/// RECORD for the installed files, paths relative to site-packages.
fn new_record(
    files: &BTreeMap<String, Entry>,
    known: &KnownHashes,
    site: &str,
    record_path: &str,
) -> Result<String> {
    let mut rows = Vec::new();
    for (path, entry) in files {
        let (hash, size) = match (&entry.kind, known.get(path)) {
            (EntryKind::OnDisk { .. }, Some(known)) => known.clone(),
            (EntryKind::File(_) | EntryKind::OnDisk { .. }, _) => {
                let data = entry.content()?.unwrap_or_default();
                (record_hash(&data), data.len() as u64)
            }
            _ => continue,
        };
        rows.push(format!(
            "{},sha256={hash},{size}",
            csv_quote(&relative_to(path, site)),
        ));
    }
    rows.push(format!("{},,", csv_quote(&relative_to(record_path, site))));
    rows.sort();
    Ok(rows.join("\n") + "\n")
}

fn csv_quote(field: &str) -> String {
    if field.contains([',', '"', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// `app/.venv/bin/flask` relative to `app/.venv/lib/python3.11/site-packages`.
fn relative_to(path: &str, base: &str) -> String {
    let p: Vec<&str> = path.split('/').collect();
    let b: Vec<&str> = base.split('/').collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<&str> = vec![".."; b.len() - common];
    parts.extend(&p[common..]);
    parts.join("/")
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_central_directory_count_is_read_past_a_comment_that_looks_like_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        for name in ["a.py", "b.py", "c.py"] {
            zip.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(b"x").unwrap();
        }
        zip.set_comment("PK\u{5}\u{6} not a record").unwrap();
        zip.finish().unwrap();
        assert_eq!(unpacked::central_directory_entries(&path), Some(3));
    }

    /// A zip of one deflated member, `name`, holding `data`.
    fn one_member_zip(name: &str, data: &[u8]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file(name, options).unwrap();
        zip.write_all(data).unwrap();
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn a_wheel_that_unpacks_too_far_is_refused_unread() {
        let bytes = one_member_zip("pkg/zeros.py", &vec![0u8; 2 << 20]);
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.clone())).unwrap();
        let err = unpacked::check_declared_size(&mut zip, "bomb-1.0-py3-none-any.whl", 1 << 20)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("would unpack to") && err.contains("zip bomb"),
            "{err}"
        );
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        assert!(
            unpacked::check_declared_size(&mut zip, "ok-1.0-py3-none-any.whl", 4 << 20).is_ok()
        );
    }

    #[test]
    fn a_member_that_inflates_past_its_declared_size_is_refused() {
        let mut bytes = one_member_zip("pkg/liar.py", &vec![b'a'; 100_000]);
        // Both headers say 10 bytes: what a bomb says to look small.
        let patch = |bytes: &mut Vec<u8>, signature: [u8; 4], offset: usize| {
            let at = bytes.windows(4).position(|w| w == signature).unwrap();
            bytes[at + offset..at + offset + 4].copy_from_slice(&10u32.to_le_bytes());
        };
        patch(&mut bytes, [0x50, 0x4b, 0x03, 0x04], 22);
        patch(&mut bytes, [0x50, 0x4b, 0x01, 0x02], 24);
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut member = zip.by_index(0).unwrap();
        let row = dist_info::RecordRow {
            path: "pkg/liar.py".into(),
            hash: Some(("sha256".into(), record_hash(&vec![b'a'; 100_000]))),
            size: None,
        };
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("liar.py");
        let err = format!(
            "{:#}",
            unpacked::write_checked(&mut member, 10, &row, &dest, "liar-1.0-py3-none-any.whl")
                .err()
                .unwrap()
        );
        // The zip reader or pypack's own bound stops it, one byte past.
        assert!(err.contains("liar.py") && err.contains("declare"), "{err}");
    }

    pub fn venv() -> Venv {
        Venv {
            path: "/app/.venv".into(),
            base_python: "/usr/bin/python3.11".into(),
            python_version: "3.11".into(),
            python_full_version: "3.11.2".into(),
        }
    }

    /// Builds a wheel with a correct RECORD; `tamper` edits members after RECORD is made.
    pub fn make_wheel(files: &[(&str, &[u8])], tamper: &[(&str, &[u8])]) -> Vec<u8> {
        let dist_info = "demo-1.0.dist-info";
        let mut all: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|(n, d)| (n.to_string(), d.to_vec()))
            .collect();
        let mut record = String::new();
        for (n, d) in &all {
            record.push_str(&format!("{n},sha256={},{}\n", record_hash(d), d.len()));
        }
        record.push_str(&format!("{dist_info}/RECORD,,\n"));
        all.push((format!("{dist_info}/RECORD"), record.into_bytes()));
        for (n, d) in tamper {
            all.retain(|(name, _)| name != n);
            all.push((n.to_string(), d.to_vec()));
        }
        let mut out = std::io::Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        for (n, d) in &all {
            let options = zip::write::SimpleFileOptions::default().unix_permissions(0o644);
            zip.start_file(n.as_str(), options).unwrap();
            zip.write_all(d).unwrap();
        }
        zip.finish().unwrap();
        out.into_inner()
    }

    fn install_bytes(bytes: &[u8]) -> Result<Vec<Entry>> {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(dir.path())).unwrap();
        let hex = cache.put_bytes(bytes).unwrap();
        let entries = install(&cache, &venv(), &hex, "demo-1.0-py3-none-any.whl");
        // The unpacked files go with the cache: what the test reads, it
        // reads now.
        entries.map(|entries| {
            entries
                .into_iter()
                .map(|mut e| {
                    if let EntryKind::OnDisk { .. } = e.kind {
                        e.kind = EntryKind::File(e.content().unwrap().unwrap().into_owned());
                    }
                    e
                })
                .collect()
        })
    }

    fn good_files() -> Vec<(&'static str, &'static [u8])> {
        vec![
            ("demo/__init__.py", b"def main():\n    return 0\n"),
            (
                "demo-1.0.data/scripts/demo-tool",
                b"#!python\nprint('tool')\n",
            ),
            ("demo-1.0.data/data/share/demo/readme.txt", b"hi"),
            (
                "demo-1.0.dist-info/METADATA",
                b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n",
            ),
            (
                "demo-1.0.dist-info/WHEEL",
                b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\n",
            ),
            (
                "demo-1.0.dist-info/entry_points.txt",
                b"[console_scripts]\ndemo = demo:main\n[other]\nx = y:z\n",
            ),
        ]
    }

    #[test]
    fn installs_files_scripts_and_record() {
        let entries = install_bytes(&make_wheel(&good_files(), &[])).unwrap();
        let get = |p: &str| {
            entries
                .iter()
                .find(|e| e.path == p)
                .unwrap_or_else(|| panic!("{p} missing"))
        };
        let site = "app/.venv/lib/python3.11/site-packages";
        assert!(matches!(
            get(&format!("{site}/demo/__init__.py")).kind,
            EntryKind::File(_)
        ));
        let EntryKind::File(tool) = &get("app/.venv/bin/demo-tool").kind else {
            panic!()
        };
        assert!(tool.starts_with(b"#!/app/.venv/bin/python\n"));
        assert_eq!(get("app/.venv/bin/demo-tool").mode, 0o755);
        let EntryKind::File(script) = &get("app/.venv/bin/demo").kind else {
            panic!()
        };
        let script = String::from_utf8_lossy(script);
        assert!(
            script.starts_with("#!/app/.venv/bin/python\n")
                && script.contains("from demo import main"),
            "{script}"
        );
        assert!(
            get("app/.venv/share/demo/readme.txt")
                .path
                .ends_with("readme.txt")
        );
        let EntryKind::File(record) = &get(&format!("{site}/demo-1.0.dist-info/RECORD")).kind
        else {
            panic!()
        };
        let record = String::from_utf8_lossy(record);
        assert!(record.contains("../../../bin/demo,sha256="), "{record}");
        assert!(
            record.contains("demo-1.0.dist-info/INSTALLER,sha256="),
            "{record}"
        );
        assert!(record.contains("demo-1.0.dist-info/RECORD,,"), "{record}");
        assert!(!entries.iter().any(|e| e.path.contains(".data/")));
    }

    #[test]
    fn wheels_are_unpacked_once_and_installed_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(dir.path())).unwrap();
        let name = "demo-1.0-py3-none-any.whl";
        let hex = cache.put_bytes(&make_wheel(&good_files(), &[])).unwrap();
        let first = install(&cache, &venv(), &hex, name).unwrap();
        let init = first
            .iter()
            .find(|e| e.path.ends_with("site-packages/demo/__init__.py"))
            .unwrap();
        assert!(matches!(init.kind, EntryKind::OnDisk { .. }), "{init:?}");
        assert_eq!(
            init.content().unwrap().unwrap().as_ref(),
            b"def main():\n    return 0\n"
        );
        // A copy whose listing is damaged is made again.
        let copy = dir.path().join("unpacked-wheels/1").join(&hex);
        std::fs::write(copy.join("listing.json"), "{").unwrap();
        assert_eq!(install(&cache, &venv(), &hex, name).unwrap(), first);
        // With the wheel itself gone, its unpacked copy installs the same.
        std::fs::remove_file(cache.blob_path(&hex)).unwrap();
        assert_eq!(install(&cache, &venv(), &hex, name).unwrap(), first);

        // A wheel refused leaves no unpacked copy behind.
        let tampered = make_wheel(&good_files(), &[("demo/__init__.py", b"evil")]);
        let bad = cache.put_bytes(&tampered).unwrap();
        assert!(install(&cache, &venv(), &bad, name).is_err());
        let copies = std::fs::read_dir(dir.path().join("unpacked-wheels/1")).unwrap();
        let names: Vec<_> = copies.map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, [std::ffi::OsString::from(&hex)]);
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }

    #[test]
    fn refuses_tampered_and_escaping_wheels() {
        let tampered = make_wheel(
            &good_files(),
            &[("demo/__init__.py", b"import os; os.system('evil')")],
        );
        let err = format!("{:#}", install_bytes(&tampered).unwrap_err());
        assert!(err.contains("does not match its RECORD hash"), "{err}");
        let mut files = good_files();
        files.push(("../../../etc/cron.d/evil", b"x"));
        let err = format!("{:#}", install_bytes(&make_wheel(&files, &[])).unwrap_err());
        assert!(err.contains("outside the environment"), "{err}");
        let unlisted = make_wheel(&good_files(), &[("demo/extra.py", b"x")]);
        assert!(
            format!("{:#}", install_bytes(&unlisted).unwrap_err()).contains("not listed in RECORD")
        );
        let mut files = good_files();
        files.push(("demo-1.0.data/scripts/../../../../x", b"x"));
        assert!(install_bytes(&make_wheel(&files, &[])).is_err());
    }

    #[test]
    fn venv_skeleton_and_paths() {
        let entries = venv().skeleton();
        let cfg = entries
            .iter()
            .find(|e| e.path == "app/.venv/pyvenv.cfg")
            .unwrap();
        let EntryKind::File(cfg) = &cfg.kind else {
            panic!()
        };
        assert!(String::from_utf8_lossy(cfg).contains("home = /usr/bin\n"));
        assert!(entries.iter().any(|e| e.path == "app/.venv/bin/python"
            && e.kind == EntryKind::Symlink("/usr/bin/python3.11".into())));
        assert_eq!(relative_to("a/b/c", "a/x/y"), "../../b/c");
    }
}
