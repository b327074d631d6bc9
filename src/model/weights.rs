//! Weights: seeded random initialisation (for latency work) and safetensors files written by
//! PyTorch (`safetensors.torch.save_file(model.state_dict(), path)`) with torchvision keys.

use super::graph::{Graph, Op};
use super::Weights;
use crate::error::{Error, Result};
use crate::tensor::{Rng, Tensor};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::BTreeMap;
use std::path::Path;

/// Every parameter/buffer key of the graph with its shape, in node order.
pub fn expected_keys(graph: &Graph) -> Vec<(String, Vec<usize>)> {
    graph
        .nodes
        .iter()
        .flat_map(|n| {
            n.op.params()
                .into_iter()
                .map(move |(suffix, shape, _)| (format!("{}.{suffix}", n.name), shape))
        })
        .collect()
}

/// FNV-1a of the key, so each tensor's values depend only on the seed and its own key
/// (adding or removing a node elsewhere leaves the other tensors unchanged).
fn key_seed(seed: u64, key: &str) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for b in key.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

/// Deterministic random weights for every key of the graph.
///
/// Conv and linear weights are normal with std `sqrt(2 / fan_in)` (Kaiming), so activations
/// stay O(1) through ReLU layers; biases are U(-0.1, 0.1). Batch norm gets weight
/// U(0.5, 1.5), bias U(-0.1, 0.1), running mean U(-0.1, 0.1) and running variance
/// U(0.5, 1.5), so that folding it into the conv is not the identity.
pub fn seeded(graph: &Graph, seed: u64) -> Weights {
    let mut out = Weights::new();
    for node in &graph.nodes {
        let fan_in = match &node.op {
            Op::Conv2d(c) => c.in_c / c.groups * c.kernel.0 * c.kernel.1,
            Op::Linear(l) => l.in_f,
            _ => 1,
        };
        for (suffix, shape, _) in node.op.params() {
            let key = format!("{}.{suffix}", node.name);
            let mut rng = Rng::new(key_seed(seed, &key));
            let n: usize = shape.iter().product();
            let data = match (&node.op, suffix) {
                (Op::BatchNorm { .. }, "weight" | "running_var") => rng.vec(n, 0.5, 1.5),
                (Op::BatchNorm { .. }, _) => rng.vec(n, -0.1, 0.1),
                (_, "weight") => {
                    let std = (2.0 / fan_in as f32).sqrt();
                    (0..n).map(|_| rng.normal() * std).collect()
                }
                _ => rng.vec(n, -0.1, 0.1),
            };
            out.insert(key, Tensor { shape, data });
        }
    }
    out
}

/// Checks that `weights` has exactly the graph's keys with the graph's shapes.
pub fn check(graph: &Graph, weights: &Weights) -> Result<()> {
    let bad = |key: &str, expected: String, found: String| {
        Error::InvalidArg(format!(
            "weights for model {}: key '{key}': expected {expected}, found {found}",
            graph.name
        ))
    };
    let expected = expected_keys(graph);
    for (key, shape) in &expected {
        match weights.get(key) {
            None => return Err(bad(key, format!("shape {shape:?}"), "no such key".into())),
            Some(t) if &t.shape != shape || t.data.len() != shape.iter().product::<usize>() => {
                return Err(bad(
                    key,
                    format!("shape {shape:?}"),
                    format!("shape {:?} with {} values", t.shape, t.data.len()),
                ))
            }
            Some(_) => {}
        }
    }
    if weights.len() != expected.len() {
        let known: std::collections::BTreeSet<&str> =
            expected.iter().map(|(k, _)| k.as_str()).collect();
        if let Some(extra) = weights.keys().find(|k| !known.contains(k.as_str())) {
            return Err(bad(extra, "no such key".into(), "a tensor".into()));
        }
    }
    Ok(())
}

/// PyTorch's BN step counter: an I64 buffer in every state_dict, useless at inference.
fn ignored(key: &str) -> bool {
    key.ends_with(".num_batches_tracked")
}

/// Decodes little-endian F32, F64, F16 or BF16 data to f32; `None` for other dtypes.
fn to_f32(view: &TensorView<'_>) -> Option<Vec<f32>> {
    let d = view.data();
    Some(match view.dtype() {
        Dtype::F32 => d
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F64 => d
            .chunks_exact(8)
            .map(|b| {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                f64::from_le_bytes(a) as f32
            })
            .collect(),
        Dtype::F16 => d
            .chunks_exact(2)
            .map(|b| half::f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32())
            .collect(),
        Dtype::BF16 => d
            .chunks_exact(2)
            .map(|b| half::bf16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32())
            .collect(),
        _ => return None,
    })
}

/// Loads a safetensors file with the graph's (torchvision) keys.
///
/// Accepts F32, F16, BF16 (and F64) tensors, converted to f32; ignores
/// `*.num_batches_tracked`. Errors, never panics: unreadable file ([`Error::Io`]),
/// malformed or truncated file ([`Error::WeightsFile`] with the safetensors message),
/// missing or unexpected key, wrong shape or unsupported dtype ([`Error::WeightsKey`]
/// naming the key, what the model expects and what the file has).
pub fn load_safetensors(graph: &Graph, path: &Path) -> Result<Weights> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| Error::WeightsFile {
        file: path.into(),
        msg: format!("not a valid safetensors file: {e}"),
    })?;
    let key_err = |key: &str, expected: String, found: String| Error::WeightsKey {
        file: path.into(),
        key: key.into(),
        expected,
        found,
    };
    let expected = expected_keys(graph);
    let mut out = Weights::new();
    for (key, shape) in &expected {
        let view = st.tensor(key).map_err(|_| {
            key_err(
                key,
                format!("a tensor of shape {shape:?}"),
                "no such key in the file".into(),
            )
        })?;
        let data = to_f32(&view).ok_or_else(|| {
            key_err(
                key,
                "dtype F32, F16 or BF16".into(),
                format!("dtype {:?}", view.dtype()),
            )
        })?;
        if view.shape() != shape.as_slice() {
            return Err(key_err(
                key,
                format!("shape {shape:?}"),
                format!("shape {:?}", view.shape()),
            ));
        }
        out.insert(
            key.clone(),
            Tensor {
                shape: shape.clone(),
                data,
            },
        );
    }
    let mut extra: Vec<&str> = st
        .names()
        .into_iter()
        .filter(|k| !ignored(k) && !out.contains_key(*k))
        .collect();
    extra.sort_unstable();
    if let Some(k) = extra.first() {
        let shape = st.tensor(k).map(|v| v.shape().to_vec()).unwrap_or_default();
        return Err(key_err(
            k,
            format!("no such key in model {}", graph.name),
            format!(
                "a tensor of shape {shape:?} ({} unexpected keys in all)",
                extra.len()
            ),
        ));
    }
    Ok(out)
}

/// Writes the weights as an f32 safetensors file (readable by `safetensors.torch.load_file`).
pub fn save_safetensors(weights: &Weights, path: &Path) -> Result<()> {
    save_safetensors_as(weights, path, false)
}

/// Storage type of [`save_safetensors_as`].
fn stored(v: f32, f16: bool) -> Vec<u8> {
    if f16 {
        half::f16::from_f32(v).to_le_bytes().to_vec()
    } else {
        v.to_le_bytes().to_vec()
    }
}

/// Writes the weights as f32, or as f16 when `f16` (half the size; for derived models whose
/// accuracy is measured from the stored f16 values, as the loader widens them back).
pub fn save_safetensors_as(weights: &Weights, path: &Path, f16: bool) -> Result<()> {
    let file_err = |msg: String| Error::WeightsFile {
        file: path.into(),
        msg,
    };
    let bytes: BTreeMap<&str, Vec<u8>> = weights
        .iter()
        .map(|(k, t)| {
            let b = t.data.iter().flat_map(|&v| stored(v, f16)).collect();
            (k.as_str(), b)
        })
        .collect();
    let mut views = Vec::with_capacity(weights.len());
    for (k, t) in weights {
        let data = bytes.get(k.as_str()).map(Vec::as_slice).unwrap_or_default();
        let dtype = if f16 { Dtype::F16 } else { Dtype::F32 };
        let view = TensorView::new(dtype, t.shape.clone(), data)
            .map_err(|e| file_err(format!("tensor '{k}': {e}")))?;
        views.push((k.as_str(), view));
    }
    let buf = safetensors::serialize(views, None).map_err(|e| file_err(e.to_string()))?;
    std::fs::write(path, buf).map_err(|e| Error::io(path, e))
}
