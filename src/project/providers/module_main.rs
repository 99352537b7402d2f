//! A package run with `python -m PKG` whose `__main__.py` starts a web
//! server itself (`uvicorn.run(…)`, `app.run(…)`, `web.run_app(…)`,
//! waitress's `serve(…)`).

use super::common::{AppContext, Claim, Start};
use super::runners::{Runner, runner_calling};
use anyhow::Result;

/// Calls that start a web server from a `__main__`.
const SERVER_STARTS: &[&str] = &[
    "uvicorn.run(",
    "run_app(",
    "app.run(",
    ".run(host=",
    "serve(app",
    "run_simple(",
    "hypercorn.asyncio.serve(",
];

/// A package whose `__main__.py` starts a server: `python -m PKG`.
pub fn claim(ctx: &AppContext) -> Result<Option<Claim>> {
    let found = runner_calling(ctx, SERVER_STARTS)
        .filter(|(runner, _)| !matches!(runner, Runner::Script(_)));
    let Some((runner, _)) = found else {
        return Ok(None);
    };
    let rule = format!("{} starts a web server: python -m", runner.describe());
    Ok(Some(Claim::new(rule, move |_| Start::argv(runner.argv()))))
}
