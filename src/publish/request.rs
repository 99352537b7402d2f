//! What publishing is asked (where the images go, under which names) and
//! what it answers (where they went).

use super::destination::Destination;
use crate::builder::engine::Engine;
use crate::registry::{PushReport, Reference};
use std::path::PathBuf;

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
pub(super) fn said_pushed(reference: &Reference, pushed: &PushReport) -> String {
    format!(
        "pushed {reference}@{} ({} blobs uploaded, {} already there)",
        pushed.digest, pushed.uploaded, pushed.skipped
    )
}
