//! Fusion: turns a zoo (torchvision-shaped) model into the inference graph the GPU runs.
//!
//! Passes, each rebuilding the graph through [`Graph::push`] so shapes are re-checked:
//! 1. fold every `BatchNorm` into the conv producing its input (the conv gets a bias) and
//!    drop `Dropout` (identity at inference);
//! 2. fold a residual `Add` into the conv producing its later operand (`residual: true`);
//! 3. fuse `Relu`/`Relu6` into the preceding conv, linear or add.
//!
//! A fused node keeps the conv's (or linear's, add's) name, so its weights stay keyed
//! `"{conv name}.weight"` / `"{conv name}.bias"`. It is placed where the last node it
//! absorbed was, which keeps the order topological and the output node last.

use super::graph::{Act, Graph, NodeId, Op};
use super::weights::check;
use super::{Model, Weights};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// One node of a rewritten graph; `inputs` are ids in the graph being rewritten.
struct Emit {
    name: String,
    op: Op,
    inputs: Vec<NodeId>,
}

/// A graph being rewritten: for each old node, what (if anything) to emit at its position,
/// and for removed nodes, the old node whose value replaces theirs.
struct Rewrite<'a> {
    g: &'a Graph,
    slot: Vec<Option<Emit>>,
    alias: Vec<NodeId>,
}

impl<'a> Rewrite<'a> {
    fn new(g: &'a Graph) -> Self {
        let slot = g
            .nodes
            .iter()
            .map(|n| {
                Some(Emit {
                    name: n.name.clone(),
                    op: n.op,
                    inputs: n.inputs.clone(),
                })
            })
            .collect();
        Self {
            g,
            slot,
            alias: (0..g.nodes.len()).collect(),
        }
    }

    /// Removes `from`; its value is now that of old node `to`.
    fn replace(&mut self, from: NodeId, to: NodeId) {
        self.slot[from] = None;
        self.alias[from] = to;
    }

    /// The emitting node whose value old node `id` has now.
    fn resolve(&self, mut id: NodeId) -> NodeId {
        while self.slot[id].is_none() && self.alias[id] != id {
            id = self.alias[id];
        }
        id
    }

    fn finish(self) -> Result<Graph> {
        let mut out = Graph::new(self.g.name.clone(), self.g.input_shape());
        let mut new_id = vec![usize::MAX; self.slot.len()];
        new_id[0] = 0;
        for (old, emit) in self.slot.iter().enumerate().skip(1) {
            let Some(e) = emit else { continue };
            let inputs: Vec<NodeId> = e.inputs.iter().map(|&i| new_id[self.resolve(i)]).collect();
            if inputs.contains(&usize::MAX) {
                return Err(Error::Graph(format!(
                    "fusion of node {}: an input was placed after it",
                    e.name
                )));
            }
            new_id[old] = out.push(e.name.clone(), e.op, &inputs)?;
        }
        Ok(out)
    }
}

/// Folds batch norms into convs and drops dropouts. With weights, also rewrites them:
/// `{conv}.weight` scaled, `{conv}.bias` set, the batch norm's keys removed.
fn fold_bn(g: &Graph, mut weights: Option<&mut Weights>) -> Result<Graph> {
    let consumers = g.consumers();
    let mut rw = Rewrite::new(g);
    for (id, node) in g.nodes.iter().enumerate() {
        match node.op {
            Op::Dropout => rw.replace(id, node.inputs[0]),
            Op::BatchNorm { eps, .. } => {
                let p = node.inputs[0];
                let prod = &g.nodes[p];
                let Op::Conv2d(mut conv) = prod.op else {
                    return Err(Error::Graph(format!(
                        "cannot fold batch norm {}: its input {} is not a conv",
                        node.name, prod.name
                    )));
                };
                if consumers[p] != [id] {
                    return Err(Error::Graph(format!(
                        "cannot fold batch norm {}: conv {} has other consumers",
                        node.name, prod.name
                    )));
                }
                if let Some(w) = weights.as_deref_mut() {
                    fold_bn_weights(w, &node.name, &prod.name, conv.out_c, eps)?;
                }
                conv.bias = true;
                rw.slot[id] = Some(Emit {
                    name: prod.name.clone(),
                    op: Op::Conv2d(conv),
                    inputs: prod.inputs.clone(),
                });
                rw.replace(p, id);
            }
            _ => {}
        }
    }
    rw.finish()
}

/// `y = gamma (conv(x) + b - mean) / sqrt(var + eps) + beta` as one conv: scales each
/// output channel's weights and sets the bias (in f64, so folding adds no error of note).
fn fold_bn_weights(w: &mut Weights, bn: &str, conv: &str, out_c: usize, eps: f32) -> Result<()> {
    let mut take = |key: String| {
        w.remove(&key)
            .ok_or_else(|| Error::Graph(format!("fusion: missing weights {key}")))
    };
    let gamma = take(format!("{bn}.weight"))?;
    let beta = take(format!("{bn}.bias"))?;
    let mean = take(format!("{bn}.running_mean"))?;
    let var = take(format!("{bn}.running_var"))?;
    let bkey = format!("{conv}.bias");
    let old_bias = w.remove(&bkey);
    let wkey = format!("{conv}.weight");
    let cw = w
        .get_mut(&wkey)
        .ok_or_else(|| Error::Graph(format!("fusion: missing weights {wkey}")))?;
    let per_out = cw.data.len() / out_c;
    let mut bias = Vec::with_capacity(out_c);
    for o in 0..out_c {
        let s = gamma.data[o] as f64 / (var.data[o] as f64 + eps as f64).sqrt();
        for v in &mut cw.data[o * per_out..(o + 1) * per_out] {
            *v = (*v as f64 * s) as f32;
        }
        let b0 = old_bias.as_ref().map_or(0.0, |b| b.data[o] as f64);
        bias.push(((b0 - mean.data[o] as f64) * s + beta.data[o] as f64) as f32);
    }
    w.insert(bkey, Tensor::new(vec![out_c], bias)?);
    Ok(())
}

/// Folds each `Add` into the conv producing its later operand when that conv feeds only
/// the add; the earlier operand becomes the conv's residual input.
fn fold_add(g: &Graph) -> Result<Graph> {
    let consumers = g.consumers();
    let mut rw = Rewrite::new(g);
    for (id, node) in g.nodes.iter().enumerate() {
        let Op::Add { act } = node.op else { continue };
        let (a, b) = (node.inputs[0], node.inputs[1]);
        let (small, big) = (a.min(b), a.max(b));
        let Op::Conv2d(mut conv) = g.nodes[big].op else {
            continue;
        };
        if small == big || conv.residual || conv.act != Act::None || consumers[big] != [id] {
            continue;
        }
        conv.residual = true;
        conv.act = act;
        let prod = &g.nodes[big];
        rw.slot[id] = Some(Emit {
            name: prod.name.clone(),
            op: Op::Conv2d(conv),
            inputs: vec![prod.inputs[0], small],
        });
        rw.replace(big, id);
    }
    rw.finish()
}

/// Fuses `Relu`/`Relu6` and other activations into a conv, linear or add that feeds only it.
fn fuse_act(g: &Graph) -> Result<Graph> {
    let consumers = g.consumers();
    let mut rw = Rewrite::new(g);
    for (id, node) in g.nodes.iter().enumerate() {
        let act = match node.op {
            Op::Relu => Act::Relu,
            Op::Relu6 => Act::Relu6,
            Op::Activation(a) => a,
            _ => continue,
        };
        let p = node.inputs[0];
        if consumers[p] != [id] {
            continue;
        }
        let mut op = g.nodes[p].op;
        match &mut op {
            Op::Conv2d(c) if c.act == Act::None => c.act = act,
            Op::Linear(l) if l.act == Act::None => l.act = act,
            Op::Add { act: a } if *a == Act::None => *a = act,
            _ => continue,
        }
        let prod = &g.nodes[p];
        rw.slot[id] = Some(Emit {
            name: prod.name.clone(),
            op,
            inputs: prod.inputs.clone(),
        });
        rw.replace(p, id);
    }
    rw.finish()
}

/// The inference graph of an unfused graph, without touching weights (to inspect the
/// fused structure, or to make seeded weights for it directly). Same structure as [`fuse`].
pub fn fuse_graph(graph: &Graph) -> Result<Graph> {
    fuse_act(&fold_add(&fold_bn(graph, None)?)?)
}

/// Fuses a model for inference: batch norm folded into convs, ReLU/ReLU6 and residual adds
/// fused into the producing conv/linear/add, dropout removed. The result computes the same
/// function. Errors if the weights do not match the graph or a batch norm cannot be folded.
pub fn fuse(model: &Model) -> Result<Model> {
    check(&model.graph, &model.weights)?;
    let mut weights = model.weights.clone();
    let g = fold_bn(&model.graph, Some(&mut weights))?;
    let g = fuse_act(&fold_add(&g)?)?;
    // Dropped nodes have no weights and fused nodes keep their names, so the keys of the
    // folded weights are exactly the fused graph's: check proves it.
    check(&g, &weights)?;
    Ok(Model { graph: g, weights })
}

/// Seeded weights for the zoo graph, then fused: the usual starting point for profiling.
pub fn seeded_fused(graph: &Graph, seed: u64) -> Result<Model> {
    fuse(&Model {
        graph: graph.clone(),
        weights: super::weights::seeded(graph, seed),
    })
}

/// The usual way to a runnable model: the (unfused, torchvision-keyed) graph's weights from
/// a safetensors file when one is given, seeded with `seed` otherwise; then fused.
pub fn load_fused(graph: &Graph, weights: Option<&std::path::Path>, seed: u64) -> Result<Model> {
    let weights = match weights {
        Some(path) => super::weights::load_safetensors(graph, path)?,
        None => super::weights::seeded(graph, seed),
    };
    fuse(&Model {
        graph: graph.clone(),
        weights,
    })
}
