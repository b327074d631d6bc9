//! Models: the graph IR, the zoo, weights (seeded or loaded) and split cuts. Knows nothing
//! of GPUs.

mod graph;

pub use graph::{Act, Conv2d, Graph, Linear, Node, NodeId, Op, Pool, Shape};

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
