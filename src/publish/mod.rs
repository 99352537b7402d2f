//! Where a built image goes, the last stage of a build: an OCI layout or
//! archive, a container engine, a registry (with the bill of materials
//! pushed as artifacts referring to the image, and the debug variant under
//! its `-debug` tag); several platforms' images as one index; the bill of
//! materials as files; and the build's work shared through a registry cache.
//!
//! Publishing sits below `build`: it takes the images and documents a build
//! made (`Built`), never the build's own report, and prints nothing but the
//! registry cache's lines; what went where comes back as a `Published`.

pub mod destination;
mod image;
mod index;
pub mod names;
pub mod push;
pub mod sbom_files;
pub mod sharing;

pub use destination::{Destination, load_into};
pub use image::publish_image;
pub use index::{PublishedIndex, publish_index};
pub use names::{check_tag, debug_name, debug_reference, image_name, name_of_app, short_name};
pub use push::{push_image, push_index, push_sbom, push_sbom_of};
pub use sbom_files::write_sbom;
pub use sharing::{prune_registry_cache, share_cache, shared_cache};

use crate::builder::engine::{Engine, HeldImage};
use crate::oci::Image;
use crate::registry::{PushReport, Reference};
use crate::sbom::Sbom;
use std::path::PathBuf;

/// One platform's image as a build made it: what publishing needs of it.
#[derive(Debug)]
pub struct Built<'a> {
    pub image: &'a Image,
    /// The debug variant (the image plus a busybox), when one was made.
    pub debug: Option<&'a Image>,
    /// The bill of materials the image carries.
    pub sbom: &'a Sbom,
    /// The image as the smoke run left it in an engine: a load into that
    /// engine names it rather than loading it again.
    pub held: Option<HeldImage>,
}

/// Where a build's images go, and under which names.
#[derive(Debug)]
pub struct Request {
    /// The image's name, `NAME[:TAG]` (its debug variant's is `NAME:TAG-debug`).
    pub tag: String,
    pub destination: Destination,
    /// Also push to this reference (the debug variant to its `-debug` tag).
    pub push: Option<Reference>,
    /// Speak plain HTTP to the registry pushed to (loopback only).
    pub plain_http: bool,
    /// The registry image the build started from, as given: in the registry
    /// pushed to, its blobs are mounted rather than uploaded.
    pub base_image: Option<String>,
    /// Also write each image's bill of materials into this directory.
    pub sbom_dir: Option<PathBuf>,
}

/// Where the images went.
#[derive(Debug)]
pub struct Published {
    /// Each destination as said, in the order they were written: `OCI
    /// layout dist/app`, `loaded into podman as app:latest`, `pushed
    /// REF@DIGEST (N blobs uploaded, M already there)`.
    pub went: Vec<String>,
    /// What the push did, when there was one.
    pub pushed: Option<PushReport>,
    /// The engine the image was loaded into, when that was a destination.
    pub loaded_into: Option<Engine>,
}

impl Published {
    /// The destinations in one line, `; ` between them.
    pub fn went(&self) -> String {
        self.went.join("; ")
    }
}

/// `pushed REF@DIGEST (N blobs uploaded, M already there)`.
fn said_pushed(reference: &Reference, pushed: &PushReport) -> String {
    format!(
        "pushed {reference}@{} ({} blobs uploaded, {} already there)",
        pushed.digest, pushed.uploaded, pushed.skipped
    )
}
