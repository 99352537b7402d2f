//! Detecting how to run an app: which base (Python version), which command,
//! which port, and which files to ship. Every choice can be set by flag or by
//! `[tool.pypack]`, and the plan records which rule decided it.

use super::providers::{self, AppContext};
use super::pyproject::Pyproject;
use super::python_version::{BaseChoice, Explicit, choose_base};
use crate::glob;
use anyhow::{Context, Result, bail};
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

/// A decision and the rule that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided<T> {
    pub value: T,
    pub rule: String,
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
    /// Things the user should know about these choices.
    pub warnings: Vec<String>,
    pub cmd: Decided<Vec<String>>,
    pub port: Decided<u16>,
    /// Environment the command needs (from the provider that chose it).
    pub env: Vec<(String, String)>,
    /// The command serves HTTP on `port` (the smoke run then requires an
    /// answer); `false` for what may be a worker or a tool.
    pub web: bool,
    /// The command runs through pypack's launcher (a chain of steps), which
    /// the app layer then carries.
    pub launcher: bool,
    /// The `Host` the smoke run sends (one the app accepts).
    pub smoke_host: String,
    /// Work done at build time in the image (Django's collectstatic).
    pub build_steps: Vec<providers::BuildStep>,
    /// Directories under /app the app writes to, made its own (65532);
    /// the rest of /app stays read-only to it.
    pub writable: Vec<Decided<String>>,
    /// Files to ship, relative to the app dir, sorted.
    pub files: Vec<String>,
    /// The app's `pyproject.toml` (empty when it has none).
    pub pyproject: Pyproject,
    /// Why the app's own project is built into a wheel in the builder (its
    /// code needs compiling); `None`: it is installed editable-style.
    pub app_wheel: Option<String>,
}

/// Decides the plan. `dependencies` are the normalized names the app requires.
pub fn plan(app_dir: &Path, overrides: &Overrides, dependencies: &[String]) -> Result<Plan> {
    let pyproject_path = app_dir.join("pyproject.toml");
    let pyproject = if pyproject_path.is_file() {
        super::pyproject::read(&pyproject_path)?
    } else {
        Pyproject::default()
    };
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
    let ctx = AppContext {
        dir: app_dir,
        pyproject: &pyproject,
        dependencies,
    };
    let mut warnings: Vec<String> = base.warning.into_iter().collect();
    let Started {
        cmd,
        port,
        env,
        web,
        launcher,
        smoke_host,
        steps,
        writable,
    } = choose_start(&ctx, overrides, &tool, &mut warnings)?;
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
        warnings,
        cmd,
        port,
        env,
        web,
        launcher,
        smoke_host: smoke_host.unwrap_or_else(|| "localhost".into()),
        build_steps: steps,
        writable: writable_dirs(writable, &tool)?,
        files,
        pyproject,
        app_wheel,
    })
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
    let setup = super::text_if_regular(&app_dir.join("setup.py"))?;
    setup
        .contains("ext_modules")
        .then(|| "its setup.py declares ext_modules, which compile code".to_string())
}

/// The base recipe alone (for `pypack lock`, which needs no entrypoint).
pub fn recipe_for(app_dir: &Path, overrides: &Overrides) -> Result<BaseChoice> {
    let pyproject_path = app_dir.join("pyproject.toml");
    let pyproject = if pyproject_path.is_file() {
        super::pyproject::read(&pyproject_path)?
    } else {
        Pyproject::default()
    };
    let tool = Tool::read(&pyproject, &pyproject_path)?;
    choose_recipe(app_dir, overrides, &tool, &pyproject)
}

/// A command as written: one line (split like a shell would, chains run by
/// the launcher) or a list of arguments.
#[derive(Debug, Clone)]
enum CmdSpec {
    Text(String),
    Argv(Vec<String>),
}

/// `[tool.pypack]`: python, recipe, cmd, port, exclude, include.
#[derive(Debug, Default)]
struct Tool {
    python: Option<String>,
    recipe: Option<String>,
    cmd: Option<CmdSpec>,
    port: Option<u16>,
    exclude: Vec<String>,
    /// Globs shipped even when a default rule (secrets) leaves them out.
    include: Vec<String>,
    /// Directories the app writes to.
    writable: Vec<String>,
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
            "python", "recipe", "cmd", "port", "exclude", "include", "writable",
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
        Ok(Tool {
            python: string("python")?,
            recipe: string("recipe")?,
            cmd,
            port,
            exclude: globs("exclude")?,
            include: globs("include")?,
            writable: globs("writable")?,
        })
    }
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

/// The providers' writable directories and `[tool.pypack] writable`, each
/// a relative path inside the app dir.
fn writable_dirs(found: Vec<Decided<String>>, tool: &Tool) -> Result<Vec<Decided<String>>> {
    let mut out: Vec<Decided<String>> = Vec::new();
    let listed = tool.writable.iter().map(|w| Decided {
        value: w.clone(),
        rule: "[tool.pypack] writable".into(),
    });
    for dir in found.into_iter().chain(listed) {
        let value = dir
            .value
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        if value.is_empty() || value.starts_with('/') || value.split('/').any(|p| p == "..") {
            bail!(
                "writable directory '{}' ({}) must be a relative path inside the app",
                dir.value,
                dir.rule
            );
        }
        if !out.iter().any(|d| d.value == value) {
            out.push(Decided {
                value,
                rule: dir.rule,
            });
        }
    }
    Ok(out)
}

/// Apps found that no server in the dependencies can run, said with the fix.
fn unserved_apps(ctx: &AppContext) -> Result<String> {
    let apps = providers::app_objects(ctx)?;
    let Some(app) = apps.first() else {
        return Ok(String::new());
    };
    let server = match app.kind {
        providers::Kind::Asgi => "uvicorn",
        providers::Kind::Wsgi => "gunicorn",
    };
    Ok(format!(
        " It found {}, but no server in the dependencies runs it: add {server} to them, or pass --server {server}.",
        app.describe()
    ))
}

/// How the app starts in the image.
struct Started {
    cmd: Decided<Vec<String>>,
    port: Decided<u16>,
    env: Vec<(String, String)>,
    web: bool,
    launcher: bool,
    smoke_host: Option<String>,
    steps: Vec<providers::BuildStep>,
    writable: Vec<Decided<String>>,
}

/// The command, the port and the command's environment: flags and
/// `[tool.pypack]` first, then the providers (see `providers`).
fn choose_start(
    ctx: &AppContext,
    overrides: &Overrides,
    tool: &Tool,
    warnings: &mut Vec<String>,
) -> Result<Started> {
    let explicit_cmd = match (&overrides.cmd, &tool.cmd) {
        (Some(cmd), _) => Some((CmdSpec::Text(cmd.clone()), "--cmd")),
        (None, Some(cmd)) => Some((cmd.clone(), "[tool.pypack] cmd")),
        (None, None) => None,
    };
    let claim = match &explicit_cmd {
        Some(_) => None,
        None => match providers::claim(ctx)? {
            Some(found) => Some(found),
            None => bail!(
                "no entrypoint found in {}: no Procfile web: line, no Dockerfile CMD, no Django, Streamlit, \
                 Gradio or Dash app, no WSGI/ASGI app object or factory that a server in the dependencies \
                 can run, no single [project.scripts] entry, no app.py or main.py.{} \
                 Pass --cmd \"...\" or set [tool.pypack] cmd in pyproject.toml",
                ctx.dir.display(),
                unserved_apps(ctx)?
            ),
        },
    };
    let port = choose_port(ctx, overrides, tool, claim.as_ref().map(|(_, c)| c))?;
    let Some((_, claim)) = claim else {
        let (spec, rule) = explicit_cmd.expect("either a flag or a provider");
        let start = match spec {
            CmdSpec::Text(text) => providers::start_from_line(&text, port.value).context(rule)?,
            CmdSpec::Argv(argv) => providers::Start::argv(argv),
        };
        // A server program, or a port someone set, says it is a web app.
        let web = start.serves_http || port.rule != "default";
        let aspects = providers::aspects(ctx);
        warnings.extend(aspects.warnings);
        return Ok(Started {
            cmd: Decided {
                value: start.argv,
                rule: rule.into(),
            },
            port,
            env: start.env,
            web,
            launcher: start.launcher,
            smoke_host: aspects.smoke_host,
            steps: aspects.steps,
            writable: aspects.writable,
        });
    };
    warnings.extend(claim.warnings.iter().cloned());
    let start = (claim.launch)(port.value);
    let web = claim.web || port.rule != "default" || start.serves_http;
    Ok(Started {
        cmd: Decided {
            value: start.argv,
            rule: claim.rule,
        },
        port,
        env: start.env,
        web,
        launcher: start.launcher,
        smoke_host: claim.smoke_host,
        steps: claim.steps,
        writable: claim.writable,
    })
}

fn choose_port(
    ctx: &AppContext,
    overrides: &Overrides,
    tool: &Tool,
    claim: Option<&providers::Claim>,
) -> Result<Decided<u16>> {
    if let Some(text) = &overrides.port {
        let port = text
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .with_context(|| format!("--port '{text}' is not a port number (1-65535)"))?;
        return Ok(Decided {
            value: port,
            rule: "--port".into(),
        });
    }
    if let Some(port) = tool.port {
        return Ok(Decided {
            value: port,
            rule: "[tool.pypack] port".into(),
        });
    }
    if let Some(port) = providers::port(ctx)? {
        return Ok(port);
    }
    if let Some(claim) = claim
        && let Some(port) = claim.default_port
    {
        return Ok(Decided {
            value: port,
            rule: format!(
                "the default of {}",
                claim.rule.split(':').next().unwrap_or("its framework")
            ),
        });
    }
    Ok(Decided {
        value: 8000,
        rule: "default".into(),
    })
}

/// Splits a command like a POSIX shell would split words: whitespace, single
/// and double quotes, backslash escapes. No expansion happens.
pub fn split_command(text: &str) -> Result<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => word.extend(chars.next()),
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                word.extend(chars.next());
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        bail!("unterminated quote in '{text}'");
    }
    if in_word {
        words.push(word);
    }
    if words.is_empty() {
        bail!("the command is empty");
    }
    Ok(words)
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
    let mut rules: Vec<(String, Rule)> = ALWAYS_EXCLUDED
        .iter()
        .map(|p| (p.to_string(), Rule::Fixed))
        .collect();
    rules.extend(SECRETS.iter().map(|p| (p.to_string(), Rule::Secret)));
    let dockerignore = app_dir.join(".dockerignore");
    if dockerignore.is_file() {
        for line in super::read_text(&dockerignore)?.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (pattern, rule) = match line.strip_prefix('!') {
                Some(p) => (p, Rule::Ship),
                None => (line, Rule::User),
            };
            rules.push((
                pattern
                    .trim_start_matches("./")
                    .trim_matches('/')
                    .to_string(),
                rule,
            ));
        }
    }
    rules.extend(
        exclude
            .iter()
            .map(|p| (p.trim_matches('/').to_string(), Rule::User)),
    );
    rules.extend(
        include
            .iter()
            .map(|p| (p.trim_matches('/').to_string(), Rule::Ship)),
    );
    let rule_for = |rel: &str| {
        let mut decided = Rule::Ship;
        for (pattern, rule) in &rules {
            if glob::matches(pattern, rel) || glob::matches(&format!("{pattern}/**"), rel) {
                decided = *rule;
            }
        }
        decided
    };
    let mut files = Vec::new();
    let mut secrets = Vec::new();
    let mut special = Vec::new();
    crate::walk::walk_sorted(app_dir, "", &mut |_, meta, rel| {
        match rule_for(rel) {
            // A directory a rule leaves out: nor anything under it (unless a
            // later rule names a file in it, which Docker also cannot do).
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

    fn deps(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn gunicorn_and_a_flask_object() {
        let dir = app(&[("app.py", "from flask import Flask\napp = Flask(__name__)\n")]);
        let p = plan(
            dir.path(),
            &Overrides::default(),
            &deps(&["flask", "gunicorn"]),
        )
        .unwrap();
        assert_eq!(
            p.cmd.value,
            ["gunicorn", "--bind", "0.0.0.0:8000", "app:app"]
        );
        assert!(
            p.cmd.rule.contains("Flask object app:app with gunicorn"),
            "{}",
            p.cmd.rule
        );
        assert_eq!((p.port.value, p.recipe.value.as_str()), (8000, "debian12"));
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
        let p = plan(
            dir.path(),
            &Overrides::default(),
            &deps(&["fastapi", "uvicorn"]),
        )
        .unwrap();
        assert_eq!(
            p.cmd.value,
            [
                "uvicorn",
                "api.main:server",
                "--host",
                "0.0.0.0",
                "--port",
                "8000"
            ]
        );
        assert_eq!(p.recipe.value, "debian13");
        assert_eq!(
            (p.name.as_str(), p.pyproject.version.as_deref()),
            ("api", Some("1.2"))
        );
    }

    #[test]
    fn app_run_port_and_python_fallback() {
        let dir = app(&[(
            "app.py",
            "from flask import Flask\napp = Flask(__name__)\nif __name__ == '__main__':\n    app.run(host='0.0.0.0', port=5000)\n",
        )]);
        let p = plan(dir.path(), &Overrides::default(), &deps(&["flask"])).unwrap();
        // No WSGI server: Flask's own, on every address, with a warning.
        assert_eq!(
            p.cmd.value,
            [
                "flask", "--app", "app", "run", "--host", "0.0.0.0", "--port", "5000"
            ]
        );
        assert!(p.warnings.iter().any(|w| w.contains("development server")));
        assert_eq!(p.port.value, 5000);
        assert_eq!(p.port.rule, "port= in app.py");
        let script = app(&[("main.py", "print('hello')\n")]);
        let p = plan(script.path(), &Overrides::default(), &deps(&[])).unwrap();
        assert_eq!(p.cmd.value, ["python", "main.py"]);
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
        let p = plan(dir.path(), &Overrides::default(), &deps(&[])).unwrap();
        assert_eq!(
            p.cmd.value,
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
        let p = plan(dir.path(), &over, &deps(&[])).unwrap();
        assert_eq!(
            (p.cmd.value.clone(), p.port.value, p.recipe.value.as_str()),
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
            plan(dir.path(), &bad, &[])
                .unwrap_err()
                .to_string()
                .contains("--port 'http' is not a port number")
        );
        let old = Overrides {
            python: Some("3.9".into()),
            ..Overrides::default()
        };
        let err = plan(dir.path(), &old, &[]).unwrap_err().to_string();
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
        let p = plan(dir.path(), &Overrides::default(), &[]).unwrap();
        assert_eq!(
            (p.cmd.value.clone(), p.port.value),
            (vec!["x-serve".to_string()], 7000)
        );
        assert_eq!(p.files, ["pyproject.toml"]);
        let dir = app(&[("pyproject.toml", "[tool.pypack]\nprot = 1\n")]);
        assert!(
            plan(dir.path(), &Overrides::default(), &[])
                .unwrap_err()
                .to_string()
                .contains("unknown key 'prot'")
        );
    }

    #[test]
    fn an_app_no_server_can_run_says_which_to_add() {
        let dir = app(&[("api.py", "from fastapi import FastAPI\napi = FastAPI()\n")]);
        let err = plan(dir.path(), &Overrides::default(), &deps(&["fastapi"]))
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
        let err = plan(dir.path(), &Overrides::default(), &[])
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
        let p = plan(dir.path(), &Overrides::default(), &[]).unwrap();
        assert!(
            p.warnings
                .iter()
                .any(|w| w.starts_with("left out of the image as secrets or local data: .env, ")),
            "{:?}",
            p.warnings
        );
    }

    #[test]
    fn command_splitting() {
        assert_eq!(
            split_command("a 'b c' \"d \\\" e\" f\\ g").unwrap(),
            ["a", "b c", "d \" e", "f g"]
        );
        assert!(split_command("a 'b").is_err());
        assert!(split_command("  ").is_err());
    }
}
