//! Progress bars: one style for every long loop (training epochs, scoring).
use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `len` batches labelled `prefix`; hidden when `quiet`.
pub fn progress_bar(quiet: bool, len: u64, prefix: String) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} batches  {msg}  eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(prefix);
    bar
}
