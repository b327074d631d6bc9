//! From a zoo name (and optionally a weights file) or an ONNX file to the fused inference
//! model.

use super::{fuse, load_fused, onnx, zoo, Graph, Model, Shape, ZooOptions};
use crate::error::{Error, Result};
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
/// none is given, seeded random weights (for latency work only). A `name` ending in `.onnx`
/// is imported with its own weights (`opts.input` fixes symbolic dimensions).
pub fn prepare(
    name: &str,
    opts: &ZooOptions,
    weights: Option<&Path>,
    seed: u64,
) -> Result<Prepared> {
    if onnx::is_onnx(name) {
        if weights.is_some() || opts.classes.is_some() || opts.width.is_some() {
            return Err(Error::InvalidArg(format!(
                "{name}: an ONNX model carries its own weights and shape; --weights, --classes \
                 and --width are for zoo models"
            )));
        }
        return prepared_onnx(onnx::import(Path::new(name), opts.input)?, name);
    }
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

/// An ONNX model given as bytes (a file picked in a browser, where nothing is read from a
/// disk): `name` labels it; external data cannot be read this way.
pub fn prepare_onnx_bytes(bytes: &[u8], name: &str, input: Option<Shape>) -> Result<Prepared> {
    prepared_onnx(onnx::import_bytes(bytes, Path::new(name), input)?, name)
}

fn prepared_onnx(imported: onnx::Imported, name: &str) -> Result<Prepared> {
    let model = fuse(&Model {
        graph: imported.graph.clone(),
        weights: imported.weights,
    })?;
    Ok(Prepared {
        torch: imported.graph,
        model,
        weights_source: format!("onnx:{name}"),
    })
}
