//! The audit stage: the native libraries the venv's and the app's ELF files
//! link, checked against the base; on a recipe base, the Debian packages
//! that ship what is missing become a layer.

use super::base::Based;
use super::layers::Layering;
use super::report::LayerReport;
use crate::base::BaseOptions;
use crate::base::system_libraries::{self, AddedPackage};
use anyhow::{Result, bail};

/// The native library audit of the venv and app layers against the base:
/// on a Debian-recipe base, a layer with the packages of what is missing
/// (and the packages added); on a registry base, an error naming each
/// missing library and who needs it. `None` when nothing is missing.
pub(super) fn system_layer(
    l: &Layering,
    based: &Based,
    options: &BaseOptions,
    ignored: &[String],
    timings: bool,
    layers: &[&LayerReport],
) -> Result<Option<(LayerReport, Vec<AddedPackage>)>> {
    let (base, base_name) = (&based.base, &based.name);
    let started = std::time::Instant::now();
    let scanned = layers
        .iter()
        .map(|layer| crate::audit::layer_libraries(l.cache, &layer.blob, None, l.machine))
        .collect::<Result<Vec<_>>>()?;
    let provided = crate::audit::BaseLibraries::of_image(l.cache, &base.image)?;
    let needs = crate::audit::audit(&scanned.iter().collect::<Vec<_>>(), &provided, ignored);
    if timings {
        // The reading of new layers' ELF files happened as they were written.
        let (scan, check) = (l.scan_time.get(), started.elapsed());
        eprintln!(
            "timing:   native library audit {:.2} ms (reading ELF files {:.2} ms, checking {:.2} ms; {} libraries missing)",
            (scan + check).as_secs_f64() * 1e3,
            scan.as_secs_f64() * 1e3,
            check.as_secs_f64() * 1e3,
            needs.len()
        );
    }
    if needs.is_empty() {
        return Ok(None);
    }
    let Some(recipe) = &based.recipe else {
        let lines: Vec<String> = needs
            .iter()
            .map(|n| format!("{} needs {}", system_libraries::who(n), n.library))
            .collect();
        bail!(
            "the image would not run: the base {base_name} lacks libraries the packages link: {}. \
             Build on a base image that has them (--base REF), or on a recipe base (--python / --recipe), \
             to which pypack adds the Debian packages that ship them; or, for a file that is never \
             loaded, pass --ignore-missing-library NAME",
            lines.join("; ")
        );
    };
    let added = system_libraries::for_needs(recipe, options, l.cache, base, &provided, &needs)?;
    let report = LayerReport {
        what: format!(
            "pypack: {} Debian packages for libraries the Python packages link",
            added.packages.len()
        ),
        blob: added.blob,
        reused: added.reused,
    };
    Ok(Some((report, added.packages)))
}
