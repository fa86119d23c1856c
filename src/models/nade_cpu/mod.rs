//! NADE's CPU kernel: the forward and hand-derived backward pass (kernel),
//! its AVX-512/AVX2 loops (simd), run on libtorch's OpenMP threads (pool).
pub mod kernel;
pub mod pool;
pub mod simd;
