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
}
