//! The one HTTP client: timeouts, retries with backoff on 5xx and network errors,
//! and downloads that stream straight into the cache with their hash checked.

use crate::cache::Cache;
use anyhow::{Context, Result, bail};
use std::io::Read;
use std::path::Path;
use std::time::Duration;

const ATTEMPTS: u32 = 4;

#[derive(Clone)]
pub struct Http {
    client: reqwest::blocking::Client,
}

impl Http {
    pub fn new() -> Result<Http> {
        let client = reqwest::blocking::Client::builder()
            .user_agent(concat!("pypack/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_secs(300))
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Http { client })
    }

    /// GETs `url`, retrying transient failures; a 4xx is final.
    fn get(&self, url: &str) -> Result<reqwest::blocking::Response> {
        self.get_accepting(url, None, false)?
            .with_context(|| format!("GET {url}: HTTP 404 Not Found"))
    }

    /// GETs `url` with an optional `Accept` header; with `missing_ok`, a 404
    /// gives `None` instead of an error.
    fn get_accepting(
        &self,
        url: &str,
        accept: Option<&str>,
        missing_ok: bool,
    ) -> Result<Option<reqwest::blocking::Response>> {
        let mut last_error = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(250 << attempt));
            }
            let mut request = self.client.get(url);
            if let Some(accept) = accept {
                request = request.header(reqwest::header::ACCEPT, accept);
            }
            match request.send() {
                Ok(resp) if resp.status().is_success() => return Ok(Some(resp)),
                Ok(resp) if missing_ok && resp.status() == reqwest::StatusCode::NOT_FOUND => {
                    return Ok(None);
                }
                Ok(resp) if resp.status().is_server_error() => {
                    last_error = Some(format!("HTTP {}", resp.status()));
                }
                Ok(resp) => bail!("GET {url}: HTTP {}", resp.status()),
                Err(e) if e.is_timeout() || e.is_connect() || e.is_request() => {
                    last_error = Some(error_chain(&e));
                }
                Err(e) => bail!("GET {url}: {}", error_chain(&e)),
            }
        }
        bail!(
            "GET {url} failed after {ATTEMPTS} attempts: {}",
            last_error.unwrap_or_default()
        )
    }

    /// A page for content negotiation (e.g. the simple API): body, content
    /// type and final URL after redirects, or `None` on 404.
    pub fn get_page(&self, url: &str, accept: &str) -> Result<Option<Page>> {
        let Some(mut resp) = self.get_accepting(url, Some(accept), true)? else {
            return Ok(None);
        };
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let final_url = resp.url().to_string();
        let mut body = Vec::new();
        resp.read_to_end(&mut body)
            .with_context(|| format!("GET {url}: reading the body"))?;
        Ok(Some(Page {
            body,
            content_type,
            url: final_url,
        }))
    }

    pub fn get_bytes(&self, url: &str) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        self.get(url)?
            .read_to_end(&mut body)
            .with_context(|| format!("GET {url}: reading the body"))?;
        Ok(body)
    }

    /// Downloads `url` into the cache unless a blob with `sha256_hex` is already
    /// there. The content must have that hash and pass `check` before it is
    /// stored, so a bad download never becomes a cache entry.
    pub fn fetch_to_cache(
        &self,
        cache: &Cache,
        url: &str,
        sha256_hex: &str,
        check: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<FetchOutcome> {
        if cache.has_blob(sha256_hex) {
            return Ok(FetchOutcome::Cached);
        }
        let _lock = cache.lock(sha256_hex)?;
        if cache.has_blob(sha256_hex) {
            return Ok(FetchOutcome::Cached); // another process fetched it meanwhile
        }
        let mut resp = self.get(url)?;
        let mut writer = cache.blob_writer()?;
        std::io::copy(&mut resp, &mut writer)
            .with_context(|| format!("GET {url}: reading the body"))?;
        writer
            .commit_checked(Some(sha256_hex), check)
            .with_context(|| format!("refusing {url}"))?;
        Ok(FetchOutcome::Downloaded)
    }
}

pub struct Page {
    pub body: Vec<u8>,
    pub content_type: String,
    pub url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchOutcome {
    Cached,
    Downloaded,
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
