//! Process-wide settings: glibc's allocator thresholds, denormal floats
//! flushed to zero, and the panic hook that turns libtorch's panics into one
//! error line.

/// Keeps large freed blocks in glibc's heap instead of returning them to the
/// system, unless `MALLOC_MMAP_THRESHOLD_` / `MALLOC_TRIM_THRESHOLD_` say
/// otherwise. libtorch allocates and frees its large temporary tensors
/// through malloc at every step; with glibc's defaults each comes back from
/// mmap as fresh pages, and the page faults cost the CPU image models a
/// third to a half of their speed in some runs (measured in
/// docs/measurements.md, "The other models beside the same networks in
/// PyTorch"). Call it first thing in `main`.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let unset = |name: &str| std::env::var_os(name).is_none();
        // SAFETY: mallopt only changes glibc's thresholds for later calls.
        unsafe {
            if unset("MALLOC_MMAP_THRESHOLD_") {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
            }
            if unset("MALLOC_TRIM_THRESHOLD_") {
                libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
            }
        }
    }
}

/// Flushes denormal floats (below 1.2e-38 in float32) to zero in this
/// thread and in every thread it starts from now on (Linux threads inherit
/// the SSE control register): the FTZ and DAZ bits of MXCSR, which PyTorch
/// sets with `torch.set_flush_denormal(True)` and tch does not bind.
/// Intel CPUs take a slow path for each denormal operand: a MADE whose
/// logits for the always-black border pixels of MNIST saturate fell from
/// 807 to 230 images/s by its fourth epoch on an Intel Xeon
/// (docs/measurements.md, "Denormal floats"). Likelihoods lose nothing that
/// float32 or float64 could show: a probability below 1e-38 already has a
/// log-probability under −87. Call it first thing in `main`, before
/// libtorch starts its thread pool. On other architectures it does nothing.
pub fn flush_denormals() {
    #[cfg(target_arch = "x86_64")]
    {
        const FLUSH_TO_ZERO: u32 = 1 << 15;
        const DENORMALS_ARE_ZERO: u32 = 1 << 6;
        let mut csr: u32 = 0;
        // SAFETY: stmxcsr and ldmxcsr read and write only this thread's SSE
        // control and status register, through a pointer to a local.
        unsafe {
            std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags));
            csr |= FLUSH_TO_ZERO | DENORMALS_ARE_ZERO;
            std::arch::asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, preserves_flags, readonly));
        }
    }
}

thread_local! {
    /// Set while a panic is expected and handled where it happens (a
    /// device running out of memory during evaluation, which then goes on
    /// with smaller batches): the hook stays silent for it.
    static PANIC_HANDLED_HERE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Prints a panic (libtorch reports its errors as panics) as one short
/// `error: internal error: …` line, never a backtrace; silent for a panic
/// that [`catch_handled_panic`] catches.
pub fn report_panics_as_errors() {
    std::panic::set_hook(Box::new(|info| {
        if PANIC_HANDLED_HERE.with(|h| h.get()) {
            return;
        }
        let msg = panic_message(info.payload());
        if is_closed_stdout(msg) {
            // `arlab plan SPEC | head`: the reader stopped reading, which is
            // its choice, not our error (ripgrep does the same).
            std::process::exit(0);
        }
        eprintln!("error: internal error: {}", first_line(msg));
    }));
}

/// The panic of `println!` when stdout is a pipe whose reader has gone.
fn is_closed_stdout(msg: &str) -> bool {
    msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe")
}

/// What libtorch's error texts say before their C++ backtrace: the first
/// line (also of a message whose newlines a `Debug` formatting escaped,
/// as `unwrap()` shows a `TchError`), without `Exception raised from …`.
pub fn first_line(msg: &str) -> &str {
    let mut end = msg.find('\n').unwrap_or(msg.len());
    for marker in ["\\n", "Exception raised from", "frame #"] {
        if let Some(at) = msg[..end].find(marker) {
            end = at;
        }
    }
    msg[..end].trim_end()
}

/// Prints `err` as the binary ends on an error: `error: …` and one
/// `caused by: …` line per cause, libtorch's causes cut to their first line
/// (never its C++ backtrace); our own multi-line messages stay whole.
pub fn print_error(err: &anyhow::Error) {
    let shown = |e: &(dyn std::error::Error + 'static)| {
        let text = e.to_string();
        if e.downcast_ref::<tch::TchError>().is_some() || text.contains("Exception raised from") {
            first_line(&text).to_string()
        } else {
            text
        }
    };
    let mut chain = err.chain();
    if let Some(top) = chain.next() {
        eprintln!("error: {}", shown(top));
    }
    for cause in chain {
        eprintln!("  caused by: {}", shown(cause));
    }
}

/// The text of a panic's payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("unknown error")
}

/// Runs `f`, returning its panic instead of printing it: for a caller that
/// handles the panic itself.
pub fn catch_handled_panic<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    let was = PANIC_HANDLED_HERE.with(|h| h.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    PANIC_HANDLED_HERE.with(|h| h.set(was));
    result
}

#[cfg(test)]
mod tests {
    use super::{first_line, flush_denormals};
    use std::hint::black_box;

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn denormals_become_zero_in_the_thread_and_the_threads_it_starts() {
        // In a thread of its own, so that no other test's thread is changed.
        std::thread::spawn(|| {
            let tiny = f32::MIN_POSITIVE / 4.0; // a denormal float32
            let x = tch::Tensor::from_slice(&[tiny]);
            assert!((&x * 1.0).double_value(&[]) > 0.0, "kept before the call");
            assert!(black_box(tiny) * black_box(1.0) > 0.0);
            flush_denormals();
            assert_eq!((&x * 1.0).double_value(&[]), 0.0, "libtorch, this thread");
            assert_eq!(black_box(tiny) * black_box(1.0), 0.0, "this thread");
            let child = std::thread::spawn(move || black_box(tiny) * black_box(1.0));
            assert_eq!(child.join().unwrap(), 0.0, "a thread started after it");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn libtorch_texts_are_cut_before_their_backtrace() {
        let torch = "Internal torch error: PytorchStreamReader failed reading zip archive\n\
                     Exception raised from valid at ../caffe2/serialize/inline_container.cc:236\n\
                     frame #0: c10::Error::Error(...)";
        assert_eq!(
            first_line(torch),
            "Internal torch error: PytorchStreamReader failed reading zip archive"
        );
        // As `unwrap()` shows a TchError: Debug, its newlines escaped.
        let escaped = r#"called `Result::unwrap()` on an `Err` value: Torch("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory\nframe #0: c10::ThrowEnforceNotMet")"#;
        assert_eq!(
            first_line(escaped),
            r#"called `Result::unwrap()` on an `Err` value: Torch("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory"#
        );
        assert_eq!(first_line("one line"), "one line");
    }
}
