//! How commands print: a human summary, or with `--json` one JSON value on
//! the last line of stdout; progress bars only on a terminal, on stderr.

use crate::commands::Failure;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lectern_core::progress::{Phase, ScanProgress};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// Prints `value` as one line of JSON.
pub fn json<T: Serialize>(value: &T) {
    match serde_json::to_string(value) {
        Ok(line) => println!("{line}"),
        Err(e) => eprintln!("lectern: cannot encode the result as JSON: {e}"),
    }
}

pub fn failure(failure: &Failure, as_json: bool) {
    eprintln!("lectern: {failure}");
    if as_json {
        json(&serde_json::json!({
            "error": { "code": failure.code(), "message": failure.to_string() }
        }));
    }
}

/// A progress bar that follows a running scan until dropped.
pub struct ScanBar {
    bar: ProgressBar,
    ticker: tokio::task::JoinHandle<()>,
}

impl ScanBar {
    pub fn start(progress: Arc<ScanProgress>) -> ScanBar {
        let bar = ProgressBar::with_draw_target(Some(100), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {percent:>3}%")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style.progress_chars("=> "));
        let shown = bar.clone();
        let ticker = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(120));
            loop {
                every.tick().await;
                let s = progress.snapshot();
                shown.set_position(s.percent as u64);
                shown.set_message(match s.phase {
                    Phase::Starting | Phase::Walking => {
                        format!("walking: {} files seen", s.files_seen)
                    }
                    Phase::Hashing => format!(
                        "hashing: {} of {} MB",
                        s.bytes_hashed / 1_000_000,
                        s.bytes_to_hash / 1_000_000
                    ),
                    Phase::Writing | Phase::Done => "writing".to_owned(),
                });
            }
        });
        ScanBar { bar, ticker }
    }

    pub fn finish(self) {
        self.ticker.abort();
        self.bar.finish_and_clear();
    }
}

/// A bar for the steps of a backup or restore, on stderr and only on a
/// terminal: a spinner for steps of unknown size, bytes for the others.
pub struct StepBar(ProgressBar);

impl StepBar {
    pub fn start() -> Arc<StepBar> {
        let target = match std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            true => ProgressDrawTarget::stderr(),
            false => ProgressDrawTarget::hidden(),
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.enable_steady_tick(Duration::from_millis(120));
        Arc::new(StepBar(bar))
    }

    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl lectern_backup::Progress for StepBar {
    fn step(&self, name: &str, total: Option<u64>) {
        let template = match total {
            Some(total) => {
                self.0.set_length(total);
                self.0.set_position(0);
                "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes}"
            }
            None => {
                self.0.unset_length();
                "{spinner} {msg}"
            }
        };
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        self.0.set_style(style);
        self.0.set_message(name.to_owned());
    }

    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }
}
