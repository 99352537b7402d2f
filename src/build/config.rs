//! The config stage: the image's container configuration (command, port,
//! user, environment, labels) and the manifest's annotations.

use super::base::Based;
use super::request::{
    APP_DIR, BASE_LAYERS_ANNOTATION, BASE_LIBC_ANNOTATION, BASE_PYTHON_ANNOTATION, NONROOT,
    VENV_DIR,
};
use crate::base::BuiltBase;
use crate::oci::image::{self, ContainerConfig};
use crate::project::plan::Plan;
use crate::project::start::Started;
use crate::python::Target;
use anyhow::Result;
use std::collections::BTreeMap;
use std::path::Path;

pub(super) fn container_config(
    base: &BuiltBase,
    plan: &Plan,
    started: &Started,
    as_root: bool,
) -> Result<ContainerConfig> {
    let mut config = image::container_config_of(&base.image)?;
    let base_path = config
        .env
        .iter()
        .find_map(|e| e.strip_prefix("PATH=").map(str::to_string))
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    let overridden = [
        "PATH",
        "PYTHONUNBUFFERED",
        "PYTHONDONTWRITEBYTECODE",
        "PORT",
        "VIRTUAL_ENV",
        "HOME",
    ];
    config
        .env
        .retain(|e| !overridden.iter().any(|k| e.starts_with(&format!("{k}="))));
    config.env.retain(|e| {
        !started
            .env
            .iter()
            .any(|(k, _)| e.starts_with(&format!("{k}=")))
    });
    config
        .env
        .extend(started.env.iter().map(|(k, v)| format!("{k}={v}")));
    // Process types are programs, found before the venv's (a process may
    // have its program's name; the launcher takes its directory off PATH).
    let processes = match started.processes.is_empty() {
        true => String::new(),
        false => format!("{}:", crate::project::start::PROCESS_DIR),
    };
    config.env.extend([
        format!("PATH={processes}{VENV_DIR}/bin:{base_path}"),
        format!("VIRTUAL_ENV={VENV_DIR}"),
        "PYTHONUNBUFFERED=1".to_string(),
        "PYTHONDONTWRITEBYTECODE=1".to_string(),
        format!("HOME={}", if as_root { "/root" } else { "/home/nonroot" }),
        format!("PORT={}", started.port.value),
    ]);
    config.working_dir = Some(APP_DIR.into());
    config.user = Some(if as_root {
        "0:0".into()
    } else {
        NONROOT.into()
    });
    config.entrypoint = Vec::new();
    config.cmd = started.cmd.value.clone();
    config.exposed_ports = vec![format!("{}/tcp", started.port.value)];
    config
        .labels
        .insert("org.opencontainers.image.title".into(), plan.name.clone());
    if !started.processes.is_empty() {
        let names: Vec<&str> = started
            .processes
            .iter()
            .map(|p| p.value.name.as_str())
            .collect();
        let names = format!("web {}", names.join(" "));
        config.labels.insert("io.pypack.processes".into(), names);
    }
    match &plan.pyproject.version {
        Some(v) => config
            .labels
            .insert("org.opencontainers.image.version".into(), v.clone()),
        None => config.labels.remove("org.opencontainers.image.version"),
    };
    config.labels.remove("org.opencontainers.image.description");
    config.labels.insert(
        "org.opencontainers.image.base.digest".into(),
        base.image.manifest_digest.clone(),
    );
    if let Some((source, revision)) = git_origin(&plan.app_dir) {
        if !source.is_empty() {
            config
                .labels
                .insert("org.opencontainers.image.source".into(), source);
        }
        config
            .labels
            .insert("org.opencontainers.image.revision".into(), revision);
    }
    Ok(config)
}

/// The origin URL (without credentials) and HEAD commit of the checkout the
/// app is in, when it is in one and git is installed.
pub(super) fn git_origin(app_dir: &Path) -> Option<(String, String)> {
    let git = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(app_dir)
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let revision = git(&["rev-parse", "HEAD"])?;
    let source = git(&["config", "--get", "remote.origin.url"])
        .map(|u| crate::http::redact(&u))
        .unwrap_or_default();
    Some((source, revision))
}

/// The manifest's annotations: the image's title, its base, and what
/// `pypack rebase` needs to swap the base under the app (how many layers
/// are the base's, and what the new one must not change).
pub(super) fn annotations(plan: &Plan, based: &Based, target: &Target) -> BTreeMap<String, String> {
    let base = &based.base;
    BTreeMap::from([
        (
            "org.opencontainers.image.title".to_string(),
            plan.name.clone(),
        ),
        (
            "org.opencontainers.image.base.name".to_string(),
            based.name.clone(),
        ),
        (
            "org.opencontainers.image.base.digest".to_string(),
            base.image.manifest_digest.clone(),
        ),
        (
            BASE_LAYERS_ANNOTATION.to_string(),
            base.image.layers.len().to_string(),
        ),
        (
            BASE_PYTHON_ANNOTATION.to_string(),
            format!(
                "{} {}",
                base.python_executable,
                target.python_full_version()
            ),
        ),
        (BASE_LIBC_ANNOTATION.to_string(), target.libc.to_string()),
    ])
}
