//! Models (layer 1, uses `tensor`): the graph IR, the zoo, weights (seeded or loaded),
//! fusion and split cuts. Knows nothing of GPUs.

mod cuts;
mod fuse;
mod graph;
pub mod onnx;
mod prepare;
mod weights;
pub mod zoo;

pub use cuts::{cuts, paper_split_points, Cut};
pub use fuse::{fuse, fuse_graph, load_fused, seeded_fused};
pub use graph::{Act, Conv2d, Graph, Linear, Node, NodeId, Op, Pool, Shape};
pub use prepare::{prepare, prepare_onnx_bytes, Prepared};
pub use weights::{
    check, expected_keys, load_safetensors, save_safetensors, save_safetensors_as, seeded,
};
pub use zoo::ZooOptions;

use crate::tensor::Tensor;
use std::collections::BTreeMap;

/// Weights keyed by torchvision state_dict key (`layer1.0.conv1.weight`).
pub type Weights = BTreeMap<String, Tensor>;

/// A graph with its weights.
#[derive(Clone, Debug)]
pub struct Model {
    /// The graph.
    pub graph: Graph,
    /// One tensor per parameter/buffer key of the graph.
    pub weights: Weights,
}

impl Model {
    /// A 64-bit FNV-1a hash of the graph and weights, to tell runs of different models (or
    /// weights) apart in manifests.
    pub fn hash(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for b in bytes {
                h ^= *b as u64;
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        for n in &self.graph.nodes {
            eat(n.name.as_bytes());
            eat(format!("{:?}{:?}", n.op, n.inputs).as_bytes());
        }
        for (k, t) in &self.weights {
            eat(k.as_bytes());
            eat(bytemuck::cast_slice(&t.data));
        }
        format!("{h:016x}")
    }
}
