//! DigitalOcean App Platform: the app spec (`.do/app.yaml`, or the
//! deploy button's `.do/deploy.template.yaml`): the service's `run_command`,
//! and `http_port` as the port.

use super::common::{AppContext, Claim};
use super::platform_files::{claim_for, command_of_yaml, yaml};
use crate::project::decided::Decided;
use anyhow::Result;
use yaml_rust2::Yaml;

/// The DigitalOcean App Platform spec's first service.
fn do_service(ctx: &AppContext) -> Option<(Yaml, &'static str)> {
    for (file, wrapped) in [(".do/app.yaml", false), (".do/deploy.template.yaml", true)] {
        let Some(doc) = yaml(ctx, file) else {
            continue;
        };
        let spec = if wrapped { doc["spec"].clone() } else { doc };
        let service = spec["services"].as_vec()?.first()?.clone();
        return Some((service, file));
    }
    None
}

/// DigitalOcean App Platform: the service's `run_command`.
pub fn claim(ctx: &AppContext) -> Result<Option<Claim>> {
    let Some((service, file)) = do_service(ctx) else {
        return Ok(None);
    };
    let source_dir = service["source_dir"]
        .as_str()
        .unwrap_or("/")
        .trim_matches('/');
    if !source_dir.is_empty() && source_dir != "." {
        return Ok(None);
    }
    let command = command_of_yaml(&service["run_command"]);
    Ok(command.and_then(|c| claim_for(&c, format!("{file}: run_command"))))
}

/// DigitalOcean App Platform: the service's `http_port`.
pub fn port(ctx: &AppContext) -> Result<Option<Decided<u16>>> {
    let Some((service, file)) = do_service(ctx) else {
        return Ok(None);
    };
    let port = service["http_port"]
        .as_i64()
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0);
    Ok(port.map(|value| Decided {
        value,
        rule: format!("http_port in {file}"),
    }))
}
