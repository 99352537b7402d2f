//! Path globs (recipe drop/keep lists, `[tool.pypack] exclude` / `include`;
//! `.dockerignore` has its own, Docker's, in `project::dockerignore`): `*` matches within one path part,
//! `**` across parts, `?` one character. `dir/**` also matches `dir` itself,
//! and `**/name` matches `name` at the top too (zero directories), as in
//! `.dockerignore` and `.gitignore`.

pub fn matches(pattern: &str, path: &str) -> bool {
    if let Some(dir) = pattern.strip_suffix("/**")
        && matches(dir, path)
    {
        return true;
    }
    match_bytes(pattern.as_bytes(), path.as_bytes())
}

/// Whether `pattern` might match a path under directory `dir`: its
/// literal start (up to the first `*`, `?`, `[` or `\`) and `dir/` agree
/// as far as both go. Never a wrong "no" (for globs, `[` and `\` are plain
/// characters: stopping there only says "maybe" more often).
pub fn may_match_under(pattern: &str, dir: &str) -> bool {
    let literal: String = pattern
        .chars()
        .take_while(|c| !matches!(c, '*' | '?' | '[' | '\\'))
        .collect();
    let dir = format!("{dir}/");
    literal.starts_with(&dir) || dir.starts_with(&literal)
}

fn match_bytes(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') if p.get(1) == Some(&b'*') => {
            let rest = &p[2..];
            if let Some(after) = rest.strip_prefix(b"/")
                && match_bytes(after, s)
            {
                return true; // `**/` standing for no directory at all
            }
            (0..=s.len()).any(|i| match_bytes(rest, &s[i..]))
        }
        Some(b'*') => {
            let rest = &p[1..];
            for i in 0..=s.len() {
                if match_bytes(rest, &s[i..]) {
                    return true;
                }
                if i < s.len() && s[i] == b'/' {
                    break;
                }
            }
            false
        }
        Some(b'?') => !s.is_empty() && s[0] != b'/' && match_bytes(&p[1..], &s[1..]),
        Some(&c) => s.first() == Some(&c) && match_bytes(&p[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs() {
        assert!(matches("usr/share/doc/**", "usr/share/doc"));
        assert!(matches("usr/share/doc/**", "usr/share/doc/libc6/copyright"));
        assert!(!matches("usr/share/doc/**", "usr/share/docs"));
        assert!(matches(
            "usr/lib/*/gconv/**",
            "usr/lib/x86_64-linux-gnu/gconv/UTF-16.so"
        ));
        assert!(!matches("usr/lib/*/gconv/**", "usr/lib/a/b/gconv/x"));
        assert!(matches(
            "usr/share/doc/*/copyright",
            "usr/share/doc/libc6/copyright"
        ));
        assert!(!matches(
            "usr/share/doc/*",
            "usr/share/doc/libc6/changelog.gz"
        ));
        assert!(matches("etc/?asswd", "etc/passwd"));
        assert!(matches("**/*.pyc", "a/b/c.pyc"));
        assert!(matches("**/*.pyc", "c.pyc"));
        assert!(matches(
            "**/__pycache__/**",
            "__pycache__/app.cpython-311.pyc"
        ));
        assert!(matches("**/.env", ".env"));
        assert!(!matches("**/.env", "x.env"));
    }
}
