//! The Debian archive client: signed suite indexes, package indexes, the
//! dependency closure of a recipe, and `.deb` downloads, every step checked
//! against the hash the step before it vouched for.

pub mod closure;
pub mod contents;
pub mod control;
pub mod deb;
pub mod packages;
pub mod release;
pub mod sources;
pub mod version;

use crate::cache::Cache;
use crate::http::{FetchOutcome, Http, Limit, Tee};
use crate::oci::layer::Entry;
use anyhow::{Context, Result};
use packages::Package;
use release::{Keyring, Release};
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How long a fetched `InRelease` is reused before it is fetched again (unless
/// `refresh`): long enough that repeated builds make no request, short enough
/// that security updates arrive the same day.
pub const INDEX_MAX_AGE_SECS: u64 = 6 * 3600;

/// The most read of an `InRelease` file, which no signed size bounds:
/// Debian's are a few hundred KB.
const MAX_RELEASE_BYTES: u64 = 16 << 20;

#[derive(Debug, Clone)]
pub struct ArchiveConfig {
    /// The Debian archive (e.g. the URI in the host's apt sources).
    pub main_uri: String,
    /// The security archive, for `*-security` suites.
    pub security_uri: Option<String>,
    /// Accept indexes whose signature cannot be verified (with a warning).
    pub insecure: bool,
    /// Accept an expired `Valid-Until` (with a warning).
    pub allow_expired: bool,
    /// Fetch the suite indexes again even if a recent copy is cached.
    pub refresh: bool,
    /// Print what is fetched.
    pub verbose: bool,
}

/// A suite's verified Release file and the InRelease it came from.
#[derive(Debug, Clone)]
pub struct SuiteIndex {
    pub suite: String,
    pub uri: String,
    pub inrelease_sha256: String,
    pub release: Release,
}

pub struct Archive<'a> {
    pub http: &'a Http,
    pub cache: &'a Cache,
    pub keyring: &'a Keyring,
    pub config: ArchiveConfig,
}

/// Counts of what a run fetched, so callers (and tests) can tell a warm run.
#[derive(Debug, Default)]
pub struct FetchStats {
    pub downloaded: AtomicUsize,
    pub cached: AtomicUsize,
}

impl FetchStats {
    fn record(&self, outcome: FetchOutcome) {
        match outcome {
            FetchOutcome::Downloaded => self.downloaded.fetch_add(1, Ordering::Relaxed),
            FetchOutcome::Cached => self.cached.fetch_add(1, Ordering::Relaxed),
        };
    }
    pub fn downloads(&self) -> usize {
        self.downloaded.load(Ordering::Relaxed)
    }
}

/// What reads a Packages index: its text, and where the decompressed copy
/// is kept (package paragraphs are read back from there).
type IndexReader<'r, T> =
    dyn Fn(&mut dyn std::io::BufRead, std::sync::Arc<std::path::PathBuf>) -> Result<T> + 'r;

impl Archive<'_> {
    fn uri_for(&self, suite: &str) -> Result<String> {
        if suite.ends_with("-security") {
            self.config.security_uri.clone().with_context(|| {
                format!(
                    "suite '{suite}' needs the Debian security archive, and none is configured: \
                     set PYPACK_DEBIAN_SECURITY_MIRROR=URL, run `pypack config set debian-security-mirror URL`, \
                     or pass --debian-security-mirror URL"
                )
            })
        } else {
            Ok(self.config.main_uri.clone())
        }
    }

    fn log(&self, message: &str) {
        if self.config.verbose {
            eprintln!("{message}");
        }
    }

    /// The verified Release of `suite`, from the cache when recent enough.
    pub fn suite(&self, suite: &str, stats: &FetchStats) -> Result<SuiteIndex> {
        let uri = self.uri_for(suite)?;
        let url = format!("{uri}/dists/{suite}/InRelease");
        let now = crate::unix_now();
        let cached = self.cache.get_ref("inrelease", &url).and_then(|value| {
            let (fetched_at, hex) = value.trim().split_once(' ')?;
            let fresh = now.saturating_sub(fetched_at.parse().ok()?) < INDEX_MAX_AGE_SECS;
            (fresh && !self.config.refresh && self.cache.has_blob(hex)).then(|| hex.to_string())
        });
        let (bytes, outcome) = match cached {
            Some(hex) => (self.cache.read_blob(&hex)?, FetchOutcome::Cached),
            None => {
                self.log(&format!("fetching {url}"));
                (
                    self.http
                        .get_bytes(&url, Limit::Cap(MAX_RELEASE_BYTES, "a Release file"))?,
                    FetchOutcome::Downloaded,
                )
            }
        };
        let text =
            String::from_utf8(bytes.clone()).with_context(|| format!("{url} is not text"))?;
        // A signature that verified is remembered with the keys it verified
        // with: checking it again (parsing the cleartext armor and the RSA
        // check) costs a warm build ~40 ms for a suite and its updates.
        let hex = crate::digest::sha256_hex(&bytes);
        let verified_key = format!("{hex}\n{}\n", self.keyring.identity());
        let remembered = (outcome == FetchOutcome::Cached)
            .then(|| self.cache.get_ref("inrelease-verified", &verified_key))
            .flatten()
            .and_then(|signed_hex| self.cache.read_blob(&signed_hex).ok())
            .and_then(|signed| String::from_utf8(signed).ok());
        let signed = match remembered {
            Some(signed) => signed,
            None => match self.keyring.verify_inrelease(&text, &url) {
                Ok(signed) => {
                    let signed_hex = self.cache.put_bytes(signed.as_bytes())?;
                    self.cache
                        .set_ref("inrelease-verified", &verified_key, &signed_hex)?;
                    signed
                }
                Err(e) if self.config.insecure => {
                    eprintln!("warning: {e:#}; continuing because of --insecure");
                    unsigned_text(&text)
                }
                Err(e) => return Err(e),
            },
        };
        let release = Release::parse(&signed).with_context(|| format!("reading {url}"))?;
        if !self.config.insecure {
            match release.check_valid_until(now) {
                Err(_) if self.config.allow_expired => eprintln!(
                    "warning: {url} is past its Valid-Until ({}); used anyway because of --allow-expired-index",
                    release.valid_until.as_deref().unwrap_or("?")
                ),
                other => other.with_context(|| url.clone())?,
            }
        }
        // Only a verified index is kept, so the cache never vouches for a bad one.
        self.cache.put_bytes(&bytes)?;
        if outcome == FetchOutcome::Downloaded {
            self.cache
                .set_ref("inrelease", &url, &format!("{now} {hex}"))?;
        }
        stats.record(outcome);
        Ok(SuiteIndex {
            suite: suite.to_string(),
            uri,
            inrelease_sha256: hex,
            release,
        })
    }

    /// The suites' verified indexes, in the order named; fetched at once
    /// (each is a round trip, and a base has three).
    pub fn suites(&self, names: &[String], stats: &FetchStats) -> Result<Vec<SuiteIndex>> {
        crate::parallel::map_ordered(names, names.len(), |name| self.suite(name, stats))
    }

    /// The packages of one component of a suite for `arch`, hash-checked
    /// against the suite's Release.
    pub fn packages(
        &self,
        index: &SuiteIndex,
        component: &str,
        arch: &str,
        stats: &FetchStats,
    ) -> Result<Vec<Package>> {
        let mut packages =
            self.read_packages_index(index, component, arch, stats, &|reader, plain| {
                packages::read_packages(reader, arch, Some(plain))
            })?;
        let uri: std::sync::Arc<str> = std::sync::Arc::from(index.uri.as_str());
        for p in &mut packages {
            p.archive_uri = uri.clone();
        }
        Ok(packages)
    }

    /// The versions of the packages named `names` in one component of a
    /// suite for `arch` (see [`packages::versions_named`]), hash-checked
    /// against the suite's Release.
    pub fn versions_named(
        &self,
        index: &SuiteIndex,
        component: &str,
        arch: &str,
        names: &[&str],
        stats: &FetchStats,
    ) -> Result<Vec<(String, String)>> {
        self.read_packages_index(index, component, arch, stats, &|reader, _| {
            packages::versions_named(reader, arch, names)
        })
    }

    /// `read` given one component's Packages index for `arch`: the
    /// decompressed copy in the cache, else the signed file as it downloads
    /// (the copy written meanwhile), with the copy's path.
    fn read_packages_index<T>(
        &self,
        index: &SuiteIndex,
        component: &str,
        arch: &str,
        stats: &FetchStats,
        read: &IndexReader<'_, T>,
    ) -> Result<T> {
        let base = format!("{component}/binary-{arch}/Packages");
        let file = signed_path(index, &base)
            .with_context(|| format!("suite {} has no {base} index for {arch}", index.suite))?;
        // The decompressed index is kept beside the cache's blobs: package
        // paragraphs are read back from it (not held in memory), and the
        // next read of the same index needs no decompression.
        let dir = self.cache.root().join("debian-index");
        std::fs::create_dir_all(&dir)?;
        let plain = std::sync::Arc::new(dir.join(format!("{}.txt", file.sha256)));
        let read = |reader: &mut dyn Read| {
            let mut reader = std::io::BufReader::with_capacity(1 << 16, reader);
            read(&mut reader, plain.clone()).with_context(|| format!("reading {}", file.url))
        };
        // Kept while used; an index not used for a week goes.
        let tidy = || self.cache.tidy(&dir, plain.as_path(), KEEP_UNUSED);
        // An index a reader refuses leaves the cache, signed or not: one
        // reader (a lock's, which reads two packages) may have kept what
        // another (a build's, which reads them all) refuses.
        let refused = |e: anyhow::Error| {
            let _ = std::fs::remove_file(plain.as_path());
            self.cache.evict(&file.sha256);
            e
        };
        if plain.is_file() {
            tidy();
            return read(&mut std::fs::File::open(plain.as_path())?).map_err(refused);
        }
        let copy = tempfile::NamedTempFile::new_in(self.cache.root().join("tmp"))?;
        let value = self
            .read_signed_file(&file, stats, |reader| {
                read(&mut Tee {
                    inner: reader,
                    copy: std::io::BufWriter::new(copy.as_file()),
                })
            })
            .map_err(refused)?;
        // Another build may have put the same file there meanwhile.
        if let Err(e) = copy.persist(plain.as_path())
            && !plain.is_file()
        {
            return Err(e.error).context("keeping the decompressed index");
        }
        tidy();
        Ok(value)
    }

    /// `read` given the content of a file the suite's Release lists,
    /// decompressed: from the cache, or as it downloads. What `read` returns
    /// is kept only once the whole file has the Release's sha256 (and is then
    /// kept in the cache), so content that does not match is never used.
    pub fn read_signed_file<T>(
        &self,
        file: &SignedPath,
        stats: &FetchStats,
        read: impl FnOnce(&mut dyn Read) -> Result<T>,
    ) -> Result<T> {
        let decompressed = |reader: &mut dyn Read| -> Result<T> {
            let mut reader = std::io::BufReader::new(reader);
            match file.path.rsplit('.').next() {
                Some("xz") => read(&mut liblzma::read::XzDecoder::new(reader)),
                Some("gz") => read(&mut flate2::read::GzDecoder::new(reader)),
                _ => read(&mut reader),
            }
        };
        if !self.cache.has_blob(&file.sha256) {
            self.log(&format!("fetching {}", file.url));
        }
        let (outcome, value) = self
            .http
            .fetch_to_cache_reading(
                self.cache,
                &file.url,
                &file.sha256,
                Some(file.size),
                decompressed,
            )
            .with_context(|| {
                format!(
                    "fetching the {} of {} (checked against its signed Release)",
                    file.path, file.suite
                )
            })?;
        stats.record(outcome);
        Ok(value)
    }

    /// Downloads (or finds in the cache) every `.deb`, verifies its sha256 and
    /// that it extracts safely, and returns each package's entries in order.
    pub fn fetch_debs(&self, packages: &[&Package], stats: &FetchStats) -> Result<Vec<Vec<Entry>>> {
        let missing: Vec<&&Package> = packages
            .iter()
            .filter(|p| !self.cache.has_blob(&p.sha256))
            .collect();
        let bytes: u64 = missing.iter().map(|p| p.size).sum();
        let label = format!(
            "fetching {} Debian packages ({:.1} MB)",
            missing.len(),
            bytes as f64 / 1e6
        );
        let progress = crate::progress::Progress::start(
            &label,
            packages.len() as u64,
            self.config.verbose && !missing.is_empty(),
        );
        crate::parallel::map_ordered(packages, crate::parallel::WORKERS, |package| {
            let result = self.fetch_deb(package, stats);
            progress.inc();
            result
        })
    }

    fn fetch_deb(&self, package: &Package, stats: &FetchStats) -> Result<Vec<Entry>> {
        let url = format!("{}/{}", package.archive_uri, package.filename);
        let name = format!("{} {}", package.name, package.version);
        let mut extracted = None;
        let outcome = self
            .http
            .fetch_to_cache(
                self.cache,
                &url,
                &package.sha256,
                Some(package.size),
                |path| {
                    let _permit = EXTRACTING.acquire();
                    let data = std::fs::read(path)?;
                    extracted = Some(deb::extract(&data, &name)?);
                    Ok(())
                },
            )
            .with_context(|| format!("package {name}"))?;
        stats.record(outcome);
        match extracted {
            Some(entries) => Ok(entries),
            None => {
                let _permit = EXTRACTING.acquire();
                deb::extract(&self.cache.read_blob(&package.sha256)?, &name)
            }
        }
    }
}

/// How long a derived copy (a decompressed index) is kept unused.
const KEEP_UNUSED: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// An index file the Release lists: where it came from, its (compressed)
/// sha256 as the Release gives it, and its contents decompressed.
pub struct SignedPath {
    pub suite: String,
    /// The file's path in the Release (with its compression's extension).
    pub path: String,
    pub url: String,
    pub sha256: String,
    /// Its size as the signed Release gives it.
    pub size: u64,
}

/// The file the suite's signed Release lists as `path`, trying `.gz`,
/// `.xz`, then plain (gzip before xz: a few more bytes to fetch, but it
/// decompresses several times faster: a suite's main Packages in 0.25 s
/// against 1.1 s); `None` when the Release lists no such file.
pub fn signed_path(index: &SuiteIndex, path: &str) -> Option<SignedPath> {
    let (path, (hash, size)) = ["gz", "xz", ""]
        .iter()
        .map(|ext| {
            if ext.is_empty() {
                path.to_string()
            } else {
                format!("{path}.{ext}")
            }
        })
        .find_map(|p| index.release.sha256.get(&p).map(|h| (p, h.clone())))?;
    let dir = format!("{}/dists/{}", index.uri, index.suite);
    let url = if index.release.acquire_by_hash {
        let parent = path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
        format!("{dir}/{parent}/by-hash/SHA256/{hash}")
    } else {
        format!("{dir}/{path}")
    };
    Some(SignedPath {
        suite: index.suite.clone(),
        path,
        url,
        sha256: hash,
        size,
    })
}

/// Packages being unpacked at once (each holds its .deb, its data.tar and
/// an xz dictionary): one per core.
static EXTRACTING: crate::parallel::CpuPermits = crate::parallel::CpuPermits::new();

/// A reader that writes what is read from it to `copy` as well.
/// The text of a cleartext-signed file without verifying it (`--insecure` only).
fn unsigned_text(text: &str) -> String {
    let body = text.split_once("\n\n").map(|(_, b)| b).unwrap_or(text);
    let body = body
        .split("\n-----BEGIN PGP SIGNATURE-----")
        .next()
        .unwrap_or(body);
    body.lines()
        .map(|l| l.strip_prefix("- ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}
