//! Source distributions built into wheels (PEP 517) inside the builder
//! image, for the target's own interpreter and C library. pypack resolves
//! and installs the build requirements itself (wheels only, for the target),
//! mounts them in, and runs a small frontend script that calls the backend.
//! The container has no network: everything it uses was put there. Built
//! wheels are cached by the sdist's sha256 and the target.

use super::engine::{Engine, Step, tail};
use crate::base::{BaseOptions, BuiltBase, Recipe};
use crate::cache::Cache;
use crate::http::Http;
use crate::index::sdist::top_level_file;
use crate::index::{BuiltWheel, DistFile, Index, IndexConfig, SdistBuilder};
use crate::install::install_resolution;
use crate::oci::layer::{Entry, EntryKind};
use crate::project::SourcedRequirement;
use crate::python::Target;
use crate::registry::Reference;
use crate::resolve::app::{LockRequest, build_index_config, client_for};
use crate::resolve::{BinaryPolicy, ResolveInput, resolve};
use crate::wheel::Venv;
use anyhow::{Context, Result, anyhow, bail};
use std::path::Path;
use std::sync::Mutex;

const SCRIPT: &str = include_str!("../../templates/builder/pep517.py");
/// Bumped when the way wheels are built changes (so cached ones are not reused).
const BUILD_FORMAT: u32 = 1;
/// Where the build requirements are mounted in the builder.
const ENV_DIR: &str = "/pypack/env";
/// The script's exit status for "install these too and run me again".
const NEEDS_MORE: i32 = 3;

/// Where the builder image comes from.
pub enum BuilderImage {
    /// A recipe's builder image, built from Debian packages like the base.
    Recipe(Box<Recipe>, Box<BaseOptions>),
    /// A registry image (`--builder-image`, or the full image of a slim base).
    Registry {
        reference: Reference,
        plain_http: bool,
    },
    /// None is known; the text says what to do.
    Missing(String),
}

pub struct SourceBuilder<'a> {
    /// `None` when no engine is installed: every build is then a clear error.
    engine: Option<&'a Engine>,
    cache: &'a Cache,
    /// A client with the credentials of the app's indexes.
    http: Http,
    /// The indexes build requirements are resolved from (the app's).
    index_config: IndexConfig,
    target: Target,
    image: BuilderImage,
    /// SOURCE_DATE_EPOCH for the backend, so built wheels are reproducible.
    epoch: u64,
    verbose: bool,
    /// Debian packages every build of the app's sdists gets
    /// (`[tool.pypack] build-packages`).
    app_build_packages: Vec<String>,
    /// The builder images made and loaded so far, by the extra Debian
    /// packages they hold (made at the first sdist that needs each).
    ready: Mutex<std::collections::BTreeMap<Vec<String>, BuiltBase>>,
}

impl<'a> SourceBuilder<'a> {
    /// A builder for the app of `request`: its target, and its indexes for
    /// the build requirements (with no index configured, a build
    /// requirement is "not found" when, and only if, something needs building).
    pub fn for_app(
        engine: Option<&'a Engine>,
        cache: &'a Cache,
        request: &LockRequest,
        image: BuilderImage,
        epoch: u64,
        verbose: bool,
    ) -> Result<SourceBuilder<'a>> {
        Self::with_build_packages(engine, cache, request, image, epoch, verbose, Vec::new())
    }

    /// [`SourceBuilder::for_app`], every build also getting `build_packages`
    /// (Debian packages, `[tool.pypack] build-packages`).
    pub fn with_build_packages(
        engine: Option<&'a Engine>,
        cache: &'a Cache,
        request: &LockRequest,
        image: BuilderImage,
        epoch: u64,
        verbose: bool,
        build_packages: Vec<String>,
    ) -> Result<SourceBuilder<'a>> {
        let index_config = build_index_config(request).unwrap_or_default();
        let http = client_for(&index_config, request)?;
        Ok(SourceBuilder {
            engine,
            cache,
            http,
            index_config,
            target: request.target.clone(),
            image,
            epoch,
            verbose,
            app_build_packages: build_packages,
            ready: Mutex::new(Default::default()),
        })
    }
}

impl SourceBuilder<'_> {
    /// A source tree (relative path, bytes, mode) packed as the sdist of
    /// `name` `version`, kept in the cache, and built into a wheel like any
    /// sdist (cached by that sdist's hash: the same tree is built once).
    pub fn build_tree(
        &self,
        name: &str,
        version: &str,
        files: &[(String, Vec<u8>, u32)],
    ) -> Result<BuiltWheel> {
        let (filename, bytes) = pack_tree(name, version, files)?;
        let hex = self.cache.put_bytes(&bytes)?;
        let sdist = DistFile {
            filename,
            url: format!("file://{}", self.cache.blob_path(&hex).display()),
            sha256: Some(hex.clone()),
            requires_python: None,
            yanked: false,
            metadata: None,
            size: Some(bytes.len() as u64),
        };
        self.build_wheel(&sdist, &hex)
    }
}

impl SdistBuilder for SourceBuilder<'_> {
    fn build_wheel(&self, sdist: &DistFile, sdist_sha256: &str) -> Result<BuiltWheel> {
        let (extra, why) = self.build_packages_for(sdist)?;
        let mut key = format!(
            "pypack built wheel format {BUILD_FORMAT}\nsdist {sdist_sha256}\ntarget {}\nepoch {}\n",
            self.target, self.epoch
        );
        if !extra.is_empty() {
            key.push_str(&format!("with {}\n", extra.join(" ")));
        }
        if let Some(wheel) = cached_wheel(self.cache, &key) {
            return Ok(wheel);
        }
        let Some(engine) = self.engine else {
            bail!(
                "{} is a source distribution (no wheel of it fits {}), and building it needs podman or docker, which are not installed (or not running). Install one, or provide a wheel (--find-links DIR), or pass --only-binary :all: to see which versions have wheels",
                sdist.filename,
                self.target
            );
        };
        // Two threads installing and resolving may want the same wheel.
        let _lock = self.cache.lock(&key)?;
        if let Some(wheel) = cached_wheel(self.cache, &key) {
            return Ok(wheel);
        }
        let _progress = crate::progress::Progress::start(
            &format!("building {}", sdist.filename),
            0,
            self.verbose,
        );
        if let Some(why) = &why {
            eprintln!(
                "note: building {} with Debian's {} in the builder ({why})",
                sdist.filename,
                extra.join(", ")
            );
        }
        let wheel = self
            .build(engine, sdist, sdist_sha256, &extra)
            .context(SourceBuildFailed(sdist.filename.clone()))?;
        let record = serde_json::json!({"filename": wheel.filename, "sha256": wheel.sha256});
        self.cache
            .set_ref("built-wheel", &key, &record.to_string())?;
        Ok(wheel)
    }
}

/// A source distribution that did not build into a wheel (its file name),
/// so that the build can say first what that means for the app.
#[derive(Debug)]
pub struct SourceBuildFailed(pub String);

impl std::fmt::Display for SourceBuildFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "building {} into a wheel", self.0)
    }
}

/// The sdist file whose build `error` says failed, if it says so: by type,
/// or by its words where the error crossed threads as text (the
/// resolver's metadata of an sdist is shared so).
pub fn failed_source_build(error: &anyhow::Error) -> Option<String> {
    if let Some(failed) = error.downcast_ref::<SourceBuildFailed>() {
        return Some(failed.0.clone());
    }
    error.chain().find_map(|cause| {
        let text = cause.to_string();
        let (_, rest) = text.split_once("building ")?;
        let (file, _) = rest.split_once(" into a wheel")?;
        (!file.contains(' ')).then(|| file.to_string())
    })
}

fn cached_wheel(cache: &Cache, key: &str) -> Option<BuiltWheel> {
    let v: serde_json::Value = serde_json::from_str(&cache.get_ref("built-wheel", key)?).ok()?;
    let wheel = BuiltWheel {
        filename: v["filename"].as_str()?.to_string(),
        sha256: v["sha256"].as_str()?.to_string(),
    };
    cache.has_blob(&wheel.sha256).then_some(wheel)
}

/// `[build-system]` of an sdist's pyproject.toml, with PEP 517's defaults
/// for a project that has none (setuptools, its legacy backend).
struct BuildSystem {
    requires: Vec<String>,
    backend: String,
    backend_path: Vec<String>,
}

fn build_system(sdist_path: &Path, filename: &str) -> Result<BuildSystem> {
    let legacy = BuildSystem {
        requires: vec!["setuptools>=40.8.0".into()],
        backend: "setuptools.build_meta:__legacy__".into(),
        backend_path: Vec::new(),
    };
    let Some(data) = top_level_file(sdist_path, filename, "pyproject.toml")? else {
        return Ok(legacy);
    };
    let text = String::from_utf8_lossy(&data);
    let doc: toml::Table =
        toml::from_str(&text).with_context(|| format!("{filename}: pyproject.toml"))?;
    let Some(system) = doc.get("build-system").and_then(|v| v.as_table()) else {
        return Ok(legacy);
    };
    let strings = |key: &str| -> Result<Option<Vec<String>>> {
        let Some(value) = system.get(key) else {
            return Ok(None);
        };
        let list = value
            .as_array()
            .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect())
            .ok_or_else(|| anyhow!("{filename}: [build-system] {key} must be a list of strings"))?;
        Ok(Some(list))
    };
    Ok(BuildSystem {
        requires: strings("requires")?.unwrap_or(legacy.requires),
        backend: match system.get("build-backend") {
            Some(v) => v
                .as_str()
                .ok_or_else(|| anyhow!("{filename}: build-backend must be a string"))?
                .to_string(),
            None => legacy.backend,
        },
        backend_path: strings("backend-path")?.unwrap_or_default(),
    })
}

impl SourceBuilder<'_> {
    /// The Debian packages the build of `sdist` gets besides the builder's
    /// own (the table's for its project, the app's), sorted, and why.
    fn build_packages_for(&self, sdist: &DistFile) -> Result<(Vec<String>, Option<String>)> {
        let mut extra = self.app_build_packages.clone();
        let mut why = (!extra.is_empty()).then(|| "[tool.pypack] build-packages".to_string());
        let project = crate::index::file_project(&sdist.filename).unwrap_or_default();
        if matches!(self.image, BuilderImage::Recipe(..))
            && let Some((packages, because)) = super::build_deps::for_project(&project)?
        {
            extra.extend(packages);
            why = Some(match why {
                Some(app) => format!("{because}; and {app}"),
                None => because,
            });
        }
        extra.sort();
        extra.dedup();
        Ok((extra, why))
    }

    fn build(
        &self,
        engine: &Engine,
        sdist: &DistFile,
        sdist_sha256: &str,
        extra: &[String],
    ) -> Result<BuiltWheel> {
        let sdist_path = self.cache.blob_path(sdist_sha256);
        let system = build_system(&sdist_path, &sdist.filename)?;
        let builder = self.builder_image(engine, extra)?;
        let mut requires = system.requires.clone();
        // What the backend asked for whose markers exclude the target (an
        // extra's dependencies, another Python's): the script does not wait for them.
        let mut not_for_target: Vec<String> = Vec::new();
        for _attempt in 0..3 {
            let work = tempfile::tempdir_in(self.cache.root().join("tmp"))?;
            let (env, out) = (work.path().join("env"), work.path().join("out"));
            std::fs::create_dir_all(&out)?;
            std::fs::create_dir_all(&env)?;
            std::fs::write(work.path().join("pep517.py"), SCRIPT)?;
            let venv = self.build_env(&builder, &requires, &sdist.filename, &env)?;
            let step = Step {
                image: builder.image.config_digest.clone(),
                argv: vec![
                    builder.python_executable.clone(),
                    "-s".into(),
                    "/pypack/pep517.py".into(),
                    format!("/pypack/sdist/{}", sdist.filename),
                    system.backend.clone(),
                    serde_json::to_string(&system.backend_path)?,
                    "/pypack/out".into(),
                ],
                env: vec![
                    ("PYTHONPATH".into(), format!("/{}", venv.site_packages())),
                    ("SOURCE_DATE_EPOCH".into(), self.epoch.to_string()),
                    ("PYTHONHASHSEED".into(), "0".into()),
                    ("HOME".into(), "/tmp".into()),
                    (
                        "PYPACK_NOT_FOR_TARGET".into(),
                        serde_json::to_string(&not_for_target)?,
                    ),
                    (
                        "PATH".into(),
                        format!("{ENV_DIR}/bin:/usr/local/bin:/usr/bin:/bin"),
                    ),
                ],
                user: Some("0:0".into()),
                workdir: Some("/tmp".into()),
                ..Step::default()
            }
            .mount(&work.path().join("pep517.py"), "/pypack/pep517.py", false)
            .mount(
                &sdist_path,
                &format!("/pypack/sdist/{}", sdist.filename),
                false,
            )
            .mount(&env, ENV_DIR, false)
            .mount(&out, "/pypack/out", true);
            let output = engine.run(&step)?;
            if output.status.code() == Some(NEEDS_MORE) {
                let more: Vec<String> =
                    serde_json::from_slice(&std::fs::read(out.join("requires.json"))?)?;
                let (applies, excluded) = self.split_by_markers(more, &sdist.filename)?;
                let new_here = applies.iter().any(|r| !requires.contains(r))
                    || excluded.iter().any(|r| !not_for_target.contains(r));
                if !new_here {
                    bail!(
                        "the build backend {} still asks for {} after they were installed",
                        system.backend,
                        applies.join(", ")
                    );
                }
                requires.extend(applies);
                not_for_target.extend(excluded);
                continue;
            }
            if !output.status.success() {
                let host = crate::platform::Platform::host();
                if self.target.platform != host {
                    bail!(
                        "the builder image is for {} and this machine is {host}; build on a {} machine (or with emulation set up for the engine), or provide a wheel. The engine said:\n{}",
                        self.target.platform,
                        self.target.platform,
                        tail(&output, 5)
                    );
                }
                let stdout = String::from_utf8_lossy(&output.stdout);
                let lines: Vec<&str> = stdout.lines().collect();
                let log = format!("{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
                bail!(
                    "the build backend {} failed in the builder:\n{}\n{}{}",
                    system.backend,
                    lines[lines.len().saturating_sub(20)..].join("\n"),
                    tail(&output, 30),
                    self.what_it_missed(&log, extra)
                );
            }
            return self.store_wheel(&out, sdist);
        }
        bail!(
            "the build backend {} kept asking for more build requirements",
            system.backend
        )
    }

    /// Splits the requirements a backend asked for (`get_requires_for_build_wheel`)
    /// into those whose markers hold for the target, with no extra (as pip
    /// reads them), and the rest. flit_core, for one, answers with every
    /// `Requires-Dist` of the project, the extras' too.
    fn split_by_markers(
        &self,
        asked: Vec<String>,
        filename: &str,
    ) -> Result<(Vec<String>, Vec<String>)> {
        let env = self.target.marker_environment();
        let mut applies = Vec::new();
        let mut excluded = Vec::new();
        for text in asked {
            let requirement = crate::python::parse_requirement(&text).map_err(|e| {
                anyhow!("{filename}: the build backend asked for '{text}', which is not a requirement: {e}")
            })?;
            if requirement.marker.evaluate(&env, &[]) {
                applies.push(text);
            } else {
                excluded.push(text);
            }
        }
        Ok((applies, excluded))
    }

    /// The line that ends a failed build whose log says it missed a file:
    /// the Debian package that ships it and how to add it (empty when the
    /// log says nothing known, or no package of the suites ships it).
    fn what_it_missed(&self, log: &str, extra: &[String]) -> String {
        let Some(missing) = super::missing::in_log(log) else {
            return String::new();
        };
        let BuilderImage::Recipe(recipe, options) = &self.image else {
            return format!(
                "\nthe build needs {}, which the builder image lacks: pass a --builder-image that has it",
                missing.describe()
            );
        };
        let found = crate::base::packages_shipping(
            recipe,
            options,
            self.cache,
            &missing.question(),
            &|path| missing.is(path),
        );
        let mut packages: Vec<String> = match found {
            Ok(rows) => rows.into_iter().map(|(_, package)| package).collect(),
            Err(_) => Vec::new(),
        };
        // The likeliest first: one named for it (libssl-dev for openssl/ssl.h), the shortest.
        let stem = missing.stem();
        packages.sort_by_key(|p| (!p.contains(&stem), p.len(), p.clone()));
        packages.dedup();
        packages.retain(|p| !extra.contains(p));
        match packages.first() {
            Some(package) => format!(
                "\nthe build needs {}, which Debian's {} ships: add it to the builder with [tool.pypack] build-packages = [\"{package}\"] in pyproject.toml",
                missing.describe(),
                packages.join(" or ")
            ),
            None => format!(
                "\nthe build needs {}, which no package of the base's Debian suites ships",
                missing.describe()
            ),
        }
    }

    /// The one `.whl` the backend wrote, checked to be the sdist's project, in the cache.
    fn store_wheel(&self, out: &Path, sdist: &DistFile) -> Result<BuiltWheel> {
        let wheels: Vec<String> = std::fs::read_dir(out)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".whl"))
            .collect();
        let [filename] = wheels.as_slice() else {
            bail!("the backend wrote {} wheels, not one", wheels.len());
        };
        let wheel = crate::python::WheelFilename::parse(filename)?;
        let project = crate::index::file_project(&sdist.filename).unwrap_or_default();
        if crate::index::normalize_name(&wheel.name) != crate::index::normalize_name(&project) {
            bail!(
                "{} built a wheel of another project: {filename}",
                sdist.filename
            );
        }
        // The backend ran someone's code: what it left is opened only when
        // it is a regular file (a FIFO would block).
        let meta = std::fs::symlink_metadata(out.join(filename))?;
        if !meta.is_file() {
            bail!(
                "the backend wrote {filename} as {}, not a regular file",
                crate::walk::kind_of(&meta)
            );
        }
        let file = std::fs::File::open(out.join(filename))?;
        let sha256 = crate::cache::store_reader(
            self.cache,
            file,
            None,
            crate::http::MAX_UNDECLARED_DOWNLOAD_BYTES,
        )?;
        Ok(BuiltWheel {
            filename: filename.clone(),
            sha256,
        })
    }

    /// The builder image, made (or pulled) and loaded into the engine once.
    fn builder_image(&self, engine: &Engine, extra: &[String]) -> Result<BuiltBase> {
        let mut ready = self.ready.lock().unwrap();
        if let Some(built) = ready.get(extra) {
            return Ok(built.clone());
        }
        let built = match &self.image {
            BuilderImage::Recipe(recipe, options) => {
                let recipe = recipe.builder_recipe_with(extra)?;
                crate::base::build(&recipe, options, self.cache, &self.http).with_context(|| {
                    match extra.is_empty() {
                        true => "making the builder image".to_string(),
                        false => format!("making the builder image with {}", extra.join(", ")),
                    }
                })?
            }
            BuilderImage::Registry {
                reference,
                plain_http,
            } => crate::base::pulled::pull_base(
                reference,
                *plain_http,
                self.target.platform,
                self.cache,
            )
            .with_context(|| format!("pulling the builder image {reference}"))?,
            BuilderImage::Missing(why) => bail!("{why}"),
        };
        let built_for = built.target()?;
        if built_for.python_version() != self.target.python_version() {
            bail!(
                "the builder image has Python {}, but the image runs {}; pass a matching --builder-image",
                built_for.python_version(),
                self.target.python_version()
            );
        }
        engine.ensure_image(self.cache, &built.image, super::engine::BUILDER_IMAGES)?;
        ready.insert(extra.to_vec(), built.clone());
        Ok(built)
    }

    /// Resolves `requires` for the target (wheels only: a build requirement
    /// that itself needs building is refused) and writes their venv tree
    /// into `dir`, to be mounted at ENV_DIR.
    fn build_env(
        &self,
        builder: &BuiltBase,
        requires: &[String],
        filename: &str,
        dir: &Path,
    ) -> Result<Venv> {
        let venv = Venv {
            path: ENV_DIR.into(),
            base_python: builder.python_executable.clone(),
            python_version: self.target.python_version(),
            python_full_version: self.target.python_full_version(),
        };
        let requirements = requires
            .iter()
            .map(|r| {
                Ok(SourcedRequirement {
                    requirement: crate::python::parse_requirement(r)
                        .map_err(|e| anyhow!("{filename}: build requirement '{r}': {e}"))?,
                    hashes: Vec::new(),
                    origin: format!("{filename} [build-system] requires"),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut binary = BinaryPolicy::default();
        binary.apply(":all:", true)?;
        let input = ResolveInput {
            requirements,
            binary,
            ..ResolveInput::default()
        };
        let index = Index::new(&self.http, self.cache, self.index_config.clone());
        let resolution = resolve(&index, &self.target, &input)
            .with_context(|| format!("resolving the build requirements of {filename}"))?;
        let entries = install_resolution(&index, &resolution.pins, &venv, false)?;
        let prefix = ENV_DIR.trim_start_matches('/');
        for entry in &entries {
            let Some(rel) = entry.path.strip_prefix(prefix) else {
                continue;
            };
            write_entry(&dir.join(rel.trim_start_matches('/')), entry)?;
        }
        Ok(venv)
    }
}

pub use crate::index::directory::pack_tree;

/// Puts one layer entry on disk (the build env is mounted, not layered).
fn write_entry(path: &Path, entry: &Entry) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match &entry.kind {
        EntryKind::Dir => std::fs::create_dir_all(path)?,
        EntryKind::File(_) | EntryKind::OnDisk { .. } | EntryKind::Part(_) => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            match &entry.kind {
                EntryKind::OnDisk { path: from, .. } => drop(std::fs::copy(from, path)?),
                _ => std::fs::write(path, entry.content()?.unwrap_or_default())?,
            }
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(entry.mode))?;
        }
        EntryKind::Symlink(target) => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::os::unix::fs::symlink(target, path)?;
        }
        EntryKind::Hardlink(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_tree_is_the_same_bytes_whatever_the_order() {
        let a = ("a.py".to_string(), b"x = 1\n".to_vec(), 0o644);
        let b = ("pkg/b.py".to_string(), b"y = 2\n".to_vec(), 0o755);
        let (name, one) = pack_tree("My.App", "1.0", &[a.clone(), b.clone()]).unwrap();
        let (_, two) = pack_tree("My.App", "1.0", &[b, a]).unwrap();
        assert_eq!(name, "my_app-1.0.tar.gz");
        assert_eq!(one, two);
        assert_eq!(
            crate::index::sdist::sdist_version(&name, "my-app")
                .unwrap()
                .to_string(),
            "1.0"
        );
    }

    #[test]
    fn build_system_defaults_to_setuptools_legacy() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let (_, bytes) = pack_tree("p", "1", &[("setup.py".into(), Vec::new(), 0o644)]).unwrap();
        std::fs::write(file.path(), bytes).unwrap();
        let system = build_system(file.path(), "p-1.tar.gz").unwrap();
        assert_eq!(system.backend, "setuptools.build_meta:__legacy__");
        assert_eq!(system.requires, ["setuptools>=40.8.0"]);
    }
}
