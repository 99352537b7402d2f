//! The target platform of an image: what the OCI config calls os/architecture,
//! and the names Debian and ELF use for the same thing.

use anyhow::{Result, bail};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arch {
    Amd64,
    Arm64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Platform {
    pub arch: Arch,
}

impl Platform {
    /// Parses `linux/amd64`, `linux/arm64`, `linux/arm64/v8`, or a bare architecture.
    pub fn parse(text: &str) -> Result<Platform> {
        let parts: Vec<&str> = text.split('/').collect();
        let (os, arch, variant) = match parts.as_slice() {
            [arch] => ("linux", *arch, None),
            [os, arch] => (*os, *arch, None),
            [os, arch, variant] => (*os, *arch, Some(*variant)),
            _ => bail!("platform '{text}' is not of the form linux/ARCH (e.g. linux/amd64)"),
        };
        if os != "linux" {
            bail!("platform '{text}': only linux images can be built (got os '{os}')");
        }
        let arch = match (arch, variant) {
            ("amd64" | "x86_64", None) => Arch::Amd64,
            ("arm64" | "aarch64", None | Some("v8")) => Arch::Arm64,
            _ => bail!("platform '{text}' is not supported; use linux/amd64 or linux/arm64"),
        };
        Ok(Platform { arch })
    }

    /// Every platform pypack builds for, in the order an index lists them.
    pub const ALL: [Platform; 2] = [
        Platform { arch: Arch::Amd64 },
        Platform { arch: Arch::Arm64 },
    ];

    /// Parses `--platform`: one platform, a comma-separated list of them
    /// (duplicates dropped, order kept), or `all`.
    pub fn parse_choice(text: &str) -> Result<PlatformChoice> {
        if text.trim() == "all" {
            return Ok(PlatformChoice::All);
        }
        let mut platforms: Vec<Platform> = Vec::new();
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() {
                bail!(
                    "--platform '{text}' has an empty entry; list platforms as linux/amd64,linux/arm64"
                );
            }
            let platform = Platform::parse(part)?;
            if !platforms.contains(&platform) {
                platforms.push(platform);
            }
        }
        Ok(PlatformChoice::List(platforms))
    }

    pub fn host() -> Platform {
        let arch = if cfg!(target_arch = "aarch64") {
            Arch::Arm64
        } else {
            Arch::Amd64
        };
        Platform { arch }
    }

    pub fn oci_os(&self) -> &'static str {
        "linux"
    }

    /// The architecture as OCI and Debian both spell it.
    pub fn oci_arch(&self) -> &'static str {
        match self.arch {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }

    pub fn oci_variant(&self) -> Option<&'static str> {
        match self.arch {
            Arch::Amd64 => None,
            Arch::Arm64 => Some("v8"),
        }
    }

    pub fn debian_arch(&self) -> &'static str {
        self.oci_arch()
    }

    /// Debian's multiarch triplet, the directory shared libraries live in.
    pub fn multiarch(&self) -> &'static str {
        match self.arch {
            Arch::Amd64 => "x86_64-linux-gnu",
            Arch::Arm64 => "aarch64-linux-gnu",
        }
    }

    /// `e_machine` in an ELF header for this architecture.
    pub fn elf_machine(&self) -> u16 {
        match self.arch {
            Arch::Amd64 => 62,
            Arch::Arm64 => 183,
        }
    }
}

/// What `--platform` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformChoice {
    /// These platforms (at least one), in the order given.
    List(Vec<Platform>),
    /// Every platform the base offers.
    All,
}

impl PlatformChoice {
    /// The one platform asked for, or an error naming `what` (a command
    /// that makes one image) when several or `all` were.
    pub fn single(&self, what: &str) -> Result<Platform> {
        match self {
            PlatformChoice::List(list) if list.len() == 1 => Ok(list[0]),
            _ => bail!(
                "{what} works on one platform at a time; pass --platform linux/amd64 or --platform linux/arm64"
            ),
        }
    }

    /// The platforms of `offered` this choice names (all of them for `all`),
    /// or an error when one is not offered.
    pub fn within(&self, offered: &[Platform], base: &str) -> Result<Vec<Platform>> {
        let offers = || {
            offered
                .iter()
                .map(Platform::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            PlatformChoice::All if offered.is_empty() => {
                bail!("--platform all: {base} offers no platform pypack builds for")
            }
            PlatformChoice::All => Ok(offered.to_vec()),
            PlatformChoice::List(list) => {
                if let Some(missing) = list.iter().find(|p| !offered.contains(p)) {
                    bail!("{base} has no {missing} variant (it offers {})", offers());
                }
                Ok(list.clone())
            }
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "linux/{}", self.oci_arch())?;
        if let Some(v) = self.oci_variant() {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_spellings() {
        assert_eq!(Platform::parse("linux/amd64").unwrap().arch, Arch::Amd64);
        assert_eq!(Platform::parse("linux/arm64/v8").unwrap().arch, Arch::Arm64);
        assert_eq!(Platform::parse("aarch64").unwrap().arch, Arch::Arm64);
        assert_eq!(
            Platform::parse("linux/arm64").unwrap().to_string(),
            "linux/arm64/v8"
        );
        let err = Platform::parse("windows/amd64").unwrap_err().to_string();
        assert!(err.contains("only linux"), "{err}");
        assert!(Platform::parse("linux/s390x").is_err());
    }

    #[test]
    fn lists_and_all() {
        let (amd, arm) = (Platform::ALL[0], Platform::ALL[1]);
        assert_eq!(
            Platform::parse_choice("linux/arm64, linux/amd64,linux/arm64/v8").unwrap(),
            PlatformChoice::List(vec![arm, amd])
        );
        assert_eq!(Platform::parse_choice("all").unwrap(), PlatformChoice::All);
        assert!(Platform::parse_choice("linux/amd64,").is_err());
        let all = PlatformChoice::All;
        assert_eq!(all.within(&[amd], "recipe x").unwrap(), vec![amd]);
        let err = PlatformChoice::List(vec![arm])
            .within(&[amd], "recipe x")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no linux/arm64/v8 variant") && err.contains("linux/amd64"),
            "{err}"
        );
        assert!(all.single("pypack lock").is_err());
        assert_eq!(
            PlatformChoice::List(vec![arm])
                .single("pypack lock")
                .unwrap(),
            arm
        );
    }
}
