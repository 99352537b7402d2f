//! Pushing to Debian's docker-registry on loopback, with and without htpasswd
//! auth: the pushed image reads back with skopeo under the same digest, a
//! second push uploads no blob, wrong or missing credentials are refused
//! clearly, and podman runs the image pulled from the registry.

mod common;

use common::wheels::{Listing, TestIndex, WheelSpec};
use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

struct LocalRegistry {
    child: Child,
    port: u16,
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tool_available(tool: &str, test: &str) -> bool {
    let found = Command::new("which")
        .arg(tool)
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("{test}: {tool} is required in CI (run tests/setup.sh)");
        }
        eprintln!("SKIPPED {test}: {tool} is not installed (run tests/setup.sh)");
    }
    found
}

/// Starts `docker-registry serve` on a free loopback port; with `htpasswd`,
/// requiring that user and password.
fn start_registry(dir: &Path, htpasswd: Option<(&str, &str)>) -> LocalRegistry {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
        dir.join("data").display()
    );
    if let Some((user, password)) = htpasswd {
        let out = Command::new("htpasswd")
            .args(["-Bbn", user, password])
            .output()
            .unwrap();
        assert!(out.status.success());
        fs::write(dir.join("htpasswd"), out.stdout).unwrap();
        config.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
            dir.join("htpasswd").display()
        ));
    }
    fs::write(dir.join("config.yml"), config).unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(dir.join("config.yml"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "docker-registry did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    LocalRegistry { child, port }
}

fn auth_file(dir: &Path, registry: &str, user: &str, password: &str) -> PathBuf {
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let path = dir.join(format!("auth-{user}-{password}.json"));
    fs::write(
        &path,
        format!("{{\"auths\": {{\"{registry}\": {{\"auth\": \"{auth}\"}}}}}}"),
    )
    .unwrap();
    path
}

/// A small app built hermetically (fixture base, test index), pushed to `reference`.
struct App {
    _tmp: tempfile::TempDir,
    work: PathBuf,
    base: PythonBase,
    index: FileServer,
}

impl App {
    fn new() -> App {
        let tmp = tempfile::tempdir().unwrap();
        let work = tmp.path().to_path_buf();
        let base = PythonBase::create(&work);
        let mut index = TestIndex::new(&work.join("index"));
        index.add(&WheelSpec::new("webframe", "1.0"), Listing::default());
        index.publish();
        let index = FileServer::start(&work.join("index"));
        fs::create_dir_all(work.join("app")).unwrap();
        fs::write(work.join("app/requirements.txt"), "webframe\n").unwrap();
        fs::write(work.join("app/main.py"), "print('hi')\n").unwrap();
        App {
            _tmp: tmp,
            work,
            base,
            index,
        }
    }

    fn push(&self, reference: &str, vars: &[(&str, &str)]) -> std::process::Output {
        let app = self.work.join("app").display().to_string();
        let mut args: Vec<String> = vec!["build".into(), app];
        args.extend(self.base.args());
        args.extend(["--index-url".into(), format!("{}/simple", self.index.url)]);
        args.extend([
            "--push".into(),
            reference.into(),
            "--insecure-registry".into(),
        ]);
        pypack_env(
            &self.work.join("cache"),
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            vars,
        )
    }
}

fn pushed_digest(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let at = stdout
        .find("@sha256:")
        .unwrap_or_else(|| panic!("no pushed digest in: {stdout}"));
    stdout[at + 1..at + 72].to_string()
}

#[test]
fn push_reads_back_with_skopeo_and_a_second_push_uploads_nothing() {
    let test = "push_reads_back_with_skopeo_and_a_second_push_uploads_nothing";
    if !tool_available("docker-registry", test) || !tool_available("skopeo", test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let registry = start_registry(dir.path(), None);
    let app = App::new();
    let reference = format!("localhost:{}/team/app:1.0", registry.port);
    let first = app.push(&reference, &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let digest = pushed_digest(&first);
    assert!(String::from_utf8_lossy(&first.stdout).contains("0 already there"));

    let inspect = Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{reference}"),
        ])
        .output()
        .unwrap();
    assert!(
        inspect.status.success(),
        "{}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    let info: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(info["Digest"], digest);

    let copy_dir = dir.path().join("copy");
    let copy = Command::new("skopeo")
        .args([
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{reference}"),
        ])
        .arg(format!("dir:{}", copy_dir.display()))
        .output()
        .unwrap();
    assert!(
        copy.status.success(),
        "{}",
        String::from_utf8_lossy(&copy.stderr)
    );
    assert_eq!(
        format!(
            "sha256:{}",
            sha256(&fs::read(copy_dir.join("manifest.json")).unwrap())
        ),
        digest
    );

    let second = app.push(&reference, &[]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        String::from_utf8_lossy(&second.stdout).contains("(0 blobs uploaded"),
        "{}",
        String::from_utf8_lossy(&second.stdout)
    );
    assert_eq!(pushed_digest(&second), digest);
}

#[test]
fn htpasswd_registry_needs_the_right_credentials() {
    let test = "htpasswd_registry_needs_the_right_credentials";
    if !tool_available("docker-registry", test) || !tool_available("htpasswd", test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let registry = start_registry(dir.path(), Some(("ci-bot", "s3cret")));
    let host = format!("localhost:{}", registry.port);
    let reference = format!("{host}/private/app:1");
    let app = App::new();

    let none = app.push(&reference, &[]);
    assert!(!none.status.success());
    assert!(
        stderr(&none).contains("needs credentials") && stderr(&none).contains("login"),
        "{}",
        stderr(&none)
    );

    let wrong = auth_file(dir.path(), &host, "ci-bot", "guess");
    let out = app.push(
        &reference,
        &[("REGISTRY_AUTH_FILE", wrong.to_str().unwrap())],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("refused the credentials") && !stderr(&out).contains("guess"),
        "{}",
        stderr(&out)
    );

    let right = auth_file(dir.path(), &host, "ci-bot", "s3cret");
    let out = app.push(
        &reference,
        &[("REGISTRY_AUTH_FILE", right.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("s3cret")
            && !stderr(&out).contains("s3cret")
    );
}

#[test]
fn podman_runs_flask_hello_pulled_from_the_registry() {
    let test = "podman_runs_flask_hello_pulled_from_the_registry";
    if !tool_available("docker-registry", test) || !podman_available(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let registry = start_registry(dir.path(), None);
    let reference = format!(
        "localhost:{}/samples/flask-hello:{}",
        registry.port,
        std::process::id()
    );
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = pypack(
        &dir.path().join("cache"),
        &[
            "build",
            repo.join("sample-apps/flask-hello").to_str().unwrap(),
            "--no-index",
            "-f",
            repo.join("sample-apps/wheelhouse").to_str().unwrap(),
            "--push",
            &reference,
            "--insecure-registry",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = Command::new("podman")
        .args([
            "run",
            "-d",
            "--tls-verify=false",
            "-p",
            &format!("127.0.0.1:{port}:8000"),
            &reference,
        ])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let id = String::from_utf8_lossy(&run.stdout).trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut body = String::new();
    while Instant::now() < deadline {
        use std::io::{Read, Write};
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = write!(s, "GET / HTTP/1.0\r\n\r\n");
            let _ = s.read_to_string(&mut body);
            if body.contains("Hello from pypack!") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = Command::new("podman")
        .args(["rm", "-f", "-t", "0", &id])
        .output();
    let _ = Command::new("podman")
        .args(["rmi", "-f", &reference])
        .output();
    assert!(
        body.contains("Hello from pypack!"),
        "no page from the pulled image: {body}"
    );
}
