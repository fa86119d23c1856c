//! Output heads: how a model's per-pixel parameters become exact
//! log-probabilities and samples. Shared by every model.
use tch::{Kind, Tensor};

use crate::spec::PixelForm;

/// The distribution of one channel of one pixel given its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Head {
    /// Binary pixels: one logit, p(x = 1) = σ(logit).
    Bernoulli,
    /// `levels`-way softmax over the values 0..levels.
    Categorical { levels: i64 },
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
        }
    }

    /// `log p(x | params)` elementwise: `params` `[..., K]`, `x` `[...]`
    /// (level values, as floats), result `[...]`.
    pub fn log_prob(&self, params: &Tensor, x: &Tensor) -> Tensor {
        match self {
            Head::Bernoulli => super::bernoulli_log_prob(&params.squeeze_dim(-1), x),
            Head::Categorical { .. } => params
                .log_softmax(-1, params.kind())
                .gather(-1, &x.to_kind(Kind::Int64).unsqueeze(-1), false)
                .squeeze_dim(-1),
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
        }
    }
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

    #[test]
    fn bernoulli_sampling_thresholds_at_p() {
        let head = Head::Bernoulli;
        let params = Tensor::from_slice(&[0.0f64, 0.0]).view([2, 1]);
        let x = head.sample(&params, &Tensor::from_slice(&[0.49f64, 0.51]));
        assert_eq!(Vec::<f64>::try_from(&x).unwrap(), vec![1.0, 0.0]);
    }
}
