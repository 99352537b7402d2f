//! What the dynamic loader will need of one ELF file: its machine, its
//! `DT_NEEDED` names, `DT_RPATH` / `DT_RUNPATH` and soname (read with goblin).

use anyhow::{Result, anyhow};
use serde::{Deserialize, Serialize};

/// An ELF file's dynamic-linking facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElfFacts {
    /// `e_machine` (62 = x86-64, 183 = AArch64).
    pub machine: u16,
    pub is_64: bool,
    pub needed: Vec<String>,
    pub rpath: Vec<String>,
    pub runpath: Vec<String>,
    pub soname: Option<String>,
}

pub const EM_X86_64: u16 = 62;
pub const EM_AARCH64: u16 = 183;

/// Whether `data` starts like an ELF file.
pub fn is_elf(data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
}

/// Reads the facts of an ELF shared object or executable; `None` for other
/// ELF kinds (relocatable objects, core files), which nothing loads.
pub fn read(data: &[u8]) -> Result<Option<ElfFacts>> {
    use goblin::elf::header::{ET_DYN, ET_EXEC};
    let elf = goblin::elf::Elf::parse(data).map_err(|e| anyhow!("not a readable ELF file: {e}"))?;
    if !matches!(elf.header.e_type, ET_DYN | ET_EXEC) {
        return Ok(None);
    }
    // A colon-separated list in one entry is several directories.
    let split = |paths: &[&str]| -> Vec<String> {
        paths
            .iter()
            .flat_map(|p| p.split(':'))
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    };
    Ok(Some(ElfFacts {
        machine: elf.header.e_machine,
        is_64: elf.is_64,
        needed: elf.libraries.iter().map(|s| s.to_string()).collect(),
        rpath: split(&elf.rpaths),
        runpath: split(&elf.runpaths),
        soname: elf.soname.map(str::to_string),
    }))
}
