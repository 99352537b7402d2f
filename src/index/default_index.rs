//! The index to use when nothing names one: the one the host's own pip (else
//! uv) would use, learned by asking that tool at run time. pypack itself
//! knows no index address. pip's `--index-url` help shows its effective
//! default (its built-in one, or what its own configuration sets, including
//! files pypack does not read such as a virtualenv's `pip.conf`); uv's shows
//! its built-in default.

use crate::cache::Cache;
use anyhow::{Result, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// An index a host tool uses by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolIndex {
    /// `pip` or `uv`.
    pub tool: String,
    pub url: String,
}

/// How long an answer is kept: asking pip costs most of a second, and its
/// default changes only when someone reconfigures it.
const ANSWER_MAX_AGE_SECS: u64 = 24 * 3600;
/// A tool that has not printed its help by then is not waited for.
const TOOL_TIMEOUT: Duration = Duration::from_secs(30);

/// One way to ask: a program (found on PATH) and its arguments.
struct Asker {
    tool: &'static str,
    program: &'static str,
    args: &'static [&'static str],
}

/// pip first (as itself, then through python3), then uv.
const ASKERS: &[Asker] = &[
    Asker {
        tool: "pip",
        program: "pip3",
        args: &["install", "--help"],
    },
    Asker {
        tool: "pip",
        program: "pip",
        args: &["install", "--help"],
    },
    Asker {
        tool: "pip",
        program: "python3",
        args: &["-m", "pip", "install", "--help"],
    },
    Asker {
        tool: "uv",
        program: "uv",
        args: &["pip", "install", "--help"],
    },
];

/// The default index of the first of pip / uv found on `PATH` that names
/// one; `None` when neither is installed (or answers).
pub fn ask_host_tools(
    env: &dyn Fn(&str) -> Option<String>,
    memo: Option<&Cache>,
) -> Option<ToolIndex> {
    // Answers given in this process, by PATH: an asker waits for one in
    // progress (`ask_early`'s) instead of starting the tool again.
    static ANSWERS: Mutex<BTreeMap<String, Option<ToolIndex>>> = Mutex::new(BTreeMap::new());
    let path = env("PATH").unwrap_or_default();
    let mut answers = ANSWERS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(answer) = answers.get(&path) {
        return answer.clone();
    }
    let answer = ask(&path, memo);
    answers.insert(path, answer.clone());
    answer
}

/// Starts asking the host's tools on a thread of its own, for a command
/// that will likely need the answer after other work (a tool such as pip
/// takes a few tenths of a second to start): `ask_host_tools` then finds
/// it, or waits for it.
pub fn ask_early(memo: Cache) {
    std::thread::spawn(move || {
        ask_host_tools(&|name| std::env::var(name).ok(), Some(&memo));
    });
}

fn ask(path: &str, memo: Option<&Cache>) -> Option<ToolIndex> {
    for asker in ASKERS {
        let Some(program) = find_on_path(asker.program, path) else {
            continue;
        };
        let key = memo_key(asker, &program);
        if let Some(answer) = memo.and_then(|m| remembered(m, &key)) {
            return Some(answer);
        }
        let Ok(help) = run_with_timeout(&program, asker.args) else {
            continue;
        };
        if let Some(url) = default_index_in_help(&help) {
            let answer = ToolIndex {
                tool: asker.tool.to_string(),
                url,
            };
            if let Some(m) = memo {
                remember(m, &key, &answer);
            }
            return Some(answer);
        }
    }
    None
}

fn find_on_path(program: &str, path: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(program))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// The program's path, size and modification time: a reinstalled tool is asked again.
fn memo_key(asker: &Asker, program: &Path) -> String {
    let stamp = program
        .metadata()
        .ok()
        .and_then(|m| Some((m.len(), m.modified().ok()?)))
        .map(|(len, t)| format!("{len} {t:?}"))
        .unwrap_or_default();
    format!(
        "default index of {} {}\n{stamp}\n",
        program.display(),
        asker.args.join(" ")
    )
}

fn remembered(memo: &Cache, key: &str) -> Option<ToolIndex> {
    let text = memo.get_ref("tool-default-index", key)?;
    let mut parts = text.split_whitespace();
    let at: u64 = parts.next()?.parse().ok()?;
    if crate::unix_now().saturating_sub(at) >= ANSWER_MAX_AGE_SECS {
        return None;
    }
    Some(ToolIndex {
        tool: parts.next()?.to_string(),
        url: parts.next()?.to_string(),
    })
}

fn remember(memo: &Cache, key: &str, answer: &ToolIndex) {
    let value = format!("{} {} {}", crate::unix_now(), answer.tool, answer.url);
    // Only a speed-up: a failure to write it changes nothing else.
    let _ = memo.set_ref("tool-default-index", key, &value);
}

/// Runs `program args` and returns what it printed, or an error if it fails
/// or takes longer than [`TOOL_TIMEOUT`].
fn run_with_timeout(program: &Path, args: &[&str]) -> Result<String> {
    let mut child = Command::new(program)
        .args(args)
        // No line wrapping: a long URL must come out whole.
        .env("COLUMNS", "1000")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        text
    });
    let deadline = Instant::now() + TOOL_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{} did not answer in time", program.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = reader.join().unwrap_or_default();
    if !status.success() {
        bail!("{} exited with {status}", program.display());
    }
    Ok(text)
}

/// The URL after "default" in the help of `--index-url` (pip) or
/// `--default-index` (uv): `(default https://…)`, `(by default: <https://…>)`.
pub fn default_index_in_help(help: &str) -> Option<String> {
    ["--default-index", "--index-url"]
        .iter()
        .find_map(|option| {
            let start = help.find(&format!("{option} "))?;
            let text = &help[start..];
            // The option's own paragraph: up to the next line that starts another option.
            let end = text
                .match_indices('\n')
                .map(|(i, _)| i)
                .find(|&i| text[i + 1..].trim_start().starts_with('-') && i > 0)
                .unwrap_or(text.len());
            let paragraph = &text[..end];
            let after = &paragraph[paragraph.find("default")? + "default".len()..];
            let url_start = after.find("://")?;
            let scheme_start = after[..url_start]
                .rfind(|c: char| !c.is_ascii_alphanumeric() && c != '+')
                .map(|i| i + 1)
                .unwrap_or(0);
            let url: String = after[scheme_start..]
                .chars()
                .take_while(|c| !c.is_whitespace() && !matches!(c, ')' | '>' | '"' | '\''))
                .collect();
            let url = url.trim_end_matches(['.', ',']).to_string();
            (url.len() > url_start - scheme_start + 3).then_some(url)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pip_and_uv_help() {
        let pip = "Install Options:\n  -r, --requirement <file>    Install from the given requirements file.\n\nPackage Index Options:\n  -i, --index-url <url>       Base URL of the Python Package Index (default http://index.test:8080/simple). This should point to a repository compliant with PEP 503.\n  --extra-index-url <url>     Extra URLs of package indexes to use in addition to --index-url.\n";
        assert_eq!(
            default_index_in_help(pip).as_deref(),
            Some("http://index.test:8080/simple")
        );
        // Wrapped as pip prints it on a narrow terminal.
        let wrapped = "  -i, --index-url <url>       Base URL of the Python Package Index (default\n                              https://mirror.test/pypi/simple). This should point to a\n  --extra-index-url <url>     Extra URLs\n";
        assert_eq!(
            default_index_in_help(wrapped).as_deref(),
            Some("https://mirror.test/pypi/simple")
        );
        let uv = "Index options:\n      --index <INDEX>\n          The URLs to use when resolving dependencies, in addition to the default index\n      --default-index <DEFAULT_INDEX>\n          The URL of the default package index (by default: <https://uv.test/simple>).\n          \n          Accepts either a repository compliant with PEP 503\n          \n          [env: UV_DEFAULT_INDEX=]\n  -i, --index-url <INDEX_URL>\n          (Deprecated: use `--default-index` instead) The URL of the Python package index (by default: <https://uv.test/simple>).\n";
        assert_eq!(
            default_index_in_help(uv).as_deref(),
            Some("https://uv.test/simple")
        );
        assert_eq!(
            default_index_in_help("  --index-url <url>  An index.\n"),
            None
        );
        assert_eq!(default_index_in_help("nothing here"), None);
    }

    #[test]
    fn asks_the_first_tool_on_path_and_remembers() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("asked");
        let script = format!(
            "#!/bin/sh\necho asked >> {}\necho '  -i, --index-url <url>  Base URL (default http://from-pip.test/simple). More.'\n",
            log.display()
        );
        let pip = dir.path().join("pip3");
        std::fs::write(&pip, script).unwrap();
        std::fs::set_permissions(&pip, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().display().to_string();
        let env = move |k: &str| (k == "PATH").then(|| path.clone());
        let cache = Cache::open(Some(&dir.path().join("cache"))).unwrap();
        for _ in 0..2 {
            let answer = ask_host_tools(&env, Some(&cache)).unwrap();
            assert_eq!(answer.tool, "pip");
            assert_eq!(answer.url, "http://from-pip.test/simple");
        }
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "asked\n");
        let empty = tempfile::tempdir().unwrap();
        let path = empty.path().display().to_string();
        let env = move |k: &str| (k == "PATH").then(|| path.clone());
        assert_eq!(ask_host_tools(&env, None), None);
    }
}
