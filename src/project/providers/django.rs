//! Django projects: `manage.py` names the settings module
//! (`DJANGO_SETTINGS_MODULE`), whose `WSGI_APPLICATION`/`ASGI_APPLICATION`
//! is what a production server loads. With no server in the dependencies,
//! `manage.py runserver`, with a warning.

use super::common::{AppContext, Claim, Start, words};
use anyhow::Result;

/// What a Django project's files say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DjangoProject {
    /// `mysite.settings`
    pub settings_module: String,
    /// The settings' text (all files of a settings package, joined).
    pub settings_text: String,
    /// `mysite.wsgi:application`
    pub wsgi: String,
    pub asgi: Option<String>,
    /// How the settings module was found, for the rule.
    pub found_by: String,
    /// The image must set `DJANGO_SETTINGS_MODULE` (manage.py does not).
    pub set_env: bool,
}

/// The value of `DJANGO_SETTINGS_MODULE` set in `text`.
fn settings_module_in(text: &str) -> Option<String> {
    let at = text.find("DJANGO_SETTINGS_MODULE")?;
    // Past the key's own closing quote, to the value's opening one.
    let rest = text[at + "DJANGO_SETTINGS_MODULE".len()..].trim_start_matches(['"', '\'']);
    let quote = rest.find(['"', '\''])?;
    let rest = &rest[quote..];
    let q = rest.chars().next()?;
    let value = rest[1..].split(q).next()?;
    dotted(value).then(|| value.to_string())
}

fn dotted(value: &str) -> bool {
    !value.is_empty()
        && value
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
}

/// The quoted dotted names in `text` (`'x.production'`, `"x.settings"`),
/// each with whether an `else` comes right before it.
fn dotted_literals(text: &str) -> Vec<(String, bool)> {
    let mut found = Vec::new();
    for q in ['"', '\''] {
        let parts: Vec<&str> = text.split(q).collect();
        // Odd parts are inside quotes (good enough for manage.py).
        for i in (1..parts.len()).step_by(2) {
            let value = parts[i];
            if dotted(value) && value.contains('.') {
                let after_else = parts[i - 1].trim_end().ends_with("else");
                found.push((value.to_string(), after_else));
            }
        }
    }
    found
}

/// Whether `module` is a module or package in the app.
fn module_exists(ctx: &AppContext, module: &str) -> bool {
    let path = module.replace('.', "/");
    ctx.dir.join(format!("{path}.py")).is_file()
        || ctx.dir.join(&path).join("__init__.py").is_file()
}

/// The settings module, and how it was found: the literal manage.py sets;
/// else, when manage.py computes it, the module it names (the `else`
/// branch's first: the one used where nothing special is set); else a
/// settings module in the app holding `ROOT_URLCONF`.
fn find_settings(ctx: &AppContext, manage: &str) -> Option<(String, String, bool)> {
    if let Some(literal) = settings_module_in(manage).filter(|m| module_exists(ctx, m)) {
        return Some((
            literal.clone(),
            format!("manage.py sets DJANGO_SETTINGS_MODULE={literal}"),
            false,
        ));
    }
    let mut named: Vec<(String, bool)> = dotted_literals(manage)
        .into_iter()
        .filter(|(m, _)| module_exists(ctx, m))
        .collect();
    named.sort_by_key(|(_, after_else)| !after_else);
    if let Some((module, _)) = named.first() {
        return Some((
            module.clone(),
            format!(
                "manage.py computes DJANGO_SETTINGS_MODULE; {module} is the one it names by default"
            ),
            false,
        ));
    }
    if let Some(found) = settings_holding_urlconf(ctx) {
        return Some((
            found.clone(),
            format!("manage.py does not name the settings; {found} holds ROOT_URLCONF"),
            true,
        ));
    }
    // A literal naming a module pypack cannot see (a path manage.py adds).
    let literal = settings_module_in(manage)?;
    Some((
        literal.clone(),
        format!("manage.py sets DJANGO_SETTINGS_MODULE={literal}"),
        false,
    ))
}

/// `pkg.settings` for the first top-level package whose `settings.py`
/// (or `settings/` package) sets `ROOT_URLCONF`.
fn settings_holding_urlconf(ctx: &AppContext) -> Option<String> {
    let mut packages: Vec<String> = std::fs::read_dir(ctx.dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    packages.sort();
    packages.into_iter().find_map(|package| {
        let module = format!("{package}.settings");
        let text = settings_text(ctx, &module);
        text.lines()
            .any(|l| l.trim_start().starts_with("ROOT_URLCONF"))
            .then_some(module)
    })
}

/// The settings' text: the module, or all files of a settings package.
fn settings_text(ctx: &AppContext, settings_module: &str) -> String {
    let path = settings_module.replace('.', "/");
    let mut text = ctx.read(&format!("{path}.py")).unwrap_or_default();
    if text.is_empty()
        && let Ok(entries) = std::fs::read_dir(ctx.dir.join(&path))
    {
        // A settings package (`settings/base.py`, `settings/production.py`…).
        let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for file in files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "py"))
        {
            text.push_str(&crate::project::text::text_if_regular(file).unwrap_or_default());
            text.push('\n');
        }
    }
    text
}

/// `'mysite.wsgi.application'` → `mysite.wsgi:application`.
fn setting_target(settings: &str, name: &str) -> Option<String> {
    let line = settings
        .lines()
        .find(|l| l.trim_start().starts_with(name) && l.contains('='))?;
    let value = line
        .split_once('=')?
        .1
        .trim()
        .trim_matches(['"', '\'', ' ']);
    let (module, object) = value.rsplit_once('.')?;
    Some(format!("{module}:{object}"))
}

pub fn project(ctx: &AppContext) -> Option<DjangoProject> {
    let manage = ctx.read("manage.py")?;
    let (settings_module, found_by, set_env) = find_settings(ctx, &manage)?;
    let mut text = settings_text(ctx, &settings_module);
    // Settings that build on others (`from .settings import *`): theirs too.
    let package = settings_module
        .split('.')
        .next()
        .unwrap_or(&settings_module)
        .to_string();
    if !text.contains("ROOT_URLCONF")
        && let Some((parent, _)) = settings_module.rsplit_once('.')
    {
        for base in ["settings", "base"] {
            let other = format!("{parent}.{base}");
            if other != settings_module && module_exists(ctx, &other) {
                text.push_str(&settings_text(ctx, &other));
            }
        }
    }
    let wsgi =
        setting_target(&text, "WSGI_APPLICATION").unwrap_or(format!("{package}.wsgi:application"));
    let asgi = setting_target(&text, "ASGI_APPLICATION").or_else(|| {
        ctx.dir
            .join(&package)
            .join("asgi.py")
            .is_file()
            .then(|| format!("{package}.asgi:application"))
    });
    Some(DjangoProject {
        settings_module,
        settings_text: text,
        wsgi,
        asgi,
        found_by,
        set_env,
    })
}

/// The first host a literal `ALLOWED_HOSTS = [...]` accepts, for the smoke
/// run's `Host` header: `localhost` when it (or `*`) is allowed.
pub fn smoke_host(settings: &str) -> Option<String> {
    let line = settings
        .lines()
        .find(|l| l.trim_start().starts_with("ALLOWED_HOSTS") && l.contains('['))?;
    let list = line.split_once('[')?.1.split(']').next()?;
    let hosts: Vec<&str> = list
        .split(',')
        .map(|h| h.trim().trim_matches(['"', '\'']))
        .filter(|h| !h.is_empty())
        .collect();
    if hosts.is_empty() || hosts.iter().any(|h| *h == "*" || *h == "localhost") {
        return Some("localhost".into());
    }
    Some(hosts[0].trim_start_matches('.').replace('*', "x"))
}

/// Directories the settings write to: a SQLite database's directory and
/// MEDIA_ROOT, when written as `BASE_DIR / "dir" / …` or
/// `os.path.join(BASE_DIR, "dir", …)`; `None` for a database file right in
/// BASE_DIR.
fn written_dirs(settings: &str) -> Vec<(&'static str, Option<String>)> {
    let parts = |line: &str| -> Option<Vec<String>> {
        let value = line.split_once(['=', ':'])?.1;
        let at = value.find("BASE_DIR")?;
        let rest = &value[at + "BASE_DIR".len()..];
        let parts: Vec<String> = rest
            .split(['/', ','])
            .map(|p| {
                p.trim()
                    .trim_end_matches([')', ',', '}'])
                    .trim()
                    .trim_matches(['"', '\''])
                    .to_string()
            })
            .filter(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
            })
            .collect();
        (!parts.is_empty()).then_some(parts)
    };
    let mut out = Vec::new();
    let sqlite = settings.contains("sqlite3");
    for line in settings.lines().map(str::trim) {
        if sqlite && line.starts_with(['"', '\'']) && line.contains("NAME")
            || sqlite && line.starts_with("NAME")
        {
            if let Some(parts) = parts(line) {
                out.push((
                    "the SQLite database's NAME",
                    (parts.len() > 1).then(|| parts[..parts.len() - 1].join("/")),
                ));
            }
        } else if line.starts_with("MEDIA_ROOT")
            && let Some(parts) = parts(line)
        {
            out.push(("MEDIA_ROOT", Some(parts.join("/"))));
        }
    }
    out
}

pub fn claim(ctx: &AppContext) -> Result<Option<Claim>> {
    let Some(project) = project(ctx) else {
        return Ok(None);
    };
    let mut claim = server_claim(ctx, &project)?;
    if project.set_env {
        // manage.py does not say which settings: the image does.
        let launch = claim.launch;
        let settings = project.settings_module.clone();
        claim.launch = Box::new(move |port| {
            let mut start = launch(port);
            start
                .env
                .push(("DJANGO_SETTINGS_MODULE".into(), settings.clone()));
            start
        });
    }
    Ok(Some(claim))
}

/// What a Django project adds to whichever provider decided its command:
/// collectstatic at build time when the settings name a STATIC_ROOT, the
/// smoke run's Host, and the word on migrations.
/// Said of a Django app unless its command runs `migrate` itself.
pub const MIGRATIONS_NOTE: &str = "Django migrations are not run at build time (there is no database then): run `python manage.py migrate` where you deploy (a Procfile release: line, a job)";

pub fn with_django_extras(mut claim: Claim, project: &DjangoProject) -> Claim {
    if project.settings_text.contains("STATIC_ROOT") {
        claim.steps.push(super::common::BuildStep::Collectstatic {
            settings_module: project.settings_module.clone(),
        });
    }
    claim.smoke_host = smoke_host(&project.settings_text);
    for (setting, dir) in written_dirs(&project.settings_text) {
        match dir {
            Some(dir) => claim = claim.writable(&dir, format!("{setting} in the Django settings")),
            None => {
                claim = claim.writable(
                    ".",
                    format!(
                        "{setting} in the Django settings is a file right in the app directory"
                    ),
                );
                claim.warnings.push(format!(
                    "{setting} in the Django settings is a file right in the app directory, so /app itself is writable to the app (SQLite writes beside its file); a directory of its own (e.g. BASE_DIR / \"data\" / \"db.sqlite3\") keeps the code read-only"
                ));
            }
        }
    }
    claim.warnings.push(MIGRATIONS_NOTE.into());
    claim
}

fn server_claim(ctx: &AppContext, project: &DjangoProject) -> Result<Claim> {
    let about = format!("Django: {}", project.found_by);
    if ctx.has("gunicorn") {
        let wsgi = project.wsgi.clone();
        let rule = format!(
            "{about}; {} runs WSGI_APPLICATION {wsgi}",
            ctx.described("gunicorn")
        );
        return Ok(Claim::new(rule, move |port| {
            Start::argv(words(&[
                "gunicorn",
                "--bind",
                &format!("0.0.0.0:{port}"),
                &wsgi,
            ]))
        }));
    }
    if let Some(asgi) = project.asgi.clone() {
        for server in ["uvicorn", "daphne", "hypercorn"] {
            if !ctx.has(server) {
                continue;
            }
            let rule = format!("{about}; {} runs {asgi}", ctx.described(server));
            let asgi = asgi.clone();
            return Ok(Claim::new(rule, move |port| {
                let port = port.to_string();
                Start::argv(match server {
                    "uvicorn" => words(&["uvicorn", &asgi, "--host", "0.0.0.0", "--port", &port]),
                    "daphne" => words(&["daphne", "-b", "0.0.0.0", "-p", &port, &asgi]),
                    _ => words(&["hypercorn", "--bind", &format!("0.0.0.0:{port}"), &asgi]),
                })
            }));
        }
    }
    let mut claim = Claim::new(
        format!("{about}; no WSGI/ASGI server installed, so manage.py runserver"),
        |port| {
            Start::argv(words(&[
                "python",
                "manage.py",
                "runserver",
                &format!("0.0.0.0:{port}"),
                "--noreload",
            ]))
        },
    )
    .wanting("gunicorn");
    claim.warnings.push(
        "the Django app is served by its development server (manage.py runserver): add gunicorn to the dependencies (or pass --server gunicorn) for a production one"
            .into(),
    );
    Ok(claim)
}
