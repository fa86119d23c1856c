//! The raster adapter: a convolutional network that predicts every pixel
//! from the pixels before it in raster order (and, for colour, each channel
//! from the channels before it), under any of the 8 dihedral variants of
//! raster order: the image is transformed so that the ordering becomes
//! raster order, the network runs, and its outputs are transformed back.
use anyhow::{bail, Result};
use tch::{nn, Device, Kind, Tensor};

use crate::data::ImageShape;
use crate::models::parts::cached::PixelSampler;
use crate::models::{DensityModel, Head};
use crate::order::{Dihedral, OrderSpec};

/// A raster-scan network.
pub trait RasterNet {
    /// Scaled images `[B, C, H, W]` → parameters `[B, C·K, H, W]`, channel
    /// c's K parameters at `c·K .. (c+1)·K`. Output (c, i) may depend only on
    /// input pixels before i in raster order and on channels < c of pixel i.
    fn forward(&self, x: &Tensor) -> Tensor;
    fn num_params(&self) -> i64;
    /// An incremental sampler for `batch` images of `height × width`
    /// (default: none; the adapter then runs the whole network per pixel).
    fn sampler(
        &self,
        _batch: i64,
        _height: i64,
        _width: i64,
    ) -> Option<Box<dyn PixelSampler + '_>> {
        None
    }
}

pub struct Raster {
    net: Box<dyn RasterNet>,
    head: Head,
    shape: ImageShape,
    dihedral: Dihedral,
    order: Vec<usize>,
    device: Device,
    kind: Kind,
}

impl Raster {
    /// Fails if `ordering` is not a dihedral variant of raster order.
    pub fn new(
        net: Box<dyn RasterNet>,
        shape: ImageShape,
        ordering: &OrderSpec,
        vs: &nn::Path,
    ) -> Result<Raster> {
        let Some(dihedral) = ordering.dihedral(shape.height, shape.width) else {
            bail!("ordering `{ordering}` is not a dihedral variant of raster order; this network only takes those");
        };
        Ok(Raster {
            net,
            head: Head::for_pixels(shape.pixels()),
            shape,
            dihedral,
            order: dihedral.visiting_order(shape.height, shape.width),
            device: vs.device(),
            kind: vs.kind(),
        })
    }

    /// Level values → network inputs in [-1, 1].
    fn scale(&self, x: &Tensor) -> Tensor {
        x * (2.0 / (self.shape.levels - 1) as f64) - 1.0
    }

    /// The network's parameters on transformed images: `[B, C, H', W', K]`.
    fn net_logits(&self, y: &Tensor) -> Tensor {
        let out = self.net.forward(&self.scale(y));
        let (b, h, w) = (out.size()[0], out.size()[2], out.size()[3]);
        let c = self.shape.channels as i64;
        out.view([b, c, self.head.params(), h, w])
            .permute([0, 1, 3, 4, 2])
    }
}

impl Raster {
    /// Naive sampling on transformed uniforms `uy`: the network on the rows
    /// up to the current one (outputs never read rows below, so the cut is
    /// exact).
    fn sample_naive_on(&self, uy: &Tensor) -> Tensor {
        let canvas = uy.zeros_like();
        let [_, c, h, w] = uy.size()[..] else {
            unreachable!("uniforms are [n, C, H, W]")
        };
        for r in 0..h {
            for col in 0..w {
                for ch in 0..c {
                    let params = self
                        .net_logits(&canvas.narrow(2, 0, r + 1))
                        .select(1, ch)
                        .select(1, r)
                        .select(1, col);
                    let v = self
                        .head
                        .sample(&params, &uy.select(1, ch).select(1, r).select(1, col));
                    canvas.select(1, ch).select(1, r).select(1, col).copy_(&v);
                }
            }
        }
        canvas
    }

    /// Cached sampling on transformed uniforms `uy`: the sampler gives the
    /// outputs at each pixel; each drawn channel is put back before the next.
    fn sample_cached(&self, uy: &Tensor, sampler: &mut dyn PixelSampler) -> Tensor {
        let canvas = uy.zeros_like();
        let [_, c, h, w] = uy.size()[..] else {
            unreachable!("uniforms are [n, C, H, W]")
        };
        let k = self.head.params();
        for r in 0..h {
            for col in 0..w {
                let (pixel, u) = (
                    canvas.select(2, r).select(2, col),
                    uy.select(2, r).select(2, col),
                );
                for ch in 0..c {
                    let params = sampler.at(r, col).narrow(1, ch * k, k);
                    pixel
                        .select(1, ch)
                        .copy_(&self.head.sample(&params, &u.select(1, ch)));
                    sampler.put(r, col, &self.scale(&pixel));
                }
            }
        }
        canvas
    }
}

impl DensityModel for Raster {
    fn logits(&self, x: &Tensor) -> Tensor {
        let y = self.dihedral.apply(x);
        self.dihedral.invert_at(&self.net_logits(&y), 2)
    }

    fn head(&self) -> Head {
        self.head
    }

    /// Ancestral sampling with the network's cached sampler when it has
    /// one (each layer computed at the new position only), else naively.
    fn sample_with(&self, u: &Tensor) -> Tensor {
        let _guard = tch::no_grad_guard();
        let uy = self.dihedral.apply(&u.to_kind(self.kind)).contiguous();
        let [n, _, h, w] = uy.size()[..] else {
            unreachable!("uniforms are [n, C, H, W]")
        };
        match self.net.sampler(n, h, w) {
            Some(mut sampler) => self
                .dihedral
                .invert_at(&self.sample_cached(&uy, sampler.as_mut()), 2),
            None => self.dihedral.invert_at(&self.sample_naive_on(&uy), 2),
        }
    }

    fn sample_naive_with(&self, u: &Tensor) -> Tensor {
        let _guard = tch::no_grad_guard();
        let uy = self.dihedral.apply(&u.to_kind(self.kind)).contiguous();
        self.dihedral.invert_at(&self.sample_naive_on(&uy), 2)
    }

    fn num_params(&self) -> i64 {
        self.net.num_params()
    }
    fn order(&self) -> &[usize] {
        &self.order
    }
    fn shape(&self) -> ImageShape {
        self.shape
    }
    fn device(&self) -> Device {
        self.device
    }
}
