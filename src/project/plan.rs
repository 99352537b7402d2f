//! Detecting how to run an app: which base (Python version), which command,
//! which port, and which files to ship. Every choice can be set by flag or by
//! `[tool.pypack]`, and the plan records which rule decided it.

use super::decided::Decided;
use super::pyproject::Pyproject;
use super::python_version::{BaseChoice, Explicit, choose_base};
use crate::glob;
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Choices given on the command line; they win over everything.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub python: Option<String>,
    pub recipe: Option<String>,
    /// The command as one string, split like a shell would (no expansion).
    pub cmd: Option<String>,
    pub port: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub app_dir: PathBuf,
    /// Image title: the project name, else the directory name.
    pub name: String,
    pub recipe: Decided<String>,
    /// Bases to try, in order, when the requirements cannot be resolved on
    /// `recipe` (only when a version hint had no exact base).
    pub recipe_fallbacks: Vec<Decided<String>>,
    /// Bases to try, in order, when `recipe`'s base cannot be had (its
    /// suite's index expired on this mirror); only for a version hint.
    pub recipe_alternatives: Vec<Decided<String>>,
    /// The Python a version hint asked for that no base has, and where
    /// (the base is then the nearest), for errors that it explains.
    pub unmet_hint: Option<(String, String)>,
    /// Things the user should know about these choices.
    pub warnings: Vec<String>,
    /// Files to ship, relative to the app dir, sorted.
    pub files: Vec<String>,
    /// The app's `pyproject.toml` (empty when it has none).
    pub pyproject: Pyproject,
    /// Why the app's own project is built into a wheel in the builder (its
    /// code needs compiling); `None`: it is installed editable-style.
    pub app_wheel: Option<String>,
    /// What flags and `[tool.pypack]` say of the start, which is decided
    /// once the packages are known (see [`super::start`]).
    pub(crate) start_settings: StartSettings,
}

/// The settings the start is decided with: flags over `[tool.pypack]`.
#[derive(Debug, Clone)]
pub(crate) struct StartSettings {
    pub(crate) overrides: Overrides,
    pub(crate) tool: Tool,
}

impl Plan {
    /// Debian packages every source build of the app gets in the builder
    /// (`[tool.pypack] build-packages`).
    pub fn build_packages(&self) -> &[String] {
        &self.start_settings.tool.build_packages
    }
}

/// Decides the plan: base, files, name; the command and port wait for the
/// packages ([`super::start::start`]).
pub fn plan(app_dir: &Path, overrides: &Overrides) -> Result<Plan> {
    let pyproject_path = app_dir.join("pyproject.toml");
    let pyproject = read_project(app_dir, &pyproject_path)?;
    let app_wheel = needs_compiling(app_dir, &pyproject);
    let tool = Tool::read(&pyproject, &pyproject_path)?;
    let name = pyproject.name.clone().unwrap_or_else(|| {
        app_dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or("app".into())
    });
    let base = choose_recipe(app_dir, overrides, &tool, &pyproject)?;
    let mut warnings: Vec<String> = base.warning.into_iter().collect();
    let (files, secrets, special) = app_files(app_dir, &tool.exclude, &tool.include)?;
    if !special.is_empty() {
        warnings.push(format!(
            "skipped, as an image holds only regular files, directories and symlinks: {}",
            special.join(", ")
        ));
    }
    if !secrets.is_empty() {
        warnings.push(format!(
            "left out of the image as secrets or local data: {} (put one back with a `!NAME` line in .dockerignore or [tool.pypack] include = [\"NAME\"])",
            secrets.join(", ")
        ));
    }
    warnings.extend(many_files_warning(&files));
    Ok(Plan {
        app_dir: app_dir.to_path_buf(),
        name,
        recipe: base.recipe,
        recipe_fallbacks: base.fallbacks,
        recipe_alternatives: base.alternatives,
        unmet_hint: base.unmet_hint,
        warnings,
        files,
        pyproject,
        app_wheel,
        start_settings: StartSettings {
            overrides: overrides.clone(),
            tool,
        },
    })
}

/// The app's `pyproject.toml` (empty when it has none), with a project
/// declared in `setup.cfg` / `setup.py` filling what it does not say (name,
/// version, requires-python, entry points): such a project is installed
/// like a `[project]`.
fn read_project(app_dir: &Path, pyproject_path: &Path) -> Result<Pyproject> {
    let mut pyproject = if pyproject_path.is_file() {
        super::pyproject::read(pyproject_path)?
    } else {
        Pyproject::default()
    };
    if pyproject.name.is_some() {
        return Ok(pyproject);
    }
    let Some(setup) = super::setuptools::read(app_dir)? else {
        return Ok(pyproject);
    };
    pyproject.name = setup.name.or_else(|| {
        // Nameless (computed in setup.py): the directory's, as a last resort.
        app_dir
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
    });
    pyproject.version = setup.version;
    if pyproject.requires_python.is_none() {
        pyproject.requires_python = setup.python_requires;
    }
    pyproject.scripts = setup
        .entry_points
        .get("console_scripts")
        .map(|e| e.iter().map(|(n, _)| n.clone()).collect())
        .unwrap_or_default();
    pyproject.entry_points = setup.entry_points;
    Ok(pyproject)
}

/// Build backends that compile code: their projects are built in the builder.
const COMPILING_BACKENDS: &[&str] = &[
    "maturin",
    "scikit_build_core",
    "mesonpy",
    "pdm.backend.build_ext",
];

/// Why the app's `[project]` must be built rather than installed
/// editable-style: a build backend that compiles, or a setuptools
/// `setup.py` declaring C extensions.
fn needs_compiling(app_dir: &Path, project: &Pyproject) -> Option<String> {
    project.name.as_ref()?;
    if let Some(backend) = &project.build_backend
        && COMPILING_BACKENDS.iter().any(|b| backend.starts_with(b))
    {
        return Some(format!("its build backend {backend} compiles code"));
    }
    let setup = super::text::text_if_regular(&app_dir.join("setup.py"))?;
    setup
        .contains("ext_modules")
        .then(|| "its setup.py declares ext_modules, which compile code".to_string())
}

/// The base recipe alone (for `pypack lock`, which needs no entrypoint).
pub fn recipe_for(app_dir: &Path, overrides: &Overrides) -> Result<BaseChoice> {
    let pyproject_path = app_dir.join("pyproject.toml");
    let pyproject = read_project(app_dir, &pyproject_path)?;
    let tool = Tool::read(&pyproject, &pyproject_path)?;
    choose_recipe(app_dir, overrides, &tool, &pyproject)
}

/// A command as written: one line (split like a shell would, chains run by
/// the launcher) or a list of arguments.
#[derive(Debug, Clone)]
pub(crate) enum CmdSpec {
    Text(String),
    Argv(Vec<String>),
}

/// `[tool.pypack]`: python, recipe, cmd, port, exclude, include,
/// writable, read-only.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tool {
    python: Option<String>,
    recipe: Option<String>,
    pub(crate) cmd: Option<CmdSpec>,
    pub(crate) port: Option<u16>,
    exclude: Vec<String>,
    /// Globs shipped even when a default rule (secrets) leaves them out.
    include: Vec<String>,
    /// Directories the app writes to.
    pub(crate) writable: Vec<String>,
    /// Refuse to make what the app writes writable (`read-only = true`).
    pub(crate) read_only: bool,
    /// Debian packages the builder gets for every sdist build.
    build_packages: Vec<String>,
    /// Process types besides `web` (`processes = { worker = "..." }`),
    /// each checked as a command line.
    pub(crate) processes: BTreeMap<String, String>,
}

impl Tool {
    fn read(pyproject: &Pyproject, path: &Path) -> Result<Tool> {
        let Some(table) = &pyproject.tool_pypack else {
            return Ok(Tool::default());
        };
        let at = |key: &str| format!("{} [tool.pypack] {key}", path.display());
        let string = |key: &str| -> Result<Option<String>> {
            match table.get(key) {
                None => Ok(None),
                Some(v) => Ok(Some(
                    v.as_str()
                        .with_context(|| format!("{} must be a string", at(key)))?
                        .to_string(),
                )),
            }
        };
        let known = [
            "python",
            "recipe",
            "cmd",
            "port",
            "exclude",
            "include",
            "writable",
            "read-only",
            "build-packages",
            "processes",
        ];
        if let Some(unknown) = table.keys().find(|k| !known.contains(&k.as_str())) {
            bail!(
                "{}: unknown key '{unknown}' (known: {})",
                at(unknown),
                known.join(", ")
            );
        }
        let cmd = match table.get("cmd") {
            None => None,
            Some(toml::Value::String(s)) => {
                crate::project::chain::parse(s).with_context(|| at("cmd"))?;
                Some(CmdSpec::Text(s.clone()))
            }
            Some(toml::Value::Array(a)) => Some(CmdSpec::Argv(
                a.iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .with_context(|| {
                        format!("{} must be a string or a list of strings", at("cmd"))
                    })?,
            )),
            Some(_) => bail!("{} must be a string or a list of strings", at("cmd")),
        };
        let port = match table.get("port") {
            None => None,
            Some(toml::Value::Integer(p)) => Some(
                u16::try_from(*p)
                    .ok()
                    .filter(|p| *p > 0)
                    .with_context(|| format!("{} must be 1-65535", at("port")))?,
            ),
            Some(_) => bail!("{} must be a number", at("port")),
        };
        let globs = |key: &str| -> Result<Vec<String>> {
            match table.get(key) {
                None => Ok(Vec::new()),
                Some(v) => v
                    .as_array()
                    .and_then(|a| {
                        a.iter()
                            .map(|v| v.as_str().map(str::to_string))
                            .collect::<Option<Vec<_>>>()
                    })
                    .with_context(|| format!("{} must be a list of glob strings", at(key))),
            }
        };
        let processes = match table.get("processes") {
            None => BTreeMap::new(),
            Some(toml::Value::Table(t)) => {
                let mut processes = BTreeMap::new();
                for (name, command) in t {
                    let at = at(&format!("processes.{name}"));
                    let command = command
                        .as_str()
                        .with_context(|| format!("{at} must be a command line (a string)"))?;
                    check_process_name(name).with_context(|| at.clone())?;
                    crate::project::chain::parse(command).with_context(|| at.clone())?;
                    processes.insert(name.clone(), command.to_string());
                }
                processes
            }
            Some(_) => bail!(
                "{} must be a table of process names and command lines, e.g. {{ worker = \"celery -A app worker\" }}",
                at("processes")
            ),
        };
        Ok(Tool {
            python: string("python")?,
            recipe: string("recipe")?,
            cmd,
            port,
            exclude: globs("exclude")?,
            include: globs("include")?,
            writable: globs("writable")?,
            build_packages: globs("build-packages")?,
            read_only: match table.get("read-only") {
                None => false,
                Some(toml::Value::Boolean(b)) => *b,
                Some(_) => bail!("{} must be true or false", at("read-only")),
            },
            processes,
        })
    }
}

/// A process type's name is a program name in the image (`podman run
/// IMAGE worker`): letters, digits, `-` and `_`; `web` is the command itself.
pub(crate) fn check_process_name(name: &str) -> Result<()> {
    if name == "web" {
        bail!("`web` is the image's own command: set it with cmd (or a Procfile web: line)");
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if name.is_empty() || name.starts_with('-') || !name.chars().all(plain) {
        bail!("'{name}' is not a process name (letters, digits, '-' and '_')");
    }
    Ok(())
}

fn choose_recipe(
    app_dir: &Path,
    overrides: &Overrides,
    tool: &Tool,
    pyproject: &Pyproject,
) -> Result<BaseChoice> {
    let explicit = [
        Explicit {
            recipe: overrides.recipe.as_deref().map(|r| (r, "--recipe")),
            python: overrides.python.as_deref().map(|v| (v, "--python")),
        },
        Explicit {
            recipe: tool.recipe.as_deref().map(|r| (r, "[tool.pypack] recipe")),
            python: tool.python.as_deref().map(|v| (v, "[tool.pypack] python")),
        },
    ];
    choose_base(app_dir, &explicit, pyproject)
}

/// Always left out of the image.
const ALWAYS_EXCLUDED: &[&str] = &[
    ".venv/**",
    "**/__pycache__/**",
    ".git/**",
    "**/*.pyc",
    ".dockerignore",
];

/// Left out unless put back: files that hold secrets or a developer's local
/// data, which an image (often pushed to a shared registry) must not carry.
const SECRETS: &[&str] = &[
    "**/.env",
    "**/.env.local",
    "**/.env.*.local",
    "**/.env.development",
    "**/.env.production",
    "**/*.pem",
    "**/*.key",
    "**/id_rsa*",
    "**/id_ecdsa*",
    "**/id_ed25519*",
    "**/.git-credentials",
    "**/.netrc",
    "**/.pypirc",
    "**/*.sqlite3",
    "**/*.sqlite",
    "**/.streamlit/secrets.toml",
];

/// Why a file is left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Ship,
    Fixed,
    Secret,
    User,
}

/// The files to ship: everything under `app_dir` except the fixed
/// exclusions, secrets and local data (unless put back), `.dockerignore`
/// (Docker's syntax, `!` re-includes) and `exclude` globs; `include` globs
/// put files back. Also returns the secret-like files left out, and the
/// special files skipped (FIFOs, sockets, devices: never opened), each
/// with what it is.
pub fn app_files(
    app_dir: &Path,
    exclude: &[String],
    include: &[String],
) -> Result<(Vec<String>, Vec<String>, Vec<String>)> {
    let rules = file_rules(app_dir, exclude, include)?;
    let rule_for = |rel: &str| {
        let mut decided = Rule::Ship;
        for (matcher, rule) in &rules {
            if matcher.matches(rel) {
                decided = *rule;
            }
        }
        decided
    };
    // A directory a user's rule leaves out is still walked when a later
    // re-include could name something in it (`docs` then `!docs/keep.md`,
    // as Docker does); pypack's own exclusions and secrets are not.
    let reachable = |dir: &str| {
        rules
            .iter()
            .any(|(matcher, rule)| *rule == Rule::Ship && matcher.could_match_under(dir))
    };
    let mut files = Vec::new();
    let mut secrets = Vec::new();
    let mut special = Vec::new();
    crate::walk::walk_sorted(app_dir, "", &mut |_, meta, rel| {
        match rule_for(rel) {
            Rule::User if meta.is_dir() && reachable(rel) => return Ok(true),
            Rule::Fixed | Rule::User => return Ok(false),
            Rule::Secret => {
                if !meta.is_dir() {
                    secrets.push(rel.to_string());
                }
                return Ok(false);
            }
            Rule::Ship => {}
        }
        if !crate::walk::is_shippable(meta) {
            special.push(format!("{rel} ({})", crate::walk::kind_of(meta)));
            return Ok(false);
        }
        if !meta.is_dir() {
            files.push(rel.to_string());
        }
        Ok(true)
    })?;
    files.sort();
    Ok((files, secrets, special))
}

/// What decides whether a path ships: pypack's glob, or a `.dockerignore` line.
enum Matcher {
    Glob(String),
    Docker(super::dockerignore::Pattern),
}

impl Matcher {
    fn matches(&self, rel: &str) -> bool {
        match self {
            // A glob that names a directory takes what it holds.
            Matcher::Glob(pattern) => {
                glob::matches(pattern, rel) || glob::matches(&format!("{pattern}/**"), rel)
            }
            Matcher::Docker(pattern) => pattern.matches(rel),
        }
    }

    fn could_match_under(&self, dir: &str) -> bool {
        match self {
            Matcher::Glob(pattern) => glob::may_match_under(pattern, dir),
            Matcher::Docker(pattern) => pattern.could_match_under(dir),
        }
    }
}

/// The rules in the order they apply (the last that matches decides): the
/// fixed exclusions, secrets, `.dockerignore`, `[tool.pypack] exclude`,
/// then `include`.
fn file_rules(
    app_dir: &Path,
    exclude: &[String],
    include: &[String],
) -> Result<Vec<(Matcher, Rule)>> {
    let glob = |p: &str, rule| (Matcher::Glob(p.trim_matches('/').to_string()), rule);
    let mut rules: Vec<(Matcher, Rule)> = ALWAYS_EXCLUDED
        .iter()
        .map(|p| glob(p, Rule::Fixed))
        .collect();
    rules.extend(SECRETS.iter().map(|p| glob(p, Rule::Secret)));
    let dockerignore = app_dir.join(".dockerignore");
    if dockerignore.is_file() {
        let text = super::text::read_text(&dockerignore)?;
        for pattern in super::dockerignore::parse(&text, &dockerignore.display().to_string())? {
            let rule = if pattern.reinclude {
                Rule::Ship
            } else {
                Rule::User
            };
            rules.push((Matcher::Docker(pattern), rule));
        }
    }
    rules.extend(exclude.iter().map(|p| glob(p, Rule::User)));
    rules.extend(include.iter().map(|p| glob(p, Rule::Ship)));
    Ok(rules)
}

/// More app files than this earns a warning naming where most of them are.
const MANY_APP_FILES: usize = 10_000;

/// A warning when the app holds very many files, naming the top directory
/// holding most of them: usually data or a dependency tree nobody meant to ship.
fn many_files_warning(files: &[String]) -> Option<String> {
    if files.len() <= MANY_APP_FILES {
        return None;
    }
    let mut by_top: std::collections::BTreeMap<&str, usize> = Default::default();
    for file in files {
        if let Some((top, _)) = file.split_once('/') {
            *by_top.entry(top).or_default() += 1;
        }
    }
    let (top, count) = by_top.into_iter().max_by_key(|(_, n)| *n)?;
    Some(format!(
        "the app holds {} files, {count} of them under {top}/: if the image does not need them, \
         leave them out with a `{top}/` line in .dockerignore",
        files.len()
    ))
}

#[cfg(test)]
mod tests {

    #[test]
    fn very_many_files_are_named_by_the_directory_holding_most() {
        let mut files: Vec<String> = (0..10_001).map(|i| format!("data/d{i}.txt")).collect();
        files.push("app.py".into());
        let warning = super::many_files_warning(&files).unwrap();
        assert!(
            warning.contains("10002 files, 10001 of them under data/"),
            "{warning}"
        );
        assert!(super::many_files_warning(&files[..10]).is_none());
    }
    use super::*;
    use std::fs;

    use crate::project::test_app as app;

    /// The plan and the start as a build decides them with `deps`
    /// installed (`name` or `name==version`), no server added.
    #[derive(Debug)]
    struct Planned {
        plan: Plan,
        start: crate::project::start::Started,
        warnings: Vec<String>,
    }

    fn planned(dir: &Path, overrides: &Overrides, deps: &[&str]) -> Result<Planned> {
        let plan = plan(dir, overrides)?;
        let installed = crate::project::providers::Installed::of(deps);
        let names: Vec<String> = deps
            .iter()
            .map(|d| d.split("==").next().unwrap().to_string())
            .collect();
        let start = crate::project::start::start(
            &plan,
            &crate::project::start::StartInputs {
                dependencies: &names,
                installed: &installed,
                may_add_server: false,
                as_root: false,
            },
        )?;
        let warnings = plan
            .warnings
            .iter()
            .chain(&start.warnings)
            .cloned()
            .collect();
        Ok(Planned {
            plan,
            start,
            warnings,
        })
    }

    #[test]
    fn gunicorn_and_a_flask_object() {
        let dir = app(&[("app.py", "from flask import Flask\napp = Flask(__name__)\n")]);
        let p = planned(dir.path(), &Overrides::default(), &["flask", "gunicorn"]).unwrap();
        assert_eq!(
            p.start.cmd.value,
            ["gunicorn", "--bind", "0.0.0.0:8000", "app:app"]
        );
        assert!(
            p.start
                .cmd
                .rule
                .contains("Flask object app:app with gunicorn"),
            "{}",
            p.start.cmd.rule
        );
        assert_eq!(
            (p.start.port.value, p.plan.recipe.value.as_str()),
            (8000, "debian12")
        );
    }

    #[test]
    fn uvicorn_fastapi_in_a_package_and_requires_python() {
        let dir = app(&[
            (
                "pyproject.toml",
                "[project]\nname = \"api\"\nversion = \"1.2\"\nrequires-python = \">=3.12\"\ndependencies = []\n",
            ),
            ("api/__init__.py", ""),
            (
                "api/main.py",
                "import fastapi\nserver = fastapi.FastAPI(title='x')\n",
            ),
        ]);
        let p = planned(dir.path(), &Overrides::default(), &["fastapi", "uvicorn"]).unwrap();
        assert_eq!(
            p.start.cmd.value,
            [
                "uvicorn",
                "api.main:server",
                "--host",
                "0.0.0.0",
                "--port",
                "8000"
            ]
        );
        assert_eq!(p.plan.recipe.value, "debian13");
        assert_eq!(
            (p.plan.name.as_str(), p.plan.pyproject.version.as_deref()),
            ("api", Some("1.2"))
        );
    }

    #[test]
    fn app_run_port_and_python_fallback() {
        let dir = app(&[(
            "app.py",
            "from flask import Flask\napp = Flask(__name__)\nif __name__ == '__main__':\n    app.run(host='0.0.0.0', port=5000)\n",
        )]);
        let p = planned(dir.path(), &Overrides::default(), &["flask"]).unwrap();
        // No WSGI server: Flask's own, on every address, with a warning.
        assert_eq!(
            p.start.cmd.value,
            [
                "flask", "--app", "app", "run", "--host", "0.0.0.0", "--port", "5000"
            ]
        );
        assert!(p.warnings.iter().any(|w| w.contains("development server")));
        assert_eq!(p.start.port.value, 5000);
        assert_eq!(p.start.port.rule, "port= in app.py");
        let script = app(&[("main.py", "print('hello')\n")]);
        let p = planned(script.path(), &Overrides::default(), &[]).unwrap();
        assert_eq!(p.start.cmd.value, ["python", "main.py"]);
    }

    #[test]
    fn procfile_flags_and_tool_config() {
        let dir = app(&[
            (
                "Procfile",
                "release: x\nweb: gunicorn 'pkg.wsgi:make_app()' --bind 0.0.0.0:$PORT --workers 2\n",
            ),
            ("pkg/__init__.py", ""),
        ]);
        let p = planned(dir.path(), &Overrides::default(), &[]).unwrap();
        assert_eq!(
            p.start.cmd.value,
            [
                "gunicorn",
                "pkg.wsgi:make_app()",
                "--bind",
                "0.0.0.0:8000",
                "--workers",
                "2"
            ]
        );
        let over = Overrides {
            port: Some("9000".into()),
            cmd: Some("python -m pkg".into()),
            python: Some("3.13".into()),
            ..Overrides::default()
        };
        let p = planned(dir.path(), &over, &[]).unwrap();
        assert_eq!(
            (
                p.start.cmd.value.clone(),
                p.start.port.value,
                p.plan.recipe.value.as_str()
            ),
            (
                vec!["python".into(), "-m".into(), "pkg".into()],
                9000,
                "debian13"
            )
        );
        let bad = Overrides {
            port: Some("http".into()),
            ..Overrides::default()
        };
        assert!(
            planned(dir.path(), &bad, &[])
                .unwrap_err()
                .to_string()
                .contains("--port 'http' is not a port number")
        );
        let old = Overrides {
            python: Some("3.9".into()),
            ..Overrides::default()
        };
        let err = planned(dir.path(), &old, &[]).unwrap_err().to_string();
        assert!(
            err.contains("3.11 (debian12)") && err.contains("3.13 (debian13)"),
            "{err}"
        );

        let dir = app(&[
            (
                "pyproject.toml",
                "[project]\nname='x'\n[tool.pypack]\ncmd = [\"x-serve\"]\nport = 7000\nexclude = [\"docs\"]\n",
            ),
            ("docs/a.md", ""),
        ]);
        let p = planned(dir.path(), &Overrides::default(), &[]).unwrap();
        assert_eq!(
            (p.start.cmd.value.clone(), p.start.port.value),
            (vec!["x-serve".to_string()], 7000)
        );
        assert_eq!(p.plan.files, ["pyproject.toml"]);
        let dir = app(&[("pyproject.toml", "[tool.pypack]\nprot = 1\n")]);
        assert!(
            planned(dir.path(), &Overrides::default(), &[])
                .unwrap_err()
                .to_string()
                .contains("unknown key 'prot'")
        );
    }

    #[test]
    fn an_app_no_server_can_run_says_which_to_add() {
        let dir = app(&[("api.py", "from fastapi import FastAPI\napi = FastAPI()\n")]);
        let err = planned(dir.path(), &Overrides::default(), &["fastapi"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("It found FastAPI object api:api") && err.contains("--server uvicorn"),
            "{err}"
        );
    }

    #[test]
    fn no_entrypoint_is_a_clear_error() {
        let dir = app(&[("lib.py", "x = 1\n")]);
        let err = planned(dir.path(), &Overrides::default(), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no entrypoint found") && err.contains("--cmd"),
            "{err}"
        );
    }

    #[test]
    fn files_honour_dockerignore_and_fixed_exclusions() {
        let dir = app(&[
            ("app.py", ""),
            (".venv/lib/x.py", ""),
            ("pkg/__pycache__/a.cpython-311.pyc", ""),
            ("pkg/mod.py", ""),
            ("pkg/old.pyc", ""),
            (".git/HEAD", ""),
            ("notes.md", ""),
            ("README.md", ""),
            ("tests/test_app.py", ""),
            (".dockerignore", "*.md\n!README.md\ntests/\n"),
        ]);
        let (files, secrets, _) = app_files(dir.path(), &[], &[]).unwrap();
        assert_eq!(files, ["README.md", "app.py", "pkg/mod.py"]);
        assert!(secrets.is_empty());
    }

    /// Docker's pattern syntax in full, and a re-include under a directory
    /// an earlier line leaves out (Docker ships it; pypack did not).
    #[test]
    fn dockerignore_classes_escapes_and_reincludes_under_an_excluded_directory() {
        let dir = app(&[
            ("app.py", ""),
            ("docs/guide.md", ""),
            ("docs/api/keep.md", ""),
            ("docs/api/other.md", ""),
            ("log1.txt", ""),
            ("logx.txt", ""),
            ("*.cfg", ""),
            ("real.cfg", ""),
            (
                ".dockerignore",
                "docs\n!docs/api/keep.md\nlog[0-9].txt\n\\*.cfg\n",
            ),
        ]);
        let (files, _, _) = app_files(dir.path(), &[], &[]).unwrap();
        assert_eq!(
            files,
            ["app.py", "docs/api/keep.md", "logx.txt", "real.cfg"]
        );
    }

    #[test]
    fn special_files_are_skipped_and_named() {
        let dir = app(&[("app.py", ""), ("run/.keep", "")]);
        let fifo = dir.path().join("run/events");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let _socket = std::os::unix::net::UnixListener::bind(dir.path().join("app.sock")).unwrap();
        let (files, _, special) = app_files(dir.path(), &[], &[]).unwrap();
        assert_eq!(files, ["app.py", "run/.keep"]);
        assert_eq!(
            special,
            ["app.sock (a socket)", "run/events (a named pipe)"]
        );
        // One left out by a rule is not even mentioned.
        let (_, _, special) = app_files(dir.path(), &["run".into()], &[]).unwrap();
        assert_eq!(special, ["app.sock (a socket)"]);
    }

    #[test]
    fn secrets_and_local_data_stay_out_unless_put_back() {
        let dir = app(&[
            ("app.py", ""),
            (".env", "SECRET_KEY=x\n"),
            (".env.example", "SECRET_KEY=\n"),
            ("db.sqlite3", ""),
            ("certs/server.key", ""),
            ("certs/ca.pem", ""),
            ("config/.netrc", ""),
            ("data/seed.sqlite3", ""),
        ]);
        let (files, secrets, _) = app_files(dir.path(), &[], &[]).unwrap();
        assert_eq!(files, [".env.example", "app.py"]);
        assert_eq!(
            secrets,
            [
                ".env",
                "certs/ca.pem",
                "certs/server.key",
                "config/.netrc",
                "data/seed.sqlite3",
                "db.sqlite3"
            ]
        );
        // .dockerignore's `!` and [tool.pypack] include put files back.
        fs::write(dir.path().join(".dockerignore"), "!certs/ca.pem\n").unwrap();
        let (files, secrets, _) = app_files(dir.path(), &[], &["data/*.sqlite3".into()]).unwrap();
        assert_eq!(
            files,
            [
                ".env.example",
                "app.py",
                "certs/ca.pem",
                "data/seed.sqlite3"
            ]
        );
        assert_eq!(
            secrets,
            [".env", "certs/server.key", "config/.netrc", "db.sqlite3"]
        );
        let p = planned(dir.path(), &Overrides::default(), &[]).unwrap();
        assert!(
            p.warnings
                .iter()
                .any(|w| w.starts_with("left out of the image as secrets or local data: .env, ")),
            "{:?}",
            p.warnings
        );
    }

    #[test]
    fn process_types_come_from_the_procfile_and_tool_pypack() {
        let procfile = "web: gunicorn app:app\nworker: celery -A app worker\nrelease: python manage.py migrate\nbeat: celery -A app beat\n";
        let pyproject = "[tool.pypack]\nprocesses = { beat = \"python beat.py\", report = \"cd tools && python report.py\" }\n";
        let dir = app(&[
            ("app.py", ""),
            ("Procfile", procfile),
            ("pyproject.toml", pyproject),
        ]);
        let p = planned(dir.path(), &Overrides::default(), &["gunicorn"]).unwrap();
        let found: Vec<(&str, &str, &str)> = p
            .start
            .processes
            .iter()
            .map(|d| {
                (
                    d.value.name.as_str(),
                    d.value.line.as_str(),
                    d.rule.as_str(),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                ("beat", "python beat.py", "[tool.pypack] processes.beat"),
                (
                    "report",
                    "cd tools && python report.py",
                    "[tool.pypack] processes.report"
                ),
                ("worker", "celery -A app worker", "Procfile worker: line"),
            ]
        );
        assert!(p.start.launcher, "process types run through the launcher");
        assert_eq!(p.start.processes[1].value.steps.len(), 2);
    }

    #[test]
    fn bad_process_declarations_are_refused_naming_them() {
        let cases = [
            ("processes = \"celery worker\"", "must be a table"),
            (
                "processes = { worker = 3 }",
                "processes.worker must be a command line",
            ),
            (
                "processes = { web = \"gunicorn app:app\" }",
                "`web` is the image's own command",
            ),
            (
                "processes = { \"a/b\" = \"python x.py\" }",
                "is not a process name",
            ),
            (
                "processes = { worker = \"python x.py > log\" }",
                "needs a shell",
            ),
        ];
        for (line, expected) in cases {
            let dir = app(&[
                ("app.py", ""),
                ("pyproject.toml", &format!("[tool.pypack]\n{line}\n")),
            ]);
            let err = format!("{:#}", plan(dir.path(), &Overrides::default()).unwrap_err());
            assert!(
                err.contains(expected) && err.contains("pyproject.toml"),
                "{line}: {err}"
            );
        }
        // A Procfile line pypack cannot run is left out with a warning: an
        // app that only needs `web` builds as it did.
        let procfile = "web: gunicorn app:app\n-x: python x.py\nlog: python x.py | tee log\n";
        let dir = app(&[("app.py", ""), ("Procfile", procfile)]);
        let p = planned(dir.path(), &Overrides::default(), &["gunicorn"]).unwrap();
        assert!(p.start.processes.is_empty());
        let said = |what: &str| p.warnings.iter().any(|w| w.contains(what));
        assert!(
            said("Procfile -x: left out") && said("not a process name"),
            "{:?}",
            p.warnings
        );
        assert!(
            said("Procfile log: left out") && said("needs a shell"),
            "{:?}",
            p.warnings
        );
    }
}
