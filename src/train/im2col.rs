//! im2col / col2im for NHWC activations as candle custom ops, so a convolution is one GEMM
//! forward and two GEMMs backward (candle's own CPU conv backward goes through a direct
//! transposed convolution, much slower on small images).

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// Geometry of one convolution over an NHWC batch stored as `[n * h * w, c]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConvGeom {
    pub n: usize,
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub ph: usize,
    pub pw: usize,
}

impl ConvGeom {
    pub fn out_hw(&self) -> (usize, usize) {
        (
            (self.h + 2 * self.ph - self.kh) / self.sh + 1,
            (self.w + 2 * self.pw - self.kw) / self.sw + 1,
        )
    }
    /// Columns of the im2col matrix: `kh * kw * c`, ordered (ky, kx, c).
    pub fn cols(&self) -> usize {
        self.kh * self.kw * self.c
    }
    /// Whether the conv is a plain GEMM on the input (1x1, stride 1, no padding).
    pub fn is_identity(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.sh == 1 && self.sw == 1 && self.ph == 0 && self.pw == 0
    }

    /// Calls `f(row, tap, at)` for every output pixel `row = oy * ow + ox` and kernel tap
    /// `tap = ky * kw + kx` that reads inside the image (padding reads nothing), with
    /// `at = iy * w + ix` the input pixel it reads: the one loop nest of im2col and col2im.
    fn taps(&self, mut f: impl FnMut(usize, usize, usize)) {
        let (oh, ow) = self.out_hw();
        let inside = |o: usize, s: usize, k: usize, p: usize, len: usize| {
            (o * s + k).checked_sub(p).filter(|&i| i < len)
        };
        for oy in 0..oh {
            for ox in 0..ow {
                for ky in 0..self.kh {
                    let Some(iy) = inside(oy, self.sh, ky, self.ph, self.h) else {
                        continue;
                    };
                    for kx in 0..self.kw {
                        if let Some(ix) = inside(ox, self.sw, kx, self.pw, self.w) {
                            f(oy * ow + ox, ky * self.kw + kx, iy * self.w + ix);
                        }
                    }
                }
            }
        }
    }
}

fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let (start, end) = l
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg(format!("{what}: input not contiguous")))?;
    match s {
        CpuStorage::F32(v) => Ok(&v[start..end]),
        _ => Err(candle_core::Error::Msg(format!("{what}: expected f32"))),
    }
}

/// `[n*h*w, c]` -> `[n*oh*ow, kh*kw*c]`, zero padding.
pub(crate) struct Im2Col(pub ConvGeom);

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "im2col-nhwc"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = self.0;
        let x = f32_slice(s, l, "im2col")?;
        let (oh, ow) = g.out_hw();
        let cols = g.cols();
        let per_img = oh * ow * cols;
        let mut out = vec![0f32; g.n * per_img];
        let c = g.c;
        out.par_chunks_mut(per_img).enumerate().for_each(|(b, o)| {
            let img = &x[b * g.h * g.w * c..(b + 1) * g.h * g.w * c];
            g.taps(|row, tap, at| {
                let dst = row * cols + tap * c;
                o[dst..dst + c].copy_from_slice(&img[at * c..(at + 1) * c]);
            });
        });
        Ok((CpuStorage::F32(out), Shape::from((g.n * oh * ow, cols))))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&Col2Im(self.0))?))
    }
}

/// The adjoint of [`Im2Col`]: `[n*oh*ow, kh*kw*c]` -> `[n*h*w, c]`, summing overlaps.
pub(crate) struct Col2Im(pub ConvGeom);

impl CustomOp1 for Col2Im {
    fn name(&self) -> &'static str {
        "col2im-nhwc"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = self.0;
        let cm = f32_slice(s, l, "col2im")?;
        let (oh, ow) = g.out_hw();
        let cols = g.cols();
        let per_img = g.h * g.w * g.c;
        let mut out = vec![0f32; g.n * per_img];
        let c = g.c;
        out.par_chunks_mut(per_img)
            .enumerate()
            .for_each(|(b, img)| {
                let cols_img = &cm[b * oh * ow * cols..(b + 1) * oh * ow * cols];
                g.taps(|row, tap, at| {
                    let src = row * cols + tap * c;
                    for (d, s) in img[at * c..(at + 1) * c]
                        .iter_mut()
                        .zip(&cols_img[src..src + c])
                    {
                        *d += s;
                    }
                });
            });
        Ok((CpuStorage::F32(out), Shape::from((g.n * g.h * g.w, g.c))))
    }
}
