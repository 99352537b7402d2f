//! The app as pypack sees it: what it declares it needs (`declared/`: the
//! requirement and lock readers), its plan (base, files to ship, build
//! steps) and how it starts (`providers/`, one file per framework or hint,
//! consulted by `plan` and `start`).

pub mod chain;
pub mod decided;
pub mod declared;
pub mod dockerignore;
pub mod listen;
pub mod locks;
pub mod plan;
pub mod providers;
pub mod python_version;
pub mod start;
pub mod text;
pub mod words;

/// An app directory holding `files` (path, text), for the detection tests.
#[cfg(test)]
pub(crate) fn test_app(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

pub use declared::{
    DirectWheel, LocalProject, RequirementSet, SourcedRequirement, pipfile, poetry, pyproject,
    read_requirements, requirements, setuptools, sources,
};
