//! Where a build's images go on this machine: an OCI layout or archive
//! written, a container engine loaded, or nowhere (only a registry push).

use super::built::Built;
use super::names::{debug_name, short_name};
use crate::builder::engine::Engine;
use crate::cache::Cache;
use crate::oci::layout::{Named, full_tag};
use crate::oci::{ImageIndex, Output};
use anyhow::{Result, bail};
use std::path::PathBuf;

#[derive(Debug)]
pub enum Destination {
    /// An OCI layout, an oci-archive or a docker-archive.
    Write(Output),
    /// A container engine's image store.
    Load(Engine),
    /// Nowhere here: the image only goes to the registry.
    PushOnly,
}

impl Destination {
    /// Of one image: `written` if given; else nothing here when it is
    /// pushed and not asked to be loaded; else the engine (`engine` names
    /// it; else podman or docker, whichever works), when there is one; else
    /// a layout under ./dist/ (an error when the load was asked for).
    pub fn of_image(
        written: Option<Output>,
        pushed: bool,
        load: bool,
        engine: Option<&str>,
        tag: &str,
    ) -> Result<Destination> {
        if let Some(output) = written {
            return Ok(Destination::Write(output));
        }
        if pushed && !load {
            return Ok(Destination::PushOnly);
        }
        match Engine::detect(engine)? {
            Some(found) => Ok(Destination::Load(found)),
            None if load || engine.is_some() => bail!(
                "--load needs {} installed (and running); install it, or write with --output DIR / --archive FILE",
                engine.unwrap_or("podman or docker")
            ),
            None => Destination::dist(tag),
        }
    }

    /// Of several platforms' images, which go where all of them can (an
    /// engine takes only this machine's): `written` if given, else nothing
    /// here when they are pushed, else a layout under ./dist/.
    pub fn of_index(written: Option<Output>, pushed: bool, tag: &str) -> Result<Destination> {
        match (written, pushed) {
            (Some(output), _) => Ok(Destination::Write(output)),
            (None, true) => Ok(Destination::PushOnly),
            (None, false) => Destination::dist(tag),
        }
    }

    /// Where a build's images go, checked: one image (`run`: the engine,
    /// whatever the flags say) or, with `run` `None`, several platforms'
    /// (`platforms` as asked, for the error a docker-archive gets); `load`
    /// is `--load`.
    pub fn of_build(
        written: Option<Output>,
        run: Option<bool>,
        load: bool,
        pushed: bool,
        engine: Option<&str>,
        tag: &str,
        platforms: &str,
    ) -> Result<Destination> {
        let destination = match (run, load) {
            (Some(true), _) => Destination::engine(engine, |e| {
                format!(
                    "{e} is not installed (or not running): `pypack run` starts the image in it; install podman"
                )
            })?,
            (Some(false), load) => Destination::of_image(written, pushed, load, engine, tag)?,
            (None, true) => Destination::engine(engine, |e| {
                format!("--load needs {e} installed (and running)")
            })?,
            (None, false) => Destination::of_index(written, pushed, tag)?,
        };
        destination.check()?;
        if let (None, Destination::Write(Output::DockerArchive(path))) = (run, &destination) {
            bail!(
                "{}: a docker-archive holds one image and --platform {platforms} makes several; \
                 write an OCI layout (--output DIR) or an oci-archive (--archive-format oci)",
                path.display(),
            );
        }
        Ok(destination)
    }

    /// The engine (`engine`, else podman or docker) as the only destination;
    /// `missing` says, of the engine's name, why it is needed.
    fn engine(engine: Option<&str>, missing: impl Fn(&str) -> String) -> Result<Destination> {
        match Engine::detect(engine)? {
            Some(found) => Ok(Destination::Load(found)),
            None => bail!("{}", missing(engine.unwrap_or("podman or docker"))),
        }
    }

    /// `./dist/NAME`, an OCI layout (./dist is made).
    fn dist(tag: &str) -> Result<Destination> {
        std::fs::create_dir_all("dist")?;
        Ok(Destination::Write(Output::Layout(
            PathBuf::from("dist").join(short_name(tag)),
        )))
    }

    /// Refuses a destination that cannot be written before any work is done.
    pub fn check(&self) -> Result<()> {
        match self {
            Destination::Write(output) => output.check_destination(),
            _ => Ok(()),
        }
    }
}

/// Writes the image (and its debug variant, `NAME:TAG-debug`) to `output`.
pub(super) fn write_image(cache: &Cache, built: &Built, tag: &str, output: &Output) -> Result<()> {
    let debug = debug_name(tag);
    let mut items = vec![(Named::Image(built.image), Some(tag))];
    if let Some(image) = built.debug {
        items.push((Named::Image(image), Some(debug.as_str())));
    }
    crate::oci::layout::write_named(cache, &items, output)
}

/// Writes the index (and the debug variants' index) to `output`.
pub(super) fn write_index(
    cache: &Cache,
    index: &ImageIndex,
    debug_index: Option<&ImageIndex>,
    tag: &str,
    output: &Output,
) -> Result<()> {
    let debug = debug_name(tag);
    let mut items = vec![(Named::Index(index), Some(tag))];
    if let Some(debug_index) = debug_index {
        items.push((Named::Index(debug_index), Some(debug.as_str())));
    }
    crate::oci::layout::write_named(cache, &items, output)
}

/// Puts the image (and its debug variant) into `engine` as `tag`.
pub fn load_into(engine: &Engine, cache: &Cache, built: &mut Built, tag: &str) -> Result<()> {
    // The smoke run left the image in the engine: it only needs its name.
    match built.held.take() {
        Some(h) if h.engine() == engine => {
            engine.tag(&built.image.config_digest, &full_tag(tag))?;
            h.release_in_background();
        }
        _ => engine.load(cache, built.image, tag)?,
    }
    if let Some(image) = built.debug {
        engine.load(cache, image, &debug_name(tag))?;
    }
    Ok(())
}
