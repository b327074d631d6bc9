//! The study's GPU work, all of it: the device profile of every node, the edge model, the
//! device time of every pruned prefix the search needs (profiled compacted graphs), the
//! bottlenecks' encoders and decoders, the codec of every distinct feature size and bit
//! width, and the exact and entropy-coded frame bytes of the real feature at the charted
//! split points.

use super::profile::profile_rows;
use super::{seeds, Progress, TradeoffOptions};
use crate::compress::{
    self, frame, Bottleneck, FrameTensor, GroupParams, Payload, Quantized, Scale,
};
use crate::error::{Error, Result};
use crate::gpu::{self, codec::CodecTimer, Executor, GpuContext, TimingMethod};
use crate::model::{self, Graph, Prepared, Shape};
use crate::plan::{
    codec_keys, prune_configs, quantization_variants, three_step_requirements, BottleneckKey,
    BottleneckTable, CodecTable, CodecTime, EdgeModel, EdgeSource, Problem, PruneFamily,
    PrunedPrefix, STUDY_BITS,
};
use crate::report::{BytesRow, ProfileRow, RunInfo};

/// What [`measure`] measured, and everything the planner and the manifest need about it.
#[derive(Clone, Debug)]
pub struct Measurements {
    /// The environment of the run.
    pub run: RunInfo,
    /// The fused graph that was profiled.
    pub graph: Graph,
    /// Hash of graph and weights.
    pub model_hash: String,
    /// Where the weights came from.
    pub weights: String,
    /// Per-node device profile (`device_profile.csv`).
    pub device_rows: Vec<ProfileRow>,
    /// How the per-node device times were taken.
    pub device_timing: TimingMethod,
    /// The whole graph in one submission, median ms.
    pub whole_graph_ms_median: f64,
    /// Sum of the per-node medians, ms.
    pub sum_of_node_medians_ms: f64,
    /// The edge's per-node times.
    pub edge: EdgeModel,
    /// The planner's input.
    pub problem: Problem,
    /// Pruning families of the search.
    pub families: Vec<PruneFamily>,
    /// Every pruned on-device configuration, measured.
    pub pruned: Vec<PrunedPrefix>,
    /// The bottlenecks that were timed.
    pub bottleneck_keys: Vec<BottleneckKey>,
    /// Their encoder and decoder times.
    pub bottlenecks: BottleneckTable,
    /// Codec times by feature size and bits.
    pub codec: CodecTable,
    /// How the codec was timed (`None` when nothing needed timing).
    pub codec_timing: Option<TimingMethod>,
    /// Distinct codec measurements.
    pub codec_measured: usize,
    /// Frame bytes per charted split point.
    pub bytes: Vec<BytesRow>,
}

/// The pruning families of `ratios` (each in (0, 1)): uniform and last-stage per ratio.
pub fn families(ratios: &[f32]) -> Result<Vec<PruneFamily>> {
    let mut out = Vec::new();
    for &r in ratios {
        if !(r > 0.0 && r < 1.0) {
            return Err(Error::InvalidArg(format!(
                "pruning ratio {r} is not in (0, 1)"
            )));
        }
        out.extend([PruneFamily::Uniform(r), PruneFamily::LastStage(r)]);
    }
    Ok(out)
}

/// Runs every measurement of a study of `p` on `ctx` (see the module docs).
pub fn measure(
    ctx: &GpuContext,
    p: &Prepared,
    opts: &TradeoffOptions,
    progress: &mut dyn Progress,
) -> Result<Measurements> {
    let run = RunInfo::new(&ctx.summary); // when the run started
    let g = &p.model.graph;
    let n = g.nodes.len();
    opts.check(g)?;
    let families = families(&opts.prune_ratios)?;

    // 1. Device profile.
    progress.stage(&format!("profiling {} nodes", n - 1), None);
    let exec = Executor::new(ctx, &p.model, 1..n, 1, &[])?;
    let input =
        crate::tensor::Rng::new(seeds::input(opts.seed)).vec(g.input_shape().numel(), -1.0, 1.0);
    exec.set_input(0, &input)?;
    let prof = gpu::profile(&exec, opts.warmup, opts.reps, None)?;
    let device_rows = profile_rows(&exec, &prof);
    let mut device_ms = vec![0.0];
    device_ms.extend(prof.per_node.iter().map(|s| s.median_ms));
    drop(exec);

    // 2. Edge model.
    let edge = match &opts.edge {
        EdgeSource::Profile { path } => EdgeModel::from_profile(path, g, &device_ms)?,
        EdgeSource::Speedup { factor, default } => {
            EdgeModel::from_speedup(&device_ms, *factor, *default)?
        }
    };
    let problem = Problem::from_graph(g, &device_ms, &edge)?;

    // 3. Step 2: every pruned on-device configuration, compacted and profiled.
    let configs = prune_configs(g, &families)?;
    progress.stage("profiling pruned prefixes", Some(configs.len()));
    let mut pruned = Vec::with_capacity(configs.len());
    for cfg in &configs {
        let small = compress::compact(&p.model, cfg)?;
        let mut measured = device_ms.clone();
        if let Some(changed) = PrunedPrefix::changed(g, &small.graph) {
            // Only the nodes compaction changed are timed (the others keep the unpruned
            // measurement): their range, fed random tensors of the right shapes.
            let exec = Executor::new(ctx, &small, changed, 1, &[])?;
            for &i in exec.inputs() {
                let n = small.graph.nodes[i].shape.numel();
                exec.set_input(
                    i,
                    &crate::tensor::Rng::new(seeds::input(opts.seed)).vec(n, -1.0, 1.0),
                )?;
            }
            let (_, per_node) = gpu::profile_nodes(&exec, opts.warmup, opts.reps)?;
            for (step, st) in exec.steps().iter().zip(&per_node) {
                measured[step.node] = st.median_ms;
            }
        }
        pruned.push(PrunedPrefix::new(
            *cfg,
            g,
            &device_ms,
            &edge,
            &small.graph,
            &measured,
        )?);
        progress.step();
    }
    let (extra_keys, bottleneck_keys) =
        three_step_requirements(&problem, g, &families, &pruned, opts.bottleneck)?;

    // 4. Step 3: the bottlenecks (seeded weights: their times do not depend on the values).
    progress.stage("timing bottlenecks", Some(bottleneck_keys.len()));
    let mut bottlenecks = BottleneckTable::new();
    for key in &bottleneck_keys {
        let b = Bottleneck::new(key.shape(), key.width)?;
        let t = b.time(ctx, opts.warmup, opts.reps, seeds::bottleneck(opts.seed))?;
        bottlenecks.insert(*key, (t.encoder.median_ms, t.decoder.median_ms));
        progress.step();
    }

    // 5. Codec times of every distinct feature size and bit width.
    let mut keys = codec_keys(&problem, &quantization_variants(&STUDY_BITS));
    keys.extend(extra_keys);
    keys.sort_unstable();
    keys.dedup();
    progress.stage("timing encode/decode", Some(keys.len()));
    let mut timer = CodecTimer::new(ctx, opts.warmup, opts.reps, seeds::codec_data(opts.seed));
    let mut codec = CodecTable::new();
    for k in &keys {
        let s = timer.time(k.numel, k.group_len, k.bits)?;
        codec.insert(
            *k,
            CodecTime {
                encode_ms: s.encode.median_ms,
                decode_ms: s.decode.median_ms,
            },
        );
        progress.step();
    }

    // 6. Bytes per split: exact frames, and entropy-coded frames of the real feature.
    progress.stage("coding features", None);
    let points = bytes_points(g, &problem);
    let outs: Vec<usize> = points.iter().map(|(_, k)| *k).collect();
    let exec = Executor::new(ctx, &p.model, 1..n, 1, &outs)?;
    exec.set_input(0, &input)?;
    let feats = exec.run()?;
    let bytes = super::bytes_rows(&problem, &points, &mut |k, bits| {
        let i = outs
            .iter()
            .position(|&o| o == k)
            .ok_or_else(|| Error::InvalidArg(format!("node {k} is not a charted split point")))?;
        coded_frame(&feats[i].data, g.nodes[k].shape, bits)
    })?;
    progress.done();
    Ok(Measurements {
        run,
        graph: g.clone(),
        model_hash: p.model.hash(),
        weights: p.weights_source.clone(),
        device_rows,
        device_timing: prof.method,
        whole_graph_ms_median: prof.whole.median_ms,
        sum_of_node_medians_ms: prof.sum_of_medians_ms(),
        edge,
        problem,
        families,
        pruned,
        bottleneck_keys,
        bottlenecks,
        codec,
        codec_timing: timer.method(),
        codec_measured: timer.measured(),
        bytes,
    })
}

/// Split points of the bytes chart: the paper's five for ResNets, else every single-tensor
/// cut where the feature size changes.
fn bytes_points(g: &Graph, problem: &Problem) -> Vec<(String, usize)> {
    let paper = model::paper_split_points(g);
    if !paper.is_empty() {
        return paper.iter().map(|(l, k)| (l.to_string(), *k)).collect();
    }
    let mut out: Vec<(String, usize)> = Vec::new();
    let mut last = 0;
    for s in &problem.splits[1..problem.last()] {
        if s.tensors.len() == 1 && s.f32_bytes() != last {
            last = s.f32_bytes();
            out.push((g.nodes[s.after].name.clone(), s.after));
        }
    }
    out
}

/// Frame length of `x` (one sample of `shape`) at `bits` bits per-tensor with entropy
/// coding where it helps (CPU quantization, the GPU's bit-exact twin).
fn coded_frame(x: &[f32], shape: Shape, bits: u32) -> Result<u64> {
    let (params, words) = crate::cpu::quantize_pack(x, x.len(), bits);
    let t = FrameTensor {
        batch: 1,
        shape,
        payload: Payload::Quantized(Quantized {
            bits,
            scale: Scale::Tensor,
            params: params.iter().map(GroupParams::from_quant).collect(),
            words,
        }),
    };
    Ok(frame::encode(std::slice::from_ref(&t), true)?.bytes.len() as u64)
}
