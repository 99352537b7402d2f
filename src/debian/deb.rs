//! `.deb` files: an `ar` archive whose `data.tar.{xz,zst,gz}` member holds the
//! files. Extracted in memory, never running maintainer scripts, refusing any
//! member that would land outside the root.

use crate::oci::layer::{Entry, EntryKind, check_entry_path};
use anyhow::{Context, Result, bail};
use std::io::Read;

/// Reads the filesystem entries of a `.deb`.
pub fn extract(deb: &[u8], package: &str) -> Result<Vec<Entry>> {
    let mut archive = ar::Archive::new(deb);
    while let Some(member) = archive.next_entry() {
        let mut member =
            member.with_context(|| format!("{package}: not a valid .deb (ar) file"))?;
        let name = String::from_utf8_lossy(member.header().identifier())
            .trim_end_matches('/')
            .to_string();
        if !name.starts_with("data.tar") {
            continue;
        }
        let mut compressed = Vec::new();
        member.read_to_end(&mut compressed)?;
        let limit = crate::limits::unpack_limit(compressed.len() as u64);
        return read_data_tar(decoder(&name, &compressed)?, limit)
            .with_context(|| format!("refusing the .deb of {package} ({name})"));
    }
    bail!("{package}: the .deb has no data.tar member")
}

/// A reader of `data`, decompressed as the member's `name` says.
fn decoder<'a>(name: &str, data: &'a [u8]) -> Result<Box<dyn Read + 'a>> {
    Ok(match name.rsplit('.').next() {
        Some("xz") => Box::new(liblzma::read::XzDecoder::new(data)),
        Some("zst") => Box::new(zstd::stream::read::Decoder::new(data)?),
        Some("gz") => Box::new(flate2::read::GzDecoder::new(data)),
        Some("tar") => Box::new(data),
        _ => bail!("unsupported compression of {name}"),
    })
}

/// The entries of a data.tar streamed from `tar_stream`. The sizes its
/// headers declare may add up to `limit` bytes at most: a bomb is refused
/// at the header that passes it, before its data is read.
fn read_data_tar(tar_stream: impl Read, limit: u64) -> Result<Vec<Entry>> {
    let mut archive = tar::Archive::new(tar_stream);
    let mut entries = Vec::new();
    let mut declared = 0u64;
    for member in archive.entries()? {
        let mut member = member?;
        let header = member.header().clone();
        declared = declared.saturating_add(header.size()?);
        if declared > limit {
            bail!(
                "its files add up to more than {} MB, more than its compressed size allows; \
                 refusing it (a decompression bomb?)",
                limit >> 20
            );
        }
        let raw_path = String::from_utf8_lossy(&member.path_bytes()).into_owned();
        let Some(path) = normalize(&raw_path)? else {
            continue;
        };
        let mode = header.mode()? & 0o7777;
        let (uid, gid) = (header.uid()? as u32, header.gid()? as u32);
        let kind = match header.entry_type() {
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut data = Vec::with_capacity(header.size()? as usize);
                member.read_to_end(&mut data)?;
                EntryKind::File(data)
            }
            tar::EntryType::Symlink => {
                let target = link_target(&member)?;
                EntryKind::Symlink(target)
            }
            tar::EntryType::Link => {
                let target = link_target(&member)?;
                let target = normalize(&target)?
                    .with_context(|| format!("hard link '{raw_path}' points at the root"))?;
                EntryKind::Hardlink(target)
            }
            // Device nodes and fifos have no place in an image built by pypack.
            other => bail!("member '{raw_path}' has unsupported type {other:?}"),
        };
        entries.push(Entry {
            path,
            kind,
            mode,
            uid,
            gid,
        });
    }
    Ok(entries)
}

fn link_target(member: &tar::Entry<impl Read>) -> Result<String> {
    let bytes = member.link_name_bytes().context("link without a target")?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// `./usr/bin/x` → `usr/bin/x`; `./` → None (the root itself). Absolute paths
/// and `..` are refused: a package must not write outside the image root.
fn normalize(raw: &str) -> Result<Option<String>> {
    if raw.starts_with('/') {
        bail!("member '{raw}' has an absolute path");
    }
    let trimmed = raw.trim_start_matches("./").trim_end_matches('/');
    if trimmed.is_empty() || trimmed == "." {
        return Ok(None);
    }
    check_entry_path(trimmed).map_err(|_| {
        anyhow::anyhow!("member '{raw}' escapes the root ('..' or empty component)")
    })?;
    Ok(Some(trimmed.to_string()))
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// Builds a .deb in memory from (tar path, entry) pairs; tests elsewhere use it too.
    pub fn make_deb(members: &[(&str, EntryKind)]) -> Vec<u8> {
        make_deb_compressed(members, "xz")
    }

    pub fn make_deb_compressed(members: &[(&str, EntryKind)], compression: &str) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, kind) in members {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            let path_bytes = path.as_bytes();
            // Write the name raw so tests can produce '../' and absolute members.
            h.as_old_mut().name[..path_bytes.len()].copy_from_slice(path_bytes);
            match kind {
                EntryKind::File(data) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(data.len() as u64);
                    h.set_cksum();
                    tar.append(&h, data.as_slice()).unwrap();
                }
                EntryKind::Dir => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    h.set_cksum();
                    tar.append(&h, std::io::empty()).unwrap();
                }
                EntryKind::OnDisk { .. } | EntryKind::Part(_) => {
                    unreachable!("test debs are made in memory")
                }
                EntryKind::Symlink(t) | EntryKind::Hardlink(t) => {
                    let ty = if matches!(kind, EntryKind::Symlink(_)) {
                        tar::EntryType::Symlink
                    } else {
                        tar::EntryType::Link
                    };
                    h.set_entry_type(ty);
                    h.set_size(0);
                    h.set_link_name(t).unwrap();
                    h.set_cksum();
                    tar.append(&h, std::io::empty()).unwrap();
                }
            }
        }
        let data_tar = tar.into_inner().unwrap();
        let compressed = match compression {
            "xz" => {
                let mut xz = Vec::new();
                liblzma::read::XzEncoder::new(data_tar.as_slice(), 1)
                    .read_to_end(&mut xz)
                    .unwrap();
                xz
            }
            "zst" => zstd::encode_all(data_tar.as_slice(), 3).unwrap(),
            "gz" => {
                let mut gz = Vec::new();
                flate2::read::GzEncoder::new(data_tar.as_slice(), flate2::Compression::fast())
                    .read_to_end(&mut gz)
                    .unwrap();
                gz
            }
            _ => data_tar,
        };
        let member = if compression.is_empty() {
            "data.tar".to_string()
        } else {
            format!("data.tar.{compression}")
        };
        let mut deb = Vec::new();
        {
            let mut ar = ar::Builder::new(&mut deb);
            let mut add = |name: &str, data: &[u8]| {
                ar.append(
                    &ar::Header::new(name.as_bytes().to_vec(), data.len() as u64),
                    data,
                )
                .unwrap();
            };
            add("debian-binary", b"2.0\n");
            add("control.tar.xz", &[]);
            add(&member, &compressed);
        }
        deb
    }

    #[test]
    fn extracts_normalized_entries() {
        let deb = make_deb(&[
            ("./", EntryKind::Dir),
            ("./usr/", EntryKind::Dir),
            ("./usr/bin/hello", EntryKind::File(b"hi".to_vec())),
            (
                "./usr/bin/hi",
                EntryKind::Hardlink("./usr/bin/hello".into()),
            ),
            ("./lib64/ld.so", EntryKind::Symlink("/usr/lib/ld.so".into())),
        ]);
        let entries = extract(&deb, "hello").unwrap();
        let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["usr", "usr/bin/hello", "usr/bin/hi", "lib64/ld.so"]);
        assert_eq!(entries[2].kind, EntryKind::Hardlink("usr/bin/hello".into()));
        assert_eq!(entries[3].kind, EntryKind::Symlink("/usr/lib/ld.so".into()));
    }

    #[test]
    fn every_data_tar_compression_extracts() {
        for compression in ["xz", "zst", "gz", ""] {
            let deb =
                make_deb_compressed(&[("./etc/x", EntryKind::File(b"x".to_vec()))], compression);
            let entries = extract(&deb, "pkg").unwrap();
            assert_eq!(entries[0].path, "etc/x", "{compression}");
        }
        let deb = make_deb_compressed(&[("./etc/x", EntryKind::File(b"x".to_vec()))], "bz2");
        assert!(
            format!("{:#}", extract(&deb, "pkg").unwrap_err()).contains("unsupported compression")
        );
    }

    #[test]
    fn refuses_escaping_members() {
        for bad in ["./../etc/passwd", "/etc/passwd", "./usr/../../x"] {
            let deb = make_deb(&[(bad, EntryKind::File(b"x".to_vec()))]);
            let err = format!("{:#}", extract(&deb, "evil").unwrap_err());
            assert!(err.contains("evil") && err.contains(bad), "{bad}: {err}");
        }
        let deb = make_deb(&[("./x", EntryKind::Hardlink("../../etc/shadow".into()))]);
        assert!(extract(&deb, "evil").is_err());
        assert!(extract(b"not an ar file", "junk").is_err());
    }

    #[test]
    fn a_data_tar_declaring_more_than_its_limit_is_refused_unread() {
        let deb = make_deb(&[("./big", EntryKind::File(vec![0u8; 2 << 20]))]);
        let data = deb_data_tar(&deb);
        let err = format!("{:#}", read_data_tar(data.as_slice(), 1 << 20).unwrap_err());
        assert!(err.contains("more than 1 MB"), "{err}");
        assert_eq!(read_data_tar(data.as_slice(), 2 << 20).unwrap().len(), 1);
    }

    /// The data.tar member of `deb`, decompressed.
    fn deb_data_tar(deb: &[u8]) -> Vec<u8> {
        let mut archive = ar::Archive::new(deb);
        while let Some(member) = archive.next_entry() {
            let mut member = member.unwrap();
            let name = String::from_utf8_lossy(member.header().identifier()).to_string();
            if name.starts_with("data.tar") {
                let mut compressed = Vec::new();
                member.read_to_end(&mut compressed).unwrap();
                let mut out = Vec::new();
                decoder(&name, &compressed)
                    .unwrap()
                    .read_to_end(&mut out)
                    .unwrap();
                return out;
            }
        }
        panic!("no data.tar")
    }
}
