//! Project names as the index compares them (PEP 503 normalization).

/// `Foo_Bar.baz` → `foo-bar-baz`: runs of `-`, `_` and `.` become one `-`,
/// letters lower case.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut last_sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !last_sep {
                out.push('-');
            }
            last_sep = true;
        } else {
            out.push(c.to_ascii_lowercase());
            last_sep = false;
        }
    }
    out
}
