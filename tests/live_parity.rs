//! The resolution parity corpus, against a real index (PYPACK_TEST_INDEX_URL,
//! else the one pypack finds on this host; skipped only when none answers,
//! a failure in CI): the most downloaded packages (and a few named others),
//! each resolved alone, and stacks users deploy, resolved by pypack and by
//! the host's pip for linux/amd64 CPython 3.11 (the debian12 base), wheels
//! only.
//!
//! A set counts as equal only when both tools produced pins and they
//! match; a difference, or a set neither can solve, must be explained in
//! `tests/fixtures/parity-explained.txt` (and the README), and at least
//! [`Scope::min_equal`] sets must be equal. CI runs the first 60 packages
//! and three stacks; `PYPACK_LIVE_FULL=1` runs all 300 and every stack
//! (`PYPACK_PARITY_LIMIT=N`: only the first N packages). Prints the score
//! and the time taken.

mod common;

use common::parity::*;
use pypack::cache::Cache;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Stacks users deploy: each line is resolved as one set.
const STACKS: &[&str] = &[
    "streamlit pandas scipy",
    "fastapi[standard] sqlalchemy psycopg[binary] alembic",
    "django celery[redis] psycopg[binary] gunicorn",
    "flask flask-sqlalchemy flask-login flask-wtf gunicorn",
    "scikit-learn joblib fastapi uvicorn",
    "torch transformers fastapi uvicorn",
    "gradio",
    "dash pandas plotly gunicorn",
    "django djangorestframework django-cors-headers whitenoise dj-database-url gunicorn",
    "requests beautifulsoup4 lxml",
    "boto3 pandas pyarrow s3fs",
    "langchain openai tiktoken",
    "aiohttp gunicorn uvloop",
    "starlette httpx pydantic-settings uvicorn[standard]",
    "polars duckdb matplotlib seaborn",
];

/// Packages outside the top 300 that once lost their dependencies (a folded
/// licence in METADATA), resolved alone too.
const NAMED: &[&str] = &["altair"];

/// Concurrent resolutions (each is mostly waiting on the network).
const WORKERS: usize = 6;

enum Outcome {
    Equal(usize),
    BothFailed(String),
    Differ {
        ours: Result<BTreeSet<String>, String>,
        pips: Result<BTreeSet<String>, String>,
    },
}

fn compare(url: &str, cache: &Cache, target: &pypack::python::Target, set: &str) -> Outcome {
    let ours = pypack_pins(url, cache, target, set).map_err(|e| format!("{e:#}"));
    let pips = pip_pins(url, target, set);
    match (ours, pips) {
        (Ok(a), Ok(b)) if a == b => Outcome::Equal(a.len()),
        (Err(a), Err(b)) => Outcome::BothFailed(format!("pypack: {a}; pip: {b}")),
        (ours, pips) => Outcome::Differ { ours, pips },
    }
}

fn describe(outcome: &Outcome) -> String {
    let (ours, pips) = match outcome {
        Outcome::Equal(count) => return format!("equal ({count} packages)"),
        Outcome::BothFailed(why) => return format!("no solution for either: {why}"),
        Outcome::Differ { ours, pips } => (ours, pips),
    };
    match (ours, pips) {
        (Ok(a), Ok(b)) => {
            let only_ours: Vec<_> = a.difference(b).collect();
            let only_pips: Vec<_> = b.difference(a).collect();
            format!("pypack only {only_ours:?}; pip only {only_pips:?}")
        }
        (Ok(_), Err(e)) => format!("pip failed ({e}), pypack resolved"),
        (Err(e), Ok(_)) => format!("pypack failed: {}", e.replace('\n', " ")),
        (Err(_), Err(_)) => unreachable!(),
    }
}

/// `name: reason` lines of the explained differences.
fn explained() -> BTreeMap<String, String> {
    include_str!("fixtures/parity-explained.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// How much of the corpus a run resolves, and how many sets must be equal.
struct Scope {
    packages: usize,
    stacks: &'static [&'static str],
    min_equal: usize,
}

/// The stacks CI resolves (the full run takes every one).
const CI_STACKS: &[&str] = &[
    "streamlit pandas scipy",
    "fastapi[standard] sqlalchemy psycopg[binary] alembic",
    "django celery[redis] psycopg[binary] gunicorn",
];

fn scope() -> Scope {
    let full = std::env::var_os("PYPACK_LIVE_FULL").is_some_and(|v| v == "1");
    let mut scope = match full {
        true => Scope {
            packages: 300,
            stacks: STACKS,
            min_equal: 300,
        },
        false => Scope {
            packages: 60,
            stacks: CI_STACKS,
            min_equal: 55,
        },
    };
    if let Some(limit) = std::env::var("PYPACK_PARITY_LIMIT")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        scope.packages = limit;
        scope.min_equal = scope.min_equal.min(limit * 9 / 10);
    }
    scope
}

fn corpus(scope: &Scope) -> Vec<String> {
    include_str!("fixtures/top-300-packages.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.trim().to_string())
        .take(scope.packages)
        .chain(NAMED.iter().chain(scope.stacks).map(|s| s.to_string()))
        .collect()
}

/// The verdict on a run: `Err` with what is wrong when a set differs (or
/// neither tool solves it) without an explanation, or fewer than
/// `min_equal` sets are equal. `Ok` with the score line.
fn verdict(
    results: &[(String, Outcome)],
    explained: &BTreeMap<String, String>,
    min_equal: usize,
) -> Result<String, String> {
    let (mut equal, mut explained_count) = (0, 0);
    let mut both_failed = Vec::new();
    let mut unexplained = Vec::new();
    for (set, outcome) in results {
        match outcome {
            Outcome::Equal(_) => equal += 1,
            _ if explained.contains_key(set) => {
                explained_count += 1;
                if let Outcome::BothFailed(_) = outcome {
                    both_failed.push(set.clone());
                }
            }
            Outcome::BothFailed(_) => {
                both_failed.push(set.clone());
                unexplained.push(format!("{set}: {} (not explained)", describe(outcome)));
            }
            Outcome::Differ { .. } => unexplained.push(format!("{set}: {}", describe(outcome))),
        }
    }
    let neither = match both_failed.is_empty() {
        true => "none with no solution for either".to_string(),
        false => format!(
            "{} with no solution for either: {}",
            both_failed.len(),
            both_failed.join(", ")
        ),
    };
    let score = format!(
        "parity: {equal} equal + {explained_count} explained of {} sets ({neither}); {} unexplained; at least {min_equal} must be equal",
        results.len(),
        unexplained.len()
    );
    if !unexplained.is_empty() {
        return Err(format!(
            "{score}\ndifferences from pip that are not explained:\n{}",
            unexplained.join("\n")
        ));
    }
    if equal < min_equal {
        return Err(format!(
            "{score}\nonly {equal} sets are equal (the index answered too little?)"
        ));
    }
    Ok(score)
}

#[test]
fn the_verdict_fails_on_too_few_equal_sets_and_on_unexplained_failures() {
    let pins = |names: &[&str]| Ok(names.iter().map(|n| format!("{n}==1")).collect());
    let equal = |set: &str| (set.to_string(), Outcome::Equal(1));
    let explained: BTreeMap<String, String> =
        [("redis".to_string(), "a marker".to_string())].into();
    let mut results = vec![
        equal("flask"),
        equal("django"),
        (
            "redis".into(),
            Outcome::Differ {
                ours: pins(&["redis", "async-timeout"]),
                pips: pins(&["redis"]),
            },
        ),
    ];
    assert!(verdict(&results, &explained, 2).is_ok());
    let short = verdict(&results, &explained, 3).unwrap_err();
    assert!(short.contains("only 2 sets are equal"), "{short}");
    // An index that answers nothing: every set fails for both tools.
    results.push((
        "numpy".into(),
        Outcome::BothFailed("pypack: not found; pip: not found".into()),
    ));
    let failed = verdict(&results, &explained, 2).unwrap_err();
    assert!(
        failed.contains("1 with no solution for either: numpy")
            && failed.contains("numpy: no solution for either"),
        "{failed}"
    );
}

#[test]
fn top_packages_and_stacks_resolve_as_pip_does() {
    let Some(url) = live_index_url("top_packages_and_stacks_resolve_as_pip_does") else {
        return;
    };
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let cache = Cache::open(Some(tmp.path())).unwrap();
    let target = debian12_target(&cache);
    let scope = scope();
    let sets = corpus(&scope);
    let next = AtomicUsize::new(0);
    let results: Mutex<BTreeMap<usize, Outcome>> = Mutex::default();
    std::thread::scope(|threads| {
        for _ in 0..WORKERS {
            threads.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(set) = sets.get(i) else { break };
                    let outcome = compare(&url, &cache, &target, set);
                    eprintln!("[{}/{}] {set}: {}", i + 1, sets.len(), describe(&outcome));
                    results.lock().unwrap().insert(i, outcome);
                }
            });
        }
    });
    let results: Vec<(String, Outcome)> = results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|(i, outcome)| (sets[i].clone(), outcome))
        .collect();
    let explained = explained();
    for (set, outcome) in &results {
        if explained.contains_key(set) && matches!(outcome, Outcome::Equal(_)) {
            eprintln!("note: '{set}' is explained in parity-explained.txt but now equals pip");
        }
    }
    let verdict = verdict(&results, &explained, scope.min_equal);
    common::shout(&format!(
        "{} ({} packages and {} stacks, {:.0} s)",
        match &verdict {
            Ok(score) => score.as_str(),
            Err(why) => why.lines().next().unwrap_or_default(),
        },
        scope.packages,
        scope.stacks.len(),
        started.elapsed().as_secs_f64()
    ));
    if let Err(why) = verdict {
        panic!("{why}");
    }
}

/// A requirements file saved in the encodings pip reads (UTF-16 LE with a
/// BOM and CRLF, as PowerShell writes; UTF-8 with a BOM; latin-1 declared
/// by a PEP 263 line) resolves, with pypack and with pip, exactly like its
/// UTF-8 twin.
#[test]
fn requirements_files_in_every_encoding_resolve_as_pip_reads_them() {
    let Some(url) =
        live_index_url("requirements_files_in_every_encoding_resolve_as_pip_reads_them")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let cache = Cache::open(Some(&tmp.path().join("cache"))).unwrap();
    let target = debian12_target(&cache);
    // A comment with a non-ASCII letter: it is what the encodings disagree on.
    let text = "# -*- coding: latin-1 -*-\n# Dépendances de l'équipe\nrequests>=2.31,<3\nclick==8.1.7 ; python_version >= \"3.8\"\n";
    let utf8 = text.replace("# -*- coding: latin-1 -*-\n", "");
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in utf8.replace('\n', "\r\n").encode_utf16() {
        utf16.extend(unit.to_le_bytes());
    }
    let mut bom8 = vec![0xEF, 0xBB, 0xBF];
    bom8.extend(utf8.as_bytes());
    // latin-1: each char below 256 is its own byte.
    let latin1: Vec<u8> = text.chars().map(|c| c as u32 as u8).collect();
    let files = [
        ("utf-8", utf8.as_bytes().to_vec()),
        ("utf-16-le-bom-crlf", utf16),
        ("utf-8-bom", bom8),
        ("pep263-latin-1", latin1),
    ];
    let mut twin = None;
    for (name, bytes) in files {
        let path = tmp.path().join(format!("{name}.txt"));
        std::fs::write(&path, bytes).unwrap();
        let ours = pypack_pins_of_file(&url, &cache, &target, &path)
            .unwrap_or_else(|e| panic!("{name}: pypack: {e:#}"));
        let pips =
            pip_pins_of_file(&url, &target, &path).unwrap_or_else(|e| panic!("{name}: pip: {e}"));
        assert_eq!(ours, pips, "{name}: pypack and pip differ");
        assert!(
            ours.iter().any(|p| p.starts_with("requests==")),
            "{name}: {ours:?}"
        );
        let twin = twin.get_or_insert_with(|| ours.clone());
        assert_eq!(&ours, twin, "{name} resolves unlike its UTF-8 twin");
    }
}
