//! The text of an app's files as pip reads them: a byte order mark says
//! UTF-8, UTF-16 or UTF-32 (little or big endian); for requirements files
//! a PEP 263 line (`# -*- coding: latin-1 -*-`) in the first two lines
//! names the encoding; else UTF-8. Files saved by Windows editors or by
//! `pip freeze > requirements.txt` in PowerShell (UTF-16 LE with a BOM and
//! CRLF line ends) read like their UTF-8 twins.

use anyhow::{Context, Result, bail};
use std::path::Path;

/// Byte order marks, longest first (UTF-32 LE starts like UTF-16 LE).
const BOMS: &[(&[u8], Encoding)] = &[
    (&[0xFF, 0xFE, 0x00, 0x00], Encoding::Utf32Le),
    (&[0x00, 0x00, 0xFE, 0xFF], Encoding::Utf32Be),
    (&[0xEF, 0xBB, 0xBF], Encoding::Utf8),
    (&[0xFF, 0xFE], Encoding::Utf16Le),
    (&[0xFE, 0xFF], Encoding::Utf16Be),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Utf16Le,
    Utf16Be,
    Utf32Le,
    Utf32Be,
    Latin1,
    Cp1252,
    Ascii,
}

/// Whether to look for a PEP 263 coding line (pip does in requirements files).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodingLine {
    Read,
    Ignore,
}

/// `bytes` (the content of `path`) as text.
pub fn decode(bytes: &[u8], path: &Path, coding_line: CodingLine) -> Result<String> {
    if let Some((bom, encoding)) = BOMS.iter().find(|(bom, _)| bytes.starts_with(bom)) {
        return decode_as(&bytes[bom.len()..], *encoding, path);
    }
    if coding_line == CodingLine::Read
        && let Some(name) = declared_coding(bytes)
    {
        let Some(encoding) = encoding_named(&name) else {
            bail!(
                "{}: its coding line names '{name}', which pypack does not read (it reads UTF-8, UTF-16, UTF-32, \
                 latin-1, cp1252 and ascii); save the file as UTF-8",
                path.display()
            );
        };
        return decode_as(bytes, encoding, path);
    }
    decode_as(bytes, Encoding::Utf8, path)
}

fn decode_as(bytes: &[u8], encoding: Encoding, path: &Path) -> Result<String> {
    let text = match encoding {
        Encoding::Utf8 => String::from_utf8(bytes.to_vec()).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            let line = bytes[..at].iter().filter(|b| **b == b'\n').count() + 1;
            anyhow::anyhow!(
                "{}:{line}: not UTF-8 (byte {at}), and no byte order mark or coding line says what it is; \
                 save it as UTF-8",
                path.display()
            )
        })?,
        Encoding::Utf16Le | Encoding::Utf16Be => {
            if !bytes.len().is_multiple_of(2) {
                bail!("{}: UTF-16 (by its byte order mark) of an odd length", path.display());
            }
            let units = bytes.chunks_exact(2).map(|pair| match encoding {
                Encoding::Utf16Le => u16::from_le_bytes([pair[0], pair[1]]),
                _ => u16::from_be_bytes([pair[0], pair[1]]),
            });
            char::decode_utf16(units)
                .collect::<std::result::Result<String, _>>()
                .map_err(|e| anyhow::anyhow!("{}: broken UTF-16: {e}", path.display()))?
        }
        Encoding::Utf32Le | Encoding::Utf32Be => {
            if !bytes.len().is_multiple_of(4) {
                bail!("{}: UTF-32 (by its byte order mark) of a length not a multiple of 4", path.display());
            }
            bytes
                .chunks_exact(4)
                .map(|c| {
                    let unit = match encoding {
                        Encoding::Utf32Le => u32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                        _ => u32::from_be_bytes([c[0], c[1], c[2], c[3]]),
                    };
                    char::from_u32(unit)
                })
                .collect::<Option<String>>()
                .ok_or_else(|| anyhow::anyhow!("{}: broken UTF-32", path.display()))?
        }
        Encoding::Latin1 => bytes.iter().map(|b| char::from(*b)).collect(),
        Encoding::Cp1252 => bytes.iter().map(|b| cp1252(*b)).collect(),
        Encoding::Ascii => {
            if let Some(at) = bytes.iter().position(|b| !b.is_ascii()) {
                bail!("{}: byte {at} is not ASCII, which its coding line says it is", path.display());
            }
            String::from_utf8(bytes.to_vec()).expect("ASCII is UTF-8")
        }
    };
    Ok(text)
}

/// The encoding a PEP 263 line names, in the first two lines.
fn declared_coding(bytes: &[u8]) -> Option<String> {
    for line in bytes.split(|b| *b == b'\n').take(2) {
        let line = String::from_utf8_lossy(line);
        let trimmed = line.trim_start_matches([' ', '\t', '\x0c']);
        if !trimmed.starts_with('#') {
            continue;
        }
        let Some(at) = trimmed.find("coding") else {
            continue;
        };
        let Some(rest) = trimmed[at + "coding".len()..].strip_prefix([':', '=']) else {
            continue;
        };
        let name: String = rest
            .trim_start_matches([' ', '\t'])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        if !name.is_empty() {
            return Some(name);
        }
    }
    None
}

fn encoding_named(name: &str) -> Option<Encoding> {
    let name = name.to_ascii_lowercase().replace('_', "-");
    Some(match name.as_str() {
        "utf-8" | "utf8" | "utf-8-sig" => Encoding::Utf8,
        "utf-16" | "utf-16le" | "utf-16-le" => Encoding::Utf16Le,
        "utf-16be" | "utf-16-be" => Encoding::Utf16Be,
        "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "l1" => Encoding::Latin1,
        "cp1252" | "windows-1252" => Encoding::Cp1252,
        "ascii" | "us-ascii" => Encoding::Ascii,
        _ => return None,
    })
}

/// Windows-1252: latin-1 but for 0x80–0x9F.
fn cp1252(byte: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match byte {
        0x80..=0x9F => HIGH[(byte - 0x80) as usize],
        _ => char::from(byte),
    }
}

/// The text of the file at `path`, which pypack must read (a requirements
/// file, pyproject.toml, a lock file): an error naming it when it is not a
/// regular file (a symlink is followed). A FIFO, socket or device is never
/// opened: reading a FIFO nobody writes to blocks forever.
pub fn read_text(path: &Path) -> Result<String> {
    read_text_as(path, CodingLine::Ignore)
}

/// [`read_text`], a PEP 263 coding line honoured (requirements files, as pip).
pub fn read_requirements_text(path: &Path) -> Result<String> {
    read_text_as(path, CodingLine::Read)
}

fn read_text_as(path: &Path, coding: CodingLine) -> Result<String> {
    let meta = std::fs::metadata(path).map_err(|e| match std::fs::read_link(path) {
        Ok(target) => anyhow::anyhow!(
            "{} is a symlink to '{}', which cannot be followed ({e}); point it at a file or replace it with one",
            path.display(),
            target.display()
        ),
        Err(_) => anyhow::Error::new(e).context(format!("cannot read {}", path.display())),
    })?;
    if !meta.is_file() {
        bail!(
            "{} is not a regular file ({}); pypack reads only regular files: replace it with one",
            path.display(),
            crate::walk::kind_of(&meta)
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    decode(&bytes, path, coding)
}

/// The text of the file at `path` when it is a readable regular file
/// (what detection looks at: anything else is as if absent).
pub fn text_if_regular(path: &Path) -> Option<String> {
    std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .and_then(|_| std::fs::read(path).ok())
        .and_then(|bytes| decode(&bytes, path, CodingLine::Ignore).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le_bom(text: &str) -> Vec<u8> {
        let mut out = vec![0xFF, 0xFE];
        for unit in text.encode_utf16() {
            out.extend(unit.to_le_bytes());
        }
        out
    }

    #[test]
    fn byte_order_marks_and_coding_lines_as_pip_reads_them() {
        let path = Path::new("requirements.txt");
        let plain = "flask==3.1.3\r\ngunicorn\r\n";
        assert_eq!(
            decode(&utf16le_bom(plain), path, CodingLine::Read).unwrap(),
            plain
        );
        let mut be = vec![0xFE, 0xFF];
        for unit in plain.encode_utf16() {
            be.extend(unit.to_be_bytes());
        }
        assert_eq!(decode(&be, path, CodingLine::Read).unwrap(), plain);
        let mut utf32 = vec![0xFF, 0xFE, 0x00, 0x00];
        for c in plain.chars() {
            utf32.extend((c as u32).to_le_bytes());
        }
        assert_eq!(decode(&utf32, path, CodingLine::Read).unwrap(), plain);
        let mut bom8 = vec![0xEF, 0xBB, 0xBF];
        bom8.extend(plain.as_bytes());
        assert_eq!(decode(&bom8, path, CodingLine::Read).unwrap(), plain);
        // PEP 263: the file's own bytes in the encoding it names.
        let latin = b"# -*- coding: latin-1 -*-\n# caf\xe9\nflask\n";
        assert_eq!(
            decode(latin, path, CodingLine::Read).unwrap(),
            "# -*- coding: latin-1 -*-\n# café\nflask\n"
        );
        let cp = b"# vim: set fileencoding=cp1252 :\n# \x93quoted\x94\n";
        assert!(
            decode(cp, path, CodingLine::Read)
                .unwrap()
                .contains("“quoted”")
        );
        // Not UTF-8 and nothing says otherwise: the file and line are named.
        let err = decode(b"flask\n# caf\xe9\n", path, CodingLine::Ignore).unwrap_err();
        assert!(
            err.to_string().starts_with("requirements.txt:2: not UTF-8"),
            "{err}"
        );
        let err = decode(b"# coding: koi8-r\nflask\n", path, CodingLine::Read).unwrap_err();
        assert!(err.to_string().contains("'koi8-r'"), "{err}");
    }
}
