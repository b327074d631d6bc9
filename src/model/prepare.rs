//! From a zoo name (and optionally a weights file) to the fused inference model.

use super::{load_fused, zoo, Graph, Model, ZooOptions};
use crate::error::Result;
use std::path::Path;

/// A model ready to run: the torchvision-faithful graph (for parameter counts) and the
/// fused inference model (BN folded, activations and residual adds fused) that executes.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The graph as torchvision defines it.
    pub torch: Graph,
    /// The fused inference model.
    pub model: Model,
    /// Where the weights came from (`seeded:<seed>` or the file path).
    pub weights_source: String,
}

/// Builds `name` from the zoo and loads `weights` (safetensors, torchvision keys) or, when
/// none is given, seeded random weights (for latency work only).
pub fn prepare(
    name: &str,
    opts: &ZooOptions,
    weights: Option<&Path>,
    seed: u64,
) -> Result<Prepared> {
    let torch = zoo::build(name, opts)?;
    let model: Model = load_fused(&torch, weights, seed)?;
    let weights_source = match weights {
        Some(p) => p.display().to_string(),
        None => format!("seeded:{seed}"),
    };
    Ok(Prepared {
        torch,
        model,
        weights_source,
    })
}
