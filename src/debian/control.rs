//! Debian control-file syntax (RFC822-like paragraphs), shared by Release,
//! Packages and deb822 sources.

use std::collections::BTreeMap;

/// One paragraph: field name → value. Continuation lines are joined with `\n`
/// (the leading space removed; a lone `.` stays as is).
pub type Paragraph = BTreeMap<String, String>;

/// The value of single-line field `name` in one paragraph (or header block),
/// without building the whole map: Packages files are large.
pub fn field(paragraph: &str, name: &str) -> Option<String> {
    paragraph.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(':')?;
        Some(rest.trim().to_string())
    })
}

/// Splits `text` into paragraphs, skipping `#` comment lines.
pub fn paragraphs(text: &str) -> Vec<Paragraph> {
    let mut out = Vec::new();
    let mut current = Paragraph::new();
    let mut last_key: Option<String> = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            last_key = None;
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(key) = &last_key {
                let value = current.entry(key.clone()).or_default();
                value.push('\n');
                value.push_str(&line[1..]);
            }
            continue;
        }
        if let Some((key, value)) = line.split_once(':') {
            current.insert(key.trim().to_string(), value.trim().to_string());
            last_key = Some(key.trim().to_string());
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn continuation_lines() {
        let p = super::paragraphs("A: 1\nB:\n x\n y\n\n\nC: 3\n");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0]["B"], "\nx\ny");
        assert_eq!(p[1]["C"], "3");
    }
}
