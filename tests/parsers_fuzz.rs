//! Property tests: random mutations of real-shaped inputs (inserted,
//! deleted and replaced bytes, from characters these formats give meaning
//! to) never make a parser panic; where pypack prints what it parses
//! (pylock.toml, image references, platforms, requirements, markers,
//! versions), what parses prints back to text that parses to the same
//! thing; and the unmutated seeds parse to what they say
//! (`the_seeds_parse_to_what_they_say`), so a parser that rejected or lost
//! everything would not pass. A short run in CI (PROPTEST_CASES, 256 by
//! default); the long run is documented in the README:
//!     PROPTEST_CASES=2000000 cargo test --release --test parsers_fuzz

mod common;

use proptest::prelude::*;
use std::path::Path;

/// One edit of a text: at a position (a fraction of its length), delete
/// some characters and insert others.
#[derive(Debug, Clone)]
struct Edit {
    at: f64,
    delete: usize,
    insert: String,
}

fn edit() -> impl Strategy<Value = Edit> {
    let pieces = prop::sample::select(vec![
        "\n",
        "\r\n",
        " ",
        "\t",
        ":",
        "=",
        "==",
        ">=",
        "<",
        "~=",
        "!=",
        "[",
        "]",
        "{",
        "}",
        "(",
        ")",
        "\"",
        "'",
        "\\",
        ",",
        ";",
        "#",
        "-",
        ".",
        "/",
        "@",
        "*",
        "\0",
        "é",
        "\u{feff}",
        "\u{2028}",
        "0",
        "9",
        "a",
        "Z",
        "_",
        "%",
        "+",
        "|",
        "^",
        "${X}",
        "--",
        "-r ",
        "\n\n",
        " ; python_version < '3'",
        "[extra]",
        "http://",
        "file:///",
        "..",
    ]);
    (0.0..=1.0f64, 0usize..8, prop::collection::vec(pieces, 0..4)).prop_map(
        |(at, delete, pieces)| Edit {
            at,
            delete,
            insert: pieces.concat(),
        },
    )
}

/// `seed` with `edits` applied (at character boundaries).
fn mutate(seed: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = seed.chars().collect();
    for e in edits {
        let at = ((chars.len() as f64) * e.at) as usize;
        let at = at.min(chars.len());
        let end = (at + e.delete).min(chars.len());
        chars.splice(at..end, e.insert.chars());
    }
    chars.into_iter().collect()
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec(edit(), 1..6)
}

const REQUIREMENTS: &str = "# app\n-r base.txt\n--index-url https://index.invalid/simple\nflask[async]>=3.0,<4 ; python_version >= \"3.8\"\ngunicorn==22.0 --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000 \\\n    --hash=sha256:1111111111111111111111111111111111111111111111111111111111111111\nweb @ https://files.invalid/web-1.0-py3-none-any.whl\n-e .\n-c constraints.txt\nrequests~=2.31  # comment\n";
const PYPROJECT: &str = "[project]\nname = \"shop\"\nversion = \"1.2\"\nrequires-python = \">=3.11\"\ndependencies = [\"flask>=3\", \"gunicorn\"]\n[project.optional-dependencies]\nweb = [\"uvicorn[standard]\"]\n[project.scripts]\nshop = \"shop:main\"\n[dependency-groups]\ndev = [\"pytest\", {include-group = \"lint\"}]\nlint = [\"ruff\"]\n[tool.pypack]\nport = 8080\ncmd = \"gunicorn shop:app\"\n[tool.poetry.dependencies]\npython = \"^3.11\"\nflask = {version = \"^3.0\", extras = [\"async\"]}\n";
const METADATA: &str = "Metadata-Version: 2.3\nName: flask\nVersion: 3.1.3\nRequires-Python: >=3.9\nRequires-Dist: werkzeug>=3.1\nRequires-Dist: asgiref>=3.2; extra == \"async\"\nProvides-Extra: async\nLicense: BSD\n  folded line\n\nThe description.\n";
const PACKAGES: &str = "Package: libc6\nVersion: 2.36-9+deb12u4\nArchitecture: amd64\nPre-Depends: libgcc-s1\nDepends: libgcc-s1 (>= 3.0), foo | bar:any (<< 2)\nProvides: libc6-x (= 1)\nFilename: pool/main/g/glibc/libc6_2.36-9_amd64.deb\nSize: 2757936\nSHA256: 0000000000000000000000000000000000000000000000000000000000000000\nDescription: GNU C Library\n multi-line\n .\n more\n\nPackage: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\nFilename: pool/main/t/tzdata/tzdata_2024a.deb\nSize: 1\nSHA256: 1111111111111111111111111111111111111111111111111111111111111111\n";
const RELEASE: &str = "Origin: Debian\nSuite: stable\nCodename: bookworm\nDate: Sat, 10 Feb 2024 09:41:24 UTC\nValid-Until: Sat, 17 Feb 2024 09:41:24 UTC\nAcquire-By-Hash: yes\nArchitectures: amd64 arm64\nComponents: main\nSHA256:\n 0000000000000000000000000000000000000000000000000000000000000000 1234 main/binary-amd64/Packages.xz\n 1111111111111111111111111111111111111111111111111111111111111111 99 main/binary-arm64/Packages\n";
const MARKER: &str = "python_version >= \"3.8\" and (sys_platform == 'linux' or platform_machine != \"aarch64\") and extra == 'dev' and python_full_version ~= '3.11.2' and implementation_name in 'cpython pypy'";
const RECORD: &str = "flask/__init__.py,sha256=AAAA,12\nflask-3.1.3.dist-info/METADATA,sha256=BBBB,2000\n\"odd,name.py\",sha256=CCCC,1\nflask-3.1.3.dist-info/RECORD,,\n";
const ENTRY_POINTS: &str =
    "[console_scripts]\nflask = flask.cli:main\n[gui_scripts]\ng = pkg.mod:obj.attr [extra]\n";
const WHEEL: &str = "Wheel-Version: 1.0\nGenerator: bdist_wheel (0.43.0)\nRoot-Is-Purelib: true\nTag: py3-none-any\n";
const SIMPLE_HTML: &str = "<!DOCTYPE html><html><body><a href=\"../files/flask-3.1.3-py3-none-any.whl#sha256=00ff\" data-requires-python=\"&gt;=3.9\" data-dist-info-metadata=\"sha256=ab\">flask-3.1.3-py3-none-any.whl</a><a href='x.tar.gz' data-yanked>x</a></body></html>";
const SIMPLE_JSON: &str = "{\"meta\":{\"api-version\":\"1.1\"},\"name\":\"flask\",\"files\":[{\"filename\":\"flask-3.1.3-py3-none-any.whl\",\"url\":\"../f.whl\",\"hashes\":{\"sha256\":\"00ff\"},\"requires-python\":\">=3.9\",\"yanked\":false,\"core-metadata\":{\"sha256\":\"ab\"},\"size\":101}]}";
const PROCFILE_CHAIN: &str = "cd src && FLASK_ENV=production python -m flask db upgrade || true; exec gunicorn ${APP:-app}:app --bind 0.0.0.0:${PORT:-8000}";
const SOURCES: &str = "Types: deb deb-src\nURIs: http://deb.invalid/debian\nSuites: bookworm bookworm-updates\nComponents: main contrib\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: http://security.invalid/debian-security\nSuites: bookworm-security\nComponents: main\n";
const RECIPE: &str = "name = \"x\"\ndescription = \"d\"\nsuites = [\"bookworm\"]\ncomponents = [\"main\"]\narchitectures = [\"amd64\"]\nkeys = []\nusrmerge = true\n[python]\nversion = \"3.11\"\nexecutable = \"/usr/bin/python3.11\"\n[packages]\ninclude = [\"python3.11-minimal\"]\n[image]\nuser = \"65532:65532\"\nenv = [\"PATH=/usr/bin:/bin\"]\n";

const REFERENCE: &str = "localhost:5000/team/app:1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// Writes `text` to a fresh file named `name` and gives its path.
fn file_with(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

proptest! {
    #[test]
    fn requirements_files(e in edits()) {
        let dir = tempfile::tempdir().unwrap();
        let path = file_with(dir.path(), "requirements.txt", &mutate(REQUIREMENTS, &e));
        let _ = pypack::project::requirements::parse_file(&path, &|_| None);
    }

    #[test]
    fn pyproject_files(e in edits()) {
        let dir = tempfile::tempdir().unwrap();
        let path = file_with(dir.path(), "pyproject.toml", &mutate(PYPROJECT, &e));
        let _ = pypack::project::pyproject::read(&path);
        let _ = pypack::project::read_requirements(dir.path(), &[], &["dev".into()], &|_| None);
    }

    #[test]
    fn core_metadata(e in edits()) {
        let _ = pypack::index::metadata::parse(&mutate(METADATA, &e));
    }

    #[test]
    fn debian_indexes(e in edits()) {
        let _ = pypack::debian::packages::parse_packages(&mutate(PACKAGES, &e), "amd64");
        let _ = pypack::debian::packages::parse_relations(&mutate("a (>= 1) | b:any, c [amd64] <!nocheck>", &e));
        let _ = pypack::debian::release::Release::parse(&mutate(RELEASE, &e));
        let _ = pypack::debian::sources::parse_deb822(&mutate(SOURCES, &e));
        let _ = pypack::debian::sources::parse_one_line(&mutate("deb [arch=amd64 signed-by=/k.gpg] http://deb.invalid/debian bookworm main\n", &e));
        let _ = pypack::debian::version::compare(&mutate("1:2.36-9+deb12u4~bpo1", &e), "2.36-9");
    }

    #[test]
    fn wheel_files(e in edits()) {
        let _ = pypack::wheel::dist_info::parse_record(&mutate(RECORD, &e));
        let _ = pypack::wheel::dist_info::parse_entry_points(&mutate(ENTRY_POINTS, &e));
        let _ = pypack::wheel::dist_info::parse_wheel_file(&mutate(WHEEL, &e));
        let _ = pypack::python::WheelFilename::parse(&mutate("flask-3.1.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", &e));
    }

    #[test]
    fn index_pages(e in edits()) {
        let _ = pypack::index::simple::parse_html(&mutate(SIMPLE_HTML, &e), "https://index.invalid/simple/flask/");
        let _ = pypack::index::simple::parse_json(mutate(SIMPLE_JSON, &e).as_bytes(), "https://index.invalid/simple/flask/");
    }

    #[test]
    fn markers_specifiers_and_versions(e in edits()) {
        use std::str::FromStr;
        let target = pypack::python::Target {
            platform: pypack::platform::Platform::ALL[0],
            python: (3, 11, 2),
            libc: pypack::python::Libc::Glibc { major: 2, minor: 36 },
        };
        let marker = mutate(MARKER, &e);
        if let Ok(tree) = pypack::python::parse_marker(&marker) {
            let _ = tree.evaluate(&target.marker_environment(), &[]);
        }
        let _ = pypack::project::locks::marker_holds(Some(&marker), &target.marker_environment(), &["dev".into()]);
        let specifiers = mutate(">=3.8, !=3.9.*, <4 , ~=3.10.1, ===3.11.2", &e);
        // pypack shows these crates' errors to the user: formatting them must not panic either.
        match pep440_rs::VersionSpecifiers::from_str(&specifiers) {
            Ok(parsed) => drop(pypack::resolve::ranges::from_specifiers(&parsed)),
            Err(e) => drop(e.to_string()),
        }
        let _ = pep440_rs::Version::from_str(&mutate("1!2.0.0rc1.post2.dev3+local.7", &e)).map_err(|e| e.to_string());
        let _ = pypack::python::Target::parse_python(&mutate("3.11.2", &e));
    }

    #[test]
    fn names_commands_and_recipes(e in edits()) {
        let _ = pypack::project::chain::parse(&mutate(PROCFILE_CHAIN, &e));
        let _ = pypack::platform::Platform::parse_choice(&mutate("linux/amd64,linux/arm64/v8", &e));
        let _ = pypack::registry::Reference::parse(&mutate("localhost:5000/team/app:1.0@sha256:00", &e));
        let _ = pypack::base::recipe::Recipe::parse(&mutate(RECIPE, &e), "fuzz.toml");
        let _ = pypack::debian::release::parse_rfc2822(&mutate("Sat, 10 Feb 2024 09:41:24 UTC", &e));
    }
}

/// Each seed, unmutated, parses to what it says.
#[test]
fn the_seeds_parse_to_what_they_say() {
    use std::str::FromStr;
    let dir = tempfile::tempdir().unwrap();
    file_with(dir.path(), "base.txt", "click==8.1.7\n");
    file_with(dir.path(), "constraints.txt", "werkzeug<4\n");
    // `-e .`: the directory is a project.
    let pyproject = file_with(dir.path(), "pyproject.toml", PYPROJECT);
    let path = file_with(dir.path(), "requirements.txt", REQUIREMENTS);
    let set = pypack::project::requirements::parse_file(&path, &|_| None).unwrap();
    let names: Vec<String> = set
        .requirements
        .iter()
        .map(|r| r.requirement.name.to_string())
        .collect();
    assert_eq!(names, ["click", "flask", "gunicorn", "requests"]);
    assert_eq!(set.direct.len(), 1);
    assert_eq!(set.direct[0].filename, "web-1.0-py3-none-any.whl");
    assert_eq!(set.requirements[2].hashes.len(), 2);
    assert_eq!(set.constraints.len(), 1);
    assert_eq!(set.local.len(), 1, "-e .");
    assert_eq!(
        set.index.index_url.as_deref(),
        Some("https://index.invalid/simple")
    );

    let project = pypack::project::pyproject::read(&pyproject).unwrap();
    assert_eq!(project.dependencies.len(), 2);
    assert_eq!(project.optional["web"].len(), 1);

    let metadata = pypack::index::metadata::parse(METADATA).unwrap();
    assert_eq!(
        (
            metadata.name.as_str(),
            metadata.version.to_string().as_str()
        ),
        ("flask", "3.1.3")
    );
    assert_eq!(metadata.requires_dist.len(), 2);
    assert_eq!(metadata.provides_extra, ["async"]);

    let packages = pypack::debian::packages::parse_packages(PACKAGES, "amd64").unwrap();
    let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["libc6", "tzdata"]);
    assert_eq!(
        pypack::debian::packages::parse_relations("a (>= 1) | b:any, c [amd64] <!nocheck>")
            .unwrap()
            .len(),
        2
    );
    let release = pypack::debian::release::Release::parse(RELEASE).unwrap();
    assert_eq!(
        (release.codename.as_str(), release.sha256.len()),
        ("bookworm", 2)
    );
    let sources = pypack::debian::sources::parse_deb822(SOURCES);
    assert_eq!(sources.len(), 2);
    assert_eq!(sources[0].suites, ["bookworm", "bookworm-updates"]);
    assert_eq!(
        pypack::debian::version::compare("1:2.36-9+deb12u4~bpo1", "2.36-9"),
        std::cmp::Ordering::Greater
    );

    assert_eq!(
        pypack::wheel::dist_info::parse_record(RECORD)
            .unwrap()
            .len(),
        4
    );
    assert_eq!(
        pypack::wheel::dist_info::parse_entry_points(ENTRY_POINTS).unwrap()["gui_scripts"].len(),
        1
    );
    assert_eq!(
        pypack::wheel::dist_info::parse_wheel_file(WHEEL)
            .unwrap()
            .tags,
        ["py3-none-any"]
    );
    let wheel = pypack::python::WheelFilename::parse(
        "flask-3.1.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    )
    .unwrap();
    assert_eq!(wheel.platform.len(), 2);

    let page = "https://index.invalid/simple/flask/";
    let html = pypack::index::simple::parse_html(SIMPLE_HTML, page).unwrap();
    assert_eq!(html.len(), 2);
    assert!(html[1].yanked);
    assert_eq!(
        pypack::index::simple::parse_json(SIMPLE_JSON.as_bytes(), page).unwrap()[0].size,
        Some(101)
    );

    assert!(pypack::python::parse_marker(MARKER).is_ok());
    assert!(pep440_rs::Version::from_str("1!2.0.0rc1.post2.dev3+local.7").is_ok());
    assert!(
        !pypack::project::chain::parse(PROCFILE_CHAIN)
            .unwrap()
            .is_empty()
    );
    let reference = pypack::registry::Reference::parse(REFERENCE).unwrap();
    assert_eq!(
        (reference.tag.as_deref(), reference.digest.is_some()),
        (Some("1.0"), true)
    );
    let platform = pypack::platform::Platform::parse("linux/arm64/v8").unwrap();
    assert_eq!(platform.to_string(), "linux/arm64/v8");
    assert!(pypack::base::recipe::Recipe::parse(RECIPE, "fuzz.toml").is_ok());
    assert!(pypack::debian::release::parse_rfc2822("Sat, 10 Feb 2024 09:41:24 UTC").is_some());
    let (resolution, lock) = seed_resolution_and_lock();
    let (pins, inputs) = pypack::resolve::lock::from_toml(&lock, &fuzz_target(), "seed").unwrap();
    assert_eq!(pin_facts(&pins), pin_facts(&resolution.pins));
    assert_eq!(inputs, "seed inputs");
}

fn fuzz_target() -> pypack::python::Target {
    pypack::python::Target {
        platform: pypack::platform::Platform::ALL[0],
        python: (3, 11, 2),
        libc: pypack::python::Libc::Glibc {
            major: 2,
            minor: 36,
        },
    }
}

fn seed_lock() -> String {
    seed_resolution_and_lock().1
}

/// A resolution and the pylock.toml pypack writes for it: flask (a wheel)
/// needing werkzeug (an sdist).
fn seed_resolution_and_lock() -> (pypack::resolve::Resolution, String) {
    use std::str::FromStr;
    let file = |name: &str, sha: char, size| pypack::index::DistFile {
        filename: name.to_string(),
        url: format!("https://files.invalid/{name}"),
        sha256: Some(sha.to_string().repeat(64)),
        requires_python: None,
        yanked: false,
        metadata: None,
        size: Some(size),
    };
    let pin = |name: &str, version: &str, file, dependencies: &[&str]| pypack::resolve::Pin {
        name: name.to_string(),
        version: pep440_rs::Version::from_str(version).unwrap(),
        file,
        dependencies: dependencies.iter().map(|d| d.to_string()).collect(),
    };
    let resolution = pypack::resolve::Resolution {
        target: fuzz_target(),
        pins: vec![
            pin(
                "flask",
                "3.1.3",
                file("flask-3.1.3-py3-none-any.whl", 'a', 101),
                &["werkzeug"],
            ),
            pin(
                "werkzeug",
                "3.1.0",
                file("werkzeug-3.1.0.tar.gz", 'b', 202),
                &[],
            ),
        ],
    };
    let text = pypack::resolve::lock::to_toml(&resolution, "seed inputs", &|f| {
        Ok(f.sha256.clone().unwrap())
    })
    .unwrap();
    (resolution, text)
}

/// What a pin says, for comparing two reads of a lock.
fn pin_facts(pins: &[pypack::resolve::Pin]) -> Vec<String> {
    pins.iter()
        .map(|p| format!("{} {} {:?} {:?}", p.name, p.version, p.file, p.dependencies))
        .collect()
}

proptest! {
    /// A pylock.toml that reads (mutated or not) is written back by pypack
    /// to a lock that reads the same.
    #[test]
    fn locks_round_trip(e in edits()) {
        let target = fuzz_target();
        let text = mutate(&seed_lock(), &e);
        if let Ok((pins, inputs)) = pypack::resolve::lock::from_toml(&text, &target, "fuzz") {
            // Local and credentialed URLs are rewritten on purpose (directory
            // sources, redaction): not round trips.
            prop_assume!(pins.iter().all(|p| p.file.url.starts_with("http") && !p.file.url.contains('@')));
            let resolution = pypack::resolve::Resolution { target: target.clone(), pins };
            let written = pypack::resolve::lock::to_toml(&resolution, &inputs, &|f| {
                f.sha256.clone().ok_or_else(|| anyhow::anyhow!("no hash"))
            });
            let written = written.expect("what was read is written");
            let (again, inputs_again) = pypack::resolve::lock::from_toml(&written, &target, "written").expect("what was written reads");
            prop_assert_eq!(pin_facts(&resolution.pins), pin_facts(&again));
            prop_assert_eq!(inputs, inputs_again);
        }
    }

    /// References, platforms, requirements, markers and versions print back
    /// to text that parses to the same value.
    #[test]
    fn printed_values_parse_back_the_same(e in edits()) {
        use std::str::FromStr;
        if let Ok(reference) = pypack::registry::Reference::parse(&mutate(REFERENCE, &e)) {
            let again = pypack::registry::Reference::parse(&reference.to_string());
            prop_assert_eq!(Some(&reference), again.as_ref().ok(), "{}", reference);
        }
        if let Ok(platform) = pypack::platform::Platform::parse(&mutate("linux/arm64/v8", &e)) {
            prop_assert_eq!(Some(platform), pypack::platform::Platform::parse(&platform.to_string()).ok());
        }
        // pep508_rs prints every marker value in single quotes, so a value
        // holding a quote does not print back (pypack writes no markers it reads again).
        let requirement_text = mutate("flask[async]>=3.0,<4 ; python_version >= \"3.8\"", &e);
        if let Ok(requirement) = pypack::python::parse_requirement(&requirement_text).map_err(|_| ()).and_then(|r| if quotes_nest(&requirement_text) { Err(()) } else { Ok(r) }) {
            let printed = requirement.to_string();
            let again = pypack::python::parse_requirement(&printed);
            prop_assert_eq!(Some(&requirement), again.as_ref().ok(), "{}", printed);
        }
        let marker_text = mutate(MARKER, &e);
        if let Ok(marker) = pypack::python::parse_marker(&marker_text).map_err(|_| ()).and_then(|m| if quotes_nest(&marker_text) { Err(()) } else { Ok(m) }) {
            // pep508_rs simplifies some markers only when it reads them
            // (`python_version < '0'` is false, its printed
            // `python_full_version < '0'` stays): the same truth is the round trip.
            if let Some(printed) = marker.contents() {
                let printed = printed.to_string();
                let again = pypack::python::parse_marker(&printed);
                prop_assert!(again.is_ok(), "{} does not parse back", printed);
                let again = again.unwrap();
                let env = fuzz_target().marker_environment();
                for extras in [vec![], vec![pep508_rs::ExtraName::from_str("dev").unwrap()]] {
                    prop_assert_eq!(marker.evaluate(&env, &extras), again.evaluate(&env, &extras), "{}", printed);
                }
            }
        }
        if let Ok(version) = pep440_rs::Version::from_str(&mutate("1!2.0.0rc1.post2.dev3+local.7", &e)) {
            let again = pep440_rs::Version::from_str(&version.to_string());
            prop_assert_eq!(Some(&version), again.as_ref().ok());
        }
    }
}

/// Whether a quoted string of `text` holds the other kind of quote.
fn quotes_nest(text: &str) -> bool {
    let mut open: Option<char> = None;
    for c in text.chars() {
        match (open, c) {
            (None, '"' | '\'') => open = Some(c),
            (Some(q), c) if c == q => open = None,
            (Some(_), '"' | '\'') => return true,
            _ => {}
        }
    }
    false
}
