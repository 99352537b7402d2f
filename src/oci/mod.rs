//! Images written by pypack itself: deterministic layers, config and manifest,
//! and the writers for an OCI layout, an oci-archive and a docker-archive.

pub mod epoch;
pub mod gzip;
pub mod image;
pub mod index;
pub mod layer;
pub mod layout;

pub use epoch::{DEFAULT_EPOCH, source_date_epoch};
pub use image::{ContainerConfig, Image, LayerSpec};
pub use index::{ImageIndex, assemble_index};
pub use layer::{Entry, EntryKind, LayerBlob};
pub use layout::{Output, write_output};
