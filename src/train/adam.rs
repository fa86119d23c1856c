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
            let m = &mut self.m[i];
            let _ = m.g_mul_scalar_(b1);
            let _ = m.g_add_(&(&g * (1.0 - b1)));
            let v = &mut self.v[i];
            let _ = v.g_mul_scalar_(b2);
            let _ = v.g_add_(&(g.square() * (1.0 - b2)));
            let denom = (&*v / bias2).sqrt() + self.eps;
            let update = &self.m[i] / denom * (lr / bias1);
            let _ = p.g_sub_(&update);
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
