//! Deterministic layer tarballs. Entries are sorted by path, every timestamp is
//! the same, owner names are dropped, and gzip gets no timestamp or file name,
//! so the same entries always give the same bytes. The compressed digest and the
//! uncompressed diff_id are computed while the layer is written, in one pass.

use crate::cache::Cache;
use crate::digest::HashingWriter;
use anyhow::{Context, Result, bail};
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File(Vec<u8>),
    /// A file of the build machine's, copied into the layer from there:
    /// an app's large files (models, datasets) are never held in memory.
    OnDisk {
        path: std::path::PathBuf,
        size: u64,
    },
    /// Part of a file pypack wrote for this build (the compile script's
    /// `.pyc` records): many small files kept in one on disk, not in memory.
    Part(FilePart),
    Dir,
    Symlink(String),
    /// A hard link to another path in the same layer (relative, like `path`).
    Hardlink(String),
}

/// Bytes `offset..offset + size` of `file`.
#[derive(Clone)]
pub struct FilePart {
    pub file: std::sync::Arc<KeptFile>,
    pub offset: u64,
    pub size: u64,
}

/// A file that stays until the last part naming it is dropped, and the
/// temporary directory it lives in with it.
pub struct KeptFile {
    pub path: std::path::PathBuf,
    _dir: std::sync::Arc<tempfile::TempDir>,
}

impl KeptFile {
    pub fn new(path: std::path::PathBuf, dir: std::sync::Arc<tempfile::TempDir>) -> KeptFile {
        KeptFile { path, _dir: dir }
    }
}

impl FilePart {
    fn read(&self) -> Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let path = &self.file.path;
        let file =
            std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
        let mut data = vec![0u8; self.size as usize];
        file.read_exact_at(&mut data, self.offset)
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(data)
    }
}

impl PartialEq for FilePart {
    fn eq(&self, other: &FilePart) -> bool {
        (&self.file.path, self.offset, self.size) == (&other.file.path, other.offset, other.size)
    }
}

impl Eq for FilePart {}

impl std::fmt::Debug for FilePart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}[{}+{}]",
            self.file.path.display(),
            self.offset,
            self.size
        )
    }
}

impl EntryKind {
    /// The file's content, read from disk for an `OnDisk` file; `None`
    /// for what is not a file.
    pub fn content(&self) -> Result<Option<std::borrow::Cow<'_, [u8]>>> {
        Ok(match self {
            EntryKind::File(data) => Some(std::borrow::Cow::Borrowed(data)),
            EntryKind::OnDisk { path, .. } => Some(std::borrow::Cow::Owned(
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
            )),
            EntryKind::Part(part) => Some(std::borrow::Cow::Owned(part.read()?)),
            _ => None,
        })
    }
}

/// One member of a layer. `path` is relative to the filesystem root, without a
/// leading `/` or `./`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub kind: EntryKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Entry {
    pub fn file(path: &str, data: impl Into<Vec<u8>>, mode: u32) -> Entry {
        Entry::new(path, EntryKind::File(data.into()), mode)
    }
    pub fn dir(path: &str, mode: u32) -> Entry {
        Entry::new(path, EntryKind::Dir, mode)
    }
    pub fn symlink(path: &str, target: &str) -> Entry {
        Entry::new(path, EntryKind::Symlink(target.to_string()), 0o777)
    }
    pub fn new(path: &str, kind: EntryKind, mode: u32) -> Entry {
        Entry {
            path: path.trim_start_matches('/').to_string(),
            kind,
            mode,
            uid: 0,
            gid: 0,
        }
    }
    pub fn owned_by(mut self, uid: u32, gid: u32) -> Entry {
        self.uid = uid;
        self.gid = gid;
        self
    }
    pub fn size(&self) -> u64 {
        match &self.kind {
            EntryKind::File(data) => data.len() as u64,
            EntryKind::OnDisk { size, .. } => *size,
            EntryKind::Part(part) => part.size,
            _ => 0,
        }
    }

    /// The file's content (see `EntryKind::content`).
    pub fn content(&self) -> Result<Option<std::borrow::Cow<'_, [u8]>>> {
        self.kind.content()
    }
}

/// A layer stored in the cache.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LayerBlob {
    /// `sha256:<hex>` of the gzip stream (the manifest's digest).
    pub digest: String,
    /// `sha256:<hex>` of the tar stream (the config's diff_id).
    pub diff_id: String,
    /// Compressed size in bytes.
    pub size: u64,
    /// Size of the tar stream in bytes.
    pub uncompressed_size: u64,
}

/// Bumped when the same entries give other layer bytes (the compression):
/// every cache key of a layer pypack made names it, so a layer made by older
/// code is not reused beside new ones.
pub const BYTES_FORMAT: u32 = 2;

pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// Writes `entries` as a gzip layer into the cache.
pub fn write_layer(cache: &Cache, entries: &[Entry], mtime: u64) -> Result<LayerBlob> {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    for pair in sorted.windows(2) {
        if pair[0].path == pair[1].path {
            bail!("layer has two entries for '{}'", pair[0].path);
        }
    }

    let blob = cache.blob_writer()?;
    let gzip = super::gzip::ChunkedGzip::new(blob);
    let mut tar = tar::Builder::new(HashingWriter::new(gzip));
    tar.mode(tar::HeaderMode::Deterministic);
    for entry in sorted {
        append_entry(&mut tar, entry, mtime)
            .with_context(|| format!("writing '{}' to a layer", entry.path))?;
    }
    let hashing = tar.into_inner()?;
    let (gzip, diff_hex, uncompressed_size) = hashing.finish();
    let mut blob = gzip.finish()?;
    blob.flush()?;
    let digest_hex = blob.commit(None)?;
    let size = std::fs::metadata(cache.blob_path(&digest_hex))?.len();
    Ok(LayerBlob {
        digest: format!("sha256:{digest_hex}"),
        diff_id: format!("sha256:{diff_hex}"),
        size,
        uncompressed_size,
    })
}

fn append_entry<W: Write>(tar: &mut tar::Builder<W>, entry: &Entry, mtime: u64) -> Result<()> {
    check_entry_path(&entry.path)?;
    let mut header = tar::Header::new_gnu();
    header.set_mtime(mtime);
    header.set_uid(entry.uid as u64);
    header.set_gid(entry.gid as u64);
    header.set_mode(entry.mode & 0o7777);
    match &entry.kind {
        EntryKind::File(data) => {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(data.len() as u64);
            tar.append_data(&mut header, &entry.path, data.as_slice())?;
        }
        EntryKind::OnDisk { path, size } => {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(*size);
            let file =
                std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
            let mut exact = Exact {
                inner: file.take(*size),
                left: *size,
                path,
            };
            tar.append_data(&mut header, &entry.path, &mut exact)?;
        }
        EntryKind::Part(part) => {
            use std::io::{Seek, SeekFrom};
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(part.size);
            let path = &part.file.path;
            let mut file =
                std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
            file.seek(SeekFrom::Start(part.offset))?;
            let mut exact = Exact {
                inner: file.take(part.size),
                left: part.size,
                path,
            };
            tar.append_data(&mut header, &entry.path, &mut exact)?;
        }
        EntryKind::Dir => {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            tar.append_data(&mut header, format!("{}/", entry.path), std::io::empty())?;
        }
        EntryKind::Symlink(target) => {
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            tar.append_link(&mut header, &entry.path, target)?;
        }
        EntryKind::Hardlink(target) => {
            header.set_entry_type(tar::EntryType::Link);
            header.set_size(0);
            tar.append_link(&mut header, &entry.path, target)?;
        }
    }
    Ok(())
}

/// A file's content of exactly the size its header was given: a file
/// that shrank since it was listed is an error, not a corrupt layer.
struct Exact<'a, R> {
    inner: R,
    left: u64,
    path: &'a Path,
}

impl<R: Read> Read for Exact<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.left > 0 && !buf.is_empty() {
            return Err(std::io::Error::other(format!(
                "{} changed while the image was built (it is shorter now)",
                self.path.display()
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// A layer path must stay inside the root: relative, no `..`, no empty parts.
pub fn check_entry_path(path: &str) -> Result<()> {
    if path.is_empty() || path.starts_with('/') {
        bail!("path '{path}' is absolute or empty");
    }
    if path
        .split('/')
        .any(|part| part.is_empty() || part == ".." || part == ".")
    {
        bail!("path '{path}' has an empty, '.' or '..' component");
    }
    Ok(())
}

/// Entries for the file tree under `root`, placed under `prefix` in the image
/// (e.g. `app`). Owners are set to `uid:gid`, files keep their permission bits,
/// symlinks are kept as links, and files that are hard links of one another
/// become one file and hard links to it. Other file types are refused.
pub fn entries_from_dir(root: &Path, prefix: &str, uid: u32, gid: u32) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    let mut seen_inodes: HashMap<(u64, u64), String> = HashMap::new();
    // Name order makes hard links resolve to the same first path on every run.
    crate::walk::walk_sorted(root, prefix.trim_matches('/'), &mut |path, meta, rel| {
        let mode = meta.mode() & 0o7777;
        let kind = if meta.file_type().is_symlink() {
            EntryKind::Symlink(std::fs::read_link(path)?.to_string_lossy().into_owned())
        } else if meta.is_dir() {
            EntryKind::Dir
        } else if meta.is_file() {
            let inode = (meta.dev(), meta.ino());
            match seen_inodes.get(&inode) {
                Some(first) if meta.nlink() > 1 => EntryKind::Hardlink(first.clone()),
                _ => {
                    seen_inodes.insert(inode, rel.to_string());
                    EntryKind::File(
                        std::fs::read(path)
                            .with_context(|| format!("reading {}", path.display()))?,
                    )
                }
            }
        } else {
            bail!("{} is not a file, directory or symlink", path.display());
        };
        entries.push(Entry {
            path: rel.to_string(),
            kind,
            mode,
            uid,
            gid,
        });
        Ok(true)
    })?;
    Ok(entries)
}

/// Every ancestor of every entry must exist and be a directory.
pub fn add_parents(tree: &mut BTreeMap<String, Entry>) -> Result<()> {
    let mut missing = Vec::new();
    for path in tree.keys() {
        let mut at = path.as_str();
        while let Some((parent, _)) = at.rsplit_once('/') {
            match tree.get(parent) {
                Some(e) if e.kind == EntryKind::Dir => {}
                Some(_) => bail!("'{path}' is under '{parent}', which is not a directory"),
                None => missing.push(parent.to_string()),
            }
            at = parent;
        }
    }
    for dir in missing {
        tree.entry(dir.clone())
            .or_insert_with(|| Entry::dir(&dir, 0o755));
    }
    Ok(())
}

/// A layer file's tar stream, gunzipped when it starts as gzip does.
pub fn tar_stream(file: std::fs::File) -> Result<Box<dyn Read>> {
    let mut reader = std::io::BufReader::with_capacity(256 * 1024, file);
    let mut magic = [0u8; 2];
    let gzip = reader.read(&mut magic)? == 2 && magic == [0x1f, 0x8b];
    let stream = std::io::Read::chain(std::io::Cursor::new(magic), reader);
    Ok(match gzip {
        true => Box::new(flate2::read::GzDecoder::new(stream)),
        false => Box::new(stream),
    })
}

/// A layer member's path relative to the image's root (`./` and slashes
/// trimmed), checked; `None` for the root itself.
pub fn member_path<R: Read>(member: &tar::Entry<R>) -> Result<Option<String>> {
    let rel = member
        .path()?
        .to_string_lossy()
        .trim_start_matches("./")
        .trim_matches('/')
        .to_string();
    if rel.is_empty() {
        return Ok(None);
    }
    check_entry_path(&rel)?;
    Ok(Some(rel))
}

/// Whether a parent of `rel` under `root` is a symlink on disk: writing
/// there while unpacking would land where the link points, maybe outside
/// `root`.
pub fn through_symlink(root: &Path, rel: &str) -> bool {
    let mut at = root.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    parts[..parts.len().saturating_sub(1)].iter().any(|part| {
        at.push(part);
        std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink())
    })
}

/// Reads the entries of a gzip or plain tar layer (used by tests and `inspect`).
pub fn read_layer(data: &[u8]) -> Result<Vec<Entry>> {
    let reader: Box<dyn Read> = if data.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(data))
    } else {
        Box::new(data)
    };
    let mut archive = tar::Archive::new(reader);
    let mut entries = Vec::new();
    for member in archive.entries()? {
        let mut member = member?;
        let header = member.header().clone();
        let path = member
            .path()?
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        let link = || -> Result<String> { member_link(&header)?.context("link without a target") };
        let kind = match header.entry_type() {
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Symlink => EntryKind::Symlink(link()?),
            tar::EntryType::Link => EntryKind::Hardlink(link()?),
            _ => {
                let mut data = Vec::new();
                member.read_to_end(&mut data)?;
                EntryKind::File(data)
            }
        };
        let (uid, gid) = (header.uid()? as u32, header.gid()? as u32);
        entries.push(Entry {
            path,
            kind,
            mode: header.mode()?,
            uid,
            gid,
        });
    }
    Ok(entries)
}

fn member_link(header: &tar::Header) -> Result<Option<String>> {
    Ok(header
        .link_name()?
        .map(|p| p.to_string_lossy().into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Entry> {
        vec![
            Entry::file("usr/bin/tool", b"#!x\n".to_vec(), 0o755),
            Entry::dir("usr", 0o755),
            Entry::dir("usr/bin", 0o755),
            Entry::symlink("bin", "usr/bin"),
            Entry::file("home/nonroot/.keep", Vec::new(), 0o644).owned_by(65532, 65532),
            Entry::file(
                &format!("deep/{}", "x".repeat(150)),
                b"long".to_vec(),
                0o644,
            ),
        ]
    }

    #[test]
    fn same_entries_same_digest_whatever_the_order() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(dir.path())).unwrap();
        let a = write_layer(&cache, &sample(), 1).unwrap();
        let mut reversed = sample();
        reversed.reverse();
        let b = write_layer(&cache, &reversed, 1).unwrap();
        assert_eq!(a, b);
        let c = write_layer(&cache, &sample(), 2).unwrap();
        assert_ne!(a.digest, c.digest, "mtime must be part of the content");
    }

    #[test]
    fn digests_match_content_and_gzip_header_is_fixed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(dir.path())).unwrap();
        let layer = write_layer(&cache, &sample(), 7).unwrap();
        let hex = crate::digest::strip_sha256(&layer.digest).unwrap();
        let gz = cache.read_blob(hex).unwrap();
        assert_eq!(gz.len() as u64, layer.size);
        // gzip header: magic, method, flags = 0 (no name), mtime = 0.
        assert_eq!(&gz[..4], &[0x1f, 0x8b, 8, 0]);
        assert_eq!(&gz[4..8], &[0, 0, 0, 0]);
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(gz.as_slice())
            .read_to_end(&mut tar)
            .unwrap();
        assert_eq!(
            format!("sha256:{}", crate::digest::sha256_hex(&tar)),
            layer.diff_id
        );
        assert_eq!(tar.len() as u64, layer.uncompressed_size);

        let entries = read_layer(&gz).unwrap();
        let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        let mut sorted = paths.clone();
        sorted.sort();
        assert_eq!(paths, sorted);
        let home = entries
            .iter()
            .find(|e| e.path == "home/nonroot/.keep")
            .unwrap();
        assert_eq!((home.uid, home.gid), (65532, 65532));
        assert!(entries.iter().any(|e| e.path.len() > 150));
        let link = entries.iter().find(|e| e.path == "bin").unwrap();
        assert_eq!(link.kind, EntryKind::Symlink("usr/bin".into()));
    }

    #[test]
    fn entries_from_a_file_tree() {
        use std::os::unix::fs::PermissionsExt;
        let tree = tempfile::tempdir().unwrap();
        let root = tree.path();
        std::fs::create_dir_all(root.join("pkg")).unwrap();
        std::fs::write(root.join("pkg/a.py"), b"print(1)").unwrap();
        std::fs::write(root.join("run.sh"), b"#!x").unwrap();
        std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::fs::hard_link(root.join("pkg/a.py"), root.join("pkg/b.py")).unwrap();
        std::os::unix::fs::symlink("pkg/a.py", root.join("link.py")).unwrap();
        let entries = entries_from_dir(root, "/app/", 65532, 65532).unwrap();
        let find = |p: &str| entries.iter().find(|e| e.path == p).unwrap();
        assert_eq!(find("app/pkg").kind, EntryKind::Dir);
        assert_eq!(
            find("app/pkg/a.py").kind,
            EntryKind::File(b"print(1)".to_vec())
        );
        assert_eq!(
            find("app/pkg/b.py").kind,
            EntryKind::Hardlink("app/pkg/a.py".into())
        );
        assert_eq!(
            find("app/link.py").kind,
            EntryKind::Symlink("pkg/a.py".into())
        );
        assert_eq!(find("app/run.sh").mode, 0o755);
        assert_eq!(find("app/run.sh").uid, 65532);
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(dir.path())).unwrap();
        let a = write_layer(&cache, &entries, 0).unwrap();
        let b = write_layer(
            &cache,
            &entries_from_dir(root, "app", 65532, 65532).unwrap(),
            0,
        )
        .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn refuses_escaping_and_duplicate_paths() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(dir.path())).unwrap();
        assert!(write_layer(&cache, &[Entry::file("a/../../etc", vec![], 0o644)], 0).is_err());
        let dup = [Entry::dir("a", 0o755), Entry::dir("a", 0o755)];
        assert!(write_layer(&cache, &dup, 0).is_err());
    }
}
