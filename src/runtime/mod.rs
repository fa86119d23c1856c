//! What every layer may use at run time and that depends on nothing else in
//! arlab: stop signals, progress bars, provenance, and process-wide
//! settings (the allocator, denormal floats, the panic hook).
pub mod process;
pub mod progress;
pub mod provenance;
pub mod signals;

pub use process::{
    catch_handled_panic, first_line, flush_denormals, panic_message, print_error,
    report_panics_as_errors, tune_allocator,
};
pub use progress::progress_bar;
