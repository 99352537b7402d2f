//! Scripts and packages that start something when run (`python FILE`,
//! `python -m PKG`), found by the calls they make: what the aiohttp and
//! `python -m` providers share. Scripts come first (the usual names, then
//! the others), then packages' `__main__.py`, then packages' usual modules
//! run as a script (`if __name__ == "__main__":`), as `python -m PKG.MOD`.

use super::common::AppContext;

/// How a module that starts the server is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runner {
    /// `python FILE`
    Script(String),
    /// `python -m PACKAGE`
    Package(String),
    /// `python -m PACKAGE.MODULE`, a module with a `__main__` block
    Module(String),
}

impl Runner {
    pub fn argv(&self) -> Vec<String> {
        match self {
            Runner::Script(file) => vec!["python".into(), file.clone()],
            Runner::Package(module) | Runner::Module(module) => {
                vec!["python".into(), "-m".into(), module.clone()]
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Runner::Script(file) => file.clone(),
            Runner::Package(package) => format!("{package}/__main__.py"),
            Runner::Module(module) => format!("{}.py", module.replace('.', "/")),
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
    let found = packages.iter().find_map(|package| {
        let text = ctx.read(&format!("{package}/__main__.py"))?;
        calls(&text, wanted).then(|| (Runner::Package(package.clone()), text))
    });
    found.or_else(|| {
        packages.iter().find_map(|package| {
            ["main", "app", "server", "run"].iter().find_map(|module| {
                let text = ctx.read(&format!("{package}/{module}.py"))?;
                (text.contains("__main__") && calls(&text, wanted))
                    .then(|| (Runner::Module(format!("{package}.{module}")), text))
            })
        })
    })
}

fn imports(text: &str, module: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with(&format!("import {module}")) || l.starts_with(&format!("from {module}"))
    })
}

/// The script that imports `module`: a usual entry name first, else the
/// first top-level script that does.
pub fn entry_importing(ctx: &AppContext, module: &str, usual: &[&str]) -> Option<String> {
    for name in usual {
        if ctx.read(name).is_some_and(|t| imports(&t, module)) {
            return Some(name.to_string());
        }
    }
    let mut scripts: Vec<String> = std::fs::read_dir(ctx.dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".py") && !n.starts_with("test_") && !n.ends_with("_test.py"))
        .collect();
    scripts.sort();
    scripts
        .into_iter()
        .find(|n| ctx.read(n).is_some_and(|t| imports(&t, module)))
}
