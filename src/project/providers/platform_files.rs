//! What the hosting platforms' providers share: a platform's start command
//! (run through a shell there, so a chain runs through pypack's launcher
//! here) as a claim, and reading their YAML and TOML files.

use super::common::{AppContext, Claim, start_from_line};
use yaml_rust2::{Yaml, YamlLoader};

/// A claim for `line`, a platform's start command, when pypack can run it
/// (no pipes or redirections, not a shell script).
pub fn claim_for(line: &str, rule: String) -> Option<Claim> {
    let line = line.trim().to_string();
    let checked = start_from_line(&line, 8000).ok()?;
    if checked.programs.iter().any(|p| p.ends_with(".sh")) {
        return None;
    }
    let rule = match checked.launcher {
        true => {
            format!("{rule} (a chain of steps, run by pypack's launcher: no shell in the image)")
        }
        false => rule,
    };
    Some(Claim::new(rule, move |port| {
        start_from_line(&line, port).expect("checked above")
    }))
}

pub fn yaml(ctx: &AppContext, file: &str) -> Option<Yaml> {
    let text = ctx.read(file)?;
    YamlLoader::load_from_str(&text).ok()?.into_iter().next()
}

pub fn toml_of(ctx: &AppContext, file: &str) -> Option<toml::Table> {
    toml::from_str(&ctx.read(file)?).ok()
}

/// A YAML or TOML scalar as a command line (a list is joined).
pub fn command_of_yaml(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Array(words) => {
            let words: Option<Vec<String>> = words.iter().map(|w| w.as_str().map(quote)).collect();
            words.map(|w| w.join(" "))
        }
        _ => None,
    }
}

pub fn command_of_toml(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Array(words) => {
            let words: Option<Vec<String>> = words.iter().map(|w| w.as_str().map(quote)).collect();
            words.map(|w| w.join(" "))
        }
        _ => None,
    }
}

/// A word of an argument list as one word of a command line.
fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+$".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}
