//! The shared libraries a base image provides where the dynamic loader looks:
//! the multiarch and plain `lib` directories it trusts by default, and — when
//! the base has an `/etc/ld.so.cache` — the directories `ld.so.conf` lists.
//! Read from the base's layers (whiteouts applied) once per base image.

use crate::cache::Cache;
use crate::oci::image::Image;
use crate::oci::layer::{Entry, EntryKind};
use crate::platform::Platform;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bumped when what is recorded for a base changes.
const FORMAT: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseLibraries {
    /// Every library-like name (`*.so*`) in the search directories, in the
    /// order the loader searches them: (name, absolute path as found).
    pub libraries: Vec<(String, String)>,
    /// The `ld.so.conf` directories, first in an `ld.so.cache` rebuilt for it.
    pub conf_dirs: Vec<String>,
    /// Whether `/sbin/ldconfig` is there (what `ctypes.util.find_library` runs).
    pub has_ldconfig: bool,
}

impl BaseLibraries {
    pub fn provides(&self, name: &str) -> bool {
        self.libraries.iter().any(|(n, _)| n == name)
    }

    /// The libraries of the base's own files, as `entries` of one layer.
    pub fn from_entries(entries: &[Entry], platform: Platform) -> BaseLibraries {
        let mut tree = BTreeMap::new();
        for entry in entries {
            tree.insert(entry.path.clone(), node(entry));
        }
        from_tree(&tree, platform)
    }

    /// The base image's libraries, read from its layers the first time and
    /// remembered per image.
    pub fn of_image(cache: &Cache, image: &Image) -> Result<BaseLibraries> {
        let key = format!(
            "base libraries format {FORMAT}\n{}\n",
            image.manifest_digest
        );
        if let Some(known) = cache
            .get_ref("base-libraries", &key)
            .and_then(|text| serde_json::from_str(&text).ok())
        {
            return Ok(known);
        }
        let mut tree: BTreeMap<String, Node> = BTreeMap::new();
        for layer in &image.layers {
            let hex = crate::digest::strip_sha256(&layer.digest)?;
            let entries = crate::oci::layer::read_layer(&cache.read_blob(hex)?)?;
            apply_layer(&mut tree, &entries);
        }
        let found = from_tree(&tree, image.platform);
        cache.set_ref("base-libraries", &key, &serde_json::to_string(&found)?)?;
        Ok(found)
    }

    /// Records what a freshly built base provides (so its first build need
    /// not read the layer back).
    pub fn remember(&self, cache: &Cache, image: &Image) -> Result<()> {
        let key = format!(
            "base libraries format {FORMAT}\n{}\n",
            image.manifest_digest
        );
        cache.set_ref("base-libraries", &key, &serde_json::to_string(self)?)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    File(Vec<u8>),
    Dir,
    Link(String),
}

fn node(entry: &Entry) -> Node {
    match &entry.kind {
        EntryKind::Dir => Node::Dir,
        EntryKind::Symlink(target) => Node::Link(target.clone()),
        // Only ld.so.conf files are read; other contents are not kept.
        EntryKind::File(data) if entry.path.starts_with("etc/ld.so.conf") => {
            Node::File(data.clone())
        }
        EntryKind::File(_)
        | EntryKind::OnDisk { .. }
        | EntryKind::Part(_)
        | EntryKind::Hardlink(_) => Node::File(Vec::new()),
    }
}

/// Applies one layer over the tree, OCI whiteouts included.
fn apply_layer(tree: &mut BTreeMap<String, Node>, entries: &[Entry]) {
    for entry in entries {
        let (dir, name) = match entry.path.rsplit_once('/') {
            Some((d, n)) => (d.to_string(), n),
            None => (String::new(), entry.path.as_str()),
        };
        let under = |dir: &str| {
            if dir.is_empty() {
                String::new()
            } else {
                format!("{dir}/")
            }
        };
        if name == ".wh..wh..opq" {
            let prefix = under(&dir);
            tree.retain(|p, _| !p.starts_with(&prefix) || prefix.is_empty());
            continue;
        }
        if let Some(hidden) = name.strip_prefix(".wh.") {
            let path = format!("{}{hidden}", under(&dir));
            let prefix = format!("{path}/");
            tree.retain(|p, _| *p != path && !p.starts_with(&prefix));
            continue;
        }
        tree.insert(entry.path.clone(), node(entry));
    }
}

/// `path` with every symlink along it followed (within the tree).
fn resolve(tree: &BTreeMap<String, Node>, path: &str) -> String {
    let mut pending: std::collections::VecDeque<String> =
        path.split('/').map(String::from).collect();
    let mut done: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(part) = pending.pop_front() {
        match part.as_str() {
            "" | "." => continue,
            ".." => {
                done.pop();
                continue;
            }
            _ => done.push(part),
        }
        if let Some(Node::Link(target)) = tree.get(&done.join("/")) {
            hops += 1;
            if hops > 16 {
                break; // a loop: the loader would give up too
            }
            done.pop();
            if target.starts_with('/') {
                done.clear();
            }
            for p in target.split('/').rev() {
                pending.push_front(p.to_string());
            }
        }
    }
    done.join("/")
}

/// `ld.so.conf` directories: its lines and those of the files it includes.
fn conf_dirs(tree: &BTreeMap<String, Node>) -> Vec<String> {
    let mut dirs = Vec::new();
    let mut files = vec!["etc/ld.so.conf".to_string()];
    let mut read = 0;
    while read < files.len() && read < 64 {
        let Some(Node::File(data)) = tree.get(&files[read]) else {
            read += 1;
            continue;
        };
        for line in String::from_utf8_lossy(data).lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            if let Some(pattern) = line.strip_prefix("include") {
                let pattern = pattern.trim().trim_start_matches('/');
                let matching = tree
                    .keys()
                    .filter(|p| crate::glob::matches(pattern, p))
                    .cloned();
                files.extend(matching);
            } else if line.starts_with('/') {
                dirs.push(
                    line.trim_start_matches('/')
                        .trim_end_matches('/')
                        .to_string(),
                );
            }
        }
        read += 1;
    }
    dirs
}

fn from_tree(tree: &BTreeMap<String, Node>, platform: Platform) -> BaseLibraries {
    let triplet = platform.multiarch();
    let mut search: Vec<String> = Vec::new();
    let has_cache = tree.contains_key("etc/ld.so.cache");
    let conf = conf_dirs(tree);
    if has_cache {
        search.extend(conf.iter().cloned());
    }
    search.extend([
        format!("lib/{triplet}"),
        format!("usr/lib/{triplet}"),
        "lib".to_string(),
        "usr/lib".to_string(),
        "lib64".to_string(),
        "usr/lib64".to_string(),
    ]);
    let mut libraries: Vec<(String, String)> = Vec::new();
    let mut listed = Vec::new();
    for dir in &search {
        let real = resolve(tree, dir);
        if listed.contains(&real) {
            continue;
        }
        listed.push(real.clone());
        let prefix = format!("{real}/");
        let in_dir: Vec<(&str, &Node)> = tree
            .range(prefix.clone()..)
            .map_while(|(path, node)| path.strip_prefix(&prefix).map(|name| (name, node)))
            .filter(|(name, node)| {
                !name.contains('/') && name.contains(".so") && **node != Node::Dir
            })
            .collect();
        // As ldconfig lists them: links by their names, and files no link
        // of the directory points at (`libfoo.so.1.2.3` is `libfoo.so.1`).
        let link_targets: Vec<&str> = in_dir
            .iter()
            .filter_map(|(_, node)| match node {
                Node::Link(target) => Some(target.rsplit('/').next().unwrap_or(target)),
                _ => None,
            })
            .collect();
        for (name, node) in in_dir {
            if matches!(node, Node::File(_)) && link_targets.contains(&name) {
                continue;
            }
            libraries.push((name.to_string(), format!("/{dir}/{name}")));
        }
    }
    let ldconfig = resolve(tree, "sbin/ldconfig");
    BaseLibraries {
        libraries,
        conf_dirs: conf,
        has_ldconfig: tree.contains_key(&ldconfig),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_usr_links_conf_files_and_whiteouts() {
        let platform = Platform::parse("linux/amd64").unwrap();
        let base = vec![
            Entry::symlink("lib", "usr/lib"),
            Entry::dir("usr/lib/x86_64-linux-gnu", 0o755),
            Entry::file("usr/lib/x86_64-linux-gnu/libc.so.6", b"x".to_vec(), 0o755),
            Entry::symlink("usr/lib/x86_64-linux-gnu/libz.so.1", "libz.so.1.2.13"),
            Entry::file(
                "usr/lib/x86_64-linux-gnu/libz.so.1.2.13",
                b"x".to_vec(),
                0o755,
            ),
            Entry::file(
                "usr/lib/x86_64-linux-gnu/gconv/UTF-16.so",
                b"x".to_vec(),
                0o755,
            ),
            Entry::file("usr/local/lib/libpython3.12.so.1.0", b"x".to_vec(), 0o755),
            Entry::file(
                "etc/ld.so.conf",
                b"include /etc/ld.so.conf.d/*.conf\n".to_vec(),
                0o644,
            ),
            Entry::file(
                "etc/ld.so.conf.d/libc.conf",
                b"# libc default configuration\n/usr/local/lib\n".to_vec(),
                0o644,
            ),
        ];
        let found = BaseLibraries::from_entries(&base, platform);
        assert!(found.provides("libc.so.6") && found.provides("libz.so.1"));
        assert!(
            !found.provides("libz.so.1.2.13"),
            "a link's target is listed by the link's name"
        );
        assert!(!found.provides("UTF-16.so"), "not a search directory");
        assert!(
            !found.provides("libpython3.12.so.1.0"),
            "ld.so.conf counts only with a cache"
        );
        assert_eq!(found.libraries[0].1, "/lib/x86_64-linux-gnu/libc.so.6");
        assert_eq!(found.conf_dirs, ["usr/local/lib"]);

        let mut tree = BTreeMap::new();
        apply_layer(&mut tree, &base);
        apply_layer(
            &mut tree,
            &[
                Entry::file("etc/ld.so.cache", b"".to_vec(), 0o644),
                Entry::file(
                    "usr/lib/x86_64-linux-gnu/.wh.libz.so.1",
                    b"".to_vec(),
                    0o644,
                ),
                Entry::file("sbin/ldconfig", b"".to_vec(), 0o755),
            ],
        );
        let found = from_tree(&tree, platform);
        assert!(found.provides("libpython3.12.so.1.0"));
        assert!(!found.provides("libz.so.1"));
        assert!(found.has_ldconfig);
    }
}
