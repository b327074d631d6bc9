//! Structured (channel) pruning of ResNets: L1-norm ranking with per-stage ratios, masks
//! applied on the GPU or the CPU, and compaction into a smaller model that really computes
//! less (step 2 of Shao & Zhang's framework).
//!
//! # Stages and ratios
//!
//! A ResNet has five stages, the paper's split points: the stem (every node before the
//! first `layer1.` node) and `layer1` .. `layer4` (nodes named `layerN.`). A
//! [`PruneConfig`] gives one ratio per stage, `sp1..sp5` of the reference implementation.
//! A conv losing `ratio` of its `c` output channels keeps `c - round(ratio * c)` of them
//! (round half to even, as `torch.nn.utils.prune.ln_structured` counts), and at least one.
//!
//! # Ranking
//!
//! Output channel `o` of a conv scores the L1 norm of its filter, `sum |W[o, :, :, :]|`,
//! as the reference ranks with `ln_structured(conv, "weight", n=1, dim=0)`; the channels
//! with the smallest scores go. **Which weight is ranked:** [`PrunePlan::new`] ranks the
//! weights of the model it is given, so on a fused model the *folded* filter
//! `W * gamma / sqrt(var + eps)`. That is deliberate: a conv followed by batch norm is
//! invariant to the scale of its filter (the norm divides it out again), so the raw L1
//! norm says little about how much a channel contributes, while the folded filter is
//! exactly what produces it. The reference's ranking (the conv weight before folding) is
//! one call away: [`PrunePlan::with_ranking`] with the unfused weights
//! (`model::seeded(&prepared.torch, seed)` or `model::load_safetensors`), whose conv keys
//! are the fused model's conv keys.
//!
//! # Residual consistency
//!
//! Every tensor added into a residual stream must lose the *same* channels, or the add
//! would mix channel `i` of one operand with channel `j` of the other. So channels are
//! pruned per *channel space*: the set of tensors tied channel-for-channel by residual
//! adds (fused: a conv's output and its `residual` input), pass-through ops (pooling,
//! activations, batch norm, dropout) and depthwise convs. Inside a BasicBlock or a
//! Bottleneck the inner convs (`conv1`, and `conv2` of a Bottleneck) own their space and
//! are pruned freely; the residual stream of a stage is one space holding every conv that
//! writes it. For resnet18-cifar the stem conv and `layer1.{0,1}.conv2` share a stream
//! (layer1 has no downsample), and `layerN.0.downsample.0`, `layerN.0.conv2`,
//! `layerN.1.conv2` share the stream of stage `N >= 2`. A shared stream is ranked by the
//! L1 norm summed over all its convs and pruned at the **largest** ratio of the stages of
//! those convs (the stem/layer1 stream at `max(sp1, sp2)`), so raising any stage's ratio
//! never adds work and every ratio still acts on the stage's output feature. Consumers
//! lose the matching input channels: the next convs, the downsample's input, and the
//! classifier's input features after global pooling and flatten. The reference instead
//! masks each conv on its own (and leaves the downsample and the batch norm's bias alone),
//! which zeroes nothing in the stream once the add has run; that cannot be compacted.
//!
//! With masks applied (pruned filters *and* their folded biases zeroed), a pruned channel
//! is exactly zero in every tensor of its space, through residual adds and ReLUs, so the
//! masked model and the compacted one compute the same logits; the tests check it.
//!
//! Compaction keeps every node, its id and its name (only channel counts change), so split
//! points, cuts and profiles of the compacted model line up with the original's.
//!
//! Only ResNet-style graphs (stem + `layer1..4`) can be pruned; an identity config is
//! accepted on any graph. Grouped convs that are not depthwise are never pruned through.
//!
//! # For the planner
//!
//! Channel counts (hence FLOPs, parameters and the bytes at a split) depend on the ratios
//! only, not on the weights, so a search over splits x ratios needs no weights:
//! [`PruneConfig::on_device`] keeps the ratios of the stages a split runs on the device,
//! [`compact_graph`] gives the pruned graph (same node ids) and [`split_feature`] the cut.
//!
//! ```
//! use splitbench::compress::{compact_graph, split_feature, PruneConfig};
//! use splitbench::model::{fuse_graph, paper_split_points, zoo};
//!
//! let g = fuse_graph(&zoo::build("resnet18-cifar", &Default::default())?)?;
//! let (label, after) = paper_split_points(&g)[1];
//! assert_eq!(label, "layer1");
//! let cfg = PruneConfig::new(&[0.0, 0.5, 0.3, 0.3, 0.3])?.on_device(&g, after);
//! let small = compact_graph(&g, &cfg)?;
//! let device_flops: u64 = small.nodes[..=after].iter().map(|n| n.flops(&small)).sum();
//! let full_flops: u64 = g.nodes[..=after].iter().map(|n| n.flops(&g)).sum();
//! assert!(device_flops < full_flops / 3);
//! // 64x32x32 f32 halves to 32x32x32.
//! assert_eq!(split_feature(&g, &cfg, after)?.bytes_per_sample, 32 * 32 * 32 * 4);
//! # Ok::<(), splitbench::Error>(())
//! ```

use super::config::{stage_of, PruneConfig};
use crate::error::{Error, Result};
use crate::gpu::{buffers, Builder, GpuContext};
use crate::model::{cuts, Conv2d, Cut, Graph, Linear, Model, NodeId, Op, Weights};
use crate::tensor::Tensor;
use std::collections::BTreeMap;

/// Why the study prunes nothing on `graph`, if so: the pruner knows ResNet-style stages
/// (stem, `layer1`..`layer4`) only, where residual streams are pruned jointly per stage.
pub fn pruning_skipped(graph: &Graph) -> Option<String> {
    let staged = (1..graph.nodes.len()).any(|i| stage_of(graph, i).is_some());
    (!staged).then(|| {
        format!(
            "pruning skipped: {} has no ResNet-style stages (nodes named layer1.. layer4.); \
             only those graphs' channel structure is known to prune consistently",
            graph.name
        )
    })
}

/// How many of `channels` a ratio removes: `round(ratio * channels)` (half to even), at
/// most `channels - 1`.
pub fn pruned_count(channels: usize, ratio: f32) -> usize {
    let n = (f64::from(ratio) * channels as f64).round_ties_even() as usize;
    n.min(channels.saturating_sub(1))
}

/// The compacted graph alone (no weights): the channel counts and FLOPs of pruning with
/// `cfg`, for planning. Node ids and names are those of `graph`.
pub fn compact_graph(graph: &Graph, cfg: &PruneConfig) -> Result<Graph> {
    let plan = PrunePlan::build(graph, cfg, None)?;
    Ok(plan.rebuild(graph, None)?.0)
}

/// The cut after node `after` of the graph compacted with `cfg`: the tensors sent to the
/// edge and their (pruned) size.
pub fn split_feature(graph: &Graph, cfg: &PruneConfig, after: NodeId) -> Result<Cut> {
    if after >= graph.nodes.len() {
        return Err(Error::InvalidArg(format!(
            "split after node {after}: the graph has {} nodes",
            graph.nodes.len()
        )));
    }
    Ok(cuts(&compact_graph(graph, cfg)?).swap_remove(after))
}

/// Prunes a model with `cfg`, ranking its own weights (see the module docs), and compacts
/// it: the result computes less and equals the masked model.
pub fn compact(model: &Model, cfg: &PruneConfig) -> Result<Model> {
    PrunePlan::new(model, cfg)?.compact(model)
}

/// Which channels survive where, for one graph and config.
#[derive(Clone, Debug)]
pub struct PrunePlan {
    cfg: PruneConfig,
    /// Node names of the graph planned for (to reject another graph).
    names: Vec<String>,
    /// Per node: its output channels (features for `Flatten`) kept, ascending; `None`: all.
    kept: Vec<Option<Vec<u32>>>,
    /// Per node with weights to mask: keep flags over its output channels.
    masks: BTreeMap<NodeId, Vec<u32>>,
}

/// One weight tensor to mask: `(key, channels, inner, keep flags)`.
type MaskJob<'p> = (String, usize, usize, &'p [u32]);

/// Union-find over channel spaces.
struct Spaces(Vec<usize>);

impl Spaces {
    fn add(&mut self) -> usize {
        self.0.push(self.0.len());
        self.0.len() - 1
    }
    fn find(&mut self, mut i: usize) -> usize {
        while self.0[i] != i {
            self.0[i] = self.0[self.0[i]];
            i = self.0[i];
        }
        i
    }
    fn union(&mut self, a: usize, b: usize) -> usize {
        let (a, b) = (self.find(a), self.find(b));
        let (lo, hi) = (a.min(b), a.max(b));
        self.0[hi] = lo;
        lo
    }
}

fn weight<'w>(w: &'w Weights, key: &str, want: usize) -> Result<&'w Tensor> {
    let t = w
        .get(key)
        .ok_or_else(|| Error::Graph(format!("pruning: missing weight '{key}'")))?;
    if t.numel() != want {
        return Err(Error::Graph(format!(
            "pruning: weight '{key}' has {} values, the graph needs {want}",
            t.numel()
        )));
    }
    Ok(t)
}

/// Rows `keep_rows` (of `rows`) and, within each row of `cols x inner`, the column blocks
/// `keep_cols`, as a new row-major buffer.
fn gather(
    data: &[f32],
    rows: usize,
    cols: usize,
    inner: usize,
    keep_rows: Option<&[u32]>,
    keep_cols: Option<&[u32]>,
) -> Vec<f32> {
    let all_rows: Vec<u32>;
    let r = match keep_rows {
        Some(r) => r,
        None => {
            all_rows = (0..rows as u32).collect();
            &all_rows
        }
    };
    let mut out = Vec::new();
    for &o in r {
        let row = &data[o as usize * cols * inner..(o as usize + 1) * cols * inner];
        match keep_cols {
            None => out.extend_from_slice(row),
            Some(c) => {
                for &i in c {
                    out.extend_from_slice(&row[i as usize * inner..(i as usize + 1) * inner]);
                }
            }
        }
    }
    out
}

fn len_or(kept: &Option<Vec<u32>>, all: usize) -> usize {
    kept.as_ref().map_or(all, Vec::len)
}

impl PrunePlan {
    /// Plans pruning `model` with `cfg`, ranking the model's own weights (on a fused model,
    /// the folded filters; see the module docs).
    pub fn new(model: &Model, cfg: &PruneConfig) -> Result<Self> {
        Self::build(&model.graph, cfg, Some(&model.weights))
    }

    /// Plans pruning `graph` with `cfg`, ranking the filters `{conv}.weight` found in
    /// `ranking`: e.g. the unfused weights of a fused graph, to rank as the reference did.
    pub fn with_ranking(graph: &Graph, ranking: &Weights, cfg: &PruneConfig) -> Result<Self> {
        Self::build(graph, cfg, Some(ranking))
    }

    /// The config planned.
    pub fn config(&self) -> &PruneConfig {
        &self.cfg
    }

    /// Output channels (features, for a flatten) of `node` that survive, ascending;
    /// `None` when all do.
    pub fn kept(&self, node: NodeId) -> Option<&[u32]> {
        self.kept.get(node)?.as_deref()
    }

    /// Per node name of a conv (or batch norm) that loses channels: keep flags over its
    /// output channels (`1` keep, `0` pruned), the layout of the GPU mask kernel.
    pub fn masks(&self) -> BTreeMap<&str, &[u32]> {
        self.masks
            .iter()
            .map(|(&id, k)| (self.names[id].as_str(), k.as_slice()))
            .collect()
    }

    fn build(graph: &Graph, cfg: &PruneConfig, ranking: Option<&Weights>) -> Result<Self> {
        cfg.validate()?;
        let n = graph.nodes.len();
        let staged = (0..n).any(|i| stage_of(graph, i).is_some());
        if !cfg.is_identity() && !staged {
            return Err(Error::Unsupported(format!(
                "pruning {}: only ResNet-style graphs (stem, layer1..layer4) can be pruned",
                graph.name
            )));
        }

        // 1. Channel spaces: which tensors must lose the same channels.
        let mut uf = Spaces(Vec::new());
        let mut space = vec![usize::MAX; n];
        let mut fixed = Vec::new(); // spaces that cannot be pruned
        for (id, node) in graph.nodes.iter().enumerate() {
            let inp = |i: usize| space[node.inputs[i]];
            let s = match &node.op {
                Op::Input | Op::Flatten | Op::Linear(_) => {
                    let s = uf.add();
                    fixed.push(s);
                    s
                }
                Op::Conv2d(c) => {
                    let s = if c.is_depthwise() {
                        inp(0)
                    } else {
                        let s = uf.add();
                        if c.groups > 1 {
                            // Grouped convs would need per-group pruning: never prune through.
                            fixed.push(inp(0));
                            fixed.push(s);
                        }
                        s
                    };
                    if c.residual {
                        uf.union(s, inp(1))
                    } else {
                        s
                    }
                }
                Op::Add { .. } => uf.union(inp(0), inp(1)),
                // A product with a gate, or statistics over the channels: removing
                // channels would change the others' values, so never prune through.
                Op::Mul | Op::LayerNorm { .. } | Op::Concat => {
                    for i in 0..node.inputs.len() {
                        fixed.push(inp(i));
                    }
                    inp(0)
                }
                Op::Activation(_)
                | Op::Clip { .. }
                | Op::BatchNorm { .. }
                | Op::Relu
                | Op::Relu6
                | Op::MaxPool(_)
                | Op::AvgPool(_)
                | Op::AdaptiveAvgPool { .. }
                | Op::Dropout => inp(0),
            };
            space[id] = s;
        }
        let root: Vec<usize> = (0..n).map(|i| uf.find(space[i])).collect();
        let fixed: Vec<usize> = fixed.into_iter().map(|s| uf.find(s)).collect();

        // 2. Per space: members (convs, batch norms), ratio, scores, kept channels.
        let mut members: BTreeMap<usize, Vec<NodeId>> = BTreeMap::new();
        for (id, node) in graph.nodes.iter().enumerate() {
            if matches!(node.op, Op::Conv2d(_) | Op::BatchNorm { .. }) {
                members.entry(root[id]).or_default().push(id);
            }
        }
        let mut keep_of: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
        for (&sp, ids) in &members {
            if fixed.contains(&sp) {
                continue;
            }
            let convs: Vec<NodeId> = ids
                .iter()
                .copied()
                .filter(|&i| matches!(graph.nodes[i].op, Op::Conv2d(_)))
                .collect();
            let ratio = convs
                .iter()
                .filter_map(|&i| stage_of(graph, i).map(|s| cfg.ratios[s]))
                .fold(0f32, f32::max);
            let c = graph.nodes[ids[0]].shape.c;
            let drop = pruned_count(c, ratio);
            if drop == 0 {
                continue;
            }
            let mut score = vec![0f64; c];
            if let Some(w) = ranking {
                for &i in &convs {
                    let Op::Conv2d(conv) = graph.nodes[i].op else {
                        unreachable!("filtered to convs")
                    };
                    let shape = conv.weight_shape();
                    let t = weight(
                        w,
                        &format!("{}.weight", graph.nodes[i].name),
                        shape.iter().product(),
                    )?;
                    let per = t.numel() / c;
                    for (o, s) in score.iter_mut().enumerate() {
                        *s += t.data[o * per..(o + 1) * per]
                            .iter()
                            .map(|v| f64::from(v.abs()))
                            .sum::<f64>();
                    }
                }
            }
            // Highest scores first, ties to the lower index; keep c - drop, ascending.
            let mut order: Vec<u32> = (0..c as u32).collect();
            order.sort_by(|&a, &b| {
                score[b as usize]
                    .total_cmp(&score[a as usize])
                    .then(a.cmp(&b))
            });
            order.truncate(c - drop);
            order.sort_unstable();
            keep_of.insert(sp, order);
        }

        // 3. Per node: kept output channels; flatten expands channels to features.
        let mut kept: Vec<Option<Vec<u32>>> = Vec::with_capacity(n);
        for (id, node) in graph.nodes.iter().enumerate() {
            let k = match node.op {
                Op::Flatten => {
                    let x = graph.nodes[node.inputs[0]].shape;
                    let hw = (x.h * x.w) as u32;
                    kept[node.inputs[0]]
                        .as_ref()
                        .map(|k: &Vec<u32>| k.iter().flat_map(|&c| c * hw..(c + 1) * hw).collect())
                }
                _ => keep_of.get(&root[id]).cloned(),
            };
            kept.push(k);
        }
        let mut masks = BTreeMap::new();
        for (id, node) in graph.nodes.iter().enumerate() {
            if let (Some(k), Op::Conv2d(_) | Op::BatchNorm { .. }) = (&kept[id], node.op) {
                let mut flags = vec![0u32; node.shape.c];
                for &c in k {
                    flags[c as usize] = 1;
                }
                masks.insert(id, flags);
            }
        }
        Ok(Self {
            cfg: *cfg,
            names: graph.nodes.iter().map(|n| n.name.clone()).collect(),
            kept,
            masks,
        })
    }

    fn check_graph(&self, graph: &Graph) -> Result<()> {
        let same = graph.nodes.len() == self.names.len()
            && graph
                .nodes
                .iter()
                .zip(&self.names)
                .all(|(a, b)| &a.name == b);
        if same {
            Ok(())
        } else {
            Err(Error::InvalidArg(format!(
                "pruning plan was made for another graph than {}",
                graph.name
            )))
        }
    }

    /// The compacted graph (and weights, when given): every node kept with its name and
    /// id, pruned channels removed from producers and consumers.
    fn rebuild(&self, graph: &Graph, weights: Option<&Weights>) -> Result<(Graph, Weights)> {
        self.check_graph(graph)?;
        let mut g = Graph::new(graph.name.clone(), graph.input_shape());
        let mut w = Weights::new();
        for (id, node) in graph.nodes.iter().enumerate().skip(1) {
            let out_k = self.kept[id].as_deref();
            let in_k = self.kept[node.inputs[0]].as_deref();
            let name = node.name.as_str();
            let mut put = |suffix: &str, shape: Vec<usize>, data: Vec<f32>| -> Result<()> {
                w.insert(format!("{name}.{suffix}"), Tensor::new(shape, data)?);
                Ok(())
            };
            let op = match node.op {
                Op::Conv2d(c) => {
                    let out_c = len_or(&self.kept[id], c.out_c);
                    let in_c = len_or(&self.kept[node.inputs[0]], c.in_c);
                    let groups = if c.is_depthwise() { out_c } else { c.groups };
                    if c.groups > 1 && !c.is_depthwise() && (out_c, in_c) != (c.out_c, c.in_c) {
                        return Err(Error::Unsupported(format!(
                            "pruning grouped conv {name} (groups {})",
                            c.groups
                        )));
                    }
                    let new = Conv2d {
                        in_c,
                        out_c,
                        groups,
                        ..c
                    };
                    if let Some(wt) = weights {
                        let src = weight(
                            wt,
                            &format!("{name}.weight"),
                            c.weight_shape().iter().product(),
                        )?;
                        let cols = c.in_c / c.groups;
                        let inner = c.kernel.0 * c.kernel.1;
                        let col_k = if c.groups == 1 { in_k } else { None };
                        let data = gather(&src.data, c.out_c, cols, inner, out_k, col_k);
                        put("weight", new.weight_shape(), data)?;
                        if c.bias {
                            let b = weight(wt, &format!("{name}.bias"), c.out_c)?;
                            put(
                                "bias",
                                vec![out_c],
                                gather(&b.data, c.out_c, 1, 1, out_k, None),
                            )?;
                        }
                    }
                    Op::Conv2d(new)
                }
                Op::BatchNorm { c, eps } => {
                    let nc = len_or(&self.kept[id], c);
                    if let Some(wt) = weights {
                        for suffix in ["weight", "bias", "running_mean", "running_var"] {
                            let t = weight(wt, &format!("{name}.{suffix}"), c)?;
                            put(suffix, vec![nc], gather(&t.data, c, 1, 1, out_k, None))?;
                        }
                    }
                    Op::BatchNorm { c: nc, eps }
                }
                Op::Linear(l) => {
                    let in_f = len_or(&self.kept[node.inputs[0]], l.in_f);
                    if let Some(wt) = weights {
                        let src = weight(wt, &format!("{name}.weight"), l.out_f * l.in_f)?;
                        put(
                            "weight",
                            vec![l.out_f, in_f],
                            gather(&src.data, l.out_f, l.in_f, 1, None, in_k),
                        )?;
                        if l.bias {
                            let b = weight(wt, &format!("{name}.bias"), l.out_f)?;
                            put("bias", vec![l.out_f], b.data.clone())?;
                        }
                    }
                    Op::Linear(Linear { in_f, ..l })
                }
                op => op,
            };
            let new_id = g.push(name, op, &node.inputs)?;
            debug_assert_eq!(new_id, id);
        }
        Ok((g, w))
    }

    /// The compacted model: pruned output channels removed from each conv (weights and
    /// bias) and batch norm, the matching input channels from their consumers (convs, the
    /// classifier after global pooling). Same node ids and names; computes less.
    pub fn compact(&self, model: &Model) -> Result<Model> {
        let (graph, weights) = self.rebuild(&model.graph, Some(&model.weights))?;
        Ok(Model { graph, weights })
    }

    /// The weight tensors to mask: `(key, channels, inner, keep flags)` with the tensor
    /// laid out `[channels, inner]`. Conv filters and biases; batch norm weight and bias
    /// (`gamma = beta = 0` makes a channel zero).
    fn mask_jobs<'p>(&'p self, model: &Model) -> Result<Vec<MaskJob<'p>>> {
        self.check_graph(&model.graph)?;
        let mut jobs = Vec::new();
        for (&id, flags) in &self.masks {
            let node = &model.graph.nodes[id];
            let c = node.shape.c;
            let suffixes: &[&str] = match node.op {
                Op::Conv2d(conv) if conv.bias => &["weight", "bias"],
                Op::Conv2d(_) => &["weight"],
                _ => &["weight", "bias"],
            };
            for s in suffixes {
                let key = format!("{}.{s}", node.name);
                let t = model
                    .weights
                    .get(&key)
                    .ok_or_else(|| Error::Graph(format!("pruning: missing weight '{key}'")))?;
                if t.numel() % c != 0 || t.shape.first() != Some(&c) {
                    return Err(Error::Graph(format!(
                        "pruning: weight '{key}' of shape {:?} is not [{c}, ...]",
                        t.shape
                    )));
                }
                jobs.push((key, c, t.numel() / c, flags.as_slice()));
            }
        }
        Ok(jobs)
    }

    /// The masked model on the CPU ([`crate::cpu::mask_channels`]): same graph, pruned
    /// filters and their biases zeroed, so pruned channels are exactly zero everywhere.
    pub fn mask_cpu(&self, model: &Model) -> Result<Model> {
        let mut out = model.clone();
        for (key, c, inner, keep) in self.mask_jobs(model)? {
            let t = out.weights.get_mut(&key).expect("checked by mask_jobs");
            t.data = crate::cpu::mask_channels(&t.data, c, inner, keep);
        }
        Ok(out)
    }

    /// The masked model with the masks applied on the GPU by the pruning-mask kernel
    /// (bit-exact with [`Self::mask_cpu`]), all tensors in one submission.
    pub fn mask_gpu(&self, ctx: &GpuContext, model: &Model) -> Result<Model> {
        let jobs = self.mask_jobs(model)?;
        let b = Builder::new(ctx);
        let mut bufs = Vec::with_capacity(jobs.len());
        let mut dispatches = Vec::with_capacity(jobs.len());
        for (key, c, inner, keep) in &jobs {
            let n = c * inner;
            let x = buffers::upload(ctx, key, &model.weights[key].data);
            let k = buffers::upload(ctx, "keep", keep);
            let y = buffers::zeroed(ctx, key, (n * 4) as u64);
            dispatches.push(b.mask(n, *c, *inner, &x, &k, &y)?);
            bufs.push((key, n, y));
        }
        buffers::run(ctx, &dispatches)?;
        let mut out = model.clone();
        for (key, n, y) in bufs {
            let shape = model.weights[key].shape.clone();
            out.weights
                .insert(key.clone(), Tensor::new(shape, buffers::read(ctx, &y, n)?)?);
        }
        Ok(out)
    }
}
