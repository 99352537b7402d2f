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
        let (message, _) = CleartextSignedMessage::from_string(inrelease)
            .with_context(|| format!("{what} is not an OpenPGP cleartext-signed file"))?;
        for key in &self.keys {
            if message.verify(key).is_ok() {
                return Ok(signed_text(&message));
            }
            // A subkey counts only if its binding signature by the primary verifies.
            for sub in &key.public_subkeys {
                if message.verify(&sub.key).is_ok() && sub.verify_bindings(&key.primary_key).is_ok()
                {
                    return Ok(signed_text(&message));
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

fn signed_text(message: &CleartextSignedMessage) -> String {
    message.signed_text().replace("\r\n", "\n")
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
