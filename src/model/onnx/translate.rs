//! ONNX nodes to graph IR nodes: one pass in the file's (topological) order, constants
//! folded as they come, unsupported nodes collected rather than returned at the first.

use super::consts::{self, Const, Data};
use super::proto::{
    tensor_shape_proto::dimension::Value as Dim, type_proto::Value as Type, GraphProto, NodeProto,
};
use crate::model::graph::{Act, Conv2d, Graph, Linear, NodeId, Op, Pool, Shape};
use crate::model::Weights;
use crate::tensor::Tensor;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Why an import failed: a malformed file (one message), or nodes the engine cannot run
/// (`name (OpType: why)` each).
pub enum Fail {
    File(String),
    Unsupported(Vec<String>),
}

/// What one ONNX value is at import time.
#[derive(Clone, Debug)]
enum Val {
    /// An IR node's output, as an ONNX tensor of rank 4 (NCHW), 2 (N x features) or
    /// [`NHWC`] (the same NCHW tensor seen through a transpose to channels last).
    Node { id: NodeId, rank: usize },
    /// A step of torch's exact GELU, `x / sqrt2 -> Erf -> + 1 -> x * . -> * 0.5`, on the
    /// node `x` (`rank` as above): fused into one activation when the pattern completes.
    Gelu { id: NodeId, rank: usize, step: u8 },
    /// A constant.
    Const(Const),
    /// The output of an unsupported node (its consumers are skipped, not reported).
    Bad,
}

/// Why one node could not be translated.
enum Why {
    /// The engine does not run this (op or attributes); the text says what, if not the op.
    Unsupported(String),
    /// The file is inconsistent.
    File(String),
}

type Step = std::result::Result<Val, Why>;

/// The `rank` of a channels-last view of an NCHW node (ConvNeXt's
/// `Transpose -> LayerNormalization / MatMul -> Transpose`): its ops run on the NCHW tensor,
/// layer norm and matrix products over the channels.
const NHWC: usize = 44;

/// Largest dimension, window, stride or padding accepted, and largest tensor (values per
/// sample): far beyond any GPU binding, small enough that no size product overflows.
const MAX_DIM: usize = 1 << 20;
const MAX_ELEMENTS: usize = 1 << 31;

/// Op types the importer translates (for some attributes; downstream of an unsupported
/// node, an op not listed here is reported too, so one error lists every missing op).
const SUPPORTED: &[&str] = &[
    "Identity",
    "Dropout",
    "Constant",
    "Shape",
    "Gather",
    "Concat",
    "Unsqueeze",
    "Squeeze",
    "Slice",
    "Cast",
    "Sub",
    "Mul",
    "Div",
    "Conv",
    "Relu",
    "Clip",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "ReduceMean",
    "Flatten",
    "Reshape",
    "Gemm",
    "MatMul",
    "Add",
    "BatchNormalization",
    "Sigmoid",
    "HardSigmoid",
    "HardSwish",
    "Gelu",
    "Erf",
    "Transpose",
    "LayerNormalization",
];

fn unsupported(what: impl Into<String>) -> Why {
    Why::Unsupported(what.into())
}

struct Tx<'a> {
    g: Graph,
    weights: Weights,
    vals: HashMap<&'a str, Val>,
    /// How many nodes read each value (bias folding needs a value read once).
    uses: HashMap<&'a str, usize>,
    names: HashSet<String>,
    /// The batch of the file's input (1 where symbolic): the first dimension of every
    /// runtime tensor when shapes are folded.
    batch: i64,
    opset: i64,
    unsupported: Vec<String>,
}

/// Translates `graph` (named `name`, opset `opset`, external data under `dir`).
pub fn translate(
    graph: &GraphProto,
    name: &str,
    opset: i64,
    dir: &Path,
    input: Option<Shape>,
) -> std::result::Result<(Graph, Weights), Fail> {
    let file = |m: String| Fail::File(m);
    let mut vals: HashMap<&str, Val> = HashMap::new();
    for t in &graph.initializer {
        let c = consts::decode(t, dir).map_err(file)?;
        vals.insert(t.name(), Val::Const(c));
    }
    let inputs: Vec<_> = graph
        .input
        .iter()
        .filter(|i| !vals.contains_key(i.name()))
        .collect();
    let [x] = inputs.as_slice() else {
        return Err(file(format!(
            "{} graph inputs ({}); splitbench runs models with one image input",
            inputs.len(),
            inputs
                .iter()
                .map(|i| i.name())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let (batch, shape) = input_shape(x, input).map_err(file)?;
    let mut t = Tx {
        g: Graph::new(name, shape),
        weights: Weights::new(),
        vals,
        uses: HashMap::new(),
        names: HashSet::from(["input".to_string()]),
        batch,
        opset,
        unsupported: Vec::new(),
    };
    t.vals.insert(x.name(), Val::Node { id: 0, rank: 4 });
    for n in &graph.node {
        for i in n.input.iter().filter(|i| !i.is_empty()) {
            *t.uses.entry(i.as_str()).or_default() += 1;
        }
    }
    for n in &graph.node {
        t.node(n)?;
    }
    if !t.unsupported.is_empty() {
        return Err(Fail::Unsupported(t.unsupported));
    }
    let out = graph
        .output
        .first()
        .ok_or_else(|| file("no graph output".into()))?;
    if graph.output.len() > 1 {
        return Err(file(format!(
            "{} graph outputs; splitbench runs models with one output",
            graph.output.len()
        )));
    }
    match t.vals.get(out.name()) {
        Some(Val::Node { id, .. }) if *id == t.g.output() && *id > 0 => Ok((t.g, t.weights)),
        Some(Val::Node { .. }) => Err(file(format!(
            "the output '{}' is not computed last (or is the input itself)",
            out.name()
        ))),
        _ => Err(file(format!(
            "the output '{}' is a constant or not computed",
            out.name()
        ))),
    }
}

/// The batch and per-sample shape of the input: the file's dimensions, with `input` for
/// symbolic ones (and checked against fixed ones).
fn input_shape(
    x: &super::proto::ValueInfoProto,
    input: Option<Shape>,
) -> std::result::Result<(i64, Shape), String> {
    let name = x.name();
    let Some(Type::TensorType(tt)) = x.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
        return Err(format!("input '{name}' is not a tensor"));
    };
    if tt.elem_type() != 1 {
        return Err(format!(
            "input '{name}' has element type {}; splitbench feeds f32 images",
            tt.elem_type()
        ));
    }
    let dims: Vec<Option<i64>> = tt
        .shape
        .as_ref()
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match d.value {
                    Some(Dim::DimValue(v)) if v > 0 => Some(v),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if dims.len() != 4 {
        return Err(format!(
            "input '{name}' has rank {}; splitbench runs NCHW image models (rank 4)",
            dims.len()
        ));
    }
    let given = input.map(|s| [s.c, s.h, s.w]);
    let mut chw = [0usize; 3];
    for (k, axis) in ["channels", "height", "width"].iter().enumerate() {
        chw[k] = match (dims[k + 1], given) {
            (Some(v), Some(g)) if v as usize != g[k] => {
                return Err(format!(
                    "input '{name}' has {axis} {v}, but --input gives {}",
                    g[k]
                ))
            }
            (Some(v), _) => v as usize,
            (None, Some(g)) => g[k],
            (None, None) => {
                return Err(format!(
                    "input '{name}' has a symbolic {axis}: pass --input CxHxW"
                ))
            }
        };
    }
    // Bounds that keep every later size product far from overflow.
    if chw.iter().any(|&d| d > MAX_DIM) || chw.iter().product::<usize>() > MAX_ELEMENTS {
        return Err(format!(
            "input '{name}' of {chw:?} is beyond what splitbench runs"
        ));
    }
    let batch = dims[0].unwrap_or(1);
    if batch as usize > MAX_DIM {
        return Err(format!("input '{name}' has batch {batch}"));
    }
    Ok((batch, Shape::new(chw[0], chw[1], chw[2])))
}

// Attributes.
fn attr<'n>(n: &'n NodeProto, key: &str) -> Option<&'n super::proto::AttributeProto> {
    n.attribute.iter().find(|a| a.name() == key)
}
fn attr_i(n: &NodeProto, key: &str, default: i64) -> i64 {
    attr(n, key).and_then(|a| a.i).unwrap_or(default)
}
fn attr_f(n: &NodeProto, key: &str) -> Option<f32> {
    attr(n, key).and_then(|a| a.f)
}
fn attr_ints(n: &NodeProto, key: &str) -> Option<Vec<i64>> {
    attr(n, key).map(|a| a.ints.clone())
}
fn attr_s(n: &NodeProto, key: &str) -> String {
    attr(n, key)
        .and_then(|a| a.s.as_ref())
        .map(|s| String::from_utf8_lossy(s).to_string())
        .unwrap_or_default()
}

/// A module path from an ONNX node name: `/layer1/layer1.0/conv1/Conv` gives
/// `layer1.0.conv1` (each segment extends the last when it starts with it, the trailing op
/// type is dropped), `node_relu_1` gives `relu_1`.
fn path_name(node: &str, op: &str) -> String {
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

impl<'a> Tx<'a> {
    fn node(&mut self, n: &'a NodeProto) -> std::result::Result<(), Fail> {
        let op = n.op_type();
        let label = if n.name().is_empty() {
            n.output.first().map(String::as_str).unwrap_or("?")
        } else {
            n.name()
        };
        let ins: Vec<Option<Val>> = n
            .input
            .iter()
            .map(|i| {
                if i.is_empty() {
                    Ok(None)
                } else {
                    self.vals.get(i.as_str()).cloned().map(Some).ok_or_else(|| {
                        Fail::File(format!(
                            "node {label} ({op}) reads '{i}', which no node makes"
                        ))
                    })
                }
            })
            .collect::<std::result::Result<_, _>>()?;
        let bad_input = ins.iter().any(|v| matches!(v, Some(Val::Bad)));
        let gelu_step = ins.iter().any(|v| matches!(v, Some(Val::Gelu { .. })));
        let result = if gelu_step && !matches!(op, "Erf" | "Add" | "Mul") {
            Err(unsupported("reads part of an unfinished GELU pattern"))
        } else if bad_input && SUPPORTED.contains(&op) {
            Ok(Val::Bad)
        } else if bad_input {
            Err(unsupported(""))
        } else if !(n.domain().is_empty() || n.domain() == "ai.onnx") {
            Err(unsupported(format!("domain {}", n.domain())))
        } else {
            self.op(n, op, &ins)
        };
        let val = match result {
            Ok(v) => v,
            Err(Why::File(m)) => return Err(Fail::File(format!("node {label} ({op}): {m}"))),
            Err(Why::Unsupported(why)) => {
                self.unsupported.push(if why.is_empty() {
                    format!("{label} ({op})")
                } else {
                    format!("{label} ({op}: {why})")
                });
                Val::Bad
            }
        };
        if let Some(o) = n.output.first() {
            self.vals.insert(o.as_str(), val);
        }
        Ok(())
    }

    /// A unique IR name for `n`: its weight's module path, else its own path.
    fn name_for(&mut self, n: &NodeProto, weight: Option<&str>) -> String {
        let from_weight = weight
            .and_then(|w| w.strip_suffix(".weight"))
            .filter(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            })
            .map(String::from);
        let mut base = from_weight.unwrap_or_else(|| path_name(n.name(), n.op_type()));
        if base.is_empty() || base.chars().all(|c| c == '_' || c == '.') {
            base = n.op_type().to_ascii_lowercase();
        }
        let mut name = base.clone();
        let mut k = 2;
        while !self.names.insert(name.clone()) {
            name = format!("{base}_{k}");
            k += 1;
        }
        name
    }

    fn push(&mut self, n: &NodeProto, weight: Option<&str>, op: Op, inputs: &[NodeId]) -> Step {
        let name = self.name_for(n, weight);
        let id = self
            .g
            .push(name, op, inputs)
            .map_err(|e| Why::File(e.to_string()))?;
        let rank = match op {
            Op::Flatten | Op::Linear(_) => 2,
            _ => 4,
        };
        Ok(Val::Node { id, rank })
    }

    fn param(
        &mut self,
        id: NodeId,
        suffix: &str,
        dims: Vec<usize>,
        data: Vec<f32>,
    ) -> std::result::Result<(), Why> {
        let key = format!("{}.{suffix}", self.g.nodes[id].name);
        let t = Tensor::new(dims, data).map_err(|e| Why::File(e.to_string()))?;
        self.weights.insert(key, t);
        Ok(())
    }

    /// The ONNX dimensions of a runtime value.
    fn dims(&self, id: NodeId, rank: usize) -> Vec<i64> {
        let s = self.g.nodes[id].shape;
        if rank == 2 {
            vec![self.batch, s.numel() as i64]
        } else if rank == NHWC {
            vec![self.batch, s.h as i64, s.w as i64, s.c as i64]
        } else {
            vec![self.batch, s.c as i64, s.h as i64, s.w as i64]
        }
    }

    fn op(&mut self, n: &'a NodeProto, op: &str, ins: &[Option<Val>]) -> Step {
        let arg = |k: usize| ins.get(k).cloned().flatten();
        let konst = |k: usize| match arg(k) {
            Some(Val::Const(c)) => Some(c),
            _ => None,
        };
        let all_const = !ins.is_empty() && ins.iter().flatten().all(|v| matches!(v, Val::Const(_)));
        let x = match arg(0) {
            Some(Val::Node { id, rank }) => Some((id, rank)),
            _ => None,
        };
        let weight_name = n.input.get(1).map(String::as_str);
        match op {
            "Identity" | "Dropout" => arg(0).ok_or_else(|| Why::File("no input".into())),
            "Constant" => constant(n),
            "Shape" => {
                let dims = match (x, konst(0)) {
                    (Some((id, rank)), _) => self.dims(id, rank),
                    (_, Some(c)) => c.dims.iter().map(|&d| d as i64).collect(),
                    _ => return Err(Why::File("no input".into())),
                };
                let r = dims.len() as i64;
                let clampi = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r) as usize;
                let (s, e) = (clampi(attr_i(n, "start", 0)), clampi(attr_i(n, "end", r)));
                Ok(Val::Const(Const::ints(dims[s..e.max(s)].to_vec())))
            }
            _ if all_const => self.fold(n, op, ins),
            "Conv" => self.conv(n, x, konst(1), konst(2), weight_name),
            "Relu" => self.unary(n, x, Op::Relu),
            "Clip" => {
                let (lo, hi) = if self.opset >= 11 {
                    (
                        konst(1).and_then(|c| c.scalar_f32()),
                        konst(2).and_then(|c| c.scalar_f32()),
                    )
                } else {
                    (attr_f(n, "min"), attr_f(n, "max"))
                };
                match (lo, hi) {
                    (Some(l), Some(h)) if l == 0.0 && h == 6.0 => self.unary(n, x, Op::Relu6),
                    (Some(l), h) if l == 0.0 && h.is_none_or(|h| h == f32::INFINITY) => {
                        self.unary(n, x, Op::Relu)
                    }
                    (l, h) => {
                        let lo = l.unwrap_or(f32::NEG_INFINITY);
                        let hi = h.unwrap_or(f32::INFINITY);
                        if lo.is_nan() || hi.is_nan() || lo > hi {
                            return Err(unsupported(format!("bounds {lo}..{hi}")));
                        }
                        self.unary(n, x, Op::Clip { lo, hi })
                    }
                }
            }
            "MaxPool" | "AveragePool" => self.pool(n, op, x),
            "GlobalAveragePool" => self.unary(n, x, Op::AdaptiveAvgPool { h: 1, w: 1 }),
            "ReduceMean" => {
                let axes = if self.opset >= 18 {
                    konst(1).map(|c| c.as_ints())
                } else {
                    attr_ints(n, "axes")
                };
                let mut axes: Vec<usize> = axes
                    .unwrap_or_default()
                    .iter()
                    .map(|&a| consts::axis(a, 4))
                    .collect::<std::result::Result<_, _>>()
                    .map_err(Why::File)?;
                axes.sort_unstable();
                if axes != [2, 3] || x.is_none_or(|(_, r)| r != 4) {
                    return Err(unsupported("only the mean over H and W of an NCHW tensor"));
                }
                let v = self.unary(n, x, Op::AdaptiveAvgPool { h: 1, w: 1 })?;
                Ok(match (v, attr_i(n, "keepdims", 1)) {
                    (Val::Node { id, .. }, 0) => Val::Node { id, rank: 2 },
                    (v, _) => v,
                })
            }
            "Flatten" => match (x, attr_i(n, "axis", 1)) {
                (Some((_, 2)), 1 | -1) => Ok(arg(0).unwrap()),
                (Some((id, 4)), 1 | -3) => self.push(n, None, Op::Flatten, &[id]),
                _ => Err(unsupported("only Flatten from axis 1")),
            },
            "Reshape" => self.reshape(n, x, konst(1)),
            "Gemm" => self.gemm(n, x, konst(1), konst(2), weight_name),
            "MatMul" => match (x, konst(1)) {
                (Some((id, 2)), Some(b)) if b.dims.len() == 2 => {
                    let (k, m) = (b.dims[0], b.dims[1]);
                    let w = transpose(&b.as_f32(), k, m);
                    self.linear(n, id, w, m, k, None, weight_name)
                }
                (Some((id, NHWC)), Some(b)) if b.dims.len() == 2 => {
                    // Channels last times a matrix: a 1x1 convolution of the NCHW tensor.
                    let (k, m) = (b.dims[0], b.dims[1]);
                    let conv = Conv2d::new(k, m, 1, 1, 0, 1);
                    let v = self.push(n, weight_name, Op::Conv2d(conv), &[id])?;
                    self.param(
                        id_of(&v),
                        "weight",
                        vec![m, k, 1, 1],
                        transpose(&b.as_f32(), k, m),
                    )?;
                    Ok(Val::Node {
                        id: id_of(&v),
                        rank: NHWC,
                    })
                }
                _ => Err(unsupported(
                    "only an N x K tensor times a constant K x M matrix",
                )),
            },
            "Add" => self.add(n, ins),
            "Mul" | "Div" => self.mul(n, op, ins),
            "Concat" => {
                let ids: Option<Vec<NodeId>> = ins
                    .iter()
                    .map(|v| match v {
                        Some(Val::Node { id, rank: 4 }) => Some(*id),
                        _ => None,
                    })
                    .collect();
                match (ids, attr_i(n, "axis", 0)) {
                    (Some(ids), 1 | -3) if ids.len() >= 2 => self.push(n, None, Op::Concat, &ids),
                    (Some(ids), 1 | -3) if ids.len() == 1 => {
                        arg(0).ok_or_else(|| Why::File("no input".into()))
                    }
                    _ => Err(unsupported("only NCHW tensors along the channels")),
                }
            }
            // The dynamo exporter's `as_strided` of a fully flattened NCHW tensor back to
            // its own shape: every index in order, an identity.
            "Gather" => match (x, konst(1)) {
                (Some((id, 1)), Some(idx)) => {
                    let s = self.g.nodes[id].shape;
                    let in_order = idx
                        .as_ints()
                        .iter()
                        .enumerate()
                        .all(|(i, &v)| v == i as i64);
                    if in_order && idx.dims == [1, s.c, s.h, s.w] && attr_i(n, "axis", 0) == 0 {
                        Ok(Val::Node { id, rank: 4 })
                    } else {
                        Err(unsupported(
                            "only the identity as_strided of a flattened tensor",
                        ))
                    }
                }
                _ => Err(unsupported("of a tensor (only of constants)")),
            },
            "Erf" => match arg(0) {
                Some(Val::Gelu { id, rank, step: 1 }) => Ok(Val::Gelu { id, rank, step: 2 }),
                _ => Err(unsupported(
                    "only inside GELU's x / sqrt2 -> Erf -> + 1 pattern",
                )),
            },
            "BatchNormalization" => self.batch_norm(n, x, ins),
            "Sigmoid" => self.unary(n, x, Op::Activation(Act::Sigmoid)),
            "HardSwish" => self.unary(n, x, Op::Activation(Act::HardSwish)),
            "HardSigmoid" => {
                let (a, b) = (
                    attr_f(n, "alpha").unwrap_or(0.2),
                    attr_f(n, "beta").unwrap_or(0.5),
                );
                if (a - 1.0 / 6.0).abs() > 1e-6 || (b - 0.5).abs() > 1e-6 {
                    return Err(unsupported(format!(
                        "alpha {a}, beta {b} (only torch's 1/6, 1/2)"
                    )));
                }
                self.unary(n, x, Op::Activation(Act::HardSigmoid))
            }
            "Gelu" => match attr_s(n, "approximate").as_str() {
                "" | "none" => self.unary(n, x, Op::Activation(Act::Gelu)),
                a => Err(unsupported(format!("approximate={a}"))),
            },
            "Transpose" => {
                let perm = attr_ints(n, "perm").unwrap_or_default();
                match (x, perm.as_slice()) {
                    (Some((id, 4)), [0, 2, 3, 1]) => Ok(Val::Node { id, rank: NHWC }),
                    (Some((id, NHWC)), [0, 3, 1, 2]) => Ok(Val::Node { id, rank: 4 }),
                    _ => Err(unsupported(format!("perm {perm:?} (only NCHW <-> NHWC)"))),
                }
            }
            "LayerNormalization" => {
                let (Some((id, NHWC)), Some(w)) = (x, konst(1)) else {
                    return Err(unsupported("only over the channels (last axis of NHWC)"));
                };
                if !matches!(attr_i(n, "axis", -1), -1 | 3) {
                    return Err(unsupported("only over the channels (last axis of NHWC)"));
                }
                let c = self.g.nodes[id].shape.c;
                let b = konst(2).map(|b| b.as_f32()).unwrap_or_else(|| vec![0.0; c]);
                if w.len() != c || b.len() != c {
                    return Err(Why::File(format!(
                        "scale/bias of {} values for {c} channels",
                        w.len()
                    )));
                }
                let eps = attr_f(n, "epsilon").unwrap_or(1e-5);
                let v = self.push(
                    n,
                    n.input.get(1).map(String::as_str),
                    Op::LayerNorm { c, eps },
                    &[id],
                )?;
                self.param(id_of(&v), "weight", vec![c], w.as_f32())?;
                self.param(id_of(&v), "bias", vec![c], b)?;
                Ok(Val::Node {
                    id: id_of(&v),
                    rank: NHWC,
                })
            }
            _ => Err(unsupported("")),
        }
    }

    fn unary(&mut self, n: &NodeProto, x: Option<(NodeId, usize)>, op: Op) -> Step {
        let (id, rank) = x.ok_or_else(|| Why::File("its input is not a tensor".into()))?;
        if matches!(op, Op::AdaptiveAvgPool { .. }) && rank != 4 {
            return Err(unsupported("global pooling of a rank-2 tensor"));
        }
        match self.push(n, None, op, &[id])? {
            Val::Node { id, .. } if op.is_view() || matches!(op, Op::AdaptiveAvgPool { .. }) => {
                Ok(Val::Node { id, rank: 4 })
            }
            Val::Node { id, .. } => Ok(Val::Node { id, rank }),
            v => Ok(v),
        }
    }

    /// Constant folding of shape plumbing.
    fn fold(&mut self, n: &NodeProto, op: &str, ins: &[Option<Val>]) -> Step {
        let c: Vec<Option<&Const>> = ins
            .iter()
            .map(|v| match v {
                Some(Val::Const(c)) => Some(c),
                _ => None,
            })
            .collect();
        let need = |k: usize| {
            c.get(k)
                .copied()
                .flatten()
                .ok_or_else(|| Why::File(format!("input {k} missing")))
        };
        let ints = |k: usize| c.get(k).copied().flatten().map(|c| c.as_ints());
        let r = match op {
            "Gather" => consts::gather(need(0)?, need(1)?, attr_i(n, "axis", 0)),
            "Concat" => {
                let parts: Vec<&Const> = c.iter().flatten().copied().collect();
                consts::concat(&parts, attr_i(n, "axis", 0))
            }
            "Unsqueeze" => {
                let axes = if self.opset >= 13 {
                    ints(1)
                } else {
                    attr_ints(n, "axes")
                };
                consts::unsqueeze(need(0)?, &axes.unwrap_or_default())
            }
            "Squeeze" => {
                let axes = if self.opset >= 13 {
                    ints(1)
                } else {
                    attr_ints(n, "axes")
                };
                consts::squeeze(need(0)?, axes.as_deref())
            }
            "Slice" => {
                let (s, e, a, st) = if self.opset >= 10 {
                    (ints(1), ints(2), ints(3), ints(4))
                } else {
                    (
                        attr_ints(n, "starts"),
                        attr_ints(n, "ends"),
                        attr_ints(n, "axes"),
                        None,
                    )
                };
                let (s, e) = (s.unwrap_or_default(), e.unwrap_or_default());
                consts::slice(need(0)?, &s, &e, a.as_deref(), st.as_deref())
            }
            "Cast" => {
                let x = need(0)?;
                let data = match attr_i(n, "to", 1) {
                    1 | 10 | 11 | 16 => Data::F32(x.as_f32()),
                    _ => Data::I64(x.as_ints()),
                };
                Ok(Const {
                    dims: x.dims.clone(),
                    data,
                })
            }
            "Add" | "Sub" | "Mul" | "Div" => consts::binary(op, need(0)?, need(1)?),
            "Reshape" => {
                let x = need(0)?;
                let dims = resolve_shape(
                    &x.dims.iter().map(|&d| d as i64).collect::<Vec<_>>(),
                    &need(1)?.as_ints(),
                )
                .map_err(Why::File)?;
                Ok(Const {
                    dims: dims.iter().map(|&d| d as usize).collect(),
                    data: x.data.clone(),
                })
            }
            "Identity" => Ok(need(0)?.clone()),
            _ => return Err(unsupported("on constants")),
        };
        r.map(Val::Const).map_err(Why::File)
    }

    fn conv(
        &mut self,
        n: &NodeProto,
        x: Option<(NodeId, usize)>,
        w: Option<Const>,
        b: Option<Const>,
        wname: Option<&str>,
    ) -> Step {
        let (Some((id, 4)), Some(w)) = (x, w) else {
            return Err(unsupported("only an NCHW tensor with constant weights"));
        };
        if w.dims.len() != 4 {
            return Err(unsupported(format!("weights of rank {}", w.dims.len())));
        }
        let s = self.g.nodes[id].shape;
        let (kh, kw) = (w.dims[2], w.dims[3]);
        let [sh, sw] = pair(attr_ints(n, "strides"), 1).ok_or_else(|| unsupported("strides"))?;
        if pair(attr_ints(n, "dilations"), 1) != Some([1, 1]) {
            return Err(unsupported("dilations other than 1"));
        }
        let (ph, pw) = self.pads(n, (s.h, s.w), (kh, kw), (sh, sw))?;
        let groups = attr_i(n, "group", 1).max(1) as usize;
        let conv = Conv2d {
            in_c: w.dims[1] * groups,
            out_c: w.dims[0],
            kernel: (kh, kw),
            stride: (sh, sw),
            padding: (ph, pw),
            groups,
            bias: b.is_some(),
            act: Default::default(),
            residual: false,
        };
        let v = self.push(n, wname, Op::Conv2d(conv), &[id])?;
        let Val::Node { id: out, .. } = v else {
            unreachable!()
        };
        self.param(out, "weight", w.dims.clone(), w.as_f32())?;
        if let Some(b) = b {
            if b.len() != conv.out_c {
                return Err(Why::File(format!(
                    "bias of {} values for {} channels",
                    b.len(),
                    conv.out_c
                )));
            }
            self.param(out, "bias", vec![conv.out_c], b.as_f32())?;
        }
        Ok(v)
    }

    /// Symmetric padding from `pads` or `auto_pad` for an input of `hw`.
    fn pads(
        &self,
        n: &NodeProto,
        hw: (usize, usize),
        k: (usize, usize),
        s: (usize, usize),
    ) -> std::result::Result<(usize, usize), Why> {
        let auto = attr_s(n, "auto_pad");
        let (t, l, b, r) = match auto.as_str() {
            "" | "NOTSET" => match attr_ints(n, "pads").as_deref() {
                None => (0, 0, 0, 0),
                Some([t, l, b, r]) => (*t, *l, *b, *r),
                Some(p) => return Err(unsupported(format!("pads {p:?}"))),
            },
            "VALID" => (0, 0, 0, 0),
            _ => {
                let total = |len: usize, k: usize, s: usize| {
                    ((len.div_ceil(s) - 1) * s + k).saturating_sub(len) as i64
                };
                let (th, tw) = (total(hw.0, k.0, s.0), total(hw.1, k.1, s.1));
                let lower = auto == "SAME_LOWER";
                let split = |t: i64| {
                    if lower {
                        (t - t / 2, t / 2)
                    } else {
                        (t / 2, t - t / 2)
                    }
                };
                let ((a, c), (bb, d)) = (split(th), split(tw));
                (a, bb, c, d)
            }
        };
        if [t, l].iter().any(|&v| v > MAX_DIM as i64) {
            return Err(unsupported(format!("padding [{t}, {l}, {b}, {r}]")));
        }
        if t != b || l != r || t < 0 || l < 0 {
            return Err(unsupported(format!(
                "asymmetric padding [{t}, {l}, {b}, {r}]"
            )));
        }
        Ok((t as usize, l as usize))
    }

    fn pool(&mut self, n: &NodeProto, op: &str, x: Option<(NodeId, usize)>) -> Step {
        let Some((id, 4)) = x else {
            return Err(unsupported("only NCHW tensors"));
        };
        let s = self.g.nodes[id].shape;
        let [kh, kw] =
            pair(attr_ints(n, "kernel_shape"), 0).ok_or_else(|| unsupported("kernel_shape"))?;
        let [sh, sw] = pair(attr_ints(n, "strides"), 1).ok_or_else(|| unsupported("strides"))?;
        if kh != kw || sh != sw {
            return Err(unsupported("non-square windows or strides"));
        }
        if pair(attr_ints(n, "dilations"), 1) != Some([1, 1]) {
            return Err(unsupported("dilations other than 1"));
        }
        let (ph, pw) = self.pads(n, (s.h, s.w), (kh, kw), (sh, sw))?;
        if ph != pw {
            return Err(unsupported("different padding along H and W"));
        }
        let floor = Pool {
            kernel: kh,
            stride: sh,
            padding: ph,
            ceil: false,
        };
        let p = Pool {
            ceil: attr_i(n, "ceil_mode", 0) != 0,
            ..floor
        };
        let partial = |len| p.out_len(len) != floor.out_len(len);
        if op == "AveragePool" && (partial(s.h) || partial(s.w)) {
            // torch divides a partial window by its clipped size; the kernels by the whole.
            return Err(unsupported("ceil_mode=1 where it adds a partial window"));
        }
        if op == "AveragePool" {
            if ph > 0 && attr_i(n, "count_include_pad", 0) == 0 {
                return Err(unsupported("count_include_pad=0 with padding"));
            }
            self.push(n, None, Op::AvgPool(p), &[id])
        } else {
            self.push(n, None, Op::MaxPool(p), &[id])
        }
    }

    fn reshape(&mut self, n: &NodeProto, x: Option<(NodeId, usize)>, shape: Option<Const>) -> Step {
        let (Some((id, rank)), Some(shape)) = (x, shape) else {
            return Err(unsupported("only a tensor to a constant shape"));
        };
        let cur = self.dims(id, rank);
        let to = resolve_shape(&cur, &shape.as_ints()).map_err(Why::File)?;
        let numel = self.g.nodes[id].shape.numel() as i64;
        if to == cur {
            Ok(Val::Node { id, rank })
        } else if self.batch == 1 && to == [numel] {
            // Fully flat (the dynamo exporter's `as_strided` at batch 1; see "Gather").
            Ok(Val::Node { id, rank: 1 })
        } else if to == [self.batch, numel] {
            if rank == 2 {
                Ok(Val::Node { id, rank })
            } else {
                self.push(n, None, Op::Flatten, &[id])
            }
        } else {
            Err(unsupported(format!(
                "to {to:?} (only flattening to [N, features])"
            )))
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn linear(
        &mut self,
        n: &NodeProto,
        id: NodeId,
        w: Vec<f32>,
        out_f: usize,
        in_f: usize,
        bias: Option<Vec<f32>>,
        wname: Option<&str>,
    ) -> Step {
        let l = Linear {
            in_f,
            out_f,
            bias: bias.is_some(),
            act: Default::default(),
        };
        let v = self.push(n, wname, Op::Linear(l), &[id])?;
        let Val::Node { id: out, .. } = v else {
            unreachable!()
        };
        self.param(out, "weight", vec![out_f, in_f], w)?;
        if let Some(b) = bias {
            self.param(out, "bias", vec![out_f], b)?;
        }
        Ok(v)
    }

    fn gemm(
        &mut self,
        n: &NodeProto,
        x: Option<(NodeId, usize)>,
        b: Option<Const>,
        c: Option<Const>,
        wname: Option<&str>,
    ) -> Step {
        let (Some((id, 2)), Some(b)) = (x, b) else {
            return Err(unsupported("only an N x K tensor times a constant matrix"));
        };
        if attr_i(n, "transA", 0) != 0 || b.dims.len() != 2 {
            return Err(unsupported("transA=1 or a non-matrix B"));
        }
        let (alpha, beta) = (
            attr_f(n, "alpha").unwrap_or(1.0),
            attr_f(n, "beta").unwrap_or(1.0),
        );
        let trans_b = attr_i(n, "transB", 0) != 0;
        let (out_f, in_f) = if trans_b {
            (b.dims[0], b.dims[1])
        } else {
            (b.dims[1], b.dims[0])
        };
        let mut w = if trans_b {
            b.as_f32()
        } else {
            transpose(&b.as_f32(), in_f, out_f)
        };
        w.iter_mut().for_each(|v| *v *= alpha);
        let bias = match c {
            None => None,
            Some(c) if c.len() == out_f => Some(c.as_f32().iter().map(|v| v * beta).collect()),
            Some(c) if c.len() == 1 => Some(vec![c.as_f32()[0] * beta; out_f]),
            Some(c) => return Err(unsupported(format!("C of shape {:?}", c.dims))),
        };
        self.linear(n, id, w, out_f, in_f, bias, wname)
    }

    fn add(&mut self, n: &NodeProto, ins: &[Option<Val>]) -> Step {
        match (
            ins.first().cloned().flatten(),
            ins.get(1).cloned().flatten(),
        ) {
            (Some(Val::Gelu { id, rank, step: 2 }), Some(Val::Const(c)))
            | (Some(Val::Const(c)), Some(Val::Gelu { id, rank, step: 2 }))
                if c.scalar_f32() == Some(1.0) =>
            {
                Ok(Val::Gelu { id, rank, step: 3 })
            }
            (Some(Val::Gelu { .. }), _) | (_, Some(Val::Gelu { .. })) => {
                Err(unsupported("an unfinished GELU pattern"))
            }
            (Some(Val::Node { id: a, rank: ra }), Some(Val::Node { id: b, rank: rb })) => {
                if ra != rb || self.g.nodes[a].shape != self.g.nodes[b].shape {
                    return Err(unsupported("broadcasting (only tensors of one shape)"));
                }
                match self.push(
                    n,
                    None,
                    Op::Add {
                        act: Default::default(),
                    },
                    &[a, b],
                )? {
                    Val::Node { id, .. } => Ok(Val::Node { id, rank: ra }),
                    v => Ok(v),
                }
            }
            (Some(Val::Node { id, rank }), Some(Val::Const(c)))
            | (Some(Val::Const(c)), Some(Val::Node { id, rank })) => {
                // A bias: fold it into the conv or linear layer (read only here) before it.
                let x_name = n
                    .input
                    .iter()
                    .find(|i| matches!(self.vals.get(i.as_str()), Some(Val::Node { .. })))
                    .map(String::as_str)
                    .unwrap_or("");
                let once = self.uses.get(x_name) == Some(&1);
                let node = &mut self.g.nodes[id];
                let channels = node.shape.c;
                let per_channel = c.len() == channels
                    && c.dims.iter().filter(|&&d| d != 1).count() <= 1
                    && (rank == 2 || rank == NHWC || c.dims.len() >= 3);
                let slot = match &mut node.op {
                    Op::Linear(l) if !l.bias => Some(&mut l.bias),
                    Op::Conv2d(cv) if !cv.bias && !cv.residual => Some(&mut cv.bias),
                    _ => None,
                };
                match slot {
                    Some(flag) if once && per_channel => {
                        *flag = true;
                        self.param(id, "bias", vec![channels], c.as_f32())?;
                        Ok(Val::Node { id, rank })
                    }
                    _ => Err(unsupported("adding a constant other than a layer's bias")),
                }
            }
            _ => Err(Why::File("needs two inputs".into())),
        }
    }

    /// `Mul` and `Div`: GELU's steps, SiLU (`x * sigmoid(x)`), gates (squeeze-excite) and
    /// products with constants (a depthwise 1x1 convolution: layer scale).
    fn mul(&mut self, n: &NodeProto, op: &str, ins: &[Option<Val>]) -> Step {
        let (a, b) = (
            ins.first().cloned().flatten(),
            ins.get(1).cloned().flatten(),
        );
        let half = |c: &Const| c.scalar_f32() == Some(0.5);
        let sqrt2 = |c: &Const| {
            c.scalar_f32()
                .is_some_and(|v| (v - std::f32::consts::SQRT_2).abs() < 1e-5)
        };
        match (a, b) {
            (Some(Val::Node { id, rank }), Some(Val::Const(c))) if op == "Div" && sqrt2(&c) => {
                Ok(Val::Gelu { id, rank, step: 1 })
            }
            (Some(Val::Node { id, rank }), Some(Val::Gelu { id: g, step: 3, .. }))
            | (Some(Val::Gelu { id: g, step: 3, .. }), Some(Val::Node { id, rank }))
                if op == "Mul" && id == g =>
            {
                Ok(Val::Gelu { id, rank, step: 4 })
            }
            (Some(Val::Gelu { id, rank, step: 4 }), Some(Val::Const(c)))
            | (Some(Val::Const(c)), Some(Val::Gelu { id, rank, step: 4 }))
                if op == "Mul" && half(&c) =>
            {
                self.unary(n, Some((id, rank)), Op::Activation(Act::Gelu))
            }
            (Some(Val::Gelu { .. }), _) | (_, Some(Val::Gelu { .. })) => {
                Err(unsupported("an unfinished GELU pattern"))
            }
            (Some(Val::Node { id: a, rank: ra }), Some(Val::Node { id: b, rank: rb }))
                if op == "Mul" =>
            {
                // SiLU: x * sigmoid(x), the sigmoid's output read only here.
                for (k, (x, s)) in [(a, b), (b, a)].into_iter().enumerate() {
                    let sig_value = n.input[1 - k].as_str();
                    let sig = &self.g.nodes[s];
                    if sig.op == Op::Activation(Act::Sigmoid)
                        && sig.inputs == [x]
                        && self.uses.get(sig_value) == Some(&1)
                    {
                        self.g.nodes[s].op = Op::Activation(Act::Silu);
                        return Ok(Val::Node { id: s, rank: ra });
                    }
                }
                let (sa, sb) = (self.g.nodes[a].shape, self.g.nodes[b].shape);
                let (big, small, rank) = if sa.numel() >= sb.numel() {
                    (a, b, ra)
                } else {
                    (b, a, rb)
                };
                match self.push(n, None, Op::Mul, &[big, small]) {
                    Ok(Val::Node { id, .. }) => Ok(Val::Node { id, rank }),
                    Ok(v) => Ok(v),
                    Err(_) => Err(unsupported(format!(
                        "broadcasting {} by {} (only one shape, or one value per channel)",
                        self.g.nodes[big].shape, self.g.nodes[small].shape
                    ))),
                }
            }
            (Some(Val::Node { id, rank }), Some(Val::Const(c)))
            | (Some(Val::Const(c)), Some(Val::Node { id, rank })) => {
                if op == "Div" && matches!(ins.first(), Some(Some(Val::Const(_)))) {
                    return Err(unsupported("a constant divided by a tensor"));
                }
                // A scalar or per-channel constant: a depthwise 1x1 convolution.
                let ch = self.g.nodes[id].shape.c;
                let per_channel = c.len() == ch
                    && c.dims.iter().filter(|&&d| d != 1).count() <= 1
                    && (rank != 4 || c.dims.len() >= 3);
                let mut v = match (c.len(), per_channel) {
                    (1, _) => vec![c.as_f32()[0]; ch],
                    (_, true) => c.as_f32(),
                    _ => return Err(unsupported(format!("by a constant of shape {:?}", c.dims))),
                };
                if op == "Div" {
                    v.iter_mut().for_each(|x| *x = 1.0 / *x);
                }
                let conv = Conv2d::new(ch, ch, 1, 1, 0, ch);
                let cname = n
                    .input
                    .iter()
                    .find(|i| matches!(self.vals.get(i.as_str()), Some(Val::Const(_))))
                    .cloned();
                let out = self.push(
                    n,
                    cname.as_deref().map(|c| format!("{c}.weight")).as_deref(),
                    Op::Conv2d(conv),
                    &[id],
                )?;
                self.param(id_of(&out), "weight", vec![ch, 1, 1, 1], v)?;
                Ok(Val::Node {
                    id: id_of(&out),
                    rank,
                })
            }
            _ => Err(unsupported("")),
        }
    }

    fn batch_norm(
        &mut self,
        n: &NodeProto,
        x: Option<(NodeId, usize)>,
        ins: &[Option<Val>],
    ) -> Step {
        let Some((id, 4)) = x else {
            return Err(unsupported("only NCHW tensors"));
        };
        if attr_i(n, "training_mode", 0) != 0 {
            return Err(unsupported("training_mode=1"));
        }
        let c = self.g.nodes[id].shape.c;
        let mut params = Vec::new();
        for k in 1..5 {
            match ins.get(k).cloned().flatten() {
                Some(Val::Const(t)) if t.len() == c => params.push(t.as_f32()),
                _ => return Err(unsupported("non-constant or mis-sized statistics")),
            }
        }
        let eps = attr_f(n, "epsilon").unwrap_or(1e-5);
        let wname = n.input.get(1).map(String::as_str);
        let after_conv = matches!(self.g.nodes[id].op, Op::Conv2d(cv) if !cv.residual)
            && n.input.first().and_then(|i| self.uses.get(i.as_str())) == Some(&1);
        if !after_conv {
            // Nothing to fold it into: a per-channel scale and shift is a depthwise 1x1
            // convolution with a bias.
            let (g, b, m, var) = (&params[0], &params[1], &params[2], &params[3]);
            let scale: Vec<f32> = (0..c).map(|i| g[i] / (var[i] + eps).sqrt()).collect();
            let shift: Vec<f32> = (0..c).map(|i| b[i] - m[i] * scale[i]).collect();
            let mut conv = Conv2d::new(c, c, 1, 1, 0, c);
            conv.bias = true;
            let v = self.push(n, wname, Op::Conv2d(conv), &[id])?;
            self.param(id_of(&v), "weight", vec![c, 1, 1, 1], scale)?;
            self.param(id_of(&v), "bias", vec![c], shift)?;
            return Ok(v);
        }
        let v = self.push(n, wname, Op::BatchNorm { c, eps }, &[id])?;
        for (suffix, p) in ["weight", "bias", "running_mean", "running_var"]
            .iter()
            .zip(params)
        {
            self.param(id_of(&v), suffix, vec![c], p)?;
        }
        Ok(v)
    }
}

fn id_of(v: &Val) -> NodeId {
    match v {
        Val::Node { id, .. } => *id,
        _ => 0,
    }
}

/// Two equal-purpose values (H and W) from an attribute, `default` for both when absent.
fn pair(v: Option<Vec<i64>>, default: usize) -> Option<[usize; 2]> {
    match v.as_deref() {
        None if default > 0 => Some([default, default]),
        Some([a, b]) if (1..=MAX_DIM as i64).contains(a) && (1..=MAX_DIM as i64).contains(b) => {
            Some([*a as usize, *b as usize])
        }
        _ => None,
    }
}

/// `m x n` row-major to `n x m`.
fn transpose(v: &[f32], m: usize, n: usize) -> Vec<f32> {
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
fn resolve_shape(cur: &[i64], shape: &[i64]) -> std::result::Result<Vec<i64>, String> {
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
fn constant(n: &NodeProto) -> Step {
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
