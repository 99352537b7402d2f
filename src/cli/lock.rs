//! `pypack lock APP`: the app's requirements resolved for the image's
//! target and written to APP/pylock.toml (or checked against it).

use super::Cli;
use super::args::{BaseArgs, IndexArgs};
use anyhow::{Result, bail};
use clap::Args;
use pypack::build::lock::{LockAppRequest, Outcome};
use pypack::project::plan::Overrides;
use std::path::PathBuf;

#[derive(Args)]
#[rustfmt::skip]
pub struct LockArgs {
    /// The app directory (with requirements.txt or pyproject.toml).
    app: PathBuf,
    #[command(flatten)] base: BaseArgs,
    #[command(flatten)] index: IndexArgs,
    /// Allow pre-releases.
    #[arg(long)] pre: bool,
    /// Do not resolve: fail unless pylock.toml is up to date with the requirements.
    #[arg(long)] locked: bool,
    /// Include this optional-dependencies group of pyproject.toml (repeatable).
    #[arg(long, value_name = "GROUP")] extra: Vec<String>,
    /// Include this dependency group: PEP 735 [dependency-groups], a Poetry
    /// group, or a Pipfile's dev-packages (`dev`) (repeatable).
    #[arg(long, value_name = "NAME")] group: Vec<String>,
    /// As for build: lock this production server too; `none`: no server is
    /// added when the app has none.
    #[arg(long, value_name = "NAME")] server: Option<String>,
}

pub fn lock(cli: &Cli, args: &LockArgs) -> Result<()> {
    let env = |name: &str| std::env::var(name).ok();
    let request = LockAppRequest {
        app_dir: &args.app,
        overrides: Overrides {
            python: args.base.python.clone(),
            recipe: args.base.recipe.clone(),
            ..Overrides::default()
        },
        index: args.index.settings(),
        binary: args.index.binary()?,
        pre: args.pre,
        extras: args.extra.clone(),
        groups: args.group.clone(),
        server: args.server.clone(),
        env: &env,
        home: std::env::var_os("HOME").map(PathBuf::from),
        verbose: !cli.quiet,
    };
    let planned = pypack::build::lock::plan(&request)?;
    let one_platform = "`pypack lock` (pylock.toml is for one platform)";
    args.base.platforms()?.single(one_platform)?;
    let base = args
        .base
        .options_for(&planned.plan.recipe.value, cli.quiet)?;
    let cache = cli.cache()?;
    args.index.ask_default_early(&cache);
    let engine = || pypack::builder::Engine::detect(super::engine_choice(&None)?.as_deref());
    let outcome = pypack::build::lock::lock(&request, planned, base, &engine, args.locked, &cache)?;
    let path = args.app.join("pylock.toml");
    match outcome {
        Outcome::Checked(false) => bail!(
            "{} is missing or stale for the current requirements; run `pypack lock {}`",
            path.display(),
            args.app.display()
        ),
        Outcome::Checked(true) => println!("{} is up to date", path.display()),
        Outcome::Written(locked, target) => {
            for (name, version) in &locked.packages {
                println!("{name}=={version}");
            }
            let said = if locked.up_to_date {
                "unchanged:"
            } else {
                "wrote"
            };
            let (path, count) = (locked.path.display(), locked.packages.len());
            println!("{said} {path} ({count} packages for {target})");
        }
    }
    Ok(())
}
