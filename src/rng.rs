//! Seeded randomness that does not touch libtorch's global generator, so
//! that sampling a grid mid-training cannot change the training stream and a
//! resumed run can re-derive every epoch's randomness from (seed, epoch).
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::{Device, Tensor};

/// A generator for one purpose (`stream`) of one run (`seed`).
pub fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    // SplitMix-style mixing keeps nearby (seed, stream) pairs unrelated.
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ChaCha8Rng::seed_from_u64(z ^ (z >> 31))
}

/// `n` uniforms in [0, 1) as a float tensor of `shape` on `device`.
pub fn uniform(rng: &mut ChaCha8Rng, shape: &[i64], device: Device) -> Tensor {
    let n: i64 = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random::<f32>()).collect();
    Tensor::from_slice(&v).view(shape).to_device(device)
}

/// A seeded permutation of 0..n.
pub fn permutation(rng: &mut ChaCha8Rng, n: usize) -> Vec<i64> {
    use rand::seq::SliceRandom;
    let mut v: Vec<i64> = (0..n as i64).collect();
    v.shuffle(rng);
    v
}

/// A 64-bit number for one event (`n`) of one run (`seed`), e.g. the
/// minibatch whose ordering a model draws.
pub fn key(seed: u64, n: u64) -> u64 {
    stream(seed, n ^ 0xD1CE_0000_0000_0000).random()
}
