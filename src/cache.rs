//! The content-addressed store every stage shares.
//!
//! Layout under the cache root:
//! - `blobs/sha256/<hex>`: immutable content, named by its sha256, verified on read;
//! - `refs/<namespace>/<sha256 of key>`: small text values (e.g. "this build key gave that
//!   manifest"), replaced atomically;
//! - `tmp/`: files being written (and outputs being put together); they become
//!   blobs, refs or outputs by rename, so a reader never sees a partial entry
//!   and a crash leaves only temp files here, removed once a day old;
//! - `locks/`: lock files that let two pypack processes share the store without
//!   downloading the same blob twice.
//!
//! A cache may have a remote source behind it (`with_remote`: the registry
//! cache of `--cache-from`), asked for a blob it lacks, and may trace the
//! refs and blobs a run uses (`traced`: what `--cache-to` shares).

use crate::digest::{HashingWriter, is_sha256_hex, sha256_hex};
use anyhow::{Context, Result, bail};
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
    /// Where a blob missing here may come from (a registry cache).
    remote: Option<std::sync::Arc<dyn BlobSource>>,
    /// What this run used, when it is to be shared (`--cache-to`).
    trace: Option<std::sync::Arc<std::sync::Mutex<Trace>>>,
}

/// A source of blobs besides the local store: `has_blob` and `read_blob`
/// ask it for a blob they lack.
pub trait BlobSource: Send + Sync + std::fmt::Debug {
    /// Fetches blob `hex` into `cache` (its digest checked); false when the
    /// source does not have it or what it sent is refused (said as a warning).
    fn fetch(&self, cache: &Cache, hex: &str) -> bool;
}

/// The refs a run read or wrote and the blobs it used: what another
/// machine needs to make the same build without doing the work again.
#[derive(Debug, Default, Clone)]
pub struct Trace {
    pub refs: std::collections::BTreeMap<(String, String), String>,
    pub blobs: std::collections::BTreeSet<String>,
}

/// How old a file in `tmp/` must be to be taken for a killed build's
/// (a build still writing touches its files far more often).
const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Removes what killed builds left in `tmp/` (files being written, outputs
/// being put together) once it is old enough to be nobody's.
fn remove_abandoned(tmp: &Path) {
    let Ok(entries) = fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        let age = meta.modified().ok().and_then(|m| m.elapsed().ok());
        if age.is_some_and(|a| a > ABANDONED_AFTER) {
            let _ = match meta.is_dir() {
                true => fs::remove_dir_all(entry.path()),
                false => fs::remove_file(entry.path()),
            };
        }
    }
}

impl Cache {
    /// `dir`, else `$PYPACK_CACHE_DIR`, else the platform's cache directory.
    pub fn open(dir: Option<&Path>) -> Result<Cache> {
        let root = match dir {
            Some(d) => d.to_path_buf(),
            None => default_cache_dir()?,
        };
        for sub in ["blobs/sha256", "refs", "tmp", "locks"] {
            fs::create_dir_all(root.join(sub))
                .with_context(|| format!("cannot create the cache directory {}", root.display()))?;
        }
        remove_abandoned(&root.join("tmp"));
        Ok(Cache {
            root,
            remote: None,
            trace: None,
        })
    }

    /// This cache, asking `remote` for the blobs it lacks.
    pub fn with_remote(mut self, remote: std::sync::Arc<dyn BlobSource>) -> Cache {
        self.remote = Some(remote);
        self
    }

    /// This cache without its remote source (what fetches from it writes through).
    pub fn without_remote(mut self) -> Cache {
        self.remote = None;
        self
    }

    /// This cache, recording what it is asked for (`trace()` reads it).
    pub fn traced(mut self) -> Cache {
        self.trace = Some(Default::default());
        self
    }

    /// What this run read and wrote so far (empty unless `traced`).
    pub fn trace(&self) -> Trace {
        self.trace
            .as_ref()
            .map(|t| t.lock().unwrap().clone())
            .unwrap_or_default()
    }

    fn note_blob(&self, hex: &str) {
        if let Some(trace) = &self.trace {
            trace.lock().unwrap().blobs.insert(hex.to_string());
        }
    }

    fn note_ref(&self, namespace: &str, key: &str, value: &str) {
        if let Some(trace) = &self.trace {
            let mut trace = trace.lock().unwrap();
            trace
                .refs
                .insert((namespace.to_string(), key.to_string()), value.to_string());
        }
    }

    /// Whether blob `hex` is here, fetching it from the remote source when
    /// there is one and it has it.
    fn present_or_fetched(&self, hex: &str) -> bool {
        if self.blob_path(hex).is_file() {
            return true;
        }
        self.remote
            .as_ref()
            .is_some_and(|remote| remote.fetch(self, hex) && self.blob_path(hex).is_file())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Marks `used` (an entry of `dir`: a kept index, an unpacked image) as
    /// used now, and removes the entries of `dir` not used for `max_age`:
    /// such derived copies are large and a new one comes with every update
    /// of what they are made from. Failures are ignored: it is tidying only.
    pub fn tidy(&self, dir: &Path, used: &Path, max_age: std::time::Duration) {
        let now = std::time::SystemTime::now();
        let _ = fs::File::open(used).and_then(|f| f.set_modified(now));
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > max_age);
            if stale && path != used {
                let _ = match path.is_dir() {
                    true => fs::remove_dir_all(&path),
                    false => fs::remove_file(&path),
                };
            }
        }
    }

    pub fn blob_path(&self, hex: &str) -> PathBuf {
        self.root.join("blobs/sha256").join(hex)
    }

    /// Removes a blob found unusable (a wheel refused at install, an sdist
    /// whose metadata cannot be read): its hash was right, its content is
    /// not, and no later build should start from it.
    pub fn evict(&self, hex: &str) {
        if is_sha256_hex(hex) {
            let _ = fs::remove_file(self.blob_path(hex));
        }
    }

    pub fn has_blob(&self, hex: &str) -> bool {
        let here = is_sha256_hex(hex) && self.present_or_fetched(hex);
        if here {
            self.note_blob(hex);
        }
        here
    }

    /// Reads a blob and checks that its content still has its name's hash; a blob
    /// that does not is deleted (so the next run fetches it again) and reported.
    pub fn read_blob(&self, hex: &str) -> Result<Vec<u8>> {
        if is_sha256_hex(hex) && self.present_or_fetched(hex) {
            self.note_blob(hex);
        }
        let path = self.blob_path(hex);
        let data = fs::read(&path).with_context(|| format!("cache blob {hex} is missing"))?;
        if sha256_hex(&data) != hex {
            let _ = fs::remove_file(&path);
            bail!(
                "cache blob {} was corrupt and has been removed; run the command again",
                path.display()
            );
        }
        Ok(data)
    }

    /// Streams a blob through the hasher without keeping it in memory.
    pub fn verify_blob(&self, hex: &str) -> Result<()> {
        if is_sha256_hex(hex) && self.present_or_fetched(hex) {
            self.note_blob(hex);
        }
        let path = self.blob_path(hex);
        let mut file = File::open(&path).with_context(|| format!("cache blob {hex} is missing"))?;
        let mut hashing = HashingWriter::new(io::sink());
        io::copy(&mut file, &mut hashing)?;
        let (_, actual, _) = hashing.finish();
        if actual != hex {
            let _ = fs::remove_file(&path);
            bail!(
                "cache blob {} was corrupt and has been removed; run the command again",
                path.display()
            );
        }
        Ok(())
    }

    pub fn put_bytes(&self, data: &[u8]) -> Result<String> {
        let mut w = self.blob_writer()?;
        w.write_all(data)?;
        w.commit(None)
    }

    /// A writer whose content becomes a blob only when `commit` succeeds.
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        let tmp = tempfile::NamedTempFile::new_in(self.root.join("tmp"))
            .context("cannot create a temporary file in the cache")?;
        Ok(BlobWriter {
            cache: self.clone(),
            inner: HashingWriter::new(BufWriter::new(tmp)),
        })
    }

    /// Moves an already-verified file into the store under `hex`.
    fn install(&self, tmp: tempfile::NamedTempFile, hex: &str) -> Result<()> {
        let dest = self.blob_path(hex);
        if dest.is_file() {
            return Ok(()); // same content already there; the temp file is dropped
        }
        tmp.persist(&dest)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot store blob {hex}"))?;
        Ok(())
    }

    pub fn get_ref(&self, namespace: &str, key: &str) -> Option<String> {
        let value = fs::read_to_string(self.ref_path(namespace, key)).ok()?;
        self.note_ref(namespace, key, &value);
        Some(value)
    }

    pub fn set_ref(&self, namespace: &str, key: &str, value: &str) -> Result<()> {
        self.note_ref(namespace, key, value);
        self.write_ref(namespace, key, value)
    }

    /// Sets a ref unless one is there (an imported one yields to local
    /// knowledge), without tracing it.
    pub fn import_ref(&self, namespace: &str, key: &str, value: &str) -> Result<()> {
        if self.ref_path(namespace, key).is_file() {
            return Ok(());
        }
        self.write_ref(namespace, key, value)
    }

    fn write_ref(&self, namespace: &str, key: &str, value: &str) -> Result<()> {
        let path = self.ref_path(namespace, key);
        fs::create_dir_all(path.parent().unwrap())?;
        let mut tmp = tempfile::NamedTempFile::new_in(self.root.join("tmp"))?;
        tmp.write_all(value.as_bytes())?;
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }

    fn ref_path(&self, namespace: &str, key: &str) -> PathBuf {
        self.root
            .join("refs")
            .join(namespace)
            .join(sha256_hex(key.as_bytes()))
    }

    /// Holds an exclusive lock named `name` until the guard drops; used around
    /// fetching one blob so a second process waits and then finds it stored.
    pub fn lock(&self, name: &str) -> Result<CacheLock> {
        let path = self.root.join("locks").join(sha256_hex(name.as_bytes()));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        file.lock()
            .with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(CacheLock { _file: file })
    }
}

pub struct CacheLock {
    _file: File, // the OS releases the lock when the file is closed
}

pub struct BlobWriter {
    cache: Cache,
    inner: HashingWriter<BufWriter<tempfile::NamedTempFile>>,
}

impl BlobWriter {
    /// Stores the content, refusing it when `expected_hex` is given and differs.
    /// Returns the hex sha256.
    pub fn commit(self, expected_hex: Option<&str>) -> Result<String> {
        self.commit_checked(expected_hex, |_| Ok(()))
    }

    /// Like `commit`, but first runs `check` on the finished file; content that
    /// fails the check never enters the store.
    pub fn commit_checked(
        self,
        expected_hex: Option<&str>,
        check: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<String> {
        let (buffered, hex, _) = self.inner.finish();
        let tmp = buffered.into_inner().map_err(|e| e.into_error())?;
        if let Some(expected) = expected_hex
            && expected != hex
        {
            bail!("sha256 mismatch: expected {expected}, got {hex}");
        }
        check(tmp.path())?;
        self.cache.install(tmp, &hex)?;
        self.cache.note_blob(&hex);
        Ok(hex)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Copies a whole reader into a new blob.
pub fn store_reader(
    cache: &Cache,
    reader: impl Read,
    expected_hex: Option<&str>,
    limit: u64,
) -> Result<String> {
    let mut w = cache.blob_writer()?;
    // Bounded like a download: one byte past the limit is enough to know.
    let copied = io::copy(&mut reader.take(limit.saturating_add(1)), &mut w)?;
    if copied > limit {
        anyhow::bail!("it is longer than the {limit} bytes it was expected to hold");
    }
    w.commit(expected_hex)
}

fn default_cache_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("PYPACK_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("pypack"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("cannot find a cache directory: set PYPACK_CACHE_DIR or HOME")?;
    let home = PathBuf::from(home);
    if cfg!(target_os = "macos") {
        Ok(home.join("Library/Caches/pypack"))
    } else {
        Ok(home.join(".cache/pypack"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tidy_removes_what_was_not_used_for_long() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(&dir.path().join("cache"))).unwrap();
        let kept = dir.path().join("kept");
        std::fs::create_dir(&kept).unwrap();
        let week_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(8 * 24 * 3600);
        let old = |name: &str| {
            let path = kept.join(name);
            std::fs::write(&path, b"x").unwrap();
            std::fs::File::open(&path)
                .unwrap()
                .set_modified(week_ago)
                .unwrap();
            path
        };
        let (stale, used) = (old("stale.txt"), old("used.txt"));
        let fresh = kept.join("fresh.txt");
        std::fs::write(&fresh, b"x").unwrap();
        cache.tidy(&kept, &used, std::time::Duration::from_secs(7 * 24 * 3600));
        assert!(!stale.exists());
        assert!(used.exists() && fresh.exists());
        // Used now: it is not stale the next time.
        let age = std::fs::metadata(&used)
            .unwrap()
            .modified()
            .unwrap()
            .elapsed()
            .unwrap();
        assert!(age < std::time::Duration::from_secs(60));
    }

    use super::*;

    #[test]
    fn what_killed_builds_left_in_tmp_goes_once_a_day_old() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("tmp");
        fs::create_dir_all(tmp.join(".pypack-out-old/blobs")).unwrap();
        fs::write(tmp.join(".tmpold"), b"partial").unwrap();
        fs::write(tmp.join(".tmpnew"), b"being written").unwrap();
        let day_ago = std::time::SystemTime::now() - ABANDONED_AFTER * 2;
        for old in [".pypack-out-old", ".tmpold"] {
            fs::File::open(tmp.join(old))
                .unwrap()
                .set_modified(day_ago)
                .unwrap();
        }
        Cache::open(Some(dir.path())).unwrap();
        let left: Vec<_> = fs::read_dir(&tmp)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left, vec![".tmpnew".to_string()]);
    }

    #[test]
    fn blobs_are_verified_and_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(dir.path())).unwrap();
        let hex = cache.put_bytes(b"hello").unwrap();
        assert_eq!(cache.read_blob(&hex).unwrap(), b"hello");

        // A wrong expected digest leaves nothing behind.
        let mut w = cache.blob_writer().unwrap();
        w.write_all(b"other").unwrap();
        let err = w.commit(Some(&hex)).unwrap_err().to_string();
        assert!(err.contains("mismatch"), "{err}");
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert_eq!(
            fs::read_dir(dir.path().join("blobs/sha256"))
                .unwrap()
                .count(),
            1
        );

        // Corruption on disk is detected and the blob dropped.
        fs::write(cache.blob_path(&hex), b"tampered").unwrap();
        assert!(cache.read_blob(&hex).is_err());
        assert!(!cache.has_blob(&hex));
    }

    #[test]
    fn failed_check_keeps_content_out() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(dir.path())).unwrap();
        let mut w = cache.blob_writer().unwrap();
        w.write_all(b"bad").unwrap();
        assert!(w.commit_checked(None, |_| bail!("no")).is_err());
        assert_eq!(
            fs::read_dir(dir.path().join("blobs/sha256"))
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn refs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(Some(dir.path())).unwrap();
        assert_eq!(cache.get_ref("ns", "k"), None);
        cache.set_ref("ns", "k", "v1").unwrap();
        cache.set_ref("ns", "k", "v2").unwrap();
        assert_eq!(cache.get_ref("ns", "k").as_deref(), Some("v2"));
        let _guard = cache.lock("k").unwrap();
    }
}
