//! Gradio apps: `python app.py` (the script calls `.launch()`), told by
//! environment to listen on every address and the decided port (7860 by
//! default), without reaching out for analytics.

use super::{AppContext, Claim, Start};
use anyhow::Result;

pub fn claim(ctx: &AppContext) -> Result<Option<Claim>> {
    if !ctx.has("gradio") {
        return Ok(None);
    }
    let Some(entry) =
        super::streamlit::entry_importing(ctx, "gradio", &["app.py", "main.py", "demo.py"])
    else {
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
        .port(7860)
        .writable("flagged", "Gradio saves flagged examples there".into())
        .writable(".gradio", "Gradio keeps its state there".into()),
    ))
}
