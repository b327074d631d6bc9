//! Split cuts: for every topological prefix of a graph (the part run on the device), the
//! tensors that must cross to the edge and their size.

use super::graph::{Graph, NodeId};

/// One candidate split: the device runs nodes `0..=after`, the edge runs the rest.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Cut {
    /// Last node run on the device (0: edge-only, the input crosses; the output node:
    /// device-only, the logits "cross").
    pub after: NodeId,
    /// Tensors produced on the device and read on the edge, ascending ids.
    pub tensors: Vec<NodeId>,
    /// Their total size per sample as f32, in bytes.
    pub bytes_per_sample: usize,
}

/// Every cut of the graph, one per node, in order (`cuts(g)[k].after == k`).
pub fn cuts(graph: &Graph) -> Vec<Cut> {
    let n = graph.nodes.len();
    // last_use[i]: the last node reading tensor i (the output is "read" past the end).
    let mut last_use: Vec<Option<NodeId>> = vec![None; n];
    for (id, node) in graph.nodes.iter().enumerate() {
        for &i in &node.inputs {
            last_use[i] = Some(last_use[i].map_or(id, |u| u.max(id)));
        }
    }
    last_use[graph.output()] = Some(n);
    (0..n)
        .map(|k| {
            let tensors: Vec<NodeId> = (0..=k)
                .filter(|&i| last_use[i].is_some_and(|u| u > k))
                .collect();
            let bytes_per_sample = tensors
                .iter()
                .map(|&i| graph.nodes[i].shape.bytes_f32())
                .sum();
            Cut {
                after: k,
                tensors,
                bytes_per_sample,
            }
        })
        .collect()
}

/// The five split points of Shao & Zhang's ResNet experiments, for ResNet-style graphs
/// (fused or not): `stem` (the node before the first `layer1.` node), then `layer1` ..
/// `layer4` (the last node whose name starts with `layerN.`). Points whose nodes the graph
/// lacks are left out, so graphs that are not ResNets give an empty list.
pub fn paper_split_points(graph: &Graph) -> Vec<(&'static str, NodeId)> {
    let mut out = Vec::new();
    if let Some(first) = graph
        .nodes
        .iter()
        .position(|n| n.name.starts_with("layer1."))
    {
        if first > 0 {
            out.push(("stem", first - 1));
        }
    }
    for (label, prefix) in [
        ("layer1", "layer1."),
        ("layer2", "layer2."),
        ("layer3", "layer3."),
        ("layer4", "layer4."),
    ] {
        if let Some(last) = graph.nodes.iter().rposition(|n| n.name.starts_with(prefix)) {
            out.push((label, last));
        }
    }
    out
}
