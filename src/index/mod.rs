//! Package indexes: the simple API (PEP 691 JSON, PEP 503 HTML), find-links
//! directories and pages, core metadata (PEP 658 files, else read from the
//! wheel), and wheel downloads into the cache with their hash checked.

pub mod config;
pub mod default_index;
pub mod directory;
pub mod metadata;
pub mod names;
pub mod sdist;
pub mod simple;

use crate::cache::Cache;
use crate::http::{Http, Limit, Ranged};
use anyhow::{Context, Result, bail};
pub use config::{IndexConfig, IndexSettings};
pub use metadata::CoreMetadata;
pub use names::normalize_name;
pub use simple::DistFile;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

const SIMPLE_ACCEPT: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

/// Turns a source distribution into a wheel for the target: the builder,
/// or, when there is none, an error that says what is needed.
pub trait SdistBuilder: Sync {
    /// `sdist_sha256` names the sdist, already in the cache.
    fn build_wheel(&self, sdist: &DistFile, sdist_sha256: &str) -> Result<BuiltWheel>;
}

/// A wheel built from an sdist, stored in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltWheel {
    pub filename: String,
    pub sha256: String,
}

pub struct Index<'a> {
    http: &'a Http,
    cache: &'a Cache,
    pub config: IndexConfig,
    sdist_builder: Option<&'a dyn SdistBuilder>,
    /// One slot per project: a second asker (the resolver, a prefetch
    /// worker) waits for the first one's request instead of repeating it.
    pages: Mutex<HashMap<String, Slot<Arc<Vec<DistFile>>>>>,
    find_links: Mutex<Option<Arc<Vec<DistFile>>>>,
    metadata: Mutex<HashMap<String, Slot<Arc<CoreMetadata>>>>,
}

/// PEP 503 name normalization: lower case, runs of `-_.` become `-`.
/// A value fetched once: the first caller fills it, later ones (on any
/// thread) wait for it and get the same answer, an error as its text.
type Slot<T> = Arc<std::sync::OnceLock<Result<T, String>>>;

fn filled<T: Clone>(slot: &Slot<T>, fetch: impl FnOnce() -> Result<T>) -> Result<T> {
    match slot.get_or_init(|| fetch().map_err(|e| format!("{e:#}"))) {
        Ok(value) => Ok(value.clone()),
        Err(text) => Err(anyhow::anyhow!("{text}")),
    }
}

impl<'a> Index<'a> {
    pub fn new(http: &'a Http, cache: &'a Cache, config: IndexConfig) -> Index<'a> {
        Index {
            http,
            cache,
            config,
            sdist_builder: None,
            pages: Mutex::default(),
            find_links: Mutex::default(),
            metadata: Mutex::default(),
        }
    }

    /// Source distributions get their metadata and wheels from `builder`.
    pub fn with_sdist_builder(mut self, builder: &'a dyn SdistBuilder) -> Index<'a> {
        self.sdist_builder = Some(builder);
        self
    }

    pub fn cache(&self) -> &Cache {
        self.cache
    }

    /// Every file of project `name` across the configured indexes and
    /// find-links locations (merged, as pip does).
    pub fn files(&self, name: &str) -> Result<Arc<Vec<DistFile>>> {
        let name = normalize_name(name);
        let slot = self
            .pages
            .lock()
            .unwrap()
            .entry(name.clone())
            .or_default()
            .clone();
        filled(&slot, || self.fetch_files(&name))
    }

    fn fetch_files(&self, name: &str) -> Result<Arc<Vec<DistFile>>> {
        let mut files = Vec::new();
        for base in &self.config.index_urls {
            let url = format!("{base}{name}/");
            let Some(page) = self
                .http
                .get_page(self.cache, &url, SIMPLE_ACCEPT)
                .with_context(|| format!("looking up {name}"))?
            else {
                continue; // the index does not have the project
            };
            let parsed = if page.content_type.contains("json") {
                simple::parse_json(&page.body, &page.url)?
            } else {
                simple::parse_html(&String::from_utf8_lossy(&page.body), &page.url)?
            };
            files.extend(parsed);
        }
        for file in self.find_links_files()?.iter() {
            if file_project(&file.filename).is_some_and(|p| normalize_name(&p) == name) {
                files.push(file.clone());
            }
        }
        Ok(Arc::new(files))
    }

    fn find_links_files(&self) -> Result<Arc<Vec<DistFile>>> {
        let mut slot = self.find_links.lock().unwrap();
        if let Some(files) = slot.as_ref() {
            return Ok(files.clone());
        }
        let mut files = Vec::new();
        for location in &self.config.find_links {
            let path = location.strip_prefix("file://").unwrap_or(location);
            if location.starts_with("http://") || location.starts_with("https://") {
                let page = self
                    .http
                    .get_page(self.cache, location, "text/html")?
                    .with_context(|| format!("find-links page {location} not found"))?;
                files.extend(simple::parse_html(
                    &String::from_utf8_lossy(&page.body),
                    &page.url,
                )?);
            } else if Path::new(path).is_dir() {
                files.extend(dir_files(Path::new(path))?);
            } else {
                bail!("find-links location '{location}' is neither a directory nor an http(s) URL");
            }
        }
        let files = Arc::new(files);
        *slot = Some(files.clone());
        Ok(files)
    }

    /// The core metadata of a wheel: its PEP 658 file when the index has one,
    /// else the METADATA inside the wheel (which is then already cached).
    pub fn metadata(&self, file: &DistFile) -> Result<Arc<CoreMetadata>> {
        let slot = self
            .metadata
            .lock()
            .unwrap()
            .entry(file.url.clone())
            .or_default()
            .clone();
        filled(&slot, || self.fetch_metadata(file))
    }

    fn fetch_metadata(&self, file: &DistFile) -> Result<Arc<CoreMetadata>> {
        let text = match &file.metadata {
            _ if sdist::is_sdist(&file.filename) => self.sdist_metadata(file)?,
            Some(hash) => {
                let url = format!(
                    "{}.metadata",
                    file.url.split('#').next().unwrap_or(&file.url)
                );
                let bytes = self.fetch_small(&url, hash.as_deref(), file.sha256.as_deref())?;
                String::from_utf8_lossy(&bytes).into_owned()
            }
            None => match self.peek_metadata(file) {
                Some(text) => text,
                None => {
                    let hex = self.download(file)?;
                    let read = std::fs::File::open(self.cache.blob_path(&hex))
                        .map_err(anyhow::Error::from)
                        .and_then(|wheel| read_wheel_metadata(wheel, &file.filename));
                    if read.is_err() {
                        self.cache.evict(&hex);
                    }
                    read?
                }
            },
        };
        Ok(Arc::new(metadata::parse(&text).with_context(|| {
            format!("metadata of {}", file.filename)
        })?))
    }

    /// An sdist's static PKG-INFO, else the METADATA of the wheel built from it.
    fn sdist_metadata(&self, file: &DistFile) -> Result<String> {
        let hex = self.download(file)?;
        let path = self.cache.blob_path(&hex);
        let read = sdist::static_metadata(&path, &file.filename);
        if read.is_err() {
            self.cache.evict(&hex);
        }
        if let Some(text) = read? {
            return Ok(text);
        }
        let wheel = self.built_wheel(file, &hex)?;
        read_wheel_metadata(
            std::fs::File::open(self.cache.blob_path(&wheel.sha256))?,
            &wheel.filename,
        )
    }

    /// The wheel to install for `file`: the file itself, or the wheel built
    /// from it when it is an sdist. Returns its file name and sha256 (stored).
    pub fn wheel_of(&self, file: &DistFile) -> Result<BuiltWheel> {
        let hex = self.download(file)?;
        if !sdist::is_sdist(&file.filename) {
            return Ok(BuiltWheel {
                filename: file.filename.clone(),
                sha256: hex,
            });
        }
        self.built_wheel(file, &hex)
    }

    fn built_wheel(&self, file: &DistFile, hex: &str) -> Result<BuiltWheel> {
        match self.sdist_builder {
            Some(builder) => builder.build_wheel(file, hex),
            None => bail!(
                "{} is a source distribution, and this step does not build them",
                file.filename
            ),
        }
    }

    /// METADATA read from a remote wheel with range requests (the zip's
    /// directory and one member), sparing the whole download; cached under
    /// the wheel's hash. `None` when the file is cached already, local, or the
    /// server does not do ranges (the whole file it sent is then cached).
    fn peek_metadata(&self, file: &DistFile) -> Option<String> {
        let key = file.sha256.as_ref().map(|h| format!("{h}.metadata"));
        if let Some(hex) = key.as_ref().and_then(|k| self.cache.get_ref("metadata", k))
            && let Ok(bytes) = self.cache.read_blob(hex.trim())
        {
            return Some(String::from_utf8_lossy(&bytes).into_owned());
        }
        if file.sha256.as_ref().is_some_and(|h| self.cache.has_blob(h))
            || !file.url.starts_with("http")
        {
            return None;
        }
        let mut remote = match self.http.ranged(&file.url)? {
            Ranged::Parts(remote) => remote,
            // A server that ignores ranges sends the whole file: kept, so the
            // download the caller falls back to finds it (one request, not
            // two). A failure is met again, and said, by that download; a
            // file without a known hash is fetched again to be hashed.
            Ranged::Whole(resp) => {
                if let Some(expected) = &file.sha256 {
                    let size = file.size;
                    let _ = (self.http).keep_body(self.cache, &file.url, resp, size, expected);
                }
                return None;
            }
        };
        // The whole directory in one more request at most, not block by block.
        if let Some(directory) = zip_directory_start(remote.tail()) {
            remote.prefetch_to_tail(directory).ok()?;
        }
        let text = match read_wheel_metadata(remote, &file.filename) {
            Ok(text) => text,
            Err(e) => {
                // Said, since it costs the whole file; which file, and why.
                eprintln!("note: {}: {e:#}; downloading it whole", file.filename);
                return None;
            }
        };
        if let Some(key) = key
            && let Ok(hex) = self.cache.put_bytes(text.as_bytes())
        {
            let _ = self.cache.set_ref("metadata", &key, &hex);
        }
        Some(text)
    }

    /// A metadata file, cached under the wheel's own hash so a warm run makes
    /// no request for it.
    fn fetch_small(
        &self,
        url: &str,
        expected: Option<&str>,
        wheel_sha256: Option<&str>,
    ) -> Result<Vec<u8>> {
        let key = wheel_sha256.map(|h| format!("{h}.metadata"));
        if let Some(hex) = key.as_ref().and_then(|k| self.cache.get_ref("metadata", k))
            && let Ok(bytes) = self.cache.read_blob(hex.trim())
        {
            return Ok(bytes);
        }
        let bytes = self
            .http
            .get_bytes(url, Limit::Cap(MAX_METADATA_BYTES, "a metadata file"))?;
        let hex = crate::digest::sha256_hex(&bytes);
        if let Some(expected) = expected
            && expected != hex
        {
            bail!("{url}: sha256 mismatch (index says {expected}, got {hex})");
        }
        if let Some(key) = key {
            self.cache.put_bytes(&bytes)?;
            self.cache.set_ref("metadata", &key, &hex)?;
        }
        Ok(bytes)
    }

    /// Puts the file in the cache (a no-op when its known hash is there) and
    /// returns its sha256. A file the index gives a hash for must match it.
    pub fn download(&self, file: &DistFile) -> Result<String> {
        if let Some(expected) = &file.sha256 {
            if file.url.starts_with("file://") {
                return self.store_local(file, Some(expected));
            }
            self.http
                .fetch_to_cache(self.cache, &file.url, expected, file.size, |_| Ok(()))
                .with_context(|| format!("downloading {}", file.filename))?;
            return Ok(expected.clone());
        }
        if file.url.starts_with("file://") {
            return self.store_local(file, None);
        }
        self.http
            .fetch_unhashed(self.cache, &file.url, file.size)
            .with_context(|| format!("downloading {}", file.filename))
    }

    fn store_local(&self, file: &DistFile, expected: Option<&str>) -> Result<String> {
        let path = file.url.trim_start_matches("file://");
        if Path::new(path).is_dir() {
            // A local project: packed, as it was when it was resolved.
            if let Some(hex) = expected.filter(|h| self.cache.has_blob(h)) {
                return Ok(hex.to_string());
            }
            let bytes = directory::pack_directory(Path::new(path), &file.filename)
                .with_context(|| format!("packing {path}"))?;
            let hex = self.cache.put_bytes(&bytes)?;
            if let Some(expected) = expected
                && expected != hex
            {
                bail!(
                    "{} has changed since it was locked (its files pack to sha256 {hex}, the lock says {expected}); lock again",
                    path
                );
            }
            return Ok(hex);
        }
        // Only a regular file is opened (a FIFO would block, a device never
        // end), and no more is read than it held when it was looked at.
        let meta = std::fs::metadata(path).with_context(|| format!("cannot read {path}"))?;
        if !meta.is_file() {
            bail!(
                "{path} is not a regular file ({})",
                crate::walk::kind_of(&meta)
            );
        }
        let reader = std::fs::File::open(path).with_context(|| format!("cannot read {path}"))?;
        crate::cache::store_reader(self.cache, reader, expected, meta.len())
            .with_context(|| format!("refusing {}", file.filename))
    }
}

/// A locked file's name must be a wheel or sdist name of the package it
/// is locked for: it names the file in the cache and in messages, and a
/// lock may come from anywhere.
pub fn check_locked_file(filename: &str, package: &str, version: &str) -> Result<()> {
    let plain = !filename.contains(['/', '\\']) && !filename.starts_with('.');
    let project = file_project(filename).map(|p| normalize_name(&p));
    if !plain || project.as_deref() != Some(normalize_name(package).as_str()) {
        bail!(
            "{package} {version} locks a file named '{filename}', which is not a wheel or sdist of {package}; \
             fix the lock or pass --relock to resolve afresh"
        );
    }
    Ok(())
}

/// The project name a distribution file name starts with.
pub fn file_project(filename: &str) -> Option<String> {
    if filename.ends_with(".whl") {
        return crate::python::WheelFilename::parse(filename)
            .ok()
            .map(|w| w.name);
    }
    let stem = filename
        .strip_suffix(".tar.gz")
        .or_else(|| filename.strip_suffix(".zip"))?;
    stem.rsplit_once('-').map(|(name, _)| name.to_string())
}

fn dir_files(dir: &Path) -> Result<Vec<DistFile>> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !(name.ends_with(".whl") || name.ends_with(".tar.gz") || name.ends_with(".zip")) {
            continue;
        }
        let absolute = std::fs::canonicalize(&path)?;
        out.push(DistFile {
            filename: name.to_string(),
            url: format!("file://{}", absolute.display()),
            sha256: None,
            requires_python: None,
            yanked: false,
            metadata: None,
            size: std::fs::metadata(&path).ok().map(|m| m.len()),
        });
    }
    Ok(out)
}

/// The most a METADATA file may hold: the largest real ones (a long
/// README as the description) are well under a megabyte.
const MAX_METADATA_BYTES: u64 = 16 << 20;

/// `{name}-{version}.dist-info/METADATA` from a wheel file.
pub fn read_wheel_metadata(file: impl Read + std::io::Seek, filename: &str) -> Result<String> {
    read_wheel_metadata_within(file, filename, MAX_METADATA_BYTES)
}

fn read_wheel_metadata_within(
    file: impl Read + std::io::Seek,
    filename: &str,
    limit: u64,
) -> Result<String> {
    let mut zip = zip::ZipArchive::new(file)
        .with_context(|| format!("{filename} is not a valid wheel (zip)"))?;
    let name = (0..zip.len())
        .filter_map(|i| zip.name_for_index(i)?.ok().map(|n| n.to_string()))
        .find(|n| n.ends_with(".dist-info/METADATA") && n.matches('/').count() == 1)
        .with_context(|| format!("{filename} has no .dist-info/METADATA"))?;
    let entry = zip.by_name(&name)?;
    let declared = entry.size();
    let data = crate::limits::read_within(entry, declared, limit)
        .with_context(|| format!("{filename}: cannot read {name}"))?
        .with_context(|| {
            format!(
                "{filename}: {name} is larger than {} MB; refusing the wheel (a real one is far smaller)",
                limit >> 20
            )
        })?;
    String::from_utf8(data).with_context(|| format!("{filename}: {name} is not UTF-8 text"))
}

/// Where a zip's central directory starts, read from its end-of-central-
/// directory record in `tail` (the file's last bytes, starting at the given
/// offset); `None` when the record is not there or the zip is zip64 (whose
/// directory the reader finds itself, block by block).
fn zip_directory_start((tail_start, tail): (u64, &[u8])) -> Option<u64> {
    const EOCD: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
    // The record is 22 bytes plus a comment of up to 65535.
    let at = (0..=tail.len().checked_sub(22)?)
        .rev()
        .find(|&i| tail[i..i + 4] == EOCD)?;
    let field = |offset: usize| {
        let b = &tail[at + offset..at + offset + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    };
    let (size, offset) = (field(12), field(16));
    if size == u32::MAX || offset == u32::MAX {
        return None;
    }
    // A directory that ends where the record starts (no prefix, no gap).
    (u64::from(offset) + u64::from(size) == tail_start + at as u64).then_some(u64::from(offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_metadata_file_is_refused() {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zip.start_file(
            "big-1.0.dist-info/METADATA",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        let text = format!("Name: big\nVersion: 1.0\n{}", "x".repeat(5000));
        std::io::Write::write_all(&mut zip, text.as_bytes()).unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        let wheel = "big-1.0-py3-none-any.whl";
        let err = read_wheel_metadata_within(std::io::Cursor::new(bytes.clone()), wheel, 1024)
            .unwrap_err()
            .to_string();
        assert!(err.contains("METADATA is larger than"), "{err}");
        assert!(read_wheel_metadata_within(std::io::Cursor::new(bytes), wheel, 1 << 20).is_ok());
    }

    #[test]
    fn names() {
        assert_eq!(normalize_name("Flask_SQLAlchemy"), "flask-sqlalchemy");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
        assert_eq!(normalize_name("a__-b"), "a-b");
        assert_eq!(
            file_project("Flask-3.0.0-py3-none-any.whl").as_deref(),
            Some("Flask")
        );
        assert_eq!(
            file_project("python-dateutil-2.9.0.tar.gz").as_deref(),
            Some("python-dateutil")
        );
    }
}
