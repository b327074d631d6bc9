//! Progress bars on the terminal for the library's long runs ([`splitbench::study::Progress`]).

use indicatif::{ProgressBar, ProgressStyle};
use std::time::Duration;

/// One bar (or spinner) per stage; the previous stage's bar is cleared when the next begins.
#[derive(Default)]
pub struct Bars {
    bar: Option<ProgressBar>,
}

impl Bars {
    /// A spinner for a single step of unknown length.
    pub fn spinner(what: &str) -> ProgressBar {
        let s = ProgressBar::new_spinner();
        s.set_message(what.to_string());
        s.enable_steady_tick(Duration::from_millis(200));
        s
    }
}

impl splitbench::study::Progress for Bars {
    fn stage(&mut self, what: &str, total: Option<usize>) {
        self.done();
        self.bar = Some(match total {
            Some(n) => {
                let pb = ProgressBar::new(n as u64);
                pb.set_style(
                    ProgressStyle::with_template("{msg:<28} [{bar:30}] {pos}/{len} {elapsed}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                pb.set_message(what.to_string());
                pb
            }
            None => Self::spinner(what),
        });
    }

    fn step(&mut self) {
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }

    fn done(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        splitbench::study::Progress::done(self);
    }
}
