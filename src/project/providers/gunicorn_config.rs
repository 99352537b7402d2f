//! gunicorn configuration files: `gunicorn.conf.py` (gunicorn loads it from
//! the working directory by itself) or the file a Procfile or Dockerfile
//! command names with `-c` / `--config`. Its `bind` says the port.

use super::common::{AppContext, leading_number};
use crate::project::decided::Decided;
use anyhow::Result;

/// The config files gunicorn will read for this app.
fn config_files(ctx: &AppContext) -> Vec<String> {
    let mut files = vec!["gunicorn.conf.py".to_string()];
    for command in super::declared::commands(ctx) {
        let words: Vec<&str> = command.split_whitespace().collect();
        for (i, word) in words.iter().enumerate() {
            let named = match *word {
                "-c" | "--config" => words.get(i + 1).copied(),
                w => w.strip_prefix("--config="),
            };
            if let Some(file) = named {
                let file = file.trim_start_matches("python:").trim_start_matches("./");
                if !files.iter().any(|f| f == file) {
                    files.insert(0, file.to_string());
                }
            }
        }
    }
    files
}

/// The port of a config file's `bind` (or of the `PORT` default it reads).
pub fn bind_port(text: &str) -> Option<u16> {
    let bind = text.lines().find(|l| {
        let l = l.trim_start();
        l.starts_with("bind") && l[4..].trim_start().starts_with('=')
    })?;
    let value = bind.split_once('=')?.1;
    if let Some(port) = value
        .split(':')
        .nth(1)
        .and_then(|p| leading_number(p.trim_start_matches(['"', '\''])))
    {
        return Some(port);
    }
    // `bind = f"0.0.0.0:{port}"` with `port = os.environ.get("PORT", "8080")`:
    // the default of the PORT lookup anywhere in the file.
    for key in ["\"PORT\"", "'PORT'"] {
        for after in text.split(key).skip(1) {
            let Some(rest) = after.trim_start().strip_prefix(',') else {
                continue;
            };
            if let Some(port) = leading_number(rest.trim_start().trim_start_matches(['"', '\''])) {
                return Some(port);
            }
        }
    }
    None
}

pub fn port(ctx: &AppContext) -> Result<Option<Decided<u16>>> {
    for file in config_files(ctx) {
        let Some(text) = ctx.read(&file) else {
            continue;
        };
        if let Some(port) = bind_port(&text) {
            return Ok(Some(Decided {
                value: port,
                rule: format!("bind in {file}"),
            }));
        }
    }
    Ok(None)
}
