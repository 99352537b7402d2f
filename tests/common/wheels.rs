//! Wheels and a PEP 691 index that tests build for themselves.

use super::sha256;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// A wheel for tests: metadata, a module, optional entry points and files.
#[derive(Clone, Default)]
pub struct WheelSpec {
    pub name: &'static str,
    pub version: &'static str,
    /// `python-abi-platform`, e.g. `py3-none-any`.
    pub tag: &'static str,
    pub requires_dist: Vec<&'static str>,
    pub requires_python: Option<&'static str>,
    pub extras: Vec<&'static str>,
    pub entry_points: Option<&'static str>,
    /// Extra members, listed in RECORD like the rest.
    pub extra_files: Vec<(&'static str, &'static [u8])>,
    /// A `License:` text, folded over several lines as backends write it
    /// (continuation lines indented, blank ones holding only spaces).
    pub license: Option<&'static str>,
}

impl WheelSpec {
    pub fn new(name: &'static str, version: &'static str) -> WheelSpec {
        WheelSpec {
            name,
            version,
            tag: "py3-none-any",
            ..WheelSpec::default()
        }
    }

    pub fn tag(mut self, tag: &'static str) -> WheelSpec {
        self.tag = tag;
        self
    }

    pub fn license(mut self, text: &'static str) -> WheelSpec {
        self.license = Some(text);
        self
    }

    pub fn requires(mut self, reqs: &[&'static str]) -> WheelSpec {
        self.requires_dist.extend_from_slice(reqs);
        self
    }

    pub fn filename(&self) -> String {
        format!(
            "{}-{}-{}.whl",
            self.name.replace('-', "_"),
            self.version,
            self.tag
        )
    }

    pub fn metadata(&self) -> String {
        let mut m = format!(
            "Metadata-Version: 2.1\nName: {}\nVersion: {}\n",
            self.name, self.version
        );
        if let Some(license) = self.license {
            let folded: Vec<String> = license.lines().map(|l| format!("        {l}")).collect();
            m.push_str(&format!("License: {}\n", folded.join("\n").trim_start()));
        }
        if let Some(rp) = self.requires_python {
            m.push_str(&format!("Requires-Python: {rp}\n"));
        }
        for e in &self.extras {
            m.push_str(&format!("Provides-Extra: {e}\n"));
        }
        for r in &self.requires_dist {
            m.push_str(&format!("Requires-Dist: {r}\n"));
        }
        m
    }

    pub fn build(&self) -> Vec<u8> {
        let module = self.name.replace('-', "_");
        let dist_info = format!("{module}-{}.dist-info", self.version);
        let init = format!(
            "__version__ = '{}'\ndef main():\n    print('{} ok')\n",
            self.version, self.name
        );
        let wheel = format!(
            "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: {}\n",
            self.tag
        );
        let mut files: Vec<(String, Vec<u8>)> = vec![
            (format!("{module}/__init__.py"), init.into_bytes()),
            (
                format!("{dist_info}/METADATA"),
                self.metadata().into_bytes(),
            ),
            (format!("{dist_info}/WHEEL"), wheel.into_bytes()),
        ];
        if let Some(points) = self.entry_points {
            files.push((
                format!("{dist_info}/entry_points.txt"),
                points.as_bytes().to_vec(),
            ));
        }
        for (n, d) in &self.extra_files {
            files.push((n.to_string(), d.to_vec()));
        }
        let mut record = String::new();
        for (n, d) in &files {
            record.push_str(&format!("{n},sha256={},{}\n", record_hash(d), d.len()));
        }
        record.push_str(&format!("{dist_info}/RECORD,,\n"));
        files.push((format!("{dist_info}/RECORD"), record.into_bytes()));
        zip_files(&files)
    }
}

pub fn zip_files(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    for (n, d) in files {
        zip.start_file(
            n.as_str(),
            zip::write::SimpleFileOptions::default().unix_permissions(0o644),
        )
        .unwrap();
        zip.write_all(d).unwrap();
    }
    zip.finish().unwrap();
    out.into_inner()
}

pub fn record_hash(data: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(data))
}

/// How a file is listed in the test index.
#[derive(Clone, Default)]
pub struct Listing {
    pub yanked: bool,
    /// Serve a PEP 658 `.metadata` file next to the wheel.
    pub metadata_file: bool,
    /// Publish a wrong sha256 for the file.
    pub wrong_hash: bool,
    /// `requires-python` on the listing (besides the one in METADATA).
    pub requires_python: Option<&'static str>,
}

/// A PEP 691 simple index on disk: `simple/<name>/index.json` and `files/`.
pub struct TestIndex {
    pub root: PathBuf,
    projects: std::collections::BTreeMap<String, Vec<serde_json::Value>>,
}

impl TestIndex {
    pub fn new(root: &Path) -> TestIndex {
        std::fs::create_dir_all(root.join("files")).unwrap();
        TestIndex {
            root: root.to_path_buf(),
            projects: Default::default(),
        }
    }

    /// Adds a wheel built from `spec`; returns its bytes.
    pub fn add(&mut self, spec: &WheelSpec, listing: Listing) -> Vec<u8> {
        let bytes = spec.build();
        self.add_bytes(
            spec.name,
            &spec.filename(),
            &bytes,
            Some(spec.metadata()),
            listing,
        );
        bytes
    }

    pub fn add_bytes(
        &mut self,
        name: &str,
        filename: &str,
        bytes: &[u8],
        metadata: Option<String>,
        listing: Listing,
    ) {
        std::fs::write(self.root.join("files").join(filename), bytes).unwrap();
        let sha = if listing.wrong_hash {
            sha256(b"something else")
        } else {
            sha256(bytes)
        };
        let mut entry = serde_json::json!({
            "filename": filename,
            "url": format!("../../files/{filename}"),
            "hashes": {"sha256": sha},
            "yanked": listing.yanked,
            "size": bytes.len(),
        });
        if let Some(rp) = listing.requires_python {
            entry["requires-python"] = rp.into();
        }
        if let (true, Some(metadata)) = (listing.metadata_file, metadata) {
            std::fs::write(
                self.root.join("files").join(format!("{filename}.metadata")),
                &metadata,
            )
            .unwrap();
            entry["core-metadata"] = serde_json::json!({"sha256": sha256(metadata.as_bytes())});
        }
        self.projects
            .entry(pypack::index::normalize_name(name))
            .or_default()
            .push(entry);
    }

    /// Writes every project page; call after the last `add`.
    pub fn publish(&self) {
        for (name, files) in &self.projects {
            let dir = self.root.join("simple").join(name);
            std::fs::create_dir_all(&dir).unwrap();
            let page =
                serde_json::json!({"meta": {"api-version": "1.1"}, "name": name, "files": files});
            std::fs::write(dir.join("index.json"), serde_json::to_vec(&page).unwrap()).unwrap();
        }
    }
}
