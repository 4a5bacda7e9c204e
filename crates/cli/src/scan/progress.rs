//! Progress of a long scan: the [`Progress`] port, a bar on a terminal's stderr ([`Bar`],
//! `indicatif`), or nothing ([`Silent`]: not a terminal, `--quiet`, tests).

use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Told about each input as it is done.
pub trait Progress: Sync {
    /// The inputs to read, once listed.
    fn start(&self, inputs: u64);
    /// One input done, with its bytes.
    fn done(&self, name: &str, bytes: u64);
    /// The scan is over.
    fn finish(&self);
}

/// No progress shown.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: u64) {}
    fn done(&self, _: &str, _: u64) {}
    fn finish(&self) {}
}

/// A bar on standard error: inputs done of all, bytes read, rate, time left.
#[derive(Debug)]
pub struct Bar {
    bar: ProgressBar,
    bytes: AtomicU64,
}

impl Bar {
    /// A bar drawn on stderr (at most 10 times a second).
    pub fn new() -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(10));
        let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} inputs, {msg} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Self { bar, bytes: AtomicU64::new(0) }
    }
}

impl Default for Bar {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for Bar {
    fn start(&self, inputs: u64) {
        self.bar.set_length(inputs);
    }

    fn done(&self, _name: &str, bytes: u64) {
        self.bar.inc(1);
        let total = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.bar.set_message(format!("{:.1} MB read", total as f64 / 1e6));
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
