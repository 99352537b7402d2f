//! The CI templates' script (templates/ci/pypack-ci.sh, which the GitHub
//! Action and the GitLab template run), against a local registry with a
//! password: build, push with the registry cache, the digest and the SBOM
//! as outputs read back; a second, empty runner gets the same digest from
//! the cache; a missing setting fails naming it.

mod common;

use common::registry::start_registry;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `sh templates/ci/pypack-ci.sh` in `dir`, with pypack on PATH, the
/// tests' hermetic environment for cache `cache`, and `vars`.
fn run_script(dir: &Path, cache: &Path, vars: &[(&str, &str)]) -> Output {
    let hermetic = pypack_command(cache, &[] as &[&str], vars);
    let mut command = Command::new("sh");
    command
        .arg(repo().join("templates/ci/pypack-ci.sh"))
        .current_dir(dir);
    for (name, value) in hermetic.get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_pypack")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = command.env("PATH", path).output().unwrap();
    eprintln!(
        "$ sh pypack-ci.sh\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `NAME=value` lines of a file, as pairs.
fn pairs(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_ci_script_pushes_with_the_cache_and_gives_digest_and_sbom() {
    let test = "the_ci_script_pushes_with_the_cache_and_gives_digest_and_sbom";
    if !debian_archive_configured(test) || !tool_available("docker-registry", test) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("registry")).unwrap();
    let registry = start_registry(&tmp.path().join("registry"), Some(("ci", "s3cret")));
    let host = format!("127.0.0.1:{}", registry.port);
    let app = tmp.path().join("app");
    copy_tree(&repo().join("sample-apps/flask-hello"), &app);
    let wheelhouse = repo().join("sample-apps/wheelhouse");
    let args = format!(
        "--no-index --find-links {} --no-smoke",
        wheelhouse.display()
    );
    let (image, cache_ref) = (format!("{host}/ci/app:1"), format!("{host}/ci/cache:main"));
    let runner = |name: &str, cache: &Path| {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let github_output = dir.join("github-output");
        let vars = [
            ("PYPACK_IMAGE", image.as_str()),
            ("PYPACK_APP", app.to_str().unwrap()),
            ("PYPACK_CACHE", cache_ref.as_str()),
            ("PYPACK_ARGS", args.as_str()),
            ("PYPACK_REGISTRY_USER", "ci"),
            ("PYPACK_REGISTRY_PASSWORD", "s3cret"),
            ("PYPACK_INSECURE_REGISTRY", "1"),
            ("PYPACK_DOTENV", "pypack.env"),
            ("GITHUB_OUTPUT", github_output.to_str().unwrap()),
        ];
        let out = run_script(&dir, cache, &vars);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        (dir, pairs(&github_output))
    };

    let (first, outputs) = runner("runner-1", shared_cache());
    let value = |name: &str| outputs.iter().find(|(k, _)| k == name).unwrap().1.clone();
    let digest = value("digest");
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    assert_eq!(value("image"), format!("{host}/ci/app@{digest}"));
    assert_eq!(value("sbom"), "pypack-sbom.spdx.json");
    let dotenv = pairs(&first.join("pypack.env"));
    assert!(
        dotenv.contains(&("PYPACK_DIGEST".into(), digest.clone())),
        "{dotenv:?}"
    );
    let sbom: serde_json::Value =
        serde_json::from_slice(&std::fs::read(first.join("pypack-sbom.spdx.json")).unwrap())
            .unwrap();
    assert_eq!(sbom["spdxVersion"], "SPDX-2.3");
    assert!(
        sbom["packages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "flask")
    );

    // The registry holds the image under its tag, and the build cache.
    let head = |path: &str| {
        let out = Command::new("curl")
            .args(["-s", "-I", "-u", "ci:s3cret"])
            .args(["-H", "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"])
            .arg(format!("http://{host}/v2/{path}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_lowercase()
    };
    let manifest = head("ci/app/manifests/1");
    assert!(
        manifest.contains(&format!("docker-content-digest: {digest}")),
        "{manifest}"
    );
    assert!(head("ci/cache/manifests/main").starts_with("http/1.1 200"));

    // A second runner with an empty cache: the same image, from the cache.
    let empty = tmp.path().join("empty-cache");
    let (_, again) = runner("runner-2", &empty);
    assert!(again.contains(&("digest".to_string(), digest)), "{again:?}");

    // A setting missing: a clear error, nothing pushed.
    let out = run_script(tmp.path(), &empty, &[("PYPACK_APP", app.to_str().unwrap())]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("PYPACK_IMAGE is not set"),
        "{}",
        stderr(&out)
    );
}

/// Both templates run the script and pass it the settings it reads.
#[test]
fn the_templates_run_the_script_with_its_settings() {
    let script = std::fs::read_to_string(repo().join("templates/ci/pypack-ci.sh")).unwrap();
    for template in [
        "templates/ci/github/action.yml",
        "templates/ci/gitlab/pypack.gitlab-ci.yml",
    ] {
        let text = std::fs::read_to_string(repo().join(template)).unwrap();
        assert!(
            text.contains("pypack-ci"),
            "{template} does not run the script"
        );
        let settings = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("PYPACK_") && *w != "PYPACK_INSTALL" && *w != "PYPACK_CI");
        for setting in settings {
            assert!(
                script.contains(setting),
                "{template} sets {setting}, which the script does not read"
            );
        }
    }
}
