//! What a build says about itself: its report as the lines `pypack build`
//! prints (how the image was decided and what it holds on stderr, where
//! it went on stdout) and as its JSON summary. One image or several
//! platforms' in one index.

use super::report::BuildReport;
use crate::builder::smoke::Outcome;
use crate::oci::layout::full_tag;
use crate::platform::Platform;
use crate::project::start::Process;
use crate::publish::debug_name;
use crate::resolve::app::PinSource;
use serde_json::{Value, json};

/// Base, command, port, server, writable paths (each with its rule), the
/// packages, system packages, the smoke run and the layers.
pub fn detail_lines(report: &BuildReport) -> Vec<String> {
    let mut lines = decisions(report);
    lines.extend(contents(report));
    lines
}

/// The image, its digest and size, and where it went; the debug variant's.
pub fn result_lines(report: &BuildReport, tag: &str, went: &str) -> Vec<String> {
    let (digest, size) = (
        &report.image.manifest_digest,
        mb(report.uncompressed_size()),
    );
    let mut lines = vec![format!("{} {digest} {size:.1} MB → {went}", full_tag(tag))];
    if let Some(debug) = &report.debug {
        lines.push(format!(
            "{} {} (with busybox)",
            debug_name(tag),
            debug.manifest_digest
        ));
    }
    lines
}

/// One platform's line of an index build.
pub fn platform_line(report: &BuildReport, host: Platform) -> String {
    let smoke = match &report.smoke {
        Some(_) => "passed",
        None if report.image.platform == host => "not run",
        None => "not run (only this machine's platform is run)",
    };
    format!(
        "{}: {} {:.1} MB, {} packages, smoke: {smoke}",
        report.image.platform,
        report.image.manifest_digest,
        mb(report.uncompressed_size()),
        report.pins.len(),
    )
}

/// An index build's result: the index, its digest, how many platforms and
/// where it went; the debug index's.
pub fn index_result_lines(
    tag: &str,
    (digest, platforms): (&str, usize),
    debug_digest: Option<&str>,
    went: &str,
) -> Vec<String> {
    let mut lines = vec![format!(
        "{} {digest} ({platforms} platforms) → {went}",
        full_tag(tag)
    )];
    if let Some(debug) = debug_digest {
        lines.push(format!("{} {debug} (with busybox)", debug_name(tag)));
    }
    lines
}

/// An index build's JSON summary: the index and each platform's summary.
pub fn index_json(reports: &[BuildReport], tag: &str, digest: &str, went: &str) -> Value {
    let platforms: Vec<_> = reports.iter().map(|r| to_json(r, tag, went)).collect();
    json!({"image": full_tag(tag), "digest": digest, "destination": went, "platforms": platforms})
}

/// Bytes as (decimal) megabytes.
fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

fn decisions(report: &BuildReport) -> Vec<String> {
    let (plan, start) = (&report.plan, &report.start);
    let mut lines = vec![
        format!("base:     {} ({})", plan.recipe.value, plan.recipe.rule),
        format!(
            "command:  {} ({})",
            start.cmd.value.join(" "),
            start.cmd.rule
        ),
        format!("port:     {} ({})", start.port.value, start.port.rule),
    ];
    for process in &start.processes {
        let Process { name, line, .. } = &process.value;
        lines.push(format!(
            "process:  {name}: {line} ({}; run it with the process name as the image's command)",
            process.rule
        ));
    }
    if let Some(added) = &report.added_server {
        lines.push(format!(
            "server:   {} {} (added: {})",
            added.name, added.version, added.why
        ));
    }
    for dir in &start.writable {
        let path = writable_path(&dir.value);
        lines.push(format!("writable: {path} ({}; owned by 65532)", dir.rule));
    }
    if let Some(why) = &plan.app_wheel {
        lines.push(format!(
            "project:  built into a wheel in the builder ({why})"
        ));
    }
    lines
}

fn contents(report: &BuildReport) -> Vec<String> {
    let source = pin_source(report.pin_source);
    let mut lines = vec![format!("packages: {} ({source})", report.pins.len())];
    for added in &report.system_packages {
        lines.push(format!(
            "system:   {} {} ({})",
            added.name, added.version, added.why
        ));
    }
    match &report.smoke {
        Some(Outcome::Passed(observed)) => {
            lines.push(format!("smoke:    passed ({})", observed.what))
        }
        Some(Outcome::Cached(observed)) => lines.push(format!(
            "smoke:    passed (before, for this same image: {})",
            observed.what
        )),
        None => {}
    }
    for layer in &report.layers {
        let state = if layer.reused { "reused" } else { "built" };
        let (digest, size) = (&layer.blob.digest[..19], mb(layer.blob.uncompressed_size));
        lines.push(format!(
            "layer:    {digest} {size:.1} MB ({state}: {})",
            layer.what
        ));
    }
    lines
}

/// Where the pins came from, as the output says it.
fn pin_source(source: PinSource) -> &'static str {
    match source {
        PinSource::LockFile => "pylock.toml",
        PinSource::Cached => "cached resolution",
        PinSource::Resolved => "resolved now",
        PinSource::ToolLock(file) => file,
    }
}

/// A writable path as the image has it (`.` is /app itself).
fn writable_path(value: &str) -> String {
    match value {
        "." => "/app".into(),
        path => format!("/app/{path}"),
    }
}

/// One image's JSON summary.
pub fn to_json(report: &BuildReport, tag: &str, went: &str) -> Value {
    let (plan, start) = (&report.plan, &report.start);
    json!({
        "image": full_tag(tag),
        "digest": report.image.manifest_digest,
        "platform": report.image.platform.to_string(),
        "uncompressed_size": report.uncompressed_size(),
        "compressed_size": report.image.compressed_size(),
        "destination": went,
        "base": {"recipe": plan.recipe.value, "rule": plan.recipe.rule, "digest": report.base.image.manifest_digest},
        "command": {"argv": start.cmd.value, "rule": start.cmd.rule},
        "port": {"value": start.port.value, "rule": start.port.rule},
        "processes": start.processes.iter().map(|p| json!({"name": p.value.name, "command": p.value.line, "rule": p.rule})).collect::<Vec<_>>(),
        "server_added": report.added_server.as_ref().map(|a| json!({"name": a.name, "version": a.version, "why": a.why})),
        "writable": start.writable.iter().map(|d| json!({"path": writable_path(&d.value), "rule": d.rule})).collect::<Vec<_>>(),
        "layers": report.layers.iter().map(|l| json!({
            "digest": l.blob.digest, "size": l.blob.size, "uncompressed_size": l.blob.uncompressed_size,
            "what": l.what, "reused": l.reused,
        })).collect::<Vec<_>>(),
        "packages": report.pins.iter().map(|p| json!({"name": p.name, "version": p.version.to_string()})).collect::<Vec<_>>(),
        "packages_from": pin_source(report.pin_source),
        "debug": report.debug.as_ref().map(|d| json!({"image": debug_name(tag), "digest": d.manifest_digest})),
        "system_packages": report.system_packages.iter().map(|p| json!({"name": p.name, "version": p.version, "why": p.why})).collect::<Vec<_>>(),
        "smoke": match &report.smoke {
            Some(Outcome::Passed(o)) => json!({"passed": true, "what": o.what, "port": o.port, "writes": o.writes}),
            Some(Outcome::Cached(o)) => json!({"passed": true, "what": format!("passed before for this image: {}", o.what), "port": o.port, "writes": o.writes}),
            None => Value::Null,
        },
    })
}
