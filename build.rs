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
    git_commit();
    // Exported by torch-sys (links = "tch") as `cargo:libtorch_lib=...`.
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        println!("cargo:warning=torch-sys did not report libtorch's lib dir; no rpath added");
        println!("cargo:rustc-env=ARLAB_TORCH_VERSION=unknown");
        return;
    };
    // The libtorch version, for `arlab doctor` (torch/version.py beside lib/).
    let version_py = Path::new(&lib).join("../version.py");
    println!("cargo:rerun-if-changed={}", version_py.display());
    let version = std::fs::read_to_string(&version_py)
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("__version__ = ")
                    .map(|v| v.trim_matches(['\'', '"']).to_string())
            })
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=ARLAB_TORCH_VERSION={version}");
    libtorch_shims(Path::new(&lib));
    println!("cargo:rustc-link-search=native={lib}");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
    if Path::new(&lib).join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-ltorch_cuda");
    }
    println!("cargo:rustc-link-arg=-ltorch");
    println!("cargo:rustc-link-arg=-Wl,--as-needed");
}

/// src/autocast.cpp and src/cuda_memory.cpp, the few libtorch calls that
/// tch does not bind, against the headers beside libtorch's lib directory.
fn libtorch_shims(lib: &Path) {
    let files = ["src/autocast.cpp", "src/cuda_memory.cpp"];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    cc::Build::new()
        .cpp(true)
        .files(files)
        .include(lib.join("../include"))
        .flag("-std=c++17")
        .warnings(false)
        .compile("arlab_libtorch_shims");
}

/// `ARLAB_GIT_COMMIT`: the commit of the checkout arlab is built from (empty
/// outside one), re-read when HEAD moves.
fn git_commit() {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "HEAD"]).unwrap_or_default();
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        for f in ["HEAD", "logs/HEAD"] {
            println!("cargo:rerun-if-changed={dir}/{f}");
        }
    }
    println!("cargo:rustc-env=ARLAB_GIT_COMMIT={commit}");
}
