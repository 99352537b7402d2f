//! `InRelease`: the signed index of a suite. Its OpenPGP cleartext signature is
//! checked against a keyring, and only the signed text is ever parsed, so every
//! hash that follows from it (Packages, then each .deb) is anchored in the key.

use super::control::paragraphs;
use anyhow::{Context, Result, bail};
use pgp::composed::{CleartextSignedMessage, PublicOrSecret, SignedPublicKey};
use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;

/// The public keys an archive index may be signed with.
#[derive(Debug, Default)]
pub struct Keyring {
    keys: Vec<SignedPublicKey>,
    sources: Vec<String>,
}

impl Keyring {
    /// Adds every key found in `data` (armored or binary, one or many keys).
    pub fn add(&mut self, data: &[u8], source: &str) -> Result<()> {
        let (keys, _) = PublicOrSecret::from_reader_many(Cursor::new(data.to_vec()))
            .with_context(|| format!("{source} is not an OpenPGP keyring"))?;
        let mut count = 0;
        for key in keys {
            let key = key.with_context(|| format!("{source}: unreadable key"))?;
            let public = match key {
                PublicOrSecret::Public(k) => k,
                PublicOrSecret::Secret(k) => k.to_public_key(),
            };
            // Keyring files are trusted as given (as gpgv trusts its keyring);
            // a subkey only once its binding is checked (when it is used).
            self.keys.push(public);
            count += 1;
        }
        if count == 0 {
            bail!("{source} holds no OpenPGP public key");
        }
        self.sources.push(source.to_string());
        Ok(())
    }

    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let data = std::fs::read(path)
            .with_context(|| format!("cannot read keyring {}", path.display()))?;
        self.add(&data, &path.display().to_string())
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// What names the trusted keys (their fingerprints, subkeys'
    /// included): a check remembered for one keyring holds for no other.
    pub fn identity(&self) -> String {
        use pgp::types::KeyDetails;
        let mut fingerprints = String::new();
        for key in &self.keys {
            fingerprints.push_str(&format!("{:x}\n", key.fingerprint()));
            for sub in &key.public_subkeys {
                fingerprints.push_str(&format!("{:x}\n", sub.key.fingerprint()));
            }
        }
        crate::digest::sha256_hex(fingerprints.as_bytes())
    }

    /// Checks the cleartext signature of an `InRelease` file and returns the
    /// signed text (dash-unescaped, LF line ends). At least one signature must
    /// verify with a key of this keyring (its primary key or a subkey).
    pub fn verify_inrelease(&self, inrelease: &str, what: &str) -> Result<String> {
        let not_signed = || format!("{what} is not an OpenPGP cleartext-signed file");
        let parts = Cleartext::split(inrelease).with_context(not_signed)?;
        // The crate reads the signatures; the text is cut out here (see Cleartext).
        let (message, _) =
            CleartextSignedMessage::from_string(&parts.without_text()).with_context(not_signed)?;
        let text = parts.text();
        let signed = parts.signed_bytes(&text)?;
        let signatures = message.signatures();
        for key in &self.keys {
            if any_verifies(signatures, key, &signed) {
                return Ok(text.replace("\r\n", "\n"));
            }
            // A subkey counts only if its binding signature by the primary verifies.
            for sub in &key.public_subkeys {
                if any_verifies(signatures, &sub.key, &signed)
                    && sub.verify_bindings(&key.primary_key).is_ok()
                {
                    return Ok(text.replace("\r\n", "\n"));
                }
            }
        }
        bail!(
            "{what}: no signature verifies with the trusted keys ({}); the index may have been \
             tampered with. Pass --keyring with the archive's key, or --insecure to skip the check",
            self.sources.join(", ")
        )
    }
}

fn any_verifies(
    signatures: &[pgp::packet::Signature],
    key: &impl pgp::types::VerifyingKey,
    signed: &[u8],
) -> bool {
    signatures.iter().any(|s| s.verify(key, signed).is_ok())
}

/// A cleartext-signed file (RFC 4880 section 7) cut into its armor header
/// lines, its dash-escaped text and its signature block, in one pass: the
/// pgp crate's reader searches all it has read at every line it reads,
/// which took tens of milliseconds on Debian's InRelease files.
struct Cleartext<'a> {
    headers: Vec<&'a str>,
    escaped: &'a str,
    signature: &'a str,
}

impl<'a> Cleartext<'a> {
    fn split(file: &'a str) -> Option<Cleartext<'a>> {
        let mut lines = file.split_inclusive('\n');
        let content = |line: &'a str| line.trim_end_matches(['\r', '\n']);
        if content(lines.next()?) != "-----BEGIN PGP SIGNED MESSAGE-----" {
            return None;
        }
        let mut headers = Vec::new();
        let mut offset = file.len() - lines.clone().map(str::len).sum::<usize>();
        for line in lines.by_ref() {
            offset += line.len();
            if content(line).is_empty() {
                break;
            }
            headers.push(content(line));
        }
        let text_start = offset;
        for line in lines {
            if content(line).starts_with("-----BEGIN PGP SIGNATURE-----") {
                // The line break before the signature belongs to the framework.
                let text = &file[text_start..offset];
                let text = text.strip_suffix('\n').unwrap_or(text);
                let text = text.strip_suffix('\r').unwrap_or(text);
                let escaped = if offset == text_start { "" } else { text };
                return Some(Cleartext {
                    headers,
                    escaped,
                    signature: &file[offset..],
                });
            }
            offset += line.len();
        }
        None
    }

    /// The same file with an empty text, for the crate to read the signatures from.
    fn without_text(&self) -> String {
        let mut file = String::from("-----BEGIN PGP SIGNED MESSAGE-----\n");
        for header in &self.headers {
            file.push_str(header);
            file.push('\n');
        }
        file.push('\n');
        file.push_str(self.signature);
        file
    }

    /// The text: dash escapes removed, spaces and tabs trimmed from line ends.
    fn text(&self) -> String {
        let mut text = String::with_capacity(self.escaped.len());
        for line in self.escaped.split_inclusive('\n') {
            let content = line.trim_end_matches(['\r', '\n']);
            let end = &line[content.len()..];
            let content = content.strip_prefix("- ").unwrap_or(content);
            text.push_str(content.trim_end_matches([' ', '\t']));
            text.push_str(end);
        }
        text
    }

    /// What the signatures sign: the text with CRLF line breaks.
    fn signed_bytes(&self, text: &str) -> Result<Vec<u8>> {
        use pgp::line_writer::LineBreak;
        use pgp::normalize_lines::NormalizedReader;
        let mut signed = Vec::with_capacity(text.len() + text.len() / 32);
        std::io::Read::read_to_end(
            &mut NormalizedReader::new(text.as_bytes(), LineBreak::Crlf),
            &mut signed,
        )?;
        Ok(signed)
    }
}

/// The fields of a Release file that pypack uses.
#[derive(Debug, Clone, Default)]
pub struct Release {
    pub suite: String,
    pub codename: String,
    pub valid_until: Option<String>,
    /// path (e.g. `main/binary-amd64/Packages.xz`) → (sha256 hex, size)
    pub sha256: BTreeMap<String, (String, u64)>,
    pub acquire_by_hash: bool,
}

impl Release {
    pub fn parse(text: &str) -> Result<Release> {
        let paragraph = paragraphs(text)
            .into_iter()
            .next()
            .context("empty Release file")?;
        let mut release = Release {
            suite: paragraph.get("Suite").cloned().unwrap_or_default(),
            codename: paragraph.get("Codename").cloned().unwrap_or_default(),
            valid_until: paragraph.get("Valid-Until").cloned(),
            acquire_by_hash: paragraph.get("Acquire-By-Hash").is_some_and(|v| v == "yes"),
            ..Release::default()
        };
        let list = paragraph
            .get("SHA256")
            .context("Release file has no SHA256 list")?;
        for line in list.lines().filter(|l| !l.trim().is_empty()) {
            let parts: Vec<&str> = line.split_whitespace().collect();
            let [hash, size, path] = parts.as_slice() else {
                bail!("malformed SHA256 line in Release: '{line}'");
            };
            let size = size
                .parse()
                .with_context(|| format!("bad size in Release line '{line}'"))?;
            release
                .sha256
                .insert(path.to_string(), (hash.to_ascii_lowercase(), size));
        }
        Ok(release)
    }

    /// Fails when `Valid-Until` has passed (a replayed, stale index).
    pub fn check_valid_until(&self, now: u64) -> Result<()> {
        if let Some(text) = &self.valid_until {
            let until =
                parse_rfc2822(text).with_context(|| format!("cannot read Valid-Until '{text}'"))?;
            if until < now {
                return Err(anyhow::Error::new(StaleIndex(format!(
                    "the Release file of '{}' expired on {text}; the mirror serves a stale index: use an up-to-date mirror, \
                     or pass --allow-expired-index to accept it (its signature is still checked)",
                    self.suite
                ))));
            }
        }
        Ok(())
    }
}

/// A suite whose signed index has expired: a base built from it cannot be
/// had from this mirror (a build on a version hint may take another).
#[derive(Debug)]
pub struct StaleIndex(pub String);

impl std::fmt::Display for StaleIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StaleIndex {}

/// `Sat, 21 Nov 2026 09:15:44 UTC` → seconds since 1970.
pub fn parse_rfc2822(text: &str) -> Option<u64> {
    let text = text.split_once(',').map(|(_, r)| r).unwrap_or(text);
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [day, month, year, time, ..] = parts.as_slice() else {
        return None;
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    // days_from_civil
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + m * 60 + s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_release() {
        let text = "Origin: Debian\nSuite: stable\nCodename: bookworm\nAcquire-By-Hash: yes\n\
                    Valid-Until: Sat, 21 Nov 2026 09:15:44 UTC\nSHA256:\n \
                    abc 12 main/binary-amd64/Packages.xz\n def 34 main/binary-arm64/Packages\n";
        let r = Release::parse(text).unwrap();
        assert_eq!(r.codename, "bookworm");
        assert!(r.acquire_by_hash);
        assert_eq!(
            r.sha256["main/binary-amd64/Packages.xz"],
            ("abc".to_string(), 12)
        );
        assert!(r.check_valid_until(0).is_ok());
        assert!(r.check_valid_until(4_000_000_000).is_err());
    }

    #[test]
    fn dates() {
        assert_eq!(parse_rfc2822("Thu, 01 Jan 1970 00:00:00 UTC"), Some(0));
        assert_eq!(
            parse_rfc2822("Tue, 14 Nov 2023 22:13:20 UTC"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_rfc2822("garbage"), None);
    }

    /// A signed text with what the cleartext framework escapes or trims,
    /// its signature read as the pgp crate reads it.
    #[test]
    fn inrelease_text_is_what_the_signature_covers() {
        use pgp::composed::{KeyType, SecretKeyParamsBuilder};
        use rand::SeedableRng;
        let key = SecretKeyParamsBuilder::default()
            .key_type(KeyType::Ed25519Legacy)
            .can_certify(true)
            .can_sign(true)
            .primary_user_id("test <test@localhost>".into())
            .build()
            .unwrap()
            .generate(rand::rngs::StdRng::seed_from_u64(3))
            .unwrap();
        let public = key.to_public_key().to_armored_string(Default::default());
        let mut ring = Keyring::default();
        ring.add(public.unwrap().as_bytes(), "test").unwrap();
        let text = "Origin: Test\n- dashed\n-----BEGIN PGP SIGNATURE-----\nspaces\ntab\n\nlast";
        let rng = rand::rngs::StdRng::seed_from_u64(7);
        let password = pgp::types::Password::empty();
        let message = CleartextSignedMessage::sign(rng, text, &key.primary_key, &password).unwrap();
        let file = message.to_armored_string(Default::default()).unwrap();
        // Spaces and tabs at line ends are not signed (a mail gateway may add them).
        let file = file
            .replacen("spaces\n", "spaces  \n", 1)
            .replacen("tab\n", "tab\t\n", 1);
        let theirs = CleartextSignedMessage::from_string(&file).unwrap().0;
        let expected = theirs.signed_text().replace("\r\n", "\n");
        assert_eq!(
            expected,
            "Origin: Test\n- dashed\n-----BEGIN PGP SIGNATURE-----\nspaces\ntab\n\nlast"
        );
        assert_eq!(ring.verify_inrelease(&file, "t").unwrap(), expected);
        let crlf = file.replace('\n', "\r\n");
        assert_eq!(ring.verify_inrelease(&crlf, "t").unwrap(), expected);
        for tampered in [
            file.replacen("Origin: Test", "Origin: Evil", 1),
            file.replacen("\nlast", "\nlast\nmore", 1),
        ] {
            let err = ring.verify_inrelease(&tampered, "t").unwrap_err();
            assert!(err.to_string().contains("no signature verifies"), "{err}");
        }
    }

    #[test]
    fn shipped_debian_keys_load() {
        let mut ring = Keyring::default();
        for (name, data) in crate::base::recipe::SHIPPED_KEYS {
            ring.add(data.as_bytes(), name).unwrap();
        }
        assert!(!ring.is_empty());
        let err = ring.verify_inrelease("not signed", "test").unwrap_err();
        assert!(err.to_string().contains("cleartext"), "{err}");
    }
}
