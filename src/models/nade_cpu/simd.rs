//! NADE's inner loops in float32 with AVX-512 or AVX2 and FMA: one step of
//! one image, over the H hidden units, 16 or 8 at a time, with σ computed
//! in registers (Cephes' exp polynomial with fused multiply-adds and a
//! reciprocal refined by one Newton step, about 2 ulp) and every vector of
//! the running sums read and written once per step. The portable loops in
//! [`super::nade_kernel`] compute the same thing; the tests below compare
//! every width this CPU runs with a float64 reference, and the kernel's
//! test compares the float32 kernel with libtorch.
//!
//! The 16-lane loops take the tail of H in a masked vector; the 8-lane
//! ones finish it one value at a time. On a 2-core AMD EPYC (Zen 4) the
//! 16-lane loops evaluate about 1.5× as fast as the 8-lane ones: the work
//! is bound by instructions issued, not by arithmetic units.
use std::sync::OnceLock;

/// The widest loops this CPU runs. A value exists only where its
/// instructions are available ([`Simd::detect`]), which is what makes its
/// methods safe to call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Simd(Lanes);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Lanes {
    Eight,
    Sixteen,
}

impl Simd {
    /// The widest loops this CPU runs, if any (checked once).
    pub fn detect() -> Option<Simd> {
        static FOUND: OnceLock<Option<Simd>> = OnceLock::new();
        *FOUND.get_or_init(|| Simd::every().last().copied())
    }

    /// Every width this CPU runs, narrowest first.
    fn every() -> Vec<Simd> {
        let mut found = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                found.push(Simd(Lanes::Eight));
            }
            if std::is_x86_feature_detected!("avx512f") {
                found.push(Simd(Lanes::Sixteen));
            }
        }
        found
    }

    /// Forward step t of one image: returns V_t · σ(a) over the running sum
    /// `a` (c + Σ_{s<t} W_s x_s) and then adds x·W_t to it. The slices
    /// have one length.
    pub fn forward_step(self, a: &mut [f32], v: &[f32], w: &[f32], x: f32) -> f32 {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `self` exists only where the CPU has these instructions.
        unsafe {
            match self.0 {
                Lanes::Eight => forward_step(a, v, w, x),
                Lanes::Sixteen => forward_step_512(a, v, w, x),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("{self:?} on a CPU without it")
    }

    /// Backward step t of one image, first half: ∂W_t += x·s (with s =
    /// Σ_{t'>t} ∂a_t') and a −= x·W_t (a_t back from the running sum), then
    /// h = σ(a_t) into `h`; returns V_t · h. The slices have one length.
    pub fn step_back(
        self,
        (a, s): (&mut [f32], &[f32]),
        gw: &mut [f32],
        (v, w): (&[f32], &[f32]),
        x: f32,
        h: &mut [f32],
    ) -> f32 {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `self` exists only where the CPU has these instructions.
        unsafe {
            match self.0 {
                Lanes::Eight => step_back(a, s, gw, v, w, x, h),
                Lanes::Sixteen => step_back_512(a, s, gw, v, w, x, h),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("{self:?} on a CPU without it")
    }

    /// Backward step t of one image, second half, given δ = σ(l_t) − x_t and
    /// h = σ(a_t): ∂V_t += δ·h and s += δ·V_t ⊙ h ⊙ (1 − h). The slices
    /// have one length.
    pub fn add_step_grads(self, s: &mut [f32], gv: &mut [f32], v: &[f32], h: &[f32], delta: f32) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `self` exists only where the CPU has these instructions.
        unsafe {
            match self.0 {
                Lanes::Eight => add_step_grads(s, gv, v, h, delta),
                Lanes::Sixteen => add_step_grads_512(s, gv, v, h, delta),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("{self:?} on a CPU without it")
    }
}

#[cfg(target_arch = "x86_64")]
use x86::*;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// e^x is computed for x clamped to [−EXP_MAX, EXP_MAX] (finite in f32).
    const EXP_MAX: f32 = 87.0;
    /// ln 2 in two parts, the first exact in few bits (Cephes).
    const LN2: [f32; 2] = [0.693_359_4, -2.121_944_4e-4];
    /// Cephes' coefficients of (e^r − 1 − r)/r², highest degree first.
    const EXP_POLY: [f32; 6] = [
        1.987_569_1e-4,
        1.398_2e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        0.5,
    ];

    /// [`forward_step`] in 16 lanes with AVX-512 (the tail in a masked vector;
    /// 2ⁿ by `scalef`; a 14-bit reciprocal refined by one Newton step).
    ///
    /// # Safety
    /// The CPU must have AVX-512F; `a`, `v`, `w` have the same
    /// length.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn forward_step_512(a: &mut [f32], v: &[f32], w: &[f32], x: f32) -> f32 {
        let h = a.len();
        assert!(v.len() == h && w.len() == h);
        let (pa, pv, pw) = (a.as_mut_ptr(), v.as_ptr(), w.as_ptr());
        let xv = _mm512_set1_ps(x);
        let mut acc = _mm512_setzero_ps();
        let mut k = 0;
        // SAFETY (all loads and stores): lanes at k + 16 > h are masked off.
        while k < h {
            let m = lanes(h - k);
            let av = _mm512_maskz_loadu_ps(m, pa.add(k));
            acc = _mm512_fmadd_ps(sigmoid16(av), _mm512_maskz_loadu_ps(m, pv.add(k)), acc);
            if x != 0.0 {
                let new = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(m, pw.add(k)), av);
                _mm512_mask_storeu_ps(pa.add(k), m, new);
            }
            k += 16;
        }
        _mm512_reduce_add_ps(acc)
    }

    /// [`step_back`] in 16 lanes with AVX-512.
    ///
    /// # Safety
    /// The CPU must have AVX-512F; every slice has the same
    /// length.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn step_back_512(
        a: &mut [f32],
        s: &[f32],
        gw: &mut [f32],
        v: &[f32],
        w: &[f32],
        x: f32,
        h: &mut [f32],
    ) -> f32 {
        let n = a.len();
        assert!(s.len() == n && gw.len() == n && v.len() == n && w.len() == n && h.len() == n);
        let (pa, pgw, ph) = (a.as_mut_ptr(), gw.as_mut_ptr(), h.as_mut_ptr());
        let (ps, pv, pw) = (s.as_ptr(), v.as_ptr(), w.as_ptr());
        let xv = _mm512_set1_ps(x);
        let mut acc = _mm512_setzero_ps();
        let mut k = 0;
        // SAFETY (all loads and stores): lanes at k + 16 > n are masked off.
        while k < n {
            let m = lanes(n - k);
            let mut av = _mm512_maskz_loadu_ps(m, pa.add(k));
            if x != 0.0 {
                let sv = _mm512_maskz_loadu_ps(m, ps.add(k));
                let g = _mm512_fmadd_ps(xv, sv, _mm512_maskz_loadu_ps(m, pgw.add(k)));
                _mm512_mask_storeu_ps(pgw.add(k), m, g);
                av = _mm512_fnmadd_ps(xv, _mm512_maskz_loadu_ps(m, pw.add(k)), av);
                _mm512_mask_storeu_ps(pa.add(k), m, av);
            }
            let hv = sigmoid16(av);
            _mm512_mask_storeu_ps(ph.add(k), m, hv);
            acc = _mm512_fmadd_ps(hv, _mm512_maskz_loadu_ps(m, pv.add(k)), acc);
            k += 16;
        }
        _mm512_reduce_add_ps(acc)
    }

    /// [`add_step_grads`] in 16 lanes with AVX-512.
    ///
    /// # Safety
    /// The CPU must have AVX-512F; every slice has the same
    /// length.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn add_step_grads_512(
        s: &mut [f32],
        gv: &mut [f32],
        v: &[f32],
        h: &[f32],
        delta: f32,
    ) {
        let n = s.len();
        assert!(gv.len() == n && v.len() == n && h.len() == n);
        let (ps, pgv, pv, ph) = (s.as_mut_ptr(), gv.as_mut_ptr(), v.as_ptr(), h.as_ptr());
        let dv = _mm512_set1_ps(delta);
        let mut k = 0;
        // SAFETY (all loads and stores): lanes at k + 16 > n are masked off.
        while k < n {
            let m = lanes(n - k);
            let hv = _mm512_maskz_loadu_ps(m, ph.add(k));
            let g = _mm512_fmadd_ps(dv, hv, _mm512_maskz_loadu_ps(m, pgv.add(k)));
            _mm512_mask_storeu_ps(pgv.add(k), m, g);
            let dh = _mm512_mul_ps(dv, _mm512_maskz_loadu_ps(m, pv.add(k)));
            let slope = _mm512_fnmadd_ps(hv, hv, hv); // h − h² = h(1 − h)
            let sv = _mm512_fmadd_ps(dh, slope, _mm512_maskz_loadu_ps(m, ps.add(k)));
            _mm512_mask_storeu_ps(ps.add(k), m, sv);
            k += 16;
        }
    }

    /// The mask of the first min(left, 16) lanes.
    #[inline(always)]
    fn lanes(left: usize) -> __mmask16 {
        if left >= 16 {
            !0
        } else {
            (1u16 << left) - 1
        }
    }

    /// σ of 16 lanes: 1 / (1 + e^(−a)).
    #[inline(always)]
    unsafe fn sigmoid16(a: __m512) -> __m512 {
        let x = _mm512_sub_ps(_mm512_setzero_ps(), a);
        let x = _mm512_min_ps(
            _mm512_max_ps(x, _mm512_set1_ps(-EXP_MAX)),
            _mm512_set1_ps(EXP_MAX),
        );
        let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)),
        );
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2[0]), x);
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2[1]), r);
        let mut p = _mm512_set1_ps(EXP_POLY[0]);
        for c in &EXP_POLY[1..] {
            p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(*c));
        }
        let one = _mm512_set1_ps(1.0);
        let e = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, one));
        let d = _mm512_add_ps(_mm512_set1_ps(1.0), _mm512_scalef_ps(e, n));
        let q = _mm512_rcp14_ps(d);
        _mm512_mul_ps(q, _mm512_fnmadd_ps(d, q, _mm512_set1_ps(2.0)))
    }

    /// Forward step t of one image: returns V_t · σ(a) over the running sum
    /// `a` (c + Σ_{s<t} W_s x_s) and then adds x·W_t to it.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA; `a`, `v`, `w` have the
    /// same length.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn forward_step(a: &mut [f32], v: &[f32], w: &[f32], x: f32) -> f32 {
        let h = a.len();
        assert!(v.len() == h && w.len() == h);
        let n8 = h / 8 * 8;
        let (pa, pv, pw) = (a.as_mut_ptr(), v.as_ptr(), w.as_ptr());
        let xv = _mm256_set1_ps(x);
        let (mut acc0, mut acc1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let n16 = h / 16 * 16;
        let mut k = 0;
        // SAFETY (all loads and stores): k + 16 ≤ n16 or k + 8 ≤ n8, both ≤ h,
        // the slices' length. Two vectors per turn: independent chains for the
        // out-of-order core.
        while k < n16 {
            let a0 = _mm256_loadu_ps(pa.add(k));
            let a1 = _mm256_loadu_ps(pa.add(k + 8));
            acc0 = _mm256_fmadd_ps(sigmoid8(a0), _mm256_loadu_ps(pv.add(k)), acc0);
            acc1 = _mm256_fmadd_ps(sigmoid8(a1), _mm256_loadu_ps(pv.add(k + 8)), acc1);
            if x != 0.0 {
                _mm256_storeu_ps(
                    pa.add(k),
                    _mm256_fmadd_ps(xv, _mm256_loadu_ps(pw.add(k)), a0),
                );
                let w1 = _mm256_loadu_ps(pw.add(k + 8));
                _mm256_storeu_ps(pa.add(k + 8), _mm256_fmadd_ps(xv, w1, a1));
            }
            k += 16;
        }
        while k < n8 {
            let av = _mm256_loadu_ps(pa.add(k));
            acc0 = _mm256_fmadd_ps(sigmoid8(av), _mm256_loadu_ps(pv.add(k)), acc0);
            if x != 0.0 {
                _mm256_storeu_ps(
                    pa.add(k),
                    _mm256_fmadd_ps(xv, _mm256_loadu_ps(pw.add(k)), av),
                );
            }
            k += 8;
        }
        let mut dot = sum8(_mm256_add_ps(acc0, acc1));
        for k in n8..h {
            dot += v[k] * sigmoid1(a[k]);
            a[k] += x * w[k];
        }
        dot
    }

    /// Backward step t of one image, first half: ∂W_t += x·s (with s =
    /// Σ_{t'>t} ∂a_t') and a −= x·W_t (a_t back from the running sum), then
    /// h = σ(a_t) into `h`; returns V_t · h.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA; every slice has the
    /// same length.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn step_back(
        a: &mut [f32],
        s: &[f32],
        gw: &mut [f32],
        v: &[f32],
        w: &[f32],
        x: f32,
        h: &mut [f32],
    ) -> f32 {
        let n = a.len();
        assert!(s.len() == n && gw.len() == n && v.len() == n && w.len() == n && h.len() == n);
        let n8 = n / 8 * 8;
        let (pa, pgw, ph) = (a.as_mut_ptr(), gw.as_mut_ptr(), h.as_mut_ptr());
        let (ps, pv, pw) = (s.as_ptr(), v.as_ptr(), w.as_ptr());
        let xv = _mm256_set1_ps(x);
        let mut acc = _mm256_setzero_ps();
        let mut k = 0;
        // SAFETY (all loads and stores): k + 8 ≤ n8 ≤ n, every slice's length.
        while k < n8 {
            let mut av = _mm256_loadu_ps(pa.add(k));
            if x != 0.0 {
                let g =
                    _mm256_fmadd_ps(xv, _mm256_loadu_ps(ps.add(k)), _mm256_loadu_ps(pgw.add(k)));
                _mm256_storeu_ps(pgw.add(k), g);
                av = _mm256_fnmadd_ps(xv, _mm256_loadu_ps(pw.add(k)), av);
                _mm256_storeu_ps(pa.add(k), av);
            }
            let hv = sigmoid8(av);
            _mm256_storeu_ps(ph.add(k), hv);
            acc = _mm256_fmadd_ps(hv, _mm256_loadu_ps(pv.add(k)), acc);
            k += 8;
        }
        let mut dot = sum8(acc);
        for k in n8..n {
            if x != 0.0 {
                gw[k] += x * s[k];
                a[k] -= x * w[k];
            }
            h[k] = sigmoid1(a[k]);
            dot += v[k] * h[k];
        }
        dot
    }

    /// Backward step t of one image, second half, given δ = σ(l_t) − x_t and
    /// h = σ(a_t): ∂V_t += δ·h and s += δ·V_t ⊙ h ⊙ (1 − h).
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA; every slice has the
    /// same length.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn add_step_grads(
        s: &mut [f32],
        gv: &mut [f32],
        v: &[f32],
        h: &[f32],
        delta: f32,
    ) {
        let n = s.len();
        assert!(gv.len() == n && v.len() == n && h.len() == n);
        let n8 = n / 8 * 8;
        let (ps, pgv, pv, ph) = (s.as_mut_ptr(), gv.as_mut_ptr(), v.as_ptr(), h.as_ptr());
        let dv = _mm256_set1_ps(delta);
        let mut k = 0;
        // SAFETY (all loads and stores): k + 8 ≤ n8 ≤ n, every slice's length.
        while k < n8 {
            let hv = _mm256_loadu_ps(ph.add(k));
            _mm256_storeu_ps(
                pgv.add(k),
                _mm256_fmadd_ps(dv, hv, _mm256_loadu_ps(pgv.add(k))),
            );
            let dh = _mm256_mul_ps(dv, _mm256_loadu_ps(pv.add(k)));
            let slope = _mm256_fnmadd_ps(hv, hv, hv); // h − h² = h(1 − h)
            _mm256_storeu_ps(
                ps.add(k),
                _mm256_fmadd_ps(dh, slope, _mm256_loadu_ps(ps.add(k))),
            );
            k += 8;
        }
        for k in n8..n {
            gv[k] += delta * h[k];
            s[k] += delta * v[k] * (h[k] * (1.0 - h[k]));
        }
    }

    /// σ of 8 lanes: 1 / (1 + e^(−a)).
    #[inline(always)]
    unsafe fn sigmoid8(a: __m256) -> __m256 {
        let d = _mm256_add_ps(
            _mm256_set1_ps(1.0),
            exp8(_mm256_sub_ps(_mm256_setzero_ps(), a)),
        );
        let r = _mm256_rcp_ps(d); // 12 bits
        _mm256_mul_ps(r, _mm256_fnmadd_ps(d, r, _mm256_set1_ps(2.0))) // r(2 − dr): ~23 bits
    }

    /// σ of one value, for the tail of H beyond a multiple of 8.
    fn sigmoid1(a: f32) -> f32 {
        1.0 / (1.0 + (-a).exp())
    }

    /// e^x of 8 lanes, x clamped to [−87, 87]: x = n ln 2 + r with n an
    /// integer and |r| ≤ ln 2 / 2 (ln 2 in two parts), Cephes' degree-5
    /// polynomial for e^r, and 2ⁿ from the exponent bits.
    #[inline(always)]
    unsafe fn exp8(x: __m256) -> __m256 {
        let x = _mm256_min_ps(
            _mm256_max_ps(x, _mm256_set1_ps(-EXP_MAX)),
            _mm256_set1_ps(EXP_MAX),
        );
        let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm256_mul_ps(x, _mm256_set1_ps(std::f32::consts::LOG2_E)),
        );
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2[0]), x);
        let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2[1]), r);
        let mut p = _mm256_set1_ps(EXP_POLY[0]);
        for c in &EXP_POLY[1..] {
            p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(*c));
        }
        let e = _mm256_fmadd_ps(
            p,
            _mm256_mul_ps(r, r),
            _mm256_add_ps(r, _mm256_set1_ps(1.0)),
        );
        let bits = _mm256_slli_epi32::<23>(_mm256_add_epi32(
            _mm256_cvtps_epi32(n),
            _mm256_set1_epi32(127),
        ));
        _mm256_mul_ps(e, _mm256_castsi256_ps(bits))
    }

    /// The sum of 8 lanes.
    #[inline(always)]
    unsafe fn sum8(v: __m256) -> f32 {
        let four = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let two = _mm_add_ps(four, _mm_movehl_ps(four, four));
        let one = _mm_add_ss(two, _mm_shuffle_ps::<1>(two, two));
        _mm_cvtss_f32(one)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in (−span, span).
    fn values(n: usize, seed: u64, span: f64) -> Vec<f32> {
        let mut z = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                z = z
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (((z >> 33) as f64 / (1u64 << 31) as f64 * 2.0 - 1.0) * span) as f32
            })
            .collect()
    }

    fn sigmoid(a: f64) -> f64 {
        1.0 / (1.0 + (-a).exp())
    }

    fn close(got: f32, want: f64, what: &str) {
        let err = (got as f64 - want).abs();
        assert!(err <= 2e-6 * (1.0 + want.abs()), "{what}: {got} vs {want}");
    }

    /// Every width this CPU runs agrees with a float64 reference, for
    /// lengths with and without a tail, for x = 0, 1 and ½, and for
    /// pre-activations far into both saturated ends.
    #[test]
    fn every_width_matches_a_float64_reference() {
        let widths = Simd::every();
        eprintln!("widths on this CPU: {widths:?}");
        for simd in widths {
            for (n, span) in [
                (5, 3.0),
                (8, 3.0),
                (13, 8.0),
                (16, 8.0),
                (37, 40.0),
                (500, 120.0),
            ] {
                for x in [0.0f32, 1.0, 0.5] {
                    check_width(simd, n, span, x);
                }
            }
        }
    }

    fn check_width(simd: Simd, n: usize, span: f64, x: f32) {
        let what = format!("{simd:?}, n = {n}, x = {x}");
        let (a0, v, w) = (values(n, 1, span), values(n, 2, 1.0), values(n, 3, 1.0));
        let (s0, gw0, gv0) = (values(n, 4, 1.0), values(n, 5, 1.0), values(n, 6, 1.0));
        let f = |v: &[f32]| v.iter().map(|&v| v as f64).collect::<Vec<f64>>();

        let mut a = a0.clone();
        let dot = simd.forward_step(&mut a, &v, &w, x);
        let want: f64 = (0..n).map(|k| v[k] as f64 * sigmoid(a0[k] as f64)).sum();
        close(dot, want, &format!("forward dot, {what}"));
        for k in 0..n {
            close(
                a[k],
                a0[k] as f64 + x as f64 * w[k] as f64,
                &format!("forward a, {what}"),
            );
        }

        let (mut a, mut gw, mut h) = (a0.clone(), gw0.clone(), vec![0.0f32; n]);
        let dot = simd.step_back((&mut a, &s0), &mut gw, (&v, &w), x, &mut h);
        let at: Vec<f64> = (0..n)
            .map(|k| a0[k] as f64 - x as f64 * w[k] as f64)
            .collect();
        let want: f64 = (0..n).map(|k| v[k] as f64 * sigmoid(at[k])).sum();
        close(dot, want, &format!("step_back dot, {what}"));
        for k in 0..n {
            close(a[k], at[k], &format!("step_back a, {what}"));
            close(h[k], sigmoid(at[k]), &format!("step_back h, {what}"));
            close(
                gw[k],
                f(&gw0)[k] + x as f64 * s0[k] as f64,
                &format!("∂W, {what}"),
            );
        }

        let (mut s, mut gv, delta) = (s0.clone(), gv0.clone(), 0.3f32);
        simd.add_step_grads(&mut s, &mut gv, &v, &h, delta);
        for k in 0..n {
            let (hk, d) = (h[k] as f64, delta as f64);
            close(gv[k], gv0[k] as f64 + d * hk, &format!("∂V, {what}"));
            let want = s0[k] as f64 + d * v[k] as f64 * hk * (1.0 - hk);
            close(s[k], want, &format!("s, {what}"));
        }
    }
}
