//! The ordering adapters, which keep orderings out of the models: a
//! fully-connected net on the image permuted into visiting order (seq), a
//! raster-scan net on the image transformed so that the ordering becomes
//! raster order (raster), and locally masked convolutions for any ordering
//! (local).
pub mod local;
pub mod raster;
pub mod seq;
