//! The registry as the build cache of a fleet of runners: runners are
//! simulated by empty cache directories, the registry is Debian's
//! docker-registry on loopback with htpasswd, the app is built on the
//! fixture Debian archive from a test index, both served by the test so
//! their requests can be counted.

mod common;

use common::registry::{LocalRegistry, start_registry};
use common::*;
use std::path::{Path, PathBuf};
use std::process::Output;

const USER: (&str, &str) = ("ci-runner", "s3cret");

/// A registry wanting `USER`, and the auth file that holds it.
struct Fleet {
    _dir: tempfile::TempDir,
    registry: LocalRegistry,
    storage: PathBuf,
    auth_file: String,
}

impl Fleet {
    fn start(test: &str) -> Option<Fleet> {
        if !tool_available("docker-registry", test) || !tool_available("htpasswd", test) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let registry = start_registry(dir.path(), Some(USER));
        use base64::Engine as _;
        let auth =
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", USER.0, USER.1));
        let host = format!("127.0.0.1:{}", registry.port);
        let auth_file = dir.path().join("auth.json");
        let text = serde_json::json!({"auths": {host: {"auth": auth}}});
        std::fs::write(&auth_file, text.to_string()).unwrap();
        Some(Fleet {
            storage: dir.path().join("data"),
            auth_file: auth_file.display().to_string(),
            _dir: dir,
            registry,
        })
    }

    fn cache_ref(&self, tag: &str) -> String {
        format!("127.0.0.1:{}/ci/cache:{tag}", self.registry.port)
    }

    /// `pypack build APP` of `world` as a runner whose cache is `runner`, into `out/runner`.
    fn build(&self, world: &AppWorld, app: &str, runner: &str, flags: &[&str]) -> Output {
        let out = world.work.join("out").join(runner);
        let mut args: Vec<String> =
            vec!["build".into(), world.work.join(app).display().to_string()];
        args.extend(world.base.args());
        args.extend(["--index-url".into(), world.index_url()]);
        args.extend(
            [
                "--no-compile",
                "--no-smoke",
                "--insecure-registry",
                "--output",
            ]
            .map(String::from),
        );
        args.push(out.display().to_string());
        args.extend(flags.iter().map(|f| f.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        pypack_env(
            &world.work.join(format!("cache-{runner}")),
            &args,
            &[("REGISTRY_AUTH_FILE", &self.auth_file)],
        )
    }

    /// The entries the cache index under `tag` lists.
    fn entries(&self, tag: &str) -> Vec<serde_json::Value> {
        let url = format!(
            "http://127.0.0.1:{}/v2/ci/cache/manifests/{tag}",
            self.registry.port
        );
        let out = std::process::Command::new("curl")
            .args(["-sf", "-u", &format!("{}:{}", USER.0, USER.1)])
            .args(["-H", "Accept: application/vnd.oci.image.index.v1+json"])
            .arg(url)
            .output()
            .unwrap();
        assert!(out.status.success(), "no cache index under {tag}");
        let index: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        index["manifests"].as_array().cloned().unwrap_or_default()
    }
}

fn digest_of(layout: &Path) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The small app on the fixture archive (its index serving webframe)
/// built by a first runner with `--cache-to` the cache tagged `main`: the
/// world, that cache's reference and the build's output.
fn first_runner(fleet: &Fleet) -> (AppWorld, String, Output) {
    let world = small_app();
    let cache = fleet.cache_ref("main");
    let first = fleet.build(&world, "app", "a", &["--cache-to", &cache]);
    assert!(first.status.success(), "{}", stderr(&first));
    (world, cache, first)
}

#[test]
fn a_second_runner_builds_the_same_image_from_the_registry_cache_alone() {
    let test = "a_second_runner_builds_the_same_image_from_the_registry_cache_alone";
    let Some(fleet) = Fleet::start(test) else {
        return;
    };
    let (world, cache, first) = first_runner(&fleet);
    assert!(
        stderr(&first).contains("cache:    pushed entry"),
        "{}",
        stderr(&first)
    );
    let (archive, index) = (
        world.base.server.request_count(),
        world.index.request_count(),
    );
    let second = fleet.build(&world, "app", "b", &["--cache-from", &cache]);
    let err = stderr(&second);
    assert!(second.status.success(), "{err}");
    assert!(err.contains("cache:    1 entries from"), "{err}");
    assert_eq!(
        digest_of(&world.work.join("out/a")),
        digest_of(&world.work.join("out/b"))
    );
    // Nothing asked of the Debian archive or the package index.
    assert_eq!(world.base.server.request_count(), archive, "{err}");
    assert_eq!(world.index.request_count(), index, "{err}");
    assert!(!err.contains("warning"), "{err}");
}

#[test]
fn a_corrupt_blob_in_the_registry_cache_is_made_again_with_a_warning() {
    let test = "a_corrupt_blob_in_the_registry_cache_is_made_again_with_a_warning";
    let Some(fleet) = Fleet::start(test) else {
        return;
    };
    let (world, cache, first) = first_runner(&fleet);
    // Spoil the venv layer where the registry keeps it: same size, other bytes.
    let venv_layer = stderr(&first)
        .lines()
        .find(|l| l.contains("Python packages into /app/.venv"))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(|d| d.trim_start_matches("sha256:").to_string())
        .expect("a venv layer line");
    let data = walk(&fleet.storage)
        .into_iter()
        .find(|p| {
            p.ends_with("data")
                && p.parent()
                    .and_then(|d| d.file_name())
                    .is_some_and(|n| n.to_string_lossy().starts_with(&venv_layer))
        })
        .expect("the venv layer in the registry's storage");
    let size = std::fs::metadata(&data).unwrap().len() as usize;
    std::fs::write(&data, vec![b'x'; size]).unwrap();
    let second = fleet.build(&world, "app", "b", &["--cache-from", &cache]);
    let err = stderr(&second);
    assert!(second.status.success(), "{err}");
    assert!(
        err.contains("warning: the registry cache") && err.contains("making it here instead"),
        "{err}"
    );
    assert_eq!(
        digest_of(&world.work.join("out/a")),
        digest_of(&world.work.join("out/b"))
    );
}

#[test]
fn two_runners_writing_the_cache_at_once_both_get_listed() {
    let test = "two_runners_writing_the_cache_at_once_both_get_listed";
    let Some(fleet) = Fleet::start(test) else {
        return;
    };
    let world = small_app();
    // A second app, so the two runs make two different entries.
    let other = world.work.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("requirements.txt"), "webframe\n").unwrap();
    std::fs::write(other.join("main.py"), "print('other')\n").unwrap();
    let cache = fleet.cache_ref("shared");
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| fleet.build(&world, "app", "a", &["--cache-to", &cache]));
        let b = s.spawn(|| fleet.build(&world, "other", "b", &["--cache-to", &cache]));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(a.status.success(), "{}", stderr(&a));
    assert!(b.status.success(), "{}", stderr(&b));
    let pushed = |out: &Output| {
        stderr(out)
            .lines()
            .find_map(|l| l.strip_prefix("cache:    pushed entry "))
            .and_then(|l| l.split_whitespace().next())
            .map(str::to_string)
            .expect("an entry pushed")
    };
    let listed: Vec<String> = fleet
        .entries("shared")
        .iter()
        .map(|e| e["digest"].as_str().unwrap().to_string())
        .collect();
    assert!(listed.contains(&pushed(&a)), "{listed:?}");
    assert!(listed.contains(&pushed(&b)), "{listed:?}");
    // Pruning keeps the newest: the entry with the latest creation time
    // (the two may share a second; then either is the newest).
    let created = |e: &serde_json::Value| {
        e["annotations"]["org.opencontainers.image.created"]
            .as_str()
            .expect("an entry says when it was made")
            .to_string()
    };
    let before = fleet.entries("shared");
    let latest = before.iter().map(created).max().unwrap();
    let newest: Vec<String> = before
        .iter()
        .filter(|e| created(e) == latest)
        .map(|e| e["digest"].as_str().unwrap().to_string())
        .collect();
    let out = pypack_env(
        &world.work.join("cache-prune"),
        &[
            "cache",
            "prune",
            "--registry",
            &cache,
            "--keep",
            "1",
            "--insecure-registry",
        ],
        &[("REGISTRY_AUTH_FILE", &fleet.auth_file)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("kept 1 entries, removed 1"),
        "{}",
        stderr(&out)
    );
    let after = fleet.entries("shared");
    assert_eq!(after.len(), 1);
    let kept = after[0]["digest"].as_str().unwrap().to_string();
    assert!(
        newest.contains(&kept),
        "kept {kept}, the newest: {newest:?}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// flask-hello on the real debian12 base: the second runner makes the same
/// image without fetching anything from the Debian archive (pypack names
/// every fetch it makes), and the image answers.
#[test]
fn flask_hello_from_the_registry_cache_is_the_same_image_and_answers() {
    let test = "flask_hello_from_the_registry_cache_is_the_same_image_and_answers";
    if !debian_archive_configured(test)
        || !podman_available(test)
        || !tool_available("skopeo", test)
    {
        return;
    }
    let Some(fleet) = Fleet::start(test) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cache = fleet.cache_ref("flask");
    let build = |runner: &str, flag: &str| {
        let out = work.path().join(format!("out-{runner}"));
        let args: Vec<String> = vec![
            "build".into(),
            repo.join("sample-apps/flask-hello").display().to_string(),
            "--no-index".into(),
            "--find-links".into(),
            repo.join("sample-apps/wheelhouse").display().to_string(),
            "--insecure-registry".into(),
            flag.into(),
            cache.clone(),
            "--output".into(),
            out.display().to_string(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        pypack_env(
            &work.path().join(format!("cache-{runner}")),
            &args,
            &[("REGISTRY_AUTH_FILE", &fleet.auth_file)],
        )
    };
    let first = build("a", "--cache-to");
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stderr(&first).contains("fetching"),
        "the first runner fetches its base"
    );
    let second = build("b", "--cache-from");
    let err = stderr(&second);
    assert!(second.status.success(), "{err}");
    assert!(!err.contains("fetching"), "{err}");
    assert_eq!(
        digest_of(&work.path().join("out-a")),
        digest_of(&work.path().join("out-b"))
    );
    let answer = answer_of_image(&format!("oci:{}", work.path().join("out-b").display()));
    assert!(
        answer
            .expect("the image answers")
            .contains("Hello from pypack!")
    );
}
