//! Writes a planned study into a folder: every CSV, the charts and `manifest.json`, which
//! says how every number was obtained.

use super::links::channel_info;
use super::{seeds, Measurements, StudyResult, TradeoffOptions};
use crate::compress::BOTTLENECK_WEIGHTS_NOTE;
use crate::error::{Error, Result};
use crate::plan::{
    EdgeSource, DOWNLINK_NOTE, FRAME_OVERHEAD_BYTES, FRAME_TENSOR_BYTES, QUANT_GROUP_PARAM_BYTES,
};
use crate::report::{self, TradeoffManifest, MANIFEST_JSON};
use std::path::Path;

/// The device profile's file in a study folder.
pub const DEVICE_PROFILE_CSV: &str = "device_profile.csv";

/// How a study on the local GPU times pruned prefixes.
const MEASURED_PRUNE_NOTE: &str = "device time of a pruned prefix is measured: the compacted \
    graph is profiled once per distinct config (the nodes from the first to the last one \
    compaction changes, fed random tensors); unchanged nodes keep the unpruned measurement; a \
    changed node's edge time is scaled by the same measured ratio";
/// How a study from a device profile approximates pruned prefixes.
const SCALED_PRUNE_NOTE: &str = "device time of a pruned prefix (--device-profile): the \
    changed nodes' times measured on the device (profile --kernels, its _pruned.csv) where the \
    file has the configuration, else approximated: a node that compaction changes takes the \
    profiled time of the same unpruned node x FLOPs(pruned node) / FLOPs(node); unchanged \
    nodes keep the profiled time; device_profile counts which; a changed node's edge time is \
    scaled by the ratio of its device times";

/// What [`write()`] wrote.
#[derive(Clone, Debug)]
pub struct Written {
    /// File names in the folder, the manifest last.
    pub files: Vec<String>,
    /// One line per chart that had no rows: `<stem>: <reason>`.
    pub skipped_charts: Vec<String>,
    /// The manifest as written.
    pub manifest: TradeoffManifest,
}

/// Writes the study's CSVs, charts and manifest into `dir` (created if missing).
pub fn write(
    dir: &Path,
    m: &Measurements,
    r: &StudyResult,
    opts: &TradeoffOptions,
) -> Result<Written> {
    let st = &r.study;
    report::write_study(dir, st)?;
    report::write_csv(&dir.join(DEVICE_PROFILE_CSV), &m.device_rows)?;
    let mut files: Vec<String> = [
        report::TRADEOFF_CSV,
        report::LAYERS_CSV,
        report::CANDIDATES_CSV,
        report::CDF_CSV,
        report::BYTES_CSV,
        report::TITLE_TXT,
        DEVICE_PROFILE_CSV,
    ]
    .map(String::from)
    .to_vec();
    if !st.accuracy_latency.is_empty() {
        files.push(report::ACCURACY_LATENCY_CSV.into());
    }
    let charts = report::draw_charts(dir, st)?;
    files.extend(
        charts
            .files
            .iter()
            .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned())),
    );
    files.push(MANIFEST_JSON.into());
    let manifest = manifest(m, r, opts, files.clone())?;
    let path = dir.join(MANIFEST_JSON);
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| Error::BadFile {
        file: path.clone(),
        msg: e.to_string(),
    })?;
    std::fs::write(&path, json).map_err(|e| Error::io(&path, e))?;
    Ok(Written {
        files,
        skipped_charts: charts.skipped,
        manifest,
    })
}

/// The study's manifest: the run, the model, every convention behind the numbers.
fn manifest(
    m: &Measurements,
    r: &StudyResult,
    opts: &TradeoffOptions,
    files: Vec<String>,
) -> Result<TradeoffManifest> {
    let known = r.accuracy_known;
    let table = opts.accuracy.as_ref().map(|t| t.path.display().to_string());
    let (measured_on, prune_note) = match &m.device_profile {
        None => ("the local GPU", MEASURED_PRUNE_NOTE),
        Some(_) => ("the device (see device_profile)", SCALED_PRUNE_NOTE),
    };
    Ok(TradeoffManifest {
        run: m.run.clone(),
        model: m.graph.name.clone(),
        input: m.graph.input_shape().to_string(),
        input_note: opts.input_note.clone(),
        model_hash: m.model_hash.clone(),
        weights: m.weights.clone(),
        seeds: serde_json::json!({
            "weights": opts.seed,
            "input": seeds::input(opts.seed),
            "codec_data": seeds::codec_data(opts.seed),
            "bottleneck": seeds::bottleneck(opts.seed),
        }),
        // A study from a device profile repeated nothing itself: the profile's counts.
        warmup: m
            .device_profile
            .as_ref()
            .map_or(Some(opts.warmup), |d| d.warmup)
            .unwrap_or(0),
        reps: m.device_profile.as_ref().map_or(opts.reps, |d| d.reps),
        timing: m.device_timing.as_str().into(),
        device_source: m.device_source(),
        device_profile: m.device_profile.clone(),
        whole_graph_ms_median: m.whole_graph_ms_median,
        sum_of_node_medians_ms: m.sum_of_node_medians_ms,
        edge_source: m.edge.source.describe(),
        edge_speedup: m.edge.speedup,
        edge_decode_note: format!(
            "feature decode (unpack + dequantize, and a bottleneck's decoder) timed on \
             {measured_on} and divided by the edge speed-up {:.4} ({})",
            m.edge.speedup,
            match m.edge.source {
                EdgeSource::Profile { .. } => {
                    "effective: sum of device node times / sum of edge node times"
                }
                EdgeSource::Speedup { .. } => "the given factor",
            }
        ),
        codec: serde_json::json!({
            "timing": m.codec_timing.map(|t| t.as_str()),
            "measured_keys": m.codec_measured,
            // From a device profile: each row of its kernel-times file says its own.
            "reps": m.device_profile.is_none().then_some(opts.reps),
            "note": "encode = per-group min/max + quantize/pack on the device GPU; \
                     f32 features and the uint8 input are sent raw (encode = decode = 0)",
        }),
        payload_note: format!(
            "uint8 input: C*H*W bytes; a feature: the exact wire-frame length \
             (docs/wire-format.md), packed without entropy coding: {FRAME_OVERHEAD_BYTES} \
             bytes (fixed header + CRC-32) per frame, per tensor a {FRAME_TENSOR_BYTES}-byte \
             descriptor, {QUANT_GROUP_PARAM_BYTES} bytes (min, scale) per scale group and \
             ceil(numel*bits/8) payload bytes (f32: 4*numel); device-only sends nothing. \
             bytes_per_split.csv gives, at the chart's split points, the entropy-coded frame \
             of the real feature (seeded weights and input) beside the packed one"
        ),
        downlink_note: DOWNLINK_NOTE.into(),
        random_link_rule: "on random links (Rayleigh, trace) every method picks the \
            configuration with the lowest mean latency over the link states; tradeoff rows \
            give that mean (total_ms) and its quantiles, cdf.csv the chosen \
            configuration's distribution"
            .into(),
        accuracy_note: match (&table, opts.min_accuracy) {
            (Some(t), Some(min)) => format!(
                "{known} candidates have an accuracy in {t}; three-step and two-step-pruning \
                 choose only among those with accuracy >= {min}"
            ),
            (Some(t), None) => format!(
                "{known} candidates have an accuracy in {t}; no --min-accuracy: every \
                 method minimises latency only"
            ),
            _ => "no accuracy is known (no --accuracy-table): three-step and \
                  two-step-pruning minimise latency without an accuracy constraint; pruned, \
                  quantized and bottlenecked variants lose accuracy that this study does \
                  not measure"
                .into(),
        },
        bottleneck_weights: BOTTLENECK_WEIGHTS_NOTE.into(),
        search_space: serde_json::json!({
            "plain": "f32, and 8/4/2-bit with per-tensor and per-channel scales, at every intermediate split",
            "prune_families": m.families.iter().map(|f| format!("{f:?}")).collect::<Vec<_>>(),
            "prune_configs_measured": m.pruned.iter().map(|p| p.config.ratios).collect::<Vec<_>>(),
            "prune_note": prune_note,
            "bottleneck_widths": "C/4, C/8, C/16 of the (pruned) feature at single-tensor cuts; 3x3 conv + tanh / 3x3 conv + ELU, linear for vector features",
            "bottlenecks_timed": m.bottleneck_keys.len(),
            "compressed_encodings": "f32, 8/4/2-bit per-tensor",
            "two_step_pruning": "Shi et al. 2019: pruned or unpruned on-device part x split, f32 or 8-bit per-tensor feature, no bottleneck",
        }),
        accuracy_table: table,
        min_accuracy: opts.min_accuracy,
        predictor_error: r.predictor_error.clone(),
        predictor: serde_json::to_value(&r.predictor)
            .map_err(|e| Error::InvalidArg(format!("predictor: {e}")))?,
        channels: r.channels.iter().map(channel_info).collect(),
        deadline_ms: opts.deadline_ms,
        candidates: r.space.candidates.len(),
        summary: r.summaries.clone(),
        files,
    })
}
