//! Progress for the slow steps (downloads, layer writing): an indicatif bar
//! when stderr is a terminal, one plain line otherwise, nothing when quiet.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar over `total` items (or a spinner when `total` is 0).
    pub fn start(label: &str, total: u64, enabled: bool) -> Progress {
        if !enabled {
            return Progress { bar: None };
        }
        if !std::io::stderr().is_terminal() {
            eprintln!("{label}");
            return Progress { bar: None };
        }
        let bar = if total == 0 {
            ProgressBar::new_spinner()
        } else {
            ProgressBar::new(total)
        };
        let template = if total == 0 {
            "{spinner} {msg}"
        } else {
            "{msg} [{bar:30}] {pos}/{len}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Progress { bar: Some(bar) }
    }

    pub fn inc(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
