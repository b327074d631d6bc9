//! Steps 2 and 3 in the search: the pruned and bottlenecked candidates of the three-step
//! method (and of the two-step-pruning baseline), and the accuracy table.
//!
//! # The search space
//!
//! At every intermediate split, besides the plain features of [`super::quantization_variants`]
//! (f32, n-bit per-tensor and per-channel):
//!
//! - **pruning of the on-device part** ([`PruneFamily`]): ratios `r` in [`STUDY_RATIOS`]
//!   (0.25, 0.5, 0.75), either *uniform* over every stage that runs on the device
//!   (`PruneConfig::uniform(r).on_device(graph, split)`) or on the *last* on-device stage
//!   only (the stage whose output crosses the split, the communication-aware choice that
//!   shrinks the feature at the least compute cost). Per-stage ratios are thus chosen
//!   jointly with the split from `2 x 3` families (fewer where they coincide: a split in
//!   the stem has one on-device stage). Only ResNet-style graphs (stem + `layer1..4`)
//!   can be pruned; elsewhere the families are empty.
//! - **bottleneck width** `k` in `{none, C/4, C/8, C/16}` of the (pruned) feature's `C`, at
//!   splits crossed by a single tensor ([`crate::compress::Bottleneck`]: 3x3 conv + tanh /
//!   3x3 conv + ELU, linear for vector features);
//! - **bits**: f32 or `STUDY_BITS` (8, 4, 2) with per-tensor scales.
//!
//! The device time of a pruned prefix is **measured**: the study profiles the compacted
//! graph once per distinct [`PruneConfig`] ([`prune_configs`]) and [`PrunedPrefix::new`]
//! takes, per node, the compacted measurement where compaction changed the node (its FLOPs
//! differ) and the unpruned measurement elsewhere (same work, less noise). The edge's time
//! of a changed node is its edge time scaled by the same measured ratio.
//!
//! # Two-step pruning (Shi et al. 2019)
//!
//! Shi, Guo, Liu and Guo, "Improving Device-Edge Cooperative Inference of Deep Learning via
//! 2-Step Pruning" (INFOCOM workshops 2019): prune the network, then choose the partition
//! point for the link, and send the (pruned) feature without a learned encoding. Here: the
//! same pruning families and splits as three-step, the feature sent as f32 or 8-bit
//! per-tensor, no bottleneck (plus edge-only and device-only). Its set is a subset of
//! three-step's, and contains best-split's.
//!
//! # Accuracy
//!
//! Known accuracies come in per configuration ([`super::SearchSpace::apply_accuracy`]); with
//! a minimum accuracy ([`super::SearchSpace::set_min_accuracy`]) three-step and
//! two-step-pruning only choose candidates whose accuracy is known and high enough.

use super::cost::{codec_key, Candidate, CodecKey, CodecTable, Parts, STUDY_BITS};
use super::edge::EdgeModel;
use super::problem::{CutTensor, Problem};
use crate::compress::{bottleneck_widths, stage_of, Encoding, PruneConfig, Scale, Variant, STAGES};
use crate::error::{Error, Result};
use crate::model::{cuts, Graph, Shape};
use std::collections::HashMap;

/// Pruning ratios searched.
pub const STUDY_RATIOS: [f32; 3] = [0.25, 0.5, 0.75];

/// A way of choosing per-stage ratios for a split.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PruneFamily {
    /// The same ratio on every on-device stage.
    Uniform(f32),
    /// The ratio on the last on-device stage only.
    LastStage(f32),
}

impl PruneFamily {
    /// The families of the study: uniform and last-stage, for every ratio of [`STUDY_RATIOS`].
    pub fn study() -> Vec<Self> {
        STUDY_RATIOS
            .iter()
            .flat_map(|&r| [PruneFamily::Uniform(r), PruneFamily::LastStage(r)])
            .collect()
    }

    /// The config for a split after node `after` (`None` when nothing on the device can be
    /// pruned).
    pub fn config(self, graph: &Graph, after: usize) -> Result<Option<PruneConfig>> {
        let last = (1..=after.min(graph.output()))
            .filter_map(|i| stage_of(graph, i))
            .max();
        let Some(last) = last else { return Ok(None) };
        let cfg = match self {
            PruneFamily::Uniform(r) => PruneConfig::uniform(r)?.on_device(graph, after),
            PruneFamily::LastStage(r) => {
                let mut ratios = [0.0; STAGES];
                ratios[last] = r;
                PruneConfig::new(&ratios)?
            }
        };
        Ok((!cfg.is_identity()).then_some(cfg))
    }
}

/// Every distinct config that `families` give at the intermediate splits of `graph`, in
/// order of first appearance: what must be profiled.
pub fn prune_configs(graph: &Graph, families: &[PruneFamily]) -> Result<Vec<PruneConfig>> {
    let mut out: Vec<PruneConfig> = Vec::new();
    for after in 1..graph.output() {
        for f in families {
            if let Some(c) = f.config(graph, after)? {
                if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
    }
    Ok(out)
}

/// A pruned on-device configuration with its measured per-node times and cuts.
#[derive(Clone, Debug)]
pub struct PrunedPrefix {
    /// The config.
    pub config: PruneConfig,
    /// Device time per node (node 0 is 0), ms.
    pub device_node_ms: Vec<f64>,
    /// Edge time per node, ms.
    pub edge_node_ms: Vec<f64>,
    /// Per node: the shapes crossing the cut after it, in the compacted graph.
    pub cuts: Vec<Vec<Shape>>,
}

impl PrunedPrefix {
    /// From the compacted graph and its measured per-node device times `measured_ms`
    /// (one per node; nodes that were not profiled may carry anything, they are only read
    /// where compaction changed the node). `base` is the unpruned graph with `base_ms`,
    /// its measured times, and `edge` its edge model.
    pub fn new(
        config: PruneConfig,
        base: &Graph,
        base_ms: &[f64],
        edge: &EdgeModel,
        compacted: &Graph,
        measured_ms: &[f64],
    ) -> Result<Self> {
        let n = base.nodes.len();
        if compacted.nodes.len() != n
            || measured_ms.len() != n
            || base_ms.len() != n
            || edge.node_ms.len() != n
        {
            return Err(Error::InvalidArg(format!(
                "pruned prefix of {}: node counts differ",
                base.name
            )));
        }
        let mut device_node_ms = base_ms.to_vec();
        let mut edge_node_ms = edge.node_ms.clone();
        for i in 1..n {
            if compacted.nodes[i].flops(compacted) != base.nodes[i].flops(base) {
                device_node_ms[i] = measured_ms[i];
                if base_ms[i] > 0.0 {
                    edge_node_ms[i] = edge.node_ms[i] * measured_ms[i] / base_ms[i];
                }
            }
        }
        device_node_ms[0] = 0.0;
        edge_node_ms[0] = 0.0;
        let cuts = cuts(compacted)
            .into_iter()
            .map(|c| {
                c.tensors
                    .iter()
                    .map(|&t| compacted.nodes[t].shape)
                    .collect()
            })
            .collect();
        Ok(Self {
            config,
            device_node_ms,
            edge_node_ms,
            cuts,
        })
    }

    /// The node range from the first to the last node whose work compaction changes: what
    /// must be profiled (`None` when nothing changed).
    pub fn changed(base: &Graph, compacted: &Graph) -> Option<std::ops::Range<usize>> {
        let changed =
            |i: &usize| compacted.nodes[*i].flops(compacted) != base.nodes[*i].flops(base);
        let first = (1..base.nodes.len()).find(changed)?;
        let last = (1..base.nodes.len()).rev().find(changed)?;
        Some(first..last + 1)
    }
}

/// A bottleneck to time: feature shape and width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BottleneckKey {
    /// Channels, height, width of the feature.
    pub feature: (usize, usize, usize),
    /// Code channels.
    pub width: usize,
}

impl BottleneckKey {
    /// The key of a `feature` shape and `width`.
    pub fn new(feature: Shape, width: usize) -> Self {
        Self {
            feature: (feature.c, feature.h, feature.w),
            width,
        }
    }

    /// The feature shape.
    pub fn shape(&self) -> Shape {
        Shape::new(self.feature.0, self.feature.1, self.feature.2)
    }
}

/// Measured bottleneck times, ms, both on the local GPU: encoder (device) and decoder (the
/// edge's time is this / edge speed-up).
pub type BottleneckTable = HashMap<BottleneckKey, (f64, f64)>;

/// One three-step configuration before costing.
struct Plan {
    split: usize,
    variant: Variant,
    sent: Vec<CutTensor>,
    device_ms: f64,
    edge_ms: f64,
    bottleneck: Option<BottleneckKey>,
}

/// Encodings of the pruned and bottlenecked variants: f32 and `STUDY_BITS` per-tensor.
pub fn compressed_encodings() -> Vec<Encoding> {
    let mut v = vec![Encoding::F32];
    v.extend(STUDY_BITS.iter().map(|&bits| Encoding::Quant {
        bits,
        scale: Scale::Tensor,
    }));
    v
}

fn plans(
    problem: &Problem,
    graph: &Graph,
    families: &[PruneFamily],
    pruned: &[PrunedPrefix],
    bottleneck: bool,
) -> Result<Vec<Plan>> {
    if graph.nodes.len() != problem.layers.len() {
        return Err(Error::InvalidArg(format!(
            "{} has {} nodes, the problem {}",
            graph.name,
            graph.nodes.len(),
            problem.layers.len()
        )));
    }
    let base_cuts: Vec<Vec<Shape>> = cuts(graph)
        .into_iter()
        .map(|c| c.tensors.iter().map(|&t| graph.nodes[t].shape).collect())
        .collect();
    let encodings = compressed_encodings();
    let mut out = Vec::new();
    for (split, base_cut) in base_cuts.iter().enumerate().take(problem.last()).skip(1) {
        // (prune config, cut shapes, device prefix, edge suffix)
        let mut prefixes = vec![(
            None,
            base_cut.clone(),
            problem.device_prefix_ms(split),
            problem.edge_suffix_ms(split),
        )];
        let mut seen = Vec::new();
        for f in families {
            let Some(cfg) = f.config(graph, split)? else {
                continue;
            };
            if seen.contains(&cfg) {
                continue;
            }
            seen.push(cfg);
            let p = pruned
                .iter()
                .find(|p| p.config == cfg)
                .ok_or_else(|| Error::InvalidArg(format!("pruning {cfg:?} was not measured")))?;
            prefixes.push((
                Some(cfg),
                p.cuts[split].clone(),
                p.device_node_ms[..=split].iter().sum(),
                p.edge_node_ms[split + 1..].iter().sum(),
            ));
        }
        for (cfg, shapes, device_ms, edge_ms) in prefixes {
            let mut widths = vec![None];
            if let (true, [s]) = (bottleneck, &shapes[..]) {
                widths.extend(bottleneck_widths(s.c).into_iter().map(Some));
            }
            for k in widths {
                if cfg.is_none() && k.is_none() {
                    continue; // the plain variants of SearchSpace::build
                }
                let sent: Vec<CutTensor> = match k {
                    Some(k) => vec![CutTensor::of(Shape::new(k, shapes[0].h, shapes[0].w))],
                    None => shapes.iter().map(|&s| CutTensor::of(s)).collect(),
                };
                for &enc in &encodings {
                    out.push(Plan {
                        split,
                        variant: Variant {
                            prune: cfg,
                            bottleneck: k,
                            encoding: enc,
                        },
                        sent: sent.clone(),
                        device_ms,
                        edge_ms,
                        bottleneck: k.map(|k| BottleneckKey::new(shapes[0], k)),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// What the pruned and bottlenecked candidates need measured: codec keys and bottlenecks,
/// sorted and distinct (`bottleneck`: whether bottleneck widths are searched).
pub fn three_step_requirements(
    problem: &Problem,
    graph: &Graph,
    families: &[PruneFamily],
    pruned: &[PrunedPrefix],
    bottleneck: bool,
) -> Result<(Vec<CodecKey>, Vec<BottleneckKey>)> {
    let plans = plans(problem, graph, families, pruned, bottleneck)?;
    let mut keys: Vec<CodecKey> = plans
        .iter()
        .flat_map(|p| {
            p.sent
                .iter()
                .filter_map(|t| codec_key(p.variant.encoding, t))
                .collect::<Vec<_>>()
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut bns: Vec<BottleneckKey> = plans.iter().filter_map(|p| p.bottleneck).collect();
    bns.sort_unstable();
    bns.dedup();
    Ok((keys, bns))
}

/// The pruned and bottlenecked candidates (to [`super::SearchSpace::extend`] the plain
/// space with). `pruned` must hold every config of [`prune_configs`], `codec` and
/// `bottlenecks` every key of [`three_step_requirements`] (with the same `bottleneck`).
#[allow(clippy::too_many_arguments)] // the measured inputs of the search, each one table
pub fn three_step_candidates(
    problem: &Problem,
    graph: &Graph,
    families: &[PruneFamily],
    pruned: &[PrunedPrefix],
    bottleneck: bool,
    codec: &CodecTable,
    bottlenecks: &BottleneckTable,
    edge_speedup: f64,
) -> Result<Vec<Candidate>> {
    plans(problem, graph, families, pruned, bottleneck)?
        .into_iter()
        .map(|p| {
            let (enc_ms, dec_ms) = match p.bottleneck {
                Some(key) => *bottlenecks.get(&key).ok_or_else(|| {
                    Error::InvalidArg(format!("no bottleneck time measured for {key:?}"))
                })?,
                None => (0.0, 0.0),
            };
            Candidate::from_parts(
                p.split,
                &p.variant,
                &p.sent,
                Parts {
                    device_ms: p.device_ms,
                    edge_ms: p.edge_ms,
                    device_extra_ms: enc_ms,
                    edge_extra_local_ms: dec_ms,
                },
                codec,
                edge_speedup,
            )
        })
        .collect()
}
