//! Django projects: `manage.py` names the settings module
//! (`DJANGO_SETTINGS_MODULE`), whose `WSGI_APPLICATION`/`ASGI_APPLICATION`
//! is what a production server loads. With no server in the dependencies,
//! `manage.py runserver`, with a warning.

use super::{AppContext, Claim, Start, words};
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
    let valid = !value.is_empty()
        && value
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'));
    valid.then(|| value.to_string())
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
    let settings_module = settings_module_in(&manage)?;
    let path = settings_module.replace('.', "/");
    let mut settings_text = ctx.read(&format!("{path}.py")).unwrap_or_default();
    if settings_text.is_empty()
        && let Ok(entries) = std::fs::read_dir(ctx.dir.join(&path))
    {
        // A settings package (`settings/base.py`, `settings/production.py`…).
        let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for file in files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "py"))
        {
            settings_text.push_str(&crate::project::text_if_regular(file).unwrap_or_default());
            settings_text.push('\n');
        }
    }
    let package = settings_module
        .split('.')
        .next()
        .unwrap_or(&settings_module)
        .to_string();
    let wsgi = setting_target(&settings_text, "WSGI_APPLICATION")
        .unwrap_or(format!("{package}.wsgi:application"));
    let asgi = setting_target(&settings_text, "ASGI_APPLICATION").or_else(|| {
        ctx.dir
            .join(&package)
            .join("asgi.py")
            .is_file()
            .then(|| format!("{package}.asgi:application"))
    });
    Some(DjangoProject {
        settings_module,
        settings_text,
        wsgi,
        asgi,
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
    Ok(Some(server_claim(ctx, &project)?))
}

/// What a Django project adds to whichever provider decided its command:
/// collectstatic at build time when the settings name a STATIC_ROOT, the
/// smoke run's Host, and the word on migrations.
pub fn with_django_extras(mut claim: Claim, project: &DjangoProject) -> Claim {
    if project.settings_text.contains("STATIC_ROOT") {
        claim.steps.push(super::BuildStep::Collectstatic {
            settings_module: project.settings_module.clone(),
        });
    }
    claim.smoke_host = smoke_host(&project.settings_text);
    for (setting, dir) in written_dirs(&project.settings_text) {
        match dir {
            Some(dir) => claim = claim.writable(&dir, format!("{setting} in the Django settings")),
            None => claim.warnings.push(format!(
                "{setting} in the Django settings is a file right in the app directory, which stays read-only: SQLite writes beside its file, so put it in a directory (e.g. BASE_DIR / \"data\" / \"db.sqlite3\") or list it in [tool.pypack] writable"
            )),
        }
    }
    claim.warnings.push(
        "Django migrations are not run at build time (there is no database then): run `python manage.py migrate` where you deploy (a Procfile release: line, a job)"
            .into(),
    );
    claim
}

fn server_claim(ctx: &AppContext, project: &DjangoProject) -> Result<Claim> {
    let about = format!(
        "Django: manage.py sets DJANGO_SETTINGS_MODULE={}",
        project.settings_module
    );
    if ctx.has("gunicorn") {
        let wsgi = project.wsgi.clone();
        let rule = format!("{about}; gunicorn from the dependencies runs WSGI_APPLICATION {wsgi}");
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
            let rule = format!("{about}; {server} from the dependencies runs {asgi}");
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
        format!("{about}; no WSGI/ASGI server in the dependencies, so manage.py runserver"),
        |port| {
            Start::argv(words(&[
                "python",
                "manage.py",
                "runserver",
                &format!("0.0.0.0:{port}"),
                "--noreload",
            ]))
        },
    );
    claim.warnings.push(
        "the Django app is served by its development server (manage.py runserver): add gunicorn to the dependencies (or pass --server gunicorn) for a production one"
            .into(),
    );
    Ok(claim)
}
