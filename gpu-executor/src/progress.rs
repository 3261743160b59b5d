//! Progress of long work (hashing and loading weights): an indicatif bar on a terminal, log lines
//! with a percentage (every 10 %) otherwise, so operators and CI logs both see it move.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

/// A progress reporter over a known total (bytes or items).
pub struct Progress {
    label: String,
    total: u64,
    done: AtomicU64,
    last_decile: AtomicU64,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Starts reporting `label` over `total` units; `bytes` selects byte formatting for the bar.
    pub fn new(label: impl Into<String>, total: u64, bytes: bool) -> Self {
        let label = label.into();
        let bar = if std::io::stderr().is_terminal() && total > 0 {
            let bar = ProgressBar::new(total);
            let template = if bytes {
                "{msg} [{bar:40}] {bytes}/{total_bytes} ({percent}%, {eta})"
            } else {
                "{msg} [{bar:40}] {pos}/{len} ({percent}%)"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(label.clone());
            Some(bar)
        } else {
            tracing::info!("{label}: 0%");
            None
        };
        Self { label, total, done: AtomicU64::new(0), last_decile: AtomicU64::new(0), bar }
    }

    /// Adds `n` units of finished work.
    pub fn inc(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed).saturating_add(n);
        if let Some(bar) = &self.bar {
            bar.inc(n);
            return;
        }
        if self.total == 0 {
            return;
        }
        let decile = done.min(self.total).saturating_mul(10) / self.total;
        let prev = self.last_decile.fetch_max(decile, Ordering::Relaxed);
        if decile > prev {
            tracing::info!("{}: {}%", self.label, decile * 10);
        }
    }

    /// Units done so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Ends the report.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        tracing::info!("{}: done", self.label);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_clamps() {
        let p = Progress::new("test", 100, false);
        p.inc(30);
        p.inc(90);
        assert_eq!(p.done(), 120);
        assert_eq!(p.last_decile.load(Ordering::Relaxed), 10);
        p.finish();
    }
}
