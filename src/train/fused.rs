//! Batch norm (training mode) and ReLU over NHWC rows as candle custom ops, forward and
//! backward each in one or two passes. Written with candle's elementary ops, each batch
//! norm costs about a dozen full passes over the activation plus strided reductions, which
//! dominated the step time.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

/// Rows per parallel chunk.
const CHUNK_ROWS: usize = 4096;

fn slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let (a, b) = l
        .contiguous_offsets()
        .ok_or_else(|| candle_core::Error::Msg(format!("{what}: not contiguous")))?;
    match s {
        CpuStorage::F32(v) => Ok(&v[a..b]),
        _ => Err(candle_core::Error::Msg(format!("{what}: expected f32"))),
    }
}

fn dims2(l: &Layout, what: &str) -> Result<(usize, usize)> {
    match l.shape().dims() {
        [m, c] => Ok((*m, *c)),
        d => Err(candle_core::Error::Msg(format!(
            "{what}: expected [m, c], got {d:?}"
        ))),
    }
}

/// Per-channel sums over the rows of `x` (`[m, c]`): f32 within blocks of 64 rows, f64
/// across blocks.
fn channel_sums(x: &[f32], c: usize) -> Vec<f64> {
    x.par_chunks(CHUNK_ROWS * c)
        .map(|chunk| {
            let mut acc = vec![0f64; c];
            let mut part = vec![0f32; c];
            for rows in chunk.chunks(64 * c) {
                part.iter_mut().for_each(|p| *p = 0.0);
                for row in rows.chunks_exact(c) {
                    for (p, v) in part.iter_mut().zip(row) {
                        *p += v;
                    }
                }
                for (a, p) in acc.iter_mut().zip(&part) {
                    *a += *p as f64;
                }
            }
            acc
        })
        .reduce(
            || vec![0f64; c],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        )
}

/// Batch statistics of the last forward pass: (mean, biased variance) per channel.
pub(crate) type BatchStats = Arc<Mutex<Option<(Vec<f32>, Vec<f32>)>>>;

/// `y = (x - mean) / sqrt(var + eps) * gamma + beta` with batch statistics over the rows.
pub(crate) struct BatchNormTrain {
    pub eps: f32,
    /// Filled by the forward pass (for the running statistics and the backward pass).
    pub stats: BatchStats,
}

impl CustomOp3 for BatchNormTrain {
    fn name(&self) -> &'static str {
        "batch-norm-train-nhwc"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (m, c) = dims2(xl, "batch norm")?;
        let x = slice(xs, xl, "batch norm x")?;
        let gamma = slice(gs, gl, "batch norm weight")?;
        let beta = slice(bs, bl, "batch norm bias")?;
        let sums = channel_sums(x, c);
        let mean: Vec<f32> = sums.iter().map(|s| (s / m as f64) as f32).collect();
        // Second pass for the variance (numerically safer than E[x^2] - E[x]^2).
        let sq: Vec<f64> = x
            .par_chunks(CHUNK_ROWS * c)
            .map(|chunk| {
                let mut acc = vec![0f64; c];
                let mut part = vec![0f32; c];
                for rows in chunk.chunks(64 * c) {
                    part.iter_mut().for_each(|p| *p = 0.0);
                    for row in rows.chunks_exact(c) {
                        for ((p, v), mu) in part.iter_mut().zip(row).zip(&mean) {
                            let d = v - mu;
                            *p += d * d;
                        }
                    }
                    for (a, p) in acc.iter_mut().zip(&part) {
                        *a += *p as f64;
                    }
                }
                acc
            })
            .reduce(
                || vec![0f64; c],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        let var: Vec<f32> = sq.iter().map(|s| (s / m as f64) as f32).collect();
        let scale: Vec<f32> = var
            .iter()
            .zip(gamma)
            .map(|(v, g)| g / (v + self.eps).sqrt())
            .collect();
        let shift: Vec<f32> = (0..c).map(|k| beta[k] - mean[k] * scale[k]).collect();
        let mut y = vec![0f32; m * c];
        y.par_chunks_mut(CHUNK_ROWS * c)
            .zip(x.par_chunks(CHUNK_ROWS * c))
            .for_each(|(yc, xc)| {
                for (yr, xr) in yc.chunks_exact_mut(c).zip(xc.chunks_exact(c)) {
                    for k in 0..c {
                        yr[k] = xr[k] * scale[k] + shift[k];
                    }
                }
            });
        *self.stats.lock().expect("batch stats lock") = Some((mean, var));
        Ok((CpuStorage::F32(y), Shape::from((m, c))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (mean, var) = self
            .stats
            .lock()
            .expect("batch stats lock")
            .clone()
            .ok_or_else(|| candle_core::Error::Msg("batch norm backward before forward".into()))?;
        let m = x.dim(0)?;
        let c = x.dim(1)?;
        let g = gamma.to_vec1::<f32>()?;
        let op = BatchNormBwd {
            mean,
            invstd: var.iter().map(|v| 1.0 / (v + self.eps).sqrt()).collect(),
            gamma: g,
        };
        let packed = grad.contiguous()?.apply_op2_no_bwd(&x.contiguous()?, &op)?;
        let dx = packed.narrow(0, 0, m)?;
        let dgamma = packed.narrow(0, m, 1)?.reshape(c)?;
        let dbeta = packed.narrow(0, m + 1, 1)?.reshape(c)?;
        Ok((Some(dx), Some(dgamma), Some(dbeta)))
    }
}

/// Backward of [`BatchNormTrain`] on (grad, x): output `[m + 2, c]` = dx rows, then dgamma,
/// then dbeta.
struct BatchNormBwd {
    mean: Vec<f32>,
    invstd: Vec<f32>,
    gamma: Vec<f32>,
}

impl CustomOp2 for BatchNormBwd {
    fn name(&self) -> &'static str {
        "batch-norm-train-nhwc-bwd"
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        xs: &CpuStorage,
        xl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (m, c) = dims2(xl, "batch norm backward")?;
        let dy = slice(gs, gl, "batch norm grad")?;
        let x = slice(xs, xl, "batch norm x")?;
        let (mean, invstd) = (&self.mean, &self.invstd);
        // Pass 1: dbeta = sum dy, dgamma = sum dy * xhat.
        let (db, dg) = dy
            .par_chunks(CHUNK_ROWS * c)
            .zip(x.par_chunks(CHUNK_ROWS * c))
            .map(|(dc, xc)| {
                let mut db = vec![0f64; c];
                let mut dg = vec![0f64; c];
                let mut pb = vec![0f32; c];
                let mut pg = vec![0f32; c];
                for (drows, xrows) in dc.chunks(64 * c).zip(xc.chunks(64 * c)) {
                    pb.iter_mut().for_each(|p| *p = 0.0);
                    pg.iter_mut().for_each(|p| *p = 0.0);
                    for (dr, xr) in drows.chunks_exact(c).zip(xrows.chunks_exact(c)) {
                        for k in 0..c {
                            pb[k] += dr[k];
                            pg[k] += dr[k] * (xr[k] - mean[k]) * invstd[k];
                        }
                    }
                    for k in 0..c {
                        db[k] += pb[k] as f64;
                        dg[k] += pg[k] as f64;
                    }
                }
                (db, dg)
            })
            .reduce(
                || (vec![0f64; c], vec![0f64; c]),
                |(mut a, mut b), (x, y)| {
                    a.iter_mut().zip(&x).for_each(|(p, q)| *p += q);
                    b.iter_mut().zip(&y).for_each(|(p, q)| *p += q);
                    (a, b)
                },
            );
        // Pass 2: dx = gamma * invstd * (dy - dbeta/m - xhat * dgamma/m).
        let k1: Vec<f32> = (0..c).map(|k| self.gamma[k] * invstd[k]).collect();
        let mb: Vec<f32> = db.iter().map(|v| (v / m as f64) as f32).collect();
        let mg: Vec<f32> = dg.iter().map(|v| (v / m as f64) as f32).collect();
        let mut out = vec![0f32; (m + 2) * c];
        out[..m * c]
            .par_chunks_mut(CHUNK_ROWS * c)
            .zip(dy.par_chunks(CHUNK_ROWS * c))
            .zip(x.par_chunks(CHUNK_ROWS * c))
            .for_each(|((oc, dc), xc)| {
                for ((or, dr), xr) in oc
                    .chunks_exact_mut(c)
                    .zip(dc.chunks_exact(c))
                    .zip(xc.chunks_exact(c))
                {
                    for k in 0..c {
                        let xhat = (xr[k] - mean[k]) * invstd[k];
                        or[k] = k1[k] * (dr[k] - mb[k] - xhat * mg[k]);
                    }
                }
            });
        for k in 0..c {
            out[m * c + k] = dg[k] as f32;
            out[(m + 1) * c + k] = db[k] as f32;
        }
        Ok((CpuStorage::F32(out), Shape::from((m + 2, c))))
    }
}

/// max(x, 0), backward in one pass.
pub(crate) struct Relu;

impl CustomOp1 for Relu {
    fn name(&self) -> &'static str {
        "relu-fused"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = slice(s, l, "relu")?;
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(1 << 16)
            .zip(x.par_chunks(1 << 16))
            .for_each(|(yc, xc)| {
                for (y, x) in yc.iter_mut().zip(xc) {
                    *y = x.max(0.0);
                }
            });
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, _arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(
            grad.contiguous()?
                .apply_op2_no_bwd(&res.contiguous()?, &ReluBwd)?,
        ))
    }
}

/// `grad * (y > 0)` on (grad, y).
struct ReluBwd;

impl CustomOp2 for ReluBwd {
    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        ys: &CpuStorage,
        yl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (g, y) = (slice(gs, gl, "relu grad")?, slice(ys, yl, "relu output")?);
        let mut out = vec![0f32; g.len()];
        out.par_chunks_mut(1 << 16)
            .zip(g.par_chunks(1 << 16).zip(y.par_chunks(1 << 16)))
            .for_each(|(oc, (gc, yc))| {
                for ((o, g), y) in oc.iter_mut().zip(gc).zip(yc) {
                    *o = if *y > 0.0 { *g } else { 0.0 };
                }
            });
        Ok((CpuStorage::F32(out), gl.shape().clone()))
    }

    fn name(&self) -> &'static str {
        "relu-fused-bwd"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn rand(n: usize, seed: u64) -> Vec<f32> {
        crate::tensor::Rng::new(seed).vec(n, -2.0, 2.0)
    }

    /// Forward and gradients of the fused batch norm + ReLU equal candle's elementary ops.
    #[test]
    fn fused_batch_norm_and_relu_match_elementary_ops() {
        let (m, c) = (300, 5);
        let dev = Device::Cpu;
        let x = Var::from_vec(rand(m * c, 1), (m, c), &dev).unwrap();
        let gamma = Var::from_vec(rand(c, 2), c, &dev).unwrap();
        let beta = Var::from_vec(rand(c, 3), c, &dev).unwrap();
        let w = Tensor::from_vec(rand(m * c, 4), (m, c), &dev).unwrap();
        let eps = 1e-5;

        let stats = Arc::new(Mutex::new(None));
        let op = BatchNormTrain {
            eps,
            stats: stats.clone(),
        };
        let y = x
            .as_tensor()
            .apply_op3(gamma.as_tensor(), beta.as_tensor(), op)
            .unwrap()
            .apply_op1(Relu)
            .unwrap();
        let loss = (y.clone() * &w).unwrap().sum_all().unwrap();
        let g = loss.backward().unwrap();

        let mean = x.as_tensor().mean_keepdim(0).unwrap();
        let xc = x.as_tensor().broadcast_sub(&mean).unwrap();
        let var = xc.sqr().unwrap().mean_keepdim(0).unwrap();
        let yr = xc
            .broadcast_div(&(var.clone() + eps as f64).unwrap().sqrt().unwrap())
            .unwrap()
            .broadcast_mul(&gamma.as_tensor().unsqueeze(0).unwrap())
            .unwrap()
            .broadcast_add(&beta.as_tensor().unsqueeze(0).unwrap())
            .unwrap()
            .relu()
            .unwrap();
        let loss_r = (yr.clone() * &w).unwrap().sum_all().unwrap();
        let gr = loss_r.backward().unwrap();

        let close = |a: &Tensor, b: &Tensor, what: &str| {
            let a = a.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let b = b.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            for (i, (p, q)) in a.iter().zip(&b).enumerate() {
                assert!(
                    (p - q).abs() <= 1e-4 * (1.0 + q.abs()),
                    "{what}[{i}]: {p} vs {q}"
                );
            }
        };
        close(&y, &yr, "y");
        for v in [&x, &gamma, &beta] {
            close(
                g.get(v.as_tensor()).unwrap(),
                gr.get(v.as_tensor()).unwrap(),
                "grad",
            );
        }
        let (bm, bv) = stats.lock().unwrap().clone().unwrap();
        close(
            &Tensor::new(bm, &dev).unwrap(),
            &mean.squeeze(0).unwrap(),
            "mean",
        );
        close(
            &Tensor::new(bv, &dev).unwrap(),
            &var.squeeze(0).unwrap(),
            "var",
        );
    }

    /// im2col backward (col2im) is the adjoint of im2col: <im2col(x), c> = <x, col2im(c)>.
    #[test]
    fn col2im_is_adjoint_of_im2col() {
        use crate::train::im2col::{Col2Im, ConvGeom, Im2Col};
        let g = ConvGeom {
            n: 2,
            h: 5,
            w: 6,
            c: 3,
            kh: 3,
            kw: 3,
            sh: 2,
            sw: 1,
            ph: 1,
            pw: 1,
        };
        let dev = Device::Cpu;
        let x = Tensor::from_vec(rand(2 * 5 * 6 * 3, 5), (60, 3), &dev).unwrap();
        let cols = x.apply_op1_no_bwd(&Im2Col(g)).unwrap();
        let (oh, ow) = g.out_hw();
        assert_eq!(cols.dims(), &[2 * oh * ow, 27]);
        let c = Tensor::from_vec(rand(2 * oh * ow * 27, 6), (2 * oh * ow, 27), &dev).unwrap();
        let back = c.apply_op1_no_bwd(&Col2Im(g)).unwrap();
        let lhs = (cols * &c)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let rhs = (x * back)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(
            (lhs - rhs).abs() < 1e-3 * lhs.abs().max(1.0),
            "{lhs} vs {rhs}"
        );
    }
}
