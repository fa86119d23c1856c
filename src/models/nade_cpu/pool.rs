//! Runs the CPU kernels' work on libtorch's own OpenMP threads.
//!
//! libtorch's OpenMP threads spin for a while after each parallel region
//! before they sleep. Threads of our own that start right after a libtorch
//! operation (an Adam step, a sum) therefore share the cores with spinning
//! threads: on 2 cores that cost the NADE kernel 15–40 % of its rate. Work
//! run inside an OpenMP region of the same runtime (libgomp's
//! `GOMP_parallel`, found in the loaded libtorch) takes those very threads
//! instead. Where no such runtime is loaded, scoped std threads do the work.
use std::ffi::{c_uint, c_void};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

type Region = unsafe extern "C" fn(*mut c_void);
type GompParallel = unsafe extern "C" fn(Region, *mut c_void, c_uint, c_uint);

/// libgomp's `GOMP_parallel(fn, data, num_threads, flags)`, where loaded.
fn gomp_parallel() -> Option<GompParallel> {
    static FOUND: OnceLock<Option<GompParallel>> = OnceLock::new();
    *FOUND.get_or_init(|| {
        // SAFETY: dlsym with a NUL-terminated name in the global scope.
        let f = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"GOMP_parallel".as_ptr()) };
        // SAFETY: where present, the symbol is libgomp's entry point of this
        // signature (its ABI since GCC 4.9).
        (!f.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, GompParallel>(f) })
    })
}

/// `work(0)`, …, `work(parts − 1)` on up to `threads` threads; the results
/// in order. A panic in `work` is raised again in the caller.
pub fn run<R: Send>(parts: usize, threads: usize, work: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let threads = threads.clamp(1, parts.max(1));
    match gomp_parallel() {
        _ if threads == 1 => (0..parts).map(work).collect(),
        Some(parallel) => in_region(parallel, parts, threads, &work),
        None => std::thread::scope(|s| {
            let work = &work;
            let handles: Vec<_> = (0..parts).map(|i| s.spawn(move || work(i))).collect();
            let joined = handles.into_iter().map(|h| h.join());
            joined
                .map(|r| r.unwrap_or_else(|p| panic::resume_unwind(p)))
                .collect()
        }),
    }
}

/// What the threads of one region share: the next part to take, the work
/// and a slot per part for its result.
struct Job<'a, R> {
    next: AtomicUsize,
    work: &'a (dyn Fn(usize) -> R + Sync),
    out: Vec<Mutex<Option<std::thread::Result<R>>>>,
}

fn in_region<R: Send>(
    parallel: GompParallel,
    parts: usize,
    threads: usize,
    work: &(dyn Fn(usize) -> R + Sync),
) -> Vec<R> {
    let job = Job {
        next: AtomicUsize::new(0),
        work,
        out: (0..parts).map(|_| Mutex::new(None)).collect(),
    };
    // SAFETY: `region::<R>` reads `data` as the `Job<R>` that outlives the
    // call (GOMP_parallel returns when every thread of the region is done);
    // threads ≤ parts fits c_uint for any batch we run.
    unsafe {
        parallel(
            region::<R>,
            &job as *const Job<R> as *mut c_void,
            threads as c_uint,
            0,
        )
    };
    job.out
        .into_iter()
        .map(|slot| {
            let done = slot.into_inner().unwrap_or_else(|e| e.into_inner());
            match done.expect("every part ran") {
                Ok(r) => r,
                Err(p) => panic::resume_unwind(p),
            }
        })
        .collect()
}

/// The body every thread of the region runs: parts taken in turn until
/// none is left (so a smaller team than asked for still does them all).
unsafe extern "C" fn region<R>(data: *mut c_void) {
    // SAFETY: `data` is the `Job<R>` of `in_region`, alive for the region.
    let job = unsafe { &*(data as *const Job<R>) };
    loop {
        let i = job.next.fetch_add(1, Ordering::Relaxed);
        if i >= job.out.len() {
            break;
        }
        let result = panic::catch_unwind(AssertUnwindSafe(|| (job.work)(i)));
        *job.out[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_runs_once_and_results_come_in_order() {
        for threads in [1, 2, 3, 8] {
            let got = run(13, threads, |i| i * i);
            assert_eq!(got, (0..13).map(|i| i * i).collect::<Vec<_>>());
        }
        assert!(run(0, 4, |i| i).is_empty());
    }

    #[test]
    fn a_panic_in_the_work_reaches_the_caller() {
        let caught = panic::catch_unwind(|| run(4, 2, |i| assert!(i != 2, "part 2 fails")));
        assert!(caught.is_err());
    }
}
