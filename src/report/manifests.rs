//! Manifests: the JSON written beside every output, saying what ran, where, with which
//! code, and how every number was obtained. Types only: the study layer fills them.

use super::rows::{ChannelRole, Family};
use crate::compress::Variant;
use crate::gpu::{AdapterSummary, TileSource, TuneSummary};

pub use crate::gpu::WGPU_VERSION;

/// The git revision of the working directory (`<sha>` or `<sha>-dirty`), or `unknown`; in
/// a browser (no processes) the one `scripts/build-web.sh` built from.
pub fn git_revision() -> String {
    if cfg!(target_arch = "wasm32") {
        return option_env!("SPLITBENCH_GIT_REVISION")
            .unwrap_or("unknown")
            .into();
    }
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "--short=12", "HEAD"]) {
        Some(sha) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{sha}-dirty")
            } else {
                sha
            }
        }
        None => "unknown".into(),
    }
}

/// Seconds since the Unix epoch.
pub fn unix_time() -> u64 {
    web_time::SystemTime::now()
        .duration_since(web_time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The environment of a run, shared by every manifest.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RunInfo {
    /// splitbench version.
    pub splitbench_version: &'static str,
    /// wgpu version.
    pub wgpu_version: &'static str,
    /// Git revision of the checkout.
    pub git_revision: String,
    /// Seconds since the epoch when the run started.
    pub unix_time: u64,
    /// The adapter.
    pub adapter: AdapterSummary,
    /// A warning when times are not GPU times (CPU adapter such as lavapipe).
    pub note: Option<String>,
}

impl RunInfo {
    /// The warning every output of a CPU adapter carries: its times are CPU times.
    pub fn cpu_note(adapter: &AdapterSummary) -> Option<String> {
        (adapter.device_type == "Cpu").then(|| {
            let host = if adapter.host_cpu.is_empty() {
                String::new()
            } else {
                format!(" (here on {})", adapter.host_cpu)
            };
            format!(
                "{}{host} is a CPU implementation of the GPU API: its times are CPU times, \
                 for correctness and CI, not GPU performance",
                adapter.name
            )
        })
    }

    /// Collects the run environment for an adapter.
    pub fn new(adapter: &AdapterSummary) -> Self {
        let note = Self::cpu_note(adapter);
        Self {
            splitbench_version: env!("CARGO_PKG_VERSION"),
            wgpu_version: WGPU_VERSION,
            git_revision: git_revision(),
            unix_time: unix_time(),
            adapter: adapter.clone(),
            note,
        }
    }
}

/// The manifest written beside a profile CSV.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ProfileManifest {
    /// Environment of the run.
    #[serde(flatten)]
    pub run: RunInfo,
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
    /// How the convolution tiles were chosen: mode, cache file, shapes measured now, read
    /// from the cache or planned by the heuristic, time spent measuring.
    pub autotune: TuneSummary,
    /// The kernel and tile each convolution ran with.
    pub tiles: Vec<NodeTile>,
    /// Set when a browser measured the profile (the page of `splitbench web`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser: Option<BrowserInfo>,
    /// The kernel-times file written beside the CSV (`profile --kernels`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernels: Option<ProfileKernels>,
}

/// The browser a profile was measured in, and what its clock can resolve.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BrowserInfo {
    /// `navigator.userAgent`.
    pub user_agent: String,
    /// The smallest positive duration its timestamp queries gave for a tiny dispatch, ms:
    /// browsers may quantize timestamps (Chrome to 100 us unless its WebGPU developer
    /// features are on); `None` when every such duration was 0 or timestamps are off.
    pub timer_resolution_ms: Option<f64>,
}

/// The kernel-times table a profile wrote beside its CSV (`splitbench profile --kernels`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct ProfileKernels {
    /// The file (`<profile stem>_kernels.csv`, beside the profile CSV).
    pub file: String,
    /// Bottleneck rows.
    pub bottlenecks: usize,
    /// Codec rows.
    pub codec_keys: usize,
    /// How the codec rows were timed (the bottleneck rows' method is in each row).
    pub codec_timing: Option<String>,
    /// The pruned-prefix file (`<profile stem>_pruned.csv`).
    pub pruned_file: String,
    /// Pruning configurations timed (the changed nodes of each).
    pub pruned_configs: usize,
    /// What the rows are and what they are for.
    pub note: String,
}

/// Where a study's device times came from when they were not measured by the study itself:
/// a profile (and kernel-times) file measured on the device, and what was approximated.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DeviceProfileInfo {
    /// The profile CSV.
    pub profile: String,
    /// Its manifest, when one was beside it.
    pub profile_manifest: Option<String>,
    /// The kernel-times CSV, if any.
    pub kernels: Option<String>,
    /// The adapter the profile was measured on (from its manifest).
    pub adapter: String,
    /// How the profile's per-node times were taken.
    pub timing: String,
    /// Timed repetitions behind the profile's medians.
    pub reps: usize,
    /// Untimed runs before them (from the profile's manifest).
    pub warmup: Option<usize>,
    /// Bottlenecks of the study found in the kernel-times file.
    pub bottlenecks_measured: usize,
    /// Bottlenecks scaled from other keys or from the profile's rates.
    pub bottlenecks_scaled: usize,
    /// Codec keys of the study found in the kernel-times file.
    pub codec_measured: usize,
    /// Codec keys scaled.
    pub codec_scaled: usize,
    /// The pruned-prefix CSV, if any.
    pub pruned: Option<String>,
    /// Pruned configurations of the study whose changed nodes were all in it.
    pub pruned_measured: usize,
    /// Pruned configurations scaled by FLOPs.
    pub pruned_scaled: usize,
    /// What is approximated, one sentence each.
    pub approximations: Vec<String>,
    /// How bottleneck and codec keys that were not measured are scaled.
    pub scaling_rules: String,
}

/// The kernel and tile one convolution node ran with, and where the choice came from.
#[derive(Clone, Debug, serde::Serialize)]
pub struct NodeTile {
    /// Node name.
    pub node: String,
    /// Kernel and tile (`direct-r4-c8-ch`, `gemm-64x64+splitk4`, `depthwise`, ...).
    pub kernel: String,
    /// `tuned`, `cached` or `heuristic`.
    pub source: TileSource,
    /// The kernel's measured time when it was chosen by measurement, ms.
    pub tuned_ms: Option<f64>,
}

/// One method's choice on one (non-sweep) link, for the manifest and the printed summary.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ChoiceSummary {
    /// Method.
    pub method: String,
    /// Split node.
    pub split: String,
    /// Its index.
    pub split_index: usize,
    /// Variant.
    pub variant: Variant,
    /// Variant family.
    pub family: Family,
    /// Accuracy of the configuration, when known.
    pub accuracy: Option<f64>,
    /// Bytes sent.
    pub payload_bytes: u64,
    /// Mean end-to-end latency, ms.
    pub total_ms: f64,
    /// Neurosurgeon's predicted latency of its choice, ms.
    pub predicted_ms: Option<f64>,
}

/// The methods on one link and three-step's speed-up over the baselines.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LinkSummary {
    /// Channel label.
    pub channel: String,
    /// Channel spec.
    pub spec: String,
    /// Role in the study.
    pub role: ChannelRole,
    /// Per method.
    pub choices: Vec<ChoiceSummary>,
    /// edge-only total / three-step total.
    pub three_step_vs_edge_only: f64,
    /// neurosurgeon total / three-step total.
    pub three_step_vs_neurosurgeon: f64,
    /// best-split total / three-step total.
    pub three_step_vs_best_split: f64,
    /// two-step-pruning total / three-step total.
    pub three_step_vs_two_step: f64,
    /// device-only total / three-step total.
    pub three_step_vs_device_only: f64,
}

/// A link as recorded in the manifest.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ChannelInfo {
    /// Spec string.
    pub spec: String,
    /// Label.
    pub label: String,
    /// Kind.
    pub kind: String,
    /// Role in the study.
    pub role: ChannelRole,
    /// Nominal rate, Mbit/s.
    pub nominal_mbps: f64,
    /// RTT, ms.
    pub rtt_ms: f64,
    /// The transport model (`naive`, `tcp` from the initial window, `tcp-warm`, ...).
    pub transport: String,
    /// Link states.
    pub states: usize,
}

/// How well Neurosurgeon's latency predictor matches the measurements for one op type (or
/// `all`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PredictorError {
    /// Op type, or `all`.
    pub op: String,
    /// Layers.
    pub layers: usize,
    /// Median of |predicted - measured| / measured over layers with a measured time > 0,
    /// percent, device side (`None` if there is none).
    pub device_mdape_pct: Option<f64>,
    /// The same on the edge side.
    pub edge_mdape_pct: Option<f64>,
}

/// The manifest of a trade-off study (`manifest.json`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct TradeoffManifest {
    /// Environment of the run.
    #[serde(flatten)]
    pub run: RunInfo,
    /// Model name.
    pub model: String,
    /// Per-sample input shape.
    pub input: String,
    /// Why this input (e.g. a smaller one than the paper's to fit a CPU adapter).
    pub input_note: Option<String>,
    /// Hash of graph + weights.
    pub model_hash: String,
    /// Where the weights came from.
    pub weights: String,
    /// Seeds: weights, input data, codec test data.
    pub seeds: serde_json::Value,
    /// Untimed warm-up runs.
    pub warmup: usize,
    /// Timed repetitions of the device profile and of each codec measurement.
    pub reps: usize,
    /// Per-node timing method.
    pub timing: String,
    /// Where the device times came from: `measured on <adapter> (<timing>)`, or `profile
    /// F.csv measured on <adapter> (<timing>)` (`tradeoff --device-profile`).
    pub device_source: String,
    /// With `--device-profile`: the files, the measured and scaled kernel keys and the
    /// approximations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_profile: Option<DeviceProfileInfo>,
    /// Whole graph in one submission, median ms.
    pub whole_graph_ms_median: f64,
    /// Sum of per-node medians, ms (what the cost model adds up).
    pub sum_of_node_medians_ms: f64,
    /// Where the edge times came from.
    pub edge_source: String,
    /// Edge speed-up over the device (given, or effective for a profile).
    pub edge_speedup: f64,
    /// How the edge's feature decode time was obtained.
    pub edge_decode_note: String,
    /// Codec timing method and number of measured (numel, group, bits) keys.
    pub codec: serde_json::Value,
    /// Payload conventions.
    pub payload_note: String,
    /// The downlink.
    pub downlink_note: String,
    /// How methods choose on random links.
    pub random_link_rule: String,
    /// What is known about accuracy.
    pub accuracy_note: String,
    /// Where the bottleneck weights came from.
    pub bottleneck_weights: String,
    /// The three-step search space.
    pub search_space: serde_json::Value,
    /// `--accuracy-table`.
    pub accuracy_table: Option<String>,
    /// `--min-accuracy`.
    pub min_accuracy: Option<f64>,
    /// Per op type: median absolute percentage error of Neurosurgeon's predictor.
    pub predictor_error: Vec<PredictorError>,
    /// The fitted predictor.
    pub predictor: serde_json::Value,
    /// Every link of the study.
    pub channels: Vec<ChannelInfo>,
    /// Deadline for the miss probability, ms.
    pub deadline_ms: Option<f64>,
    /// Candidates in the three-step set.
    pub candidates: usize,
    /// Per preset and extra link: the methods' choices.
    pub summary: Vec<LinkSummary>,
    /// Files written.
    pub files: Vec<String>,
}

/// The manifest written beside `offload.csv`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct OffloadManifest {
    /// The device's environment.
    #[serde(flatten)]
    pub run: RunInfo,
    /// Model name.
    pub model: String,
    /// Hash of graph + weights (the edge checked it).
    pub model_hash: String,
    /// Where the weights came from.
    pub weights: String,
    /// The configuration.
    pub config: String,
    /// The edge's address (empty for device-only).
    pub server: String,
    /// The edge's adapter.
    pub server_adapter: String,
    /// How the edge times its GPU work.
    pub server_timing: String,
    /// Timed requests.
    pub requests: usize,
    /// Untimed warm-up requests before them.
    pub warmup: usize,
    /// Idle gap between requests, ms.
    pub interval_ms: f64,
    /// The inputs: a dataset's test images or seeded random pixels.
    pub inputs: String,
    /// The link the predictions assume (`None`: no predictions).
    pub link: Option<String>,
    /// `net.ipv4.tcp_slow_start_after_idle` on the device.
    pub tcp_slow_start_after_idle: Option<u32>,
    /// `net.ipv4.tcp_congestion_control` on the device (the sender of the frames).
    pub tcp_congestion_control: Option<String>,
    /// How times were taken.
    pub timing_note: String,
}

/// A model's output on one seeded input from the GPU and from the CPU reference: the
/// check that a device (a browser's GPU too) computes what the model says.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct OutputCheck {
    /// The GPU's output (batch 1, flattened).
    pub gpu: Vec<f32>,
    /// The CPU reference's.
    pub cpu: Vec<f32>,
    /// Largest absolute difference.
    pub max_abs_diff: f32,
    /// Largest absolute value of the reference (to read the difference against).
    pub max_abs_ref: f32,
}

/// What the browser page of `splitbench web` measured, as it sends it to the server: the
/// files `splitbench profile` writes (same schema), and the output check.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct WebResult {
    /// The model profiled (zoo name or ONNX file name).
    pub model: String,
    /// `device_profile.csv`: the rows of `splitbench profile`.
    pub profile_csv: String,
    /// `device_profile.json`: its manifest (with the browser's details).
    pub manifest_json: String,
    /// The kernel times (`device_profile_kernels.csv`), when the page timed the study's codec
    /// and bottleneck kernels.
    #[serde(default)]
    pub kernels_csv: Option<String>,
    /// The pruned prefixes' times (`device_profile_pruned.csv`), timed with the kernels.
    #[serde(default)]
    pub pruned_csv: Option<String>,
    /// The output on one seeded input, GPU against CPU reference.
    pub check: OutputCheck,
}
