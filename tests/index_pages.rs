//! Simple-API HTML pages as large indexes and mirrors serve them: every
//! link read, character references decoded as HTML does. `page_sizes`
//! (ignored; `bench/html-pages.sh` runs it) prints how parse time grows
//! with the page, which must be linear.

use pypack::index::simple::parse_html;

/// A find-links style page of `links` wheels of one project, the way
/// Artifactory/Nexus-like mirrors write them: mixed-case tags, attributes
/// with character references, one link a line.
fn page(links: usize) -> String {
    let mut body =
        String::from("<!DOCTYPE html>\n<html><head><title>Links for demo</title></head><BODY>\n");
    for i in 0..links {
        let tag = if i % 2 == 0 { "a" } else { "A" };
        body.push_str(&format!(
            "<{tag} href=\"../../files/demo-{i}.0-py3-none-any.whl#sha256={i:064x}\" data-requires-python=\"&gt;=3.8\">demo-{i}.0-py3-none-any.whl</{tag}><br/>\n"
        ));
    }
    body.push_str("</BODY></html>\n");
    body
}

#[test]
fn a_page_of_forty_thousand_links_is_read_whole() {
    let body = page(40_000);
    let files = parse_html(&body, "https://mirror.invalid/simple/demo/").unwrap();
    assert_eq!(files.len(), 40_000);
    let last = &files[39_999];
    assert_eq!(last.filename, "demo-39999.0-py3-none-any.whl");
    assert_eq!(
        last.url,
        "https://mirror.invalid/files/demo-39999.0-py3-none-any.whl"
    );
    assert_eq!(
        last.sha256.as_deref(),
        Some(format!("{:064x}", 39_999).as_str())
    );
    assert!(
        files
            .iter()
            .all(|f| f.requires_python.as_deref() == Some(">=3.8"))
    );
}

#[test]
fn character_references_are_decoded_as_html_does() {
    let body = concat!(
        "<a href=\"demo-1.0.tar.gz\" data-requires-python=\"&#62;=3.8,&#x3C;4\">demo-1.0.tar.gz</a>\n",
        "<a href=\"demo-2.0.tar.gz\" data-requires-python=\"&gt;=3.9,&NotEqualTilde;&lt;4\">demo&#45;2.0.tar.gz</a>\n",
        "<a href=\"demo-3.0.tar.gz?x=1&amp;y=2\" data-requires-python=\"&amp;lt;\">demo-3.0.tar.gz</a>\n",
    );
    let files = parse_html(body, "https://mirror.invalid/simple/demo/").unwrap();
    assert_eq!(files[0].requires_python.as_deref(), Some(">=3.8,<4"));
    assert_eq!(files[1].filename, "demo-2.0.tar.gz");
    assert_eq!(
        files[1].requires_python.as_deref(),
        Some(">=3.9,\u{2242}\u{338}<4")
    );
    assert_eq!(
        files[2].url,
        "https://mirror.invalid/simple/demo/demo-3.0.tar.gz?x=1&y=2"
    );
    // Decoded once: `&amp;lt;` is the text `&lt;`, not `<`.
    assert_eq!(files[2].requires_python.as_deref(), Some("&lt;"));
}

#[test]
#[ignore = "a measurement, run by bench/html-pages.sh"]
fn page_sizes() {
    for links in [10_000, 20_000, 40_000, 80_000] {
        let body = page(links);
        let mut times = Vec::new();
        for _ in 0..5 {
            let started = std::time::Instant::now();
            let files = parse_html(&body, "https://mirror.invalid/simple/demo/").unwrap();
            times.push(started.elapsed().as_secs_f64());
            assert_eq!(files.len(), links);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{links:>6} links ({:.1} MB): median {:.3} s",
            body.len() as f64 / 1e6,
            times[2]
        );
    }
}
