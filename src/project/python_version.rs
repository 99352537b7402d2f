//! Which Python the image gets, i.e. which base recipe. Explicit choices
//! (`--recipe`, `--python`, `[tool.pypack] recipe` / `python`) are strict:
//! no base with that version is an error. Version *hints* an app carries for
//! other tools — read by the providers below, one per file, in order — pick
//! the base with that version when there is one, else the nearest version a
//! base has that `requires-python` accepts, with a warning that says how to
//! get the exact one. With neither, the oldest base `requires-python`
//! accepts, else the default.

use super::decided::Decided;
use super::pyproject::Pyproject;
use anyhow::{Context, Result, bail};
use pep440_rs::{Version, VersionSpecifiers};
use std::path::Path;
use std::str::FromStr;

/// A built-in base: its recipe name, Python `(major, minor)`, and whether its
/// suite is Debian's testing (chosen only when nothing stable fits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseVersion {
    pub recipe: String,
    pub python: (u32, u32),
    pub testing: bool,
}

/// The built-in bases, oldest Python first.
pub fn builtin_bases() -> Vec<BaseVersion> {
    let mut bases: Vec<BaseVersion> = crate::base::recipe::BUILTIN_RECIPES
        .iter()
        .filter_map(|(name, _)| crate::base::Recipe::load(name).ok())
        .filter_map(|r| {
            Some(BaseVersion {
                python: major_minor(&r.python.version)?,
                recipe: r.name,
                testing: r.testing,
            })
        })
        .collect();
    bases.sort_by_key(|b| (b.python, b.testing));
    bases
}

/// The recipe when nothing asks for a version.
const DEFAULT_RECIPE: &str = "debian12";

/// A Python version an app's files ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    pub python: (u32, u32),
    /// As written, e.g. `3.12.4`.
    pub text: String,
    /// Where, e.g. `.python-version` or `Dockerfile (FROM python:3.12-slim)`.
    pub source: String,
}

/// The base chosen, the ones to fall back to (in order) when the app's
/// requirements cannot be resolved on it, and a warning to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseChoice {
    pub recipe: Decided<String>,
    pub fallbacks: Vec<Decided<String>>,
    /// Bases to try, in order, when the chosen one cannot be had at all
    /// (its Debian suite's index expired on this mirror): for a hint only.
    pub alternatives: Vec<Decided<String>>,
    pub warning: Option<String>,
    /// The Python version a hint asked for that no base has, and where
    /// (`3.12`, `Dockerfile (FROM python:3.12-slim)`): the base is the
    /// nearest, which a pin may not suit.
    pub unmet_hint: Option<(String, String)>,
}

impl BaseChoice {
    fn only(recipe: String, rule: String) -> BaseChoice {
        BaseChoice {
            recipe: Decided {
                value: recipe,
                rule,
            },
            fallbacks: Vec::new(),
            alternatives: Vec::new(),
            warning: None,
            unmet_hint: None,
        }
    }
}

/// One provider: a file in the app dir that may name a Python version.
type Provider = fn(&Path) -> Result<Option<Hint>>;

/// The hint providers, in the order they are consulted.
const PROVIDERS: &[Provider] = &[
    dot_python_version,
    runtime_txt,
    tool_versions,
    pipfile,
    dockerfile,
];

/// What the choice is made from besides the app's files.
pub struct Explicit<'a> {
    pub recipe: Option<(&'a str, &'a str)>,
    pub python: Option<(&'a str, &'a str)>,
}

/// Chooses the base. `explicit` holds `(value, where it came from)` for a
/// recipe and a Python version set by flag or `[tool.pypack]` (flags first).
pub fn choose_base(
    app_dir: &Path,
    explicit: &[Explicit],
    pyproject: &Pyproject,
) -> Result<BaseChoice> {
    let bases = builtin_bases();
    let requires = requires_python(pyproject)?;
    for choice in explicit {
        if let Some((recipe, rule)) = choice.recipe {
            return Ok(BaseChoice::only(recipe.to_string(), rule.to_string()));
        }
        if let Some((version, rule)) = choice.python {
            return strict(&bases, version, rule, requires.as_ref());
        }
    }
    for provider in PROVIDERS {
        if let Some(hint) = provider(app_dir)? {
            return from_hint(&bases, &hint, requires.as_ref(), pyproject);
        }
    }
    if let Some(spec) = &requires {
        let accepted = accepting(&bases, Some(spec));
        let Some(base) = accepted.first() else {
            bail!(
                "requires-python '{spec}' matches none of the bases: {}",
                listing(&bases)
            );
        };
        return Ok(BaseChoice::only(
            base.recipe.clone(),
            format!(
                "Python {} satisfies requires-python {spec}",
                show(base.python)
            ),
        ));
    }
    Ok(BaseChoice::only(
        DEFAULT_RECIPE.into(),
        "default (Python 3.11)".into(),
    ))
}

/// `--python` / `[tool.pypack] python`: that version's base or an error.
fn strict(
    bases: &[BaseVersion],
    version: &str,
    rule: &str,
    requires: Option<&VersionSpecifiers>,
) -> Result<BaseChoice> {
    let wanted = major_minor(version.trim())
        .with_context(|| format!("{rule}: '{version}' is not a Python version such as 3.12"))?;
    if let Some(base) = bases.iter().find(|b| b.python == wanted) {
        return Ok(BaseChoice::only(
            base.recipe.clone(),
            format!("Python {} from {rule}", show(wanted)),
        ));
    }
    let accepted = match requires {
        Some(spec) => {
            let names: Vec<String> = accepting(bases, Some(spec))
                .iter()
                .map(|b| show(b.python))
                .collect();
            if names.is_empty() {
                format!("; requires-python '{spec}' accepts none of them")
            } else {
                format!(
                    "; of these, requires-python '{spec}' accepts {}",
                    names.join(", ")
                )
            }
        }
        None => String::new(),
    };
    bail!(
        "Python {version} (from {rule}) has no base; the bases have {}{accepted}. Pick one of those, \
         or build on a registry image with Python {version} using --base REF",
        listing(bases)
    )
}

/// A hint: the exact version's base, else the nearest accepted one.
fn from_hint(
    bases: &[BaseVersion],
    hint: &Hint,
    requires: Option<&VersionSpecifiers>,
    pyproject: &Pyproject,
) -> Result<BaseChoice> {
    if let Some(base) = bases.iter().find(|b| b.python == hint.python) {
        let mut others = accepting(bases, requires);
        others.retain(|b| b.recipe != base.recipe);
        others.sort_by_key(|b| {
            (
                distance(b.python, hint.python),
                b.testing,
                std::cmp::Reverse(b.python),
            )
        });
        let mut choice = BaseChoice::only(
            base.recipe.clone(),
            format!("Python {} from {}", show(hint.python), hint.source),
        );
        choice.alternatives = others
            .iter()
            .map(|b| Decided {
                value: b.recipe.clone(),
                rule: format!(
                    "nearest to Python {} from {} (its base {} cannot be had here)",
                    show(hint.python),
                    hint.source,
                    base.recipe
                ),
            })
            .collect();
        return Ok(choice);
    }
    let mut candidates = accepting(bases, requires);
    if candidates.is_empty() {
        bail!(
            "{} asks for Python {}, which no base has, and requires-python '{}' accepts none of the bases ({}); \
             build on a registry image with Python {} using --base REF",
            hint.source,
            hint.text,
            pyproject.requires_python.as_deref().unwrap_or(""),
            listing(bases),
            hint.text
        );
    }
    // Nearest first; between two as near, a stable suite before testing,
    // then the newer (code written for 3.12 may use syntax 3.11 lacks).
    let wanted = hint.python;
    candidates.sort_by_key(|b| {
        (
            distance(b.python, wanted),
            b.testing,
            std::cmp::Reverse(b.python),
        )
    });
    let decided = |b: &BaseVersion, nth: usize| Decided {
        value: b.recipe.clone(),
        rule: format!(
            "{}nearest to Python {} from {} (no base has it)",
            if nth == 0 { "" } else { "next " },
            show(wanted),
            hint.source
        ),
    };
    let chosen = candidates[0];
    let because = match requires {
        Some(spec) => format!(", which requires-python '{spec}' accepts"),
        None => String::new(),
    };
    let warning = format!(
        "{} asks for Python {}, which no base has; building on Python {} ({}), the nearest{because}. \
         For exactly {}: `--python {}` is strict and fails while no base has it; `--base REF` builds on \
         any registry image with that Python (e.g. a python:{}-slim image)",
        hint.source,
        hint.text,
        show(chosen.python),
        chosen.recipe,
        show(wanted),
        show(wanted),
        show(wanted)
    );
    let fallbacks: Vec<Decided<String>> = candidates[1..]
        .iter()
        .enumerate()
        .map(|(i, b)| decided(b, i + 1))
        .collect();
    Ok(BaseChoice {
        recipe: decided(chosen, 0),
        alternatives: fallbacks.clone(),
        fallbacks,
        warning: Some(warning),
        unmet_hint: Some((show(wanted), hint.source.clone())),
    })
}

fn distance(a: (u32, u32), b: (u32, u32)) -> u32 {
    (a.0 * 100 + a.1).abs_diff(b.0 * 100 + b.1)
}

/// Bases whose Python `requires-python` accepts (all when there is none),
/// oldest first, stable ones before testing ones.
fn accepting<'a>(
    bases: &'a [BaseVersion],
    requires: Option<&VersionSpecifiers>,
) -> Vec<&'a BaseVersion> {
    let mut out: Vec<&BaseVersion> = bases
        .iter()
        .filter(|b| {
            requires.is_none_or(|spec| {
                spec.contains(&Version::new([b.python.0 as u64, b.python.1 as u64, 0]))
            })
        })
        .collect();
    out.sort_by_key(|b| (b.testing, b.python));
    out
}

fn requires_python(pyproject: &Pyproject) -> Result<Option<VersionSpecifiers>> {
    pyproject
        .requires_python
        .as_deref()
        .map(|spec| {
            VersionSpecifiers::from_str(spec)
                .map_err(|e| anyhow::anyhow!("pyproject.toml requires-python '{spec}': {e}"))
        })
        .transpose()
}

fn listing(bases: &[BaseVersion]) -> String {
    bases
        .iter()
        .map(|b| {
            format!(
                "{} ({}{})",
                show(b.python),
                b.recipe,
                if b.testing { ", testing" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn show((major, minor): (u32, u32)) -> String {
    format!("{major}.{minor}")
}

/// `3.12`, `3.12.4`, `3.13t` → (3, 12) / (3, 13): the first two numbers.
fn major_minor(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split('.');
    let major = parts.next()?.trim().parse().ok()?;
    let minor: String = parts
        .next()?
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    Some((major, minor.parse().ok()?))
}

/// A version written as `[cpython-|cpython@|python|python-|py]3.12[.x]`.
fn version_in(text: &str, source: String) -> Option<Hint> {
    let text = text.trim();
    let lower = text.to_ascii_lowercase();
    let bare = [
        "cpython-", "cpython@", "cpython", "python-", "python@", "python", "py",
    ]
    .iter()
    .find_map(|p| lower.strip_prefix(p))
    .unwrap_or(&lower);
    let bare = bare.split(['-', '+', ' ']).next().unwrap_or(bare);
    let python = major_minor(bare).filter(|(major, _)| *major == 3)?;
    Some(Hint {
        python,
        text: bare
            .trim_end_matches(|c: char| !c.is_ascii_digit())
            .to_string(),
        source,
    })
}

fn read_if_present(path: &Path) -> Result<Option<String>> {
    if !path.is_file() {
        return Ok(None);
    }
    super::text::read_text(path).map(Some)
}

/// `.python-version` (pyenv, uv): the first version line; comments (`#`,
/// also after a version) and blank lines are skipped.
fn dot_python_version(app_dir: &Path) -> Result<Option<Hint>> {
    let Some(text) = read_if_present(&app_dir.join(".python-version"))? else {
        return Ok(None);
    };
    let line = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .find(|l| !l.is_empty());
    let Some(line) = line else {
        return Ok(None);
    };
    match version_in(line, ".python-version".into()) {
        Some(hint) => Ok(Some(hint)),
        None => bail!(
            "{}: '{line}' is not a CPython 3 version such as 3.12; fix it or remove the file",
            app_dir.join(".python-version").display()
        ),
    }
}

/// `runtime.txt` as Heroku-style platforms write it: `python-3.10.2`.
fn runtime_txt(app_dir: &Path) -> Result<Option<Hint>> {
    let Some(text) = read_if_present(&app_dir.join("runtime.txt"))? else {
        return Ok(None);
    };
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    Ok(line.and_then(|l| version_in(l, "runtime.txt".into())))
}

/// `.tool-versions` (asdf, mise): a `python 3.11.4` line.
fn tool_versions(app_dir: &Path) -> Result<Option<Hint>> {
    let Some(text) = read_if_present(&app_dir.join(".tool-versions"))? else {
        return Ok(None);
    };
    Ok(text.lines().find_map(|l| {
        let mut words = l.split('#').next()?.split_whitespace();
        (words.next()? == "python").then_some(())?;
        version_in(words.next()?, ".tool-versions".into())
    }))
}

/// `Pipfile`: `[requires] python_version` or `python_full_version`.
fn pipfile(app_dir: &Path) -> Result<Option<Hint>> {
    let path = app_dir.join("Pipfile");
    let Some(text) = read_if_present(&path)? else {
        return Ok(None);
    };
    let doc: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))?;
    let requires = doc.get("requires").and_then(|r| r.as_table());
    Ok(["python_full_version", "python_version"]
        .iter()
        .find_map(|k| requires?.get(*k)?.as_str())
        .and_then(|v| version_in(v, "Pipfile [requires]".into())))
}

/// A `Dockerfile` / `Containerfile` whose (last) `FROM` is a Python image:
/// `python:3.12-slim`, `docker.io/library/python:3.12.4-bookworm`, or a tag
/// naming `python3.12` (`…/uv:python3.12-bookworm-slim`); `ARG` defaults
/// are substituted.
fn dockerfile(app_dir: &Path) -> Result<Option<Hint>> {
    for name in ["Dockerfile", "Containerfile"] {
        let Some(text) = read_if_present(&app_dir.join(name))? else {
            continue;
        };
        let mut args: Vec<(String, String)> = Vec::new();
        let mut found = None;
        for line in text.lines().map(str::trim) {
            let mut words = line.split_whitespace();
            match words.next().map(|w| w.to_ascii_uppercase()).as_deref() {
                Some("ARG") => {
                    if let Some((k, v)) = words.next().and_then(|w| w.split_once('=')) {
                        args.push((k.to_string(), v.trim_matches('"').to_string()));
                    }
                }
                Some("FROM") => {
                    let image = words.find(|w| !w.starts_with("--")).unwrap_or("");
                    let image = substitute(image, &args);
                    if let Some(hint) = python_image(&image, name) {
                        found = Some(hint);
                    }
                }
                _ => {}
            }
        }
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

fn substitute(text: &str, args: &[(String, String)]) -> String {
    let mut out = text.to_string();
    for (k, v) in args {
        out = out
            .replace(&format!("${{{k}}}"), v)
            .replace(&format!("${k}"), v);
    }
    out
}

fn python_image(image: &str, file: &str) -> Option<Hint> {
    let (path, tag) = image.rsplit_once(':')?;
    let source = format!("{file} (FROM {image})");
    let name = path.rsplit('/').next()?;
    if name == "python" {
        return version_in(tag, source);
    }
    let at = tag.find("python3")?;
    version_in(&tag[at..], source)
}

/// When the base was chosen with nothing asking for a version (the
/// default, or the oldest that requires-python accepts) and one of the
/// app's requirements has a Python-version marker that drops it there
/// (`Django==6.0.5; python_version >= "3.12"`), the oldest base where every
/// requirement the app names applies, with the rule that says why.
pub fn base_keeping(
    choice: &Decided<String>,
    requirements: &[crate::project::SourcedRequirement],
    requires: Option<&str>,
) -> Option<Decided<String>> {
    let chosen_by_default =
        choice.rule.starts_with("default") || choice.rule.contains("satisfies requires-python");
    if !chosen_by_default || requirements.is_empty() {
        return None;
    }
    let requires = requires.and_then(|r| VersionSpecifiers::from_str(r).ok());
    let bases = builtin_bases();
    let dropped_on = |python: (u32, u32)| -> Vec<String> {
        // The micro version 0: markers that need it are rare.
        let env =
            crate::python::linux_cpython_markers(&format!("{}.{}.0", python.0, python.1), "x86_64");
        let mut names: Vec<String> = requirements
            .iter()
            .map(|r| r.requirement.name.to_string())
            .collect();
        names.sort();
        names.dedup();
        names
            .into_iter()
            .filter(|name| {
                !requirements
                    .iter()
                    .filter(|r| r.requirement.name.to_string() == *name)
                    .any(|r| r.requirement.marker.evaluate(&env, &[]))
            })
            .collect()
    };
    let current = bases.iter().find(|b| b.recipe == choice.value)?;
    let dropped = dropped_on(current.python);
    if dropped.is_empty() {
        return None;
    }
    let better = accepting(&bases, requires.as_ref())
        .into_iter()
        .find(|b| dropped_on(b.python).is_empty())?;
    Some(Decided {
        value: better.recipe.clone(),
        rule: format!(
            "Python {}: the requirements' markers leave out {} on Python {}",
            show(better.python),
            dropped.join(", "),
            show(current.python)
        ),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_exact_hint_has_alternatives_for_a_base_that_cannot_be_had() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".python-version"), "3.14\n").unwrap();
        let choice = choose_base(dir.path(), &[], &Pyproject::default()).unwrap();
        assert_eq!(choice.recipe.value, "debian-forky");
        assert!(
            choice.fallbacks.is_empty(),
            "a resolution failure keeps 3.14"
        );
        assert_eq!(choice.alternatives[0].value, "debian13");
        assert!(
            choice.alternatives[0]
                .rule
                .contains("its base debian-forky cannot be had here"),
            "{}",
            choice.alternatives[0].rule
        );
    }

    #[test]
    fn a_requirement_a_marker_drops_on_the_default_base_moves_it() {
        let req = |text: &str| crate::project::SourcedRequirement {
            requirement: crate::python::parse_requirement(text).unwrap(),
            hashes: Vec::new(),
            origin: "requirements.txt:1".into(),
        };
        let default = Decided {
            value: "debian12".to_string(),
            rule: "default (Python 3.11)".into(),
        };
        let moved = super::base_keeping(
            &default,
            &[
                req("Django==6.0.5; python_version >= '3.12'"),
                req("gunicorn==23.0.0"),
            ],
            None,
        )
        .unwrap();
        assert_eq!(moved.value, "debian13");
        assert!(
            moved.rule.contains("leave out django on Python 3.11"),
            "{}",
            moved.rule
        );
        // A version split that keeps the name everywhere, or a Windows-only
        // requirement, moves nothing; nor does a base a hint chose.
        let split = [
            req("Django==6.0.5; python_version >= '3.12'"),
            req("Django==5.2.8; python_version < '3.12'"),
            req("pywin32; sys_platform == 'win32'"),
        ];
        assert_eq!(super::base_keeping(&default, &split, None), None);
        let hinted = Decided {
            value: "debian12".to_string(),
            rule: "Python 3.11 from .python-version".into(),
        };
        assert_eq!(
            super::base_keeping(&hinted, &[req("x; python_version >= '3.12'")], None),
            None
        );
    }

    use super::*;

    use crate::project::test_app as app;

    fn hint(files: &[(&str, &str)]) -> Option<(u32, u32, String)> {
        let dir = app(files);
        PROVIDERS
            .iter()
            .find_map(|p| p(dir.path()).unwrap())
            .map(|h| (h.python.0, h.python.1, h.source))
    }

    fn pyproject(requires: &str) -> Pyproject {
        Pyproject {
            requires_python: Some(requires.into()),
            ..Pyproject::default()
        }
    }

    #[test]
    fn hints_from_each_file() {
        let h = hint(&[(
            ".python-version",
            "# pinned for the team\n\n3.12.4  # latest\n3.11\n",
        )]);
        assert_eq!(h, Some((3, 12, ".python-version".into())));
        assert_eq!(
            hint(&[(".python-version", "cpython@3.13\n")]).unwrap().1,
            13
        );
        assert_eq!(hint(&[("runtime.txt", "python-3.10.2\n")]).unwrap().1, 10);
        assert_eq!(
            hint(&[(".tool-versions", "nodejs 20.1.0\npython 3.11.4\n")])
                .unwrap()
                .1,
            11
        );
        assert_eq!(
            hint(&[("Pipfile", "[requires]\npython_version = \"3.9\"\n")])
                .unwrap()
                .1,
            9
        );
        let d = hint(&[(
            "Dockerfile",
            "ARG PY=3.12\nFROM --platform=$BUILDPLATFORM python:${PY} AS build\nRUN pip install x\nFROM docker.io/library/python:3.12-slim-bookworm\nCOPY . .\n",
        )])
        .unwrap();
        assert_eq!((d.0, d.1), (3, 12));
        assert!(
            d.2.contains("FROM docker.io/library/python:3.12-slim-bookworm"),
            "{}",
            d.2
        );
        let uv = hint(&[(
            "Dockerfile",
            "FROM ghcr.example/astral/uv:python3.13-bookworm-slim\n",
        )]);
        assert_eq!(uv.unwrap().1, 13);
        assert_eq!(hint(&[("Dockerfile", "FROM debian:12\n")]), None);
        let dir = app(&[(".python-version", "latest-please\n")]);
        let err = dot_python_version(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(".python-version") && err.contains("latest-please"),
            "{err}"
        );
    }

    #[test]
    fn exact_hint_nearest_base_and_strict_choices() {
        let dir = app(&[(".python-version", "# team\n3.13\n")]);
        let c = choose_base(dir.path(), &[], &Pyproject::default()).unwrap();
        assert_eq!(c.recipe.value, "debian13");
        assert!(c.warning.is_none());

        let dir = app(&[(".python-version", "# comment\n3.12\n")]);
        let c = choose_base(dir.path(), &[], &pyproject(">=3.10")).unwrap();
        assert_eq!(c.recipe.value, "debian13", "{c:?}");
        assert_eq!(c.fallbacks[0].value, "debian12");
        let warning = c.warning.unwrap();
        for part in [
            ".python-version asks for Python 3.12",
            "Python 3.13 (debian13)",
            "--python 3.12",
            "--base REF",
        ] {
            assert!(warning.contains(part), "'{part}' missing from {warning}");
        }
        // requires-python rules out the newer one: the older is chosen.
        let c = choose_base(dir.path(), &[], &pyproject(">=3.10,<3.13")).unwrap();
        assert_eq!(c.recipe.value, "debian12");
        // The nearest may be the testing base; requires-python alone picks
        // it only when nothing stable fits.
        let dir = app(&[("runtime.txt", "python-3.15.1\n")]);
        let c = choose_base(dir.path(), &[], &Pyproject::default()).unwrap();
        assert_eq!(c.recipe.value, "debian-forky");
        assert_eq!(c.fallbacks[0].value, "debian13");
        let none = app(&[]);
        let c = choose_base(none.path(), &[], &pyproject(">=3.12")).unwrap();
        assert_eq!(c.recipe.value, "debian13");
        let c = choose_base(none.path(), &[], &pyproject(">=3.14")).unwrap();
        assert_eq!(c.recipe.value, "debian-forky");

        let explicit = [Explicit {
            recipe: None,
            python: Some(("3.12", "--python")),
        }];
        let err = choose_base(dir.path(), &explicit, &pyproject(">=3.10,<3.14"))
            .unwrap_err()
            .to_string();
        for part in [
            "Python 3.12 (from --python) has no base",
            "3.11 (debian12)",
            "3.14 (debian-forky, testing)",
            "accepts 3.11, 3.13",
            "--base REF",
        ] {
            assert!(err.contains(part), "'{part}' missing from {err}");
        }
        let explicit = [Explicit {
            recipe: None,
            python: Some(("3.14", "--python")),
        }];
        assert_eq!(
            choose_base(dir.path(), &explicit, &Pyproject::default())
                .unwrap()
                .recipe
                .value,
            "debian-forky"
        );
    }
}
