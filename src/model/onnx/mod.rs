//! ONNX import: a `.onnx` file (with its external data file, if any) to the graph IR and its
//! weights, for every command that takes `--model`.
//!
//! The protobuf is read by prost code generated once from `onnx.proto` ([`proto`], committed:
//! no protoc at build time). Every shape is fixed at import (the model's own input shape, or
//! `--input` where a dimension is symbolic), so the shape plumbing exporters write is folded
//! to constants ([`consts`]). The IR keeps one tensor per node and per-sample shapes; the
//! first dimension of every runtime tensor is the batch. A model with operators the engine
//! does not run fails with one error that lists every such node.
//!
//! Node names come from the weights' initializer names where they are module paths
//! (`layer1.0.conv1.weight`, as the dynamo exporter writes), else from the node's own
//! (`/layer1/layer1.0/conv1/Conv` becomes `layer1.0.conv1`), made unique; weights are keyed
//! `{node}.weight` / `{node}.bias` as for zoo models.

mod attrs;
mod consts;
mod layers;
#[rustfmt::skip]
mod proto;
mod translate;

use super::graph::{Graph, Shape};
use super::Weights;
use crate::error::{Error, Result};
use prost::Message;
use proto::ModelProto;
use std::path::Path;

pub use consts::{Const, Data};

/// Whether a `--model` value names an ONNX file rather than a zoo model.
pub fn is_onnx(model: &str) -> bool {
    model.to_ascii_lowercase().ends_with(".onnx")
}

/// An imported model: the graph (unfused: batch norms, activations and adds are their own
/// nodes, as the file has them) and one tensor per parameter key.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The graph; its name is the file's stem.
    pub graph: Graph,
    /// Weights keyed `{node name}.{weight|bias|...}`.
    pub weights: Weights,
    /// The default-domain opset the file declares.
    pub opset: i64,
    /// The exporter (`producer_name producer_version`).
    pub producer: String,
}

/// Reads `path` (and its external data, from the same folder). `input` fixes the per-sample
/// input shape where the file leaves a dimension symbolic, and must agree with the file
/// where it does not. Errors name the file.
pub fn import(path: &Path, input: Option<Shape>) -> Result<Imported> {
    let bytes = std::fs::read(path).map_err(|e| Error::BadFile {
        file: path.to_path_buf(),
        msg: format!("cannot read: {e}"),
    })?;
    import_bytes(&bytes, path, input)
}

/// [`import`] of the file's bytes, already read: `path` names it in errors and its folder
/// holds the external data (the fuzz target's entry point).
pub fn import_bytes(bytes: &[u8], path: &Path, input: Option<Shape>) -> Result<Imported> {
    let bad = |msg: String| Error::BadFile {
        file: path.to_path_buf(),
        msg,
    };
    let model =
        ModelProto::decode(bytes).map_err(|e| bad(format!("not an ONNX model (protobuf: {e})")))?;
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| bad("not an ONNX model (no graph)".into()))?;
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain().is_empty() || o.domain() == "ai.onnx")
        .map(|o| o.version())
        .ok_or_else(|| bad("declares no default-domain opset".into()))?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "onnx".into());
    let dir = path.parent().unwrap_or(Path::new("."));
    let (graph, weights) =
        translate::translate(graph, &name, opset, dir, input).map_err(|e| match e {
            translate::Fail::File(msg) => bad(msg),
            translate::Fail::Unsupported(list) => Error::Unsupported(format!(
                "{}: opset {opset}: {} node(s) splitbench cannot run: {}",
                path.display(),
                list.len(),
                list.join(", ")
            )),
        })?;
    let producer = format!("{} {}", model.producer_name(), model.producer_version())
        .trim()
        .to_string();
    Ok(Imported {
        graph,
        weights,
        opset,
        producer,
    })
}
