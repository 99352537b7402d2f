//! What a build is asked: the app, the overrides, the base's and the
//! builder's settings; and the lock request it makes of them.

use super::report::LayerReport;
use crate::base::BaseOptions;
use crate::builder::smoke::Observed;
use crate::cache::Cache;
use crate::index::IndexSettings;
use crate::platform::Platform;
use crate::project::plan::Overrides;
use crate::python::Target;
use crate::registry::Reference;
use crate::resolve::BinaryPolicy;
use crate::resolve::app::LockRequest;
use std::path::{Path, PathBuf};

/// Where the venv lives in the image, and the app.
pub const APP_DIR: &str = "/app";

pub const VENV_DIR: &str = "/app/.venv";

pub(super) const NONROOT: &str = "65532:65532";

/// Manifest annotations: the number of layers that are the base's, its
/// interpreter (`/usr/bin/python3.11 3.11.2`) and its C library (`glibc 2.36`).
pub const BASE_LAYERS_ANNOTATION: &str = "io.pypack.base.layers";

pub const BASE_PYTHON_ANNOTATION: &str = "io.pypack.base.python";

pub const BASE_LIBC_ANNOTATION: &str = "io.pypack.base.libc";

#[derive(Clone)]
pub struct BuildRequest<'a> {
    pub app_dir: &'a Path,
    pub overrides: Overrides,
    /// Base settings; `recipe` of the plan is used with them.
    pub base: BaseOptions,
    pub index: IndexSettings,
    pub pre: bool,
    pub extras: Vec<String>,
    /// PEP 735 / Poetry / Pipfile dependency groups to include (`--group`).
    pub groups: Vec<String>,
    pub locked: bool,
    /// Resolve afresh even when another tool's lock file fits (`--relock`).
    pub relock: bool,
    /// A production server to add to the requirements (`--server`;
    /// `none`: keep the framework's own when no server is installed).
    pub server: Option<String>,
    pub as_root: bool,
    /// A registry image to build on instead of a recipe's base, and whether
    /// to speak plain HTTP to its (loopback) registry.
    pub base_image: Option<(crate::registry::Reference, bool)>,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub home: Option<PathBuf>,
    pub steps: BuilderSteps,
    /// Library names the native library audit treats as present
    /// (`--ignore-missing-library`: files that are never loaded).
    pub ignore_missing_libraries: Vec<String>,
    /// Also make the debug variant: the image plus a busybox shell (`--debug`).
    pub debug: bool,
    /// Print the plan's warnings (a build for several platforms says them once).
    pub plan_warnings: bool,
    /// The build steps' layers of this machine's image of the same app, for
    /// an image of another platform, which cannot run here (static files do
    /// not depend on the CPU). Set by [`build_platforms`].
    pub host_steps: Option<(Platform, Vec<LayerReport>)>,
    /// What the smoke run of this machine's image of the same app saw
    /// (its port, its writes), for an image of another platform, which
    /// cannot run here (set by [`build_platforms`]), or of an earlier build
    /// of the app (see [`BuildRequest::following`]).
    pub host_smoke: Option<Observed>,
}

impl BuildRequest<'_> {
    /// With `seen` (what an earlier smoke run of the same app saw), the
    /// image follows it and is not run: `pypack run --watch` rebuilds so,
    /// as the container it serves next is the check.
    pub fn following(mut self, seen: Option<&Observed>) -> Self {
        if let Some(seen) = seen {
            self.host_smoke = Some(seen.clone());
            self.steps.smoke = Some(false);
        }
        self
    }
}

/// What the builder does for this build.
#[derive(Debug, Clone)]
pub struct BuilderSteps {
    /// Compile `.pyc` for the stdlib, the venv and the app (`--no-compile` clears it).
    pub compile: bool,
    /// Run the image once: `Some(true)` must, `Some(false)` must not,
    /// `None` when an engine is present.
    pub smoke: Option<bool>,
    /// The engine to use (default: podman, else docker).
    pub engine: Option<String>,
    /// `--only-binary` / `--no-binary`.
    pub binary: BinaryPolicy,
    /// The image sdists are built in when the base is a registry image.
    pub builder_image: Option<Reference>,
    /// `NAME=VALUE` settings for the smoke run only.
    pub smoke_env: Vec<String>,
    /// The image goes into the engine once built: a smoke run that does
    /// not need the engine loads it meanwhile.
    pub loads: bool,
}

impl Default for BuilderSteps {
    fn default() -> Self {
        BuilderSteps {
            compile: true,
            smoke: None,
            engine: None,
            binary: BinaryPolicy::default(),
            builder_image: None,
            smoke_env: Vec::new(),
            loads: false,
        }
    }
}

/// The requirements as the app declares them (with the files they were
/// read from), `--server`'s added.
pub(super) type Declared = (crate::project::RequirementSet, Vec<PathBuf>);

impl BuildRequest<'_> {
    /// The lock request for `target`, carrying the declared requirements
    /// (the sdist builder is added once it is known).
    pub(super) fn lock_request<'b>(
        &'b self,
        target: Target,
        declared: Declared,
        cache: &'b Cache,
    ) -> LockRequest<'b> {
        LockRequest {
            app_dir: self.app_dir,
            target,
            flags: self.index.clone(),
            pre: self.pre,
            extras: self.extras.clone(),
            groups: self.groups.clone(),
            env: self.env,
            home: self.home.clone(),
            binary: self.steps.binary.clone(),
            sdists: None,
            parsed: declared.into(),
            cache: Some(cache),
            relock: self.relock,
            added: self
                .server
                .clone()
                .into_iter()
                .filter(|s| s != "none")
                .collect(),
        }
    }
}
