//! Output heads: how a model's per-pixel parameters become exact
//! log-probabilities and samples. Shared by every model.
use tch::{Kind, Tensor};

use crate::data::PixelForm;

/// The distribution of one channel of one pixel given its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Head {
    /// Binary pixels: one logit, p(x = 1) = σ(logit).
    Bernoulli,
    /// `levels`-way softmax over the values 0..levels.
    Categorical { levels: i64 },
    /// A density over the reals (RNADE): a mixture of `components`
    /// Gaussians, parameters `[mixture logits (K), means (K), log-scales (K)]`.
    /// Its `log_prob` is a log-density at a continuous value and its samples
    /// are continuous; the model using it converts from and to levels.
    GaussianMixture { components: i64 },
}

impl Head {
    /// The head for a pixel form: Bernoulli for binary, 256-way otherwise.
    pub fn for_pixels(pixels: PixelForm) -> Head {
        match pixels {
            PixelForm::Binary => Head::Bernoulli,
            PixelForm::Gray256 | PixelForm::Rgb => Head::Categorical { levels: 256 },
        }
    }

    /// Parameters per channel (K).
    pub fn params(&self) -> i64 {
        match self {
            Head::Bernoulli => 1,
            Head::Categorical { levels } => *levels,
            Head::GaussianMixture { components } => 3 * components,
        }
    }

    /// `log p(x | params)` elementwise: `params` `[..., K]`, `x` `[...]`
    /// (level values, as floats), result `[...]`.
    pub fn log_prob(&self, params: &Tensor, x: &Tensor) -> Tensor {
        let params = &crate::models::full_precision(params);
        match self {
            Head::Bernoulli => crate::models::bernoulli_log_prob(&params.squeeze_dim(-1), x),
            Head::Categorical { .. } => params
                .log_softmax(-1, params.kind())
                .gather(-1, &x.to_kind(Kind::Int64).unsqueeze(-1), false)
                .squeeze_dim(-1),
            Head::GaussianMixture { components } => mixture_log_density(params, x, *components),
        }
    }

    /// Inverse-CDF draws: `params` `[..., K]`, uniforms `u` `[...]` in [0, 1);
    /// the value is the first level whose cumulative probability exceeds u.
    /// Returned as floats in `u`'s kind.
    pub fn sample(&self, params: &Tensor, u: &Tensor) -> Tensor {
        let _guard = tch::no_grad_guard();
        match self {
            Head::Bernoulli => u
                .lt_tensor(&params.squeeze_dim(-1).sigmoid().to_kind(u.kind()))
                .to_kind(u.kind()),
            Head::Categorical { levels } => {
                let cdf = params
                    .to_kind(Kind::Double)
                    .softmax(-1, Kind::Double)
                    .cumsum(-1, Kind::Double);
                let below = cdf
                    .le_tensor(&u.to_kind(Kind::Double).unsqueeze(-1))
                    .sum_dim_intlist(-1, false, Kind::Int64);
                below.clamp_max(levels - 1).to_kind(u.kind())
            }
            Head::GaussianMixture { components } => mixture_sample(params, u, *components),
        }
    }
}

/// `log Σ_k π_k N(y; μ_k, σ_k²)` elementwise, params `[..., 3K]`.
fn mixture_log_density(params: &Tensor, y: &Tensor, k: i64) -> Tensor {
    let kind = params.kind();
    let log_pi = params.narrow(-1, 0, k).log_softmax(-1, kind);
    let (mu, log_sigma) = (params.narrow(-1, k, k), params.narrow(-1, 2 * k, k));
    let z = (y.unsqueeze(-1) - mu) * (-&log_sigma).exp();
    let half_log_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
    (log_pi - z.square() * 0.5 - log_sigma - half_log_2pi).logsumexp([-1], false)
}

/// One draw per uniform: the component whose cumulative weight first
/// exceeds u, then that Gaussian's quantile at u's position inside the
/// component's share of [0, 1) (so one uniform gives an exact draw).
fn mixture_sample(params: &Tensor, u: &Tensor, k: i64) -> Tensor {
    let p = params.to_kind(Kind::Double);
    let pi = p.narrow(-1, 0, k).softmax(-1, Kind::Double);
    let cdf = pi.cumsum(-1, Kind::Double);
    let u = u.to_kind(Kind::Double).unsqueeze(-1);
    let idx = cdf
        .le_tensor(&u)
        .sum_dim_intlist(-1, true, Kind::Int64)
        .clamp_max(k - 1);
    let pick = |t: &Tensor| t.gather(-1, &idx, false);
    let (w, below) = (pick(&pi), pick(&cdf) - pick(&pi));
    let inner = ((u - below) / w).clamp(1e-12, 1.0 - 1e-12);
    let z = (inner * 2.0 - 1.0).erfinv() * std::f64::consts::SQRT_2;
    let y = pick(&p.narrow(-1, k, k)) + z * pick(&p.narrow(-1, 2 * k, k)).exp();
    y.squeeze_dim(-1).to_kind(params.kind())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    #[test]
    fn categorical_log_probs_sum_to_one_and_sampling_inverts_the_cdf() {
        let head = Head::Categorical { levels: 256 };
        let params = Tensor::randn([3, 256], (Kind::Double, Device::Cpu));
        let all = Tensor::arange(256, (Kind::Double, Device::Cpu));
        let lp = head.log_prob(
            &params.unsqueeze(1).expand([3, 256, 256], false),
            &all.unsqueeze(0).expand([3, 256], false),
        );
        let total = lp.logsumexp([1], false);
        assert!(total.abs().max().double_value(&[]) < 1e-12);
        // u just below / above a CDF step picks the level at / after it.
        let cdf = params.softmax(-1, Kind::Double).cumsum(-1, Kind::Double);
        for level in [0i64, 17, 200] {
            let c = cdf.get(0).double_value(&[level]);
            let u = Tensor::from_slice(&[c - 1e-9, c + 1e-9]);
            let x = head.sample(&params.get(0).unsqueeze(0).expand([2, 256], false), &u);
            assert_eq!(
                Vec::<f64>::try_from(&x).unwrap(),
                vec![level as f64, (level + 1) as f64]
            );
        }
    }

    /// The mixture density integrates to 1 and its samples have its mean.
    #[test]
    fn gaussian_mixture_density_and_samples() {
        let head = Head::GaussianMixture { components: 3 };
        let params = Tensor::from_slice(&[0.3f64, -1.0, 0.5, -2.0, 0.5, 3.0, -0.5, 0.0, -1.2]);
        let grid = Tensor::linspace(-12.0, 12.0, 24001, (Kind::Double, Device::Cpu));
        let p = head
            .log_prob(&params.expand([24001, 9], false), &grid)
            .exp();
        let trapezoid = |f: &Tensor| {
            let ends = f.get(0) + f.get(24000);
            (f.sum(Kind::Double) - ends * 0.5).double_value(&[]) * 0.001
        };
        let total = trapezoid(&p);
        assert!((total - 1.0).abs() < 1e-9, "∫p = {total}");
        let mean_exact = trapezoid(&(&p * &grid));
        let u = (Tensor::arange(20000, (Kind::Double, Device::Cpu)) + 0.5) / 20000.0;
        let y = head.sample(&params.expand([20000, 9], false), &u);
        let mean = y.mean(Kind::Double).double_value(&[]);
        assert!((mean - mean_exact).abs() < 1e-3, "{mean} vs {mean_exact}");
    }

    #[test]
    fn bernoulli_sampling_thresholds_at_p() {
        let head = Head::Bernoulli;
        let params = Tensor::from_slice(&[0.0f64, 0.0]).view([2, 1]);
        let x = head.sample(&params, &Tensor::from_slice(&[0.49f64, 0.51]));
        assert_eq!(Vec::<f64>::try_from(&x).unwrap(), vec![1.0, 0.0]);
    }
}
