//! The one HTTP client: timeouts, retries with backoff on 5xx and network
//! errors, basic auth (from URL user info or `~/.netrc`, never printed),
//! pages cached with their validators (ETag, Last-Modified, Cache-Control),
//! ranged reads for peeking into remote wheels, and downloads that stream
//! straight into the cache with their hash checked.

use crate::cache::Cache;
use anyhow::{Context, Result, bail};
use reqwest::header::{self, HeaderMap, HeaderValue};
use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

/// How many times a request is sent before a transient failure is final.
pub const ATTEMPTS: u32 = 4;

/// The longest `Retry-After` honoured; a server asking for more is asked
/// again after this.
const MOST_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Whether an answer is worth asking again for: a server error, or 429
/// (too many requests).
pub fn transient(status: reqwest::StatusCode) -> bool {
    status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS
}

/// How long to wait before the `attempt`-th retry (1, 2, …): the server's
/// `Retry-After` in seconds when it gave one (bounded), else a backoff.
pub fn retry_delay(attempt: u32, retry_after: Option<&reqwest::header::HeaderValue>) -> Duration {
    let asked = retry_after
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    match asked {
        Some(asked) => asked.min(MOST_RETRY_AFTER),
        None => Duration::from_millis(250 << attempt),
    }
}

/// How long one read may wait for its next byte, and how long a body has
/// before its average speed is judged, in seconds (`PYPACK_HTTP_TIMEOUT`
/// sets both: tests meet a trickling server in seconds, not minutes).
const STALL_SECS: u64 = 60;

/// The slowest average a body may arrive at once its first `STALL_SECS`
/// are over: a server sending a byte now and then would otherwise hold a
/// build for hours, since no single read waits long.
const MIN_BYTES_PER_SEC: u64 = 16 * 1024;

/// The most read of an index page (simple API, find-links listing): the
/// largest real ones (projects with nightly builds) are tens of MB.
pub const MAX_PAGE_BYTES: u64 = 256 << 20;

/// The most read of a download whose size nothing declares: the largest
/// real wheels are a few GB.
pub const MAX_UNDECLARED_DOWNLOAD_BYTES: u64 = 8 << 30;

/// `STALL_SECS`, or what `PYPACK_HTTP_TIMEOUT` says.
pub fn stall_secs() -> u64 {
    std::env::var("PYPACK_HTTP_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&s| s > 0)
        .unwrap_or(STALL_SECS)
}

#[derive(Clone)]
pub struct Http {
    /// Made at the first request: a build that asks nothing of the network
    /// (an edit, all in the cache) is spared the TLS roots' reading and the
    /// client's runtime thread.
    client: std::sync::OnceLock<reqwest::blocking::Client>,
    credentials: Credentials,
}

/// Basic-auth credentials: those in a URL's user info go to that URL's
/// host and port only (as pip keys them), a `.netrc` machine's to its host.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// (host, port — `None` for a `.netrc` machine, user, password)
    by_host: Vec<(String, Option<u16>, String, String)>,
    default: Option<(String, String)>,
}

impl Credentials {
    /// From the user info of configured URLs, then a `.netrc` file's text.
    pub fn from_sources(urls: &[String], netrc: Option<&str>) -> Credentials {
        let mut creds = Credentials::default();
        for u in urls {
            if let Ok(parsed) = url::Url::parse(u)
                && !parsed.username().is_empty()
                && let Some(host) = parsed.host_str()
            {
                let user = decode(parsed.username());
                let pass = decode(parsed.password().unwrap_or(""));
                let port = parsed.port_or_known_default();
                creds.by_host.push((host.to_string(), port, user, pass));
            }
        }
        if let Some(text) = netrc {
            creds.add_netrc(text);
        }
        creds
    }

    fn add_netrc(&mut self, text: &str) {
        let tokens = netrc_tokens(text);
        let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
        let mut i = 0;
        while i < tokens.len() {
            let (host, start) = match tokens[i] {
                "machine" if i + 1 < tokens.len() => (Some(tokens[i + 1].to_string()), i + 2),
                "default" => (None, i + 1),
                _ => {
                    i += 1;
                    continue;
                }
            };
            let (mut login, mut password) = (String::new(), String::new());
            let mut j = start;
            while j + 1 < tokens.len() && !matches!(tokens[j], "machine" | "default") {
                match tokens[j] {
                    "login" | "user" => login = tokens[j + 1].to_string(),
                    "password" => password = tokens[j + 1].to_string(),
                    _ => {}
                }
                j += 2;
            }
            match host {
                Some(h) => self.by_host.push((h, None, login, password)),
                None => self.default = Some((login, password)),
            }
            i = j;
        }
    }

    fn for_url(&self, url: &url::Url) -> Option<(String, String)> {
        let (host, port) = (url.host_str()?, url.port_or_known_default());
        let found = |with_port: bool| {
            self.by_host
                .iter()
                .find(|(h, p, _, _)| {
                    h == host && p.is_some() == with_port && (!with_port || *p == port)
                })
                .map(|(_, _, u, p)| (u.clone(), p.clone()))
        };
        found(true)
            .or_else(|| found(false))
            .or_else(|| self.default.clone())
    }
}

/// A `.netrc` file's tokens as Python's `netrc` (pip's) and curl read them:
/// whitespace-separated, `"quoted"` with backslash escapes, a `#` comment
/// to the end of its line, and `macdef NAME` followed by its macro's lines
/// up to a blank line, left out.
fn netrc_tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '#' {
            while chars.next().is_some_and(|c| c != '\n') {}
            continue;
        }
        let mut token = String::new();
        if c == '"' {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => token.extend(chars.next()),
                    c => token.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                match c {
                    '\\' => token.extend(chars.next()),
                    c => token.push(c),
                }
            }
        }
        if tokens.last().is_some_and(|t: &String| t == "macdef") {
            // The macro's name ends its line; its body runs to a blank line.
            tokens.pop();
            while chars.next().is_some_and(|c| c != '\n') {}
            let mut line_empty = true;
            for c in chars.by_ref() {
                match c {
                    '\n' if line_empty => break,
                    '\n' => line_empty = true,
                    c if c.is_whitespace() => {}
                    _ => line_empty = false,
                }
            }
            continue;
        }
        tokens.push(token);
    }
    tokens
}

fn decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The URL with any user info removed, for messages and lock files.
pub fn redact(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        _ => u.to_string(),
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

/// What a cached page's validators say.
#[derive(serde::Serialize, serde::Deserialize)]
struct CachedPage {
    body: String,
    content_type: String,
    url: String,
    etag: Option<String>,
    last_modified: Option<String>,
    fetched_at: u64,
    max_age: u64,
}

impl Http {
    pub fn new() -> Result<Http> {
        Http::with_credentials(Credentials::default())
    }

    pub fn with_credentials(credentials: Credentials) -> Result<Http> {
        Ok(Http {
            client: std::sync::OnceLock::new(),
            credentials,
        })
    }

    /// The client, made on first use.
    fn client(&self) -> Result<&reqwest::blocking::Client> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let client = reqwest::blocking::Client::builder()
            .user_agent(concat!("pypack/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(15))
            // Per operation (the headers, each read of the body), not the
            // whole request: `Limit` judges a body's total time.
            .timeout(Duration::from_secs(stall_secs()))
            .build()
            .context("cannot set up the HTTP client")?;
        // Two threads may both have made one: the first kept is used.
        Ok(self.client.get_or_init(|| client))
    }

    /// GETs `url` with `headers`, retrying transient failures. A 404 gives
    /// `None` when `missing_ok`; a 304 is returned as a response.
    fn send(
        &self,
        url: &str,
        headers: HeaderMap,
        missing_ok: bool,
    ) -> Result<Option<reqwest::blocking::Response>> {
        let shown = redact(url);
        let (target, auth) = self.authenticate(url)?;
        let client = self.client()?;
        let mut last_error = None;
        let mut delay = Duration::ZERO;
        for attempt in 0..ATTEMPTS {
            std::thread::sleep(delay);
            delay = retry_delay(attempt + 1, None);
            let mut request = client.get(target.as_str()).headers(headers.clone());
            if let Some((user, pass)) = &auth {
                request = request.basic_auth(user, Some(pass));
            }
            match request.send() {
                Ok(resp)
                    if resp.status().is_success()
                        || resp.status() == reqwest::StatusCode::NOT_MODIFIED =>
                {
                    return Ok(Some(resp));
                }
                Ok(resp) if missing_ok && resp.status() == reqwest::StatusCode::NOT_FOUND => {
                    return Ok(None);
                }
                Ok(resp) if transient(resp.status()) => {
                    delay = retry_delay(attempt + 1, resp.headers().get(header::RETRY_AFTER));
                    last_error = Some(format!("HTTP {}", resp.status()))
                }
                Ok(resp) if matches!(resp.status().as_u16(), 401 | 403) => bail!(
                    "GET {shown}: HTTP {} — the server wants credentials; put them in the index URL \
                     (https://USER:PASSWORD@host/…) or in ~/.netrc",
                    resp.status()
                ),
                Ok(resp) => bail!("GET {shown}: HTTP {}", resp.status()),
                Err(e) if e.is_timeout() || e.is_connect() || e.is_request() => {
                    last_error = Some(redact(&error_chain(&e)));
                }
                Err(e) => bail!("GET {shown}: {}", redact(&error_chain(&e))),
            }
        }
        bail!(
            "GET {shown} failed after {ATTEMPTS} attempts: {}",
            last_error.unwrap_or_default()
        )
    }

    /// The URL without user info, and the credentials to send with it.
    fn authenticate(&self, u: &str) -> Result<(String, Option<(String, String)>)> {
        let mut parsed =
            url::Url::parse(u).with_context(|| format!("'{}' is not a URL", redact(u)))?;
        if !parsed.username().is_empty() {
            let creds = (
                decode(parsed.username()),
                decode(parsed.password().unwrap_or("")),
            );
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            return Ok((parsed.to_string(), Some(creds)));
        }
        let creds = self.credentials.for_url(&parsed);
        Ok((u.to_string(), creds))
    }

    /// The response to GET `url`, unless its announced length passes `limit`.
    fn get_within(&self, url: &str, limit: Limit) -> Result<reqwest::blocking::Response> {
        let response = self
            .send(url, HeaderMap::new(), false)?
            .with_context(|| format!("GET {}: not found", redact(url)))?;
        check_length(&response, limit).with_context(|| format!("GET {}", redact(url)))?;
        Ok(response)
    }

    /// The body of `url`, refused past `limit` bytes.
    pub fn get_bytes(&self, url: &str, limit: Limit) -> Result<Vec<u8>> {
        let response = self
            .send(url, HeaderMap::new(), false)?
            .with_context(|| format!("GET {}: not found", redact(url)))?;
        read_body(response, limit).with_context(|| format!("GET {}: reading the body", redact(url)))
    }

    /// A content-negotiated page (the simple API), or `None` on 404. Pages
    /// are kept in `cache` with their validators: a page still fresh by its
    /// `Cache-Control: max-age` is served without a request, a stale one is
    /// revalidated with `If-None-Match` / `If-Modified-Since`.
    pub fn get_page(&self, cache: &Cache, url: &str, accept: &str) -> Result<Option<Page>> {
        let key = format!("{accept}\n{url}");
        let now = crate::unix_now();
        let cached: Option<CachedPage> = cache
            .get_ref("http", &key)
            .and_then(|t| serde_json::from_str(&t).ok());
        let cached_body = cached.as_ref().and_then(|c| cache.read_blob(&c.body).ok());
        if let (Some(c), Some(body)) = (&cached, &cached_body)
            && now.saturating_sub(c.fetched_at) < c.max_age
        {
            return Ok(Some(Page {
                body: body.clone(),
                content_type: c.content_type.clone(),
                url: c.url.clone(),
            }));
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(accept)?);
        if let (Some(c), Some(_)) = (&cached, &cached_body) {
            if let Some(etag) = c
                .etag
                .as_deref()
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                headers.insert(header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = c
                .last_modified
                .as_deref()
                .and_then(|v| HeaderValue::from_str(v).ok())
            {
                headers.insert(header::IF_MODIFIED_SINCE, lm);
            }
        }
        let Some(resp) = self.send(url, headers, true)? else {
            return Ok(None);
        };
        let text_header = |name: header::HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let cache_control = text_header(header::CACHE_CONTROL).unwrap_or_default();
        let max_age = max_age(&cache_control);
        if resp.status() == reqwest::StatusCode::NOT_MODIFIED
            && let (Some(mut c), Some(body)) = (cached, cached_body)
        {
            c.fetched_at = now;
            c.max_age = max_age.unwrap_or(c.max_age);
            cache.set_ref("http", &key, &serde_json::to_string(&c)?)?;
            return Ok(Some(Page {
                body,
                content_type: c.content_type,
                url: c.url,
            }));
        }
        let page_meta = (
            text_header(header::CONTENT_TYPE).unwrap_or_default(),
            text_header(header::ETAG),
            text_header(header::LAST_MODIFIED),
            resp.url().to_string(),
        );
        let body = read_body(resp, Limit::Cap(MAX_PAGE_BYTES, "an index page"))
            .with_context(|| format!("GET {}: reading the body", redact(url)))?;
        let (content_type, etag, last_modified, final_url) = page_meta;
        // A page that is never fresh and cannot be asked for conditionally
        // (no ETag, no Last-Modified) would never be read back: not stored.
        let reusable = max_age.unwrap_or(0) > 0 || etag.is_some() || last_modified.is_some();
        if reusable && !cache_control.contains("no-store") {
            let record = CachedPage {
                body: cache.put_bytes(&body)?,
                content_type: content_type.clone(),
                url: final_url.clone(),
                etag,
                last_modified,
                fetched_at: now,
                max_age: max_age.unwrap_or(0),
            };
            cache.set_ref("http", &key, &serde_json::to_string(&record)?)?;
        }
        Ok(Some(Page {
            body,
            content_type,
            url: final_url,
        }))
    }

    /// Downloads `url` into the cache unless a blob with `sha256_hex` is already
    /// there. The content must have that hash and pass `check` before it is
    /// stored, so a bad download never becomes a cache entry.
    /// `size`: the size a signed index (or the package index) gives the
    /// file; a body longer than it is cut one byte past it and refused, so a
    /// body that never ends costs no more than that.
    pub fn fetch_to_cache(
        &self,
        cache: &Cache,
        url: &str,
        sha256_hex: &str,
        size: Option<u64>,
        check: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<FetchOutcome> {
        if cache.has_blob(sha256_hex) {
            return Ok(FetchOutcome::Cached);
        }
        let _lock = cache.lock(sha256_hex)?;
        if cache.has_blob(sha256_hex) {
            return Ok(FetchOutcome::Cached); // another process fetched it meanwhile
        }
        self.download(cache, url, size)?
            .commit_checked(Some(sha256_hex), check)
            .with_context(|| format!("refusing {}", redact(url)))?;
        Ok(FetchOutcome::Downloaded)
    }

    /// `read` given the content of `url` as it downloads into the cache, or
    /// from the cache when a blob with `sha256_hex` is there already. The
    /// value is returned only once the whole content has that hash and is
    /// stored: content that does not match is an error, whatever `read` made
    /// of it, and never becomes a cache entry.
    pub fn fetch_to_cache_reading<T>(
        &self,
        cache: &Cache,
        url: &str,
        sha256_hex: &str,
        size: Option<u64>,
        read: impl FnOnce(&mut dyn Read) -> Result<T>,
    ) -> Result<(FetchOutcome, T)> {
        // Locked only to fetch; a blob found (maybe fetched by another
        // process meanwhile) is checked and read.
        let _lock = match cache.has_blob(sha256_hex) {
            true => None,
            false => Some(cache.lock(sha256_hex)?),
        };
        if cache.has_blob(sha256_hex) {
            cache.verify_blob(sha256_hex)?;
            let file = std::fs::File::open(cache.blob_path(sha256_hex))?;
            return Ok((FetchOutcome::Cached, read(&mut io::BufReader::new(file))?));
        }
        let mut resp = Bounded::new(
            self.get_within(url, Limit::download(size))?,
            Limit::download(size),
        );
        let mut writer = cache.blob_writer()?;
        let value = read(&mut Tee {
            inner: &mut resp,
            copy: &mut writer,
        });
        // What `read` left is read too: the hash decides whether the
        // content was what was asked for, and a mismatch is the error to
        // give. Content `read` refused is not stored, whatever its hash.
        std::io::copy(&mut resp, &mut writer)
            .with_context(|| format!("GET {}: reading the body", redact(url)))?;
        writer
            .commit_checked(Some(sha256_hex), |_| match &value {
                Ok(_) => Ok(()),
                Err(e) => Err(anyhow::anyhow!("{e:#}")),
            })
            .with_context(|| format!("refusing {}", redact(url)))?;
        Ok((FetchOutcome::Downloaded, value?))
    }

    /// A seekable view of a remote file read with HTTP range requests, if the
    /// server supports them; else the whole file as the server sends it
    /// (`None` on any other answer, and the caller downloads it whole).
    /// The first request asks for the file's last [`TAIL_BYTES`]: its length
    /// comes with them, and for a wheel they hold the end of the zip's
    /// directory and usually all of it.
    pub fn ranged(&self, url: &str) -> Option<Ranged<'_>> {
        let mut headers = HeaderMap::new();
        let suffix = HeaderValue::from_str(&format!("bytes=-{TAIL_BYTES}")).ok()?;
        headers.insert(header::RANGE, suffix);
        let started = std::time::Instant::now();
        let resp = self.send(url, headers, false).ok()??;
        if resp.status() == reqwest::StatusCode::OK {
            return Some(Ranged::Whole(resp));
        }
        if resp.status() != reqwest::StatusCode::PARTIAL_CONTENT {
            return None;
        }
        // `bytes START-END/TOTAL`
        let content_range = resp.headers().get(header::CONTENT_RANGE)?.to_str().ok()?;
        let (span, total) = content_range.strip_prefix("bytes ")?.split_once('/')?;
        let (start, end) = span.split_once('-')?;
        let (start, end, total): (u64, u64, u64) =
            (start.parse().ok()?, end.parse().ok()?, total.parse().ok()?);
        if start > end || end >= total || end - start >= TAIL_BYTES {
            return None;
        }
        let mut tail = Vec::new();
        Bounded::new(resp, Limit::Declared(end - start + 1))
            .read_to_end(&mut tail)
            .ok()?;
        Some(Ranged::Parts(RangedFile {
            http: self,
            url: url.to_string(),
            len: total,
            pos: 0,
            segments: BTreeMap::from([(start, tail)]),
            requests: 0,
            started,
        }))
    }

    /// The body of `resp` (from `url`, at most `size` bytes, else the
    /// download cap) kept in the cache if its sha256 is `expected`: a
    /// download already under way, not started again.
    pub fn keep_body(
        &self,
        cache: &Cache,
        url: &str,
        resp: reqwest::blocking::Response,
        size: Option<u64>,
        expected: &str,
    ) -> Result<()> {
        let limit = Limit::download(size);
        let mut body = Bounded::new(resp, limit);
        let mut writer = cache.blob_writer()?;
        std::io::copy(&mut body, &mut writer)
            .with_context(|| format!("GET {}: reading the body", redact(url)))?;
        writer
            .commit(Some(expected))
            .with_context(|| format!("refusing {}", redact(url)))?;
        Ok(())
    }

    fn range(&self, url: &str, start: u64, end: u64) -> io::Result<Vec<u8>> {
        let mut headers = HeaderMap::new();
        let value =
            HeaderValue::from_str(&format!("bytes={start}-{end}")).map_err(io::Error::other)?;
        headers.insert(header::RANGE, value);
        let resp = self
            .send(url, headers, false)
            .map_err(|e| io::Error::other(format!("{e:#}")))?;
        let resp = resp.ok_or_else(|| io::Error::other("range request: not found"))?;
        if resp.status() != reqwest::StatusCode::PARTIAL_CONTENT {
            return Err(io::Error::other("server ignored the range request"));
        }
        let mut body = Vec::new();
        Bounded::new(resp, Limit::Declared(end - start + 1)).read_to_end(&mut body)?;
        Ok(body)
    }

    /// Downloads `url`, which no index gives a hash for, into the cache;
    /// returns its sha256. Nothing is stored unless the whole body arrived.
    pub fn fetch_unhashed(&self, cache: &Cache, url: &str, size: Option<u64>) -> Result<String> {
        self.download(cache, url, size)?
            .commit(None)
            .with_context(|| format!("refusing {}", redact(url)))
    }

    /// The body of `url` (at most `size` bytes, else the download cap)
    /// written into a cache blob writer, not yet committed.
    fn download(
        &self,
        cache: &Cache,
        url: &str,
        size: Option<u64>,
    ) -> Result<crate::cache::BlobWriter> {
        let limit = Limit::download(size);
        let mut resp = Bounded::new(self.get_within(url, limit)?, limit);
        let mut writer = cache.blob_writer()?;
        std::io::copy(&mut resp, &mut writer)
            .with_context(|| format!("GET {}: reading the body", redact(url)))?;
        Ok(writer)
    }
}

/// `max-age=N` of a Cache-Control header (`no-cache` means 0).
fn max_age(cache_control: &str) -> Option<u64> {
    if cache_control.contains("no-cache") {
        return Some(0);
    }
    cache_control
        .split(',')
        .find_map(|d| d.trim().strip_prefix("max-age=")?.trim().parse().ok())
}

/// How much of a remote file's end [`Http::ranged`] asks for first.
pub const TAIL_BYTES: u64 = 64 * 1024;
/// A read outside what was fetched asks for this much (less when a fetched
/// part follows sooner).
const RANGE_BLOCK: u64 = 64 * 1024;

/// What a first range request got: the parts asked for, or (from a server
/// that does not do ranges) the whole file, coming.
pub enum Ranged<'a> {
    Parts(RangedFile<'a>),
    Whole(reqwest::blocking::Response),
}

/// Read + Seek over HTTP ranges: parts of the file fetched on demand and
/// kept, so a reader's small reads cost no request once their part is here.
pub struct RangedFile<'a> {
    http: &'a Http,
    url: String,
    len: u64,
    pos: u64,
    /// Fetched parts by where they start; they never overlap.
    segments: BTreeMap<u64, Vec<u8>>,
    /// Range requests made after the first, and when the first was sent.
    requests: usize,
    started: std::time::Instant,
}

/// Range requests a [`RangedFile`] makes after the first (a wheel's
/// METADATA needs two at most: the rest of the directory, the member).
const MAX_RANGE_REQUESTS: usize = 6;
/// How long a [`RangedFile`] keeps asking for parts.
const RANGED_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

impl RangedFile<'_> {
    /// The fetched part holding `pos`, if any.
    fn segment_at(&self, pos: u64) -> Option<(u64, &Vec<u8>)> {
        let (start, data) = self.segments.range(..=pos).next_back()?;
        (pos < start + data.len() as u64).then_some((*start, data))
    }

    /// Fetches one block from `pos` (up to the next fetched part).
    fn fetch_at(&mut self, pos: u64) -> io::Result<()> {
        let next = self.segments.range(pos..).next().map(|(s, _)| *s);
        let end = next
            .unwrap_or(self.len)
            .min(pos + RANGE_BLOCK)
            .min(self.len);
        self.fetch(pos, end)
    }

    fn fetch(&mut self, start: u64, end: u64) -> io::Result<()> {
        // A reader that keeps missing what was fetched, or a slow server,
        // gets the whole file downloaded instead: the cost stays bounded.
        if self.requests >= MAX_RANGE_REQUESTS || self.started.elapsed() > RANGED_DEADLINE {
            return Err(io::Error::other(format!(
                "{}: not read within {} range requests and {} s",
                redact(&self.url),
                MAX_RANGE_REQUESTS,
                RANGED_DEADLINE.as_secs()
            )));
        }
        self.requests += 1;
        let data = self.http.range(&self.url, start, end - 1)?;
        if data.is_empty() {
            return Err(io::Error::other("range request: empty answer"));
        }
        self.segments.insert(start, data);
        Ok(())
    }

    /// The first part fetched: the file's last bytes, and where they start.
    pub fn tail(&self) -> (u64, &[u8]) {
        let (start, data) = self
            .segments
            .iter()
            .next_back()
            .expect("ranged() fetched the tail");
        (*start, data)
    }

    /// Fetches `start..` up to the tail in one request, when a reader is
    /// known to read all of it (a zip's directory).
    pub fn prefetch_to_tail(&mut self, start: u64) -> io::Result<()> {
        let (tail_start, _) = self.tail();
        match start < tail_start && self.segment_at(start).is_none() {
            true => self.fetch(start, tail_start),
            false => Ok(()),
        }
    }
}

impl Read for RangedFile<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        if self.segment_at(self.pos).is_none() {
            self.fetch_at(self.pos)?;
        }
        let (start, data) = self.segment_at(self.pos).expect("fetched above");
        let offset = (self.pos - start) as usize;
        let n = buf.len().min(data.len() - offset);
        buf[..n].copy_from_slice(&data[offset..offset + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for RangedFile<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let new = match to {
            SeekFrom::Start(p) => p as i128,
            SeekFrom::End(d) => self.len as i128 + d as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if new < 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before start",
            ));
        }
        self.pos = new as u64;
        Ok(self.pos)
    }
}

pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// How much of a body pypack reads.
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    /// The size an index or a manifest gives the file: more is refused.
    Declared(u64),
    /// No size is known: at most this many bytes of this kind of thing.
    Cap(u64, &'static str),
}

impl Limit {
    /// A download's limit: its declared size, else the cap for files.
    pub fn download(size: Option<u64>) -> Limit {
        match size {
            Some(size) => Limit::Declared(size),
            None => Limit::Cap(
                MAX_UNDECLARED_DOWNLOAD_BYTES,
                "a download of no declared size",
            ),
        }
    }

    fn bytes(self) -> u64 {
        match self {
            Limit::Declared(n) | Limit::Cap(n, _) => n,
        }
    }

    fn exceeded(self) -> String {
        match self {
            Limit::Declared(n) => {
                format!("the body is longer than the {n} bytes declared for it; refusing it")
            }
            Limit::Cap(n, what) => format!(
                "the body is larger than {} MB, the most pypack reads of {what}; refusing it",
                n >> 20
            ),
        }
    }
}

/// A body read no further than one byte past its limit, and given up on
/// when it arrives too slowly: either is an error saying so.
pub struct Bounded<R> {
    inner: R,
    limit: Limit,
    read: u64,
    started: std::time::Instant,
    judged_after: Duration,
}

/// The whole body of `response`: refused when its Content-Length already
/// passes `limit`, and one byte past it while it arrives.
pub fn read_body(response: reqwest::blocking::Response, limit: Limit) -> Result<Vec<u8>> {
    check_length(&response, limit)?;
    let mut body = Vec::new();
    Bounded::new(response, limit).read_to_end(&mut body)?;
    Ok(body)
}

/// A response whose Content-Length already passes `limit` is refused
/// before its body is read.
fn check_length(response: &reqwest::blocking::Response, limit: Limit) -> Result<()> {
    match response.content_length() {
        Some(length) if length > limit.bytes() => Err(anyhow::anyhow!(
            "{} (it announces {length} bytes)",
            limit.exceeded()
        )),
        _ => Ok(()),
    }
}

impl<R: Read> Bounded<R> {
    pub fn new(inner: R, limit: Limit) -> Bounded<R> {
        Bounded {
            inner,
            limit,
            read: 0,
            started: std::time::Instant::now(),
            judged_after: Duration::from_secs(stall_secs()),
        }
    }

    fn too_slow(&self) -> Option<String> {
        let elapsed = self.started.elapsed();
        if elapsed < self.judged_after {
            return None;
        }
        let rate = self.read as f64 / elapsed.as_secs_f64();
        (rate < MIN_BYTES_PER_SEC as f64).then(|| {
            format!(
                "the server sent {} bytes in {:.0} s, slower than the {} KB/s pypack waits for; giving up",
                self.read,
                elapsed.as_secs_f64(),
                MIN_BYTES_PER_SEC / 1024
            )
        })
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(why) = self.too_slow() {
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, why));
        }
        let left = self.limit.bytes().saturating_sub(self.read);
        let want = buf
            .len()
            .min(usize::try_from(left.saturating_add(1)).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want]).map_err(|e| {
            match e.kind() == std::io::ErrorKind::TimedOut || e.to_string().contains("timed out") {
                true => std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "the server sent nothing for {} s; giving up (PYPACK_HTTP_TIMEOUT=SECONDS waits longer): {e}",
                        self.judged_after.as_secs()
                    ),
                ),
                false => e,
            }
        })?;
        if n as u64 > left {
            return Err(std::io::Error::other(self.limit.exceeded()));
        }
        self.read += n as u64;
        Ok(n)
    }
}

/// A reader that writes a copy of everything read through it.
pub struct Tee<R, W> {
    pub inner: R,
    pub copy: W,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.copy.flush()?;
        }
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_from_urls_and_netrc() {
        let creds = Credentials::from_sources(
            &["https://alice:s%40cret@private.example/simple".to_string()],
            Some("machine other.example login bob password pw\ndefault login anon password x\n"),
        );
        let at = |u: &str| creds.for_url(&url::Url::parse(u).unwrap());
        assert_eq!(
            at("https://private.example/files/x.whl"),
            Some(("alice".into(), "s@cret".into()))
        );
        // Another port of the same host is another server: not alice's.
        assert_eq!(
            at("https://private.example:8443/files/x.whl"),
            Some(("anon".into(), "x".into()))
        );
        assert_eq!(
            at("http://other.example:8080/"),
            Some(("bob".into(), "pw".into()))
        );
        assert_eq!(
            at("https://elsewhere.example/"),
            Some(("anon".into(), "x".into()))
        );
        assert_eq!(
            redact("https://alice:secret@private.example/simple/"),
            "https://private.example/simple/"
        );
    }

    /// As Python's netrc reads it: quoted tokens with escapes, comments,
    /// `macdef` bodies (whose words are no entries), `user` for `login`.
    #[test]
    fn netrc_quoting_comments_and_macros() {
        let text = "# a comment: machine evil.example login x password y\n\
            machine quoted.example login \"al ice\" password \"p\\\"w d\"\n\
            macdef init\n\
            machine macro.example login m password m\n\
            \n\
            machine after.example user bob password b#not-a-comment\n";
        let creds = Credentials::from_sources(&[], Some(text));
        let at = |u: &str| creds.for_url(&url::Url::parse(u).unwrap());
        assert_eq!(
            at("https://quoted.example/"),
            Some(("al ice".into(), "p\"w d".into()))
        );
        assert_eq!(at("https://macro.example/"), None);
        assert_eq!(at("https://evil.example/"), None);
        assert_eq!(
            at("https://after.example/"),
            Some(("bob".into(), "b#not-a-comment".into()))
        );
    }

    #[test]
    fn cache_control() {
        assert_eq!(max_age("max-age=600, public"), Some(600));
        assert_eq!(max_age("no-cache"), Some(0));
        assert_eq!(max_age(""), None);
    }
}
