//! An image's bill of materials written as files beside the image.

use crate::sbom::Sbom;
use anyhow::{Context, Result};
use std::path::Path;

/// `DIR/NAME.spdx.json` and `DIR/NAME.cdx.json`.
pub fn write_sbom(dir: &Path, name: &str, sbom: &Sbom) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating --sbom {}", dir.display()))?;
    for (suffix, data) in [("spdx.json", &sbom.spdx), ("cdx.json", &sbom.cyclonedx)] {
        let path = dir.join(format!("{name}.{suffix}"));
        // Written beside and renamed: never half a document.
        let tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::fs::write(tmp.path(), data)?;
        std::fs::set_permissions(
            tmp.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )?;
        tmp.persist(&path)
            .map_err(|e| e.error)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
