//! aiohttp apps: a script or a package that starts aiohttp's own server
//! (`web.run_app(app)`), run as it is: `python FILE`, or `python -m PKG`
//! when a package's `__main__.py` starts it. aiohttp listens on 8080 unless
//! the call says otherwise.

use super::common::{AppContext, Claim, Start, leading_number};
use super::runners::runner_calling;
use anyhow::Result;

pub fn claim(ctx: &AppContext) -> Result<Option<Claim>> {
    if !ctx.has("aiohttp") {
        return Ok(None);
    }
    let Some((runner, text)) = runner_calling(ctx, &["run_app("]) else {
        return Ok(None);
    };
    // `run_app(app, port=8081)`: that port, else aiohttp's 8080.
    let port = text
        .lines()
        .filter(|l| l.contains("run_app("))
        .find_map(|l| l.split("port=").nth(1).and_then(leading_number))
        .unwrap_or(8080);
    let rule = format!(
        "aiohttp: {} calls web.run_app (aiohttp {})",
        runner.describe(),
        match ctx.installed.version("aiohttp") {
            Some(v) => v.to_string(),
            None => "in the dependencies".into(),
        }
    );
    Ok(Some(
        Claim::new(rule, move |_| Start::argv(runner.argv())).port(port),
    ))
}
