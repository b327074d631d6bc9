//! Reading ONNX attributes and constants, naming nodes, and small array helpers of the
//! translation.

use super::consts::{self, Const, Data};
use super::proto::NodeProto;
use super::translate::{unsupported, Step, Val, Why, MAX_DIM};
use std::path::Path;

pub(super) fn attr<'n>(n: &'n NodeProto, key: &str) -> Option<&'n super::proto::AttributeProto> {
    n.attribute.iter().find(|a| a.name() == key)
}
pub(super) fn attr_i(n: &NodeProto, key: &str, default: i64) -> i64 {
    attr(n, key).and_then(|a| a.i).unwrap_or(default)
}
pub(super) fn attr_f(n: &NodeProto, key: &str) -> Option<f32> {
    attr(n, key).and_then(|a| a.f)
}
pub(super) fn attr_ints(n: &NodeProto, key: &str) -> Option<Vec<i64>> {
    attr(n, key).map(|a| a.ints.clone())
}
pub(super) fn attr_s(n: &NodeProto, key: &str) -> String {
    attr(n, key)
        .and_then(|a| a.s.as_ref())
        .map(|s| String::from_utf8_lossy(s).to_string())
        .unwrap_or_default()
}

/// A module path from an ONNX node name: `/layer1/layer1.0/conv1/Conv` gives
/// `layer1.0.conv1` (each segment extends the last when it starts with it, the trailing op
/// type is dropped), `node_relu_1` gives `relu_1`.
pub(super) fn path_name(node: &str, op: &str) -> String {
    let mut segs: Vec<&str> = node.split('/').filter(|s| !s.is_empty()).collect();
    if segs.len() > 1 && segs.last().is_some_and(|s| s.starts_with(op)) {
        segs.pop();
    }
    // A segment that extends the previous one (`downsample` then `downsample.0`) replaces it.
    let mut acc = String::new();
    let mut prev = "";
    for s in segs {
        if !prev.is_empty() && s.starts_with(&format!("{prev}.")) {
            acc.truncate(acc.len() - prev.len());
            acc.push_str(s);
        } else if acc.is_empty() {
            acc = s.to_string();
        } else {
            acc = format!("{acc}.{s}");
        }
        prev = s;
    }
    let acc = acc.strip_prefix("node_").unwrap_or(&acc).to_string();
    acc.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub(super) fn pair(v: Option<Vec<i64>>, default: usize) -> Option<[usize; 2]> {
    match v.as_deref() {
        None if default > 0 => Some([default, default]),
        Some([a, b]) if (1..=MAX_DIM as i64).contains(a) && (1..=MAX_DIM as i64).contains(b) => {
            Some([*a as usize, *b as usize])
        }
        _ => None,
    }
}

/// `m x n` row-major to `n x m`.
pub(super) fn transpose(v: &[f32], m: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0.0; v.len()];
    for i in 0..m {
        for j in 0..n {
            out[j * m + i] = v[i * n + j];
        }
    }
    out
}

/// `Reshape`'s target for a tensor of `cur` dimensions: 0 copies the dimension, -1 takes
/// what is left.
pub(super) fn resolve_shape(cur: &[i64], shape: &[i64]) -> std::result::Result<Vec<i64>, String> {
    let product = |v: &[i64]| {
        v.iter()
            .try_fold(1i64, |a, &d| a.checked_mul(d))
            .ok_or_else(|| format!("Reshape of {cur:?} to {shape:?}: sizes overflow"))
    };
    let total = product(cur)?;
    let mut out: Vec<i64> = shape
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            if d == 0 {
                cur.get(i).copied().unwrap_or(0)
            } else {
                d
            }
        })
        .collect();
    let known = product(&out.iter().copied().filter(|&d| d != -1).collect::<Vec<_>>())?;
    let holes = out.iter().filter(|&&d| d == -1).count();
    if holes > 1 || out.iter().any(|&d| d < -1) {
        return Err(format!("Reshape to {shape:?}"));
    }
    if holes == 1 {
        if known == 0 || total % known != 0 {
            return Err(format!("Reshape of {cur:?} to {shape:?}"));
        }
        for d in out.iter_mut().filter(|d| **d == -1) {
            *d = total / known;
        }
    } else if known != total {
        return Err(format!("Reshape of {cur:?} to {shape:?}"));
    }
    Ok(out)
}

/// A `Constant` node's value.
pub(super) fn constant(n: &NodeProto) -> Step {
    if let Some(t) = attr(n, "value").and_then(|a| a.t.as_ref()) {
        // Inline tensors only: a Constant's external data has no folder to come from here.
        return consts::decode(t, Path::new("."))
            .map(Val::Const)
            .map_err(Why::File);
    }
    if let Some(f) = attr_f(n, "value_float") {
        return Ok(Val::Const(Const {
            dims: vec![],
            data: Data::F32(vec![f]),
        }));
    }
    if let Some(a) = attr(n, "value_floats") {
        return Ok(Val::Const(Const {
            dims: vec![a.floats.len()],
            data: Data::F32(a.floats.clone()),
        }));
    }
    if let Some(i) = attr(n, "value_int").and_then(|a| a.i) {
        return Ok(Val::Const(Const {
            dims: vec![],
            data: Data::I64(vec![i]),
        }));
    }
    if let Some(v) = attr_ints(n, "value_ints") {
        return Ok(Val::Const(Const::ints(v)));
    }
    Err(unsupported(
        "a value other than a tensor, float(s) or int(s)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_module_paths() {
        assert_eq!(
            path_name("/layer1/layer1.0/conv1/Conv", "Conv"),
            "layer1.0.conv1"
        );
        assert_eq!(path_name("/stem/stem.2/Clip", "Clip"), "stem.2");
        assert_eq!(
            path_name("/layer2/layer2.0/downsample/downsample.0/Conv", "Conv"),
            "layer2.0.downsample.0"
        );
        assert_eq!(path_name("/relu_1/Relu", "Relu"), "relu_1");
        assert_eq!(path_name("/Add_1", "Add"), "Add_1");
        assert_eq!(path_name("node_relu_1", "Relu"), "relu_1");
        assert_eq!(path_name("a b/c", "X"), "a_b.c");
    }

    #[test]
    fn reshape_targets_resolve() {
        assert_eq!(resolve_shape(&[2, 8, 1, 1], &[2, -1]).unwrap(), vec![2, 8]);
        assert_eq!(resolve_shape(&[2, 8, 1, 1], &[0, -1]).unwrap(), vec![2, 8]);
        assert!(resolve_shape(&[2, 8], &[3, -1]).is_err());
        assert!(resolve_shape(&[2, 8], &[-1, -1]).is_err());
    }
}
