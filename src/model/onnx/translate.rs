//! ONNX nodes to graph IR nodes: one pass in the file's (topological) order, constants
//! folded as they come, unsupported nodes collected rather than returned at the first.

use super::attrs::{
    attr_f, attr_i, attr_ints, attr_s, constant, path_name, resolve_shape, transpose,
};
use super::consts::{self, Const, Data};
use super::layers::id_of;
use super::proto::{
    tensor_shape_proto::dimension::Value as Dim, type_proto::Value as Type, GraphProto, NodeProto,
};
use crate::model::graph::{Act, Conv2d, Graph, NodeId, Op, Shape};
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
pub(super) enum Val {
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
pub(super) enum Why {
    /// The engine does not run this (op or attributes); the text says what, if not the op.
    Unsupported(String),
    /// The file is inconsistent.
    File(String),
}

pub(super) type Step = std::result::Result<Val, Why>;

/// The `rank` of a channels-last view of an NCHW node (ConvNeXt's
/// `Transpose -> LayerNormalization / MatMul -> Transpose`): its ops run on the NCHW tensor,
/// layer norm and matrix products over the channels.
pub(super) const NHWC: usize = 44;

/// Largest dimension, window, stride or padding accepted, and largest tensor (values per
/// sample): far beyond any GPU binding, small enough that no size product overflows.
pub(super) const MAX_DIM: usize = 1 << 20;
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

pub(super) fn unsupported(what: impl Into<String>) -> Why {
    Why::Unsupported(what.into())
}

pub(super) struct Tx<'a> {
    pub(super) g: Graph,
    pub(super) weights: Weights,
    pub(super) vals: HashMap<&'a str, Val>,
    /// How many nodes read each value (bias folding needs a value read once).
    pub(super) uses: HashMap<&'a str, usize>,
    pub(super) names: HashSet<String>,
    /// The batch of the file's input (1 where symbolic): the first dimension of every
    /// runtime tensor when shapes are folded.
    pub(super) batch: i64,
    pub(super) opset: i64,
    pub(super) unsupported: Vec<String>,
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

impl<'a> Tx<'a> {
    pub(super) fn node(&mut self, n: &'a NodeProto) -> std::result::Result<(), Fail> {
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
    pub(super) fn name_for(&mut self, n: &NodeProto, weight: Option<&str>) -> String {
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

    pub(super) fn push(
        &mut self,
        n: &NodeProto,
        weight: Option<&str>,
        op: Op,
        inputs: &[NodeId],
    ) -> Step {
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

    pub(super) fn param(
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
    pub(super) fn dims(&self, id: NodeId, rank: usize) -> Vec<i64> {
        let s = self.g.nodes[id].shape;
        if rank == 2 {
            vec![self.batch, s.numel() as i64]
        } else if rank == NHWC {
            vec![self.batch, s.h as i64, s.w as i64, s.c as i64]
        } else {
            vec![self.batch, s.c as i64, s.h as i64, s.w as i64]
        }
    }

    pub(super) fn op(&mut self, n: &'a NodeProto, op: &str, ins: &[Option<Val>]) -> Step {
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

    pub(super) fn unary(&mut self, n: &NodeProto, x: Option<(NodeId, usize)>, op: Op) -> Step {
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
    pub(super) fn fold(&mut self, n: &NodeProto, op: &str, ins: &[Option<Val>]) -> Step {
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
}
