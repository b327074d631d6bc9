//! Models: the graph IR, the zoo, weights (seeded or loaded) and split cuts. Knows nothing
//! of GPUs.

mod cuts;
mod fuse;
mod graph;
mod prepare;
mod weights;
pub mod zoo;

pub use cuts::{cuts, paper_split_points, Cut};
pub use fuse::{fuse, fuse_graph, load_fused, seeded_fused};
pub use graph::{Act, Conv2d, Graph, Linear, Node, NodeId, Op, Pool, Shape};
pub use prepare::{prepare, Prepared};
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
