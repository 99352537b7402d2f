//! Images written by pypack itself: deterministic layers, config and manifest,
//! and the writers for an OCI layout, an oci-archive and a docker-archive.

pub mod image;
pub mod index;
pub mod layer;
pub mod layout;

pub use image::{ContainerConfig, Image, LayerSpec};
pub use index::{ImageIndex, assemble_index};
pub use layer::{Entry, EntryKind, LayerBlob};
pub use layout::{Output, write_output};

/// Default timestamp for every file and for the image's `created`: 1980-01-01,
/// the earliest date zip (and so wheel tooling) can represent.
pub const DEFAULT_EPOCH: u64 = 315_532_800;

/// `SOURCE_DATE_EPOCH` when set (the reproducible-builds convention), else
/// [`DEFAULT_EPOCH`].
pub fn source_date_epoch() -> anyhow::Result<u64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(text) if !text.trim().is_empty() => text.trim().parse().map_err(|_| {
            anyhow::anyhow!("SOURCE_DATE_EPOCH='{text}' is not a number of seconds since 1970")
        }),
        _ => Ok(DEFAULT_EPOCH),
    }
}
