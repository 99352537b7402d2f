//! `/etc/ld.so.cache` in glibc's "new" format (`glibc-ld.so.cache1.1`, the
//! only one glibc ≥ 2.32 reads), written without running `ldconfig`: the
//! dynamic loader finds libraries through it first, and `ldconfig -p` —
//! which `ctypes.util.find_library` runs — prints it.
//!
//! Layout (glibc's `sysdeps/generic/dl-cache.h`): a 48-byte header, then one
//! 24-byte entry per library, then NUL-terminated strings; an entry's key
//! (the library name) and value (its path) are offsets from the start of the
//! file. Entries are sorted in *descending* `_dl_cache_libcmp` order, which
//! the loader's binary search expects; for one name, the directory listed
//! first wins.

use std::cmp::Ordering;

const MAGIC: &[u8; 17] = b"glibc-ld.so.cache";
const VERSION: &[u8; 3] = b"1.1";
const HEADER_LEN: usize = 48;
const ENTRY_LEN: usize = 24;
/// `cache_file_new_flags_endian_little`: both targets are little-endian.
const ENDIAN_LITTLE: u8 = 2;
const FLAG_ELF_LIBC6: i32 = 0x0003;
const FLAG_X8664_LIB64: i32 = 0x0300;
const FLAG_AARCH64_LIB64: i32 = 0x0a00;

/// The entry flags the loader of an architecture accepts (it requires an
/// exact match), by ELF machine.
pub fn entry_flags(machine: u16) -> Option<i32> {
    match machine {
        super::elf::EM_X86_64 => Some(FLAG_ELF_LIBC6 | FLAG_X8664_LIB64),
        super::elf::EM_AARCH64 => Some(FLAG_ELF_LIBC6 | FLAG_AARCH64_LIB64),
        _ => None,
    }
}

/// glibc's `_dl_cache_libcmp`: runs of digits compare by value, a digit
/// sorts after any other character.
pub fn libcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() {
        let (x, y) = (a[i], b.get(j).copied().unwrap_or(0));
        if x.is_ascii_digit() {
            if !y.is_ascii_digit() {
                return Ordering::Greater;
            }
            let (mut v1, mut v2) = (0u64, 0u64);
            while i < a.len() && a[i].is_ascii_digit() {
                v1 = v1.saturating_mul(10).saturating_add((a[i] - b'0') as u64);
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_digit() {
                v2 = v2.saturating_mul(10).saturating_add((b[j] - b'0') as u64);
                j += 1;
            }
            if v1 != v2 {
                return v1.cmp(&v2);
            }
        } else if y.is_ascii_digit() {
            return Ordering::Less;
        } else if x != y {
            return x.cmp(&y);
        } else {
            i += 1;
            j += 1;
        }
    }
    0u8.cmp(&b.get(j).copied().unwrap_or(0))
}

/// The cache for `libraries`: (name, absolute path) in directory-priority
/// order (a name's first path wins), all of one architecture's `flags`.
pub fn write(libraries: &[(String, String)], flags: i32) -> Vec<u8> {
    let mut entries: Vec<&(String, String)> = Vec::new();
    for library in libraries {
        if !entries.iter().any(|e| e.0 == library.0) {
            entries.push(library);
        }
    }
    // Stable: equal names keep their priority order (only one is kept anyway).
    entries.sort_by(|a, b| libcmp(&b.0, &a.0));

    let strings_at = HEADER_LEN + ENTRY_LEN * entries.len();
    let mut strings: Vec<u8> = Vec::new();
    let mut table: Vec<u8> = Vec::with_capacity(ENTRY_LEN * entries.len());
    for (name, path) in &entries {
        let key = (strings_at + strings.len()) as u32;
        strings.extend_from_slice(name.as_bytes());
        strings.push(0);
        let value = (strings_at + strings.len()) as u32;
        strings.extend_from_slice(path.as_bytes());
        strings.push(0);
        table.extend_from_slice(&flags.to_le_bytes());
        table.extend_from_slice(&key.to_le_bytes());
        table.extend_from_slice(&value.to_le_bytes());
        table.extend_from_slice(&0u32.to_le_bytes()); // osversion, unused
        table.extend_from_slice(&0u64.to_le_bytes()); // hwcap: none
    }
    let mut out = Vec::with_capacity(strings_at + strings.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(VERSION);
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
    out.push(ENDIAN_LITTLE);
    out.extend_from_slice(&[0; 3]);
    out.extend_from_slice(&0u32.to_le_bytes()); // no extension section
    out.extend_from_slice(&[0; 12]);
    out.extend_from_slice(&table);
    out.extend_from_slice(&strings);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_as_glibc_does() {
        assert_eq!(libcmp("libz.so.1", "libz.so.1"), Ordering::Equal);
        assert_eq!(libcmp("libz.so.10", "libz.so.9"), Ordering::Greater);
        assert_eq!(libcmp("libz.so.01", "libz.so.1"), Ordering::Equal);
        assert_eq!(libcmp("libz3.so", "libz.so"), Ordering::Greater);
        assert_eq!(libcmp("libz.so", "libz.so.1"), Ordering::Less);
        assert_eq!(libcmp("liba.so", "libb.so"), Ordering::Less);
    }

    #[test]
    fn layout_and_order() {
        let libs = vec![
            (
                "libz.so.1".to_string(),
                "/usr/lib/x86_64-linux-gnu/libz.so.1".to_string(),
            ),
            (
                "libzstd.so.1".to_string(),
                "/usr/lib/x86_64-linux-gnu/libzstd.so.1".to_string(),
            ),
            (
                "libz.so.1".to_string(),
                "/usr/local/lib/libz.so.1".to_string(),
            ),
            (
                "libc.so.6".to_string(),
                "/usr/lib/x86_64-linux-gnu/libc.so.6".to_string(),
            ),
        ];
        let flags = entry_flags(crate::audit::elf::EM_X86_64).unwrap();
        let bytes = write(&libs, flags);
        assert_eq!(&bytes[..20], b"glibc-ld.so.cache1.1");
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        assert_eq!(u32_at(20), 3, "the second libz.so.1 is dropped");
        assert_eq!(bytes[28], 2);
        let string_at = |at: usize| {
            let end = bytes[at..].iter().position(|b| *b == 0).unwrap();
            String::from_utf8(bytes[at..at + end].to_vec()).unwrap()
        };
        let keys: Vec<String> = (0..3)
            .map(|i| string_at(u32_at(48 + 24 * i + 4) as usize))
            .collect();
        assert_eq!(keys, ["libzstd.so.1", "libz.so.1", "libc.so.6"]);
        assert_eq!(u32_at(48), 0x303);
        assert_eq!(
            string_at(u32_at(48 + 24 + 8) as usize),
            "/usr/lib/x86_64-linux-gnu/libz.so.1"
        );
        assert_eq!(u32_at(24) as usize, bytes.len() - 48 - 24 * 3);
    }

    /// glibc's own reader agrees: `ldconfig -p -C FILE` lists every entry.
    #[test]
    fn ldconfig_reads_it() {
        let ldconfig = std::path::Path::new("/sbin/ldconfig");
        if !ldconfig.exists() {
            eprintln!("SKIPPED ldconfig_reads_it: no /sbin/ldconfig on this host");
            return;
        }
        let libs: Vec<(String, String)> = [
            "libstdc++.so.6",
            "libz.so.1",
            "libz.so",
            "libc.so.6",
            "libm.so.6",
        ]
        .iter()
        .map(|n| (n.to_string(), format!("/usr/lib/x86_64-linux-gnu/{n}")))
        .collect();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ld.so.cache");
        std::fs::write(
            &file,
            write(&libs, entry_flags(crate::audit::elf::EM_X86_64).unwrap()),
        )
        .unwrap();
        let out = std::process::Command::new(ldconfig)
            .args(["-p", "-C"])
            .arg(&file)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.starts_with("5 libs found in cache"), "{text}");
        assert!(
            text.contains(
                "\tlibstdc++.so.6 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libstdc++.so.6\n"
            ),
            "{text}"
        );
        let order: Vec<&str> = text
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert_eq!(
            order,
            [
                "libz.so.1",
                "libz.so",
                "libstdc++.so.6",
                "libm.so.6",
                "libc.so.6"
            ]
        );
    }
}
