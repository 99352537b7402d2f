//! Source distributions as an index lists them: `NAME-VERSION.tar.gz` (or
//! `.zip`), one top directory holding `PKG-INFO` and usually `pyproject.toml`.
//! Reading those two files is all pypack does with an sdist itself; building
//! one is the builder's job.

use anyhow::{Context, Result, bail};
use pep440_rs::Version;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

pub fn is_sdist(filename: &str) -> bool {
    filename.ends_with(".tar.gz") || filename.ends_with(".zip")
}

/// The version in an sdist's file name, given the project's normalized
/// name (PEP 625 names are normalized; older ones may use `-` or `.`).
pub fn sdist_version(filename: &str, project: &str) -> Option<Version> {
    let stem = filename
        .strip_suffix(".tar.gz")
        .or_else(|| filename.strip_suffix(".zip"))?;
    // The name may itself hold `-`, `_` or `.`: try each `-` as the split.
    stem.match_indices('-').find_map(|(at, _)| {
        let (name, version) = (&stem[..at], &stem[at + 1..]);
        if super::names::normalize_name(name) != project {
            return None;
        }
        Version::from_str(version).ok()
    })
}

/// A file in the sdist's top directory (`PKG-INFO`, `pyproject.toml`), if there.
pub fn top_level_file(path: &Path, filename: &str, name: &str) -> Result<Option<Vec<u8>>> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {filename}"))?;
    let is_top = |member: &str| {
        let mut parts = member.trim_start_matches("./").split('/');
        parts.next().is_some() && parts.next() == Some(name) && parts.next().is_none()
    };
    if filename.ends_with(".zip") {
        let mut zip =
            zip::ZipArchive::new(file).with_context(|| format!("{filename} is not a zip"))?;
        let member = zip
            .file_names()
            .filter_map(|m| m.ok())
            .find(|m| is_top(m))
            .map(|m| m.to_string());
        let Some(member) = member else {
            return Ok(None);
        };
        let entry = zip.by_name(&member)?;
        let declared = entry.size();
        return read_at_most(entry, declared, filename, name).map(Some);
    }
    // A bomb of a tarball (gigabytes of zeros before PKG-INFO) is read no
    // further than a real sdist could unpack to.
    let compressed = file.metadata().map(|m| m.len()).unwrap_or(0);
    let limit = crate::limits::unpack_limit(compressed);
    let read = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let unpacked = Counted {
        inner: flate2::read::GzDecoder::new(file).take(limit),
        read: read.clone(),
    };
    let bomb = || {
        anyhow::anyhow!(
            "{filename} unpacks to more than {} MB from {} KB before its {name}; refusing it (a decompression bomb?)",
            limit >> 20,
            compressed >> 10
        )
    };
    let mut tar = tar::Archive::new(unpacked);
    let entries = tar
        .entries()
        .with_context(|| format!("{filename} is not a .tar.gz"))?;
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(_) if read.get() >= limit => return Err(bomb()),
            Err(e) => return Err(e).with_context(|| format!("reading {filename}")),
        };
        if is_top(&entry.path()?.to_string_lossy()) {
            let declared = entry.size();
            return read_at_most(entry, declared, filename, name).map(Some);
        }
    }
    if read.get() >= limit {
        return Err(bomb());
    }
    Ok(None)
}

/// A reader that counts what passed through it.
struct Counted<R> {
    inner: R,
    read: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// The most read of an sdist's `PKG-INFO` or `pyproject.toml`.
const MAX_TOP_FILE_BYTES: u64 = 16 << 20;

/// The member's content, refused unread when its `declared` size is over
/// the limit, and cut past it when it holds more than it declares.
fn read_at_most(entry: impl Read, declared: u64, filename: &str, name: &str) -> Result<Vec<u8>> {
    crate::limits::read_within(entry, declared, MAX_TOP_FILE_BYTES)
        .with_context(|| format!("reading {name} of {filename}"))?
        .with_context(|| {
            format!(
                "{filename}: its {name} is larger than {} MB; refusing it",
                MAX_TOP_FILE_BYTES >> 20
            )
        })
}

/// `PKG-INFO` when it can be trusted for resolution (PEP 643: metadata
/// version 2.2 or later, and neither dependencies nor `Requires-Python`
/// marked dynamic); `None` means the sdist must be built to know them.
pub fn static_metadata(path: &Path, filename: &str) -> Result<Option<String>> {
    let Some(data) = top_level_file(path, filename, "PKG-INFO")? else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&data).into_owned();
    let headers = super::metadata::Headers::parse(&text);
    let version = headers.get("Metadata-Version");
    let Some(version) = version.and_then(|v| Version::from_str(&v).ok()) else {
        bail!("{filename}: PKG-INFO has no valid Metadata-Version");
    };
    if version < Version::new([2, 2]) {
        return Ok(None);
    }
    let dynamic = headers.get_all("Dynamic").iter().any(|d| {
        d.eq_ignore_ascii_case("Requires-Dist") || d.eq_ignore_ascii_case("Requires-Python")
    });
    Ok((!dynamic).then_some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_names() {
        let v = |f: &str, p: &str| sdist_version(f, p).map(|v| v.to_string());
        assert_eq!(v("cext-1.0.tar.gz", "cext").as_deref(), Some("1.0"));
        assert_eq!(
            v("my_pkg-2.1rc1.tar.gz", "my-pkg").as_deref(),
            Some("2.1rc1")
        );
        assert_eq!(v("My.Pkg-3.zip", "my-pkg").as_deref(), Some("3"));
        assert_eq!(v("other-1.0.tar.gz", "cext"), None);
        assert_eq!(v("cext-notaversion.tar.gz", "cext"), None);
        assert!(is_sdist("a-1.tar.gz") && !is_sdist("a-1-py3-none-any.whl"));
    }

    fn sdist(pkg_info: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        let gz = flate2::write::GzEncoder::new(file.reopen().unwrap(), Default::default());
        let mut tar = tar::Builder::new(gz);
        let mut header = tar::Header::new_gnu();
        header.set_size(pkg_info.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "p-1.0/PKG-INFO", pkg_info.as_bytes())
            .unwrap();
        tar.into_inner().unwrap().finish().unwrap();
        file
    }

    #[test]
    fn pkg_info_is_used_only_when_static() {
        let read = |text: &str| static_metadata(sdist(text).path(), "p-1.0.tar.gz").unwrap();
        let static_one = "Metadata-Version: 2.2\nName: p\nVersion: 1.0\nRequires-Dist: six\n\nbody";
        assert!(read(static_one).unwrap().contains("Requires-Dist: six"));
        assert!(read("Metadata-Version: 2.1\nName: p\nVersion: 1.0\n").is_none());
        assert!(
            read("Metadata-Version: 2.4\nName: p\nVersion: 1.0\nDynamic: Requires-Dist\n")
                .is_none()
        );
    }
}
