//! Row types of the trade-off study (`splitbench tradeoff`, `cargo bench --bench study`):
//! the planner writes them, the charts read them. Units are in the column names.

/// One evaluated point: a method's configuration at one link state. `chosen` marks the
/// configuration the method picks at that link state (one per method and link state).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TradeoffRow {
    /// `device-only`, `edge-only`, `neurosurgeon`, `best-split`, `three-step`, ...
    pub method: String,
    /// Channel label (`4G 5.85 Mbps`, `Rayleigh 1 MHz 10 dB`, ...).
    pub channel: String,
    /// `fixed`, `awgn`, `rayleigh` or `trace`.
    pub channel_kind: String,
    /// Nominal uplink rate (fixed rate, Shannon rate, ergodic mean or trace mean).
    pub uplink_mbps: f64,
    /// Name of the node after which the graph is cut (`input` = edge-only; the last
    /// node = device-only).
    pub split: String,
    /// Index of that node in the inference graph.
    pub split_index: usize,
    /// Variant: pruning, bottleneck and encoding (`none`, `f32`, `8bit-tensor`,
    /// `4bit-channel`, `uint8-input`, `prune-0.5_0.5_0_0_0+bn16+4bit-tensor`, ...).
    pub variant: String,
    /// Variant family: `f32`, `n-bit`, `pruned+n-bit`, `bottleneck`, `uint8-input`, `none`.
    #[serde(default)]
    pub family: String,
    /// Bits per transmitted value (32 for f32, 8 for uint8 input pixels, 0 when nothing is sent).
    pub bits: u32,
    /// Exact bytes sent per inference.
    pub payload_bytes: u64,
    /// Device compute of the prefix.
    pub device_ms: f64,
    /// Feature encoding on the device.
    pub encode_ms: f64,
    /// Transmission (mean over channel states for random links).
    pub tx_ms: f64,
    /// Feature decoding on the edge.
    pub decode_ms: f64,
    /// Edge compute of the suffix.
    pub edge_ms: f64,
    /// Round-trip time charged once when something is sent.
    pub rtt_ms: f64,
    /// End-to-end latency (mean for random links).
    pub total_ms: f64,
    /// Median end-to-end latency.
    pub total_ms_p50: f64,
    /// 95th percentile.
    pub total_ms_p95: f64,
    /// 99th percentile.
    pub total_ms_p99: f64,
    /// Probability of missing the deadline (random links with a deadline only).
    pub p_miss: Option<f64>,
    /// Top-1 accuracy of the configuration when known.
    pub accuracy: Option<f64>,
    /// Whether the method picks this row at this link state.
    pub chosen: bool,
}

/// Per-node device time and the feature size if the graph is cut after the node
/// (chart a).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerRow {
    /// Node index in the inference graph.
    pub index: usize,
    /// Node name.
    pub node: String,
    /// Op kind.
    pub op: String,
    /// Median device time of the node.
    pub device_ms: f64,
    /// FLOPs per sample.
    pub flops: u64,
    /// Bytes (f32) crossing a cut after this node, per sample.
    pub cut_bytes: u64,
}

/// One (split, encoding) candidate independent of the link: what it costs the device and
/// what it must send (chart d).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CandidateRow {
    /// Cut after this node.
    pub split: String,
    /// Node index.
    pub split_index: usize,
    /// Variant (pruning, bottleneck, encoding).
    pub variant: String,
    /// Variant family: `f32`, `n-bit`, `pruned+n-bit`, `bottleneck`, `uint8-input`, `none`.
    #[serde(default)]
    pub family: String,
    /// Device compute of the prefix plus encoding.
    pub device_ms: f64,
    /// Bytes sent.
    pub payload_bytes: u64,
    /// On the Pareto front of (device_ms, payload_bytes).
    pub pareto: bool,
}

/// Bytes on the wire at one split point for one encoding (chart `bytes_per_split`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BytesRow {
    /// Split label (`stem`, `layer1`, ... or the node name).
    pub split: String,
    /// Node index of the cut.
    pub split_index: usize,
    /// Series: `f32`, `8-bit`, `4-bit`, `2-bit` (per-tensor scales), `bottleneck C/16 4-bit`.
    pub encoding: String,
    /// Exact frame length, packed, bytes.
    pub payload_bytes: u64,
    /// Frame length with entropy coding of the real feature (seeded weights and input)
    /// where it was measured (quantized series).
    pub coded_bytes: Option<u64>,
}

/// A point of a method's end-to-end latency distribution under a random link (chart e).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CdfRow {
    /// Method.
    pub method: String,
    /// Channel label.
    pub channel: String,
    /// Cumulative probability in [0, 1].
    pub quantile: f64,
    /// Latency at that quantile.
    pub total_ms: f64,
}

/// One candidate of known accuracy, as one method sees it on one preset link (chart f).
/// The three times add up to `total_ms`, the cost model's end-to-end latency.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AccuracyLatencyRow {
    /// Preset link label (`3G 1.1 Mbps`, ...).
    pub link: String,
    /// Method whose candidate set holds the configuration.
    pub method: String,
    /// `<split node>/<variant>`, the accuracy table's key.
    pub config: String,
    /// Top-1 accuracy from the accuracy table (its unit).
    pub accuracy: f64,
    /// Exact bytes sent per inference.
    pub bytes: u64,
    /// Device compute of the prefix plus feature encoding.
    pub device_ms: f64,
    /// Transmission plus the RTT (0 when nothing is sent).
    pub transmit_ms: f64,
    /// Feature decoding plus edge compute of the suffix.
    pub edge_ms: f64,
    /// End-to-end latency.
    pub total_ms: f64,
    /// On the method's accuracy-latency Pareto front at this link.
    pub on_front: bool,
}

/// Everything the charts of one study need.
#[derive(Clone, Debug, Default)]
pub struct Study {
    /// Chart title prefix (model and device).
    pub title: String,
    /// Chart (a).
    pub layers: Vec<LayerRow>,
    /// Charts (b), (c).
    pub tradeoff: Vec<TradeoffRow>,
    /// Chart (d).
    pub candidates: Vec<CandidateRow>,
    /// Chart (e).
    pub cdf: Vec<CdfRow>,
    /// Chart `bytes_per_split`.
    pub bytes: Vec<BytesRow>,
    /// Chart (f); empty without an accuracy table.
    pub accuracy_latency: Vec<AccuracyLatencyRow>,
    /// Where the accuracies came from (the table's path), for chart (f)'s title.
    pub accuracy_source: String,
}
