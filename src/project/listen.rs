//! Where a command listens, as a container needs it: a port below 1024
//! moved up (the image's user cannot bind it), and every address for the
//! servers whose default is loopback (uvicorn, hypercorn, daphne, granian,
//! `flask run`) when the command names none. Both work on the command's
//! words, in each step of a launcher chain too.

use super::providers::Start;

/// Applies `change` to the words of the command (each step's, for a
/// launcher chain); whether any changed.
fn each_command(start: &mut Start, change: &mut dyn FnMut(&mut Vec<String>) -> bool) -> bool {
    if !start.launcher {
        return change(&mut start.argv);
    }
    let mut changed = false;
    if let Some(json) = start.argv.get_mut(2)
        && let Ok(mut steps) = serde_json::from_str::<Vec<super::chain::Step>>(json)
    {
        for step in &mut steps {
            changed |= change(&mut step.argv);
        }
        if changed {
            *json = serde_json::to_string(&steps).expect("steps serialize");
        }
    }
    changed
}

/// `start` with the literal port `from` in its flags and binds (`-b
/// 0.0.0.0:80`, `--port 80`, `--port=80`) replaced by `to`, in each step of
/// a launcher chain too, and in `*PORT` environment values.
pub fn moved_port(mut start: Start, from: u16, to: u16) -> Start {
    each_command(&mut start, &mut |words| {
        move_port_words(words, from, to);
        true
    });
    for (name, value) in &mut start.env {
        if name.ends_with("PORT") && *value == from.to_string() {
            *value = to.to_string();
        }
    }
    start
}

/// Flags whose value is a port.
const PORT_FLAGS: &[&str] = &[
    "--port",
    "-p",
    "--server.port",
    "--server-port",
    "--server_port",
];

fn move_port_words(words: &mut [String], from: u16, to: u16) {
    let (from, to) = (from.to_string(), to.to_string());
    for i in 0..words.len() {
        let word = &words[i];
        let after_flag = i > 0 && PORT_FLAGS.contains(&words[i - 1].as_str());
        let replaced = if after_flag && *word == from {
            Some(to.clone())
        } else if let Some((flag, value)) = word.split_once('=')
            && value == from
            && PORT_FLAGS.contains(&flag)
        {
            Some(format!("{flag}={to}"))
        } else if let Some(host) = word.strip_suffix(&format!(":{from}"))
            && (host.is_empty()
                || host.ends_with("0.0.0.0")
                || host.ends_with("[::]")
                || host.ends_with('*')
                || host.ends_with("localhost")
                || host.ends_with("127.0.0.1"))
        {
            Some(format!("{host}:{to}"))
        } else {
            None
        };
        if let Some(replaced) = replaced {
            words[i] = replaced;
        }
    }
}

/// The server a command runs (`python -m uvicorn` counts as `uvicorn`)
/// and where its arguments start.
fn server_of(words: &[String]) -> Option<(&str, usize)> {
    let first = words.first()?;
    let program = first.rsplit('/').next().unwrap_or(first);
    if program.starts_with("python") {
        let at = words.iter().position(|w| w == "-m")?;
        return Some((words.get(at + 1)?.as_str(), at + 2));
    }
    Some((program, 1))
}

/// Whether one of `flags` is among `words` (as `--flag value` or `--flag=value`).
fn has_flag(words: &[String], flags: &[&str]) -> bool {
    words.iter().any(|w| {
        flags
            .iter()
            .any(|f| w == f || w.starts_with(&format!("{f}=")))
    })
}

/// `start` listening on every address where its server would listen on
/// loopback alone, and what was added, for the rule.
pub fn everywhere(mut start: Start, port: u16) -> (Start, Option<String>) {
    let env_says = |name: &str| start.env.iter().any(|(k, _)| k == name);
    let set_by_env = env_says("UVICORN_HOST") || env_says("FLASK_RUN_HOST");
    let mut added: Option<String> = None;
    each_command(&mut start, &mut |words| {
        let Some((server, args)) = server_of(words) else {
            return false;
        };
        let (flags, insert): (&[&str], Vec<String>) = match server {
            "uvicorn" if !set_by_env => (
                &["--host", "--uds", "--fd"],
                vec!["--host".into(), "0.0.0.0".into()],
            ),
            "granian" => (
                &["--host", "--uds"],
                vec!["--host".into(), "0.0.0.0".into()],
            ),
            "hypercorn" => (
                &["-b", "--bind"],
                vec!["--bind".into(), format!("0.0.0.0:{port}")],
            ),
            "daphne" => (
                &[
                    "-b",
                    "--bind",
                    "-u",
                    "--unix-socket",
                    "-e",
                    "--endpoint",
                    "--fd",
                ],
                vec!["-b".into(), "0.0.0.0".into()],
            ),
            "flask" if !set_by_env && words.iter().any(|w| w == "run") => {
                (&["--host", "-h"], vec!["--host".into(), "0.0.0.0".into()])
            }
            _ => return false,
        };
        if has_flag(&words[args.min(words.len())..], flags) {
            return false;
        }
        added = Some(format!(
            "{} added: {server} listens on 127.0.0.1 unless told, which nothing outside the container reaches",
            insert.join(" ")
        ));
        words.extend(insert);
        true
    });
    (start, added)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn servers_on_loopback_by_default_are_told_every_address() {
        let (start, added) = everywhere(Start::argv(words("uvicorn --port=8000 main:app")), 8000);
        assert_eq!(
            start.argv,
            words("uvicorn --port=8000 main:app --host 0.0.0.0")
        );
        assert!(added.unwrap().contains("uvicorn listens on 127.0.0.1"));
        let (start, added) = everywhere(
            Start::argv(words("python -m uvicorn main:app --host=0.0.0.0")),
            8000,
        );
        assert_eq!(
            start.argv,
            words("python -m uvicorn main:app --host=0.0.0.0")
        );
        assert_eq!(added, None);
        let (start, _) = everywhere(Start::argv(words("hypercorn main:app")), 9000);
        assert_eq!(start.argv, words("hypercorn main:app --bind 0.0.0.0:9000"));
        // gunicorn binds 0.0.0.0:$PORT by itself when PORT is set.
        let (start, added) = everywhere(Start::argv(words("gunicorn app:app")), 8000);
        assert_eq!((start.argv, added), (words("gunicorn app:app"), None));
        let mut flask = Start::argv(words("flask run"));
        flask.env.push(("FLASK_RUN_HOST".into(), "0.0.0.0".into()));
        assert_eq!(everywhere(flask, 8000).1, None);
        // A step of a launcher chain.
        let chain = crate::project::providers::start_from_line(
            "python manage.py migrate && daphne mysite.asgi:application",
            8000,
        )
        .unwrap();
        let (start, added) = everywhere(chain, 8000);
        assert!(
            start.argv[2].contains(r#""daphne","mysite.asgi:application","-b","0.0.0.0""#),
            "{}",
            start.argv[2]
        );
        assert!(added.is_some());
    }

    #[test]
    fn a_privileged_port_moves_in_flags_binds_and_env() {
        let mut start = Start::argv(words("gunicorn -b 0.0.0.0:80 --workers 2 app:app"));
        start.env.push(("GRADIO_SERVER_PORT".into(), "80".into()));
        let moved = moved_port(start, 80, 8080);
        assert_eq!(
            moved.argv,
            words("gunicorn -b 0.0.0.0:8080 --workers 2 app:app")
        );
        assert_eq!(moved.env[0].1, "8080");
        let moved = moved_port(
            Start::argv(words("uvicorn main:app --port 80 --host 0.0.0.0")),
            80,
            8080,
        );
        assert_eq!(
            moved.argv,
            words("uvicorn main:app --port 8080 --host 0.0.0.0")
        );
        let moved = moved_port(
            Start::argv(words("streamlit run app.py --server.port=443")),
            443,
            8443,
        );
        assert_eq!(moved.argv[3], "--server.port=8443");
    }
}
