//! Detecting how to run an app: which base (Python version), which command,
//! which port, and which files to ship. Every choice can be set by flag or by
//! `[tool.pypack]`, and the plan records which rule decided it.

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
    let port = choose_port(app_dir, overrides, &tool)?;
    let cmd = choose_cmd(
        app_dir,
        overrides,
        &tool,
        &pyproject,
        dependencies,
        port.value,
    )?;
    let files = app_files(app_dir, &tool.exclude)?;
    Ok(Plan {
        app_dir: app_dir.to_path_buf(),
        name,
        recipe: base.recipe,
        recipe_fallbacks: base.fallbacks,
        warnings: base.warning.into_iter().collect(),
        cmd,
        port,
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
    let setup = std::fs::read_to_string(app_dir.join("setup.py")).ok()?;
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

/// `[tool.pypack]`: python, recipe, cmd, port, exclude.
#[derive(Debug, Default)]
struct Tool {
    python: Option<String>,
    recipe: Option<String>,
    cmd: Option<Vec<String>>,
    port: Option<u16>,
    exclude: Vec<String>,
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
        let known = ["python", "recipe", "cmd", "port", "exclude"];
        if let Some(unknown) = table.keys().find(|k| !known.contains(&k.as_str())) {
            bail!(
                "{}: unknown key '{unknown}' (known: {})",
                at(unknown),
                known.join(", ")
            );
        }
        let cmd = match table.get("cmd") {
            None => None,
            Some(toml::Value::String(s)) => Some(split_command(s).with_context(|| at("cmd"))?),
            Some(toml::Value::Array(a)) => Some(
                a.iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .with_context(|| {
                        format!("{} must be a string or a list of strings", at("cmd"))
                    })?,
            ),
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
        let exclude = match table.get("exclude") {
            None => Vec::new(),
            Some(v) => v
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .map(|v| v.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                })
                .with_context(|| format!("{} must be a list of glob strings", at("exclude")))?,
        };
        Ok(Tool {
            python: string("python")?,
            recipe: string("recipe")?,
            cmd,
            port,
            exclude,
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

fn choose_port(app_dir: &Path, overrides: &Overrides, tool: &Tool) -> Result<Decided<u16>> {
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
    let procfile = app_dir.join("Procfile");
    if let Some(web) = procfile_web(&procfile)? {
        for pattern in [
            "--port ",
            "--port=",
            "--bind 0.0.0.0:",
            "-b 0.0.0.0:",
            "--bind=0.0.0.0:",
        ] {
            if let Some(port) = web.split(pattern).nth(1).and_then(leading_number) {
                return Ok(Decided {
                    value: port,
                    rule: "Procfile".into(),
                });
            }
        }
    }
    for module in ["app.py", "main.py", "wsgi.py", "asgi.py", "server.py"] {
        let Ok(text) = std::fs::read_to_string(app_dir.join(module)) else {
            continue;
        };
        for line in text
            .lines()
            .filter(|l| l.contains(".run(") || l.contains("uvicorn.run("))
        {
            if let Some(port) = line.split("port=").nth(1).and_then(leading_number) {
                return Ok(Decided {
                    value: port,
                    rule: format!("port= in {module}"),
                });
            }
        }
    }
    Ok(Decided {
        value: 8000,
        rule: "default".into(),
    })
}

fn leading_number(text: &str) -> Option<u16> {
    let digits: String = text
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok().filter(|p| *p > 0)
}

fn procfile_web(path: &Path) -> Result<Option<String>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text
        .lines()
        .find_map(|l| l.trim().strip_prefix("web:").map(|c| c.trim().to_string())))
}

fn choose_cmd(
    app_dir: &Path,
    overrides: &Overrides,
    tool: &Tool,
    pyproject: &Pyproject,
    dependencies: &[String],
    port: u16,
) -> Result<Decided<Vec<String>>> {
    if let Some(cmd) = &overrides.cmd {
        return Ok(Decided {
            value: split_command(cmd).context("--cmd")?,
            rule: "--cmd".into(),
        });
    }
    if let Some(cmd) = &tool.cmd {
        return Ok(Decided {
            value: cmd.clone(),
            rule: "[tool.pypack] cmd".into(),
        });
    }
    if let Some(web) = procfile_web(&app_dir.join("Procfile"))? {
        // No shell runs in the image, so $PORT is substituted now.
        let web = web
            .replace("${PORT}", &port.to_string())
            .replace("$PORT", &port.to_string());
        return Ok(Decided {
            value: split_command(&web).context("Procfile web:")?,
            rule: "Procfile web:".into(),
        });
    }
    let has = |name: &str| dependencies.iter().any(|d| d == name);
    let objects = app_objects(app_dir)?;
    if has("gunicorn")
        && let Some(o) = objects.iter().find(|o| o.kind == Kind::Wsgi)
    {
        let cmd = vec![
            "gunicorn".into(),
            "--bind".into(),
            format!("0.0.0.0:{port}"),
            o.target(),
        ];
        return Ok(Decided {
            value: cmd,
            rule: format!("gunicorn in dependencies and WSGI object {}", o.describe()),
        });
    }
    if has("uvicorn")
        && let Some(o) = objects.iter().find(|o| o.kind == Kind::Asgi)
    {
        let cmd = vec![
            o.target(),
            "--host".into(),
            "0.0.0.0".into(),
            "--port".into(),
            port.to_string(),
        ];
        let cmd = std::iter::once("uvicorn".to_string()).chain(cmd).collect();
        return Ok(Decided {
            value: cmd,
            rule: format!("uvicorn in dependencies and ASGI object {}", o.describe()),
        });
    }
    if pyproject.scripts.len() == 1 {
        let script = pyproject.scripts[0].clone();
        return Ok(Decided {
            value: vec![script.clone()],
            rule: format!("the single [project.scripts] entry '{script}'"),
        });
    }
    for module in ["app.py", "main.py"] {
        if app_dir.join(module).is_file() {
            return Ok(Decided {
                value: vec!["python".into(), module.into()],
                rule: format!("{module} found"),
            });
        }
    }
    bail!(
        "no entrypoint found in {}: no Procfile web: line, no WSGI/ASGI app object with gunicorn/uvicorn \
         in the dependencies, no single [project.scripts] entry, no app.py or main.py. \
         Pass --cmd \"...\" or set [tool.pypack] cmd in pyproject.toml",
        app_dir.display()
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Wsgi,
    Asgi,
}

#[derive(Debug, Clone)]
struct AppObject {
    module: String,
    name: String,
    kind: Kind,
}

impl AppObject {
    fn target(&self) -> String {
        format!("{}:{}", self.module, self.name)
    }
    fn describe(&self) -> String {
        format!(
            "{} ({})",
            self.target(),
            if self.kind == Kind::Wsgi {
                "WSGI"
            } else {
                "ASGI"
            }
        )
    }
}

/// `name = Flask(...)`-style assignments in the usual modules, top level
/// first, then packages' `__init__.py`/`app.py`/`main.py`/`wsgi.py`/`asgi.py`.
fn app_objects(app_dir: &Path) -> Result<Vec<AppObject>> {
    let mut modules: Vec<(String, PathBuf)> =
        ["wsgi", "asgi", "app", "main", "application", "server"]
            .iter()
            .map(|m| (m.to_string(), app_dir.join(format!("{m}.py"))))
            .collect();
    let mut packages: Vec<PathBuf> = std::fs::read_dir(app_dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("__init__.py").is_file())
        .collect();
    packages.sort();
    for package in packages {
        let pkg = package
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        for m in ["__init__", "wsgi", "asgi", "app", "main"] {
            let module = if m == "__init__" {
                pkg.clone()
            } else {
                format!("{pkg}.{m}")
            };
            modules.push((module, package.join(format!("{m}.py"))));
        }
    }
    let mut found = Vec::new();
    for (module, path) in modules {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for line in text.lines().filter(|l| !l.starts_with([' ', '\t', '#'])) {
            let Some((lhs, rhs)) = line.split_once('=') else {
                continue;
            };
            let name = lhs.trim();
            if name.is_empty()
                || !name.chars().all(|c| c.is_alphanumeric() || c == '_')
                || rhs.starts_with('=')
            {
                continue;
            }
            let call = rhs
                .trim()
                .split('(')
                .next()
                .unwrap_or("")
                .rsplit('.')
                .next()
                .unwrap_or("");
            let kind = match call {
                "Flask" | "get_wsgi_application" | "Bottle" => Kind::Wsgi,
                "FastAPI"
                | "Starlette"
                | "Quart"
                | "Litestar"
                | "get_asgi_application"
                | "Sanic" => Kind::Asgi,
                _ => continue,
            };
            if rhs.trim().contains('(') {
                found.push(AppObject {
                    module: module.clone(),
                    name: name.to_string(),
                    kind,
                });
            }
        }
    }
    Ok(found)
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

/// The files to ship: everything under `app_dir` except the fixed exclusions,
/// `.dockerignore` (Docker's syntax, `!` re-includes) and `exclude` globs.
pub fn app_files(app_dir: &Path, exclude: &[String]) -> Result<Vec<String>> {
    let mut rules: Vec<(String, bool)> = ALWAYS_EXCLUDED
        .iter()
        .map(|p| (p.to_string(), true))
        .collect();
    let dockerignore = app_dir.join(".dockerignore");
    if dockerignore.is_file() {
        for line in std::fs::read_to_string(&dockerignore)?.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (pattern, excluded) = match line.strip_prefix('!') {
                Some(p) => (p, false),
                None => (line, true),
            };
            rules.push((
                pattern
                    .trim_start_matches("./")
                    .trim_matches('/')
                    .to_string(),
                excluded,
            ));
        }
    }
    rules.extend(
        exclude
            .iter()
            .map(|p| (p.trim_matches('/').to_string(), true)),
    );
    let is_excluded = |rel: &str| {
        let mut excluded = false;
        for (pattern, exclude) in &rules {
            if glob::matches(pattern, rel) || glob::matches(&format!("{pattern}/**"), rel) {
                excluded = *exclude;
            }
        }
        excluded
    };
    let mut files = Vec::new();
    crate::walk::walk_sorted(app_dir, "", &mut |_, meta, rel| {
        if is_excluded(rel) {
            return Ok(false); // nor anything under it
        }
        if !meta.is_dir() {
            files.push(rel.to_string());
        }
        Ok(true)
    })?;
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn app(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let p = dir.path().join(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        }
        dir
    }

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
        assert!(p.cmd.rule.contains("WSGI object app:app"), "{}", p.cmd.rule);
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
        assert_eq!(p.cmd.value, ["python", "app.py"]);
        assert_eq!(p.port.value, 5000);
        assert_eq!(p.port.rule, "port= in app.py");
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
        let files = app_files(dir.path(), &[]).unwrap();
        assert_eq!(files, ["README.md", "app.py", "pkg/mod.py"]);
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
