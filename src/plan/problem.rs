//! The planner's input: per-node device and edge times, FLOPs and bytes of every node, and
//! the tensors that cross every cut.

use super::edge::EdgeModel;
use crate::error::{Error, Result};
use crate::model::{cuts, Graph, Shape};

/// One node of the inference graph as the planner sees it (node 0 is the input).
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// Node name.
    pub name: String,
    /// Op kind (`conv`, `dwconv`, `linear`, ...); Neurosurgeon's predictor fits one model
    /// per kind.
    pub op: String,
    /// FLOPs per sample.
    pub flops: u64,
    /// Bytes the node reads (inputs and weights) plus the bytes it writes, f32, per sample
    /// (0 for the input and for views): the second regressor of the latency predictor.
    pub bytes: u64,
    /// Measured device time, ms (0 for the input).
    pub device_ms: f64,
    /// Edge time, ms (0 for the input).
    pub edge_ms: f64,
}

/// One tensor crossing a cut, per sample: `channels` planes of `plane` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CutTensor {
    /// Channels (features for vectors).
    pub channels: usize,
    /// Values per channel (H x W; 1 for vectors).
    pub plane: usize,
}

impl CutTensor {
    /// A tensor of the given shape.
    pub fn of(shape: Shape) -> Self {
        Self {
            channels: shape.c,
            plane: shape.h * shape.w,
        }
    }

    /// Values per sample.
    pub fn numel(&self) -> usize {
        self.channels * self.plane
    }
}

/// A cut: the device runs nodes `0..=after`, the edge the rest; `tensors` cross.
#[derive(Clone, Debug, PartialEq)]
pub struct SplitPoint {
    /// Last node on the device (0: edge-only; the last node: device-only).
    pub after: usize,
    /// Tensors produced on the device and read on the edge.
    pub tensors: Vec<CutTensor>,
}

impl SplitPoint {
    /// Their size as f32, bytes.
    pub fn f32_bytes(&self) -> u64 {
        self.tensors.iter().map(|t| t.numel() as u64 * 4).sum()
    }
}

/// Everything the cost model needs about one model on one device/edge pair, per sample
/// (batch 1).
#[derive(Clone, Debug)]
pub struct Problem {
    /// Model name.
    pub model: String,
    /// Per-sample input shape (edge-only sends it as `C*H*W` uint8 pixels).
    pub input: Shape,
    /// One per node, node 0 the input.
    pub layers: Vec<Layer>,
    /// One per node: `splits[k].after == k`.
    pub splits: Vec<SplitPoint>,
    prefix_device_ms: Vec<f64>,
    suffix_edge_ms: Vec<f64>,
}

fn time_ok(what: &str, name: &str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidArg(format!(
            "{what} of node '{name}' is {v}, expected a non-negative number"
        )))
    }
}

impl Problem {
    /// Checks and indexes a problem: at least two nodes (input and output), one split per
    /// node in order, finite non-negative times.
    pub fn new(
        model: impl Into<String>,
        input: Shape,
        layers: Vec<Layer>,
        splits: Vec<SplitPoint>,
    ) -> Result<Self> {
        if layers.len() < 2 {
            return Err(Error::InvalidArg(
                "a problem needs at least the input and one node".into(),
            ));
        }
        if splits.len() != layers.len() || splits.iter().enumerate().any(|(k, s)| s.after != k) {
            return Err(Error::InvalidArg(
                "splits must list one cut per node, in node order".into(),
            ));
        }
        for l in &layers {
            time_ok("device time", &l.name, l.device_ms)?;
            time_ok("edge time", &l.name, l.edge_ms)?;
        }
        let mut prefix_device_ms = Vec::with_capacity(layers.len());
        let mut acc = 0.0;
        for l in &layers {
            acc += l.device_ms;
            prefix_device_ms.push(acc);
        }
        let mut suffix_edge_ms = vec![0.0; layers.len()];
        let mut acc = 0.0;
        for k in (0..layers.len()).rev() {
            suffix_edge_ms[k] = acc;
            acc += layers[k].edge_ms;
        }
        Ok(Self {
            model: model.into(),
            input,
            layers,
            splits,
            prefix_device_ms,
            suffix_edge_ms,
        })
    }

    /// A problem for an inference graph: `device_ms` per node (node 0, the input, is
    /// ignored and counts 0) and the edge model's per-node times.
    pub fn from_graph(graph: &Graph, device_ms: &[f64], edge: &EdgeModel) -> Result<Self> {
        let n = graph.nodes.len();
        if device_ms.len() != n || edge.node_ms.len() != n {
            return Err(Error::InvalidArg(format!(
                "{} has {n} nodes, got {} device and {} edge times",
                graph.name,
                device_ms.len(),
                edge.node_ms.len()
            )));
        }
        let layers = graph
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let view = node.op.is_view() || i == 0;
                Layer {
                    name: node.name.clone(),
                    op: node.op.kind().to_string(),
                    flops: node.flops(graph),
                    bytes: if view {
                        0
                    } else {
                        (node.input_values(graph) + node.param_values() + node.shape.numel() as u64)
                            * 4
                    },
                    device_ms: if i == 0 { 0.0 } else { device_ms[i] },
                    edge_ms: if i == 0 { 0.0 } else { edge.node_ms[i] },
                }
            })
            .collect();
        let splits = cuts(graph)
            .into_iter()
            .map(|c| SplitPoint {
                after: c.after,
                tensors: c
                    .tensors
                    .iter()
                    .map(|&t| CutTensor::of(graph.nodes[t].shape))
                    .collect(),
            })
            .collect();
        Self::new(graph.name.clone(), graph.input_shape(), layers, splits)
    }

    /// Index of the last node (the device-only split).
    pub fn last(&self) -> usize {
        self.layers.len() - 1
    }

    /// Device time of nodes `0..=after`, ms.
    pub fn device_prefix_ms(&self, after: usize) -> f64 {
        self.prefix_device_ms[after]
    }

    /// Edge time of nodes `after+1..`, ms.
    pub fn edge_suffix_ms(&self, after: usize) -> f64 {
        self.suffix_edge_ms[after]
    }
}
