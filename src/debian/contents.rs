//! `Contents-<arch>` indexes: which package ships which file. pypack reads
//! them only for shared libraries (files directly in the library directories
//! the loader searches), to find the package that provides a library a wheel
//! links. The compact library table is kept in the cache per index hash, so
//! the 150 MB index is read once.

use super::{Archive, FetchStats, SuiteIndex};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::io::BufRead;

/// Bumped when the table kept in the cache changes shape.
const FORMAT: u32 = 1;

/// Library file name → (directory, package) pairs, for one suite.
pub type LibraryOwners = BTreeMap<String, Vec<(String, String)>>;

/// Directories, in the order the loader searches them, whose files count.
pub fn library_dirs(multiarch: &str) -> [String; 4] {
    [
        format!("usr/lib/{multiarch}"),
        format!("lib/{multiarch}"),
        "usr/lib".to_string(),
        "lib".to_string(),
    ]
}

impl Archive<'_> {
    /// The library table of one component of `suite` for `arch` (empty when
    /// the suite publishes no Contents index for it).
    pub fn library_owners(
        &self,
        suite: &SuiteIndex,
        component: &str,
        arch: &str,
        multiarch: &str,
        stats: &FetchStats,
    ) -> Result<LibraryOwners> {
        let path = format!("{component}/Contents-{arch}");
        let Some(file) = super::signed_path(suite, &path) else {
            return Ok(LibraryOwners::new());
        };
        let hash = &file.sha256;
        let key = format!("contents libraries format {FORMAT}\n{hash}\n{multiarch}\n");
        if let Some(table) = self
            .cache
            .get_ref("contents-libraries", &key)
            .filter(|hex| self.cache.has_blob(hex))
            .and_then(|hex| self.cache.read_blob(&hex).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        {
            return Ok(table);
        }
        let _progress = crate::progress::Progress::start(
            &format!("reading the {} file list of {}", arch, suite.suite),
            0,
            self.config.verbose,
        );
        let table = self
            .read_signed_file(&file, stats, |reader| {
                parse_libraries(std::io::BufReader::new(reader), multiarch)
            })
            .with_context(|| format!("reading {}", file.url))?;
        let hex = self.cache.put_bytes(&serde_json::to_vec(&table)?)?;
        self.cache.set_ref("contents-libraries", &key, &hex)?;
        Ok(table)
    }
}

impl Archive<'_> {
    /// The `(path, package)` rows of one component's Contents index whose
    /// path `wanted` accepts (a header a build missed, a `*-config` tool),
    /// read as the index streams; kept in the cache per index and question.
    pub fn file_owners(
        &self,
        suite: &SuiteIndex,
        component: &str,
        arch: &str,
        question: &str,
        wanted: &dyn Fn(&str) -> bool,
        stats: &FetchStats,
    ) -> Result<Vec<(String, String)>> {
        let path = format!("{component}/Contents-{arch}");
        let Some(file) = super::signed_path(suite, &path) else {
            return Ok(Vec::new());
        };
        let key = format!(
            "contents files format {FORMAT}\n{}\n{question}\n",
            file.sha256
        );
        if let Some(rows) = self
            .cache
            .get_ref("contents-files", &key)
            .and_then(|text| serde_json::from_str(&text).ok())
        {
            return Ok(rows);
        }
        let rows = self
            .read_signed_file(&file, stats, |reader| {
                let mut rows = Vec::new();
                for line in std::io::BufReader::new(reader).lines() {
                    let line = line?;
                    let Some((path, locations)) = line.trim_end().rsplit_once([' ', '\t']) else {
                        continue;
                    };
                    let path = path
                        .trim_end()
                        .trim_start_matches("./")
                        .trim_start_matches('/');
                    if !wanted(path) {
                        continue;
                    }
                    for location in locations.split(',') {
                        let package = location.rsplit('/').next().unwrap_or(location).trim();
                        rows.push((path.to_string(), package.to_string()));
                    }
                }
                Ok(rows)
            })
            .with_context(|| format!("reading {}", file.url))?;
        self.cache
            .set_ref("contents-files", &key, &serde_json::to_string(&rows)?)?;
        Ok(rows)
    }
}

/// The library rows of a Contents index: `path   section/package[,…]`.
pub fn parse_libraries(reader: impl BufRead, multiarch: &str) -> Result<LibraryOwners> {
    let dirs = library_dirs(multiarch);
    let mut table = LibraryOwners::new();
    for line in reader.lines() {
        let line = line?;
        let Some((path, locations)) = line.trim_end().rsplit_once([' ', '\t']) else {
            continue;
        };
        let path = path
            .trim_end()
            .trim_start_matches("./")
            .trim_start_matches('/');
        let Some((dir, name)) = path.rsplit_once('/') else {
            continue;
        };
        if !name.contains(".so") || !dirs.iter().any(|d| d == dir) {
            continue;
        }
        for location in locations.split(',') {
            let package = location.rsplit('/').next().unwrap_or(location).trim();
            if !package.is_empty() {
                table
                    .entry(name.to_string())
                    .or_default()
                    .push((dir.to_string(), package.to_string()));
            }
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_rows_only() {
        let text = "\
usr/bin/python3.11                                      python/python3.11-minimal
usr/lib/x86_64-linux-gnu/libstdc++.so.6                 libs/libstdc++6
usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30            libs/libstdc++6
usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3  libs/libopenblas0-pthread
lib/x86_64-linux-gnu/libz.so.1                          libs/zlib1g
usr/lib/x86_64-linux-gnu/libGL.so.1                     libs/libgl1,non-free/libs/libgl1-vendor
usr/share/doc/libstdc++6/copyright                      libs/libstdc++6
usr/lib/x86_64-linux-gnu/a file with spaces.so.1        libs/odd
";
        let table = parse_libraries(text.as_bytes(), "x86_64-linux-gnu").unwrap();
        assert_eq!(
            table["libstdc++.so.6"],
            [(
                "usr/lib/x86_64-linux-gnu".to_string(),
                "libstdc++6".to_string()
            )]
        );
        assert_eq!(table["libz.so.1"][0].1, "zlib1g");
        assert_eq!(table["libGL.so.1"].len(), 2);
        assert_eq!(table["a file with spaces.so.1"][0].1, "odd");
        assert!(
            !table.contains_key("libblas.so.3"),
            "not in a searched directory"
        );
        assert!(!table.contains_key("python3.11"));
    }
}
