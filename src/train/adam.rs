//! Adam with state we own (tch's `nn::Optimizer` cannot save its moments),
//! so that a checkpoint holds everything needed to resume a run exactly.
//!
//! Same update as `torch.optim.Adam` (L2 weight decay added to the gradient):
//! m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²,
//! p ← p − lr · (m / (1−β1^t)) / (√(v / (1−β2^t)) + ε).
use std::collections::HashMap;

use anyhow::{bail, Result};
use tch::{nn::VarStore, Kind, Tensor};

pub struct Adam {
    /// Trainable variables, sorted by name.
    params: Vec<(String, Tensor)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    /// Updates taken so far.
    pub steps: i64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
}

impl Adam {
    pub fn new(vs: &VarStore, betas: [f64; 2], weight_decay: f64) -> Adam {
        let mut params: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let zeros = |p: &Tensor| p.zeros_like().detach();
        Adam {
            m: params.iter().map(|(_, p)| zeros(p)).collect(),
            v: params.iter().map(|(_, p)| zeros(p)).collect(),
            params,
            steps: 0,
            beta1: betas[0],
            beta2: betas[1],
            eps: 1e-8,
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
        let (b1, b2) = (self.beta1, self.beta2);
        let bias1 = 1.0 - b1.powi(self.steps as i32);
        let bias2 = 1.0 - b2.powi(self.steps as i32);
        for (i, (_, p)) in self.params.iter_mut().enumerate() {
            let g = p.grad();
            if !g.defined() {
                continue;
            }
            let g = if self.weight_decay != 0.0 {
                &g + &*p * self.weight_decay
            } else {
                g
            };
            // In place, with two temporaries (g², the denominator) instead
            // of eight: m ← b1·m + (1 − b1)·g, v ← b2·v + (1 − b2)·g²,
            // p ← p − lr/bias1 · m / (√(v/bias2) + ε).
            let _ = self.m[i].lerp_(&g, 1.0 - b1);
            let _ = self.v[i].lerp_(&g.square(), 1.0 - b2);
            let mut denom = &self.v[i] / bias2;
            let _ = denom.sqrt_();
            let _ = denom.g_add_scalar_(self.eps);
            let _ = denom.g_mul_scalar_(-bias1 / lr); // addcdiv_ adds m / denom
            let _ = p.addcdiv_(&self.m[i], &denom);
        }
    }

    /// The optimizer state as named tensors (`adam.m.<var>`, `adam.v.<var>`, `adam.steps`).
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(2 * self.params.len() + 1);
        for (i, (name, _)) in self.params.iter().enumerate() {
            out.push((format!("adam.m.{name}"), self.m[i].shallow_clone()));
            out.push((format!("adam.v.{name}"), self.v[i].shallow_clone()));
        }
        out.push(("adam.steps".into(), Tensor::from_slice(&[self.steps])));
        out
    }

    /// Restores a state written by [`Adam::state`].
    pub fn load_state(&mut self, named: &HashMap<String, Tensor>) -> Result<()> {
        let _guard = tch::no_grad_guard();
        for (i, (name, _)) in self.params.iter().enumerate() {
            for (kind, slot) in [("m", &mut self.m[i]), ("v", &mut self.v[i])] {
                let key = format!("adam.{kind}.{name}");
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
                slot.copy_(t);
            }
        }
        let Some(steps) = named.get("adam.steps") else {
            bail!("the checkpoint has no `adam.steps`")
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
        let mut ours = Adam::new(&vs_a, [0.8, 0.99], 0.01);
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

    #[test]
    fn state_round_trips() {
        let vs = nn::VarStore::new(Device::Cpu);
        let w = vs.root().randn("w", &[4], 0.0, 1.0);
        let mut a = Adam::new(&vs, [0.9, 0.999], 0.0);
        for _ in 0..3 {
            a.zero_grad();
            w.square().sum(Kind::Float).backward();
            a.step(0.01);
        }
        let state: HashMap<String, Tensor> = a.state().into_iter().collect();
        let mut b = Adam::new(&vs, [0.9, 0.999], 0.0);
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
