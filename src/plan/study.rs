//! The trade-off study: every method on every link, assembled into the rows of
//! [`crate::report::Study`] (CSV and charts) and a summary.

use super::accuracy::accuracy_latency_rows;
use super::cost::{payload_bytes, Encoding, Scale};
use super::methods::{Choice, Method, SearchSpace};
use super::pareto::pareto_front;
use super::predict::PredictorError;
use super::problem::CutTensor;
use super::problem::Problem;
use crate::channel::{quantile_sorted, Channel, LinkKind};
use crate::error::{Error, Result};
use crate::report::{BytesRow, CandidateRow, CdfRow, LayerRow, RunInfo, Study, TradeoffRow};

/// Points of the fixed-rate bandwidth sweep (chart b).
pub const SWEEP_POINTS: usize = 25;
/// Lowest rate of the sweep, Mbit/s.
pub const SWEEP_MIN_MBPS: f64 = 0.1;
/// Highest rate of the sweep, Mbit/s.
pub const SWEEP_MAX_MBPS: f64 = 1000.0;
/// The presets of chart (c).
pub const PRESETS: [&str; 3] = ["3g", "4g", "wifi"];
/// The Rayleigh link used when no `--channel` is given.
pub const DEFAULT_RAYLEIGH: &str = "rayleigh:bw_mhz=1,snr_db=10,draws=10000,seed=1";
/// The synthetic trace (relative to the repository root) used when no `--channel` is given.
pub const DEFAULT_TRACE: &str = "results/traces/synthetic-markov.csv";
/// Quantiles per CDF (0, 0.01, ..., 1).
pub const CDF_POINTS: usize = 101;

/// `n` fixed-rate links, log-spaced from `lo` to `hi` Mbit/s, with `rtt_ms`.
pub fn sweep_channels(n: usize, lo: f64, hi: f64, rtt_ms: f64) -> Result<Vec<Channel>> {
    if n < 2 || !(lo > 0.0 && hi > lo) {
        return Err(Error::InvalidArg(format!(
            "sweep of {n} points from {lo} to {hi} Mbit/s"
        )));
    }
    (0..n)
        .map(|i| {
            let mbps = lo * (hi / lo).powf(i as f64 / (n - 1) as f64);
            // Four significant digits keep labels short and specs round-trippable.
            let mbps: f64 = format!("{mbps:.4e}").parse().unwrap_or(mbps);
            Channel::fixed(mbps, rtt_ms)
        })
        .collect()
}

/// Why a link is in the study.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelRole {
    /// A point of the bandwidth sweep (chart b).
    Sweep,
    /// 3G / 4G / Wi-Fi (chart c).
    Preset,
    /// Given with `--channel` or a default random link (chart e).
    Extra,
}

/// A link of the study and its role.
#[derive(Clone, Debug)]
pub struct StudyChannel {
    /// The link.
    pub channel: Channel,
    /// Its role.
    pub role: ChannelRole,
}

/// Study settings.
#[derive(Clone, Debug, Default)]
pub struct StudyOptions {
    /// Chart title prefix.
    pub title: String,
    /// Deadline for the miss probability of random links, ms.
    pub deadline_ms: Option<f64>,
    /// Write every candidate's row for the sweep links too (default: only each method's
    /// choice there; every candidate for presets and extra links).
    pub all_points: bool,
}

/// The methods' choices on one link.
#[derive(Clone, Debug)]
pub struct LinkResult {
    /// Index into the study's links.
    pub channel: usize,
    /// One per method, in [`Method::ALL`] order.
    pub choices: Vec<Choice>,
}

/// Rows and choices of a study.
#[derive(Clone, Debug)]
pub struct StudyResult {
    /// Everything the CSVs and charts need.
    pub study: Study,
    /// Per link, in the order given.
    pub links: Vec<LinkResult>,
}

fn kind_name(k: LinkKind) -> &'static str {
    match k {
        LinkKind::Fixed => "fixed",
        LinkKind::Awgn => "awgn",
        LinkKind::Rayleigh => "rayleigh",
        LinkKind::Trace => "trace",
    }
}

/// Per-state totals of candidate `i` into `buf` (cleared), sorted ascending.
fn sorted_totals(space: &SearchSpace, i: usize, ch: &Channel, buf: &mut Vec<f64>) {
    buf.clear();
    let t = space.table();
    buf.extend((0..ch.n_states()).map(|s| t.total_ms(i, ch, s)));
    buf.sort_unstable_by(f64::total_cmp);
}

/// What every row of one study shares.
struct Rows<'a> {
    problem: &'a Problem,
    space: &'a SearchSpace,
    deadline_ms: Option<f64>,
}

fn row(
    r: &Rows<'_>,
    method: Method,
    i: usize,
    ch: &Channel,
    chosen: bool,
    buf: &mut Vec<f64>,
) -> TradeoffRow {
    let (problem, space) = (r.problem, r.space);
    let c = &space.candidates[i];
    let n = ch.n_states();
    let tx_ms = if c.sends() {
        (0..n).map(|s| c.tx_ms(ch, s)).sum::<f64>() / n as f64
    } else {
        0.0
    };
    sorted_totals(space, i, ch, buf);
    let p_miss = r.deadline_ms.filter(|_| ch.is_random()).map(|d| {
        let within = buf.partition_point(|&x| x <= d);
        (buf.len() - within) as f64 / buf.len() as f64
    });
    TradeoffRow {
        method: method.name().into(),
        channel: ch.label(),
        channel_kind: kind_name(ch.kind()).into(),
        uplink_mbps: ch.nominal_mbps(),
        split: problem.layers[c.split].name.clone(),
        split_index: c.split,
        variant: c.variant.name.clone(),
        family: c.variant.family().into(),
        bits: c.bits(),
        payload_bytes: c.payload_bytes,
        device_ms: c.device_ms,
        encode_ms: c.encode_ms,
        tx_ms,
        decode_ms: c.decode_ms,
        edge_ms: c.edge_ms,
        rtt_ms: c.rtt_ms(ch),
        total_ms: space.table().mean_total_ms(i, ch),
        total_ms_p50: quantile_sorted(buf, 0.5),
        total_ms_p95: quantile_sorted(buf, 0.95),
        total_ms_p99: quantile_sorted(buf, 0.99),
        p_miss,
        accuracy: c.variant.accuracy,
        chosen,
    }
}

/// Per-node rows (chart a).
pub fn layer_rows(problem: &Problem) -> Vec<LayerRow> {
    problem
        .layers
        .iter()
        .zip(&problem.splits)
        .enumerate()
        .map(|(i, (l, s))| LayerRow {
            index: i,
            node: l.name.clone(),
            op: l.op.clone(),
            device_ms: l.device_ms,
            flops: l.flops,
            cut_bytes: s.f32_bytes(),
        })
        .collect()
}

/// Link-independent candidate rows with the Pareto front of (device + encode, payload)
/// (chart d).
pub fn candidate_rows(problem: &Problem, space: &SearchSpace) -> Vec<CandidateRow> {
    let pts: Vec<(f64, u64)> = space
        .candidates
        .iter()
        .map(|c| (c.device_ms + c.encode_ms, c.payload_bytes))
        .collect();
    let front = pareto_front(&pts);
    space
        .candidates
        .iter()
        .zip(front)
        .map(|(c, pareto)| CandidateRow {
            split: problem.layers[c.split].name.clone(),
            split_index: c.split,
            variant: c.variant.name.clone(),
            family: c.variant.family().into(),
            device_ms: c.device_ms + c.encode_ms,
            payload_bytes: c.payload_bytes,
            pareto,
        })
        .collect()
}

/// Bytes on the wire at the given split points (label, node index) for f32, 8/4/2-bit
/// per-tensor and a `C/16` bottleneck at 4 bits (single-tensor cuts only), as exact frame
/// lengths (chart `bytes_per_split`).
pub fn bytes_rows(problem: &Problem, points: &[(String, usize)]) -> Vec<BytesRow> {
    let mut out = Vec::new();
    for (label, k) in points {
        let Some(sp) = problem.splits.get(*k) else {
            continue;
        };
        let mut series: Vec<(String, Encoding, Vec<CutTensor>)> =
            vec![("f32".into(), Encoding::F32, sp.tensors.clone())];
        for bits in [8, 4, 2] {
            series.push((
                format!("{bits}-bit"),
                Encoding::Quant {
                    bits,
                    scale: Scale::Tensor,
                },
                sp.tensors.clone(),
            ));
        }
        if let [t] = sp.tensors[..] {
            let k = (t.channels / 16).max(1);
            series.push((
                "bottleneck C/16 4-bit".into(),
                Encoding::Quant {
                    bits: 4,
                    scale: Scale::Tensor,
                },
                vec![CutTensor {
                    channels: k,
                    plane: t.plane,
                }],
            ));
        }
        for (name, enc, tensors) in series {
            out.push(BytesRow {
                split: label.clone(),
                split_index: *k,
                encoding: name,
                payload_bytes: payload_bytes(enc, &tensors),
                coded_bytes: None,
            });
        }
    }
    out
}

/// Runs every method on every link; with known accuracies, also the accuracy-latency rows
/// of the preset links (chart f). `progress(done)` is called after each link.
pub fn run_study(
    problem: &Problem,
    space: &SearchSpace,
    channels: &[StudyChannel],
    opts: &StudyOptions,
    progress: &mut dyn FnMut(usize),
) -> StudyResult {
    let mut study = Study {
        title: opts.title.clone(),
        layers: layer_rows(problem),
        candidates: candidate_rows(problem, space),
        ..Default::default()
    };
    let rows = Rows {
        problem,
        space,
        deadline_ms: opts.deadline_ms,
    };
    let mut links = Vec::with_capacity(channels.len());
    let mut buf = Vec::new();
    for (k, sc) in channels.iter().enumerate() {
        let ch = &sc.channel;
        let choices = space.choose_all(ch);
        let every = opts.all_points || sc.role != ChannelRole::Sweep;
        for c in &choices {
            if c.method == Method::ThreeStep && every {
                for &i in space.set(Method::ThreeStep) {
                    study.tradeoff.push(row(
                        &rows,
                        Method::ThreeStep,
                        i,
                        ch,
                        i == c.index,
                        &mut buf,
                    ));
                }
            } else {
                study
                    .tradeoff
                    .push(row(&rows, c.method, c.index, ch, true, &mut buf));
            }
            if ch.is_random() {
                sorted_totals(space, c.index, ch, &mut buf);
                for q in 0..CDF_POINTS {
                    let q = q as f64 / (CDF_POINTS - 1) as f64;
                    study.cdf.push(CdfRow {
                        method: c.method.name().into(),
                        channel: ch.label(),
                        quantile: q,
                        total_ms: quantile_sorted(&buf, q),
                    });
                }
            }
        }
        links.push(LinkResult {
            channel: k,
            choices,
        });
        progress(k + 1);
    }
    // Chart (f) compares methods at the presets, the links a reader knows.
    let presets: Vec<&Channel> = channels
        .iter()
        .filter(|c| c.role == ChannelRole::Preset)
        .map(|c| &c.channel)
        .collect();
    study.accuracy_latency = accuracy_latency_rows(problem, space, &presets);
    StudyResult { study, links }
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
    pub variant: String,
    /// Variant family.
    pub family: String,
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

/// Summaries of the non-sweep links (presets and extra links).
pub fn link_summaries(
    problem: &Problem,
    space: &SearchSpace,
    channels: &[StudyChannel],
    result: &StudyResult,
) -> Vec<LinkSummary> {
    result
        .links
        .iter()
        .filter(|l| channels[l.channel].role != ChannelRole::Sweep)
        .map(|l| {
            let ch = &channels[l.channel];
            let total = |m: Method| {
                l.choices
                    .iter()
                    .find(|c| c.method == m)
                    .map_or(f64::NAN, |c| c.mean_total_ms)
            };
            let ts = total(Method::ThreeStep);
            LinkSummary {
                channel: ch.channel.label(),
                spec: ch.channel.spec().to_string(),
                role: ch.role,
                choices: l
                    .choices
                    .iter()
                    .map(|c| {
                        let cand = &space.candidates[c.index];
                        ChoiceSummary {
                            method: c.method.name().into(),
                            split: problem.layers[cand.split].name.clone(),
                            split_index: cand.split,
                            variant: cand.variant.name.clone(),
                            family: cand.variant.family().into(),
                            accuracy: cand.variant.accuracy,
                            payload_bytes: cand.payload_bytes,
                            total_ms: c.mean_total_ms,
                            predicted_ms: c.predicted_ms,
                        }
                    })
                    .collect(),
                three_step_vs_edge_only: total(Method::EdgeOnly) / ts,
                three_step_vs_neurosurgeon: total(Method::Neurosurgeon) / ts,
                three_step_vs_best_split: total(Method::BestSplit) / ts,
                three_step_vs_two_step: total(Method::TwoStepPruning) / ts,
                three_step_vs_device_only: total(Method::DeviceOnly) / ts,
            }
        })
        .collect()
}

/// The printed summary: per link, each method's split, variant, payload and latency, and
/// three-step's factor over edge-only and Neurosurgeon.
pub fn summary_text(summaries: &[LinkSummary]) -> String {
    let mut s = String::new();
    for l in summaries {
        s.push_str(&format!(
            "{} (mean over link states where random)\n  {:<16} {:<24} {:<36} {:>10} {:>11}\n",
            l.channel, "method", "split", "variant", "payload_B", "total_ms"
        ));
        for c in &l.choices {
            s.push_str(&format!(
                "  {:<16} {:<24} {:<36} {:>10} {:>11.3}{}\n",
                c.method,
                format!("{} [{}]", c.split, c.split_index),
                c.variant,
                c.payload_bytes,
                c.total_ms,
                c.predicted_ms
                    .map(|p| format!("  (predicted {p:.3})"))
                    .unwrap_or_default()
            ));
        }
        s.push_str(&format!(
            "  three-step is {:.2}x faster than edge-only, {:.2}x than neurosurgeon, {:.2}x than best-split, {:.2}x than two-step-pruning\n",
            l.three_step_vs_edge_only,
            l.three_step_vs_neurosurgeon,
            l.three_step_vs_best_split,
            l.three_step_vs_two_step
        ));
    }
    s
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
    /// Link states.
    pub states: usize,
}

impl ChannelInfo {
    /// Describes a study link.
    pub fn of(sc: &StudyChannel) -> Self {
        let ch = &sc.channel;
        Self {
            spec: ch.spec().into(),
            label: ch.label(),
            kind: kind_name(ch.kind()).into(),
            role: sc.role,
            nominal_mbps: ch.nominal_mbps(),
            rtt_ms: ch.rtt_ms(),
            states: ch.n_states(),
        }
    }
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
