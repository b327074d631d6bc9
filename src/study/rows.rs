//! The study's rows from a search space: every method on every link (charts b, c, e),
//! the per-node and per-candidate rows (charts a, d), the bytes per split point and the
//! per-link summaries of the manifest and stdout.

use super::accuracy_latency::accuracy_latency_rows;
use super::links::{kind_name, StudyChannel};
use crate::channel::{quantile_sorted, Channel};
use crate::compress::{Encoding, Scale};
use crate::error::Result;
use crate::plan::{pareto_front, payload_bytes, Choice, CutTensor, Method, Problem, SearchSpace};
use crate::report::{
    BytesRow, CandidateRow, CdfRow, ChannelRole, ChoiceSummary, LayerRow, LinkSummary, Study,
    TradeoffRow,
};

/// Quantiles per CDF (0, 0.01, ..., 1).
pub const CDF_POINTS: usize = 101;

/// The methods' choices on one link.
#[derive(Clone, Debug)]
pub struct LinkResult {
    /// Index into the study's links.
    pub channel: usize,
    /// One per method, in [`Method::ALL`] order.
    pub choices: Vec<Choice>,
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
    sc: &StudyChannel,
    chosen: bool,
    buf: &mut Vec<f64>,
) -> TradeoffRow {
    let (problem, space, ch) = (r.problem, r.space, &sc.channel);
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
        channel_role: sc.role,
        uplink_mbps: ch.nominal_mbps(),
        split: problem.layers[c.split].name.clone(),
        split_index: c.split,
        variant: c.variant,
        family: c.variant.family(),
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
        accuracy: c.accuracy,
        chosen,
        measured_total_ms: None,
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
            variant: c.variant,
            family: c.variant.family(),
            device_ms: c.device_ms + c.encode_ms,
            payload_bytes: c.payload_bytes,
            pareto,
        })
        .collect()
}

/// Bytes on the wire at the given split points (label, node index) for f32, 8/4/2-bit
/// per-tensor and a `C/16` bottleneck at 4 bits (single-tensor cuts only), as exact frame
/// lengths (chart `bytes_per_split`). `coded(split, bits)` gives the entropy-coded frame of
/// the real feature at a split for the n-bit series.
pub fn bytes_rows(
    problem: &Problem,
    points: &[(String, usize)],
    coded: &mut dyn FnMut(usize, u32) -> Result<u64>,
) -> Result<Vec<BytesRow>> {
    let tensor_bits = |bits| Encoding::Quant {
        bits,
        scale: Scale::Tensor,
    };
    let mut out = Vec::new();
    for (label, k) in points {
        let Some(sp) = problem.splits.get(*k) else {
            continue;
        };
        // (series, encoding, tensors sent, whether the real feature is coded)
        let mut series: Vec<(String, Encoding, Vec<CutTensor>, bool)> =
            vec![("f32".into(), Encoding::F32, sp.tensors.clone(), false)];
        for bits in [8, 4, 2] {
            series.push((
                format!("{bits}-bit"),
                tensor_bits(bits),
                sp.tensors.clone(),
                true,
            ));
        }
        if let [t] = sp.tensors[..] {
            let code = CutTensor {
                channels: (t.channels / 16).max(1),
                plane: t.plane,
            };
            series.push((
                "bottleneck C/16 4-bit".into(),
                tensor_bits(4),
                vec![code],
                false,
            ));
        }
        for (name, enc, tensors, real) in series {
            let coded_bytes = match enc {
                Encoding::Quant { bits, .. } if real => Some(coded(*k, bits)?),
                _ => None,
            };
            out.push(BytesRow {
                split: label.clone(),
                split_index: *k,
                encoding: name,
                payload_bytes: payload_bytes(enc, &tensors)?,
                coded_bytes,
            });
        }
    }
    Ok(out)
}

/// Runs every method on every link: the study's rows (titled `title`; the accuracy-latency
/// rows of the preset links when accuracies are known) and each link's choices. On sweep
/// links only each method's choice is a row, unless `all_points`.
pub fn evaluate_links(
    problem: &Problem,
    space: &SearchSpace,
    channels: &[StudyChannel],
    title: &str,
    deadline_ms: Option<f64>,
    all_points: bool,
) -> (Study, Vec<LinkResult>) {
    let mut study = Study {
        title: title.to_string(),
        layers: layer_rows(problem),
        candidates: candidate_rows(problem, space),
        ..Default::default()
    };
    let rows = Rows {
        problem,
        space,
        deadline_ms,
    };
    let mut links = Vec::with_capacity(channels.len());
    let mut buf = Vec::new();
    for (k, sc) in channels.iter().enumerate() {
        let ch = &sc.channel;
        let choices = space.choose_all(ch);
        let every = all_points || sc.role != ChannelRole::Sweep;
        for c in &choices {
            if c.method == Method::ThreeStep && every {
                for &i in space.set(Method::ThreeStep) {
                    study.tradeoff.push(row(
                        &rows,
                        Method::ThreeStep,
                        i,
                        sc,
                        i == c.index,
                        &mut buf,
                    ));
                }
            } else {
                study
                    .tradeoff
                    .push(row(&rows, c.method, c.index, sc, true, &mut buf));
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
    }
    // Chart (f) compares methods at the presets, the links a reader knows.
    let presets: Vec<&Channel> = channels
        .iter()
        .filter(|c| c.role == ChannelRole::Preset)
        .map(|c| &c.channel)
        .collect();
    study.accuracy_latency = accuracy_latency_rows(problem, space, &presets);
    (study, links)
}

/// Summaries of the non-sweep links (presets and extra links).
pub fn link_summaries(
    problem: &Problem,
    space: &SearchSpace,
    channels: &[StudyChannel],
    links: &[LinkResult],
) -> Vec<LinkSummary> {
    links
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
                            variant: cand.variant,
                            family: cand.variant.family(),
                            accuracy: cand.accuracy,
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
