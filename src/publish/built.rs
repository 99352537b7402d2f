//! What a build hands to publishing: its images and documents.

use crate::builder::engine::HeldImage;
use crate::oci::Image;
use crate::sbom::Sbom;

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
