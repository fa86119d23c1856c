//! Adam and Adagrad with state we own (tch's `nn::Optimizer` cannot save its
//! moments, and tch has no Adagrad), so that a checkpoint holds everything
//! needed to resume a run exactly. `train.optimizer` chooses the rule.
//!
//! Same updates as `torch.optim.Adam` and `torch.optim.Adagrad` (L2 weight
//! decay added to the gradient g, no learning-rate decay of Adagrad's own):
//! - Adam: m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²,
//!   p ← p − lr · (m / (1−β1^t)) / (√(v / (1−β2^t)) + ε), ε = 1e-8.
//! - Adagrad: s ← s + g²,  p ← p − lr · g / (√s + ε), ε = 1e-10.
use std::collections::HashMap;

use anyhow::{bail, Result};
use tch::{nn::VarStore, Kind, Tensor};

pub use crate::spec::OptimizerKind;

pub struct Optimizer {
    kind: OptimizerKind,
    /// Trainable variables, sorted by name.
    params: Vec<(String, Tensor)>,
    /// Adam's first moments (empty for Adagrad).
    m: Vec<Tensor>,
    /// Adam's second moments, or Adagrad's sums of squared gradients.
    v: Vec<Tensor>,
    /// Updates taken so far.
    pub steps: i64,
    beta1: f64,
    beta2: f64,
    weight_decay: f64,
}

impl Optimizer {
    pub fn new(
        kind: OptimizerKind,
        vs: &VarStore,
        betas: [f64; 2],
        weight_decay: f64,
    ) -> Optimizer {
        let mut params: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let zeros = |p: &Tensor| p.zeros_like().detach();
        let m = match kind {
            OptimizerKind::Adam => params.iter().map(|(_, p)| zeros(p)).collect(),
            OptimizerKind::Adagrad => Vec::new(),
        };
        Optimizer {
            kind,
            m,
            v: params.iter().map(|(_, p)| zeros(p)).collect(),
            params,
            steps: 0,
            beta1: betas[0],
            beta2: betas[1],
            weight_decay,
        }
    }

    pub fn zero_grad(&mut self) {
        for (_, p) in &mut self.params {
            p.zero_grad();
        }
    }

    /// Scales the gradients so their global L2 norm is at most `max`.
    pub fn clip_grad_norm(&mut self, max: f64) {
        let _guard = tch::no_grad_guard();
        let grads: Vec<Tensor> = self
            .params
            .iter()
            .map(|(_, p)| p.grad())
            .filter(Tensor::defined)
            .collect();
        let total: f64 = grads
            .iter()
            .map(|g| g.pow_tensor_scalar(2).sum(Kind::Double).double_value(&[]))
            .sum::<f64>()
            .sqrt();
        if total > max {
            for mut g in grads {
                let _ = g.g_mul_scalar_(max / (total + 1e-6));
            }
        }
    }

    pub fn step(&mut self, lr: f64) {
        let _guard = tch::no_grad_guard();
        self.steps += 1;
        for i in 0..self.params.len() {
            let g = self.params[i].1.grad();
            if !g.defined() {
                continue;
            }
            let g = if self.weight_decay != 0.0 {
                &g + &self.params[i].1 * self.weight_decay
            } else {
                g
            };
            match self.kind {
                OptimizerKind::Adam => self.adam_step(i, &g, lr),
                OptimizerKind::Adagrad => self.adagrad_step(i, &g, lr),
            }
        }
    }

    /// In place, with two temporaries (g², the denominator) instead of
    /// eight: m ← b1·m + (1 − b1)·g, v ← b2·v + (1 − b2)·g²,
    /// p ← p − lr/bias1 · m / (√(v/bias2) + ε).
    fn adam_step(&mut self, i: usize, g: &Tensor, lr: f64) {
        let (b1, b2) = (self.beta1, self.beta2);
        let bias1 = 1.0 - b1.powi(self.steps as i32);
        let bias2 = 1.0 - b2.powi(self.steps as i32);
        let _ = self.m[i].lerp_(g, 1.0 - b1);
        let _ = self.v[i].lerp_(&g.square(), 1.0 - b2);
        let mut denom = &self.v[i] / bias2;
        let _ = denom.sqrt_();
        let _ = denom.g_add_scalar_(1e-8);
        let _ = denom.g_mul_scalar_(-bias1 / lr); // addcdiv_ adds m / denom
        let _ = self.params[i].1.addcdiv_(&self.m[i], &denom);
    }

    /// s ← s + g², p ← p − lr · g / (√s + ε).
    fn adagrad_step(&mut self, i: usize, g: &Tensor, lr: f64) {
        let _ = self.v[i].addcmul_(g, g);
        let mut denom = self.v[i].sqrt();
        let _ = denom.g_add_scalar_(1e-10);
        let _ = denom.g_mul_scalar_(-1.0 / lr); // addcdiv_ adds g / denom
        let _ = self.params[i].1.addcdiv_(g, &denom);
    }

    /// The state's tensors by name prefix (`<prefix>.<var>`), and the name
    /// of the step count: Adam's `adam.m.*`, `adam.v.*` and `adam.steps`;
    /// Adagrad's `adagrad.sum.*` and `adagrad.steps`.
    fn slots(&self) -> (Vec<(&'static str, &Vec<Tensor>)>, &'static str) {
        match self.kind {
            OptimizerKind::Adam => (vec![("adam.m", &self.m), ("adam.v", &self.v)], "adam.steps"),
            OptimizerKind::Adagrad => (vec![("adagrad.sum", &self.v)], "adagrad.steps"),
        }
    }

    /// The optimizer state as named tensors (see [`Optimizer::slots`]).
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let (slots, steps_key) = self.slots();
        let mut out = Vec::new();
        for (prefix, tensors) in slots {
            for ((name, _), t) in self.params.iter().zip(tensors) {
                out.push((format!("{prefix}.{name}"), t.shallow_clone()));
            }
        }
        out.push((steps_key.into(), Tensor::from_slice(&[self.steps])));
        out
    }

    /// Restores a state written by [`Optimizer::state`].
    pub fn load_state(&mut self, named: &HashMap<String, Tensor>) -> Result<()> {
        let _guard = tch::no_grad_guard();
        let (slots, steps_key) = self.slots();
        for (prefix, tensors) in slots {
            for ((name, _), slot) in self.params.iter().zip(tensors) {
                let key = format!("{prefix}.{name}");
                let Some(t) = named.get(&key) else {
                    bail!("the checkpoint has no `{key}`")
                };
                if t.size() != slot.size() {
                    bail!(
                        "`{key}` has shape {:?} in the checkpoint, {:?} in the model",
                        t.size(),
                        slot.size()
                    );
                }
                slot.shallow_clone().copy_(t); // the same storage as the slot
            }
        }
        let Some(steps) = named.get(steps_key) else {
            bail!("the checkpoint has no `{steps_key}`")
        };
        self.steps = steps.int64_value(&[0]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::nn::{self, OptimizerConfig};
    use tch::{Device, Kind, Tensor};

    /// Two identical parameter sets, one stepped by this Adam and one by
    /// libtorch's (through tch), follow the same trajectory.
    #[test]
    fn matches_libtorch_adam_with_weight_decay_and_clipping() {
        let make = || {
            let mut vs = nn::VarStore::new(Device::Cpu);
            vs.set_kind(Kind::Double);
            let w = vs.root().randn("w", &[5, 3], 0.0, 1.0);
            (vs, w)
        };
        let (vs_a, wa) = make();
        let (mut vs_b, wb) = make();
        // (Tests share libtorch's global generator: copy rather than re-seed.)
        vs_b.copy(&vs_a).unwrap();
        let mut ours = Optimizer::new(OptimizerKind::Adam, &vs_a, [0.8, 0.99], 0.01);
        let mut theirs = nn::Adam {
            beta1: 0.8,
            beta2: 0.99,
            wd: 0.01,
            ..Default::default()
        }
        .build(&vs_b, 0.1)
        .unwrap();
        let x = Tensor::rand([7, 5], (Kind::Double, Device::Cpu));
        for step in 0..20 {
            let lr = 0.1 / (1.0 + step as f64);
            theirs.set_lr(lr);
            let loss = |w: &Tensor| x.matmul(w).tanh().pow_tensor_scalar(2).sum(Kind::Double);
            ours.zero_grad();
            loss(&wa).backward();
            ours.clip_grad_norm(1.0);
            ours.step(lr);
            theirs.zero_grad();
            loss(&wb).backward();
            theirs.clip_grad_norm(1.0);
            theirs.step();
        }
        let diff = (&wa - &wb).abs().max().double_value(&[]);
        assert!(diff < 1e-9, "max |Δ| = {diff}");
        assert!(
            (&wa - vs_a.root().get("w").unwrap())
                .abs()
                .max()
                .double_value(&[])
                == 0.0
        );
        assert_eq!(ours.steps, 20);
    }

    /// Adagrad against its definition, written out on plain floats:
    /// s ← s + g², w ← w − lr · g / (√s + 1e-10), with g = ∂loss/∂w + wd·w.
    #[test]
    fn adagrad_follows_its_definition_with_weight_decay() {
        let c = [0.5, 2.0, -1.0, 3.0];
        let w0 = [1.0, -0.5, 0.25, 2.0];
        let wd = 0.01;
        let mut vs = nn::VarStore::new(Device::Cpu);
        vs.set_kind(Kind::Double);
        let w = vs.root().var_copy("w", &Tensor::from_slice(&w0));
        let cw = Tensor::from_slice(&c);
        let mut ours = Optimizer::new(OptimizerKind::Adagrad, &vs, [0.9, 0.999], wd);
        let (mut want, mut sum) = (w0, [0.0f64; 4]);
        for step in 0..20 {
            let lr = 0.1 / (1.0 + step as f64);
            ours.zero_grad();
            // loss = Σ c·w²/2 + Σ w³/3: ∂loss/∂w = c·w + w².
            let loss = (&cw * w.square() / 2.0 + w.pow_tensor_scalar(3) / 3.0).sum(Kind::Double);
            loss.backward();
            ours.step(lr);
            for j in 0..4 {
                let g = c[j] * want[j] + want[j] * want[j] + wd * want[j];
                sum[j] += g * g;
                want[j] -= lr * g / (sum[j].sqrt() + 1e-10);
            }
        }
        let got = Vec::<f64>::try_from(&w).unwrap();
        for j in 0..4 {
            assert!(
                (got[j] - want[j]).abs() < 1e-12,
                "w[{j}]: {} against {}",
                got[j],
                want[j]
            );
        }
        assert_eq!(ours.steps, 20);
    }

    #[test]
    fn adagrad_state_round_trips_and_is_not_adams() {
        let vs = nn::VarStore::new(Device::Cpu);
        let w = vs.root().randn("w", &[4], 0.0, 1.0);
        let mut a = Optimizer::new(OptimizerKind::Adagrad, &vs, [0.9, 0.999], 0.0);
        for _ in 0..3 {
            a.zero_grad();
            w.square().sum(Kind::Float).backward();
            a.step(0.01);
        }
        let state: HashMap<String, Tensor> = a.state().into_iter().collect();
        let mut keys: Vec<&str> = state.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["adagrad.steps", "adagrad.sum.w"]);
        let mut b = Optimizer::new(OptimizerKind::Adagrad, &vs, [0.9, 0.999], 0.0);
        b.load_state(&state).unwrap();
        assert_eq!(b.steps, 3);
        assert!(b.v[0].equal(&a.v[0]) && b.m.is_empty());
        let mut adam = Optimizer::new(OptimizerKind::Adam, &vs, [0.9, 0.999], 0.0);
        let err = adam.load_state(&state).unwrap_err().to_string();
        assert!(err.contains("adam.m.w"), "{err}");
    }

    #[test]
    fn state_round_trips() {
        let vs = nn::VarStore::new(Device::Cpu);
        let w = vs.root().randn("w", &[4], 0.0, 1.0);
        let mut a = Optimizer::new(OptimizerKind::Adam, &vs, [0.9, 0.999], 0.0);
        for _ in 0..3 {
            a.zero_grad();
            w.square().sum(Kind::Float).backward();
            a.step(0.01);
        }
        let state: HashMap<String, Tensor> = a.state().into_iter().collect();
        let mut b = Optimizer::new(OptimizerKind::Adam, &vs, [0.9, 0.999], 0.0);
        b.load_state(&state).unwrap();
        assert_eq!(b.steps, 3);
        assert!(b.m[0].equal(&a.m[0]) && b.v[0].equal(&a.v[0]));
        let mut missing = state;
        missing.remove("adam.v.w");
        assert!(b
            .load_state(&missing)
            .unwrap_err()
            .to_string()
            .contains("adam.v.w"));
    }
}
