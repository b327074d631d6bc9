//! The study's GPU work, all of it: the device profile of every node, the edge model, the
//! device time of every pruned prefix the search needs (profiled compacted graphs), the
//! bottlenecks' encoders and decoders, the codec of every distinct feature size and bit
//! width, and the exact and entropy-coded frame bytes of the real feature at the charted
//! split points.
//!
//! Steps 2 to 6 ([`measure_with`]) take what they measure from a [`Source`]: the local GPU
//! here, or the device's profile files in [`super::measure_from_profile`], so that both
//! build their [`Measurements`] the same way.

use super::kernel_scaling::{KernelTable, ProfileRates};
use super::kernel_times::{
    study_codec_keys, time_kernels, time_pruned_async, timing_method, KernelKeys,
};
use super::profile::profile_rows;
use super::{seeds, Progress, TradeoffOptions};
use crate::compress::{frame, FrameTensor, GroupParams, Payload, PruneConfig, Quantized, Scale};
use crate::error::{Error, Result};
use crate::gpu::{self, Executor, GpuContext, TimingMethod};
use crate::model::{self, Graph, Prepared, Shape};
use crate::plan::{
    prune_configs, three_step_requirements, BottleneckKey, BottleneckTable, CodecTable, EdgeModel,
    EdgeSource, Problem, PruneFamily, PrunedPrefix,
};
use crate::report::{BytesRow, DeviceProfileInfo, KernelKind, KernelTimeRow, ProfileRow, RunInfo};

/// What [`measure`] measured (or [`super::measure_from_profile`] read and scaled), and
/// everything the planner and the manifest need about it.
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
    /// `None`: every device time was measured now on the local GPU; else the device's
    /// profile (and kernel-times) files they came from, and what was approximated
    /// ([`super::measure_from_profile`]).
    pub device_profile: Option<DeviceProfileInfo>,
}

impl Measurements {
    /// Where the device times came from, for stdout and the manifest: `measured on
    /// <adapter> (<timing>)` or `profile F.csv measured on <adapter> (<timing>)`.
    pub fn device_source(&self) -> String {
        let on = format!(
            "measured on {} ({})",
            self.run.adapter.name,
            self.device_timing.as_str()
        );
        match &self.device_profile {
            None => on,
            Some(d) => format!("profile {} {on}", d.profile),
        }
    }

    /// The device in chart titles: the adapter, and the profile file's name when the times
    /// came from one (`<adapter> (profile F.csv)`; the manifest has its path).
    pub fn device_label(&self) -> String {
        match &self.device_profile {
            None => self.run.adapter.name.clone(),
            Some(d) => {
                let path = std::path::Path::new(&d.profile);
                let name = path.file_name().unwrap_or(path.as_os_str());
                format!(
                    "{} (profile {})",
                    self.run.adapter.name,
                    name.to_string_lossy()
                )
            }
        }
    }
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

/// The device's per-node times a study starts from, measured now or read from a profile.
pub(super) struct DeviceTimes {
    /// The environment (the adapter the times are from).
    pub run: RunInfo,
    /// Per-node rows.
    pub rows: Vec<ProfileRow>,
    /// Per node (node 0, the input, is 0), ms.
    pub node_ms: Vec<f64>,
    /// How the per-node times were taken.
    pub timing: TimingMethod,
    /// The whole graph in one submission, median ms.
    pub whole_ms: f64,
}

/// The measurements a study needs beyond the per-node profile, from wherever its device
/// times come from: the local GPU ([`measure`]) or files measured on the device
/// ([`super::measure_from_profile`]).
pub(super) trait Source {
    /// The compacted graph of `cfg` and its per-node device times (only the nodes that
    /// compaction changed are read; `base_ms` are the unpruned graph's).
    fn pruned(&mut self, cfg: &PruneConfig, base_ms: &[f64]) -> Result<(Graph, Vec<f64>)>;
    /// Bottleneck and codec times of `keys`.
    fn kernels(&mut self, keys: &KernelKeys, progress: &mut dyn Progress) -> Result<Kernels>;
    /// The real features (one sample, the study's seeded input) at `nodes`, in order.
    fn features(&mut self, nodes: &[usize]) -> Result<Vec<Vec<f32>>>;
}

/// What [`Source::kernels`] gives.
pub(super) struct Kernels {
    pub bottlenecks: BottleneckTable,
    pub codec: CodecTable,
    pub codec_timing: Option<TimingMethod>,
    pub codec_measured: usize,
}

/// The study's seeded random input (one sample).
pub(super) fn study_input(g: &Graph, seed: u64) -> Vec<f32> {
    crate::tensor::Rng::new(seeds::input(seed)).vec(g.input_shape().numel(), -1.0, 1.0)
}

/// The local GPU as a [`Source`].
struct Gpu<'a> {
    ctx: &'a GpuContext,
    p: &'a Prepared,
    opts: &'a TradeoffOptions,
}

impl Source for Gpu<'_> {
    fn pruned(&mut self, cfg: &PruneConfig, base_ms: &[f64]) -> Result<(Graph, Vec<f64>)> {
        let o = self.opts;
        let t = pollster::block_on(time_pruned_async(
            self.ctx, self.p, cfg, o.warmup, o.reps, o.seed,
        ))?;
        let mut measured = base_ms.to_vec();
        for (id, st) in &t.nodes {
            measured[*id] = st.median_ms;
        }
        Ok((t.graph, measured))
    }

    fn kernels(&mut self, keys: &KernelKeys, progress: &mut dyn Progress) -> Result<Kernels> {
        let o = self.opts;
        let rows = time_kernels(self.ctx, keys, o.warmup, o.reps, o.seed, progress)?;
        let table = KernelTable::from_rows(&rows);
        // Every key was measured: no rates are needed, these never apply.
        let rates = ProfileRates {
            conv_ms_per_flop: 0.0,
            ms_per_byte: 0.0,
        };
        let (bottlenecks, _) = table.bottleneck_table(&keys.bottlenecks, &rates)?;
        let (codec, _) = table.codec_table(&keys.codec, &rates);
        Ok(Kernels {
            bottlenecks,
            codec,
            codec_timing: codec_timing(&rows),
            codec_measured: keys.codec.len(),
        })
    }

    fn features(&mut self, nodes: &[usize]) -> Result<Vec<Vec<f32>>> {
        let g = &self.p.model.graph;
        let exec = Executor::new(self.ctx, &self.p.model, 1..g.nodes.len(), 1, nodes)?;
        exec.set_input(0, &study_input(g, self.opts.seed))?;
        Ok(exec.run()?.into_iter().map(|t| t.data).collect())
    }
}

/// How the codec rows of a kernel-times table were timed (`None` without codec rows).
pub(super) fn codec_timing(rows: &[KernelTimeRow]) -> Option<TimingMethod> {
    rows.iter()
        .filter(|r| r.kind == KernelKind::Codec)
        .find_map(|r| timing_method(&r.timing))
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

    // 1. Device profile.
    progress.stage(&format!("profiling {} nodes", n - 1), None);
    let exec = Executor::new(ctx, &p.model, 1..n, 1, &[])?;
    exec.set_input(0, &study_input(g, opts.seed))?;
    let prof = gpu::profile(&exec, opts.warmup, opts.reps, None)?;
    let rows = profile_rows(&exec, &prof);
    let mut node_ms = vec![0.0];
    node_ms.extend(prof.per_node.iter().map(|s| s.median_ms));
    drop(exec);
    let device = DeviceTimes {
        run,
        rows,
        node_ms,
        timing: prof.method,
        whole_ms: prof.whole.median_ms,
    };
    measure_with(p, opts, device, &mut Gpu { ctx, p, opts }, progress)
}

/// Steps 2 to 6 of a study (edge model, pruned prefixes, bottlenecks, codec, feature
/// bytes) on the device times `device`, the rest from `src`.
pub(super) fn measure_with(
    p: &Prepared,
    opts: &TradeoffOptions,
    device: DeviceTimes,
    src: &mut dyn Source,
    progress: &mut dyn Progress,
) -> Result<Measurements> {
    let g = &p.model.graph;
    let families = families(&opts.prune_ratios)?;
    let device_ms = &device.node_ms;

    // 2. Edge model.
    let edge = match &opts.edge {
        EdgeSource::Profile { path } => EdgeModel::from_profile(path, g, device_ms)?,
        EdgeSource::Speedup { factor, default } => {
            EdgeModel::from_speedup(device_ms, *factor, *default)?
        }
    };
    let problem = Problem::from_graph(g, device_ms, &edge)?;

    // 3. Step 2: every pruned on-device configuration.
    let configs = prune_configs(g, &families)?;
    progress.stage("profiling pruned prefixes", Some(configs.len()));
    let mut pruned = Vec::with_capacity(configs.len());
    for cfg in &configs {
        let (small, measured) = src.pruned(cfg, device_ms)?;
        pruned.push(PrunedPrefix::new(
            *cfg, g, device_ms, &edge, &small, &measured,
        )?);
        progress.step();
    }
    let (extra_keys, bottleneck_keys) =
        three_step_requirements(&problem, g, &families, &pruned, opts.bottleneck)?;

    // 4, 5. Step 3: the bottlenecks, and the codec of every distinct feature size and bits.
    let keys = KernelKeys {
        bottlenecks: bottleneck_keys,
        codec: study_codec_keys(&problem, extra_keys),
    };
    let k = src.kernels(&keys, progress)?;

    // 6. Bytes per split: exact frames, and entropy-coded frames of the real feature.
    progress.stage("coding features", None);
    let points = bytes_points(g, &problem);
    let outs: Vec<usize> = points.iter().map(|(_, k)| *k).collect();
    let feats = src.features(&outs)?;
    let bytes = super::bytes_rows(&problem, &points, &mut |k, bits| {
        let i = outs
            .iter()
            .position(|&o| o == k)
            .ok_or_else(|| Error::InvalidArg(format!("node {k} is not a charted split point")))?;
        coded_frame(&feats[i], g.nodes[k].shape, bits)
    })?;
    progress.done();
    let sum_of_node_medians_ms = device.rows.iter().map(|r| r.device_ms_median).sum();
    Ok(Measurements {
        run: device.run,
        graph: g.clone(),
        model_hash: p.model.hash(),
        weights: p.weights_source.clone(),
        device_rows: device.rows,
        device_timing: device.timing,
        whole_graph_ms_median: device.whole_ms,
        sum_of_node_medians_ms,
        edge,
        problem,
        families,
        pruned,
        bottleneck_keys: keys.bottlenecks,
        bottlenecks: k.bottlenecks,
        codec: k.codec,
        codec_timing: k.codec_timing,
        codec_measured: k.codec_measured,
        bytes,
        device_profile: None,
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
