//! The kernel efficiency table's rows and manifest (`kernel_efficiency.csv` and its JSON):
//! types only, filled by `study::efficiency`.

use super::manifests::RunInfo;
use crate::gpu::TuneSummary;

/// One layer shape of the kernel efficiency table.
#[derive(Clone, Debug, serde::Serialize)]
pub struct KernelEfficiencyRow {
    /// Where the shape comes from: a model, `bottleneck` or `stems`.
    pub group: String,
    /// `conv`, `conv1x1`, `dwconv` or `linear`.
    pub op: String,
    /// `<batch>x<input> -> <output> k<kh>x<kw> s<stride>[ g<groups>]` (`<batch>x<in> ->
    /// <out>` for linear layers).
    pub shape: String,
    /// Nodes with this shape (the first three, `model:node`).
    pub nodes: String,
    /// Kernel and tile that ran (`direct-r4-c8-ch`, `gemm-64x64+splitk4`, ...).
    pub kernel: String,
    /// `tuned`, `cached` or `heuristic`.
    pub tile_source: String,
    /// FLOPs (2 x multiply-adds).
    pub flops: u64,
    /// Compulsory traffic: input, weights, bias and output, each once.
    pub bytes: u64,
    /// Median device time.
    pub median_ms: f64,
    /// 5th percentile.
    pub p5_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// Timed repetitions.
    pub reps: usize,
    /// FLOP rate.
    pub gflops: f64,
    /// Compulsory traffic rate.
    pub gbps: f64,
    /// FLOP rate over the best (ungrouped) convolution's rate of the same run, %.
    pub pct_of_best_conv: f64,
    /// Traffic rate over the copy kernel's bandwidth of the same run, %.
    pub pct_of_copy_bw: f64,
    /// `memory` when the traffic at the copy bandwidth takes longer than the arithmetic at
    /// the best conv rate, else `compute`.
    pub bound: String,
    /// FLOP rate over the roofline: the best conv rate, or arithmetic intensity x copy
    /// bandwidth when memory-bound, %.
    pub pct_of_roofline: f64,
    /// Whether `pct_of_roofline` reaches the target (50%).
    pub meets_target: bool,
    /// The roofline's time plus the device's dispatch floor (an empty dispatch's time, as
    /// timed here) over the measured time, %: how close the kernel is to what a dispatch
    /// can do on this device, for shapes whose arithmetic is as short as the floor.
    pub pct_of_roofline_with_floor: f64,
    /// Whether the dispatch floor alone is at least the roofline's time: then even a
    /// kernel at the roofline, launched at the floor's cost, takes twice the roofline's
    /// time or more, and the target cannot be met on this device.
    pub floor_bound: bool,
}

/// What the kernel efficiency table was measured with, and the device's figures.
#[derive(Clone, Debug, serde::Serialize)]
pub struct KernelEfficiencyManifest {
    /// Environment of the run.
    #[serde(flatten)]
    pub run: RunInfo,
    /// Batch size of every shape.
    pub batch: usize,
    /// Untimed runs per shape.
    pub warmup: usize,
    /// Timed runs per shape.
    pub reps: usize,
    /// Passes over all shapes (each shape's row is its pass of lowest median).
    pub passes: usize,
    /// Every shape of every zoo model (`true`) or only the study's and the stems.
    pub full: bool,
    /// The `--only` filter the shapes were chosen by, if any (then `best_conv_*` is the
    /// best among the shapes measured, not the device's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only: Option<String>,
    /// How the times were taken.
    pub timing: String,
    /// Bytes the copy kernel copied.
    pub copy_bytes: u64,
    /// Copy bandwidth (bytes read + written per second), GB/s.
    pub copy_gbps: f64,
    /// The copy bandwidth measured before and after the shapes, GB/s (`copy_gbps` is the
    /// higher).
    pub copy_gbps_runs: [f64; 2],
    /// The best ungrouped convolution's rate, GFLOP/s: the fastest of the table's fastest
    /// few convs, timed again after the table (the bar every row is measured against).
    pub best_conv_gflops: f64,
    /// Its shape.
    pub best_conv_shape: String,
    /// The highest rate among the table's own rows of ungrouped convs, GFLOP/s (above the
    /// re-timed rate when that row's passes were lucky: then its row passes 100%).
    pub table_max_conv_gflops: f64,
    /// An empty dispatch's time (one thread copying one vec4), timed as the shapes are
    /// (the lower median of a measurement before and one after them), ms.
    pub dispatch_floor_ms: f64,
    /// The target, % of the roofline.
    pub target_pct_of_roofline: f64,
    /// Shapes in the table.
    pub shapes: usize,
    /// Shapes that reach the target.
    pub shapes_meeting_target: usize,
    /// Shapes below the target whose roofline time is under the dispatch floor.
    pub shapes_floor_bound: usize,
    /// Why the run's bars cannot be trusted (the machine's speed changed between two
    /// measurements of one of them, see `study::efficiency::drift_warnings`); empty when
    /// it held.
    pub drift: Vec<String>,
    /// How the tiles were chosen.
    pub autotune: TuneSummary,
}
