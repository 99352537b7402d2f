//! The OCI distribution protocol, spoken directly (no engine): image
//! references, the `/v2/` auth challenge (anonymous or basic credentials
//! exchanged for a bearer token, or plain basic auth), credentials from the
//! Docker/podman auth files and credential helpers, and pushing an image's
//! blobs (skipping those the registry has) and manifest. Secrets are never
//! printed.

use crate::cache::Cache;
use crate::digest::strip_sha256;
use crate::http::{ATTEMPTS, Bounded, Limit, read_body};
use crate::oci::Image;
use anyhow::{Context, Result, bail};
use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// `registry/repository[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Reference {
    /// Parses a reference. The registry part is required: pypack knows no
    /// default registry, so a short name such as `myapp:1` is refused with
    /// how to name the registry.
    pub fn parse(text: &str) -> Result<Reference> {
        let (rest, digest) = match text.split_once('@') {
            Some((r, d)) => (r, Some(d.to_string())),
            None => (text, None),
        };
        let (registry, path) = rest
            .split_once('/')
            .filter(|(first, _)| first.contains('.') || first.contains(':') || *first == "localhost")
            .with_context(|| {
                format!("'{text}' names no registry; write it in full, e.g. localhost:5000/{rest} or registry.example.com/team/{rest}")
            })?;
        let (repository, tag) = match path.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r.to_string(), Some(t.to_string())),
            _ => (path.to_string(), None),
        };
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c))
        };
        if !valid(&repository) {
            bail!(
                "'{text}': the repository '{repository}' must be lower-case letters, digits and . _ - /"
            );
        }
        if let Some(d) = &digest {
            strip_sha256(d).with_context(|| format!("'{text}': bad digest"))?;
        }
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_string())
        } else {
            tag
        };
        Ok(Reference {
            registry: registry.to_string(),
            repository,
            tag,
            digest,
        })
    }

    /// The tag, else the digest: what a manifest is stored under.
    pub fn manifest_key(&self) -> &str {
        self.tag
            .as_deref()
            .or(self.digest.as_deref())
            .unwrap_or("latest")
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Reads an environment variable (a closure, so tests can supply their own).
pub type EnvLookup = Box<dyn Fn(&str) -> Option<String>>;

/// How short names and registry locations are configured on this host: the
/// containers `registries.conf` files (`[aliases]`,
/// `unqualified-search-registries`, `[[registry]] prefix`/`location`), which
/// podman and skopeo read too. pypack itself names no registry.
#[derive(Debug, Clone, Default)]
pub struct RegistriesConf {
    aliases: Vec<(String, String)>,
    search: Vec<String>,
    /// (prefix, location): a reference starting with `prefix` is fetched from `location`.
    locations: Vec<(String, String)>,
}

impl RegistriesConf {
    /// `$CONTAINERS_REGISTRIES_CONF`, else `/etc/containers/registries.conf`
    /// and `registries.conf.d/*.conf`, then the user's under `~/.config/containers`.
    pub fn from_host() -> RegistriesConf {
        let mut files = Vec::new();
        match std::env::var_os("CONTAINERS_REGISTRIES_CONF") {
            Some(file) => files.push(PathBuf::from(file)),
            None => {
                let mut roots = vec![PathBuf::from("/etc/containers")];
                if let Some(home) = std::env::var_os("HOME") {
                    roots.push(PathBuf::from(home).join(".config/containers"));
                }
                for root in roots {
                    files.push(root.join("registries.conf"));
                    if let Ok(entries) = std::fs::read_dir(root.join("registries.conf.d")) {
                        let mut more: Vec<PathBuf> =
                            entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
                        more.sort();
                        files.extend(
                            more.into_iter()
                                .filter(|p| p.extension().is_some_and(|e| e == "conf")),
                        );
                    }
                }
            }
        }
        let mut conf = RegistriesConf::default();
        for file in files {
            if let Ok(text) = std::fs::read_to_string(&file) {
                conf.add(&text);
            }
        }
        conf
    }

    /// Adds one file's settings; later files override earlier ones.
    pub fn add(&mut self, text: &str) {
        let Ok(doc) = toml::from_str::<toml::Table>(text) else {
            return;
        };
        if let Some(aliases) = doc.get("aliases").and_then(|a| a.as_table()) {
            for (name, target) in aliases {
                if let Some(target) = target.as_str() {
                    self.aliases.retain(|(n, _)| n != name);
                    self.aliases.push((name.clone(), target.to_string()));
                }
            }
        }
        if let Some(search) = doc
            .get("unqualified-search-registries")
            .and_then(|v| v.as_array())
        {
            self.search = search
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
        }
        for registry in doc
            .get("registry")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            let location = registry.get("location").and_then(|v| v.as_str());
            let prefix = registry.get("prefix").and_then(|v| v.as_str()).or(location);
            if let (Some(prefix), Some(location)) = (prefix, location) {
                self.locations
                    .push((prefix.to_string(), location.to_string()));
            }
        }
    }

    /// Qualifies a short name: an alias, else the first search registry.
    pub fn qualify(&self, text: &str) -> Result<String> {
        if Reference::parse(text).is_ok() {
            return Ok(text.to_string());
        }
        let (name, suffix) = match text.find(['@', ':']) {
            Some(i) => (&text[..i], &text[i..]),
            None => (text, ""),
        };
        if let Some((_, target)) = self.aliases.iter().find(|(n, _)| n == name) {
            return Ok(format!("{target}{suffix}"));
        }
        match self.search.first() {
            Some(registry) => Ok(format!("{registry}/{text}")),
            None => bail!(
                "'{text}' names no registry, and registries.conf has no alias for '{name}' and no \
                 unqualified-search-registries; write the reference in full (e.g. localhost:5000/{text})"
            ),
        }
    }

    /// Where to fetch `reference` from: its registry, or the `location` of the
    /// longest matching `[[registry]] prefix`.
    pub fn locate(&self, reference: &Reference) -> Reference {
        let full = format!("{}/{}", reference.registry, reference.repository);
        let best = self
            .locations
            .iter()
            .filter(|(prefix, _)| full == *prefix || full.starts_with(&format!("{prefix}/")))
            .max_by_key(|(prefix, _)| prefix.len());
        match best {
            Some((prefix, location)) if prefix != location => {
                let moved = format!("{location}{}", &full[prefix.len()..]);
                let mut located = reference.clone();
                if let Some((registry, repository)) = moved.split_once('/') {
                    located.registry = registry.to_string();
                    located.repository = repository.to_string();
                }
                located
            }
            _ => reference.clone(),
        }
    }

    /// Parses `text`, qualifying a short name and applying location remaps.
    pub fn resolve(&self, text: &str) -> Result<Reference> {
        let qualified = self.qualify(text)?;
        Ok(self.locate(&Reference::parse(&qualified)?))
    }
}

/// Where to find credentials: the files and helpers Docker and podman use.
pub struct CredentialSources {
    pub env: EnvLookup,
    pub home: Option<PathBuf>,
}

impl CredentialSources {
    pub fn from_host() -> CredentialSources {
        CredentialSources {
            env: Box::new(|k| std::env::var(k).ok()),
            home: std::env::var_os("HOME").map(PathBuf::from),
        }
    }

    /// (user, password) for `registry`: podman's auth file (`REGISTRY_AUTH_FILE`,
    /// `$XDG_RUNTIME_DIR/containers/auth.json`), then Docker's
    /// `config.json` (`DOCKER_CONFIG`) `auths`, `credHelpers` and `credsStore`.
    pub fn lookup(&self, registry: &str) -> Result<Option<(String, String)>> {
        let mut files = Vec::new();
        if let Some(f) = (self.env)("REGISTRY_AUTH_FILE") {
            files.push(PathBuf::from(f));
        }
        if let Some(dir) = (self.env)("XDG_RUNTIME_DIR") {
            files.push(PathBuf::from(dir).join("containers/auth.json"));
        }
        let docker_dir = (self.env)("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| self.home.as_ref().map(|h| h.join(".docker")));
        if let Some(dir) = docker_dir {
            files.push(dir.join("config.json"));
        }
        for file in files.iter().filter(|f| f.is_file()) {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let config: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            if let Some(auth) = config["auths"][registry]["auth"].as_str() {
                return decode_auth(auth)
                    .with_context(|| format!("{}: bad auth entry for {registry}", file.display()))
                    .map(Some);
            }
            let helper = config["credHelpers"][registry]
                .as_str()
                .or(config["credsStore"].as_str());
            if let Some(helper) = helper {
                return credential_helper(helper, registry);
            }
        }
        Ok(None)
    }
}

fn decode_auth(auth: &str) -> Result<(String, String)> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(auth.trim())?;
    let text = String::from_utf8(bytes)?;
    let (user, pass) = text.split_once(':').context("not user:password")?;
    Ok((user.to_string(), pass.to_string()))
}

/// `docker-credential-<helper> get` with the registry on stdin.
fn credential_helper(helper: &str, registry: &str) -> Result<Option<(String, String)>> {
    use std::io::Write;
    let program = format!("docker-credential-{helper}");
    let mut child = std::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("credential helper {program} is configured but cannot be run"))?;
    child
        .stdin
        .take()
        .context("helper stdin")?
        .write_all(registry.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Ok(None); // the helper has no credentials for this registry
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).with_context(|| format!("{program} gave no JSON"))?;
    Ok(Some((
        v["Username"].as_str().unwrap_or("").to_string(),
        v["Secret"].as_str().unwrap_or("").to_string(),
    )))
}

/// What a push did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    pub digest: String,
    pub uploaded: usize,
    pub skipped: usize,
}

pub struct Registry {
    client: Client,
    reference: Reference,
    base: String,
    credentials: Option<(String, String)>,
    /// `Authorization` header value once the challenge has been answered.
    authorization: Mutex<Option<String>>,
}

impl Registry {
    /// A client for `reference`'s registry; `plain_http` for a registry
    /// without TLS (only allowed on loopback).
    pub fn connect(
        reference: &Reference,
        plain_http: bool,
        credentials: Option<(String, String)>,
    ) -> Result<Registry> {
        let host = reference.registry.split(':').next().unwrap_or("");
        if plain_http && !matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
            bail!(
                "--insecure-registry (plain HTTP) is only allowed for a registry on loopback, not {}",
                reference.registry
            );
        }
        let scheme = if plain_http { "http" } else { "https" };
        let client = Client::builder()
            .user_agent(concat!("pypack/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(15))
            // Per operation: a registry that stops answering is given up
            // on as an index is; uploads get longer (UPLOAD_TIMEOUT).
            .timeout(Duration::from_secs(crate::http::stall_secs()))
            .build()?;
        Ok(Registry {
            client,
            base: format!("{scheme}://{}", reference.registry),
            reference: reference.clone(),
            credentials,
            authorization: Mutex::new(None),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v2/{}/{path}", self.base, self.reference.repository)
    }

    /// Sends `make()`, answering an auth challenge once if the registry
    /// asks, and again after a transient failure (a connection that failed,
    /// a 5xx, a 429 with its `Retry-After`), as index requests are.
    fn send(&self, make: &dyn Fn() -> RequestBuilder) -> Result<Response> {
        let mut answered = false;
        let mut retries = 0;
        loop {
            let mut request = make();
            if let Some(auth) = self.authorization.lock().unwrap().clone() {
                request = request.header(header::AUTHORIZATION, auth);
            }
            let response = match request.send() {
                Err(e) if (e.is_connect() || e.is_timeout()) && retries + 1 < ATTEMPTS => {
                    retries += 1;
                    std::thread::sleep(crate::http::retry_delay(retries, None));
                    continue;
                }
                other => other.map_err(|e| {
                    anyhow::anyhow!(
                        "{}: {}",
                        self.reference.registry,
                        crate::http::redact(&crate::http::error_chain(&e))
                    )
                })?,
            };
            if crate::http::transient(response.status()) && retries + 1 < ATTEMPTS {
                retries += 1;
                std::thread::sleep(crate::http::retry_delay(
                    retries,
                    response.headers().get(header::RETRY_AFTER),
                ));
                continue;
            }
            if response.status() != StatusCode::UNAUTHORIZED || answered {
                if response.status() == StatusCode::UNAUTHORIZED {
                    bail!(
                        "{} refused the credentials ({}): check the user and password in your \
                         auth file (docker login / podman login)",
                        self.reference.registry,
                        if self.credentials.is_some() {
                            "given"
                        } else {
                            "none found"
                        }
                    );
                }
                return Ok(response);
            }
            let challenge = response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let answer = self.answer(&challenge)?;
            *self.authorization.lock().unwrap() = Some(answer);
            answered = true;
        }
    }

    /// The `Authorization` value for a `WWW-Authenticate` challenge.
    fn answer(&self, challenge: &str) -> Result<String> {
        use base64::Engine as _;
        let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => {
                let (user, pass) = self.credentials.clone().with_context(|| {
                    format!("{} needs credentials and none were found: run `podman login {0}` or `docker login {0}`", self.reference.registry)
                })?;
                Ok(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
                ))
            }
            "bearer" => {
                let param = |name: &str| {
                    params.split(',').find_map(|p| {
                        let (k, v) = p.trim().split_once('=')?;
                        (k == name).then(|| v.trim_matches('"').to_string())
                    })
                };
                let realm = param("realm").context("bearer challenge without realm")?;
                let scope = param("scope").unwrap_or_else(|| {
                    format!("repository:{}:pull,push", self.reference.repository)
                });
                let mut request = self.client.get(&realm).query(&[("scope", scope.as_str())]);
                if let Some(service) = param("service") {
                    request = request.query(&[("service", service.as_str())]);
                }
                if let Some((user, pass)) = &self.credentials {
                    request = request.basic_auth(user, Some(pass));
                }
                let response = request.send().with_context(|| {
                    format!("asking {} for a token", crate::http::redact(&realm))
                })?;
                if !response.status().is_success() {
                    bail!(
                        "the token service of {} refused: HTTP {}",
                        self.reference.registry,
                        response.status()
                    );
                }
                let body: serde_json::Value =
                    serde_json::from_slice(&read_capped(response, MAX_TOKEN_BYTES, "a token")?)
                        .context("the token service's answer is not JSON")?;
                let token = body["token"]
                    .as_str()
                    .or(body["access_token"].as_str())
                    .context("token response without a token")?;
                Ok(format!("Bearer {token}"))
            }
            other => bail!(
                "{} asks for '{other}' authentication, which pypack does not speak",
                self.reference.registry
            ),
        }
    }

    fn has_blob(&self, digest: &str) -> Result<bool> {
        let url = self.url(&format!("blobs/{digest}"));
        let response = self.send(&|| self.client.head(&url))?;
        Ok(response.status().is_success())
    }

    /// Uploads one blob from the cache (monolithically), unless the registry has it.
    pub(crate) fn push_blob(
        &self,
        cache: &Cache,
        digest: &str,
        mount_from: Option<&str>,
    ) -> Result<bool> {
        if self.has_blob(digest)? {
            return Ok(false);
        }
        // Ask for a cross-repository mount when the blob likely exists in
        // another repository of this registry (the base's); a registry that
        // cannot mount answers 202 and the upload proceeds as usual.
        let start_url = match mount_from {
            Some(from) => format!("{}?mount={digest}&from={from}", self.url("blobs/uploads/")),
            None => self.url("blobs/uploads/"),
        };
        let started = self.send(&|| {
            self.client
                .post(&start_url)
                .header(header::CONTENT_LENGTH, 0)
        })?;
        if mount_from.is_some() && started.status() == StatusCode::CREATED {
            return Ok(false);
        }
        if started.status() != StatusCode::ACCEPTED {
            bail!(
                "{}: starting an upload gave HTTP {}",
                self.reference.registry,
                started.status()
            );
        }
        let location = started
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .context("upload start without a Location")?
            .to_string();
        let location = crate::index::simple::join_url(&format!("{}/", self.base), &location)?;
        let separator = if location.contains('?') { '&' } else { '?' };
        let put_url = format!("{location}{separator}digest={digest}");
        let path = cache.blob_path(strip_sha256(digest)?);
        let size = std::fs::metadata(&path)?.len();
        let response = self.send(&|| {
            let file = std::fs::File::open(&path).expect("cache blob was just checked");
            self.client
                .put(&put_url)
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .header(header::CONTENT_LENGTH, size)
                .timeout(upload_timeout(size))
                .body(reqwest::blocking::Body::sized(file, size))
        })?;
        if response.status() != StatusCode::CREATED {
            bail!(
                "{}: uploading {digest} gave HTTP {}",
                self.reference.registry,
                response.status()
            );
        }
        Ok(true)
    }

    /// Pulls the image for `platform` (choosing from an index / manifest list),
    /// storing config and layers in the cache with their digests checked.
    /// Layers are kept as they are, to be reused without re-compression.
    pub fn pull(&self, cache: &Cache, platform: crate::platform::Platform) -> Result<Image> {
        self.ping()?;
        let mut manifest_bytes = self.get_manifest(self.reference.manifest_key())?;
        let mut manifest: serde_json::Value =
            serde_json::from_slice(&manifest_bytes).context("the manifest is not JSON")?;
        if let Some(entries) = manifest["manifests"].as_array() {
            let chosen = entries
                .iter()
                .find(|m| {
                    let p = &m["platform"];
                    p["os"] == "linux"
                        && p["architecture"] == platform.oci_arch()
                        && (platform.oci_variant().is_none()
                            || p["variant"].is_null()
                            || p["variant"] == platform.oci_variant().unwrap())
                })
                .with_context(|| {
                    let offered: Vec<String> = entries
                        .iter()
                        .map(|m| {
                            format!(
                                "{}/{}",
                                m["platform"]["os"].as_str().unwrap_or("?"),
                                m["platform"]["architecture"].as_str().unwrap_or("?")
                            )
                        })
                        .collect();
                    format!(
                        "{} has no image for {platform} (it has: {})",
                        self.reference,
                        offered.join(", ")
                    )
                })?;
            let digest = chosen["digest"]
                .as_str()
                .context("index entry without digest")?
                .to_string();
            manifest_bytes = self.get_manifest(&digest)?;
            if format!("sha256:{}", crate::digest::sha256_hex(&manifest_bytes)) != digest {
                bail!(
                    "{}: the manifest for {platform} does not match its digest {digest}",
                    self.reference
                );
            }
            manifest = serde_json::from_slice(&manifest_bytes)?;
        }
        if let Some(wanted) = &self.reference.digest
            && manifest["manifests"].is_null()
            && format!("sha256:{}", crate::digest::sha256_hex(&manifest_bytes)) != *wanted
        {
            bail!(
                "{}: the registry's manifest does not match the digest asked for",
                self.reference
            );
        }
        let config_digest = manifest["config"]["digest"]
            .as_str()
            .context("manifest without config")?
            .to_string();
        self.fetch_blob(cache, &config_digest, manifest["config"]["size"].as_u64())?;
        let config_bytes = cache.read_blob(strip_sha256(&config_digest)?)?;
        let config: serde_json::Value = serde_json::from_slice(&config_bytes)?;
        let diff_ids: Vec<String> = config["rootfs"]["diff_ids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut layers = Vec::new();
        for (i, layer) in manifest["layers"]
            .as_array()
            .context("manifest without layers")?
            .iter()
            .enumerate()
        {
            let media_type = layer["mediaType"].as_str().unwrap_or("");
            if !media_type.contains("gzip") {
                bail!(
                    "{}: layer {i} is '{media_type}'; pypack reuses gzip layers only",
                    self.reference
                );
            }
            let digest = layer["digest"]
                .as_str()
                .context("layer without digest")?
                .to_string();
            self.fetch_blob(cache, &digest, layer["size"].as_u64())?;
            layers.push(crate::oci::LayerBlob {
                size: layer["size"].as_u64().unwrap_or(0),
                diff_id: diff_ids.get(i).cloned().with_context(|| {
                    format!("{}: config lists too few diff_ids", self.reference)
                })?,
                digest,
                uncompressed_size: 0,
            });
        }
        Ok(Image {
            manifest_digest: format!("sha256:{}", crate::digest::sha256_hex(&manifest_bytes)),
            manifest: manifest_bytes,
            config: config_bytes,
            config_digest,
            layers,
            platform,
        })
    }

    /// The platforms pypack builds for among the reference's images: an
    /// index's entries, or a single image's own platform.
    pub fn platforms(&self) -> Result<Vec<crate::platform::Platform>> {
        self.ping()?;
        let manifest: serde_json::Value =
            serde_json::from_slice(&self.get_manifest(self.reference.manifest_key())?)
                .context("the manifest is not JSON")?;
        let platforms: Vec<serde_json::Value> = match manifest["manifests"].as_array() {
            Some(entries) => entries.iter().map(|m| m["platform"].clone()).collect(),
            None => {
                let digest = manifest["config"]["digest"]
                    .as_str()
                    .context("manifest without config")?;
                let url = self.url(&format!("blobs/{digest}"));
                let response = self.send(&|| self.client.get(&url))?;
                if !response.status().is_success() {
                    bail!(
                        "{}: fetching its config gave HTTP {}",
                        self.reference,
                        response.status()
                    );
                }
                let size = manifest["config"]["size"].as_u64();
                let config = read_body(response, Limit::download(size))
                    .with_context(|| format!("{}: its config", self.reference))?;
                vec![serde_json::from_slice(&config).context("the config is not JSON")?]
            }
        };
        Ok(crate::platform::Platform::ALL
            .into_iter()
            .filter(|p| {
                platforms.iter().any(|v| {
                    v["os"] == "linux"
                        && v["architecture"] == p.oci_arch()
                        && (v["variant"].is_null() || v["variant"].as_str() == p.oci_variant())
                })
            })
            .collect())
    }

    /// Stores `manifest` (an image manifest or an index) under the
    /// reference's tag (or digest).
    pub fn put_manifest(&self, media_type: &str, manifest: &[u8]) -> Result<()> {
        self.put_manifest_at(self.reference.manifest_key(), media_type, manifest)
    }

    /// Stores `manifest` under `key`, a tag or a digest of this repository.
    pub(crate) fn put_manifest_at(
        &self,
        key: &str,
        media_type: &str,
        manifest: &[u8],
    ) -> Result<()> {
        self.put_manifest_answered(key, media_type, manifest)
            .map(|_| ())
    }

    /// Like `put_manifest_at`; whether the registry said it indexed the
    /// manifest's `subject` (the `OCI-Subject` header of the referrers API).
    fn put_manifest_answered(&self, key: &str, media_type: &str, manifest: &[u8]) -> Result<bool> {
        let url = self.url(&format!("manifests/{key}"));
        let response = self.send(&|| {
            self.client
                .put(&url)
                .header(header::CONTENT_TYPE, media_type)
                .body(manifest.to_vec())
        })?;
        let subject_indexed = response.headers().contains_key("oci-subject");
        if response.status() != StatusCode::CREATED {
            let status = response.status();
            let body = response.text().unwrap_or_default();
            bail!(
                "{}: the manifest was refused: HTTP {status} {}",
                self.reference,
                body.chars().take(300).collect::<String>()
            );
        }
        Ok(subject_indexed)
    }

    /// `GET /v2/`: is this a registry, and does it want credentials? The
    /// challenge (if any) is answered here, before any data moves.
    pub fn ping(&self) -> Result<()> {
        let url = format!("{}/v2/", self.base);
        let response = self.send(&|| self.client.get(&url))?;
        if !response.status().is_success() {
            bail!(
                "{} does not answer as an OCI registry (GET /v2/ gave HTTP {})",
                self.reference.registry,
                response.status()
            );
        }
        Ok(())
    }

    fn get_manifest(&self, key: &str) -> Result<Vec<u8>> {
        let url = self.url(&format!("manifests/{key}"));
        const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
            application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";
        let response = self.send(&|| self.client.get(&url).header(header::ACCEPT, ACCEPT))?;
        if response.status() == StatusCode::NOT_FOUND {
            bail!("{} was not found in the registry", self.reference);
        }
        if !response.status().is_success() {
            bail!(
                "{}: fetching the manifest gave HTTP {}",
                self.reference,
                response.status()
            );
        }
        check_manifest_type(&response)
            .with_context(|| format!("{}: fetching the manifest", self.reference))?;
        let announced = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = read_capped(response, MAX_MANIFEST_BYTES, "a manifest")
            .with_context(|| format!("{}: fetching the manifest", self.reference))?;
        let actual = format!("sha256:{}", crate::digest::sha256_hex(&bytes));
        if let Some(announced) = announced.filter(|a| a.starts_with("sha256:") && *a != actual) {
            bail!(
                "{}: the registry says the manifest is {announced}, but what it sent is {actual}; \
                 refusing it (a proxy or the registry is broken)",
                self.reference
            );
        }
        Ok(bytes)
    }

    /// Downloads a blob into the cache unless it is there; its digest is
    /// checked, and its body read no further than `size` (the descriptor's).
    pub(crate) fn fetch_blob(&self, cache: &Cache, digest: &str, size: Option<u64>) -> Result<()> {
        let hex = strip_sha256(digest)?;
        if cache.has_blob(hex) {
            return Ok(());
        }
        let url = self.url(&format!("blobs/{digest}"));
        let response = self.send(&|| self.client.get(&url))?;
        if !response.status().is_success() {
            bail!(
                "{}: fetching blob {digest} gave HTTP {}",
                self.reference,
                response.status()
            );
        }
        let mut writer = cache.blob_writer()?;
        std::io::copy(
            &mut Bounded::new(response, Limit::download(size)),
            &mut writer,
        )
        .with_context(|| format!("{}: fetching blob {digest}", self.reference))?;
        writer
            .commit(Some(hex))
            .with_context(|| format!("{}: blob {digest}", self.reference))?;
        Ok(())
    }

    /// Pushes `image`: every blob the registry lacks, then the manifest.
    /// Running it again after an interruption uploads only what is missing.
    pub fn push(&self, cache: &Cache, image: &Image) -> Result<PushReport> {
        self.push_mounting(cache, image, None)
    }

    /// Like `push`, first trying to mount blobs from `mount_from`, another
    /// repository of the same registry (e.g. the base image's).
    pub fn push_mounting(
        &self,
        cache: &Cache,
        image: &Image,
        mount_from: Option<&str>,
    ) -> Result<PushReport> {
        self.ping()?;
        let (uploaded, skipped) = self.push_blobs(cache, image, mount_from)?;
        self.put_manifest(crate::oci::index::MANIFEST_MEDIA_TYPE, &image.manifest)?;
        Ok(PushReport {
            digest: image.manifest_digest.clone(),
            uploaded,
            skipped,
        })
    }

    /// Pushes every platform's image of `index` (each manifest by its
    /// digest), then the index under the reference's tag.
    pub fn push_index(
        &self,
        cache: &Cache,
        index: &crate::oci::ImageIndex,
        mount_from: Option<&str>,
    ) -> Result<PushReport> {
        self.ping()?;
        let (mut uploaded, mut skipped) = (0, 0);
        for image in &index.images {
            let (up, there) = self.push_blobs(cache, image, mount_from)?;
            uploaded += up;
            skipped += there;
            self.put_manifest_at(
                &image.manifest_digest,
                crate::oci::index::MANIFEST_MEDIA_TYPE,
                &image.manifest,
            )
            .with_context(|| format!("the {} image", image.platform))?;
        }
        self.put_manifest(crate::oci::index::INDEX_MEDIA_TYPE, &index.manifest)?;
        Ok(PushReport {
            digest: index.digest.clone(),
            uploaded,
            skipped,
        })
    }

    /// Pushes `data` (of `media_type`) as an artifact referring to the
    /// image `subject`: found through the registry's referrers API, or, on
    /// a registry without one, through the index tagged `sha256-<hex of the
    /// subject digest>` (the OCI distribution spec's fallback), which gets
    /// this artifact added. Returns the artifact manifest's digest.
    pub fn push_referrer(
        &self,
        cache: &Cache,
        subject: &Image,
        media_type: &str,
        data: &[u8],
        created: &str,
    ) -> Result<String> {
        const EMPTY_TYPE: &str = "application/vnd.oci.empty.v1+json";
        let empty = format!("sha256:{}", cache.put_bytes(b"{}")?);
        let blob = format!("sha256:{}", cache.put_bytes(data)?);
        for digest in [&empty, &blob] {
            self.push_blob(cache, digest, None).with_context(|| {
                format!("pushing the {media_type} artifact of {}", self.reference)
            })?;
        }
        let manifest = crate::oci::image::canonical_json(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": crate::oci::index::MANIFEST_MEDIA_TYPE,
            "artifactType": media_type,
            "config": {"mediaType": EMPTY_TYPE, "digest": empty, "size": 2},
            "layers": [{"mediaType": media_type, "digest": blob, "size": data.len()}],
            "subject": {
                "mediaType": crate::oci::index::MANIFEST_MEDIA_TYPE,
                "digest": subject.manifest_digest,
                "size": subject.manifest.len(),
            },
            "annotations": {"org.opencontainers.image.created": created},
        }))?;
        let digest = format!("sha256:{}", crate::digest::sha256_hex(&manifest));
        let indexed =
            self.put_manifest_answered(&digest, crate::oci::index::MANIFEST_MEDIA_TYPE, &manifest)?;
        if !indexed {
            self.add_to_referrers_tag(subject, &digest, manifest.len(), media_type, created)?;
        }
        Ok(digest)
    }

    /// The fallback for registries without the referrers API: the index
    /// tagged after the subject's digest lists its referrers.
    fn add_to_referrers_tag(
        &self,
        subject: &Image,
        digest: &str,
        size: usize,
        artifact_type: &str,
        created: &str,
    ) -> Result<()> {
        let tag = subject.manifest_digest.replace(':', "-");
        let existing = self.find_manifest(&tag)?;
        let mut manifests: Vec<serde_json::Value> = (existing.as_deref())
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(bytes).ok())
            .and_then(|v| v["manifests"].as_array().cloned())
            .unwrap_or_default();
        manifests.retain(|m| m["digest"] != digest);
        manifests.push(serde_json::json!({
            "mediaType": crate::oci::index::MANIFEST_MEDIA_TYPE,
            "digest": digest,
            "size": size,
            "artifactType": artifact_type,
            "annotations": {"org.opencontainers.image.created": created},
        }));
        // In a canonical order, whatever order the artifacts come in: the
        // same referrers make the same index, and an unchanged one is not
        // put again (a re-push uploads nothing).
        manifests.sort_by_key(|m| (m["artifactType"].to_string(), m["digest"].to_string()));
        let index = crate::oci::image::canonical_json(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": crate::oci::index::INDEX_MEDIA_TYPE,
            "manifests": manifests,
        }))?;
        if existing.as_deref() == Some(&index[..]) {
            return Ok(());
        }
        self.put_manifest_at(&tag, crate::oci::index::INDEX_MEDIA_TYPE, &index)
    }

    /// The manifest under `key`, or `None` when the registry has none.
    pub(crate) fn find_manifest(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let url = self.url(&format!("manifests/{key}"));
        let accept = format!(
            "{}, {}",
            crate::oci::index::INDEX_MEDIA_TYPE,
            crate::oci::index::MANIFEST_MEDIA_TYPE
        );
        let response = self.send(&|| self.client.get(&url).header(header::ACCEPT, &accept))?;
        match response.status() {
            StatusCode::NOT_FOUND => Ok(None),
            status if status.is_success() => Ok(Some(
                read_capped(response, MAX_MANIFEST_BYTES, "a manifest")
                    .with_context(|| format!("{}: fetching {key}", self.reference))?,
            )),
            status => bail!("{}: fetching {key} gave HTTP {status}", self.reference),
        }
    }

    /// The config and layers of `image` the registry lacks: (uploaded, already there).
    fn push_blobs(
        &self,
        cache: &Cache,
        image: &Image,
        mount_from: Option<&str>,
    ) -> Result<(usize, usize)> {
        let config_hex = strip_sha256(&image.config_digest)?;
        if !cache.has_blob(config_hex) {
            cache.put_bytes(&image.config)?;
        }
        let mut digests: Vec<String> = image.layers.iter().map(|l| l.digest.clone()).collect();
        digests.push(image.config_digest.clone());
        let (mut uploaded, mut skipped) = (0, 0);
        for digest in &digests {
            if self
                .push_blob(cache, digest, mount_from)
                .with_context(|| format!("pushing {}", self.reference))?
            {
                uploaded += 1;
            } else {
                skipped += 1;
            }
        }
        Ok((uploaded, skipped))
    }
}

/// How long an upload of `size` bytes may take in all (reqwest's timeout
/// covers a whole request with a body): ten minutes, and a second per MB
/// past that, so large layers on slow links still go.
fn upload_timeout(size: u64) -> Duration {
    Duration::from_secs(600 + size / 1_000_000)
}

/// The most read of a manifest or an index: registries (and containerd)
/// refuse larger ones.
const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// The most read of a token service's answer.
const MAX_TOKEN_BYTES: u64 = 1 << 20;

/// The media types a manifest may come as (plain JSON from old registries).
const MANIFEST_TYPES: [&str; 5] = [
    crate::oci::index::INDEX_MEDIA_TYPE,
    crate::oci::index::MANIFEST_MEDIA_TYPE,
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/json",
];

/// Refuses an answer that says it is not a manifest (a login page, an
/// error page of a proxy, a schema-1 manifest).
fn check_manifest_type(response: &Response) -> Result<()> {
    let Some(content_type) = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(());
    };
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !MANIFEST_TYPES.contains(&essence) {
        bail!(
            "the registry answered with '{essence}', not an OCI or Docker v2 image manifest; \
             check the image reference and the registry's address"
        );
    }
    Ok(())
}

fn read_capped(response: Response, cap: u64, what: &'static str) -> Result<Vec<u8>> {
    read_body(response, Limit::Cap(cap, what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let r = Reference::parse("localhost:5000/team/app:1.2").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("localhost:5000", "team/app", Some("1.2"))
        );
        assert_eq!(
            Reference::parse("registry.example.com/app")
                .unwrap()
                .tag
                .as_deref(),
            Some("latest")
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("localhost/app@{d}")).unwrap();
        assert_eq!((r.tag, r.digest.as_deref()), (None, Some(d.as_str())));
        let err = Reference::parse("myapp:1").unwrap_err().to_string();
        assert!(err.contains("names no registry"), "{err}");
        assert!(Reference::parse("localhost:5000/App").is_err());
        assert_eq!(
            Reference::parse("localhost:5000/a/b:c")
                .unwrap()
                .to_string(),
            "localhost:5000/a/b:c"
        );
    }

    #[test]
    fn short_names_and_locations_come_from_registries_conf() {
        let mut conf = RegistriesConf::default();
        let err = conf.resolve("python:3.12").unwrap_err().to_string();
        assert!(
            err.contains("names no registry") && err.contains("unqualified-search-registries"),
            "{err}"
        );
        conf.add("[aliases]\n\"python\" = \"hub.example/library/python\"\n");
        conf.add("unqualified-search-registries = [\"search.example\"]\n");
        conf.add("[[registry]]\nprefix = \"hub.example\"\nlocation = \"api.hub.example\"\n");
        let r = conf.resolve("python:3.12-slim").unwrap();
        assert_eq!(r.to_string(), "api.hub.example/library/python:3.12-slim");
        assert_eq!(
            conf.resolve("team/app").unwrap().to_string(),
            "search.example/team/app:latest"
        );
        assert_eq!(
            conf.resolve("localhost:5000/app:1").unwrap().to_string(),
            "localhost:5000/app:1"
        );
    }

    #[test]
    fn credentials_from_auth_files() {
        use base64::Engine as _;
        let dir = tempfile::tempdir().unwrap();
        let auth = base64::engine::general_purpose::STANDARD.encode("ci:pa:ss");
        std::fs::write(
            dir.path().join("auth.json"),
            format!("{{\"auths\": {{\"localhost:5000\": {{\"auth\": \"{auth}\"}}}}}}"),
        )
        .unwrap();
        let file = dir.path().join("auth.json").display().to_string();
        let sources = CredentialSources {
            env: Box::new(move |k| (k == "REGISTRY_AUTH_FILE").then(|| file.clone())),
            home: None,
        };
        assert_eq!(
            sources.lookup("localhost:5000").unwrap(),
            Some(("ci".into(), "pa:ss".into()))
        );
        assert_eq!(sources.lookup("other:5000").unwrap(), None);
    }
}
