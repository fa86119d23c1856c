//! The pieces the image models are built from: masked convolutions and
//! their helpers (layers), output heads, and the per-pixel cached samplers.
pub mod cached;
pub mod heads;
pub mod layers;
