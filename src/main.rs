//! `arlab`: see `arlab --help` and the README.
fn main() {
    arlab::runtime::tune_allocator();
    arlab::runtime::flush_denormals();
    // libtorch reports its errors as Rust panics; show them as short errors,
    // never as a panic message with a backtrace.
    arlab::runtime::report_panics_as_errors();
    match std::panic::catch_unwind(arlab::cli::main) {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            arlab::runtime::print_error(&err);
            std::process::exit(1);
        }
        Err(_) => std::process::exit(101),
    }
}
