//! The kernel times of a study besides the per-node profile: the learned bottlenecks'
//! encoders/decoders and the feature codec.
//!
//! - [`kernel_keys`] says which keys a device should time beside its profile (`splitbench
//!   profile --kernels`) so that a later study from that profile ([`super::measure_from_profile`])
//!   needs little scaling: for the **unpruned** graph, every bottleneck the three-step search
//!   can use (every single-tensor split's feature x the searched widths) and every codec key
//!   (every split's tensors x [`quantization_variants`] of [`STUDY_BITS`], plus the
//!   bottleneck codes' keys). No GPU.
//! - [`time_kernels`] times keys on a [`GpuContext`] (also the local study's steps 4 and 5);
//!   [`bottleneck_row`] and [`codec_row`] build its rows without touching the GPU, so an
//!   async twin (WebGPU in a browser) only needs its own loop.
//! - [`super::kernel_scaling::KernelTable`] turns rows into the planner's tables, scaling
//!   keys that were not measured.

use super::{seeds, Progress};
use crate::compress::{self, PruneConfig};
use crate::compress::{Bottleneck, BottleneckTimes};
use crate::error::Result;
use crate::gpu::{self, codec::CodecStats, codec::CodecTimer, GpuContext, TimingMethod};
use crate::gpu::{Executor, Stats};
use crate::model::Graph;
use crate::model::{NodeId, Prepared};
use crate::plan::{
    codec_keys, quantization_variants, three_step_requirements, BottleneckKey, CodecKey, EdgeModel,
    Problem, STUDY_BITS,
};
use crate::plan::{prune_configs, PrunedPrefix, STUDY_RATIOS};
use crate::report::{KernelKind, KernelTimeRow, PrunedTimeRow};
use crate::tensor::Rng;

/// The bottleneck and codec keys to time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KernelKeys {
    /// Bottlenecks, sorted and distinct.
    pub bottlenecks: Vec<BottleneckKey>,
    /// Codec keys, sorted and distinct.
    pub codec: Vec<CodecKey>,
}

/// Every codec key a study of `problem` times: the plain variants at every intermediate
/// split plus `extra` (the pruned and bottlenecked candidates'), sorted and distinct.
pub fn study_codec_keys(problem: &Problem, extra: Vec<CodecKey>) -> Vec<CodecKey> {
    let mut keys = codec_keys(problem, &quantization_variants(&STUDY_BITS));
    keys.extend(extra);
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The keys a device should time beside its profile of `graph` (the fused graph), see the
/// module docs. The search's own requirement function decides them, with no pruning
/// family: the unpruned splits' bottlenecks and codes.
pub fn kernel_keys(graph: &Graph) -> Result<KernelKeys> {
    let zeros = vec![0.0; graph.nodes.len()];
    let edge = EdgeModel::from_speedup(&zeros, 1.0, false)?;
    let problem = Problem::from_graph(graph, &zeros, &edge)?;
    let (codes, bottlenecks) = three_step_requirements(&problem, graph, &[], &[], true)?;
    Ok(KernelKeys {
        bottlenecks,
        codec: study_codec_keys(&problem, codes),
    })
}

/// The row of a timed bottleneck.
pub fn bottleneck_row(key: &BottleneckKey, t: &BottleneckTimes) -> KernelTimeRow {
    let (c, h, w) = key.feature;
    KernelTimeRow {
        kind: KernelKind::Bottleneck,
        feature_c: Some(c),
        feature_h: Some(h),
        feature_w: Some(w),
        width: Some(key.width),
        numel: None,
        group_len: None,
        bits: None,
        encode_ms_median: t.encoder.median_ms,
        decode_ms_median: t.decoder.median_ms,
        reps: t.encoder.count,
        timing: t.method.as_str().into(),
    }
}

/// The row of a timed codec key (`method`: how the codec timer timed it).
pub fn codec_row(key: &CodecKey, s: &CodecStats, method: Option<TimingMethod>) -> KernelTimeRow {
    KernelTimeRow {
        kind: KernelKind::Codec,
        feature_c: None,
        feature_h: None,
        feature_w: None,
        width: None,
        numel: Some(key.numel),
        group_len: Some(key.group_len),
        bits: Some(key.bits),
        encode_ms_median: s.encode.median_ms,
        decode_ms_median: s.decode.median_ms,
        reps: s.encode.count,
        timing: method.map_or("", TimingMethod::as_str).into(),
    }
}

/// Times `keys` on `ctx` (`warmup` untimed and `reps` timed runs each; seeded weights and
/// data from the run's `seed`, see [`seeds`]): one row per key, bottlenecks first.
pub fn time_kernels(
    ctx: &GpuContext,
    keys: &KernelKeys,
    warmup: usize,
    reps: usize,
    seed: u64,
    progress: &mut dyn Progress,
) -> Result<Vec<KernelTimeRow>> {
    pollster::block_on(time_kernels_async(ctx, keys, warmup, reps, seed, progress))
}

/// [`time_kernels`] for callers that cannot block (a browser).
pub async fn time_kernels_async(
    ctx: &GpuContext,
    keys: &KernelKeys,
    warmup: usize,
    reps: usize,
    seed: u64,
    progress: &mut dyn Progress,
) -> Result<Vec<KernelTimeRow>> {
    let mut rows = Vec::with_capacity(keys.bottlenecks.len() + keys.codec.len());
    progress.stage("timing bottlenecks", Some(keys.bottlenecks.len()));
    for key in &keys.bottlenecks {
        let b = Bottleneck::new(key.shape(), key.width)?;
        rows.push(bottleneck_row(
            key,
            &b.time_async(ctx, warmup, reps, seeds::bottleneck(seed))
                .await?,
        ));
        progress.step();
    }
    progress.stage("timing encode/decode", Some(keys.codec.len()));
    let mut timer = CodecTimer::new(ctx, warmup, reps, seeds::codec_data(seed));
    for k in &keys.codec {
        let s = timer.time_async(k.numel, k.group_len, k.bits).await?;
        rows.push(codec_row(k, &s, timer.method()));
        progress.step();
    }
    Ok(rows)
}

/// The [`TimingMethod`] named `s` in a CSV or manifest (its [`TimingMethod::as_str`]).
pub fn timing_method(s: &str) -> Option<TimingMethod> {
    [
        TimingMethod::TimestampInsidePass,
        TimingMethod::TimestampPass,
        TimingMethod::WallClock,
    ]
    .into_iter()
    .find(|m| m.as_str() == s)
}

/// The pruning configurations `profile --kernels` times: every configuration of the
/// search's families (`study::measure::families`) at the study's default ratios
/// ([`STUDY_RATIOS`]); a study with other `--prune-ratios` scales the ones it lacks.
pub fn pruned_configs(graph: &Graph) -> Result<Vec<PruneConfig>> {
    prune_configs(graph, &super::measure::families(&STUDY_RATIOS)?)
}

/// A pruned prefix timed on a device: the compacted graph, how it was timed, and the
/// nodes compaction changed with their times (none when `cfg` changes nothing).
pub struct PrunedTimes {
    /// The compacted graph.
    pub graph: Graph,
    /// The timing method.
    pub method: TimingMethod,
    /// Changed nodes and their times.
    pub nodes: Vec<(NodeId, Stats)>,
}

/// Times the nodes that compaction of `p` by `cfg` changes, on `ctx`: their range, fed
/// seeded random tensors of the right shapes, per node (the others keep the unpruned
/// measurement).
pub async fn time_pruned_async(
    ctx: &GpuContext,
    p: &Prepared,
    cfg: &PruneConfig,
    warmup: usize,
    reps: usize,
    seed: u64,
) -> Result<PrunedTimes> {
    let small = compress::compact(&p.model, cfg)?;
    let Some(changed) = PrunedPrefix::changed(&p.model.graph, &small.graph) else {
        return Ok(PrunedTimes {
            graph: small.graph,
            method: TimingMethod::best_per_node(ctx.features),
            nodes: Vec::new(),
        });
    };
    let exec = Executor::new_async(ctx, &small, changed, 1, &[]).await?;
    for &i in exec.inputs() {
        let n = small.graph.nodes[i].shape.numel();
        exec.set_input(i, &Rng::new(seeds::input(seed)).vec(n, -1.0, 1.0))?;
    }
    let (method, per_node) = gpu::profile_nodes_async(&exec, warmup, reps).await?;
    let nodes = exec
        .steps()
        .iter()
        .zip(per_node)
        .map(|(step, st)| (step.node, st))
        .collect();
    Ok(PrunedTimes {
        graph: small.graph,
        method,
        nodes,
    })
}

/// The rows of a timed pruned prefix.
pub fn pruned_rows(cfg: &PruneConfig, t: &PrunedTimes) -> Vec<PrunedTimeRow> {
    let g = &t.graph;
    t.nodes
        .iter()
        .map(|(id, st)| {
            let n = &g.nodes[*id];
            PrunedTimeRow {
                ratios: cfg.ratios_name(),
                node: n.name.clone(),
                out_shape: format!("1x{}", n.shape),
                flops: n.flops(g),
                device_ms_median: st.median_ms,
                reps: st.count,
                timing: t.method.as_str().into(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{fuse_graph, zoo, ZooOptions};

    #[test]
    fn keys_cover_every_unpruned_split_of_the_search() {
        let g = zoo::build(
            "resnet18-cifar",
            &ZooOptions {
                width: Some(8),
                ..Default::default()
            },
        )
        .unwrap();
        let g = fuse_graph(&g).unwrap();
        let keys = kernel_keys(&g).unwrap();
        assert!(!keys.bottlenecks.is_empty() && !keys.codec.is_empty());
        let zeros = vec![0.0; g.nodes.len()];
        let edge = EdgeModel::from_speedup(&zeros, 1.0, false).unwrap();
        let problem = Problem::from_graph(&g, &zeros, &edge).unwrap();
        // A study without pruning needs exactly these keys.
        let (extra, bns) = three_step_requirements(&problem, &g, &[], &[], true).unwrap();
        assert_eq!(keys.bottlenecks, bns);
        assert_eq!(keys.codec, study_codec_keys(&problem, extra));
        // Every split's feature with the searched widths.
        for s in &problem.splits[1..problem.last()] {
            if let [t] = &s.tensors[..] {
                for k in crate::compress::bottleneck_widths(t.channels) {
                    assert!(
                        keys.bottlenecks
                            .iter()
                            .any(|b| b.feature.0 == t.channels && b.width == k),
                        "split {}: width {k}",
                        s.after
                    );
                }
            }
        }
    }
}
