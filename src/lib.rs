//! pypack: turn a Python application directory into a container image,
//! without a Dockerfile or a daemon.
//!
//! The library is split by pipeline stage; [`build`] runs them in order
//! (plan → base → tools → resolve → install → app layer → audit → build
//! steps → config → smoke), [`publish`] puts the result where it is asked;
//! the `pypack` binary is a thin clap layer over both. A module imports
//! only modules of its own rank or below (vocabulary, storage, formats,
//! clients, then the stages in order, then the pipeline), and no two files
//! import each other: the README's Architecture section has the table, and
//! `tests/structure.rs` checks it.

pub mod audit;
pub mod base;
pub mod build;
pub mod builder;
pub mod cache;
pub mod config;
pub mod debian;
pub mod digest;
pub mod glob;
pub mod http;
pub mod index;
pub mod inspect;
pub mod install;
pub mod limits;
pub mod oci;
pub mod parallel;
pub mod platform;
pub mod progress;
pub mod project;
pub mod publish;
pub mod python;
pub mod rebase;
pub mod registry;
pub mod registry_cache;
pub mod resolve;
pub mod sandbox;
pub mod sbom;
pub mod serve;
pub mod tidy;
pub mod walk;
pub mod watch;
pub mod wheel;

/// Seconds since 1970 by the system clock (0 if the clock is before 1970);
/// used to age cached indexes and pages.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// With `PYPACK_TIMINGS` set, says on stderr that a step of the build is
/// done, with the seconds since the first such mark: the profile that the
/// speed work is measured by.
pub fn mark(step: &str) {
    static START: std::sync::OnceLock<Option<std::time::Instant>> = std::sync::OnceLock::new();
    let start =
        START.get_or_init(|| std::env::var_os("PYPACK_TIMINGS").map(|_| std::time::Instant::now()));
    if let Some(start) = start {
        eprintln!("timing: {:7.3} s  {step}", start.elapsed().as_secs_f64());
    }
}
