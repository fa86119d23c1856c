//! NADE on the CPU over the tensors' memory: the forward pass, and the loss
//! with its hand-derived gradient in one backward sweep; images in small
//! groups per thread.
//!
//! For one image, with a_t = c + Σ_{s<t} W_s x_s, h_t = σ(a_t),
//! l_t = b_t + V_t · h_t and the loss Σ_t softplus(l_t) − x_t l_t:
//! δ_t = σ(l_t) − x_t, ∂b_t = δ_t, ∂V_t = δ_t h_t,
//! ∂a_t = δ_t V_t ⊙ h_t ⊙ (1 − h_t), ∂c = Σ_t ∂a_t and
//! ∂W_s = x_s Σ_{t>s} ∂a_t. Training first sums the running sum to its end,
//! c + Σ_s W_s x_s (no σ needed), then goes backwards over t: a_t comes back
//! by subtracting W_t x_t, and h_t, l_t, the loss and every gradient of step
//! t follow from it, so σ(a_t) is computed once per step and nothing of
//! size D·H is stored per image. A thread takes its images in groups of 8,
//! step by step (each step's rows of W, V and their gradients are then read
//! once per group), and keeps its own gradient sums (2·D·H + D + H): memory
//! O(threads · D·H), never B×D×H. Each step is a few loops over H: in
//! float32 with AVX-512 or AVX2 and FMA those of [`super::nade_simd`], elsewhere
//! portable loops that the compiler vectorizes.
use std::ops::{Add, AddAssign, Mul, Sub};

use super::pool;
use super::simd::Simd;

/// The float types the kernel runs in.
pub trait Real:
    Copy
    + Default
    + Send
    + Sync
    + PartialEq
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + AddAssign
    + tch::kind::Element
{
    const ONE: Self;
    /// σ(x), in a form the compiler can vectorize.
    fn sigmoid(self) -> Self;
    /// log(1 + eˣ), stably.
    fn softplus(self) -> Self;
    fn to_f64(self) -> f64;

    /// Forward step t of one image: V_t · σ(a), then a += x·W_t (`h` is
    /// scratch of length H). The portable loops; float32 overrides these
    /// steps with [`super::nade_simd`] where the CPU has AVX-512, or AVX2 and FMA.
    #[inline(always)]
    fn forward_step(a: &mut [Self], rows: (&[Self], &[Self]), x: Self, h: &mut [Self]) -> Self {
        portable_forward_step(a, rows, x, h)
    }

    /// Backward step t of one image, first half: ∂W_t += x·s (s = Σ_{t'>t}
    /// ∂a_t') and a −= x·W_t (a_t back from the running sum), then
    /// h = σ(a_t); returns V_t · h.
    #[inline(always)]
    fn step_back(
        (a, s): (&mut [Self], &[Self]),
        gw: &mut [Self],
        rows: (&[Self], &[Self]),
        x: Self,
        h: &mut [Self],
    ) -> Self {
        portable_step_back((a, s), gw, rows, x, h)
    }

    /// Backward step t of one image, second half, given δ = σ(l_t) − x_t
    /// and h = σ(a_t): ∂V_t += δ·h and s += δ·V_t ⊙ h ⊙ (1 − h).
    #[inline(always)]
    fn add_step_grads(s: &mut [Self], gv: &mut [Self], v: &[Self], h: &[Self], delta: Self) {
        portable_add_step_grads(s, gv, v, h, delta)
    }
}

impl Real for f64 {
    const ONE: f64 = 1.0;
    #[inline(always)]
    fn sigmoid(self) -> f64 {
        1.0 / (1.0 + (-self).exp())
    }
    fn softplus(self) -> f64 {
        self.max(0.0) + (-self.abs()).exp().ln_1p()
    }
    fn to_f64(self) -> f64 {
        self
    }
}

impl Real for f32 {
    const ONE: f32 = 1.0;
    #[inline(always)]
    fn sigmoid(self) -> f32 {
        1.0 / (1.0 + exp_f32(-self))
    }
    fn softplus(self) -> f32 {
        (self as f64).softplus() as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }

    #[inline(always)]
    fn forward_step(a: &mut [f32], rows: (&[f32], &[f32]), x: f32, h: &mut [f32]) -> f32 {
        match Simd::detect() {
            Some(simd) => simd.forward_step(a, rows.0, rows.1, x),
            None => portable_forward_step(a, rows, x, h),
        }
    }

    #[inline(always)]
    fn step_back(
        running: (&mut [f32], &[f32]),
        gw: &mut [f32],
        rows: (&[f32], &[f32]),
        x: f32,
        h: &mut [f32],
    ) -> f32 {
        match Simd::detect() {
            Some(simd) => simd.step_back(running, gw, rows, x, h),
            None => portable_step_back(running, gw, rows, x, h),
        }
    }

    #[inline(always)]
    fn add_step_grads(s: &mut [f32], gv: &mut [f32], v: &[f32], h: &[f32], delta: f32) {
        match Simd::detect() {
            Some(simd) => simd.add_step_grads(s, gv, v, h, delta),
            None => portable_add_step_grads(s, gv, v, h, delta),
        }
    }
}

/// eˣ in f32 without a library call (so loops over it vectorize): Cephes'
/// `expf` (range reduction by ln 2 in two parts, a degree-5 polynomial,
/// 2ⁿ from the exponent bits), about 1 ulp; x is clamped to [−87, 88].
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2²³: adding it rounds to an integer
    let x = x.clamp(-87.0, 88.0);
    let t = x * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_2e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    let k = t.to_bits().wrapping_sub(MAGIC.to_bits()); // n, two's complement
    e * f32::from_bits(k.wrapping_add(127) << 23)
}

/// NADE's parameters as plain row-major slices: W, V `[D, H]`, c `[H]`, b `[D]`.
pub struct Params<'a, T> {
    pub w: &'a [T],
    pub c: &'a [T],
    pub v: &'a [T],
    pub b: &'a [T],
}

/// Gradient sums of the summed loss, shaped like [`Params`], and the loss.
#[derive(Clone)]
pub struct Grads<T> {
    pub w: Vec<T>,
    pub c: Vec<T>,
    pub v: Vec<T>,
    pub b: Vec<T>,
    pub loss: f64,
}

impl<T: Real> Grads<T> {
    fn zeros(d: usize, h: usize) -> Grads<T> {
        let z = |n| vec![T::default(); n];
        Grads {
            w: z(d * h),
            c: z(h),
            v: z(d * h),
            b: z(d),
            loss: 0.0,
        }
    }

    fn add(mut self, other: &Grads<T>) -> Grads<T> {
        for (a, b) in [
            (&mut self.w, &other.w),
            (&mut self.c, &other.c),
            (&mut self.v, &other.v),
            (&mut self.b, &other.b),
        ] {
            a.iter_mut().zip(b).for_each(|(a, &b)| *a += b);
        }
        self.loss += other.loss;
        self
    }
}

/// The logits `[B·D]` of images `x` `[B·D]` (steps in visiting order).
pub fn logits<T: Real>(p: &Params<T>, x: &[T]) -> Vec<T> {
    let d = p.b.len();
    in_parallel(x, d, |images| {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { logits_avx2(p, images) };
        }
        logits_of(p, images)
    })
    .concat()
}

/// The summed loss of images `x` `[B·D]` and its gradient.
pub fn loss_and_grads<T: Real>(p: &Params<T>, x: &[T]) -> Grads<T> {
    let (d, h) = (p.b.len(), p.c.len());
    let parts = in_parallel(x, d, |images| {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { grads_avx2(p, images) };
        }
        grads_of(p, images)
    });
    let mut parts = parts.into_iter();
    let first = parts.next().unwrap_or_else(|| Grads::zeros(d, h));
    parts.fold(first, |acc, g| acc.add(&g))
}

// The same code compiled for AVX2 (the same arithmetic, wider vectors: the
// results are identical).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn logits_avx2<T: Real>(p: &Params<T>, images: &[T]) -> Vec<T> {
    logits_of(p, images)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn grads_avx2<T: Real>(p: &Params<T>, images: &[T]) -> Grads<T> {
    grads_of(p, images)
}

#[inline(always)]
fn logits_of<T: Real>(p: &Params<T>, images: &[T]) -> Vec<T> {
    let d = p.b.len();
    let mut out = vec![T::default(); images.len()];
    for (xi, li) in images.chunks(d * GROUP).zip(out.chunks_mut(d * GROUP)) {
        forward(p, xi, li);
    }
    out
}

#[inline(always)]
fn grads_of<T: Real>(p: &Params<T>, images: &[T]) -> Grads<T> {
    let (d, h) = (p.b.len(), p.c.len());
    let mut g = Grads::zeros(d, h);
    for xi in images.chunks(d * GROUP) {
        backward(p, xi, final_sums(p, xi), &mut g);
    }
    g
}

/// Runs `work` on contiguous runs of whole images (D values each), one per
/// torch thread, on libtorch's own threads ([`pool`]), and returns the
/// results in order.
fn in_parallel<T: Real, R: Send>(x: &[T], d: usize, work: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    let images = x.len() / d.max(1);
    let threads = (tch::get_num_threads().max(1) as usize).min(images).max(1);
    let per = images.div_ceil(threads) * d;
    let parts: Vec<&[T]> = x.chunks(per.max(1)).collect();
    pool::run(parts.len(), threads, |i| work(parts[i]))
}

/// Images processed together, step by step, so that each step's rows of
/// W, V and their gradients are read once for the group.
const GROUP: usize = 8;

/// A group of images `x` `[G·D]`: the logits `l` `[G·D]`; returns the
/// running sums after the last step, c + Σ_s W_s x_s, `[G·H]`.
#[inline(always)]
fn forward<T: Real>(p: &Params<T>, x: &[T], l: &mut [T]) -> Vec<T> {
    let (d, h) = (p.b.len(), p.c.len());
    let mut a = p.c.repeat(x.len() / d);
    let mut ht = vec![T::default(); h];
    for t in 0..d {
        let rows = (&p.v[t * h..(t + 1) * h], &p.w[t * h..(t + 1) * h]);
        for (i, ai) in a.chunks_mut(h).enumerate() {
            l[i * d + t] = p.b[t] + T::forward_step(ai, rows, x[i * d + t], &mut ht);
        }
    }
    a
}

/// `h = σ(a)` and `v · h` (two loops that vectorize; the dot product in 8
/// partial sums).
#[inline(always)]
fn sigmoid_dot<T: Real>(a: &[T], h: &mut [T], v: &[T]) -> T {
    h.iter_mut().zip(a).for_each(|(h, &a)| *h = a.sigmoid());
    let mut acc = [T::default(); 8];
    let (h8, v8) = (h.chunks_exact(8), v.chunks_exact(8));
    let tail: T =
        (h8.remainder().iter().zip(v8.remainder())).fold(T::default(), |s, (&h, &v)| s + v * h);
    for (h8, v8) in h8.zip(v8) {
        for k in 0..8 {
            acc[k] += v8[k] * h8[k];
        }
    }
    let pairs = [
        acc[0] + acc[4],
        acc[1] + acc[5],
        acc[2] + acc[6],
        acc[3] + acc[7],
    ];
    (pairs[0] + pairs[2]) + (pairs[1] + pairs[3]) + tail
}

/// The running sums after the last step, c + Σ_s W_s x_s `[G·H]`, of a
/// group of images `x` `[G·D]`.
#[inline(always)]
fn final_sums<T: Real>(p: &Params<T>, x: &[T]) -> Vec<T> {
    let (d, h) = (p.b.len(), p.c.len());
    let mut a = p.c.repeat(x.len() / d);
    for (ai, xi) in a.chunks_mut(h).zip(x.chunks(d)) {
        for (t, &xt) in xi.iter().enumerate() {
            if xt != T::default() {
                axpy(ai, xt, &p.w[t * h..(t + 1) * h]);
            }
        }
    }
    a
}

/// A group's loss and gradient, added to `g`: backwards over t from the
/// final running sums `a`, which give a_t back by subtracting W_t x_t;
/// `sum` = Σ_{t'>t} ∂a_t' per image.
#[inline(always)]
fn backward<T: Real>(p: &Params<T>, x: &[T], mut a: Vec<T>, g: &mut Grads<T>) {
    let (d, h) = (p.b.len(), p.c.len());
    let (mut sum, mut ht) = (vec![T::default(); a.len()], vec![T::default(); h]);
    for t in (0..d).rev() {
        let rows = t * h..(t + 1) * h;
        let (vt, wt) = (&p.v[rows.clone()], &p.w[rows.clone()]);
        for (i, (ai, si)) in a.chunks_mut(h).zip(sum.chunks_mut(h)).enumerate() {
            let xt = x[i * d + t];
            let lt = p.b[t] + T::step_back((ai, si), &mut g.w[rows.clone()], (vt, wt), xt, &mut ht);
            g.loss += (lt.softplus() - xt * lt).to_f64();
            let delta = lt.sigmoid() - xt;
            g.b[t] += delta;
            T::add_step_grads(si, &mut g.v[rows.clone()], vt, &ht, delta);
        }
    }
    for si in sum.chunks(h) {
        axpy(&mut g.c, T::ONE, si);
    }
}

/// [`Real::forward_step`] in loops that the compiler vectorizes.
#[inline(always)]
fn portable_forward_step<T: Real>(a: &mut [T], (v, w): (&[T], &[T]), x: T, h: &mut [T]) -> T {
    let dot = sigmoid_dot(a, h, v);
    if x != T::default() {
        axpy(a, x, w);
    }
    dot
}

/// [`Real::step_back`] in loops that the compiler vectorizes.
#[inline(always)]
fn portable_step_back<T: Real>(
    (a, s): (&mut [T], &[T]),
    gw: &mut [T],
    (v, w): (&[T], &[T]),
    x: T,
    h: &mut [T],
) -> T {
    if x != T::default() {
        axpy(gw, x, s);
        axpy(a, T::default() - x, w);
    }
    sigmoid_dot(a, h, v)
}

/// [`Real::add_step_grads`] in loops that the compiler vectorizes.
#[inline(always)]
fn portable_add_step_grads<T: Real>(s: &mut [T], gv: &mut [T], v: &[T], h: &[T], delta: T) {
    axpy(gv, delta, h);
    add_sigmoid_grad(s, delta, v, h);
}

// Small loops as functions of their own: their slice arguments cannot
// alias, so they vectorize when inlined.

/// `y += a·x`.
#[inline(always)]
fn axpy<T: Real>(y: &mut [T], a: T, x: &[T]) {
    y.iter_mut().zip(x).for_each(|(y, &x)| *y += a * x);
}

/// `s += δ·v ⊙ h ⊙ (1 − h)`: ∂a_t = δ_t V_t ⊙ σ'(a_t), added to the running sum.
#[inline(always)]
fn add_sigmoid_grad<T: Real>(s: &mut [T], delta: T, v: &[T], h: &[T]) {
    for (s, (&v, &h)) in s.iter_mut().zip(v.iter().zip(h)) {
        *s += delta * v * (h * (T::ONE - h));
    }
}
