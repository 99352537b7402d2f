//! Command chains without a shell: a Procfile line or `[tool.pypack] cmd`
//! such as `cd src && python manage.py migrate && gunicorn site.wsgi` is
//! split into steps that pypack's launcher (`templates/image/launch.py`, a
//! Python script in the image) runs in order, as a shell would for these few
//! forms: `&&`, `||`, `;`, `cd DIR`, `VAR=value cmd`, `export VAR=value`,
//! `exec cmd`, and `$VAR`, `${VAR}`, `${VAR:-w}`, `${VAR-w}`, `${VAR:+w}`,
//! `${VAR+w}`, `${VAR:=w}`, `${VAR=w}` (expanded when the step runs; an
//! argument made only of expansions that comes out empty is dropped, as a
//! shell drops an unquoted one).
//! Anything else a shell does (pipes, redirections, substitutions,
//! background jobs, scripts run by `sh`) is refused with what to do instead.

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where the launcher lives in the image (written by the app layer).
pub const LAUNCHER: &str = "/app/.venv/pypack-launch.py";
/// The launcher's text.
pub const LAUNCHER_SCRIPT: &str = include_str!("../../templates/image/launch.py");

/// One step of a chain, as the launcher reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Step {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub argv: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub export: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cd: Option<String>,
    /// When it runs given the previous status: `&&`, `||` or `;`.
    pub after: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    /// `&&`, `||`, `;`
    Op(&'static str),
}

/// Words and operators of a command line, quotes respected; what needs a
/// real shell is an error.
fn tokens(text: &str) -> Result<Vec<Token>> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    let shell_only = |what: &str| -> Result<Vec<Token>> {
        bail!(
            "`{text}` uses {what}, which needs a shell, and the image has none; put the steps in a Python script and run that, or split them (a Procfile release: line is reported, not run)"
        )
    };
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            match c {
                c if c == q => quote = None,
                '\\' if q == '"' => word.extend(chars.next()),
                '`' if q == '"' => return shell_only("command substitution (`…`)"),
                '$' if q == '"' && chars.peek() == Some(&'(') => {
                    return shell_only("command substitution ($(…))");
                }
                c => word.push(c),
            }
            continue;
        }
        let flush = |out: &mut Vec<Token>, word: &mut String, in_word: &mut bool| {
            if *in_word {
                out.push(Token::Word(std::mem::take(word)));
                *in_word = false;
            }
        };
        match c {
            '\'' | '"' => {
                quote = Some(c);
                in_word = true;
            }
            '\\' => {
                word.extend(chars.next());
                in_word = true;
            }
            '&' if chars.peek() == Some(&'&') => {
                chars.next();
                flush(&mut out, &mut word, &mut in_word);
                out.push(Token::Op("&&"));
            }
            '|' if chars.peek() == Some(&'|') => {
                chars.next();
                flush(&mut out, &mut word, &mut in_word);
                out.push(Token::Op("||"));
            }
            ';' => {
                flush(&mut out, &mut word, &mut in_word);
                out.push(Token::Op(";"));
            }
            '|' => return shell_only("a pipe (|)"),
            '&' => return shell_only("a background job (&)"),
            '>' | '<' => return shell_only("a redirection (> or <)"),
            '`' => return shell_only("command substitution (`…`)"),
            '$' if chars.peek() == Some(&'(') => return shell_only("command substitution ($(…))"),
            c if c.is_whitespace() => flush(&mut out, &mut word, &mut in_word),
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        bail!("unterminated quote in `{text}`");
    }
    if in_word {
        out.push(Token::Word(word));
    }
    Ok(out)
}

fn is_assignment(word: &str) -> Option<(String, String)> {
    let (name, value) = word.split_once('=')?;
    let valid = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then(|| (name.to_string(), value.to_string()))
}

/// The steps of `text`; a chain of one plain command is one step.
pub fn parse(text: &str) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut after = ";";
    let tokens = tokens(text)?;
    let mut finish = |words: &mut Vec<String>, after: &str| -> Result<()> {
        if words.is_empty() {
            bail!("`{text}` has an empty step");
        }
        steps.push(step(std::mem::take(words), after, text)?);
        Ok(())
    };
    for token in tokens {
        match token {
            Token::Word(w) => words.push(w),
            Token::Op(op) => {
                finish(&mut words, after)?;
                after = op;
            }
        }
    }
    if !words.is_empty() || after != ";" {
        finish(&mut words, after)?;
    }
    if steps.is_empty() {
        bail!("the command is empty");
    }
    Ok(steps)
}

fn step(mut words: Vec<String>, after: &str, text: &str) -> Result<Step> {
    let mut step = Step {
        after: after.to_string(),
        ..Step::default()
    };
    if words[0] == "exec" {
        words.remove(0);
    }
    match words.first().map(String::as_str) {
        Some("cd") => {
            let [_, dir] = words.as_slice() else {
                bail!("`{text}`: cd takes one directory");
            };
            step.cd = Some(dir.clone());
            return Ok(step);
        }
        Some("export") => {
            for w in &words[1..] {
                let Some((k, v)) = is_assignment(w) else {
                    bail!("`{text}`: export {w} is not NAME=value");
                };
                step.export.insert(k, v);
            }
            return Ok(step);
        }
        _ => {}
    }
    while let Some((k, v)) = words.first().and_then(|w| is_assignment(w)) {
        step.env.insert(k, v);
        words.remove(0);
    }
    if words.is_empty() {
        // `VAR=value` alone sets it for what follows, as in a shell.
        step.export = std::mem::take(&mut step.env);
        return Ok(step);
    }
    let program = words[0].rsplit('/').next().unwrap_or(&words[0]);
    if matches!(program, "sh" | "bash" | "dash" | "zsh" | "source" | ".") {
        bail!(
            "`{text}` runs `{}` through a shell, and the image has none; do its work in Python, or at build time, and leave it out of the command",
            words.join(" ")
        );
    }
    step.argv = words;
    Ok(step)
}

/// Expands the POSIX parameter forms a Procfile or Dockerfile command
/// uses: `$V`, `${V}`, `${V:-w}`, `${V-w}`, `${V:+w}`, `${V+w}`, `${V:=w}`,
/// `${V=w}` (`w` expanded in turn), as the launcher does when the command
/// runs. `value` gives a variable's value (`None`: unset); `None` back
/// when the text names a variable `value` does not know (`Err(())` from it).
pub fn expand(
    text: &str,
    value: &dyn Fn(&str) -> std::result::Result<Option<String>, ()>,
) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(inner) = after.strip_prefix('{') {
            let end = closing_brace(inner)?;
            out.push_str(&parameter(&inner[..end], value)?);
            rest = &inner[end + 1..];
        } else {
            let name_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if name_len == 0 || after.starts_with(|c: char| c.is_ascii_digit()) {
                out.push('$');
                rest = after;
                continue;
            }
            out.push_str(&value(&after[..name_len]).ok()?.unwrap_or_default());
            rest = &after[name_len..];
        }
    }
    out.push_str(rest);
    Some(out)
}

/// Where the `}` that closes a `${` is, nested ones passed over.
fn closing_brace(text: &str) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return Some(i),
            '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// One `${…}`: the name, then an operator and its word.
fn parameter(
    inner: &str,
    value: &dyn Fn(&str) -> std::result::Result<Option<String>, ()>,
) -> Option<String> {
    let name_len = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let (name, op) = inner.split_at(name_len);
    let current = value(name).ok()?;
    let (colon, op) = match op.strip_prefix(':') {
        Some(op) => (true, op),
        None => (false, op),
    };
    // With `:`, an empty value counts as unset.
    let set = match &current {
        Some(v) => !(colon && v.is_empty()),
        None => false,
    };
    let word = |w: &str| expand(w, value);
    match op.chars().next() {
        None if !colon => Some(current.unwrap_or_default()),
        Some('-') | Some('=') => match set {
            true => current,
            false => word(&op[1..]),
        },
        Some('+') => match set {
            true => word(&op[1..]),
            false => Some(String::new()),
        },
        _ => None,
    }
}

/// `$PORT` in its every form becomes `port` (for a command that runs
/// without the launcher, at build time); other variables stay as written.
pub fn substitute_port(text: &str, port: u16) -> String {
    let port = port.to_string();
    expand(text, &|name| match name {
        "PORT" => Ok(Some(port.clone())),
        _ => Err(()),
    })
    .unwrap_or_else(|| text.to_string())
}

/// Whether `text` expands with `PORT` alone known.
fn only_port(text: &str) -> bool {
    expand(text, &|name| match name {
        "PORT" => Ok(Some("1".into())),
        _ => Err(()),
    })
    .is_some()
}

/// Whether `steps` need the launcher (more than one plain command, or
/// anything only the launcher does: cd, env, expansions other than $PORT).
pub fn needs_launcher(steps: &[Step]) -> bool {
    let [only] = steps else {
        return true;
    };
    !only.env.is_empty()
        || !only.export.is_empty()
        || only.cd.is_some()
        || only.argv.iter().any(|a| !only_port(a))
}

/// The image's command for `steps`: the launcher and its JSON argument.
pub fn launcher_command(steps: &[Step]) -> Vec<String> {
    vec![
        "python".into(),
        LAUNCHER.into(),
        serde_json::to_string(steps).expect("steps serialize"),
    ]
}

/// The program that runs a process type: a script whose `#!` line has
/// the launcher read the steps that follow it (arguments given to the
/// process go after the last step's own).
pub fn process_program(steps: &[Step]) -> String {
    let steps = serde_json::to_string(steps).expect("steps serialize");
    format!("#!/app/.venv/bin/python {LAUNCHER}\n{steps}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_split_into_steps() {
        let steps = parse(
            "cd src && python manage.py migrate --noinput && DJANGO_DEBUG=0 gunicorn site.wsgi --bind 0.0.0.0:${PORT:-8000} ; echo done",
        )
        .unwrap();
        assert_eq!(steps.len(), 4);
        assert_eq!(steps[0].cd.as_deref(), Some("src"));
        assert_eq!(
            steps[1].argv,
            ["python", "manage.py", "migrate", "--noinput"]
        );
        assert_eq!(steps[1].after, "&&");
        assert_eq!(steps[2].env["DJANGO_DEBUG"], "0");
        assert_eq!(steps[2].argv.last().unwrap(), "0.0.0.0:${PORT:-8000}");
        assert_eq!(steps[3].after, ";");
        assert!(needs_launcher(&steps));
        let single = parse("exec gunicorn 'app:create_app()' --bind 0.0.0.0:$PORT").unwrap();
        assert_eq!(
            single[0].argv,
            ["gunicorn", "app:create_app()", "--bind", "0.0.0.0:$PORT"]
        );
        assert!(!needs_launcher(&single));
        assert!(needs_launcher(
            &parse("WEB_CONCURRENCY=2 gunicorn app:app").unwrap()
        ));
        let json = launcher_command(&parse("a && b").unwrap())[2].clone();
        assert_eq!(
            json,
            r#"[{"argv":["a"],"after":";"},{"argv":["b"],"after":"&&"}]"#
        );
    }

    #[test]
    fn parameters_expand_as_a_posix_shell_does() {
        let env = |name: &str| -> std::result::Result<Option<String>, ()> {
            match name {
                "PORT" => Ok(Some("8000".into())),
                "EMPTY" => Ok(Some(String::new())),
                "UNSET" => Ok(None),
                _ => Err(()),
            }
        };
        for (text, want) in [
            ("$PORT", "8000"),
            ("${PORT}", "8000"),
            ("0.0.0.0:${PORT:-5000}", "0.0.0.0:8000"),
            ("${UNSET:-5000}", "5000"),
            ("${EMPTY:-5000}", "5000"),
            ("${EMPTY-5000}", ""),
            ("${UNSET-5000}", "5000"),
            ("${PORT:+--server.port=$PORT}", "--server.port=8000"),
            ("${UNSET:+--server.port=$PORT}", ""),
            ("${EMPTY:+x}", ""),
            ("${EMPTY+x}", "x"),
            ("${UNSET:=7}", "7"),
            ("${UNSET:-${PORT}}", "8000"),
            ("cost $5", "cost $5"),
        ] {
            assert_eq!(expand(text, &env).as_deref(), Some(want), "{text}");
        }
        assert_eq!(expand("$OTHER", &env), None);
        assert_eq!(
            substitute_port("--server.port=${PORT:+$PORT}", 8501),
            "--server.port=8501"
        );
        assert_eq!(substitute_port("$HOST:$PORT", 8501), "$HOST:$PORT");
        assert!(!needs_launcher(
            &parse("streamlit run app.py ${PORT:+--server.port=$PORT}").unwrap()
        ));
        assert!(needs_launcher(
            &parse("gunicorn -b $HOST:$PORT app:app").unwrap()
        ));
    }

    #[test]
    fn what_needs_a_shell_is_refused() {
        for (text, what) in [
            ("gunicorn app:app | tee log", "a pipe"),
            (
                "python seed.py > out.txt && gunicorn app:app",
                "a redirection",
            ),
            ("gunicorn $(cat args)", "command substitution"),
            ("worker & gunicorn app:app", "a background job"),
            ("sh setup.sh && streamlit run app.py", "through a shell"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(what), "{text}: {err}");
        }
        assert!(parse("a && && b").is_err());
        assert!(parse("a 'b").is_err());
    }
}
