use crate::error::{Error, Result};
use crate::gpu::{Executor, RangeProfile};
use std::path::Path;

/// One row of `splitbench profile`'s CSV: one executed node.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProfileRow {
    /// Node name (torchvision module path of the fused node).
    pub node: String,
    /// Op kind (`conv`, `dwconv`, `conv1x1`, `linear`, `maxpool`, ...).
    pub op: String,
    /// Output shape `N x C x H x W`.
    pub out_shape: String,
    /// Batch size.
    pub batch: usize,
    /// FLOPs of the node for the whole batch (2 x MACs for conv/linear).
    pub flops: u64,
    /// Bytes of the output tensor for the whole batch (f32).
    pub out_bytes: u64,
    /// Bytes the node reads (inputs + weights, f32).
    pub in_bytes: u64,
    /// Median device time.
    pub device_ms_median: f64,
    /// 5th percentile.
    pub device_ms_p5: f64,
    /// 95th percentile.
    pub device_ms_p95: f64,
    /// Number of timed repetitions.
    pub reps: usize,
    /// Kernels dispatched for the node (0 for views such as flatten).
    pub dispatches: usize,
    /// How the time was measured.
    pub timing: String,
}

/// The manifest written beside a profile CSV.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ProfileManifest {
    /// Environment of the run.
    #[serde(flatten)]
    pub run: super::RunInfo,
    /// Model name.
    pub model: String,
    /// Input shape per sample.
    pub input: String,
    /// Hash of graph + weights.
    pub model_hash: String,
    /// Where the weights came from.
    pub weights: String,
    /// Batch size.
    pub batch: usize,
    /// Timed repetitions.
    pub reps: usize,
    /// Untimed warm-up runs.
    pub warmup: usize,
    /// Per-node timing method.
    pub timing: String,
    /// Whole-graph timing method.
    pub whole_graph_timing: String,
    /// Whole graph in one submission: median ms.
    pub whole_graph_ms_median: f64,
    /// 5th percentile.
    pub whole_graph_ms_p5: f64,
    /// 95th percentile.
    pub whole_graph_ms_p95: f64,
    /// Sum of per-node medians.
    pub sum_of_node_medians_ms: f64,
}

/// CSV rows of a profiled executor.
pub fn profile_rows(exec: &Executor<'_>, prof: &RangeProfile) -> Vec<ProfileRow> {
    let g = exec.graph();
    let b = exec.batch();
    exec.steps()
        .iter()
        .zip(&prof.per_node)
        .map(|(step, st)| {
            let n = &g.nodes[step.node];
            let params: u64 =
                n.op.params()
                    .iter()
                    .map(|(_, s, _)| s.iter().product::<usize>() as u64)
                    .sum();
            let inputs: u64 = n
                .inputs
                .iter()
                .map(|&i| g.nodes[i].shape.numel() as u64)
                .sum();
            ProfileRow {
                node: n.name.clone(),
                op: n.op.kind().to_string(),
                out_shape: format!("{b}x{}", n.shape),
                batch: b,
                flops: n.flops(g) * b as u64,
                out_bytes: (n.shape.bytes_f32() * b) as u64,
                in_bytes: if n.op.is_view() {
                    0
                } else {
                    (inputs * b as u64 + params) * 4
                },
                device_ms_median: st.median_ms,
                device_ms_p5: st.p5_ms,
                device_ms_p95: st.p95_ms,
                reps: st.count,
                dispatches: step.dispatches.len(),
                timing: prof.method.as_str().to_string(),
            }
        })
        .collect()
}

/// Writes serde rows as CSV with a header.
pub fn write_csv<T: serde::Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mut w = csv::Writer::from_path(path).map_err(|e| Error::BadFile {
        file: path.into(),
        msg: e.to_string(),
    })?;
    for r in rows {
        w.serialize(r).map_err(|e| Error::BadFile {
            file: path.into(),
            msg: e.to_string(),
        })?;
    }
    w.flush().map_err(|e| Error::io(path, e))
}

/// Reads a profile CSV written by `splitbench profile` (e.g. measured on an edge server).
pub fn read_profile_csv(path: &Path) -> Result<Vec<ProfileRow>> {
    let bad = |msg: String| Error::BadFile {
        file: path.into(),
        msg,
    };
    let mut r = csv::Reader::from_path(path).map_err(|e| match e.kind() {
        csv::ErrorKind::Io(_) => bad(format!("cannot open: {e}")),
        _ => bad(e.to_string()),
    })?;
    let mut rows = Vec::new();
    for (i, rec) in r.deserialize::<ProfileRow>().enumerate() {
        let row = rec.map_err(|e| bad(format!("row {}: {e}", i + 2)))?;
        if !row.device_ms_median.is_finite() || row.device_ms_median < 0.0 {
            return Err(bad(format!(
                "row {}: device_ms_median {} is not a non-negative number",
                i + 2,
                row.device_ms_median
            )));
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(bad(
            "no rows (expected a CSV written by `splitbench profile`)".into(),
        ));
    }
    Ok(rows)
}
