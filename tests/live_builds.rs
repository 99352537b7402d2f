//! Source builds too heavy for CI (`#[ignore]`d: the live suite runs them
//! with `--include-ignored`), against a real index (PYPACK_TEST_INDEX_URL,
//! else the one pypack finds on this host; given as PIP_INDEX_URL as a
//! user's environment would): a meson-python
//! sdist (contourpy, asked for with --no-binary) compiled in the builder,
//! whose ninja runs its commands through the builder's /bin/sh, then
//! imported in the image.

mod common;

use common::parity::live_index_url;
use common::*;

#[test]
#[ignore = "live suite only (an sdist compiled for a minute): cargo test -- --include-ignored"]
fn a_meson_python_sdist_builds_in_the_builder() {
    let test = "a_meson_python_sdist_builds_in_the_builder";
    let Some(index) = live_index_url(test) else {
        return;
    };
    if !podman_available(test) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("contour-app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("requirements.txt"), "contourpy==1.3.3\n").unwrap();
    std::fs::write(
        app.join("main.py"),
        "import contourpy\nimport numpy as np\nz = np.arange(9.0).reshape(3, 3)\nlines = contourpy.contour_generator(z=z).lines(4.0)\nprint('contourpy', contourpy.__version__, len(lines))\n",
    )
    .unwrap();
    let out = pypack_env(
        tmp.path(),
        &[
            "build",
            app.to_str().unwrap(),
            "--no-binary",
            "contourpy",
            "--output",
            tmp.path().join("image").to_str().unwrap(),
        ],
        &[("PIP_INDEX_URL", &index)],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("building contourpy-1.3.3.tar.gz"), "{err}");
    // The smoke run ran main.py in the image: the built extension imports
    // and computes.
    assert!(
        err.contains("smoke:    passed (ran to completion with status 0)"),
        "{err}"
    );
}

/// pypack as a binary wheel (packaging/pyproject.toml): maturin, installed
/// from the live index into a venv of the test's own, builds it (into its
/// own target directory under target/, kept between runs, so the suite's
/// binary is never replaced while tests run it); pip installs it into a
/// fresh venv, where `pypack --version`, `pypack-ci` and a flask-hello build
/// work.
#[test]
#[ignore = "live suite only (maturin from the index, a release build): cargo test -- --include-ignored"]
fn the_binary_wheel_installs_with_pip_and_builds_an_app() {
    let test = "the_binary_wheel_installs_with_pip_and_builds_an_app";
    let Some(index) = live_index_url(test) else {
        return;
    };
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let run = |program: &std::path::Path, args: &[&str], dir: &std::path::Path| {
        let out = std::process::Command::new(program)
            .args(args)
            .current_dir(dir)
            .env("PIP_INDEX_URL", &index)
            .env("CARGO_TARGET_DIR", repo.join("target/wheel-build"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} {args:?}: {}",
            program.display(),
            stderr(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let venv = |name: &str| {
        let dir = tmp.path().join(name);
        run(
            "python3".as_ref(),
            &["-m", "venv", dir.to_str().unwrap()],
            tmp.path(),
        );
        dir.join("bin")
    };
    let tools = venv("maturin");
    run(
        &tools.join("pip"),
        &["install", "-q", "maturin>=1.5,<2"],
        tmp.path(),
    );
    let wheels = tmp.path().join("wheels");
    let packaging = repo.join("packaging");
    run(
        &tools.join("maturin"),
        &["build", "--release", "--out", wheels.to_str().unwrap()],
        &packaging,
    );
    let wheel = std::fs::read_dir(&wheels)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .expect("a wheel");
    let name = wheel.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with("pypack-") && name.contains("-py3-none-manylinux_"),
        "{name}"
    );

    let bin = venv("fresh");
    run(
        &bin.join("pip"),
        &["install", "-q", wheel.to_str().unwrap()],
        tmp.path(),
    );
    let version = run(&bin.join("pypack"), &["--version"], tmp.path());
    assert_eq!(
        version.trim(),
        format!("pypack {}", env!("CARGO_PKG_VERSION"))
    );
    assert!(bin.join("pypack-ci").is_file());
    let build = pypack_command(
        shared_cache(),
        &[
            "build",
            repo.join("sample-apps/flask-hello").to_str().unwrap(),
            "--no-index",
            "-f",
            repo.join("sample-apps/wheelhouse").to_str().unwrap(),
            "--no-smoke",
            "--output",
            tmp.path().join("layout").to_str().unwrap(),
        ],
        &[],
    );
    // The same hermetic environment, the wheel's executable.
    let mut installed = std::process::Command::new(bin.join("pypack"));
    installed.args(build.get_args());
    for (k, v) in build.get_envs() {
        match v {
            Some(v) => installed.env(k, v),
            None => installed.env_remove(k),
        };
    }
    let out = installed.output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(tmp.path().join("layout/index.json").is_file());
}
