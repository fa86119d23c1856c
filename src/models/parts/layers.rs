//! Building blocks of the convolutional models: masked convolutions with
//! the PixelCNN masks, including the R → G → B channel groups for colour.
use tch::{nn, Tensor};

/// Mask A excludes the centre pixel's own value (first layer); mask B
/// includes it (later layers, whose features at the centre already exclude it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mask {
    A,
    B,
}

/// The channel group (R = 0, G = 1, B = 2) of each of `n` channels split
/// into `g` contiguous groups; with `g = 1` every channel is group 0.
pub fn groups(n: i64, g: i64) -> Vec<i64> {
    (0..n).map(|k| k * g / n).collect()
}

/// `[out, in, kh, kw]` 0/1 mask: taps in rows above the centre, and left of
/// it in the centre row, are open; the centre tap is open from input group
/// gi to output group go iff gi < go (mask A) or gi <= go (mask B); taps
/// after the centre are closed.
pub fn causal_mask(kh: i64, kw: i64, mask: Mask, in_groups: &[i64], out_groups: &[i64]) -> Tensor {
    let (ci, co) = (in_groups.len() as i64, out_groups.len() as i64);
    let (cr, cc) = (kh / 2, kw / 2);
    let mut m = vec![0f32; (co * ci * kh * kw) as usize];
    for (o, &go) in out_groups.iter().enumerate() {
        for (i, &gi) in in_groups.iter().enumerate() {
            for r in 0..kh {
                for c in 0..kw {
                    let open = r < cr
                        || (r == cr && c < cc)
                        || (r == cr
                            && c == cc
                            && match mask {
                                Mask::A => gi < go,
                                Mask::B => gi <= go,
                            });
                    if open {
                        m[(((o as i64 * ci + i as i64) * kh + r) * kw + c) as usize] = 1.0;
                    }
                }
            }
        }
    }
    Tensor::from_slice(&m).view([co, ci, kh, kw])
}

/// A convolution whose weights are multiplied by a fixed causal mask in the
/// forward pass (never overwritten), "same" output size for odd kernels.
/// It also runs as a locally masked convolution under any ordering
/// ([`MaskedConv2d::forward_local`]) with the same weights.
#[derive(Debug)]
pub struct MaskedConv2d {
    weight: Tensor,
    bias: Tensor,
    /// The raster mask `[out, in, kh, kw]`.
    mask: Tensor,
    /// For local masking: 1 off the centre, the channel-group mask (A / B)
    /// at the centre tap.
    centre_mask: Tensor,
    padding: [i64; 2],
}

/// The per-position spatial masks of one ordering for every kernel size a
/// network uses (see [`crate::order::masks::local_mask`]), on the device.
pub struct LocalMasks {
    by_kernel: Vec<(i64, Tensor)>,
}

impl LocalMasks {
    /// Masks for the kernel sizes `kernels` under `order` on an `h × w` image.
    pub fn new(
        order: &[usize],
        h: usize,
        w: usize,
        kernels: &[i64],
        opts: (tch::Kind, tch::Device),
    ) -> Self {
        let by_kernel = kernels
            .iter()
            .map(|&k| {
                let m = crate::order::masks::local_mask(order, h, w, k as usize);
                let t = Tensor::from_slice(&m).view([k * k, (h * w) as i64]);
                (k, t.to_kind(opts.0).to_device(opts.1))
            })
            .collect();
        LocalMasks { by_kernel }
    }

    /// The `[k², H·W]` mask of a `k × k` kernel.
    pub fn get(&self, k: i64) -> &Tensor {
        &self
            .by_kernel
            .iter()
            .find(|(kk, _)| *kk == k)
            .expect("masks are built for every kernel size of the network")
            .1
    }
}

impl MaskedConv2d {
    pub fn new(
        vs: &nn::Path,
        kernel: [i64; 2],
        mask: Mask,
        in_groups: &[i64],
        out_groups: &[i64],
    ) -> Self {
        let (ci, co) = (in_groups.len() as i64, out_groups.len() as i64);
        let [kh, kw] = kernel;
        let raster = causal_mask(kh, kw, mask, in_groups, out_groups);
        let centre_only = causal_mask(1, 1, mask, in_groups, out_groups);
        let centre_mask = Tensor::ones([co, ci, kh, kw], (tch::Kind::Float, tch::Device::Cpu));
        centre_mask
            .narrow(2, kh / 2, 1)
            .narrow(3, kw / 2, 1)
            .copy_(&centre_only);
        let on = |t: Tensor| t.to_device(vs.device()).to_kind(vs.kind());
        MaskedConv2d {
            weight: vs.kaiming_uniform("weight", &[co, ci, kh, kw]),
            bias: vs.zeros("bias", &[co]),
            mask: on(raster),
            centre_mask: on(centre_mask),
            padding: [kh / 2, kw / 2],
        }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        x.conv2d(
            &self.masked_weight(),
            Some(&self.bias),
            [1, 1],
            self.padding,
            [1, 1],
            1,
        )
    }

    /// The weights times the mask, `[out, in, kh, kw]`.
    pub fn masked_weight(&self) -> Tensor {
        &self.weight * self.mask.to_kind(self.weight.kind())
    }

    pub fn bias(&self) -> &Tensor {
        &self.bias
    }

    /// The weights of the locally masked path: the channel-group mask at
    /// the centre tap, every other tap open (the spatial mask is per position).
    pub fn centre_masked_weight(&self) -> Tensor {
        &self.weight * &self.centre_mask
    }

    /// The locally masked convolution: every output position's patch
    /// (im2col) times its own spatial mask, then one matmul with the
    /// weights (whose centre tap keeps the channel-group mask).
    pub fn forward_local(&self, x: &Tensor, masks: &LocalMasks) -> Tensor {
        let [co, ci, kh, kw] = self.weight.size()[..] else {
            unreachable!("a 2-d convolution's weight")
        };
        if kh == 1 && kw == 1 {
            return self.forward(x); // a 1×1 layer has no neighbours to mask
        }
        let [b, _, h, w] = x.size()[..] else {
            unreachable!("images are [B, C, H, W]")
        };
        let cols = x.im2col([kh, kw], [1, 1], self.padding, [1, 1]);
        let cols =
            (cols.view([b, ci, kh * kw, h * w]) * masks.get(kh)).view([b, ci * kh * kw, h * w]);
        let weight = (&self.weight * &self.centre_mask).view([co, ci * kh * kw]);
        (weight.matmul(&cols) + self.bias.view([co, 1])).view([b, co, h, w])
    }

    pub fn num_params(&self) -> i64 {
        (self.weight.numel() + self.bias.numel()) as i64
    }
}

/// An unmasked convolution over the rows above and the current row only
/// (kernel `(k/2 + 1) × k`, padded on top): the vertical stack of a Gated
/// PixelCNN. Its output at row i depends on rows ≤ i.
#[derive(Debug)]
pub struct UpConv2d {
    weight: Tensor,
    bias: Tensor,
    k: i64,
}

impl UpConv2d {
    pub fn new(vs: &nn::Path, c_in: i64, c_out: i64, k: i64) -> Self {
        UpConv2d {
            weight: vs.kaiming_uniform("weight", &[c_out, c_in, k / 2 + 1, k]),
            bias: vs.zeros("bias", &[c_out]),
            k,
        }
    }

    pub fn forward(&self, x: &Tensor) -> Tensor {
        let p = self.k / 2;
        self.valid(&x.constant_pad_nd([p, p, p, 0]))
    }

    /// The convolution without padding: on rows r − k/2 ..= r of a map
    /// padded k/2 columns on either side, row r of the output.
    pub fn valid(&self, x: &Tensor) -> Tensor {
        x.conv2d(&self.weight, Some(&self.bias), [1, 1], [0, 0], [1, 1], 1)
    }

    /// Rows above the centre that the kernel reads (k/2).
    pub fn reach(&self) -> i64 {
        self.k / 2
    }

    pub fn num_params(&self) -> i64 {
        (self.weight.numel() + self.bias.numel()) as i64
    }
}

/// Moves a `[B, C, H, W]` map down one row (zeros on top): row i then holds
/// what row i − 1 had, so it depends only on rows strictly above i.
pub fn shift_down(x: &Tensor) -> Tensor {
    let h = x.size()[2];
    x.constant_pad_nd([0, 0, 1, 0]).narrow(2, 0, h)
}

/// tanh(first half) ⊙ σ(second half) along the channels.
pub fn gate(x: &Tensor) -> Tensor {
    let c = x.size()[1] / 2;
    x.narrow(1, 0, c).tanh() * x.narrow(1, c, c).sigmoid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_a_and_b_at_the_centre_follow_the_channel_groups() {
        let g = groups(3, 3);
        assert_eq!(g, vec![0, 1, 2]);
        let a = causal_mask(3, 3, Mask::A, &g, &g);
        let b = causal_mask(3, 3, Mask::B, &g, &g);
        for o in 0..3i64 {
            for i in 0..3i64 {
                assert_eq!(a.double_value(&[o, i, 1, 1]), (i < o) as i64 as f64);
                assert_eq!(b.double_value(&[o, i, 1, 1]), (i <= o) as i64 as f64);
                // above: open; right of centre and below: closed
                assert_eq!(a.double_value(&[o, i, 0, 2]), 1.0);
                assert_eq!(a.double_value(&[o, i, 1, 0]), 1.0);
                assert_eq!(b.double_value(&[o, i, 1, 2]), 0.0);
                assert_eq!(b.double_value(&[o, i, 2, 0]), 0.0);
            }
        }
    }
}
