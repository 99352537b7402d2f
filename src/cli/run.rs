//! `pypack run APP`: builds as `build` does, into the engine, then serves
//! the image on localhost (`pypack::serve`), rebuilding on changes with
//! `--watch`.

use super::Cli;
use super::build::{BuildArgs, Image, build_image};
use anyhow::{Result, bail};
use clap::Args;
use pypack::serve::{Serve, Served};

#[derive(Args)]
#[rustfmt::skip]
pub struct RunArgs {
    #[command(flatten)] build: BuildArgs,
    /// Rebuild and restart the app when a file in the app directory changes.
    #[arg(long)] watch: bool,
    /// The localhost port to serve on (default: the app's own port if free, else a free one).
    #[arg(long, value_name = "PORT")] publish: Option<u16>,
}

pub fn run(cli: &Cli, args: &RunArgs) -> Result<()> {
    let build = &args.build;
    if build.output.output.is_some() || build.output.archive.is_some() || build.push.is_some() {
        bail!(
            "`pypack run` serves the image from the engine; --output, --archive and --push belong to `pypack build`"
        );
    }
    if build.json {
        bail!("`pypack run` prints the app's logs; --json belongs to `pypack build`");
    }
    build
        .base
        .platforms()?
        .single("`pypack run` (it serves this machine's image)")?;
    let built = build_image(cli, build, true, None)?;
    let engine = built.published.loaded_into.clone();
    let serve = Serve {
        engine: engine
            .ok_or_else(|| anyhow::anyhow!("internal: `pypack run` built into no engine"))?,
        tag: pypack::oci::layout::full_tag(&built.tag),
        port: built.report.start.port.value,
        publish: args.publish,
        app_dir: &build.app,
        watch: args.watch,
    };
    let served = |built: &Image| Served {
        manifest_digest: built.report.image.manifest_digest.clone(),
        config_digest: built.report.image.config_digest.clone(),
    };
    // Rebuilds follow what the first smoke run saw (port, writes) without one
    // of their own: the container served next is the check.
    let observed = built.report.smoke.as_ref().map(|s| s.observed().clone());
    let mut rebuild = || build_image(cli, build, true, observed.as_ref()).map(|b| served(&b));
    pypack::serve::serve(&serve, served(&built), &mut rebuild)
}
