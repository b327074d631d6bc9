//! Neurosurgeon's layer latency predictor (Kang et al., ASPLOS 2017): per op type, a linear
//! regression of a layer's latency on its FLOPs and the bytes it moves, fitted by least
//! squares to the profile, separately for the device and the edge. The `neurosurgeon`
//! method chooses its split with these predictions; its true latency is then evaluated
//! with the measured times, and the predictor's error is reported.

use super::problem::{Layer, Problem};
use crate::report::PredictorError;
use std::collections::BTreeMap;

/// `latency_ms = intercept + per_gflop * GFLOPs + per_mb * MB`, fitted by least squares.
///
/// Regressors that the data cannot identify are dropped, in this order of preference:
/// both, FLOPs only, bytes only, the mean (e.g. an op type with one layer, or FLOPs
/// proportional to bytes). Predictions are clamped at 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct LinearFit {
    /// Constant term, ms.
    pub intercept: f64,
    /// ms per GFLOP.
    pub per_gflop: f64,
    /// ms per MB (1e6 bytes).
    pub per_mb: f64,
    /// Layers fitted.
    pub n: usize,
}

/// Solves the normal equations `A x = b` (n x n, n <= 3) by Gaussian elimination with
/// partial pivoting; `None` if a pivot is negligible (the regressors are collinear).
fn solve(mut a: [[f64; 3]; 3], mut b: [f64; 3], n: usize) -> Option<[f64; 3]> {
    let scale = (0..n).map(|i| a[i][i].abs()).fold(0.0, f64::max);
    if scale == 0.0 {
        return None;
    }
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[piv][col].abs() <= 1e-10 * scale {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        let pivot_row = a[col];
        for r in col + 1..n {
            let f = a[r][col] / pivot_row[col];
            for (x, p) in a[r][col..n].iter_mut().zip(&pivot_row[col..n]) {
                *x -= f * p;
            }
            b[r] -= f * b[col];
        }
    }
    let mut x = [0.0; 3];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|c| a[r][c] * x[c]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    Some(x)
}

impl LinearFit {
    /// Fits `ys` against `(flops, bytes)` per sample.
    pub fn fit(xs: &[(f64, f64)], ys: &[f64]) -> Self {
        let n = xs.len().min(ys.len());
        if n == 0 {
            return Self::default();
        }
        let mean = ys[..n].iter().sum::<f64>() / n as f64;
        // Features in GFLOP and MB, centred, so the normal equations are well scaled.
        let f: Vec<[f64; 2]> = xs[..n].iter().map(|&(a, b)| [a / 1e9, b / 1e6]).collect();
        let mu = [
            f.iter().map(|v| v[0]).sum::<f64>() / n as f64,
            f.iter().map(|v| v[1]).sum::<f64>() / n as f64,
        ];
        let try_cols = |cols: &[usize]| -> Option<Self> {
            let k = cols.len();
            if n <= k {
                return None;
            }
            let mut a = [[0.0; 3]; 3];
            let mut b = [0.0; 3];
            for (row, &y) in f.iter().zip(&ys[..n]) {
                for (i, &ci) in cols.iter().enumerate() {
                    let xi = row[ci] - mu[ci];
                    b[i] += xi * (y - mean);
                    for (j, &cj) in cols.iter().enumerate() {
                        a[i][j] += xi * (row[cj] - mu[cj]);
                    }
                }
            }
            let x = solve(a, b, k)?;
            let mut coef = [0.0; 2];
            for (i, &ci) in cols.iter().enumerate() {
                coef[ci] = x[i];
            }
            Some(Self {
                intercept: mean - coef[0] * mu[0] - coef[1] * mu[1],
                per_gflop: coef[0],
                per_mb: coef[1],
                n,
            })
        };
        try_cols(&[0, 1])
            .or_else(|| try_cols(&[0]))
            .or_else(|| try_cols(&[1]))
            .unwrap_or(Self {
                intercept: mean,
                per_gflop: 0.0,
                per_mb: 0.0,
                n,
            })
    }

    /// Predicted latency, ms (>= 0).
    pub fn predict(&self, flops: f64, bytes: f64) -> f64 {
        (self.intercept + self.per_gflop * flops / 1e9 + self.per_mb * bytes / 1e6).max(0.0)
    }
}

/// The device and edge fits of one op type.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct OpFit {
    /// Device latency model.
    pub device: LinearFit,
    /// Edge latency model.
    pub edge: LinearFit,
}

/// Per-op-type linear latency models fitted to a problem's layers (the input excluded).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Predictor {
    /// Fits by op type.
    pub fits: BTreeMap<String, OpFit>,
}

fn mdape(pairs: impl Iterator<Item = (f64, f64)>) -> Option<f64> {
    let mut e: Vec<f64> = pairs
        .filter(|&(_, m)| m > 0.0)
        .map(|(p, m)| (p - m).abs() / m * 100.0)
        .collect();
    if e.is_empty() {
        return None;
    }
    e.sort_by(f64::total_cmp);
    Some(crate::channel::quantile_sorted(&e, 0.5))
}

impl Predictor {
    /// Fits one model per op type on the device and on the edge times.
    pub fn fit(problem: &Problem) -> Self {
        let mut by_op: BTreeMap<&str, Vec<&Layer>> = BTreeMap::new();
        for l in problem.layers.iter().skip(1) {
            by_op.entry(l.op.as_str()).or_default().push(l);
        }
        let fits = by_op
            .into_iter()
            .map(|(op, ls)| {
                let xs: Vec<(f64, f64)> = ls
                    .iter()
                    .map(|l| (l.flops as f64, l.bytes as f64))
                    .collect();
                let dev: Vec<f64> = ls.iter().map(|l| l.device_ms).collect();
                let edge: Vec<f64> = ls.iter().map(|l| l.edge_ms).collect();
                (
                    op.to_string(),
                    OpFit {
                        device: LinearFit::fit(&xs, &dev),
                        edge: LinearFit::fit(&xs, &edge),
                    },
                )
            })
            .collect();
        Self { fits }
    }

    /// Predicted (device, edge) time of a layer, ms; 0 for the input and unknown op types.
    pub fn predict(&self, layer: &Layer) -> (f64, f64) {
        match self.fits.get(&layer.op) {
            Some(f) if layer.op != "input" => {
                let (x, b) = (layer.flops as f64, layer.bytes as f64);
                (f.device.predict(x, b), f.edge.predict(x, b))
            }
            _ => (0.0, 0.0),
        }
    }

    /// Predicted per-node (device, edge) times of a problem.
    pub fn predict_all(&self, problem: &Problem) -> Vec<(f64, f64)> {
        problem
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| if i == 0 { (0.0, 0.0) } else { self.predict(l) })
            .collect()
    }

    /// Median absolute percentage error per op type, then over all layers (`all`).
    pub fn errors(&self, problem: &Problem) -> Vec<PredictorError> {
        let pred = self.predict_all(problem);
        let rows: Vec<(&Layer, (f64, f64))> = problem.layers.iter().zip(pred).skip(1).collect();
        let one = |op: &str, sel: &[&(&Layer, (f64, f64))]| PredictorError {
            op: op.to_string(),
            layers: sel.len(),
            device_mdape_pct: mdape(sel.iter().map(|(l, p)| (p.0, l.device_ms))),
            edge_mdape_pct: mdape(sel.iter().map(|(l, p)| (p.1, l.edge_ms))),
        };
        let mut out: Vec<PredictorError> = self
            .fits
            .keys()
            .map(|op| {
                let sel: Vec<&(&Layer, (f64, f64))> =
                    rows.iter().filter(|(l, _)| &l.op == op).collect();
                one(op, &sel)
            })
            .collect();
        let all: Vec<&(&Layer, (f64, f64))> = rows.iter().collect();
        out.push(one("all", &all));
        out
    }
}
