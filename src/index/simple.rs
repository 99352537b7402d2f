//! The simple repository API: PEP 691 JSON pages, PEP 503 HTML pages (also the
//! format of `--find-links` pages), with PEP 592 yanking, PEP 658/714 metadata
//! files and `data-requires-python`.

use anyhow::{Context, Result};
use serde::Deserialize;

/// One distribution file listed for a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistFile {
    pub filename: String,
    /// Absolute URL (or `file://` path for find-links directories).
    pub url: String,
    pub sha256: Option<String>,
    pub requires_python: Option<String>,
    pub yanked: bool,
    /// `Some(hash)` when the index serves `<url>.metadata`; the hash may be unknown.
    pub metadata: Option<Option<String>>,
    pub size: Option<u64>,
}

#[derive(Deserialize)]
struct JsonPage {
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: std::collections::HashMap<String, String>,
    #[serde(rename = "requires-python")]
    requires_python: Option<String>,
    #[serde(default)]
    yanked: Yanked,
    #[serde(rename = "core-metadata")]
    core_metadata: Option<MetadataFlag>,
    #[serde(rename = "dist-info-metadata")]
    dist_info_metadata: Option<MetadataFlag>,
    size: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Yanked {
    #[default]
    No,
    Flag(bool),
    Reason(serde::de::IgnoredAny),
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum MetadataFlag {
    Flag(bool),
    Hashes(std::collections::HashMap<String, String>),
}

/// Parses a PEP 691 JSON project page fetched from `page_url`.
pub fn parse_json(body: &[u8], page_url: &str) -> Result<Vec<DistFile>> {
    let page: JsonPage = serde_json::from_slice(body)
        .with_context(|| format!("{page_url} is not a PEP 691 JSON page"))?;
    let base = PageUrl::parse(page_url)?;
    page.files
        .into_iter()
        .map(|f| {
            let metadata = match f.core_metadata.or(f.dist_info_metadata) {
                None | Some(MetadataFlag::Flag(false)) => None,
                Some(MetadataFlag::Flag(true)) => Some(None),
                Some(MetadataFlag::Hashes(h)) => {
                    Some(h.get("sha256").map(|s| s.to_ascii_lowercase()))
                }
            };
            Ok(DistFile {
                url: base.join(&f.url)?,
                sha256: f.hashes.get("sha256").map(|s| s.to_ascii_lowercase()),
                requires_python: f.requires_python.filter(|s| !s.trim().is_empty()),
                yanked: match f.yanked {
                    Yanked::No | Yanked::Flag(false) => false,
                    Yanked::Flag(true) | Yanked::Reason(_) => true,
                },
                metadata,
                size: f.size,
                filename: f.filename,
            })
        })
        .collect()
}

/// Parses a PEP 503 HTML page: every `<a href>` is a file, the text its name.
pub fn parse_html(body: &str, page_url: &str) -> Result<Vec<DistFile>> {
    // A <base href> may itself be relative to the page.
    let base = PageUrl::parse(page_url)?;
    let base = match html_base(body) {
        Some(href) => PageUrl::parse(&base.join(&href)?)?,
        None => base,
    };
    let mut files = Vec::new();
    let mut rest = body;
    while let Some(start) = find_ci(rest, "<a ") {
        let tag_and_after = &rest[start..];
        let Some(tag_end) = tag_and_after.find('>') else {
            break;
        };
        let tag = &tag_and_after[..tag_end];
        let after = &tag_and_after[tag_end + 1..];
        let text_end = find_ci(after, "</a>").unwrap_or(after.len());
        let text = unescape(after[..text_end].trim());
        rest = &after[text_end..];
        let Some(href) = attribute(tag, "href") else {
            continue;
        };
        let (href, fragment) = href
            .split_once('#')
            .map(|(h, f)| (h.to_string(), Some(f.to_string())))
            .unwrap_or((href, None));
        let sha256 = fragment
            .as_deref()
            .and_then(|f| f.strip_prefix("sha256="))
            .map(|h| h.to_ascii_lowercase());
        let metadata = attribute(tag, "data-core-metadata")
            .or_else(|| attribute(tag, "data-dist-info-metadata"))
            .and_then(|v| match v.as_str() {
                "false" => None,
                "true" | "" => Some(None),
                v => Some(v.strip_prefix("sha256=").map(|h| h.to_ascii_lowercase())),
            });
        let url = base.join(&href)?;
        let filename = if text.is_empty() {
            url.rsplit('/').next().unwrap_or("").to_string()
        } else {
            text
        };
        files.push(DistFile {
            filename,
            url,
            sha256,
            requires_python: attribute(tag, "data-requires-python")
                .filter(|s| !s.trim().is_empty()),
            yanked: attribute(tag, "data-yanked").is_some(),
            metadata,
            size: None,
        });
    }
    Ok(files)
}

fn html_base(body: &str) -> Option<String> {
    let start = find_ci(body, "<base ")?;
    let tag = &body[start..start + body[start..].find('>')?];
    attribute(tag, "href")
}

/// Where the ASCII `needle` (lower case) first occurs in `haystack`, in any
/// case. Scans without copying: a page is searched from each link onward,
/// so a whole page costs one pass (lowercasing the rest of the page for
/// every link made large pages quadratic).
fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    let needle = needle.as_bytes();
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle))
}

/// The value of `name="…"` (or `'…'`, or bare) in a tag; present-but-empty gives "".
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find(name) {
        let at = from + pos;
        from = at + name.len();
        let before_ok = at == 0 || lower.as_bytes()[at - 1].is_ascii_whitespace();
        let after = &tag[at + name.len()..];
        let after_trim = after.trim_start();
        if !before_ok {
            continue;
        }
        if !after_trim.starts_with('=') {
            // A bare attribute such as `data-yanked`.
            if after.is_empty()
                || after.starts_with(|c: char| c.is_whitespace() || c == '/' || c == '>')
            {
                return Some(String::new());
            }
            continue;
        }
        let value = after_trim[1..].trim_start();
        let raw = match value.chars().next() {
            Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or(""),
            _ => value
                .split(|c: char| c.is_whitespace() || c == '>')
                .next()
                .unwrap_or(""),
        };
        return Some(unescape(raw));
    }
    None
}

/// Character references decoded as HTML does: named (`&gt;`, `&amp;`…,
/// the spec's whole table), decimal (`&#62;`) and hexadecimal (`&#x3E;`).
fn unescape(text: &str) -> String {
    html_escape::decode_html_entities(text).into_owned()
}

/// Resolves `href` against `base` (absolute URL, path-absolute, or relative).
/// User info is dropped: credentials are added per host when fetching, and
/// must never end up in a lock file.
pub fn join_url(base: &str, href: &str) -> Result<String> {
    PageUrl::parse(base)?.join(href)
}

/// A page's URL, parsed once for the thousands of links a page may have
/// (parsing it again for each link was a tenth of a cold resolution).
pub struct PageUrl(url::Url);

impl PageUrl {
    pub fn parse(base: &str) -> Result<PageUrl> {
        let base = url::Url::parse(base)
            .with_context(|| format!("'{}' is not a URL", crate::http::redact(base)))?;
        Ok(PageUrl(base))
    }

    /// `href` resolved against the page, without user info.
    pub fn join(&self, href: &str) -> Result<String> {
        let mut joined = (self.0)
            .join(href)
            .with_context(|| format!("cannot resolve link '{href}'"))?;
        let _ = joined.set_username("");
        let _ = joined.set_password(None);
        Ok(joined.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_page() {
        let body = br#"{"meta":{"api-version":"1.1"},"name":"demo","files":[
            {"filename":"demo-1.0-py3-none-any.whl","url":"../../files/demo-1.0-py3-none-any.whl",
             "hashes":{"sha256":"ABC"},"requires-python":">=3.8","core-metadata":{"sha256":"def"},"size":10},
            {"filename":"demo-0.9.tar.gz","url":"https://files.example/demo-0.9.tar.gz","hashes":{},"yanked":"broken"},
            {"filename":"demo-0.8-py3-none-any.whl","url":"x.whl","hashes":{},"dist-info-metadata":true,"yanked":false}]}"#;
        let files = parse_json(body, "http://user:pw@idx.example/simple/demo/").unwrap();
        assert_eq!(
            files[0].url,
            "http://idx.example/files/demo-1.0-py3-none-any.whl"
        );
        assert_eq!(files[0].sha256.as_deref(), Some("abc"));
        assert_eq!(files[0].metadata, Some(Some("def".into())));
        assert_eq!(files[0].requires_python.as_deref(), Some(">=3.8"));
        assert!(files[1].yanked && !files[2].yanked);
        assert_eq!(files[2].metadata, Some(None));
        assert_eq!(files[1].metadata, None);
    }

    #[test]
    fn html_page() {
        let body = r#"<!DOCTYPE html><html><body>
            <a href="/files/demo-1.0-py3-none-any.whl#sha256=AbC" data-requires-python="&gt;=3.8" data-core-metadata="sha256=d1">demo-1.0-py3-none-any.whl</a><br/>
            <A HREF='demo-0.9-py3-none-any.whl' data-yanked>demo-0.9-py3-none-any.whl</A>
            <a href="demo-0.8-py3-none-any.whl" data-yanked="">demo-0.8-py3-none-any.whl</a>
            </body></html>"#;
        let files = parse_html(body, "http://idx.example/simple/demo/").unwrap();
        assert_eq!(files.len(), 3);
        assert_eq!(
            files[0].url,
            "http://idx.example/files/demo-1.0-py3-none-any.whl"
        );
        assert_eq!(files[0].sha256.as_deref(), Some("abc"));
        assert_eq!(files[0].requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(files[0].metadata, Some(Some("d1".into())));
        assert!(!files[0].yanked && files[1].yanked && files[2].yanked);
        assert_eq!(
            files[1].url,
            "http://idx.example/simple/demo/demo-0.9-py3-none-any.whl"
        );
    }
}
