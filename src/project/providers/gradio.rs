//! Gradio apps: `python app.py` (the script calls `.launch()`), told by
//! environment to listen on every address and the decided port (7860 by
//! default), without reaching out for analytics.

use super::common::{AppContext, Claim, Start};
use anyhow::Result;

/// The script that starts the Gradio app.
fn entry(ctx: &AppContext) -> Option<String> {
    if !ctx.has("gradio") {
        return None;
    }
    super::runners::entry_importing(ctx, "gradio", &["app.py", "main.py", "demo.py"])
}

pub fn claim(ctx: &AppContext) -> Result<Option<Claim>> {
    let Some(entry) = entry(ctx) else {
        return Ok(None);
    };
    let rule = format!("Gradio: gradio in the dependencies and {entry} imports it");
    Ok(Some(
        Claim::new(rule, move |port| {
            Start::argv(vec!["python".into(), entry.clone()])
                .with_env("GRADIO_SERVER_NAME", "0.0.0.0")
                .with_env("GRADIO_SERVER_PORT", port.to_string())
                .with_env("GRADIO_ANALYTICS_ENABLED", "False")
        })
        .port(7860),
    ))
}

/// Where a Gradio app writes, whichever rule chose its command (a
/// Dockerfile's `CMD python app.py` too).
pub fn with_gradio_dirs(ctx: &AppContext, claim: Claim) -> Claim {
    if entry(ctx).is_none() {
        return claim;
    }
    claim
        .writable("flagged", "Gradio saves flagged examples there".into())
        .writable(".gradio", "Gradio keeps its state there".into())
}
