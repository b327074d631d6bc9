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
        out.par_chunks_mut(per_img).enumerate().for_each(|(b, o)| {
            let img = &x[b * g.h * g.w * g.c..(b + 1) * g.h * g.w * g.c];
            for oy in 0..oh {
                for ox in 0..ow {
                    let row = &mut o[(oy * ow + ox) * cols..(oy * ow + ox + 1) * cols];
                    for ky in 0..g.kh {
                        let iy = (oy * g.sh + ky) as isize - g.ph as isize;
                        if iy < 0 || iy >= g.h as isize {
                            continue;
                        }
                        for kx in 0..g.kw {
                            let ix = (ox * g.sw + kx) as isize - g.pw as isize;
                            if ix < 0 || ix >= g.w as isize {
                                continue;
                            }
                            let src = (iy as usize * g.w + ix as usize) * g.c;
                            let dst = (ky * g.kw + kx) * g.c;
                            row[dst..dst + g.c].copy_from_slice(&img[src..src + g.c]);
                        }
                    }
                }
            }
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
        out.par_chunks_mut(per_img)
            .enumerate()
            .for_each(|(b, img)| {
                let src_img = &cm[b * oh * ow * cols..(b + 1) * oh * ow * cols];
                for oy in 0..oh {
                    for ox in 0..ow {
                        let row = &src_img[(oy * ow + ox) * cols..(oy * ow + ox + 1) * cols];
                        for ky in 0..g.kh {
                            let iy = (oy * g.sh + ky) as isize - g.ph as isize;
                            if iy < 0 || iy >= g.h as isize {
                                continue;
                            }
                            for kx in 0..g.kw {
                                let ix = (ox * g.sw + kx) as isize - g.pw as isize;
                                if ix < 0 || ix >= g.w as isize {
                                    continue;
                                }
                                let dst = (iy as usize * g.w + ix as usize) * g.c;
                                let src = (ky * g.kw + kx) * g.c;
                                for (d, s) in
                                    img[dst..dst + g.c].iter_mut().zip(&row[src..src + g.c])
                                {
                                    *d += s;
                                }
                            }
                        }
                    }
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((g.n * g.h * g.w, g.c))))
    }
}
