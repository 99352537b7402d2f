//! What an app writes down for other tools about how it starts: its
//! Procfile's processes and its Dockerfile's final stage. The Procfile and
//! Dockerfile providers read them here, and so does any provider that looks
//! into the commands (the gunicorn config's), without importing another.

use super::common::{AppContext, leading_number};
use crate::project::words::split_command;

/// The start commands the app writes down: its Procfile's processes, then
/// its Dockerfile's `CMD`.
pub(super) fn commands(ctx: &AppContext) -> Vec<String> {
    processes(ctx)
        .into_iter()
        .map(|(_, command)| command)
        .chain(command_text(ctx))
        .collect()
}

/// The `name:` lines of the app's Procfile, in order.
pub fn processes(ctx: &AppContext) -> Vec<(String, String)> {
    let Some(text) = ctx.read("Procfile") else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let (name, command) = l.split_once(':')?;
            let name = name.trim();
            (!name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-'))
            .then(|| (name.to_string(), command.trim().to_string()))
        })
        .collect()
}

/// What the final stage says.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Stage {
    pub(super) entrypoint: Vec<String>,
    pub(super) cmd: Vec<String>,
    pub(super) expose: Option<u16>,
    pub(super) env: Vec<(String, String)>,
    pub(super) workdir: Option<String>,
    /// The `ENTRYPOINT`/`CMD` lines as written, for the rule.
    pub(super) lines: Vec<String>,
}

pub(super) fn read_stage(ctx: &AppContext) -> Option<(&'static str, Stage)> {
    ["Dockerfile", "Containerfile"]
        .into_iter()
        .find_map(|name| Some((name, parse(&ctx.read(name)?))))
}

/// Instructions with their continuation lines joined; the last stage only.
pub(super) fn parse(text: &str) -> Stage {
    let mut stage = Stage::default();
    let mut joined = String::new();
    let mut instructions = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if joined.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                joined.push_str(part);
                joined.push(' ');
            }
            None => {
                joined.push_str(trimmed);
                instructions.push(std::mem::take(&mut joined));
            }
        }
    }
    for instruction in instructions {
        let (word, rest) = instruction
            .split_once(char::is_whitespace)
            .unwrap_or((&instruction, ""));
        let rest = rest.trim();
        match word.to_ascii_uppercase().as_str() {
            "FROM" => stage = Stage::default(),
            "CMD" => {
                stage.cmd = command_words(rest);
                stage.lines.push(instruction.clone());
            }
            "ENTRYPOINT" => {
                stage.entrypoint = command_words(rest);
                stage.lines.push(instruction.clone());
            }
            "EXPOSE" => stage.expose = rest.split_whitespace().find_map(leading_number),
            "WORKDIR" => stage.workdir = Some(rest.trim_end_matches('/').to_string()),
            "ENV" => stage.env.extend(env_pairs(rest)),
            _ => {}
        }
    }
    stage
}

/// Exec form (a JSON array) or shell form (one string, run by `sh -c`).
pub(super) fn command_words(text: &str) -> Vec<String> {
    if text.starts_with('[')
        && let Ok(words) = serde_json::from_str::<Vec<String>>(text)
    {
        return words;
    }
    vec!["/bin/sh".into(), "-c".into(), text.to_string()]
}

/// `ENV A=1 B="two words"` or the old `ENV A 1`.
pub(super) fn env_pairs(text: &str) -> Vec<(String, String)> {
    let Ok(words) = split_command(text) else {
        return Vec::new();
    };
    if !words[0].contains('=') {
        return match words.split_first() {
            Some((name, value)) => vec![(name.clone(), value.join(" "))],
            None => Vec::new(),
        };
    }
    words
        .iter()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The command the image would run, as one line of text (for other
/// providers to look into, e.g. for a gunicorn config file it names).
pub fn command_text(ctx: &AppContext) -> Option<String> {
    let (_, stage) = read_stage(ctx)?;
    let argv: Vec<String> = stage.entrypoint.iter().chain(&stage.cmd).cloned().collect();
    (!argv.is_empty()).then(|| argv.join(" "))
}
