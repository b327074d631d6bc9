//! Row types: one struct per CSV (`splitbench profile`'s per-node rows and the trade-off
//! study's files). The study layer fills them, the charts and readers read them. Units are
//! in the column names.

pub use crate::compress::Family;
use crate::compress::{Config, Variant};

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

/// Why a link is in a study.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelRole {
    /// A point of the fixed-rate bandwidth sweep (chart b).
    Sweep,
    /// 3G / 4G / Wi-Fi (chart c).
    Preset,
    /// A link given by the user or a default random link (chart e).
    Extra,
}

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
    /// Why the link is in the study: `sweep` (chart b), `preset` (3G / 4G / Wi-Fi, chart
    /// c) or `extra` (`--channel`s or the default random links, chart e).
    pub channel_role: ChannelRole,
    /// Nominal uplink rate (fixed rate, Shannon rate, ergodic mean or trace mean).
    pub uplink_mbps: f64,
    /// Name of the node after which the graph is cut (`input` = edge-only; the last
    /// node = device-only).
    pub split: String,
    /// Index of that node in the inference graph.
    pub split_index: usize,
    /// Variant: pruning, bottleneck and encoding (`none`, `f32`, `8bit-tensor`,
    /// `4bit-channel`, `uint8-input`, `prune-0.5_0.5_0_0_0+bn16+4bit-tensor`, ...), in the
    /// configuration grammar.
    pub variant: Variant,
    /// Variant family: `f32`, `n-bit`, `pruned+n-bit`, `bottleneck`, `uint8-input`, `none`.
    pub family: Family,
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
    /// The median end-to-end latency of this configuration run for real through an
    /// emulated link of this rate and RTT (`tradeoff --real-link`; chosen rows of the preset
    /// links only).
    #[serde(default)]
    pub measured_total_ms: Option<f64>,
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
    /// Variant (pruning, bottleneck, encoding), in the configuration grammar.
    pub variant: Variant,
    /// Variant family: `f32`, `n-bit`, `pruned+n-bit`, `bottleneck`, `uint8-input`, `none`.
    pub family: Family,
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
    pub config: Config,
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

/// One request of `splitbench offload` (`offload.csv`): a real inference across a network,
/// every time on the device's monotonic clock except the edge's own (reported) times.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OffloadRow {
    /// Request number, from 0 (warm-up requests are not rows).
    pub request: usize,
    /// The configuration.
    pub config: Config,
    /// Bytes sent: the wire frame (or the uint8 pixels; 0 for device-only).
    pub payload_bytes: u64,
    /// Idle time of the connection before this request, ms.
    pub idle_ms: f64,
    /// The prefix on the device's GPU (the whole model for device-only).
    pub device_ms: f64,
    /// The bottleneck encoder and quantize + pack on the device's GPU.
    pub encode_ms: f64,
    /// From the start of sending to the reply received, minus the edge's reported time.
    pub network_ms: f64,
    /// The edge's time from the request read to the reply ready.
    pub server_ms: f64,
    /// Of which decoding (frame parse, unpack, bottleneck decoder) on the edge.
    pub decode_ms: f64,
    /// Of which the suffix on the edge's GPU.
    pub suffix_ms: f64,
    /// From the start of the inference to the reply received.
    pub total_ms: f64,
    /// The TCP-aware model's total for this link and the connection's window at send time
    /// (device and edge times as measured); empty without a link description.
    pub predicted_total_ms: Option<f64>,
    /// `bytes * 8 / rate + RTT` with the same measured compute times.
    pub predicted_naive_ms: Option<f64>,
    /// `TCP_INFO` smoothed RTT after the reply.
    pub tcp_rtt_ms: Option<f64>,
    /// `TCP_INFO` congestion window, segments, before sending.
    pub tcp_cwnd: Option<u32>,
    /// `TCP_INFO` retransmissions of the connection so far.
    pub tcp_retrans: Option<u32>,
    /// The image's label (with a dataset).
    pub label: Option<u8>,
    /// The class the logits pick.
    pub prediction: usize,
}

/// One real transfer of `splitbench validate-link` (`link_validation.csv`): a request of
/// `payload_bytes` through the emulated link and its 1-message reply, measured on the
/// device's clock, beside what the TCP-aware and the naive model predict for it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinkCheckRow {
    /// The uplink's spec (the downlink is the same link).
    pub link: String,
    /// `fixed` or `trace`.
    pub kind: String,
    /// Its nominal rate (a trace's mean), Mbit/s.
    pub mbps: f64,
    /// One-way delay each direction, ms.
    pub delay_ms: f64,
    /// Payload bytes of the request (its message adds 13).
    pub payload_bytes: u64,
    /// `cold`: the first request of a new connection; `warm`: one right after another.
    pub window: String,
    /// Repeat number within the cell.
    pub repeat: usize,
    /// When the request started, s since the link's replay started (a trace's phase).
    pub start_s: f64,
    /// `TCP_INFO` congestion window before sending, segments.
    pub cwnd_before: Option<u32>,
    /// Retransmissions during the request.
    pub retrans: Option<u32>,
    /// Send start to reply received, ms.
    pub measured_ms: f64,
    /// The TCP-aware model (window: the initial one for cold, the reported one for warm).
    pub tcp_ms: f64,
    /// `bytes * 8 / rate + RTT`.
    pub naive_ms: f64,
    /// `(tcp - measured) / measured`, percent.
    pub tcp_error_pct: f64,
    /// `(naive - measured) / measured`, percent.
    pub naive_error_pct: f64,
}
