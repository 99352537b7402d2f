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
    let split = |entries: &[&str]| entries.iter().flat_map(|e| directories(e)).collect();
    Ok(Some(ElfFacts {
        machine: elf.header.e_machine,
        is_64: elf.is_64,
        needed: elf.libraries.iter().map(|s| s.to_string()).collect(),
        rpath: split(&elf.rpaths),
        runpath: split(&elf.runpaths),
        soname: elf.soname.map(str::to_string),
    }))
}
/// The facts of the ELF file at `path`, as [`read`] gives them, reading
/// only its header, program headers, dynamic segment and dynamic string
/// table: a shared library of a few hundred MB (polars, torch) is not read
/// into memory to learn a few names.
pub fn read_file(path: &std::path::Path) -> Result<Option<ElfFacts>> {
    use goblin::elf::header::{ET_DYN, ET_EXEC};
    use goblin::elf::{Dynamic, Elf, ProgramHeader, program_header::PT_DYNAMIC};
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len() as usize;
    // Zeroed and untouched, the buffer costs no memory but the parts read
    // into it: each part sits at its file offset, where goblin looks.
    let mut bytes = vec![0u8; len];
    let goblin_err = |e: goblin::error::Error| anyhow!("not a readable ELF file: {e}");
    fill(&file, &mut bytes, 0, 64)?;
    let header = Elf::parse_header(&bytes).map_err(goblin_err)?;
    if !matches!(header.e_type, ET_DYN | ET_EXEC) {
        return Ok(None);
    }
    let ctx = goblin::container::Ctx::new(
        header.container().map_err(goblin_err)?,
        header.endianness().map_err(goblin_err)?,
    );
    fill(
        &file,
        &mut bytes,
        header.e_phoff as usize,
        header.e_phnum as usize * header.e_phentsize as usize,
    )?;
    let phdrs = ProgramHeader::parse(
        &bytes,
        header.e_phoff as usize,
        header.e_phnum as usize,
        ctx,
    )
    .map_err(goblin_err)?;
    for ph in phdrs.iter().filter(|ph| ph.p_type == PT_DYNAMIC) {
        fill(
            &file,
            &mut bytes,
            ph.p_offset as usize,
            ph.p_filesz as usize,
        )?;
    }
    let mut facts = ElfFacts {
        machine: header.e_machine,
        is_64: ctx.container.is_big(),
        needed: Vec::new(),
        rpath: Vec::new(),
        runpath: Vec::new(),
        soname: None,
    };
    let Some(dynamic) = Dynamic::parse(&bytes, &phdrs, ctx).map_err(goblin_err)? else {
        return Ok(Some(facts));
    };
    fill(&file, &mut bytes, dynamic.info.strtab, dynamic.info.strsz)?;
    let strtab = goblin::strtab::Strtab::parse(&bytes, dynamic.info.strtab, dynamic.info.strsz, 0)
        .map_err(goblin_err)?;
    facts.needed = dynamic
        .get_libraries(&strtab)
        .into_iter()
        .map(str::to_string)
        .collect();
    if dynamic.info.soname != 0 {
        facts.soname = strtab.get_at(dynamic.info.soname).map(str::to_string);
    }
    for entry in &dynamic.dyns {
        let list = match entry.d_tag {
            goblin::elf::dynamic::DT_RPATH => &mut facts.rpath,
            goblin::elf::dynamic::DT_RUNPATH => &mut facts.runpath,
            _ => continue,
        };
        list.extend(
            strtab
                .get_at(entry.d_val as usize)
                .into_iter()
                .flat_map(directories),
        );
    }
    Ok(Some(facts))
}

/// The directories of one `DT_RPATH` / `DT_RUNPATH` entry: a
/// colon-separated list in one entry is several directories.
fn directories(entry: &str) -> impl Iterator<Item = String> + '_ {
    entry
        .split(':')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
}

/// Reads `size` bytes at `offset` of `file` into the same place of `bytes`
/// (as much of it as the file has).
fn fill(file: &std::fs::File, bytes: &mut [u8], offset: usize, size: usize) -> Result<()> {
    use std::os::unix::fs::FileExt;
    let end = offset.saturating_add(size).min(bytes.len());
    if offset < end {
        file.read_exact_at(&mut bytes[offset..end], offset as u64)?;
    }
    Ok(())
}

#[cfg(test)]
mod file_tests {
    use super::*;

    /// Read sparsely, the host's own libraries and programs give the facts a
    /// whole read gives.
    #[test]
    fn reading_the_parts_gives_what_reading_the_whole_file_gives() {
        let mut seen = 0;
        for dir in [
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
            "/usr/bin",
        ] {
            let Ok(listing) = std::fs::read_dir(dir) else {
                continue;
            };
            for path in listing
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .take(200)
            {
                let data = std::fs::read(&path).unwrap();
                if !is_elf(&data) {
                    continue;
                }
                let whole = read(&data).map_err(|e| e.to_string());
                let parts = read_file(&path).map_err(|e| e.to_string());
                assert_eq!(parts, whole, "{}", path.display());
                seen += 1;
            }
        }
        assert!(seen > 20, "only {seen} ELF files found to compare");
    }
}
