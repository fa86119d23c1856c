//! Link libtorch so that its CUDA half is really loaded.
//!
//! torch-sys links `libtorch_cpu` and friends, but the linker drops
//! `libtorch.so` / `libtorch_cuda.so` as "unused" (`--as-needed`), and then
//! `tch::Cuda::is_available()` is false even on a GPU machine (tch-rs issues
//! #177, #291, #787). We force them in with `--no-as-needed` and bake an rpath
//! to libtorch's lib directory so the binary runs without LD_LIBRARY_PATH.
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // Exported by torch-sys (links = "tch") as `cargo:libtorch_lib=...`.
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        println!("cargo:warning=torch-sys did not report libtorch's lib dir; no rpath added");
        return;
    };
    println!("cargo:rustc-link-search=native={lib}");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
    if Path::new(&lib).join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-ltorch_cuda");
    }
    println!("cargo:rustc-link-arg=-ltorch");
    println!("cargo:rustc-link-arg=-Wl,--as-needed");
}
