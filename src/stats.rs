//! Confidence intervals for differences in test NLL.
//!
//! Two models evaluated on the same test images give per-image paired
//! differences d_i = nll_A(x_i) − nll_B(x_i). Their mean is ΔNLL(A − B),
//! and Student's t interval over the d_i (n − 1 degrees of freedom) is a 95%
//! confidence interval for it *over test images*: it says how sure the
//! comparison is given these two trained models. Across seeds, the mean Δ
//! of each seed is one observation, and the t interval over them (k − 1
//! degrees of freedom for k seeds) also covers seed-to-seed variance: how
//! sure the comparison is of the training recipe. Pairing removes the
//! image-to-image variance both models share, which is most of it.
use statrs::distribution::{ContinuousCDF, StudentsT};

/// The level of every interval arlab reports.
pub const LEVEL: f64 = 0.95;

/// A mean with its two-sided 95% interval, from `n` observations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
    pub n: usize,
}

impl Interval {
    /// Whether the interval lies wholly on one side of zero: the difference
    /// is established at the 95% level.
    pub fn excludes_zero(&self) -> bool {
        self.lo > 0.0 || self.hi < 0.0
    }
}

/// The mean of `x` with its 95% Student-t interval (n − 1 degrees of
/// freedom); zero width when every value is the same. `None` for fewer than
/// two values (or a non-finite one): there is no interval to give.
pub fn t_interval(x: &[f64]) -> Option<Interval> {
    let n = x.len();
    if n < 2 || x.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let mean = x.iter().sum::<f64>() / n as f64;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let se = (var / n as f64).sqrt();
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64)
        .expect("n − 1 ≥ 1 degrees of freedom")
        .inverse_cdf(0.5 + LEVEL / 2.0);
    Some(Interval {
        mean,
        lo: mean - t * se,
        hi: mean + t * se,
        n,
    })
}

/// The per-image differences in NLL, nll_A − nll_B = log p_B − log p_A,
/// from per-image log-likelihoods of the same images in the same order.
pub fn nll_differences(log_p_a: &[f64], log_p_b: &[f64]) -> Vec<f64> {
    assert_eq!(
        log_p_a.len(),
        log_p_b.len(),
        "paired differences need the same images"
    );
    log_p_a.iter().zip(log_p_b).map(|(a, b)| b - a).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn the_t_quantile_is_the_textbook_one() {
        // Two values 0 and 2: mean 1, sd √2, se 1, t(0.975, 1 df) = 12.706.
        let i = t_interval(&[0.0, 2.0]).unwrap();
        assert!((i.hi - 1.0 - 12.7062).abs() < 1e-3, "{i:?}");
        // Large n: close to 1.96.
        let x: Vec<f64> = (0..10_001).map(|k| (k % 2) as f64).collect();
        let i = t_interval(&x).unwrap();
        let se = (0.5f64 * 0.5 * 10_001.0 / 10_000.0 / 10_001.0).sqrt();
        assert!(((i.hi - i.mean) / se - 1.9602).abs() < 1e-3, "{i:?}");
    }

    #[test]
    fn intervals_cover_a_known_mean_about_95_times_in_100() {
        // 400 synthetic comparisons of 200 images with true Δ = 0.3.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let covered = (0..400)
            .filter(|_| {
                let d: Vec<f64> = (0..200)
                    .map(|_| 0.3 + (rng.random::<f64>() - 0.5) * 4.0 + (rng.random::<f64>() - 0.5))
                    .collect();
                let i = t_interval(&d).unwrap();
                i.lo <= 0.3 && 0.3 <= i.hi
            })
            .count();
        // Binomial(400, 0.95): mean 380, sd 4.4.
        assert!((366..=394).contains(&covered), "covered {covered} of 400");
    }

    #[test]
    fn identical_values_give_a_zero_width_interval() {
        let log_p = [-80.5, -91.25, -77.0];
        let d = nll_differences(&log_p, &log_p);
        let i = t_interval(&d).unwrap();
        assert_eq!((i.mean, i.lo, i.hi, i.n), (0.0, 0.0, 0.0, 3));
        assert!(!i.excludes_zero());
    }

    #[test]
    fn the_marker_follows_the_interval() {
        let better = t_interval(&[1.0, 1.2, 0.9, 1.1]).unwrap();
        assert!(better.excludes_zero() && better.lo > 0.0);
        let unsure = t_interval(&[1.0, -1.2, 0.9, -1.1]).unwrap();
        assert!(!unsure.excludes_zero());
        assert!(t_interval(&[1.0]).is_none());
        assert!(t_interval(&[1.0, f64::NAN]).is_none());
    }

    #[test]
    fn differences_are_nll_a_minus_nll_b() {
        // A has the higher likelihood: its NLL is lower, Δ(A − B) < 0.
        assert_eq!(
            nll_differences(&[-10.0, -20.0], &[-11.0, -23.0]),
            vec![-1.0, -3.0]
        );
    }
}
