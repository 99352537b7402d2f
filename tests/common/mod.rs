//! Test support: a static HTTP server on loopback, a Debian archive made and
//! signed by the test itself, and a way to run the pypack binary.
#![allow(dead_code)]

pub mod parity;
pub mod registry;
pub mod servers;
pub mod wheels;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Serves the files under `root` at `http://127.0.0.1:PORT/` until dropped,
/// with ETag revalidation, byte ranges, optional basic auth, and counters.
pub struct FileServer {
    pub url: String,
    pub stats: Arc<ServerStats>,
}

#[derive(Default)]
pub struct ServerStats {
    pub requests: AtomicUsize,
    pub not_modified: AtomicUsize,
    pub ranges: AtomicUsize,
    pub body_bytes: AtomicUsize,
    /// `Authorization` header value every request must carry, if set.
    pub required_auth: std::sync::Mutex<Option<String>>,
    /// Answer range requests with the whole file, as some servers do.
    pub ignore_ranges: std::sync::atomic::AtomicBool,
    /// Answer a range request with at most this many bytes (0: all asked).
    pub max_range_bytes: AtomicUsize,
}

impl FileServer {
    pub fn start(root: &Path) -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stats = Arc::new(ServerStats::default());
        let root = root.to_path_buf();
        let shared = stats.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let root = root.clone();
                let stats = shared.clone();
                stats.requests.fetch_add(1, Ordering::Relaxed);
                std::thread::spawn(move || serve(stream, &root, &stats));
            }
        });
        FileServer { url, stats }
    }

    pub fn request_count(&self) -> usize {
        self.stats.requests.load(Ordering::Relaxed)
    }

    /// Require HTTP basic auth with `user:password` from now on.
    pub fn require_basic_auth(&self, user: &str, password: &str) {
        use base64::Engine as _;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        *self.stats.required_auth.lock().unwrap() = Some(format!("Basic {token}"));
    }
}

fn serve(stream: TcpStream, root: &Path, stats: &ServerStats) {
    let mut line = String::new();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut headers = std::collections::HashMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let respond = |mut stream: TcpStream, status: &str, extra: &str, body: &[u8]| {
        let head = format!(
            "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stats.body_bytes.fetch_add(body.len(), Ordering::Relaxed);
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body);
    };
    if let Some(required) = stats.required_auth.lock().unwrap().clone()
        && headers.get("authorization") != Some(&required)
    {
        return respond(
            stream,
            "401 Unauthorized",
            "WWW-Authenticate: Basic realm=\"test\"\r\n",
            b"",
        );
    }
    let path = line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .trim_start_matches('/')
        .to_string();
    let (file, content_type) = served_file(root, &path);
    let body = match (path.contains(".."), std::fs::read(&file)) {
        (false, Ok(body)) => body,
        _ => return respond(stream, "404 Not Found", "", b""),
    };
    let etag = format!("\"{}\"", &sha256(&body)[..16]);
    if headers.get("if-none-match") == Some(&etag) {
        stats.not_modified.fetch_add(1, Ordering::Relaxed);
        return respond(
            stream,
            "304 Not Modified",
            &format!("ETag: {etag}\r\n"),
            b"",
        );
    }
    if let Some(range) = headers.get("range").and_then(|r| r.strip_prefix("bytes="))
        && !stats.ignore_ranges.load(Ordering::Relaxed)
        && let Some((start, end)) = byte_range(range, body.len())
        && start < body.len()
    {
        stats.ranges.fetch_add(1, Ordering::Relaxed);
        let mut end = end.min(body.len() - 1);
        let cap = stats.max_range_bytes.load(Ordering::Relaxed);
        if cap > 0 {
            end = end.min(start + cap - 1);
        }
        let extra = format!(
            "Content-Range: bytes {start}-{end}/{}\r\nAccept-Ranges: bytes\r\n",
            body.len()
        );
        return respond(stream, "206 Partial Content", &extra, &body[start..=end]);
    }
    let extra =
        format!("Content-Type: {content_type}\r\nETag: {etag}\r\nCache-Control: max-age=0\r\n");
    respond(stream, "200 OK", &extra, &body);
}

/// `START-END` or a suffix `-N` (the last N bytes) of a body of `len`.
fn byte_range(range: &str, len: usize) -> Option<(usize, usize)> {
    let (start, end) = range.split_once('-')?;
    if start.is_empty() {
        let n: usize = end.parse().ok()?;
        return Some((len.saturating_sub(n), len.checked_sub(1)?));
    }
    Some((start.parse().ok()?, end.parse().ok()?))
}

/// The file a test server answers `relative` with, and its content type:
/// a directory serves its PEP 691 JSON page if there is one, else HTML.
pub fn served_file(root: &Path, relative: &str) -> (PathBuf, &'static str) {
    let file = root.join(relative);
    if !file.is_dir() {
        return (file, "application/octet-stream");
    }
    match file.join("index.json").is_file() {
        true => (
            file.join("index.json"),
            "application/vnd.pypi.simple.v1+json",
        ),
        false => (file.join("index.html"), "text/html"),
    }
}

/// A file in a fixture package: tar member name and content (None = directory).
pub struct Member {
    pub path: String,
    pub data: Option<Vec<u8>>,
}

pub fn file(path: &str, data: &[u8]) -> Member {
    Member {
        path: path.to_string(),
        data: Some(data.to_vec()),
    }
}

pub fn dir(path: &str) -> Member {
    Member {
        path: path.to_string(),
        data: None,
    }
}

pub struct FixturePackage {
    pub name: String,
    pub version: String,
    pub depends: String,
    pub members: Vec<Member>,
}

/// A signed Debian archive under `root/debian` with one suite, `fixture`.
pub struct FixtureArchive {
    pub root: PathBuf,
    pub key: pgp::composed::SignedSecretKey,
    pub keyring_path: PathBuf,
}

pub const SUITE: &str = "fixture";

impl FixtureArchive {
    pub fn create(root: &Path, packages: &[FixturePackage]) -> FixtureArchive {
        let key = generate_key(1);
        std::fs::create_dir_all(root).unwrap();
        let keyring_path = root.join("trusted.asc");
        std::fs::write(&keyring_path, public_armor(&key)).unwrap();
        let archive = FixtureArchive {
            root: root.to_path_buf(),
            key,
            keyring_path,
        };
        archive.write(packages);
        archive
    }

    pub fn mirror_url(&self, server: &FileServer) -> String {
        format!("{}/debian", server.url)
    }

    pub fn dists(&self) -> PathBuf {
        self.root.join("debian/dists").join(SUITE)
    }

    /// Writes the .debs, Packages.xz and a signed InRelease.
    pub fn write(&self, packages: &[FixturePackage]) {
        self.write_with(packages, "");
    }

    /// Like `write`, with `fields` (lines ending in `\n`) added to the Release.
    pub fn write_with(&self, packages: &[FixturePackage], fields: &str) {
        let debs: Vec<Vec<u8>> = packages.iter().map(|p| make_deb(&p.members)).collect();
        self.write_debs(packages, &debs, fields);
    }

    /// Like `write_with`, with each package's `.deb` as given (a test's
    /// hostile one), listed with its true size and hash.
    pub fn write_debs(&self, packages: &[FixturePackage], debs: &[Vec<u8>], fields: &str) {
        let pool = self.root.join("debian/pool/main");
        std::fs::create_dir_all(&pool).unwrap();
        let mut index = String::new();
        let mut contents = String::new();
        for (p, deb) in packages.iter().zip(debs) {
            for member in p.members.iter().filter(|m| m.data.is_some()) {
                let path = member.path.trim_start_matches("./");
                contents.push_str(&format!("{path:<60} libs/{}\n", p.name));
            }
            let filename = format!("pool/main/{}_1.0_amd64.deb", p.name);
            std::fs::write(self.root.join("debian").join(&filename), deb).unwrap();
            index.push_str(&format!(
                "Package: {}\nVersion: {}\nArchitecture: amd64\nMaintainer: Test <test@localhost>\nDepends: {}\nFilename: {filename}\nSize: {}\nSHA256: {}\nDescription: fixture\n\n",
                p.name,
                p.version,
                p.depends,
                deb.len(),
                sha256(deb)
            ));
        }
        let binary = self.dists().join("main/binary-amd64");
        std::fs::create_dir_all(&binary).unwrap();
        let packages_xz = xz(index.as_bytes());
        std::fs::write(binary.join("Packages.xz"), &packages_xz).unwrap();
        let contents_gz = gzip(contents.as_bytes());
        std::fs::write(self.dists().join("main/Contents-amd64.gz"), &contents_gz).unwrap();
        let release = format!(
            "Origin: Fixture\nSuite: {SUITE}\nCodename: {SUITE}\n{fields}Architectures: amd64\nComponents: main\nSHA256:\n {} {} main/binary-amd64/Packages.xz\n {} {} main/Contents-amd64.gz\n",
            sha256(&packages_xz),
            packages_xz.len(),
            sha256(&contents_gz),
            contents_gz.len()
        );
        self.sign_release(&release);
    }

    pub fn sign_release(&self, release: &str) {
        std::fs::write(
            self.dists().join("InRelease"),
            sign_cleartext(&self.key, release),
        )
        .unwrap();
    }
}

pub fn generate_key(seed: u64) -> pgp::composed::SignedSecretKey {
    use pgp::composed::{KeyType, SecretKeyParamsBuilder};
    use rand::SeedableRng;
    let rng = rand::rngs::StdRng::seed_from_u64(seed);
    SecretKeyParamsBuilder::default()
        .key_type(KeyType::Ed25519Legacy)
        .can_certify(true)
        .can_sign(true)
        .primary_user_id("pypack test archive <test@localhost>".into())
        .build()
        .unwrap()
        .generate(rng)
        .unwrap()
}

pub fn public_armor(key: &pgp::composed::SignedSecretKey) -> String {
    key.to_public_key()
        .to_armored_string(Default::default())
        .unwrap()
}

pub fn sign_cleartext(key: &pgp::composed::SignedSecretKey, text: &str) -> String {
    use rand::SeedableRng;
    let rng = rand::rngs::StdRng::seed_from_u64(7);
    let message = pgp::composed::CleartextSignedMessage::sign(
        rng,
        text,
        &key.primary_key,
        &pgp::types::Password::empty(),
    )
    .unwrap();
    message.to_armored_string(Default::default()).unwrap()
}

pub fn make_deb(members: &[Member]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for m in members {
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        // Raw name bytes, so tests can write '../' and absolute members.
        h.as_old_mut().name[..m.path.len()].copy_from_slice(m.path.as_bytes());
        match &m.data {
            Some(data) => {
                h.set_mode(0o755);
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                h.set_cksum();
                tar.append(&h, data.as_slice()).unwrap();
            }
            None => {
                h.set_mode(0o755);
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_cksum();
                tar.append(&h, std::io::empty()).unwrap();
            }
        }
    }
    let data_tar = xz(&tar.into_inner().unwrap());
    let mut deb = Vec::new();
    {
        let mut ar = ar::Builder::new(&mut deb);
        for (name, data) in [
            ("debian-binary", b"2.0\n".to_vec()),
            ("control.tar.xz", xz(b"")),
            ("data.tar.xz", data_tar),
        ] {
            ar.append(
                &ar::Header::new(name.as_bytes().to_vec(), data.len() as u64),
                data.as_slice(),
            )
            .unwrap();
        }
    }
    deb
}

pub fn xz(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    liblzma::read::XzEncoder::new(data, 1)
        .read_to_end(&mut out)
        .unwrap();
    out
}

pub fn unxz(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    liblzma::read::XzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut out = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    out.write_all(data).unwrap();
    out.finish().unwrap()
}

pub fn sha256(data: &[u8]) -> String {
    pypack::digest::sha256_hex(data)
}

/// Runs the pypack binary with a private cache.
pub fn pypack(cache: &Path, args: &[&str]) -> Output {
    pypack_env(cache, args, &[])
}

/// Like `pypack`, with extra environment variables.
pub fn pypack_env(cache: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let out = pypack_command(cache, args, vars).output().unwrap();
    echo("pypack", args, &out);
    out
}

/// The command `pypack ARGS` with cache `cache`, none of the host's index,
/// auth or registry settings, and `vars` set.
pub fn pypack_command<S: AsRef<std::ffi::OsStr>>(
    cache: &Path,
    args: &[S],
    vars: &[(&str, &str)],
) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pypack"));
    command
        .args(args)
        .env("PYPACK_CACHE_DIR", cache)
        .env_remove("SOURCE_DATE_EPOCH")
        // Hermetic: none of the host's pip/uv settings leak into a test.
        .env_remove("PIP_INDEX_URL")
        .env_remove("PIP_EXTRA_INDEX_URL")
        .env_remove("PIP_FIND_LINKS")
        .env_remove("PIP_NO_INDEX")
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("XDG_CONFIG_HOME", cache.join("no-config"))
        .env("HOME", cache.join("no-home"))
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("DOCKER_CONFIG")
        .env("NETRC", cache.join("no-netrc"))
        .env_remove("PYPACK_HTTP_TIMEOUT")
        .envs(vars.iter().copied());
    command
}

/// Prints a command and what it printed (shown when a test fails).
fn echo(program: &str, args: &[&str], out: &Output) {
    eprintln!(
        "$ {program} {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Files under `dir`, recursively, relative (for "nothing left behind" checks).
pub fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(
                    files_under(&p)
                        .into_iter()
                        .map(|f| format!("{}/{f}", e.file_name().to_string_lossy())),
                );
            } else {
                out.push(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

/// The peak resident memory GNU time (`/usr/bin/time -v`) reports, in KB.
pub fn peak_kb(time_output: &str) -> u64 {
    time_output
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak memory in:\n{time_output}"))
}

/// Whether a test that needs `what` runs: where it is missing the test is
/// skipped ([`skip`]), except in CI, where that is a failure.
pub fn required(test: &str, what: &str, found: bool) -> bool {
    if !found {
        skip(
            test,
            &format!("{what} is not available (run tests/setup.sh)"),
        );
    }
    found
}

/// Every skip goes through here: with `CI` set it is a failure; otherwise
/// the reason is printed and recorded for the tally the last test binary
/// (`tests/zz_skip_tally.rs`) prints, so skips never pass for passes.
pub fn skip(test: &str, reason: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{test} cannot run: {reason}; in CI a test that cannot run is a failure");
    }
    eprintln!("SKIPPED {test}: {reason}");
    let dir = skip_tally_dir();
    let _ = std::fs::create_dir_all(&dir);
    let line = format!("{test}: {}\n", reason.replace('\n', " "));
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(skip_tally_file()))
    {
        let _ = file.write_all(line.as_bytes());
    }
}

/// A line for the suite's output even when the test passes (libtest shows
/// what `eprintln!` prints only for failures or under --nocapture): written
/// to the process's stderr itself.
pub fn shout(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// Where skips are recorded: one file per `cargo test` run, named by the
/// cargo process that runs every test binary of it (their parent).
pub fn skip_tally_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("skips")
}

pub fn skip_tally_file() -> String {
    format!("run-{}.txt", std::os::unix::process::parent_id())
}

/// `required` for a program on PATH.
pub fn tool_available(tool: &str, test: &str) -> bool {
    let found = Command::new("which")
        .arg(tool)
        .output()
        .is_ok_and(|o| o.status.success());
    required(test, tool, found)
}

pub fn podman_available(test: &str) -> bool {
    tool_available("podman", test)
}

/// Runs podman and echoes the command and its output (shown when a test fails).
/// Commands that change image names take turns with pypack's own (podman
/// loses a name given while another of the image's names is removed, and
/// tests build the same image, with the same ID, at once).
pub fn podman(args: &[&str]) -> Output {
    let _names = matches!(args.first(), Some(&("load" | "tag" | "rmi" | "untag")))
        .then(pypack::builder::engine::names_lock);
    let out = Command::new("podman").args(args).output().unwrap();
    echo("podman", args, &out);
    out
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One cache directory for all the tests of a test binary (they share
/// downloads), removed when the binary exits: a static is never dropped,
/// and each run used to leave its cache (hundreds of MB) behind in /tmp.
pub fn shared_cache() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    extern "C" fn remove_shared_cache() {
        if let Some(dir) = DIR.get() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        // SAFETY: registers a plain function with no arguments, run once at exit.
        unsafe { libc::atexit(remove_shared_cache) };
        dir
    })
}

/// Bytes that do not compress (xorshift), so what holds them is big on the wire.
pub fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// A plain HTTP/1.0 GET on loopback: status line, headers and body.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    (!response.is_empty()).then_some(response)
}

/// GETs `path` every 200 ms until a response satisfies `done` or `seconds` pass.
pub fn poll_http(
    port: u16,
    path: &str,
    seconds: u64,
    done: impl Fn(&str) -> bool,
) -> Option<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while std::time::Instant::now() < deadline {
        if let Some(response) = http_get(port, path).filter(|r| done(r)) {
            return Some(response);
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    None
}

/// A base recipe for a fixture archive: one suite, no shipped keys (tests pass
/// `--keyring`), Python 3.11.
pub fn fixture_recipe(include: &str, extra: &str) -> String {
    format!(
        "name = \"fixture\"\ndescription = \"fixture base\"\nsuites = [\"{SUITE}\"]\ncomponents = [\"main\"]\n\
         architectures = [\"amd64\"]\nkeys = []\nusrmerge = true\ndpkg_status = true\n{extra}\n\
         [python]\nversion = \"3.11\"\nexecutable = \"/usr/bin/python3.11\"\n[packages]\ninclude = [{include}]\n\
         [image]\nuser = \"65532:65532\"\nenv = [\"PATH=/usr/bin:/bin\"]\n"
    )
}

/// A signed fixture archive holding just a fake `python3.11-minimal` and
/// `libc6`, served on loopback, and a recipe using it: enough for a base
/// whose target is CPython 3.11.2 on glibc 2.36, with no network.
pub struct PythonBase {
    pub archive: FixtureArchive,
    pub server: FileServer,
    pub recipe: PathBuf,
}

impl PythonBase {
    /// The archive's two packages, with `python3.11-minimal` at `version`
    /// (the fixture base is made of `3.11.2-6`).
    pub fn packages(version: &str) -> Vec<FixturePackage> {
        vec![
            FixturePackage {
                name: "python3.11-minimal".into(),
                version: version.into(),
                depends: "libc6 (>= 2.35)".into(),
                members: vec![file("./usr/bin/python3.11", b"\x7fELF")],
            },
            FixturePackage {
                name: "libc6".into(),
                version: "2.36-9".into(),
                depends: "".into(),
                members: vec![file("./lib/x86_64-linux-gnu/libc.so.6", b"\x7fELF")],
            },
        ]
    }

    pub fn create(work: &Path) -> PythonBase {
        PythonBase::create_with(work, Vec::new())
    }

    /// Like `create`, with `extra` packages in the archive (not in the recipe).
    pub fn create_with(work: &Path, extra: Vec<FixturePackage>) -> PythonBase {
        let mut packages = PythonBase::packages("3.11.2-6");
        packages.extend(extra);
        let archive = FixtureArchive::create(&work.join("mirror"), &packages);
        let server = FileServer::start(&work.join("mirror"));
        let recipe = work.join("fixture.toml");
        std::fs::write(&recipe, fixture_recipe("\"python3.11-minimal\"", "")).unwrap();
        PythonBase {
            archive,
            server,
            recipe,
        }
    }

    /// `--recipe … --debian-mirror … --keyring …`
    pub fn args(&self) -> Vec<String> {
        vec![
            "--recipe".into(),
            self.recipe.display().to_string(),
            "--debian-mirror".into(),
            self.archive.mirror_url(&self.server),
            "--keyring".into(),
            self.archive.keyring_path.display().to_string(),
        ]
    }
}

/// Whether the host's apt sources name a Debian archive (tests on the real
/// bases need one; skipped with a reason, or failed in CI, without).
pub fn debian_archive_configured(test: &str) -> bool {
    let sources = pypack::debian::sources::read_host_sources(Path::new("/")).unwrap_or_default();
    let found = pypack::debian::sources::archive_uris(&sources)
        .main
        .is_some();
    required(test, "a Debian archive in the host's apt sources", found)
}

/// A small app (`main.py`, one wheel from the test index) on the fixture base.
pub fn small_app() -> AppWorld {
    let world = AppWorld::new(|index| {
        index.add(
            &wheels::WheelSpec::new("webframe", "1.0"),
            wheels::Listing::default(),
        );
    });
    world.write_app(&[
        ("requirements.txt", "webframe\n"),
        ("main.py", "print('hi')\n"),
    ]);
    world
}

/// An app directory, a fixture Python base and a test index, all served on
/// loopback: everything `pypack lock` and `pypack build` need, no network.
pub struct AppWorld {
    _tmp: tempfile::TempDir,
    pub work: PathBuf,
    pub base: PythonBase,
    pub index: FileServer,
}

impl AppWorld {
    /// `fill` adds the wheels the index serves; `app/` and `out/` start empty.
    pub fn new(fill: impl FnOnce(&mut wheels::TestIndex)) -> AppWorld {
        AppWorld::with_archive_packages(Vec::new(), fill)
    }

    /// Like `new`, with `extra` packages in the fixture Debian archive.
    pub fn with_archive_packages(
        extra: Vec<FixturePackage>,
        fill: impl FnOnce(&mut wheels::TestIndex),
    ) -> AppWorld {
        let tmp = tempfile::tempdir().unwrap();
        let work = tmp.path().to_path_buf();
        let base = PythonBase::create_with(&work, extra);
        let mut index = wheels::TestIndex::new(&work.join("index"));
        fill(&mut index);
        index.publish();
        let index = FileServer::start(&work.join("index"));
        std::fs::create_dir_all(work.join("app")).unwrap();
        std::fs::create_dir_all(work.join("out")).unwrap();
        AppWorld {
            _tmp: tmp,
            work,
            base,
            index,
        }
    }

    pub fn index_url(&self) -> String {
        format!("{}/simple", self.index.url)
    }

    pub fn write_app(&self, files: &[(&str, &str)]) {
        for (path, text) in files {
            let p = self.work.join("app").join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
    }

    /// `pypack COMMAND APP <base flags> --index-url <test index> EXTRA…` with cache `cache`.
    pub fn run(&self, command: &str, cache: &str, extra: &[&str]) -> Output {
        self.run_with(command, cache, &self.index_url(), extra, &[])
    }

    /// Like `run`, with another index URL and extra environment variables.
    pub fn run_with(
        &self,
        command: &str,
        cache: &str,
        index: &str,
        extra: &[&str],
        vars: &[(&str, &str)],
    ) -> Output {
        let app = self.work.join("app").display().to_string();
        let mut args: Vec<String> = vec![command.into(), app];
        args.extend(self.base.args());
        args.extend(["--index-url".into(), index.to_string()]);
        if command == "build" {
            // The fixture base's python3.11 is a stub: nothing can run it.
            args.extend(["--no-compile".into(), "--no-smoke".into()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        pypack_env(
            &self.work.join(cache),
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            vars,
        )
    }
}

/// `pypack build sample-apps/APP --no-index --find-links sample-apps/wheelhouse EXTRA…`
/// with cache `cache`: a sample app from the pinned wheels, no index.
pub fn build_sample(cache: &Path, app: &str, extra: &[&str]) -> Output {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    build_sample_dir(cache, &repo.join("sample-apps").join(app), extra)
}

/// `pypack build DIR --no-index --find-links sample-apps/wheelhouse EXTRA…`:
/// an app anywhere, from the pinned wheels, no index.
pub fn build_sample_dir(cache: &Path, app: &Path, extra: &[&str]) -> Output {
    build_sample_dir_env(cache, app, extra, &[])
}

/// A copy of the tree `from` (directories and files) in `into`.
pub fn copy_tree(from: &Path, into: &Path) {
    std::fs::create_dir_all(into).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = into.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// [`build_sample_dir`] with environment variables `vars` set.
pub fn build_sample_dir_env(
    cache: &Path,
    app: &Path,
    extra: &[&str],
    vars: &[(&str, &str)],
) -> Output {
    let wheelhouse = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-apps/wheelhouse");
    let mut args = vec![
        "build",
        app.to_str().unwrap(),
        "--no-index",
        "--find-links",
        wheelhouse.to_str().unwrap(),
    ];
    args.extend(extra);
    pypack_env(cache, &args, vars)
}

/// Copies the image `source` names (skopeo syntax, e.g. `oci:DIR:TAG`; of
/// an index, this machine's) into podman, runs it with its port 8000
/// published, and returns its answer to `GET /` (once it is a 200, within
/// 30 s); the container and the image are removed either way.
pub fn answer_of_image(source: &str) -> Option<String> {
    let name = format!(
        "localhost/pypack-test-run:{}-{}",
        std::process::id(),
        free_port()
    );
    let names = pypack::builder::engine::names_lock();
    let copied = Command::new("skopeo")
        .args(["copy", "-q", source, &format!("containers-storage:{name}")])
        .output()
        .unwrap();
    drop(names);
    assert!(
        copied.status.success(),
        "skopeo copy {source}: {}",
        String::from_utf8_lossy(&copied.stderr)
    );
    let port = free_port();
    let run = podman(&["run", "-d", "-p", &format!("127.0.0.1:{port}:8000"), &name]);
    let container = String::from_utf8_lossy(&run.stdout).trim().to_string();
    let answer = run
        .status
        .success()
        .then(|| poll_http(port, "/", 30, |r| r.contains("200 OK")))
        .flatten();
    let _ = podman(&["rm", "-f", &container]);
    let _ = podman(&["rmi", &name]);
    answer
}

/// Runs `command` with its stdout and stderr captured, killing it if it has
/// not ended within `seconds`: its output, and whether it had to be killed.
/// (The kill can only reach our own child: it is sent while the child is
/// not yet reaped.)
pub fn output_within(mut command: Command, seconds: u64) -> (Output, bool) {
    let child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let timeout = std::time::Duration::from_secs(seconds);
        match finished.recv_timeout(timeout) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                // SAFETY: kill(2) of our child, which the main thread has not reaped.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                true
            }
            _ => false,
        }
    });
    let out = child.wait_with_output().unwrap();
    let _ = done.send(());
    (out, watchdog.join().unwrap())
}

/// `podman run -d` of `tag` with the container's `port` published on a
/// free loopback port: the container's ID and that port.
pub fn run_published(tag: &str, port: impl std::fmt::Display) -> (String, u16) {
    let host_port = free_port();
    let run = podman(&[
        "run",
        "-d",
        "-p",
        &format!("127.0.0.1:{host_port}:{port}"),
        tag,
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    (
        String::from_utf8_lossy(&run.stdout).trim().to_string(),
        host_port,
    )
}

/// The command a build's `--json` summary gives, as words.
pub fn command_argv(summary: &serde_json::Value) -> Vec<String> {
    summary["command"]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect()
}

/// An app built with no flags but the wheelhouse (`--no-index -f
/// sample-apps/wheelhouse`) and `extra`, loaded into podman, run with the
/// port its build decided published, and asked for `path`: the build's
/// `--json` summary and the answer (a 200 holding `expect`, or the test
/// fails). `None` when podman is missing. The image and container go after.
pub fn build_and_serve(
    app_dir: &Path,
    extra: &[&str],
    path: &str,
    expect: &str,
) -> Option<(serde_json::Value, String)> {
    let name = app_dir.file_name().unwrap().to_string_lossy().into_owned();
    if !podman_available(&name) {
        return None;
    }
    let variant = &sha256(format!("{} {}", app_dir.display(), extra.join(" ")).as_bytes())[..8];
    let tag = format!(
        "localhost/pypack-served-{name}:{}-{variant}",
        std::process::id()
    );
    let mut args = vec!["--load", "--engine=podman", "-t", &tag, "--json"];
    args.extend(extra);
    let out = build_sample_dir(shared_cache(), app_dir, &args);
    assert!(out.status.success(), "{name}: {}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["smoke"]["passed"], true,
        "{name}: {}",
        summary["smoke"]
    );
    let port = summary["port"]["value"].as_u64().unwrap();
    let (container, host_port) = run_published(&tag, port);
    let answer = poll_http(host_port, path, 30, |r| r.starts_with("HTTP/1."));
    let logs = podman(&["logs", &container]);
    let _ = podman(&["rm", "-f", "-t", "0", &container]);
    let _ = podman(&["rmi", &tag]);
    let answer = answer.unwrap_or_else(|| {
        panic!(
            "{name}: no HTTP answer on {port} in 30 s; logs:\n{}{}",
            String::from_utf8_lossy(&logs.stdout),
            String::from_utf8_lossy(&logs.stderr)
        )
    });
    assert!(answer.contains(" 200 "), "{name}: {answer}");
    assert!(
        answer.contains(expect),
        "{name}: '{expect}' not in {answer}"
    );
    Some((summary, answer))
}
