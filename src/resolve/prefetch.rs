//! Speculative fetching while PubGrub decides: every package name the
//! resolver meets is handed to a few worker threads, which fetch its index
//! page, the core metadata of the version it will most likely pick (the
//! newest final release with a wheel the target installs), and go on with
//! that version's dependencies. The resolver itself stays single-threaded
//! and deterministic: it asks the index as before and finds the answers
//! there already (the index coalesces a request in flight), so the pins are
//! the same with or without prefetching; only the waiting is shared.

use crate::index::{DistFile, Index, normalize_name};
use crate::python::{TagRanks, Target, WheelFilename};
use pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::MarkerEnvironment;
use std::collections::{HashSet, VecDeque};
use std::str::FromStr;
use std::sync::{Condvar, Mutex};

/// Names waiting to be fetched, and every name ever queued.
#[derive(Default)]
struct Queue {
    waiting: VecDeque<String>,
    seen: HashSet<String>,
    done: bool,
}

pub struct Prefetcher<'a> {
    index: &'a Index<'a>,
    env: MarkerEnvironment,
    tags: TagRanks,
    python: Version,
    queue: Mutex<Queue>,
    ready: Condvar,
}

impl<'a> Prefetcher<'a> {
    pub fn new(index: &'a Index<'a>, target: &Target, allow_linux_tag: bool) -> Prefetcher<'a> {
        Prefetcher {
            index,
            env: target.marker_environment(),
            tags: target.tag_ranks(allow_linux_tag),
            python: Version::new([
                target.python.0 as u64,
                target.python.1 as u64,
                target.python.2 as u64,
            ]),
            queue: Mutex::default(),
            ready: Condvar::new(),
        }
    }

    /// Queues names not queued before.
    pub fn want<'n>(&self, names: impl IntoIterator<Item = &'n str>) {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        for name in names {
            let name = normalize_name(name);
            if queue.seen.insert(name.clone()) {
                queue.waiting.push_back(name);
                self.ready.notify_one();
            }
        }
    }

    /// Ends the workers' loops (what is still queued is dropped).
    pub fn finish(&self) {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).done = true;
        self.ready.notify_all();
    }

    /// A worker's loop: fetch what is queued until `finish`.
    pub fn work(&self) {
        while let Some(name) = self.next() {
            self.fetch(&name);
        }
    }

    fn next(&self) -> Option<String> {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if queue.done {
                return None;
            }
            if let Some(name) = queue.waiting.pop_front() {
                return Some(name);
            }
            queue = self.ready.wait(queue).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The page of `name` and the metadata of its likely pick; queues that
    /// pick's dependencies. Failures are left for the resolver to meet (and
    /// report) when it asks for the same thing.
    fn fetch(&self, name: &str) {
        let Ok(files) = self.index.files(name) else {
            return;
        };
        let Some(file) = self.likely_pick(&files) else {
            return;
        };
        let Ok(metadata) = self.index.metadata(&file) else {
            return;
        };
        let dependencies: Vec<String> = metadata
            .requires_dist
            .iter()
            .filter(|r| r.marker.evaluate(&self.env, &[]))
            .map(|r| r.name.to_string())
            .collect();
        self.want(dependencies.iter().map(String::as_str));
    }

    /// The best-ranked wheel of the newest final, unyanked version the
    /// target can install; never an sdist (learning its metadata may mean
    /// building it, which is not for guessing).
    fn likely_pick(&self, files: &[DistFile]) -> Option<DistFile> {
        let mut best: Option<(Version, usize, &DistFile)> = None;
        for file in files.iter().filter(|f| !f.yanked) {
            let Some(wheel) = WheelFilename::read(&file.filename) else {
                continue;
            };
            let Ok(version) = Version::from_str(&wheel.version) else {
                continue;
            };
            if version.any_prerelease() {
                continue;
            }
            let Some(rank) = self.tags.rank(&wheel) else {
                continue;
            };
            if let Some(rp) = &file.requires_python
                && let Ok(spec) = VersionSpecifiers::from_str(rp)
                && !spec.contains(&self.python)
            {
                continue;
            }
            let better = match &best {
                None => true,
                Some((v, r, _)) => version > *v || (version == *v && rank < *r),
            };
            if better {
                best = Some((version, rank, file));
            }
        }
        best.map(|(_, _, file)| file.clone())
    }
}
