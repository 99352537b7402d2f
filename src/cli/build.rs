//! `pypack build`: flags → a build request and a publish request; the
//! build's report printed (text or JSON).

use super::Cli;
use super::args::{BaseArgs, CacheSharing, IndexArgs, OutputArgs};
use anyhow::Result;
use clap::Args;
use pypack::base::BaseOptions;
use pypack::build::publish::Sharing;
use pypack::build::{BuildReport, summary};
use pypack::cache::Cache;
use pypack::platform::{Platform, PlatformChoice};
use pypack::project::plan::Overrides;
use pypack::publish::{Destination, Published, PublishedIndex, check_tag};
use pypack::registry::{Reference, RegistriesConf};
use pypack::registry_cache::RegistryCache;
use std::path::PathBuf;

#[derive(Args)]
#[rustfmt::skip]
pub struct BuildArgs {
    /// The app directory.
    pub app: PathBuf,
    #[command(flatten)] pub base: BaseArgs,
    #[command(flatten)] index: IndexArgs,
    /// The command to run, e.g. "gunicorn app:app" (default: detected).
    #[arg(long)] cmd: Option<String>,
    /// The port the app listens on (default: detected, else 8000).
    #[arg(long)] port: Option<String>,
    /// Run as root instead of nonroot (65532).
    #[arg(long)] root: bool,
    /// Allow pre-releases.
    #[arg(long)] pre: bool,
    /// Include this optional-dependencies group of pyproject.toml (repeatable).
    #[arg(long, value_name = "GROUP")] extra: Vec<String>,
    /// Include this dependency group: PEP 735 [dependency-groups], a Poetry
    /// group, or a Pipfile's dev-packages (`dev`) (repeatable).
    #[arg(long, value_name = "NAME")] group: Vec<String>,
    /// Install exactly APP/pylock.toml (or a fitting uv.lock, poetry.lock,
    /// Pipfile.lock, pdm.lock); fail if there is none.
    #[arg(long)] locked: bool,
    /// Resolve afresh, ignoring uv.lock, poetry.lock, Pipfile.lock and pdm.lock.
    #[arg(long)] relock: bool,
    /// Add this production server to the dependencies and serve the app with it
    /// (gunicorn, uvicorn, granian, hypercorn, waitress); `none`: add none, even
    /// when no server is installed (the framework's own server then).
    #[arg(long, value_name = "NAME")] server: Option<String>,
    #[command(flatten)] pub output: OutputArgs,
    /// Load the image into a container engine (podman or docker).
    #[arg(long, conflicts_with_all = ["output", "archive"])] load: bool,
    /// Engine for --load and the builder (default: podman if installed, else docker).
    #[arg(long, value_name = "podman|docker")] engine: Option<String>,
    /// Do not compile .pyc files (the image starts slower; no engine is needed for it).
    #[arg(long)] no_compile: bool,
    /// Run the built image once and fail if its entrypoint does not import or answer
    /// (default: on when podman or docker is installed).
    #[arg(long, conflicts_with = "no_smoke")] smoke: bool,
    /// Do not run the built image once.
    #[arg(long)] no_smoke: bool,
    /// A NAME=VALUE setting the app needs to start, for the smoke run only (repeatable;
    /// not written into the image).
    #[arg(long, value_name = "NAME=VALUE", conflicts_with = "no_smoke")] smoke_env: Vec<String>,
    /// Build on this registry image instead of a recipe's base (e.g. localhost:5000/python:3.12-slim).
    #[arg(long = "base", value_name = "REF", conflicts_with_all = ["recipe", "python"])]
    base_image: Option<String>,
    /// With --base: the image to build source distributions in (default: the full
    /// variant of a -slim base, e.g. python:3.12 for python:3.12-slim).
    #[arg(long, value_name = "REF", requires = "base_image")] builder_image: Option<String>,
    /// Push the image to a registry: REGISTRY/REPOSITORY[:TAG] (alone, it is the only destination).
    #[arg(long, value_name = "REF")] pub push: Option<String>,
    /// Speak plain HTTP to the --push registry (loopback only).
    #[arg(long)] insecure_registry: bool,
    #[command(flatten)] sharing: CacheSharing,
    /// Treat this shared library as present in the image even though no
    /// package ships it (for a file of a package that is never loaded; repeatable).
    #[arg(long, value_name = "NAME")] ignore_missing_library: Vec<String>,
    /// Print one JSON summary on stdout instead of text.
    #[arg(long)] pub json: bool,
    /// Also make the debug variant, NAME:TAG-debug: the same image plus a
    /// static busybox at /busybox (a shell and the usual tools, on PATH).
    #[arg(long)] debug: bool,
    /// Also write the image's bill of materials into DIR, as NAME.spdx.json
    /// and NAME.cdx.json (NAME-ARCH.… for each of several platforms).
    #[arg(long, value_name = "DIR")] sbom: Option<PathBuf>,
}

/// What `build_image` made, its name, and where it went.
pub struct Image {
    pub report: BuildReport,
    pub tag: String,
    pub published: Published,
}

pub type Seen<'a> = Option<&'a pypack::builder::smoke::Observed>;

pub fn build(cli: &Cli, args: &BuildArgs) -> Result<()> {
    match args.base.platforms()? {
        PlatformChoice::List(l) if l.len() == 1 => build_image(cli, args, false, None).map(drop),
        choice => build_index(cli, args, &choice),
    }
}

/// Everything a build checks and opens before the work.
struct Prepared {
    base_options: BaseOptions,
    /// `--engine`, else the config file's.
    engine: Option<String>,
    /// The image's name (`-t`, else the app directory's) and where it goes.
    publish: pypack::publish::Request,
    cache: Cache,
    /// The registry cache to push what the build used to.
    cache_to: Option<RegistryCache>,
}

/// A build's start checked, its destination decided (`load`: the engine
/// whatever the flags say; `None`: several platforms' images) and its
/// cache opened.
fn prepare(cli: &Cli, args: &BuildArgs, load: Option<bool>) -> Result<Prepared> {
    let (_, base_options) = args.base.options_for("debian12", cli.quiet || args.json)?;
    let tag = (args.output.tag.clone()).unwrap_or_else(|| pypack::publish::name_of_app(&args.app));
    check_tag(&tag)?;
    let push = args.push.as_deref().map(Reference::parse).transpose()?;
    let engine = super::engine_choice(&args.engine)?;
    let (written, pushed, platforms) = (args.output.written(), push.is_some(), &args.base.platform);
    let destination = Destination::of_build(
        written,
        load,
        args.load,
        pushed,
        engine.as_deref(),
        &tag,
        platforms,
    )?;
    let quiet = cli.quiet || args.json;
    let (cache, cache_to) = args
        .sharing
        .share(cli.cache()?, args.insecure_registry, quiet)?;
    args.index.ask_default_early(&cache);
    let publish = pypack::publish::Request {
        tag,
        destination,
        push,
        plain_http: args.insecure_registry,
        base_image: args.base_image.clone(),
        sbom_dir: args.sbom.clone(),
    };
    Ok(Prepared {
        base_options,
        engine,
        publish,
        cache,
        cache_to,
    })
}

/// An image built as `build` does, its name, and its destination said;
/// `load` makes the engine the destination whatever the flags say.
/// `seen`: what an earlier smoke run saw, followed without one (`run --watch`).
pub fn build_image(cli: &Cli, args: &BuildArgs, load: bool, seen: Seen) -> Result<Image> {
    let prepared = prepare(cli, args, Some(load))?;
    let (cache, publish) = (&prepared.cache, &prepared.publish);
    let env = |name: &str| std::env::var(name).ok();
    let request =
        build_request(args, prepared.base_options, prepared.engine, &env)?.following(seen);
    let to = prepared.cache_to.as_ref();
    let sharing = Sharing {
        to,
        quiet: cli.quiet || args.json,
    };
    let delivered = pypack::build::publish::image(&request, publish, sharing, cache)?;
    let (report, tag, went) = (
        delivered.report,
        publish.tag.clone(),
        delivered.published.went(),
    );
    match args.json {
        true => println!(
            "{}",
            serde_json::to_string_pretty(&summary::to_json(&report, &tag, &went))?
        ),
        false => print_summary(cli.quiet, &report, &tag, &went),
    }
    // An engine's hold on an image it was not loaded into goes after the summary.
    drop(delivered.held);
    let published = delivered.published;
    Ok(Image {
        report,
        tag,
        published,
    })
}

/// `build` for several platforms: one image each, in one index.
fn build_index(cli: &Cli, args: &BuildArgs, choice: &PlatformChoice) -> Result<()> {
    let prepared = prepare(cli, args, None)?;
    let (cache, publish) = (&prepared.cache, &prepared.publish);
    let env = |name: &str| std::env::var(name).ok();
    let request = build_request(args, prepared.base_options, prepared.engine, &env)?;
    let to = prepared.cache_to.as_ref();
    let sharing = Sharing {
        to,
        quiet: cli.quiet || args.json,
    };
    let asked = (choice, args.base.platform.as_str());
    let (reports, published, _helds) =
        pypack::build::publish::index(&request, asked, publish, sharing, cache)?;
    print_index(cli.quiet, args.json, &reports, &publish.tag, &published)
}

/// An index build's summary: JSON, or a line per platform (unless
/// `quiet`) and where the index went.
fn print_index(
    quiet: bool,
    json: bool,
    reports: &[BuildReport],
    tag: &str,
    published: &PublishedIndex,
) -> Result<()> {
    let (went, digest) = (published.published.went(), &published.index.digest);
    if json {
        let summary = summary::index_json(reports, tag, digest, &went);
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(());
    }
    if !quiet {
        let host = Platform::host();
        reports
            .iter()
            .for_each(|r| eprintln!("{}", summary::platform_line(r, host)));
    }
    let debug = published.debug_index.as_ref().map(|d| d.digest.as_str());
    let index = (digest.as_str(), reports.len());
    summary::index_result_lines(tag, index, debug, &went)
        .iter()
        .for_each(|l| println!("{l}"));
    Ok(())
}

/// The text summary: how the image was decided and what it holds (unless
/// `quiet`), then where it went.
fn print_summary(quiet: bool, report: &BuildReport, tag: &str, went: &str) {
    if !quiet {
        summary::detail_lines(report)
            .iter()
            .for_each(|l| eprintln!("{l}"));
    }
    summary::result_lines(report, tag, went)
        .iter()
        .for_each(|l| println!("{l}"));
}

/// What `build` asks of the library, from its flags.
fn build_request<'a>(
    args: &'a BuildArgs,
    base_options: BaseOptions,
    engine: Option<String>,
    env: &'a dyn Fn(&str) -> Option<String>,
) -> Result<pypack::build::BuildRequest<'a>> {
    let resolve = |r: &str| RegistriesConf::from_host().resolve(r);
    // The flags conflict: at most one is given.
    let smoke = (args.smoke || args.no_smoke).then_some(args.smoke);
    Ok(pypack::build::BuildRequest {
        host_smoke: None,
        app_dir: &args.app,
        overrides: Overrides {
            python: args.base.python.clone(),
            recipe: args.base.recipe.clone(),
            cmd: args.cmd.clone(),
            port: args.port.clone(),
        },
        base: base_options,
        index: args.index.settings(),
        pre: args.pre,
        extras: args.extra.clone(),
        groups: args.group.clone(),
        locked: args.locked,
        relock: args.relock,
        server: args.server.clone(),
        as_root: args.root,
        base_image: (args.base_image.as_deref())
            .map(|r| resolve(r).map(|r| (r, args.insecure_registry)))
            .transpose()?,
        env,
        home: std::env::var_os("HOME").map(PathBuf::from),
        steps: pypack::build::BuilderSteps {
            compile: !args.no_compile,
            smoke,
            engine,
            binary: args.index.binary()?,
            builder_image: args.builder_image.as_deref().map(resolve).transpose()?,
            smoke_env: args.smoke_env.clone(),
            ..Default::default()
        },
        ignore_missing_libraries: args.ignore_missing_library.clone(),
        debug: args.debug,
        plan_warnings: true,
        host_steps: None,
    })
}
