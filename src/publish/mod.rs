//! Where a built image goes, the last stage of a build: an OCI layout or
//! archive, a container engine, a registry (with the bill of materials
//! pushed as artifacts referring to the image, and the debug variant under
//! its `-debug` tag); several platforms' images as one index; the bill of
//! materials as files; and the build's work shared through a registry cache.
//!
//! Publishing sits below `build`: it takes the images and documents a build
//! made (`Built`), never the build's own report, and prints nothing but the
//! registry cache's lines; what went where comes back as a `Published`.

mod built;
pub mod destination;
mod image;
mod index;
pub mod names;
pub mod push;
mod request;
pub mod sbom_files;
pub mod sharing;

pub use built::Built;
pub use destination::{Destination, load_into};
pub use image::publish_image;
pub use index::{PublishedIndex, publish_index};
pub use names::{check_tag, debug_name, debug_reference, image_name, name_of_app, short_name};
pub use push::{push_image, push_index, push_sbom, push_sbom_of};
pub use request::{Published, Request};
pub use sbom_files::write_sbom;
pub use sharing::{prune_registry_cache, share_cache, shared_cache};
