//! What cannot be done by copying files: steps that need the target's own
//! interpreter or compiler, run through an installed container engine
//! (podman or docker). Bytecode is compiled by the runtime image's own
//! interpreter (unpacked on this machine where it can run here, else in a
//! container);
//! source distributions are built into wheels in a builder image that is the
//! runtime image plus a compiler and the Python headers; a smoke run starts
//! the finished image once.

pub mod build_deps;
pub mod bytecode;
pub mod collectstatic;
pub mod engine;
pub mod missing;
pub mod sdist;
pub mod smoke;

pub use engine::{Engine, Step};
