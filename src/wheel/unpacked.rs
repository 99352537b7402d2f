//! Wheels unpacked once into the cache, every member checked against the
//! wheel's RECORD as it is written out. An install then lists files on disk
//! instead of holding the wheel's content in memory (a data-science venv is
//! close to a GB), and the next build that installs the same wheel (another
//! pin changed, another app) reads them again without inflating the zip.

use super::dist_info::{RecordHasher, RecordRow, parse_record, parse_wheel_file};
use crate::cache::Cache;
use anyhow::{Context, Result, bail};
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Bumped when what an unpacked wheel's directory holds changes.
const UNPACKED_FORMAT: u32 = 1;

/// The most a wheel may unpack to (its members' declared sizes together),
/// whatever its size (`limits::unpack_limit` bounds it by that too): the
/// largest real wheels (CUDA builds of torch) unpack to a few GB; a zip
/// bomb is refused before anything is read.
const MAX_UNPACKED_BYTES: u64 = 8 << 30;

/// A wheel's members as files: `<root>/<member name>`.
#[derive(Debug)]
pub struct Unpacked {
    pub root: PathBuf,
    /// The `<name>-<version>.dist-info` directory of the wheel.
    pub dist_info: String,
    pub members: BTreeMap<String, Member>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Member {
    pub size: u64,
    pub executable: bool,
    /// The sha256 as RECORD writes it (urlsafe base64, no padding).
    pub sha256: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Listing {
    dist_info: String,
    members: BTreeMap<String, Member>,
}

impl Unpacked {
    /// The copy in `dir` that `listing` lists.
    fn at(dir: &Path, listing: Listing) -> Unpacked {
        Unpacked {
            root: dir.join("files"),
            dist_info: listing.dist_info,
            members: listing.members,
        }
    }

    pub fn path_of(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// A small member's text (WHEEL, entry_points.txt), `None` if absent.
    pub fn text(&self, name: &str) -> Result<Option<String>> {
        if !self.members.contains_key(name) {
            return Ok(None);
        }
        let data = std::fs::read(self.path_of(name))
            .with_context(|| format!("reading the unpacked {name}"))?;
        Ok(Some(String::from_utf8_lossy(&data).into_owned()))
    }
}

/// The wheel stored in the cache as blob `sha256` (named `filename`),
/// unpacked: from the cache when it was before, else now.
pub fn unpacked(cache: &Cache, sha256: &str, filename: &str) -> Result<Unpacked> {
    let dir = cache
        .root()
        .join(format!("unpacked-wheels/{UNPACKED_FORMAT}/{sha256}"));
    if let Some(found) = read_listing(&dir) {
        return Ok(found);
    }
    let parent = dir.parent().expect("an unpacked wheel's dir has a parent");
    std::fs::create_dir_all(parent)?;
    let work = tempfile::tempdir_in(cache.root().join("tmp"))?;
    let listing = unpack_into(
        &cache.blob_path(sha256),
        filename,
        &work.path().join("files"),
    )?;
    std::fs::write(
        work.path().join("listing.json"),
        serde_json::to_vec(&listing)?,
    )?;
    // A copy whose listing is unreadable (a disk that filled, a hand that
    // edited it) is replaced, not kept forever; one another build has just
    // put in place (whole, so with its listing) is used, not removed.
    if dir.exists() {
        if let Some(found) = read_listing(&dir) {
            return Ok(found);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    // Moved into place whole: a reader sees all of it or none. Another
    // build that got there first has put the same content.
    let work = work.keep();
    if std::fs::rename(&work, &dir).is_ok() {
        return Ok(Unpacked::at(&dir, listing));
    }
    let _ = std::fs::remove_dir_all(&work);
    read_listing(&dir).with_context(|| format!("{filename}: its unpacked copy is unreadable"))
}

fn read_listing(dir: &Path) -> Option<Unpacked> {
    let text = std::fs::read(dir.join("listing.json")).ok()?;
    Some(Unpacked::at(dir, serde_json::from_slice(&text).ok()?))
}

/// Writes every member of the wheel at `path` under `out`, each checked
/// against RECORD (RECORD itself and its signatures are left out: an
/// install writes its own).
fn unpack_into(path: &Path, filename: &str, out: &Path) -> Result<Listing> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {filename}"))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut zip = zip::ZipArchive::new(file)
        .with_context(|| format!("{filename} is not a valid wheel (zip)"))?;
    if let Some(entries) = central_directory_entries(path)
        && entries > zip.len() as u64
    {
        // The zip reader keeps one member per name; which copy an
        // installer keeps is not defined, and RECORD may vouch for the other.
        bail!(
            "{filename} holds {entries} members under only {} names: a member appears twice; refusing the wheel",
            zip.len()
        );
    }
    let budget = MAX_UNPACKED_BYTES.min(crate::limits::unpack_limit(size));
    check_declared_size(&mut zip, filename, budget)?;
    let names = member_names(&mut zip, filename)?;
    let wheel = crate::python::WheelFilename::parse(filename)?;
    let dist_info = find_dist_info(names.iter().map(String::as_str), &wheel, filename)?;
    let wheel_file = small_member(&mut zip, &format!("{dist_info}/WHEEL"), filename)?;
    parse_wheel_file(&wheel_file).with_context(|| format!("{filename}: {dist_info}/WHEEL"))?;
    let record: HashMap<String, RecordRow> = parse_record(&small_member(
        &mut zip,
        &format!("{dist_info}/RECORD"),
        filename,
    )?)
    .with_context(|| format!("{filename}: unreadable RECORD"))?
    .into_iter()
    .map(|row| (row.path.clone(), row))
    .collect();
    let mut members = BTreeMap::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i)?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().unwrap_or_default().to_string();
        if name.starts_with(&format!("{dist_info}/RECORD")) {
            continue; // rewritten by the install; signatures no longer apply
        }
        let executable = entry.unix_mode().is_some_and(|m| m & 0o111 != 0);
        let declared = entry.size();
        let row = record.get(&name).with_context(|| {
            format!("{filename}: {name} is not listed in RECORD; refusing the wheel")
        })?;
        let (sha256, size) = write_checked(&mut entry, declared, row, &out.join(&name), filename)?;
        members.insert(
            name,
            Member {
                size,
                executable,
                sha256,
            },
        );
    }
    Ok(Listing { dist_info, members })
}

/// Refuses a wheel whose members declare more than `budget` together,
/// before anything is read.
pub(super) fn check_declared_size(
    zip: &mut zip::ZipArchive<impl Read + std::io::Seek>,
    filename: &str,
    budget: u64,
) -> Result<()> {
    let declared: u64 = (0..zip.len())
        .filter_map(|i| zip.by_index_raw(i).ok().map(|e| e.size()))
        .fold(0u64, u64::saturating_add);
    if declared > budget {
        bail!(
            "{filename} would unpack to {:.1} GB, more than pypack accepts of a wheel ({:.1} GB): refusing it (a zip bomb?)",
            declared as f64 / 1e9,
            budget as f64 / 1e9
        );
    }
    Ok(())
}

/// The names of the wheel's files, each checked to stay inside the venv.
fn member_names(
    zip: &mut zip::ZipArchive<impl Read + std::io::Seek>,
    filename: &str,
) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i)?;
        if entry.is_dir() {
            continue;
        }
        let name = entry
            .name()
            .with_context(|| format!("{filename}: a member name is not UTF-8"))?
            .to_string();
        if name.starts_with('/')
            || name.contains('\\')
            || name
                .split('/')
                .any(|p| p == ".." || p == "." || p.is_empty())
        {
            bail!(
                "{filename}: member '{name}' would be written outside the environment; refusing the wheel"
            );
        }
        if entry.is_symlink() {
            bail!("{filename}: member '{name}' is a symlink, which wheels may not contain");
        }
        names.push(name);
    }
    Ok(names)
}

/// A metadata member's text, read within a small bound.
fn small_member(
    zip: &mut zip::ZipArchive<impl Read + std::io::Seek>,
    name: &str,
    filename: &str,
) -> Result<String> {
    let entry = zip
        .by_name(name)
        .map_err(|_| anyhow::anyhow!("{filename} has no {name}"))?;
    let declared = entry.size();
    let data = crate::limits::read_within(entry, declared, declared.min(64 << 20))
        .with_context(|| format!("{filename}: cannot read {name}"))?
        .with_context(|| format!("{filename}: {name} is too large"))?;
    Ok(String::from_utf8_lossy(&data).into_owned())
}

/// Copies a member to `dest`, never more than the size it declares, and
/// checks it against its RECORD row; returns its sha256 as RECORD writes
/// it, and its size.
pub(super) fn write_checked(
    member: &mut impl Read,
    declared: u64,
    row: &RecordRow,
    dest: &Path,
    filename: &str,
) -> Result<(String, u64)> {
    let name = &row.path;
    let Some((algorithm, digest)) = &row.hash else {
        bail!("{filename}: RECORD has no hash for {name}; refusing the wheel");
    };
    let mut check = RecordHasher::new(algorithm)
        .with_context(|| format!("{filename}: RECORD entry for {name}"))?;
    let mut sha256 = RecordHasher::sha256();
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(dest).with_context(|| format!("writing {}", dest.display()))?,
    );
    // One byte more than declared is read, to see it is there.
    let mut limited = member.take(declared + 1);
    let mut buf = vec![0u8; 256 << 10];
    let mut total = 0u64;
    loop {
        let n = limited
            .read(&mut buf)
            .with_context(|| format!("{filename}: cannot read {name}"))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > declared {
            bail!(
                "{filename}: member '{name}' unpacks to more than the {declared} bytes it declares; refusing the wheel"
            );
        }
        check.update(&buf[..n]);
        sha256.update(&buf[..n]);
        file.write_all(&buf[..n])?;
    }
    file.flush()?;
    if !check.matches(digest) {
        bail!("{filename}: {name} does not match its RECORD hash; refusing the wheel");
    }
    Ok((sha256.finish(), total))
}

/// How many members the zip's end-of-central-directory record counts
/// (`None` for a zip64 count or no record found).
pub(super) fn central_directory_entries(path: &Path) -> Option<u64> {
    use std::io::{Seek, SeekFrom};
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    // The record is 22 bytes plus a comment of at most 64 KiB.
    let tail_len = len.min(22 + 0xffff);
    file.seek(SeekFrom::Start(len - tail_len)).ok()?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).ok()?;
    // The record is the one whose comment runs exactly to the end (a
    // comment may itself hold the signature).
    let at = (0..tail.len().saturating_sub(21)).rev().find(|&at| {
        tail[at..].starts_with(b"PK\x05\x06")
            && u16::from_le_bytes([tail[at + 20], tail[at + 21]]) as usize + 22 == tail.len() - at
    })?;
    let count = u16::from_le_bytes([tail[at + 10], tail[at + 11]]);
    (count != 0xffff).then_some(count as u64)
}

fn find_dist_info<'n>(
    names: impl Iterator<Item = &'n str>,
    wheel: &crate::python::WheelFilename,
    filename: &str,
) -> Result<String> {
    let wanted = crate::index::normalize_name(&wheel.name);
    names
        .filter_map(|n| n.split_once('/').map(|(top, _)| top))
        .filter(|top| top.ends_with(".dist-info"))
        .find(|top| {
            let stem = top.trim_end_matches(".dist-info");
            stem.rsplit_once('-')
                .is_some_and(|(name, _)| crate::index::normalize_name(name) == wanted)
        })
        .map(str::to_string)
        .with_context(|| format!("{filename} has no {}-*.dist-info directory", wheel.name))
}
