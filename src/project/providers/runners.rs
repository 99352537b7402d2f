//! Scripts and packages that start something when run (`python FILE`,
//! `python -m PKG`), found by the calls they make: what the aiohttp and
//! `python -m` providers share. Scripts come first (the usual names, then
//! the others), then packages' `__main__.py`.

use super::AppContext;

/// How a module that starts the server is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runner {
    /// `python FILE`
    Script(String),
    /// `python -m PACKAGE`
    Package(String),
}

impl Runner {
    pub fn argv(&self) -> Vec<String> {
        match self {
            Runner::Script(file) => vec!["python".into(), file.clone()],
            Runner::Package(package) => vec!["python".into(), "-m".into(), package.clone()],
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Runner::Script(file) => file.clone(),
            Runner::Package(package) => format!("{package}/__main__.py"),
        }
    }
}

/// Whether a line of code (not a comment) in `text` makes one of `calls`.
fn calls(text: &str, calls: &[&str]) -> bool {
    text.lines().any(|l| {
        let code = l.split('#').next().unwrap_or("");
        calls.iter().any(|c| code.contains(c))
    })
}

/// The first runner whose module makes one of `wanted`, with its text:
/// top-level scripts (usual names first), then packages' `__main__.py`.
pub fn runner_calling(ctx: &AppContext, wanted: &[&str]) -> Option<(Runner, String)> {
    const USUAL: &[&str] = &["app.py", "main.py", "server.py", "run.py", "__main__.py"];
    let mut scripts: Vec<String> = USUAL.iter().map(|s| s.to_string()).collect();
    let mut packages = Vec::new();
    let mut entries: Vec<(String, bool)> = std::fs::read_dir(ctx.dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.path().is_dir(),
            )
        })
        .collect();
    entries.sort();
    for (name, is_dir) in entries {
        if is_dir {
            if !name.starts_with('.') && !matches!(name.as_str(), "tests" | "test" | "venv") {
                packages.push(name);
            }
        } else if name.ends_with(".py")
            && !name.starts_with("test_")
            && !name.ends_with("_test.py")
            && !scripts.contains(&name)
        {
            scripts.push(name);
        }
    }
    for script in scripts {
        if let Some(text) = ctx.read(&script)
            && calls(&text, wanted)
        {
            return Some((Runner::Script(script), text));
        }
    }
    packages.into_iter().find_map(|package| {
        let text = ctx.read(&format!("{package}/__main__.py"))?;
        calls(&text, wanted).then_some((Runner::Package(package), text))
    })
}
