//! The app as pypack sees it. So far: where its requirements come from
//! (`requirements.txt` in pip's syntax, `pyproject.toml` PEP 621 fields).

pub mod pyproject;
pub mod requirements;

pub use requirements::{DirectWheel, RequirementSet, SourcedRequirement};
