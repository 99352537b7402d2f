//! The files of a wheel's `.dist-info` besides METADATA, read per the binary
//! distribution format: `WHEEL` (email headers), `RECORD` (CSV as Python's
//! `csv` module writes it) and `entry_points.txt` (INI as `configparser`
//! reads it, `=` as the only delimiter, case-sensitive names).

use crate::index::metadata::Headers;
use anyhow::{Context, Result, bail};
use base64::Engine as _;
use sha2::Digest;
use std::collections::BTreeMap;

/// What `WHEEL` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WheelInfo {
    /// `Wheel-Version` (major, minor).
    pub version: (u32, u32),
    pub root_is_purelib: bool,
    pub tags: Vec<String>,
    pub build: Option<String>,
}

/// The wheel format this installer implements.
const SUPPORTED_WHEEL_MAJOR: u32 = 1;

/// Parses `WHEEL`; a newer major format is refused (the spec requires it), a
/// newer minor is read (the caller may warn).
pub fn parse_wheel_file(text: &str) -> Result<WheelInfo> {
    let headers = Headers::parse(text);
    let version_text = headers
        .get("Wheel-Version")
        .context("WHEEL has no Wheel-Version")?;
    let parts: Vec<u32> = version_text
        .split('.')
        .map(|p| p.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .ok()
        .filter(|p: &Vec<u32>| !p.is_empty())
        .with_context(|| format!("WHEEL: bad Wheel-Version '{version_text}'"))?;
    let version = (parts[0], parts.get(1).copied().unwrap_or(0));
    if version.0 > SUPPORTED_WHEEL_MAJOR {
        bail!(
            "Wheel-Version {version_text} is a newer wheel format than pypack installs (major {SUPPORTED_WHEEL_MAJOR}); upgrade pypack or pin an older release of the package"
        );
    }
    let root_is_purelib = match headers.get("Root-Is-Purelib") {
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            other => bail!("WHEEL: Root-Is-Purelib must be true or false, not '{other}'"),
        },
        None => bail!("WHEEL has no Root-Is-Purelib"),
    };
    Ok(WheelInfo {
        version,
        root_is_purelib,
        tags: headers.get_all("Tag"),
        build: headers.get("Build"),
    })
}

/// One row of RECORD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    pub path: String,
    /// (algorithm, urlsafe-base64 digest without padding), when given.
    pub hash: Option<(String, String)>,
    pub size: Option<u64>,
}

/// Parses RECORD: CSV rows `path,algorithm=digest,size`, fields optionally
/// quoted (a quoted field may hold commas, doubled quotes and line breaks),
/// rows ending in `\n` or `\r\n`.
pub fn parse_record(text: &str) -> Result<Vec<RecordRow>> {
    let mut rows = Vec::new();
    for (number, fields) in csv_rows(text)?.into_iter().enumerate() {
        let line = number + 1;
        if fields.iter().all(|f| f.is_empty()) {
            continue;
        }
        if fields.len() > 3 {
            bail!("RECORD row {line} has {} fields, not 3", fields.len());
        }
        let path = fields[0].clone();
        if path.is_empty() {
            bail!("RECORD row {line} has no path");
        }
        let hash = match fields.get(1).map(String::as_str) {
            None | Some("") => None,
            Some(h) => {
                let (algorithm, digest) = h.split_once('=').with_context(|| {
                    format!("RECORD row {line}: hash '{h}' is not algorithm=digest")
                })?;
                Some((algorithm.to_ascii_lowercase(), digest.to_string()))
            }
        };
        let size = match fields.get(2).map(String::as_str) {
            None | Some("") => None,
            Some(s) => Some(
                s.parse()
                    .with_context(|| format!("RECORD row {line}: size '{s}' is not a number"))?,
            ),
        };
        rows.push(RecordRow { path, hash, size });
    }
    Ok(rows)
}

/// Rows of a CSV text in the `excel` dialect Python writes.
fn csv_rows(text: &str) -> Result<Vec<Vec<String>>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut field_started = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if !field_started => {
                quoted = true;
                field_started = true;
            }
            ',' => {
                row.push(std::mem::take(&mut field));
                field_started = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                field_started = false;
            }
            c => {
                field.push(c);
                field_started = true;
            }
        }
    }
    if quoted {
        bail!("RECORD ends inside a quoted field");
    }
    if field_started || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

/// Whether `data` matches a RECORD hash; algorithms weaker than sha256 are
/// refused, as the spec requires.
pub fn hash_matches(algorithm: &str, digest: &str, data: &[u8]) -> Result<bool> {
    let actual = match algorithm {
        "sha256" => b64(&sha2::Sha256::digest(data)),
        "sha384" => b64(&sha2::Sha384::digest(data)),
        "sha512" => b64(&sha2::Sha512::digest(data)),
        other => bail!("hash algorithm '{other}' is not accepted (sha256 or stronger)"),
    };
    Ok(actual == digest.trim_end_matches('='))
}

/// A RECORD hash computed as the file is read, in the algorithm its row names.
pub enum RecordHasher {
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl RecordHasher {
    pub fn new(algorithm: &str) -> Result<RecordHasher> {
        Ok(match algorithm {
            "sha256" => RecordHasher::sha256(),
            "sha384" => RecordHasher::Sha384(sha2::Sha384::new()),
            "sha512" => RecordHasher::Sha512(sha2::Sha512::new()),
            other => bail!("hash algorithm '{other}' is not accepted (sha256 or stronger)"),
        })
    }

    pub fn sha256() -> RecordHasher {
        RecordHasher::Sha256(sha2::Sha256::new())
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            RecordHasher::Sha256(h) => h.update(data),
            RecordHasher::Sha384(h) => h.update(data),
            RecordHasher::Sha512(h) => h.update(data),
        }
    }

    /// The digest as RECORD writes it.
    pub fn finish(self) -> String {
        match self {
            RecordHasher::Sha256(h) => b64(&h.finalize()),
            RecordHasher::Sha384(h) => b64(&h.finalize()),
            RecordHasher::Sha512(h) => b64(&h.finalize()),
        }
    }

    /// Whether the data read matches `digest` (padding ignored).
    pub fn matches(self, digest: &str) -> bool {
        self.finish() == digest.trim_end_matches('=')
    }
}

/// A RECORD digest: urlsafe base64 without padding.
pub fn b64(digest: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

/// `entry_points.txt`: group → (name, object reference), in file order.
pub type EntryPoints = BTreeMap<String, Vec<(String, String)>>;

/// Parses `entry_points.txt`: `[group]` sections of `name = value` lines;
/// `#` and `;` start comment lines; an indented line that is neither a
/// `[group]` nor a `name = value` continues the value before it (a file
/// indented throughout, as gunicorn 19.9's, reads as importlib.metadata
/// reads it: line by line); names keep their case.
pub fn parse_entry_points(text: &str) -> Result<EntryPoints> {
    let mut groups: EntryPoints = BTreeMap::new();
    let mut group: Option<String> = None;
    for (number, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            continue;
        }
        if line.starts_with([' ', '\t'])
            && !trimmed.starts_with('[')
            && !trimmed.contains('=')
            && let Some(last) = group
                .as_ref()
                .and_then(|g| groups.get_mut(g))
                .and_then(|entries| entries.last_mut())
        {
            last.1.push(' ');
            last.1.push_str(trimmed);
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[') {
            let name = name
                .strip_suffix(']')
                .with_context(|| format!("entry_points.txt line {}: '{line}'", number + 1))?;
            group = Some(name.trim().to_string());
            groups.entry(name.trim().to_string()).or_default();
            continue;
        }
        let Some(current) = &group else {
            bail!(
                "entry_points.txt line {}: '{line}' comes before any [group]",
                number + 1
            );
        };
        let (name, value) = trimmed.split_once('=').with_context(|| {
            format!(
                "entry_points.txt line {}: '{line}' is not name = value",
                number + 1
            )
        })?;
        let entries = groups.get_mut(current).expect("group inserted above");
        let name = name.trim().to_string();
        // A repeated name replaces the earlier one, as in configparser's last-wins reading.
        entries.retain(|(n, _)| *n != name);
        entries.push((name, value.trim().to_string()));
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_points_indented_throughout() {
        // gunicorn 19.9.0's file: every line indented.
        let points = parse_entry_points(
            "\n    [console_scripts]\n    gunicorn=gunicorn.app.wsgiapp:run\n    gunicorn_paster=gunicorn.app.pasterapp:run\n\n    [paste.server_runner]\n    main=gunicorn.app.pasterapp:paste_server\n    ",
        )
        .unwrap();
        assert_eq!(
            points["console_scripts"],
            [
                (
                    "gunicorn".to_string(),
                    "gunicorn.app.wsgiapp:run".to_string()
                ),
                (
                    "gunicorn_paster".to_string(),
                    "gunicorn.app.pasterapp:run".to_string()
                )
            ]
        );
        assert_eq!(points["paste.server_runner"].len(), 1);
    }

    #[test]
    fn wheel_file() {
        let w = parse_wheel_file(
            "Wheel-Version: 1.0\r\nGenerator: bdist_wheel (0.41.2)\r\nRoot-Is-Purelib: false\r\nTag: cp311-cp311-manylinux_2_17_x86_64\r\nTag: cp311-cp311-manylinux2014_x86_64\r\n\r\n",
        )
        .unwrap();
        assert_eq!(w.version, (1, 0));
        assert!(!w.root_is_purelib);
        assert_eq!(w.tags.len(), 2);
        let err = parse_wheel_file("Wheel-Version: 2.0\nRoot-Is-Purelib: true\n").unwrap_err();
        assert!(err.to_string().contains("newer wheel format"), "{err}");
        assert!(parse_wheel_file("Root-Is-Purelib: true\n").is_err());
        assert!(parse_wheel_file("Wheel-Version: 1.9\nRoot-Is-Purelib: maybe\n").is_err());
        assert_eq!(
            parse_wheel_file("Wheel-Version: 1.9\nRoot-Is-Purelib: True\n")
                .unwrap()
                .version,
            (1, 9)
        );
    }

    #[test]
    fn record_csv() {
        let text = "pkg/__init__.py,sha256=AAA,12\r\n\"pkg/a,b.py\",sha512=BBB,3\n\"pkg/odd\"\"name\nx.py\",sha256=CCC,\npkg-1.dist-info/RECORD,,\n\n";
        let rows = parse_record(text).unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0].size, Some(12));
        assert_eq!(rows[1].path, "pkg/a,b.py");
        assert_eq!(rows[1].hash, Some(("sha512".into(), "BBB".into())));
        assert_eq!(rows[2].path, "pkg/odd\"name\nx.py");
        assert_eq!(rows[2].size, None);
        assert_eq!(rows[3].hash, None);
        assert!(parse_record("a,sha256=x,notasize\n").is_err());
        assert!(parse_record("a,nohash,1\n").is_err());
        assert!(parse_record("\"unterminated,sha256=x,1\n").is_err());
        assert!(parse_record("a,b,c,d\n").is_err());
    }

    #[test]
    fn record_hashes() {
        let data = b"hello";
        let d256 = b64(&sha2::Sha256::digest(data));
        assert!(hash_matches("sha256", &d256, data).unwrap());
        assert!(hash_matches("sha256", &format!("{d256}="), data).unwrap());
        assert!(!hash_matches("sha256", &d256, b"other").unwrap());
        let d512 = b64(&sha2::Sha512::digest(data));
        assert!(hash_matches("sha512", &d512, data).unwrap());
        assert!(hash_matches("md5", "x", data).is_err());
    }

    #[test]
    fn entry_points_ini() {
        let text = "# generated\n[console_scripts]\nMyTool = pkg.cli:main\nother=pkg.other:run [extra1]\n\n[gui_scripts]\n; comment\ngui = pkg.gui:\n    start\n[pkg.plugins]\nName With Space = pkg.plugin\n";
        let eps = parse_entry_points(text).unwrap();
        assert_eq!(
            eps["console_scripts"],
            [
                ("MyTool".to_string(), "pkg.cli:main".to_string()),
                ("other".to_string(), "pkg.other:run [extra1]".to_string())
            ]
        );
        assert_eq!(
            eps["gui_scripts"],
            [("gui".into(), "pkg.gui: start".into())]
        );
        assert_eq!(eps["pkg.plugins"][0].0, "Name With Space");
        assert!(parse_entry_points("x = y\n").is_err());
        assert!(parse_entry_points("[g]\nnovalue\n").is_err());
    }
}
