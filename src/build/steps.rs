//! The build-steps stage: the plan's steps (Django's collectstatic) run in
//! the image made so far, their output one more layer.

use super::app_layer::give_writable;
use super::assembly::Assembly;
use super::layers::{cached_layer, remember_layer, specs};
use super::report::LayerReport;
use crate::builder::Engine;
use crate::builder::smoke::{self};
use crate::digest::sha256_hex;
use crate::oci::image::{self, ContainerConfig, Image};
use crate::oci::layer::{Entry, add_parents, write_layer};
use crate::project::providers::BuildStep;
use crate::project::start::Started;
use anyhow::Result;
use std::collections::BTreeMap;

/// The build steps' layers (Django's collectstatic), run in the image made
/// of `built` so far; for another platform, those of this machine's image.
#[allow(clippy::too_many_arguments)]
pub(super) fn build_steps(
    a: &Assembly,
    built: &[LayerReport],
    container: &ContainerConfig,
    started: &Started,
) -> Result<Vec<LayerReport>> {
    let (cache, base, epoch) = (a.cache, &a.based.base, a.epoch);
    let named = || {
        started
            .build_steps
            .iter()
            .map(describe_step)
            .collect::<Vec<_>>()
            .join(", ")
    };
    Ok(match (a.engine, a.runs_here) {
        (Some(engine), true) if !started.build_steps.is_empty() => {
            let so_far = image::extend(
                cache,
                &base.image,
                &specs(built),
                container,
                epoch,
                &a.annotations,
            )?;
            step_layers(engine, a, &so_far, started)?
        }
        _ if !started.build_steps.is_empty() && a.host_steps.is_some() => {
            let (host, layers) = a.host_steps.cloned().expect("checked");
            if !layers.is_empty() {
                eprintln!(
                    "note: the {} image gets the output of {} made in the {host} image (it does not depend on the CPU)",
                    base.image.platform,
                    named()
                );
            }
            layers
        }
        _ => {
            if !started.build_steps.is_empty() {
                eprintln!(
                    "warning: the build steps ({}) need the image to run here, in podman or docker; the image has none of their output",
                    named()
                );
            }
            Vec::new()
        }
    })
}

pub(super) fn describe_step(step: &BuildStep) -> String {
    match step {
        BuildStep::Collectstatic { .. } => "Django's collectstatic".into(),
    }
}

/// The layers the plan's build steps make, run in `image` (reused when the
/// image and the step's settings are the same).
fn step_layers(
    engine: &Engine,
    a: &Assembly,
    image: &Image,
    started: &Started,
) -> Result<Vec<LayerReport>> {
    let (cache, venv, epoch) = (a.cache, a.venv, a.epoch);
    let mut layers = Vec::new();
    for step in &started.build_steps {
        let BuildStep::Collectstatic { settings_module } = step;
        let settings = smoke::settings(a.smoke_env)?;
        let writable: Vec<&str> = started.writable.iter().map(|w| w.value.as_str()).collect();
        let key = format!(
            "pypack {} collectstatic format 2\nimage {}\nsettings {settings_module}\nenv {}\nepoch {epoch}\nwritable {writable:?}\n",
            env!("CARGO_PKG_VERSION"),
            image.manifest_digest,
            sha256_hex(a.smoke_env.join("\n").as_bytes())
        );
        let what = format!(
            "pypack: static files collected by manage.py collectstatic ({settings_module})"
        );
        if let Some(blob) = cached_layer(cache, &key) {
            layers.push(LayerReport {
                what,
                blob,
                reused: true,
            });
            continue;
        }
        let entries = crate::builder::collectstatic::collect(
            engine,
            cache,
            image,
            &venv.python(),
            settings_module,
            &settings,
        )?;
        if entries.is_empty() {
            eprintln!(
                "note: the Django settings set no STATIC_ROOT at build time: no static files were collected"
            );
            continue;
        }
        let mut tree: BTreeMap<String, Entry> =
            entries.into_iter().map(|e| (e.path.clone(), e)).collect();
        add_parents(&mut tree)?;
        // Static files the app rewrites at start (a Procfile's collectstatic,
        // WhiteNoise compressing) are its own like the rest of their directory.
        give_writable(&mut tree, &started.writable);
        let entries: Vec<Entry> = tree.into_values().collect();
        let blob = write_layer(cache, &entries, epoch)?;
        remember_layer(cache, &key, &blob)?;
        layers.push(LayerReport {
            what,
            blob,
            reused: false,
        });
    }
    Ok(layers)
}
