//! `.dockerignore` read as Docker reads it (moby's `ignorefile` and
//! `patternmatcher`): lines cleaned like a path (`./a//b/` is `a/b`, a
//! leading `/` dropped), `#` comments, `!` re-includes; `*` and `?` within
//! one path part, `**` across parts, `[a-z]` / `[^a]` classes, `\` escaping
//! the next character. A pattern matches a path or any of its parent
//! directories, and the last pattern that matches decides — so `docs` then
//! `!docs/keep.md` ships `docs/keep.md` alone of `docs`.

use anyhow::{Result, bail};

/// One line of a `.dockerignore`.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// The cleaned pattern, without its `!`.
    cleaned: String,
    /// A `!` line: what it matches goes back in.
    pub reinclude: bool,
    kind: Kind,
    tokens: Vec<Token>,
}

/// How Docker decides a match: plain strings where the pattern allows, a
/// full match of the tokens otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Exact,
    /// `dir/**`: the path starts with `dir/`.
    Prefix,
    /// `**/name`: the path ends with `/name`, or is `name`.
    Suffix,
    Tokens,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    /// `*`: any run of characters but `/`.
    Star,
    /// `?`: one character but `/`.
    One,
    /// `**` before more pattern: any directories, or none (`(.*/)?`).
    Dirs,
    /// `**` at the end: anything.
    Rest,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// The patterns of a `.dockerignore`'s text; `origin` names it in errors.
pub fn parse(text: &str, origin: &str) -> Result<Vec<Pattern>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut patterns = Vec::new();
    for (number, line) in text.lines().enumerate() {
        // A comment only where the line starts with `#`, before any trimming.
        if line.starts_with('#') {
            continue;
        }
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (reinclude, pattern) = match line.strip_prefix('!') {
            Some(rest) => (true, rest.trim()),
            None => (false, line),
        };
        if pattern.is_empty() {
            bail!(
                "{origin}:{}: '!' re-includes nothing; name what to put back (`!README.md`)",
                number + 1
            );
        }
        let cleaned = clean(pattern);
        let (kind, tokens) = compile(&cleaned)
            .map_err(|why| anyhow::anyhow!("{origin}:{}: '{line}': {why}", number + 1))?;
        patterns.push(Pattern {
            cleaned,
            reinclude,
            kind,
            tokens,
        });
    }
    Ok(patterns)
}

impl Pattern {
    /// Whether the pattern matches `rel` (a `/`-separated path under the
    /// app) or one of its parent directories.
    pub fn matches(&self, rel: &str) -> bool {
        if self.matches_exactly(rel) {
            return true;
        }
        rel.match_indices('/')
            .any(|(at, _)| self.matches_exactly(&rel[..at]))
    }

    /// Whether a path under directory `dir` might match (so a re-include
    /// can reach into a directory an earlier line left out).
    pub fn could_match_under(&self, dir: &str) -> bool {
        crate::glob::may_match_under(&self.cleaned, dir)
    }

    fn matches_exactly(&self, path: &str) -> bool {
        match self.kind {
            Kind::Exact => path == self.cleaned,
            Kind::Prefix => path.starts_with(&self.cleaned[..self.cleaned.len() - 2]),
            Kind::Suffix => {
                let suffix = &self.cleaned[2..];
                path.ends_with(suffix) || suffix.strip_prefix('/').is_some_and(|name| path == name)
            }
            Kind::Tokens => {
                let chars: Vec<char> = path.chars().collect();
                match_tokens(&self.tokens, &chars)
            }
        }
    }
}

/// A path cleaned as Go's `filepath.Clean` does, a leading `/` dropped.
fn clean(pattern: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if pattern.starts_with('/') => {}
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return if pattern.starts_with('/') { "/" } else { "." }.to_string();
    }
    parts.join("/")
}

/// The pattern's tokens and how it is matched, as patternmatcher compiles it.
fn compile(pattern: &str) -> Result<(Kind, Vec<Token>), String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut kind = Kind::Exact;
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let first = i == 0;
        let c = chars[i];
        i += 1;
        match c {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i == chars.len() {
                    if kind == Kind::Exact {
                        kind = Kind::Prefix;
                    } else {
                        kind = Kind::Tokens;
                    }
                    tokens.push(Token::Rest);
                } else {
                    kind = Kind::Tokens;
                    tokens.push(Token::Dirs);
                }
                if first {
                    kind = Kind::Suffix;
                }
            }
            '*' => {
                kind = Kind::Tokens;
                tokens.push(Token::Star);
            }
            '?' => {
                kind = Kind::Tokens;
                tokens.push(Token::One);
            }
            '\\' => match chars.get(i) {
                Some(&next) => {
                    i += 1;
                    kind = Kind::Tokens;
                    tokens.push(Token::Char(next));
                }
                None => tokens.push(Token::Char('\\')),
            },
            '[' => {
                kind = Kind::Tokens;
                let (class, end) = class_at(&chars, i)?;
                tokens.push(class);
                i = end;
            }
            other => {
                if other == ']' {
                    kind = Kind::Tokens;
                }
                tokens.push(Token::Char(other));
            }
        }
    }
    Ok((kind, tokens))
}

/// The class whose `[` is just before `start`: its token and where the
/// pattern goes on after its `]`.
fn class_at(chars: &[char], start: usize) -> Result<(Token, usize), String> {
    let mut i = start;
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        let Some(&c) = chars.get(i) else {
            return Err("a character class '[' has no closing ']'".into());
        };
        i += 1;
        let low = match c {
            ']' if !ranges.is_empty() => return Ok((Token::Class { negated, ranges }, i)),
            ']' => return Err("an empty character class '[]'".into()),
            '\\' => {
                let escaped = *chars.get(i).ok_or("a class ends in '\\'")?;
                i += 1;
                escaped
            }
            c => c,
        };
        let high = if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|c| *c != ']') {
            let high = chars[i + 1];
            i += 2;
            if high < low {
                return Err(format!("the range '{low}-{high}' runs backwards"));
            }
            high
        } else {
            low
        };
        ranges.push((low, high));
    }
}

fn match_tokens(tokens: &[Token], s: &[char]) -> bool {
    let Some((token, rest)) = tokens.split_first() else {
        return s.is_empty();
    };
    match token {
        Token::Char(c) => s.first() == Some(c) && match_tokens(rest, &s[1..]),
        Token::One => s.first().is_some_and(|c| *c != '/') && match_tokens(rest, &s[1..]),
        Token::Class { negated, ranges } => {
            s.first().is_some_and(|c| {
                ranges.iter().any(|(low, high)| (low..=high).contains(&c)) != *negated
            }) && match_tokens(rest, &s[1..])
        }
        Token::Star => {
            for i in 0..=s.len() {
                if match_tokens(rest, &s[i..]) {
                    return true;
                }
                if i < s.len() && s[i] == '/' {
                    return false;
                }
            }
            false
        }
        Token::Rest => true,
        // `(.*/)?`: nothing, or any run ending with a `/`.
        Token::Dirs => {
            match_tokens(rest, s)
                || (0..s.len()).any(|i| s[i] == '/' && match_tokens(rest, &s[i + 1..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `rel` is left out by `patterns` alone: the last that matches
    /// decides (as plan.rs applies them among pypack's own rules).
    fn excluded(patterns: &[Pattern], rel: &str) -> bool {
        let mut out = false;
        for pattern in patterns {
            if pattern.matches(rel) {
                out = !pattern.reinclude;
            }
        }
        out
    }

    fn out(text: &str, rel: &str) -> bool {
        excluded(&parse(text, ".dockerignore").unwrap(), rel)
    }

    /// The examples of Docker's `.dockerignore` documentation.
    #[test]
    fn dockers_documented_examples() {
        let text = "# comment\n*/temp*\n*/*/temp*\ntemp?\n";
        assert!(out(text, "somedir/temporary.txt"));
        assert!(out(text, "somedir/temp"));
        assert!(out(text, "somedir/subdir/temporary.txt"));
        assert!(out(text, "tempa"));
        assert!(out(text, "tempb"));
        assert!(!out(text, "temporary.txt"), "*/temp* is one level down");
        assert!(!out(text, "a/b/c/temp.txt"));

        let readme = "*.md\n!README.md\n";
        assert!(out(readme, "CHANGES.md"));
        assert!(!out(readme, "README.md"));

        let secret = "*.md\n!README*.md\nREADME-secret.md\n";
        assert!(out(secret, "README-secret.md"));
        assert!(!out(secret, "README-public.md"));
        assert!(out(secret, "notes.md"));

        let all_readmes = "*.md\nREADME-secret.md\n!README*.md\n";
        assert!(!out(all_readmes, "README-secret.md"));

        let go = "**/*.go\n";
        assert!(out(go, "main.go"));
        assert!(out(go, "cmd/app/main.go"));
        assert!(!out(go, "main.gox"));
    }

    #[test]
    fn classes_escapes_and_cleaning() {
        let classes = "log[0-9].txt\ndata[^a].csv\n";
        assert!(out(classes, "log7.txt"));
        assert!(!out(classes, "logx.txt"));
        assert!(out(classes, "datab.csv"));
        assert!(!out(classes, "dataa.csv"));
        let escaped = "\\*.txt\nwhat\\?\n";
        assert!(out(escaped, "*.txt"));
        assert!(!out(escaped, "a.txt"), "an escaped * is a star");
        assert!(out(escaped, "what?"));
        assert!(!out(escaped, "whats"));
        // Cleaned like a path; a match of a directory takes what it holds.
        assert!(out("./build//\n", "build/lib/x.py"));
        assert!(out("/tmp\n", "tmp/x"));
        assert!(out("a/../b\n", "b/c"));
        assert!(out("  spaced  \n", "spaced"));
        assert!(!out(" # not a comment\n", "x"));
        assert!(out(" # not a comment\n", "# not a comment"));
        assert!(out("dir/**\n", "dir/a/b"));
        assert!(out("**\n", "anything/at/all"));
    }

    #[test]
    fn a_reinclude_reaches_under_an_excluded_directory() {
        let text = "docs\n!docs/keep.md\n";
        assert!(out(text, "docs/other.md"));
        assert!(!out(text, "docs/keep.md"));
        let patterns = parse(text, ".dockerignore").unwrap();
        assert!(patterns[1].could_match_under("docs"));
        assert!(!patterns[1].could_match_under("src"));
        let deep = parse("!**/keep.md\n", ".dockerignore").unwrap();
        assert!(deep[0].could_match_under("anything"));
    }

    #[test]
    fn bad_lines_are_named() {
        let err = parse("ok\n!\n", ".dockerignore").unwrap_err().to_string();
        assert!(err.starts_with(".dockerignore:2:"), "{err}");
        let err = parse("a[b\n", ".dockerignore").unwrap_err().to_string();
        assert!(
            err.starts_with(".dockerignore:1:") && err.contains("no closing ']'"),
            "{err}"
        );
    }
}
