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
