//! Plotly Dash apps: `app = Dash(__name__)`. gunicorn (when a dependency)
//! serves the Flask server the app exposes (`server = app.server`);
//! otherwise the script runs Dash's server, told by `HOST`/`PORT` where to
//! listen (8050 by default).

use super::common::{AppContext, Claim, Start, words};
use anyhow::Result;

const MODULES: &[&str] = &["app", "main", "index", "dashboard"];

pub fn claim(ctx: &AppContext) -> Result<Option<Claim>> {
    if !ctx.has("dash") {
        return Ok(None);
    }
    let found = MODULES.iter().find_map(|m| {
        let text = ctx.read(&format!("{m}.py"))?;
        text.lines()
            .any(|l| {
                !l.starts_with([' ', '\t']) && (l.contains("= Dash(") || l.contains("= dash.Dash("))
            })
            .then(|| (m.to_string(), text))
    });
    let Some((module, text)) = found else {
        return Ok(None);
    };
    let server_var = text.lines().find_map(|l| {
        let (lhs, rhs) = l.split_once('=')?;
        (!l.starts_with([' ', '\t']) && rhs.trim().ends_with(".server"))
            .then(|| lhs.trim().to_string())
    });
    if let (true, Some(server)) = (ctx.has("gunicorn"), &server_var) {
        let target = format!("{module}:{server}");
        let rule = format!(
            "Dash: {module}.py exposes {server} = app.server, served by {}",
            ctx.described("gunicorn")
        );
        return Ok(Some(
            Claim::new(rule, move |port| {
                Start::argv(words(&[
                    "gunicorn",
                    "--bind",
                    &format!("0.0.0.0:{port}"),
                    &target,
                ]))
            })
            .port(8050),
        ));
    }
    let script = format!("{module}.py");
    let mut claim = Claim::new(format!("Dash: {script} runs Dash's server"), move |port| {
        Start::argv(vec!["python".into(), script.clone()])
            .with_env("HOST", "0.0.0.0")
            .with_env("PORT", port.to_string())
    })
    .port(8050);
    claim.warnings.push(
        "the Dash app is served by its development server: add gunicorn and `server = app.server` for a production one".into(),
    );
    if server_var.is_some() {
        // gunicorn can serve the exposed server: added unless told not to.
        claim = claim.wanting("gunicorn");
    }
    Ok(Some(claim))
}
