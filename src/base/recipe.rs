//! Base recipes: the data that says which Debian packages make a base image and
//! what to add or remove. The built-in ones live in `templates/bases/` and are
//! compiled into the binary so pypack needs no files beside it.

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::Path;

pub const BUILTIN_RECIPES: &[(&str, &str)] = &[
    (
        "debian12",
        include_str!("../../templates/bases/debian12.toml"),
    ),
    (
        "debian13",
        include_str!("../../templates/bases/debian13.toml"),
    ),
    (
        "debian-forky",
        include_str!("../../templates/bases/debian-forky.toml"),
    ),
];

/// Public keys of the Debian archive that pypack trusts out of the box.
pub const SHIPPED_KEYS: &[(&str, &str)] = &[
    (
        "debian-archive-bookworm-automatic.asc",
        include_str!("../../templates/keys/debian-archive-bookworm-automatic.asc"),
    ),
    (
        "debian-archive-bookworm-security-automatic.asc",
        include_str!("../../templates/keys/debian-archive-bookworm-security-automatic.asc"),
    ),
    (
        "debian-archive-bookworm-stable.asc",
        include_str!("../../templates/keys/debian-archive-bookworm-stable.asc"),
    ),
    (
        "debian-archive-trixie-automatic.asc",
        include_str!("../../templates/keys/debian-archive-trixie-automatic.asc"),
    ),
    (
        "debian-archive-trixie-security-automatic.asc",
        include_str!("../../templates/keys/debian-archive-trixie-security-automatic.asc"),
    ),
    (
        "debian-archive-trixie-stable.asc",
        include_str!("../../templates/keys/debian-archive-trixie-stable.asc"),
    ),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    pub name: String,
    pub description: String,
    pub suites: Vec<String>,
    /// The suites are Debian's testing: they change daily and may break.
    #[serde(default)]
    pub testing: bool,
    pub components: Vec<String>,
    pub architectures: Vec<String>,
    pub keys: Vec<String>,
    #[serde(default)]
    pub usrmerge: bool,
    pub ca_bundle: Option<String>,
    #[serde(default)]
    pub dpkg_status: bool,
    pub python: PythonSpec,
    pub packages: PackageSpec,
    #[serde(default)]
    pub files: FileRules,
    #[serde(default)]
    pub rootfs: RootfsAdditions,
    #[serde(default)]
    pub image: ImageDefaults,
    #[serde(default)]
    pub builder: BuilderSpec,
    /// The recipe's own text, part of the build's cache key.
    #[serde(skip)]
    pub source_text: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PythonSpec {
    pub version: String,
    pub executable: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageSpec {
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// What the builder image adds to the runtime's packages.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuilderSpec {
    #[serde(default)]
    pub packages: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRules {
    #[serde(default)]
    pub drop: Vec<String>,
    #[serde(default)]
    pub keep: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootfsAdditions {
    #[serde(default)]
    pub dirs: Vec<DirSpec>,
    #[serde(default)]
    pub files: Vec<FileSpec>,
    #[serde(default)]
    pub links: Vec<LinkSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirSpec {
    pub path: String,
    #[serde(default = "dir_mode")]
    pub mode: u32,
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub gid: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub path: String,
    pub content: String,
    #[serde(default = "file_mode")]
    pub mode: u32,
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub gid: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    pub path: String,
    pub target: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageDefaults {
    pub user: Option<String>,
    pub working_dir: Option<String>,
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
}

fn dir_mode() -> u32 {
    0o755
}
fn file_mode() -> u32 {
    0o644
}

/// The commands a builder package's maintainer script (not run: images are
/// assembled from the packages' files) would have made with
/// update-alternatives, and which builds call by these names: `/bin/sh`
/// (make, ninja, ./configure), `cc` and `c++` (grpcio's setup.py, configure
/// scripts), `awk` (configure, libtool).
const MAINTAINER_SCRIPT_LINKS: [(&str, &str, &str); 6] = [
    ("dash", "usr/bin/sh", "dash"),
    ("gcc", "usr/bin/cc", "gcc"),
    ("gcc", "usr/bin/c99", "c99-gcc"),
    ("g++", "usr/bin/c++", "g++"),
    ("mawk", "usr/bin/awk", "mawk"),
    ("mawk", "usr/bin/nawk", "mawk"),
];

impl Recipe {
    /// A built-in recipe by name, or a recipe file by path.
    pub fn load(name_or_path: &str) -> Result<Recipe> {
        if let Some((_, text)) = BUILTIN_RECIPES
            .iter()
            .find(|(name, _)| *name == name_or_path)
        {
            return Recipe::parse(text, &format!("built-in recipe {name_or_path}"));
        }
        let path = Path::new(name_or_path);
        if path.is_file() {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            return Recipe::parse(&text, &path.display().to_string());
        }
        let names: Vec<&str> = BUILTIN_RECIPES.iter().map(|(n, _)| *n).collect();
        bail!(
            "no base recipe '{name_or_path}': use one of {} or the path of a recipe file",
            names.join(", ")
        )
    }

    pub fn parse(text: &str, origin: &str) -> Result<Recipe> {
        let mut recipe: Recipe =
            toml::from_str(text).with_context(|| format!("{origin} is not a valid recipe"))?;
        recipe.source_text = text.to_string();
        if recipe.suites.is_empty() || recipe.packages.include.is_empty() {
            bail!("{origin}: a recipe needs at least one suite and one package");
        }
        for key in &recipe.keys {
            if !SHIPPED_KEYS.iter().any(|(name, _)| name == key) {
                bail!("{origin}: key '{key}' is not one pypack ships (see templates/keys/)");
            }
        }
        Ok(recipe)
    }

    /// The recipe of this recipe's builder image: its packages plus the
    /// `[builder]` ones (no longer excluded), cached under its own key.
    pub fn builder_recipe(&self) -> Result<Recipe> {
        self.builder_recipe_with(&[])
    }

    /// The builder recipe with `extra` Debian packages besides its own
    /// (what a source distribution's build needs: headers, `*-config`).
    pub fn builder_recipe_with(&self, extra: &[String]) -> Result<Recipe> {
        if self.builder.packages.is_empty() {
            bail!(
                "recipe {} has no [builder] packages, so it cannot build source distributions; add them, or use wheels only",
                self.name
            );
        }
        let mut builder = self.clone();
        builder.name = format!("{}-builder", self.name);
        let mut added = self.builder.packages.clone();
        added.extend(
            extra
                .iter()
                .filter(|e| !added.contains(e))
                .cloned()
                .collect::<Vec<_>>(),
        );
        builder.packages.exclude.retain(|p| !added.contains(p));
        builder.packages.include.extend(added.iter().cloned());
        let mut links = String::new();
        for (package, path, target) in MAINTAINER_SCRIPT_LINKS {
            if added.iter().any(|p| p == package) {
                builder.rootfs.links.push(LinkSpec {
                    path: path.into(),
                    target: target.into(),
                });
                links.push_str(&format!(" {path}->{target}"));
            }
        }
        // The links are part of the image, so of its cache key.
        builder.source_text = format!("{}\n# builder image\n# links{links}\n", self.source_text);
        if !extra.is_empty() {
            // Part of the cache key: another set of packages, another image.
            builder
                .source_text
                .push_str(&format!("# with {}\n", extra.join(" ")));
        }
        Ok(builder)
    }

    pub fn shipped_keys(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        SHIPPED_KEYS
            .iter()
            .copied()
            .filter(|(name, _)| self.keys.iter().any(|k| k == name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_recipes_parse() {
        for (name, _) in BUILTIN_RECIPES {
            let r = Recipe::load(name).unwrap();
            assert_eq!(&r.name, name);
            assert_eq!(r.shipped_keys().count(), r.keys.len());
            assert!(r.shipped_keys().count() >= 2);
            assert!(
                r.rootfs
                    .dirs
                    .iter()
                    .any(|d| d.path == "tmp" && d.mode == 0o1777)
            );
            assert!(
                r.rootfs
                    .files
                    .iter()
                    .any(|f| f.path == "etc/passwd" && f.content.contains(":65532:"))
            );
        }
        let err = Recipe::load("debian99").unwrap_err().to_string();
        assert!(err.contains("debian12"), "{err}");
        assert!(Recipe::parse("name = 1", "x").is_err());
    }
}
