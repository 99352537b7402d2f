//! Turns extracted packages into one root filesystem: merged /usr, the files
//! maintainer scripts would have made (CA bundle, dpkg status), the recipe's
//! additions and removals, and every parent directory present.

use super::recipe::Recipe;
use crate::debian::packages::{Package, STATUS_FIELDS};
use crate::glob;
use crate::oci::layer::{Entry, EntryKind, check_entry_path};
use anyhow::{Context, Result};
use std::collections::BTreeMap;

/// Top-level directories that merged-/usr systems turn into links into /usr.
const MERGED_DIRS: &[&str] = &["bin", "sbin", "lib", "lib32", "lib64", "libx32"];

/// The packages' entries are moved out (`packages` keeps the packages).
pub fn assemble(recipe: &Recipe, packages: &mut [(&Package, Vec<Entry>)]) -> Result<Vec<Entry>> {
    let mut merged_used = vec!["bin", "sbin", "lib"];
    let mut tree = package_tree(recipe, packages, &mut merged_used)?;
    if let Some(bundle) = &recipe.ca_bundle {
        let pem = ca_bundle(&tree);
        insert(&mut tree, Entry::file(bundle, pem, 0o644))?;
    }
    drop_files(&mut tree, recipe);
    if recipe.usrmerge {
        for dir in merged_used {
            insert(&mut tree, Entry::symlink(dir, &format!("usr/{dir}")))?;
        }
    }
    add_status(&mut tree, recipe, packages)?;
    add_recipe_entries(&mut tree, recipe)?;
    crate::oci::layer::add_parents(&mut tree)?;
    Ok(tree.into_values().collect())
}

/// The files of `packages` as a layer over the recipe's base: the same
/// merged /usr, dropped files and dpkg status entries, nothing else of the
/// recipe's (the base has its links, users and CA bundle already).
pub fn packages_layer(
    recipe: &Recipe,
    packages: &mut [(&Package, Vec<Entry>)],
) -> Result<Vec<Entry>> {
    let mut merged_used = Vec::new();
    let mut tree = package_tree(recipe, packages, &mut merged_used)?;
    drop_files(&mut tree, recipe);
    add_status(&mut tree, recipe, packages)?;
    crate::oci::layer::add_parents(&mut tree)?;
    Ok(tree.into_values().collect())
}

/// Every package's entries in one tree, with /bin, /lib… moved under /usr
/// on a merged-/usr recipe (`merged_used` collects the top dirs seen).
fn package_tree(
    recipe: &Recipe,
    packages: &mut [(&Package, Vec<Entry>)],
    merged_used: &mut Vec<&'static str>,
) -> Result<BTreeMap<String, Entry>> {
    let mut tree: BTreeMap<String, Entry> = BTreeMap::new();
    for (package, entries) in packages.iter_mut() {
        // Moved, not copied: a base's files are tens of megabytes.
        for mut entry in std::mem::take(entries) {
            if recipe.usrmerge {
                if let Some(top) = MERGED_DIRS.iter().find(|d| entry.path == **d) {
                    if !merged_used.contains(top) {
                        merged_used.push(top);
                    }
                    continue; // the link the base has replaces the package's own dir or link
                }
                entry.path = merge_usr(&entry.path, merged_used);
                if let EntryKind::Hardlink(target) = &entry.kind {
                    entry.kind = EntryKind::Hardlink(merge_usr(target, merged_used));
                }
            }
            insert(&mut tree, entry).with_context(|| format!("package {}", package.name))?;
        }
    }
    Ok(tree)
}

fn add_status(
    tree: &mut BTreeMap<String, Entry>,
    recipe: &Recipe,
    packages: &[(&Package, Vec<Entry>)],
) -> Result<()> {
    if recipe.dpkg_status {
        for (package, _) in packages {
            let path = format!("var/lib/dpkg/status.d/{}", package.name);
            insert(tree, Entry::file(&path, dpkg_status(package)?, 0o644))?;
        }
    }
    Ok(())
}

/// `lib/x86_64-linux-gnu/libc.so.6` → `usr/lib/x86_64-linux-gnu/libc.so.6`.
fn merge_usr(path: &str, used: &mut Vec<&'static str>) -> String {
    let (top, _) = path.split_once('/').unwrap_or((path, ""));
    match MERGED_DIRS.iter().find(|d| **d == top) {
        Some(dir) => {
            if !used.contains(dir) {
                used.push(dir);
            }
            format!("usr/{path}")
        }
        None => path.to_string(),
    }
}

/// Adds or replaces an entry; a directory never replaces an existing one, so
/// the first package to ship it sets its mode.
fn insert(tree: &mut BTreeMap<String, Entry>, entry: Entry) -> Result<()> {
    check_entry_path(&entry.path)?;
    if entry.kind == EntryKind::Dir
        && tree
            .get(&entry.path)
            .is_some_and(|e| e.kind == EntryKind::Dir)
    {
        return Ok(());
    }
    tree.insert(entry.path.clone(), entry);
    Ok(())
}

/// Concatenates the packaged certificates, what `update-ca-certificates` does.
fn ca_bundle(tree: &BTreeMap<String, Entry>) -> Vec<u8> {
    let mut pem = Vec::new();
    for (path, entry) in tree.range("usr/share/ca-certificates/".to_string()..) {
        if !path.starts_with("usr/share/ca-certificates/") {
            break;
        }
        if let (true, EntryKind::File(data)) = (path.ends_with(".crt"), &entry.kind) {
            pem.extend_from_slice(data);
            if !data.ends_with(b"\n") {
                pem.push(b'\n');
            }
        }
    }
    pem
}

fn drop_files(tree: &mut BTreeMap<String, Entry>, recipe: &Recipe) {
    let rules = &recipe.files;
    let dropped = |path: &str| {
        rules.drop.iter().any(|p| glob::matches(p, path))
            && !rules.keep.iter().any(|p| glob::matches(p, path))
    };
    let removed: Vec<String> = tree.keys().filter(|p| dropped(p)).cloned().collect();
    let mut removed_files = BTreeMap::new();
    for path in removed {
        if let Some(entry) = tree.remove(&path) {
            removed_files.insert(path, entry);
        }
    }
    // A kept hard link whose target was dropped becomes a copy of it.
    for entry in tree.values_mut() {
        if let EntryKind::Hardlink(target) = &entry.kind
            && let Some(Entry {
                kind: EntryKind::File(data),
                ..
            }) = removed_files.get(target)
        {
            entry.kind = EntryKind::File(data.clone());
        }
    }
}

/// The package's index paragraph as dpkg's status file has it, for scanners.
fn dpkg_status(package: &Package) -> Result<Vec<u8>> {
    let mut out = String::new();
    let mut keeping = false;
    for line in package.status_paragraph()?.lines() {
        if !line.starts_with([' ', '\t']) {
            let name = line.split(':').next().unwrap_or("");
            keeping = STATUS_FIELDS.contains(&name);
            if keeping && name == "Package" {
                out.push_str(line);
                out.push_str("\nStatus: install ok installed\n");
                continue;
            }
        }
        if keeping {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out.into_bytes())
}

fn add_recipe_entries(tree: &mut BTreeMap<String, Entry>, recipe: &Recipe) -> Result<()> {
    let add = &recipe.rootfs;
    for d in &add.dirs {
        tree.insert(
            d.path.clone(),
            Entry::dir(&d.path, d.mode).owned_by(d.uid, d.gid),
        );
    }
    for f in &add.files {
        let content = f.content.trim_start_matches('\n');
        tree.insert(
            f.path.clone(),
            Entry::file(&f.path, content.as_bytes(), f.mode).owned_by(f.uid, f.gid),
        );
    }
    for l in &add.links {
        tree.insert(l.path.clone(), Entry::symlink(&l.path, &l.target));
    }
    for path in tree.keys() {
        check_entry_path(path).with_context(|| format!("recipe {}", recipe.name))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::recipe::Recipe;
    use crate::debian::packages::parse_packages;

    fn package(name: &str) -> Package {
        let text = format!(
            "Package: {name}\nVersion: 1.0\nArchitecture: amd64\nFilename: x.deb\nSHA256: 00\nDescription: d\n long\nTag: x\n"
        );
        parse_packages(&text, "amd64").unwrap().remove(0)
    }

    #[test]
    fn merges_usr_bundles_certs_and_drops() {
        let recipe = Recipe::load("debian12").unwrap();
        let libc = package("libc6");
        let certs = package("ca-certificates");
        let libc_entries = vec![
            Entry::dir("lib", 0o755),
            Entry::file("lib/x86_64-linux-gnu/libc.so.6", b"elf".to_vec(), 0o755),
            Entry::symlink("lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld.so"),
            Entry::file(
                "usr/lib/x86_64-linux-gnu/gconv/UTF-16.so",
                b"x".to_vec(),
                0o644,
            ),
            Entry::file("usr/share/doc/libc6/copyright", b"(c)".to_vec(), 0o644),
            Entry::file("usr/share/doc/libc6/changelog.gz", b"..".to_vec(), 0o644),
        ];
        let cert_entries = vec![
            Entry::file(
                "usr/share/ca-certificates/mozilla/B.crt",
                b"B".to_vec(),
                0o644,
            ),
            Entry::file(
                "usr/share/ca-certificates/mozilla/A.crt",
                b"A\n".to_vec(),
                0o644,
            ),
        ];
        let tree = assemble(
            &recipe,
            &mut [(&libc, libc_entries), (&certs, cert_entries)],
        )
        .unwrap();
        let get = |p: &str| tree.iter().find(|e| e.path == p);
        assert!(get("usr/lib/x86_64-linux-gnu/libc.so.6").is_some());
        assert_eq!(
            get("lib").unwrap().kind,
            EntryKind::Symlink("usr/lib".into())
        );
        assert_eq!(
            get("lib64").unwrap().kind,
            EntryKind::Symlink("usr/lib64".into())
        );
        assert!(get("usr/lib64/ld-linux-x86-64.so.2").is_some());
        assert!(get("usr/lib/x86_64-linux-gnu/gconv/UTF-16.so").is_none());
        assert!(get("usr/share/doc/libc6/copyright").is_some());
        assert!(get("usr/share/doc/libc6/changelog.gz").is_none());
        assert!(get("usr/share/ca-certificates/mozilla/A.crt").is_none());
        let bundle = get("etc/ssl/certs/ca-certificates.crt").unwrap();
        assert_eq!(bundle.kind, EntryKind::File(b"A\nB\n".to_vec()));
        assert_eq!(get("tmp").unwrap().mode, 0o1777);
        assert_eq!(get("home/nonroot").unwrap().uid, 65532);
        let EntryKind::File(status) = &get("var/lib/dpkg/status.d/libc6").unwrap().kind else {
            panic!()
        };
        let status = String::from_utf8_lossy(status);
        assert!(
            status.starts_with("Package: libc6\nStatus: install ok installed\n"),
            "{status}"
        );
        assert!(
            status.contains(" long\n") && !status.contains("Filename") && !status.contains("Tag"),
            "{status}"
        );
        for e in &tree {
            if let Some((parent, _)) = e.path.rsplit_once('/') {
                assert_eq!(
                    get(parent).map(|p| &p.kind),
                    Some(&EntryKind::Dir),
                    "parent of {}",
                    e.path
                );
            }
        }
    }
}
