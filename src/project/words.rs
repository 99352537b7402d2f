//! Command words: a command line (`--cmd`, `[tool.pypack] cmd`, a
//! Dockerfile's shell-form `CMD`) split as a POSIX shell splits words. A
//! leaf of `project`, used by the plan and the providers.

use anyhow::{Result, bail};

/// Splits a command like a POSIX shell would split words: whitespace, single
/// and double quotes, backslash escapes. No expansion happens.
pub fn split_command(text: &str) -> Result<Vec<String>> {
    // POSIX quoting (shlex): inside double quotes a backslash escapes only
    // `$`, `` ` ``, `"`, `\` and a newline, and stays before anything else.
    let Some(words) = shlex::split(text) else {
        bail!("unterminated quote or trailing backslash in '{text}'");
    };
    if words.is_empty() {
        bail!("the command is empty");
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::split_command;

    #[test]
    fn command_splitting() {
        assert_eq!(
            split_command("a 'b c' \"d \\\" e\" f\\ g").unwrap(),
            ["a", "b c", "d \" e", "f g"]
        );
        assert!(split_command("a 'b").is_err());
        // POSIX: a backslash inside double quotes stays unless it escapes
        // one of $ ` " \ or a newline.
        assert_eq!(
            split_command(r#"python -c "print('a\tb')" "c:\\d" "\$HOME""#).unwrap(),
            ["python", "-c", r"print('a\tb')", r"c:\d", "$HOME"]
        );
        assert!(split_command("  ").is_err());
    }
}
