//! A `Dockerfile` (or `Containerfile`) in the app dir: its final stage's
//! `ENTRYPOINT`/`CMD` say how the app starts, `EXPOSE` (or `ENV PORT`) the
//! port, `ENV` what it needs. They are strong hints; pypack runs none of the
//! file's other steps, and says which lines it used.

use super::common::{AppContext, Claim, Start, leading_number};
use super::declared::{Stage, read_stage};
use crate::project::decided::Decided;
use anyhow::Result;

/// Programs a command may start with for pypack to run it as it is.
const RUNNABLE: &[&str] = &[
    "python",
    "gunicorn",
    "uvicorn",
    "hypercorn",
    "daphne",
    "granian",
    "fastapi",
    "flask",
    "streamlit",
    "waitress-serve",
    "sanic",
    "panel",
    "bokeh",
    "litestar",
    "gradio",
    "celery",
    "twistd",
    "uwsgi",
    "chainlit",
];

/// How the final stage starts the app, as pypack can run it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    /// Exec form: the words as they are.
    Exec(Vec<String>),
    /// Shell form (`sh -c` of a script): a command chain for pypack's
    /// launcher (or one plain command), expansions and all.
    Shell(String),
}

/// The command to run without a shell: exec form as it is; a `sh -c`
/// script when it is a chain pypack's launcher runs (`&&`, `;`, `cd`,
/// `VAR=x`, parameter expansions; no pipes or substitutions). Either way
/// the program that serves must be one pypack knows.
fn runnable(stage: &Stage) -> Option<Command> {
    let argv: Vec<String> = stage.entrypoint.iter().chain(&stage.cmd).cloned().collect();
    let program = |w: &str| w.rsplit('/').next().unwrap_or(w).to_string();
    let known = |word: &str| {
        let first = program(word);
        let base = first.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
        let name = if base == "python" {
            "python".to_string()
        } else {
            first.clone()
        };
        RUNNABLE.contains(&base).then_some(name)
    };
    if argv.len() >= 3
        && matches!(program(&argv[0]).as_str(), "sh" | "bash" | "dash")
        && argv[1] == "-c"
    {
        let script = argv[2].trim().to_string();
        let steps = crate::project::chain::parse(&script).ok()?;
        let last = steps.iter().rev().find(|s| !s.argv.is_empty())?;
        known(&last.argv[0])?;
        return Some(Command::Shell(script));
    }
    let mut argv = argv;
    argv[0] = known(argv.first()?)?;
    Some(Command::Exec(argv))
}

/// `text` with the Dockerfile's WORKDIR `dir` as pypack's /app.
fn at_app(text: &str, dir: Option<&str>) -> String {
    let Some(dir) = dir else {
        return text.to_string();
    };
    let mut out = text.replace(&format!("{dir}/"), "/app/");
    for end in [" ", ";", "&", ""] {
        let from = format!(" {dir}{end}");
        if end.is_empty() {
            if let Some(stripped) = out.strip_suffix(&format!(" {dir}")) {
                out = format!("{stripped} /app");
            }
        } else {
            out = out.replace(&from, &format!(" /app{end}"));
        }
    }
    out
}

pub fn claim(ctx: &AppContext) -> Result<Option<Claim>> {
    let Some((file, stage)) = read_stage(ctx) else {
        return Ok(None);
    };
    let Some(command) = runnable(&stage) else {
        return Ok(None);
    };
    let workdir = stage
        .workdir
        .clone()
        .filter(|w| w != "/app" && !w.is_empty());
    const OURS: &[&str] = &[
        "PATH",
        "VIRTUAL_ENV",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "PORT",
        "HOME",
    ];
    let env: Vec<(String, String)> = stage
        .env
        .iter()
        .filter(|(k, _)| !OURS.contains(&k.as_str()))
        .cloned()
        .collect();
    let rule = format!("{file}: {}", stage.lines.join(" + "));
    let launch = {
        let command = command.clone();
        move |port: u16| -> Start {
            // The app lives at /app in pypack's image, wherever the Dockerfile put it.
            let dir = workdir.as_deref();
            match &command {
                Command::Exec(argv) => Start::argv(
                    argv.iter()
                        .map(|w| crate::project::chain::substitute_port(&at_app(w, dir), port))
                        .collect(),
                ),
                Command::Shell(script) => {
                    super::common::start_from_line(&at_app(script, dir), port)
                        .expect("parsed when claimed")
                }
            }
        }
    };
    let web = stage.expose.is_some() || launch(8000).serves_http;
    let mut claim = Claim::new(rule, move |port| {
        let mut start = launch(port);
        start.env.extend(env.iter().cloned());
        start
    });
    claim.web = web;
    claim.warnings.push(format!(
        "the command comes from the {file}'s final stage; pypack runs none of its other instructions (RUN, COPY…)"
    ));
    Ok(Some(claim))
}

pub fn port(ctx: &AppContext) -> Result<Option<Decided<u16>>> {
    let Some((file, stage)) = read_stage(ctx) else {
        return Ok(None);
    };
    if let Some(port) = stage.expose {
        return Ok(Some(Decided {
            value: port,
            rule: format!("EXPOSE in {file}"),
        }));
    }
    let env_port = stage
        .env
        .iter()
        .find(|(k, _)| k == "PORT")
        .and_then(|(_, v)| leading_number(v));
    Ok(env_port.map(|port| Decided {
        value: port,
        rule: format!("ENV PORT in {file}"),
    }))
}

#[cfg(test)]
mod tests {
    use super::super::declared::parse;
    use super::*;

    #[test]
    fn final_stage_exec_and_shell_forms() {
        let text = "FROM python:3.12 AS build\nCMD [\"echo\", \"builder\"]\n\nFROM python:3.12-slim\nWORKDIR /code\nENV APP_MODE=prod \\\n    OTHER=\"a b\"\nENV PORT 9000\nEXPOSE 9000/tcp\nCMD [\"uvicorn\", \"app.main:app\", \"--host\", \"0.0.0.0\", \"--port\", \"9000\"]\n";
        let stage = parse(text);
        assert_eq!(stage.cmd[0], "uvicorn");
        assert_eq!(stage.expose, Some(9000));
        assert_eq!(stage.workdir.as_deref(), Some("/code"));
        assert_eq!(
            stage.env,
            [
                ("APP_MODE".to_string(), "prod".to_string()),
                ("OTHER".to_string(), "a b".to_string()),
                ("PORT".to_string(), "9000".to_string())
            ]
        );
        let Some(Command::Exec(argv)) = runnable(&stage) else {
            panic!("exec form")
        };
        assert_eq!(argv[1], "app.main:app");

        let shell = parse("FROM python:3.11\nCMD exec gunicorn --bind 0.0.0.0:$PORT app:app\n");
        assert_eq!(
            runnable(&shell),
            Some(Command::Shell(
                "exec gunicorn --bind 0.0.0.0:$PORT app:app".into()
            ))
        );
        // A chain runs through the launcher; a pipe needs a shell.
        let chain = parse("FROM python:3.11\nCMD python manage.py migrate && gunicorn x.wsgi\n");
        assert!(matches!(runnable(&chain), Some(Command::Shell(_))));
        let pipe = parse("FROM python:3.11\nCMD gunicorn x.wsgi | tee log\n");
        assert_eq!(runnable(&pipe), None);
        let script = parse("FROM python:3.11\nENTRYPOINT [\"./start.sh\"]\n");
        assert_eq!(runnable(&script), None);
        let python = parse(
            "FROM python:3.11\nENTRYPOINT [\"/usr/local/bin/python3.11\"]\nCMD [\"app.py\"]\n",
        );
        assert_eq!(
            runnable(&python),
            Some(Command::Exec(vec!["python".into(), "app.py".into()]))
        );
        assert_eq!(
            at_app(
                "cd /code && gunicorn -c /code/conf.py app:app",
                Some("/code")
            ),
            "cd /app && gunicorn -c /app/conf.py app:app"
        );
    }
}
