//! Image names: the one a build is given (checked, or made from the app
//! directory's name), the shorter one its files are named by, and the names
//! its debug variant goes by.

use crate::registry::Reference;
use anyhow::{Result, bail};
use std::path::Path;

/// Refuses what is not a lower-case image name `NAME[:TAG]`.
pub fn check_tag(tag: &str) -> Result<()> {
    let ok = !tag.is_empty()
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c))
        && !tag.starts_with(['-', '.', '/', ':'])
        && tag.chars().any(|c| c.is_ascii_alphanumeric());
    if !ok || tag.chars().any(|c| c.is_ascii_uppercase()) {
        bail!("'{tag}' is not a valid image name: use lower-case NAME[:TAG], e.g. myapp:1.0");
    }
    Ok(())
}

/// The name an app's image gets when none is given: its directory's.
pub fn name_of_app(app: &Path) -> String {
    image_name(&app_dir_name(app))
}

/// A valid image name from a directory name: lower case, other characters → '-'.
pub fn image_name(dir: &str) -> String {
    let cleaned: String = dir
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string();
    if cleaned.is_empty() {
        "app".into()
    } else {
        cleaned
    }
}

/// The app directory's own name, lower case (`app` when it has none).
fn app_dir_name(app: &Path) -> String {
    app.canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_lowercase()))
        .unwrap_or_else(|| "app".into())
}

/// `registry/team/app:1` → `app`.
pub fn short_name(tag: &str) -> &str {
    let last = tag.rsplit('/').next().unwrap_or(tag);
    last.split(':').next().unwrap_or(last)
}

/// `name[:tag]` → `name:tag-debug`: the debug variant's name.
pub fn debug_name(tag: &str) -> String {
    format!("{}-debug", crate::oci::layout::full_tag(tag))
}

/// The reference the debug variant is pushed to: the tag with `-debug`.
pub fn debug_reference(reference: &Reference) -> Reference {
    Reference {
        tag: Some(format!(
            "{}-debug",
            reference.tag.as_deref().unwrap_or("latest")
        )),
        digest: None,
        ..reference.clone()
    }
}
