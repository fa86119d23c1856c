//! `arlab`: see `arlab --help` and the README.
fn main() {
    arlab::tune_allocator();
    // libtorch reports its errors as Rust panics; show them as short errors,
    // never as a panic message with a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("unknown error");
        let first = msg.lines().next().unwrap_or(msg);
        eprintln!("error: internal error: {first}");
    }));
    match std::panic::catch_unwind(arlab::cli::run) {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            std::process::exit(1);
        }
        Err(_) => std::process::exit(101),
    }
}
