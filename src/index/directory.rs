//! A project directory as an sdist: its files (without `.git`, `.venv`,
//! caches, `dist`/`build`) packed sorted, with fixed times, so the same
//! tree is the same bytes. How the app's own project, a setup.py's
//! metadata build and local projects (a monorepo's siblings, a uv
//! workspace member) are built and fetched: a `file://` URL of a directory
//! is "downloaded" by packing it.

use anyhow::Result;
use std::path::Path;

/// The name [`pack_tree`] gives a project's packed tree:
/// `NAME-VERSION.tar.gz`, the name normalized as sdists name it.
pub fn sdist_filename(name: &str, version: &str) -> String {
    format!("{}.tar.gz", stem(name, version))
}

fn stem(name: &str, version: &str) -> String {
    format!(
        "{}-{version}",
        crate::index::normalize_name(name).replace('-', "_")
    )
}

/// A source tree packed as an sdist the builder can build: `NAME-VERSION/`
/// holding `files` (relative path, bytes, mode), sorted, with fixed
/// timestamps and owners, so the same tree gives the same bytes (and the
/// same cache key for its wheel). Returns the file name and the bytes.
pub fn pack_tree(
    name: &str,
    version: &str,
    files: &[(String, Vec<u8>, u32)],
) -> Result<(String, Vec<u8>)> {
    let stem = stem(name, version);
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mut sorted: Vec<&(String, Vec<u8>, u32)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    for (rel, data, mode) in sorted {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(crate::oci::DEFAULT_EPOCH);
        header.set_cksum();
        tar.append_data(&mut header, format!("{stem}/{rel}"), data.as_slice())?;
    }
    let bytes = tar.into_inner()?.finish()?;
    Ok((sdist_filename(name, version), bytes))
}

/// Directories never part of a local project's sdist.
const LEFT_OUT: &[&str] = &[
    ".git",
    ".hg",
    ".venv",
    "venv",
    "__pycache__",
    "node_modules",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "dist",
    "build",
];

/// The most a local project's files may add up to: it is packed in memory,
/// and a lock naming `/` must not read the machine.
const MOST_BYTES: u64 = 1 << 30;

/// The files of the project directory `dir`, for [`pack_tree`].
pub fn project_files(dir: &Path) -> Result<Vec<(String, Vec<u8>, u32)>> {
    if !["pyproject.toml", "setup.py", "setup.cfg"]
        .iter()
        .any(|f| dir.join(f).is_file())
    {
        anyhow::bail!(
            "{} has no pyproject.toml, setup.py or setup.cfg: it is no project to build",
            dir.display()
        );
    }
    let mut total = 0u64;
    let mut files = Vec::new();
    crate::walk::walk_sorted(dir, "", &mut |path, meta, rel| {
        let leaf = rel.rsplit('/').next().unwrap_or(rel);
        if meta.is_dir() {
            return Ok(!LEFT_OUT.contains(&leaf) && !leaf.ends_with(".egg-info"));
        }
        if !meta.is_file() || leaf.ends_with(".pyc") {
            return Ok(false);
        }
        total += meta.len();
        if total > MOST_BYTES {
            anyhow::bail!(
                "{} holds more than {} MB of files: too much for a project to pack (leave data out of it)",
                dir.display(),
                MOST_BYTES >> 20
            );
        }
        let data = std::fs::read(path).map_err(|e| crate::walk::unreadable(path, e))?;
        let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions());
        files.push((
            rel.to_string(),
            data,
            if mode & 0o111 != 0 { 0o755 } else { 0o644 },
        ));
        Ok(true)
    })?;
    Ok(files)
}

/// The sdist of the project directory `dir`, named `filename`
/// (`name-version.tar.gz`, as a lock or the resolution gave it).
pub fn pack_directory(dir: &Path, filename: &str) -> Result<Vec<u8>> {
    let stem = filename
        .strip_suffix(".tar.gz")
        .ok_or_else(|| anyhow::anyhow!("{filename} is not an sdist's name"))?;
    let (name, version) = stem
        .rsplit_once('-')
        .ok_or_else(|| anyhow::anyhow!("{filename} is not an sdist's name"))?;
    let (_, bytes) = pack_tree(name, version, &project_files(dir)?)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_project_directory_is_packed_and_the_same_tree_is_the_same_bytes() {
        let err = project_files(Path::new("/")).unwrap_err().to_string();
        assert!(
            err.contains("no pyproject.toml, setup.py or setup.cfg"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in [
            ("pyproject.toml", "[project]\nname = \"common\"\n"),
            ("common/__init__.py", "X = 1\n"),
            ("common/__pycache__/x.pyc", "junk"),
            (".git/HEAD", "ref"),
            ("dist/common-0.1.tar.gz", "old"),
        ] {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let files: Vec<String> = project_files(dir.path())
            .unwrap()
            .into_iter()
            .map(|(rel, _, _)| rel)
            .collect();
        assert_eq!(files, ["common/__init__.py", "pyproject.toml"]);
        let one = pack_directory(dir.path(), "common-0.1.tar.gz").unwrap();
        let two = pack_directory(dir.path(), "common-0.1.tar.gz").unwrap();
        assert_eq!(one, two);
    }
}
