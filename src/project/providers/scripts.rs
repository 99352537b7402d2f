//! The single `[project.scripts]` entry of the app's own project: its
//! console script, installed in the venv's `bin`.

use super::common::{AppContext, Claim, Start};
use anyhow::Result;

pub fn claim(ctx: &AppContext) -> Result<Option<Claim>> {
    let [script] = ctx.pyproject.scripts.as_slice() else {
        return Ok(None);
    };
    let script = script.clone();
    let table = match ctx.pyproject.has_project {
        true => "[project.scripts]",
        false => "[tool.poetry.scripts]",
    };
    let mut claim = Claim::new(format!("the single {table} entry '{script}'"), move |_| {
        Start::argv(vec![script.clone()])
    });
    claim.web = false; // a console script may be a worker or a tool
    Ok(Some(claim))
}
