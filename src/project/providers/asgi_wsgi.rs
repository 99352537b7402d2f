//! WSGI and ASGI apps found in the code: `app = Flask(__name__)`,
//! `app = FastAPI()`, Starlette, Quart, Litestar, Sanic, Falcon, Bottle, and
//! app factories (`def create_app():` returning one), in the usual modules at
//! the top level, in packages, and in packages under `src/`. The server is
//! the production one already in the dependencies; with none, the
//! framework's own way to serve (its dev server, with a warning).

use super::common::{AppContext, Claim, Start};
use anyhow::Result;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Wsgi,
    Asgi,
}

/// An app object or factory in a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppObject {
    /// Dotted module, importable from the app dir (or `src/`).
    pub module: String,
    /// The variable, or the factory function.
    pub name: String,
    pub kind: Kind,
    /// The framework class, e.g. `Flask`, `FastAPI`.
    pub framework: String,
    /// `name` is a function returning the app.
    pub factory: bool,
    /// The module lives under `src/`.
    pub in_src: bool,
}

impl AppObject {
    /// `module:name`, or `module:name()` for a factory (gunicorn's syntax).
    pub fn target(&self) -> String {
        if self.factory {
            format!("{}:{}()", self.module, self.name)
        } else {
            format!("{}:{}", self.module, self.name)
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{} {} {}",
            self.framework,
            if self.factory { "factory" } else { "object" },
            self.target()
        )
    }
}

const WSGI: &[&str] = &["Flask", "Bottle", "App"];
const ASGI: &[&str] = &["FastAPI", "Starlette", "Quart", "Litestar", "Sanic"];

fn kind_of(call: &str) -> Option<(Kind, &'static str)> {
    if let Some(f) = WSGI.iter().find(|f| **f == call) {
        // Falcon's class is `falcon.App`; a bare `App(` is taken as Falcon's.
        return Some((Kind::Wsgi, if *f == "App" { "Falcon" } else { f }));
    }
    ASGI.iter().find(|f| **f == call).map(|f| (Kind::Asgi, *f))
}

/// Every app object and factory, most likely first: what the project
/// names (`[tool.fastapi] entrypoint`, `.flaskenv`'s `FLASK_APP`), then what
/// the usual modules define.
pub fn app_objects(ctx: &AppContext) -> Result<Vec<AppObject>> {
    let made_by = made_by_factory_kind(ctx);
    let mut found = Vec::new();
    for (module, path, in_src) in candidate_modules(ctx)? {
        let Some(text) = crate::project::text::text_if_regular(&path) else {
            continue;
        };
        found.extend(objects_in(&text, &module, in_src, made_by));
    }
    // A bare `App(…)` is Falcon's only where Falcon is (Shiny has one too).
    let falcon = ctx.has("falcon");
    found.retain(|o| o.framework != "Falcon" || falcon);
    if let Some(named) = named_app(ctx) {
        // Move (or put) the named one first.
        let (module, name) = named;
        let index = found
            .iter()
            .position(|o| o.module == module && (name.is_empty() || o.name == name));
        if let Some(index) = index {
            let object = found.remove(index);
            found.insert(0, object);
        }
    }
    Ok(found)
}

/// The app the project's configuration names: `(module, object)` (object
/// empty when only the module is named).
fn named_app(ctx: &AppContext) -> Option<(String, String)> {
    if let Some(entry) = &ctx.pyproject.fastapi_entrypoint {
        let (module, object) = entry.split_once(':').unwrap_or((entry, "app"));
        return Some((module.to_string(), object.to_string()));
    }
    let flaskenv = ctx.read(".flaskenv")?;
    let value = flaskenv
        .lines()
        .find_map(|l| l.trim().strip_prefix("FLASK_APP="))?;
    let value = value.trim().trim_matches(['"', '\'']);
    let (module, object) = value.split_once(':').unwrap_or((value, ""));
    let module = module.trim_end_matches(".py").replace('/', ".");
    let object = object.split('(').next().unwrap_or("").to_string();
    Some((module, object))
}

/// What `app = create_app()` at module level makes, judged by the
/// dependencies (the factory is elsewhere): what the requirements name
/// first, then what is installed.
fn made_by_factory_kind(ctx: &AppContext) -> Option<(Kind, &'static str)> {
    const MADE: [(&str, Kind, &str); 3] = [
        ("flask", Kind::Wsgi, "Flask"),
        ("fastapi", Kind::Asgi, "FastAPI"),
        ("quart", Kind::Asgi, "Quart"),
    ];
    let found = |has: &dyn Fn(&str) -> bool| {
        MADE.iter()
            .find(|(name, _, _)| has(name))
            .map(|(_, kind, framework)| (*kind, *framework))
    };
    found(&|n| ctx.declares(n)).or_else(|| found(&|n| ctx.has(n)))
}

/// Modules where apps usually live: top-level files, then each package's
/// usual modules, then packages under `src/`.
fn candidate_modules(ctx: &AppContext) -> Result<Vec<(String, PathBuf, bool)>> {
    let app_dir = ctx.dir;
    const TOP: &[&str] = &[
        "wsgi",
        "asgi",
        "app",
        "main",
        "application",
        "server",
        "api",
    ];
    const IN_PACKAGE: &[&str] = &["__init__", "wsgi", "asgi", "app", "main", "server", "api"];
    let mut modules: Vec<(String, PathBuf, bool)> = TOP
        .iter()
        .map(|m| (m.to_string(), app_dir.join(format!("{m}.py")), false))
        .collect();
    // The module the project names, wherever it is.
    if let Some((module, _)) = named_app(ctx) {
        let path = module.replace('.', "/");
        for (root, in_src) in [(app_dir.to_path_buf(), false), (app_dir.join("src"), true)] {
            for file in [format!("{path}.py"), format!("{path}/__init__.py")] {
                modules.insert(0, (module.clone(), root.join(file), in_src));
            }
        }
    }
    for (root, in_src) in [(app_dir.to_path_buf(), false), (app_dir.join("src"), true)] {
        for package in packages_in(&root)? {
            let name = package
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            for m in IN_PACKAGE {
                let module = if *m == "__init__" {
                    name.clone()
                } else {
                    format!("{name}.{m}")
                };
                modules.push((module, package.join(format!("{m}.py")), in_src));
            }
        }
    }
    // Then any other top-level module (`hello.py`, `things.py`): an app
    // named as its author pleased, found after the usual places.
    for name in other_top_modules(app_dir, TOP) {
        let path = app_dir.join(format!("{name}.py"));
        modules.push((name, path, false));
    }
    Ok(modules)
}

/// Top-level modules other than `usual` ones, tests, and files that are no
/// app (`setup.py`, `manage.py`, `conftest.py`, config files): those with a
/// `__main__` block first, each group sorted.
fn other_top_modules(app_dir: &Path, usual: &[&str]) -> Vec<String> {
    const NOT_APPS: &[&str] = &[
        "setup",
        "manage",
        "conftest",
        "noxfile",
        "tasks",
        "gunicorn.conf",
        "gunicorn_config",
        "config",
        "settings",
    ];
    let Ok(entries) = std::fs::read_dir(app_dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .filter_map(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            let name = file.strip_suffix(".py")?.to_string();
            let importable = name.chars().all(|c| c.is_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            (importable
                && !usual.contains(&name.as_str())
                && !NOT_APPS.contains(&name.as_str())
                && !name.starts_with("test_")
                && !name.ends_with("_test"))
            .then_some(name)
        })
        .collect();
    // The one its author runs (`python things.py`) before the others.
    let runs_itself = |name: &String| {
        crate::project::text::text_if_regular(&app_dir.join(format!("{name}.py"))).is_some_and(
            |t| t.contains("__name__ == '__main__'") || t.contains("__name__ == \"__main__\""),
        )
    };
    names.sort_by_key(|n| (!runs_itself(n), n.clone()));
    names
}

/// Directories under `root` holding Python modules (with or without an
/// `__init__.py`: `fastapi run app/main.py` works for either), sorted.
fn packages_in(root: &Path) -> Result<Vec<PathBuf>> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Ok(Vec::new());
    };
    let mut packages: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            p.is_dir()
                && !name.starts_with('.')
                && name.chars().all(|c| c.is_alphanumeric() || c == '_')
                && !matches!(
                    name.as_ref(),
                    "tests" | "test" | "docs" | "venv" | "node_modules" | "src"
                )
                && (p.join("__init__.py").is_file()
                    || ["main.py", "app.py", "wsgi.py", "asgi.py"]
                        .iter()
                        .any(|m| p.join(m).is_file()))
        })
        .collect();
    packages.sort();
    Ok(packages)
}

/// Top-level `name = Framework(...)` assignments and `def factory():`
/// functions whose body makes one.
fn objects_in(
    text: &str,
    module: &str,
    in_src: bool,
    made_by_factory: Option<(Kind, &'static str)>,
) -> Vec<AppObject> {
    let mut found = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.starts_with([' ', '\t', '#']) {
            continue;
        }
        if let Some(function) = factory_name(line) {
            // The function's body: the indented lines that follow.
            let mut body = String::new();
            while let Some(next) = lines.peek() {
                if next.trim().is_empty() || next.starts_with([' ', '\t']) {
                    body.push_str(lines.next().unwrap_or(""));
                    body.push('\n');
                } else {
                    break;
                }
            }
            if let Some((kind, framework)) = body.lines().find_map(|l| {
                let (_, rhs) = l.split_once('=')?;
                kind_of(call_name(rhs)?)
            }) {
                found.push(AppObject {
                    module: module.to_string(),
                    name: function,
                    kind,
                    framework: framework.to_string(),
                    factory: true,
                    in_src,
                });
            }
            continue;
        }
        let Some((lhs, rhs)) = line.split_once('=') else {
            continue;
        };
        let name = lhs.split(':').next().unwrap_or(lhs).trim(); // `app: FastAPI = FastAPI()`
        if name.is_empty()
            || !name.chars().all(|c| c.is_alphanumeric() || c == '_')
            || rhs.starts_with('=')
        {
            continue;
        }
        let called = call_name(rhs);
        // `app = create_app()` at module level: an app, made by a factory.
        let made = called
            .filter(|c| FACTORIES.contains(c))
            .and(made_by_factory);
        if let Some((kind, framework)) = called.and_then(kind_of).or(made) {
            found.push(AppObject {
                module: module.to_string(),
                name: name.to_string(),
                kind,
                framework: framework.to_string(),
                factory: false,
                in_src,
            });
        }
    }
    found
}

/// `Flask` in `flask.Flask(__name__)`; `None` when the text is no call.
fn call_name(rhs: &str) -> Option<&str> {
    let rhs = rhs.trim();
    let (callee, _) = rhs.split_once('(')?;
    let name = callee.trim().rsplit('.').next()?;
    (!name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_')).then_some(name)
}

/// The usual names of app factories.
const FACTORIES: &[&str] = &[
    "create_app",
    "make_app",
    "app_factory",
    "create_application",
    "get_application",
    "get_app",
    "build_app",
];

/// `create_app` in `def create_app(config=None):` for the usual factory names.
fn factory_name(line: &str) -> Option<String> {
    let rest = line.strip_prefix("def ")?;
    let name = rest.split('(').next()?.trim();
    FACTORIES.contains(&name).then(|| name.to_string())
}

/// The servers this provider knows, and how each starts an app, in the
/// installed version's own syntax.
fn server_command(ctx: &AppContext, app: &AppObject, port: u16) -> Option<ServerCommand> {
    let bind = format!("0.0.0.0:{port}");
    let port = port.to_string();
    let argv = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    let target = app.target();
    let plain = format!("{}:{}", app.module, app.name);
    let mut env = Vec::new();
    // A module under src/: the server's own option where it has one, else
    // the import path.
    let mut src = |argv: &mut Vec<String>, flag: Option<&str>| {
        if app.in_src {
            match flag {
                Some(flag) => argv.extend([flag.to_string(), "src".to_string()]),
                None => env.push(("PYTHONPATH".to_string(), "/app/src".to_string())),
            }
        }
    };
    let (words, server) = match app.kind {
        // gunicorn 20.0.0 alone could not call a factory (`mod:make()`).
        Kind::Wsgi
            if ctx.has("gunicorn")
                && !(app.factory
                    && ctx.installed.version("gunicorn").map(|v| v.to_string())
                        == Some("20.0.0".into())) =>
        {
            let mut words = argv(&["gunicorn", "--bind", &bind, &target]);
            src(&mut words, Some("--chdir"));
            (words, "gunicorn")
        }
        Kind::Wsgi if ctx.has("waitress") => {
            let mut words = argv(&["waitress-serve", "--host", "0.0.0.0", "--port", &port]);
            if app.factory {
                words.push("--call".into());
            }
            words.push(plain);
            src(&mut words, None);
            (words, "waitress")
        }
        // FastAPI's `standard` and `all` extras bring uvicorn.
        // `--factory` came in uvicorn 0.13.
        Kind::Asgi
            if (ctx.has("uvicorn")
                || ctx.has("fastapi[standard]")
                || ctx.has("fastapi[all]")
                || ctx.has("fastapi-cli"))
                && (!app.factory || ctx.at_least("uvicorn", UVICORN_FACTORY)) =>
        {
            let mut words = argv(&["uvicorn", &plain, "--host", "0.0.0.0", "--port", &port]);
            if app.factory {
                words.push("--factory".into());
            }
            // `--app-dir` came in uvicorn 0.11.6.
            let app_dir = ctx
                .at_least("uvicorn", UVICORN_APP_DIR)
                .then_some("--app-dir");
            src(&mut words, app_dir);
            (words, "uvicorn")
        }
        Kind::Asgi if ctx.has("hypercorn") => {
            let mut words = argv(&["hypercorn", "--bind", &bind, &target]);
            src(&mut words, None);
            (words, "hypercorn")
        }
        // `--factory` came in granian 1.6.
        Kind::Asgi if ctx.has("granian") && (!app.factory || ctx.at_least("granian", "1.6")) => {
            let mut words = argv(&[
                "granian",
                "--interface",
                "asgi",
                "--host",
                "0.0.0.0",
                "--port",
                &port,
            ]);
            if app.factory {
                words.push("--factory".into());
            }
            words.push(plain);
            src(&mut words, None);
            (words, "granian")
        }
        Kind::Asgi if ctx.has("daphne") && !app.factory => {
            let mut words = argv(&["daphne", "-b", "0.0.0.0", "-p", &port, &plain]);
            src(&mut words, None);
            (words, "daphne")
        }
        Kind::Asgi if app.framework == "Sanic" && ctx.has("sanic") => {
            let mut words = sanic_command(ctx, app, &port)?;
            src(&mut words, None);
            (words, "Sanic's own server")
        }
        _ => return None,
    };
    Some(ServerCommand {
        argv: words,
        env,
        server,
    })
}

/// A server's command line and the environment it needs.
struct ServerCommand {
    argv: Vec<String>,
    env: Vec<(String, String)>,
    server: &'static str,
}

/// uvicorn versions that brought `--factory` (0.13.0) and `--app-dir`
/// (0.11.6).
const UVICORN_FACTORY: &str = "0.13";
const UVICORN_APP_DIR: &str = "0.11.6";
/// The Sanic version whose `sanic` command takes `mod:app` (20.12.0);
/// before it, `python -m sanic mod.app` (a dotted path).
const SANIC_CLI: &str = "20.12";
/// The Sanic version that brought `--factory` (21.6.0).
const SANIC_FACTORY: &str = "21.6";

/// Sanic's own server for `app`, as the installed Sanic starts it.
fn sanic_command(ctx: &AppContext, app: &AppObject, port: &str) -> Option<Vec<String>> {
    let argv = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();
    if ctx.at_least("sanic", SANIC_CLI) {
        let plain = format!("{}:{}", app.module, app.name);
        let mut words = argv(&["sanic", &plain, "--host", "0.0.0.0", "--port", port]);
        if app.factory {
            if !ctx.at_least("sanic", SANIC_FACTORY) {
                return None;
            }
            words.push("--factory".into());
        }
        return Some(words);
    }
    // Older Sanic: `python -m sanic` takes the app's dotted path.
    if app.factory {
        return None;
    }
    let dotted = format!("{}.{}", app.module, app.name);
    Some(argv(&[
        "python",
        "-m",
        "sanic",
        &dotted,
        "--host=0.0.0.0",
        &format!("--port={port}"),
    ]))
}

pub fn claim(ctx: &AppContext) -> Result<Option<Claim>> {
    let objects = app_objects(ctx)?;
    if objects.is_empty() {
        return Ok(None);
    }
    Ok(Some(served(ctx, &objects)))
}

/// A Flask app's instance folder (`instance/`, next to the package) is
/// written to when the app uses it: made writable.
pub fn with_instance_folder(ctx: &AppContext, claim: Claim) -> Claim {
    let Ok(objects) = app_objects(ctx) else {
        return claim;
    };
    let flask_modules: Vec<&AppObject> =
        objects.iter().filter(|o| o.framework == "Flask").collect();
    if flask_modules.is_empty() {
        return claim;
    }
    let uses_instance = ctx.dir.join("instance").is_dir()
        || flask_modules.iter().any(|o| {
            let path = o.module.replace('.', "/");
            let root = if o.in_src { "src/" } else { "" };
            [
                format!("{root}{path}.py"),
                format!("{root}{path}/__init__.py"),
            ]
            .iter()
            .filter_map(|f| ctx.read(f))
            .any(|t| t.contains("instance_path") || t.contains("instance_relative_config"))
        });
    if uses_instance {
        claim.writable("instance", "the Flask app uses its instance folder".into())
    } else {
        claim
    }
}

/// The claim of the first app a server can run; else the claim of the
/// first app wanting the production server of its kind (gunicorn, uvicorn),
/// which starts without it only on Flask's own server.
fn served(ctx: &AppContext, objects: &[AppObject]) -> Claim {
    for app in objects {
        let Some(first) = server_command(ctx, app, 0) else {
            continue;
        };
        let app = app.clone();
        let server_package = match first.server {
            "Sanic's own server" => "sanic",
            "waitress" => "waitress",
            other => other,
        };
        let by = if first.server == "uvicorn" && ctx.installed.version("uvicorn").is_none() {
            "uvicorn (an extra of fastapi in the dependencies)".to_string()
        } else {
            ctx.described(server_package)
        };
        let rule = match first.server {
            "Sanic's own server" => format!("{} with Sanic's own server ({by})", app.describe()),
            _ => format!("{} with {by}", app.describe()),
        };
        let ctx_copy = OwnedContext::of(ctx);
        return Claim::new(rule, move |port| {
            let command = ctx_copy
                .with(|ctx| server_command(ctx, &app, port))
                .expect("checked");
            let mut start = Start::argv(command.argv);
            start.env = command.env;
            start
        });
    }
    let app = objects[0].clone();
    let wanted = match app.kind {
        Kind::Wsgi => "gunicorn",
        Kind::Asgi => "uvicorn",
    };
    // Flask's own (dev) server while no production server is installed.
    if let Some(flask) = objects.iter().find(|o| o.framework == "Flask") {
        let flask = flask.clone();
        let with_app_option = ctx.at_least("flask", FLASK_APP_OPTION);
        let mut claim = Claim::new(
            format!(
                "{} with flask run (no WSGI server installed; Flask {})",
                flask.describe(),
                match ctx.installed.version("flask") {
                    Some(v) => format!(
                        "{v} {}",
                        if with_app_option {
                            "takes --app"
                        } else {
                            "takes FLASK_APP"
                        }
                    ),
                    None => "current".into(),
                }
            ),
            move |port| flask_run(&flask, port, with_app_option),
        )
        .port(5000)
        .wanting(wanted);
        claim.warnings.push(
            "the app is served by Flask's development server: add gunicorn to the dependencies (or pass --server gunicorn) for a production one"
                .into(),
        );
        return claim;
    }
    let mut claim = Claim::new(
        format!("{} with {wanted} (no server installed)", app.describe()),
        |_| Start::argv(Vec::new()),
    )
    .wanting(wanted);
    claim.starts_without_server = false;
    claim
}

/// The Flask version whose `flask` command takes `--app`; before it, the
/// app is named by `FLASK_APP`.
const FLASK_APP_OPTION: &str = "2.2";

/// `flask run` of `app` on every address, naming the app as the
/// installed Flask takes it.
fn flask_run(app: &AppObject, port: u16, with_app_option: bool) -> Start {
    let port = port.to_string();
    let mut argv: Vec<String> = vec!["flask".into()];
    if with_app_option {
        argv.extend(["--app".into(), app.module.clone()]);
    }
    argv.extend(["run", "--host", "0.0.0.0", "--port", &port].map(String::from));
    let mut start = Start::argv(argv);
    if !with_app_option {
        start.env.push(("FLASK_APP".into(), app.module.clone()));
    }
    if app.in_src {
        start.env.push(("PYTHONPATH".into(), "/app/src".into()));
    }
    start
}

/// What a claim's command needs of the context once the context is gone.
struct OwnedContext {
    dir: PathBuf,
    pyproject: crate::project::pyproject::Pyproject,
    dependencies: Vec<String>,
    installed: super::common::Installed,
}

impl OwnedContext {
    fn of(ctx: &AppContext) -> OwnedContext {
        OwnedContext {
            dir: ctx.dir.to_path_buf(),
            pyproject: ctx.pyproject.clone(),
            dependencies: ctx.dependencies.to_vec(),
            installed: ctx.installed.clone(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&AppContext) -> T) -> T {
        f(&AppContext {
            dir: &self.dir,
            pyproject: &self.pyproject,
            dependencies: &self.dependencies,
            installed: &self.installed,
        })
    }
}
