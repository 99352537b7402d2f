//! The registry as a build cache shared by machines (`--cache-to REF`,
//! `--cache-from REF`). A run's trace — the cache refs it read or wrote
//! (keyed by the same input digests as the local cache) and the blobs it
//! used — is pushed as one entry: an OCI artifact whose layers are an
//! entry document and those blobs (so the registry keeps them), listed by
//! the index under REF's tag. Another run imports the newest entries'
//! refs and fetches a blob only when the build asks for it, digest-checked;
//! a blob the registry lacks or sends corrupt is a warning, and the work is
//! done here instead.

use crate::cache::{BlobSource, Cache, Trace};
use crate::oci::image::canonical_json;
use crate::oci::index::{INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE};
use crate::registry::{Reference, Registry};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

/// The artifact type of an entry, and the media type of its document.
pub const ARTIFACT_TYPE: &str = "application/vnd.pypack.cache.v1";
pub const ENTRY_TYPE: &str = "application/vnd.pypack.cache.entry.v1+json";
const EMPTY_TYPE: &str = "application/vnd.oci.empty.v1+json";
const BLOB_TYPE: &str = "application/octet-stream";
const CREATED: &str = "org.opencontainers.image.created";

/// How many of the newest entries a run imports.
const IMPORTED_ENTRIES: usize = 8;

/// How many times a writer merges its entry into the index again when a
/// concurrent writer's index replaced its own.
const MERGE_ATTEMPTS: usize = 8;

pub struct RegistryCache {
    registry: Registry,
    reference: Reference,
    /// Blobs the imported entries hold: hex → size.
    blobs: Mutex<HashMap<String, u64>>,
}

// Not derived: the registry client holds credentials.
impl std::fmt::Debug for RegistryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RegistryCache({})", self.reference)
    }
}

/// What `export` did.
pub struct Exported {
    pub entry: String,
    pub blobs: usize,
    pub uploaded: usize,
    pub refs: usize,
}

impl RegistryCache {
    pub fn new(registry: Registry, reference: Reference) -> RegistryCache {
        RegistryCache {
            registry,
            reference,
            blobs: Mutex::new(HashMap::new()),
        }
    }

    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    fn tag(&self) -> &str {
        self.reference.manifest_key()
    }

    /// The entries the index lists, newest first (none when there is no index).
    fn entries(&self) -> Result<Vec<Value>> {
        let Some(bytes) = self.registry.find_manifest(self.tag())? else {
            return Ok(Vec::new());
        };
        let index: Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: the cache index is not JSON", self.reference))?;
        let mut entries = index["manifests"].as_array().cloned().unwrap_or_default();
        entries.sort_by(|a, b| {
            let created = |v: &Value| v["annotations"][CREATED].as_str().unwrap_or("").to_string();
            created(b).cmp(&created(a))
        });
        Ok(entries)
    }

    /// Imports the refs of the newest entries into `cache` (a ref already
    /// there is kept) and learns their blobs; returns how many entries.
    pub fn import(&self, cache: &Cache) -> Result<usize> {
        let entries = self.entries()?;
        let mut imported = 0;
        for entry in entries.iter().take(IMPORTED_ENTRIES) {
            let digest = entry["digest"]
                .as_str()
                .context("an index entry without digest")?;
            let manifest = self.manifest(digest)?;
            let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
            let document = layers
                .iter()
                .find(|l| l["mediaType"] == ENTRY_TYPE)
                .with_context(|| format!("{}: entry {digest} has no document", self.reference))?;
            let doc_digest = document["digest"].as_str().unwrap_or("");
            let plain = cache.clone().without_remote();
            self.registry
                .fetch_blob(&plain, doc_digest, document["size"].as_u64())?;
            let hex = crate::digest::strip_sha256(doc_digest)?;
            let doc: Value = serde_json::from_slice(&plain.read_blob(hex)?)
                .with_context(|| format!("{}: entry {digest} is not JSON", self.reference))?;
            for r in doc["refs"].as_array().into_iter().flatten() {
                if let (Some(ns), Some(key), Some(value)) =
                    (r[0].as_str(), r[1].as_str(), r[2].as_str())
                {
                    cache.import_ref(ns, key, value)?;
                }
            }
            let mut known = self.blobs.lock().unwrap();
            for layer in layers.iter().filter(|l| l["mediaType"] == BLOB_TYPE) {
                if let (Some(d), Some(size)) = (layer["digest"].as_str(), layer["size"].as_u64())
                    && let Ok(hex) = crate::digest::strip_sha256(d)
                {
                    known.insert(hex.to_string(), size);
                }
            }
            imported += 1;
        }
        Ok(imported)
    }

    /// The manifest `digest`, checked against it.
    fn manifest(&self, digest: &str) -> Result<Value> {
        let bytes = self
            .registry
            .find_manifest(digest)?
            .with_context(|| format!("{}: the cache entry {digest} is gone", self.reference))?;
        if format!("sha256:{}", crate::digest::sha256_hex(&bytes)) != digest {
            bail!(
                "{}: the cache entry {digest} does not match its digest",
                self.reference
            );
        }
        Ok(serde_json::from_slice(&bytes)?)
    }

    /// Pushes `trace` as a new entry: the blobs the registry lacks, the
    /// entry, then the index with it (merged again if another writer
    /// replaced the index meanwhile).
    pub fn export(&self, cache: &Cache, trace: &Trace, created: &str) -> Result<Exported> {
        // A ref naming a URL with credentials in it (an index page fetched
        // as https://USER:PASSWORD@host/…) stays on this machine.
        let refs: Vec<[&str; 3]> = trace
            .refs
            .iter()
            .filter(|((_, key), value)| !names_credentials(key) && !names_credentials(value))
            .map(|((ns, key), value)| [ns.as_str(), key.as_str(), value.as_str()])
            .collect();
        let document = canonical_json(&json!({ "refs": refs }))?;
        let plain = cache.clone().without_remote();
        let doc_hex = plain.put_bytes(&document)?;
        let empty_hex = plain.put_bytes(b"{}")?;
        let blobs: Vec<(String, u64)> = trace
            .blobs
            .iter()
            .filter(|hex| **hex != doc_hex && **hex != empty_hex)
            .filter_map(|hex| {
                let size = std::fs::metadata(plain.blob_path(hex)).ok()?.len();
                Some((hex.clone(), size))
            })
            .collect();
        let mut all: Vec<String> = vec![doc_hex.clone(), empty_hex.clone()];
        all.extend(blobs.iter().map(|(hex, _)| hex.clone()));
        let uploaded = crate::parallel::map_ordered(&all, crate::parallel::WORKERS, |hex| {
            self.registry
                .push_blob(&plain, &format!("sha256:{hex}"), None)
                .with_context(|| format!("{}: pushing blob sha256:{hex}", self.reference))
        })?
        .into_iter()
        .filter(|&up| up)
        .count();
        let mut layers = vec![json!({
            "mediaType": ENTRY_TYPE,
            "digest": format!("sha256:{doc_hex}"),
            "size": document.len(),
        })];
        layers.extend(blobs.iter().map(|(hex, size)| {
            json!({"mediaType": BLOB_TYPE, "digest": format!("sha256:{hex}"), "size": size})
        }));
        let manifest = canonical_json(&json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "artifactType": ARTIFACT_TYPE,
            "config": {"mediaType": EMPTY_TYPE, "digest": format!("sha256:{empty_hex}"), "size": 2},
            "layers": layers,
            "annotations": {CREATED: created},
        }))?;
        let digest = format!("sha256:{}", crate::digest::sha256_hex(&manifest));
        self.registry
            .put_manifest_at(&digest, MANIFEST_MEDIA_TYPE, &manifest)?;
        let descriptor = json!({
            "mediaType": MANIFEST_MEDIA_TYPE,
            "artifactType": ARTIFACT_TYPE,
            "digest": digest,
            "size": manifest.len(),
            "annotations": {CREATED: created},
        });
        self.merge_into_index(&descriptor)?;
        Ok(Exported {
            entry: digest,
            blobs: blobs.len(),
            uploaded,
            refs: refs.len(),
        })
    }

    /// Adds `descriptor` to the index, reading it back until it is there:
    /// two writers replacing the index at once each find the other's write
    /// and merge again, so neither entry is lost.
    fn merge_into_index(&self, descriptor: &Value) -> Result<()> {
        let digest = descriptor["digest"].clone();
        for _ in 0..MERGE_ATTEMPTS {
            let mut entries = self.entries()?;
            if entries.iter().any(|e| e["digest"] == digest) {
                return Ok(());
            }
            entries.push(descriptor.clone());
            self.put_index(entries)?;
            // Another writer may have put its index between our read and write.
            std::thread::sleep(std::time::Duration::from_millis(50));
            if self.entries()?.iter().any(|e| e["digest"] == digest) {
                return Ok(());
            }
        }
        bail!(
            "{}: the cache index kept changing under other writers; the entry {} is pushed but not listed",
            self.reference,
            digest
        )
    }

    fn put_index(&self, mut entries: Vec<Value>) -> Result<()> {
        // Oldest first, one line per digest: the same entries make the same index.
        let mut seen = BTreeSet::new();
        entries.retain(|e| seen.insert(e["digest"].to_string()));
        entries.sort_by(|a, b| {
            let key = |v: &Value| {
                (
                    v["annotations"][CREATED].as_str().unwrap_or("").to_string(),
                    v["digest"].to_string(),
                )
            };
            key(a).cmp(&key(b))
        });
        let index = canonical_json(&json!({
            "schemaVersion": 2,
            "mediaType": INDEX_MEDIA_TYPE,
            "artifactType": ARTIFACT_TYPE,
            "manifests": entries,
        }))?;
        self.registry
            .put_manifest_at(self.tag(), INDEX_MEDIA_TYPE, &index)
    }

    /// Keeps the `keep` newest entries in the index; returns (kept,
    /// removed). The registry's garbage collection reclaims the blobs only
    /// removed entries held.
    pub fn prune(&self, keep: usize) -> Result<(usize, usize)> {
        let entries = self.entries()?;
        let kept: Vec<Value> = entries.iter().take(keep).cloned().collect();
        let removed = entries.len() - kept.len();
        if removed > 0 {
            self.put_index(kept.clone())?;
        }
        Ok((kept.len(), removed))
    }
}

/// Whether `text` holds a URL with user info (`scheme://user:pass@host`).
fn names_credentials(text: &str) -> bool {
    text.match_indices("://").any(|(at, _)| {
        let authority = text[at + 3..]
            .split(|c: char| c == '/' || c.is_whitespace() || c == '"')
            .next()
            .unwrap_or("");
        authority.contains('@')
    })
}

impl BlobSource for RegistryCache {
    fn fetch(&self, cache: &Cache, hex: &str) -> bool {
        let Some(size) = self.blobs.lock().unwrap().get(hex).copied() else {
            return false;
        };
        let plain = cache.clone().without_remote();
        match self
            .registry
            .fetch_blob(&plain, &format!("sha256:{hex}"), Some(size))
        {
            Ok(()) => true,
            Err(e) => {
                // Asked for once: the build makes it here instead.
                self.blobs.lock().unwrap().remove(hex);
                eprintln!(
                    "warning: the registry cache {} cannot give blob sha256:{hex} ({e:#}); making it here instead",
                    self.reference
                );
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_naming_credentials_are_recognised() {
        assert!(names_credentials(
            "application/json\nhttps://ci:s3cret@index.invalid/simple/flask/"
        ));
        assert!(names_credentials("{\"url\": \"http://u@h:8080/x\"}"));
        assert!(!names_credentials(
            "application/json\nhttps://index.invalid/simple/flask/"
        ));
        assert!(!names_credentials("git@host is no URL"));
    }
}
