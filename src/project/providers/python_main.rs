//! A script run with `python`: `app.py` or `main.py`; and the port such a
//! script passes to its server (`app.run(port=5000)`, `uvicorn.run(…, port=…)`).

use super::common::{AppContext, Claim, Start, leading_number};
use crate::project::decided::Decided;
use anyhow::Result;

const SCRIPTS: &[&str] = &["app.py", "main.py"];

pub fn claim(ctx: &AppContext) -> Result<Option<Claim>> {
    let Some(script) = SCRIPTS.iter().find(|s| ctx.dir.join(s).is_file()) else {
        return Ok(None);
    };
    let mut claim = Claim::new(format!("{script} found"), move |_| {
        Start::argv(vec!["python".into(), script.to_string()])
    });
    claim.web = false; // unless a port says otherwise (see plan)
    Ok(Some(claim))
}

pub fn port(ctx: &AppContext) -> Result<Option<Decided<u16>>> {
    for module in ["app.py", "main.py", "wsgi.py", "asgi.py", "server.py"] {
        let Some(text) = ctx.read(module) else {
            continue;
        };
        for line in text
            .lines()
            .filter(|l| l.contains(".run(") || l.contains("launch("))
        {
            let found = ["port=", "server_port="]
                .iter()
                .find_map(|key| line.split(key).nth(1).and_then(leading_number));
            if let Some(port) = found {
                return Ok(Some(Decided {
                    value: port,
                    rule: format!("port= in {module}"),
                }));
            }
        }
    }
    Ok(None)
}
