//! The graph IR: nodes in topological order, one output tensor per node, NCHW f32 tensors.
//!
//! Shapes are stored *per sample* (`C x H x W`); the batch size is chosen when a graph is
//! executed, so FLOPs and bytes here are per sample and scale linearly with the batch.
//! Vectors (after `Flatten` or `Linear`) are `F x 1 x 1`, which keeps the memory layout of
//! a flattened NCHW tensor unchanged.

use crate::error::{Error, Result};

/// Index of a node in [`Graph::nodes`]; also the id of the tensor the node produces.
pub type NodeId = usize;

/// Per-sample shape of a tensor: channels x height x width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Shape {
    /// Channels (or features for vectors).
    pub c: usize,
    /// Height (1 for vectors).
    pub h: usize,
    /// Width (1 for vectors).
    pub w: usize,
}

impl Shape {
    /// A `c x h x w` shape.
    pub const fn new(c: usize, h: usize, w: usize) -> Self {
        Self { c, h, w }
    }
    /// Elements per sample.
    pub const fn numel(&self) -> usize {
        self.c * self.h * self.w
    }
    /// Bytes per sample as f32.
    pub const fn bytes_f32(&self) -> usize {
        self.numel() * 4
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.c, self.h, self.w)
    }
}

/// `CxHxW` of positive integers (what `Display` writes).
impl std::str::FromStr for Shape {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let dims: Option<Vec<usize>> = s
            .split(['x', 'X'])
            .map(|d| d.trim().parse::<usize>().ok().filter(|&d| d > 0))
            .collect();
        match dims.as_deref() {
            Some(&[c, h, w]) => Ok(Shape::new(c, h, w)),
            _ => Err(format!(
                "'{s}': expected CxHxW with positive integers, e.g. 3x32x32"
            )),
        }
    }
}

/// Activation applied at the end of a fused op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize)]
pub enum Act {
    /// Identity.
    #[default]
    None,
    /// max(x, 0).
    Relu,
    /// min(max(x, 0), 6).
    Relu6,
    /// tanh(x) (the learned bottleneck's encoder output, before quantization).
    Tanh,
    /// ELU with alpha 1: x if x > 0 else exp(x) - 1 (the bottleneck's decoder).
    Elu,
    /// 1 / (1 + exp(-x)).
    Sigmoid,
    /// relu6(x + 3) / 6 (torch's `Hardsigmoid`; ONNX `HardSigmoid` with alpha 1/6).
    HardSigmoid,
    /// x * relu6(x + 3) / 6.
    HardSwish,
    /// x * sigmoid(x) (SiLU, swish).
    Silu,
    /// x * (1 + erf(x / sqrt 2)) / 2 (exact GELU).
    Gelu,
}

impl Act {
    /// Applies the activation to one value (the CPU reference semantics).
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Act::None => x,
            Act::Relu => x.max(0.0),
            Act::Relu6 => x.clamp(0.0, 6.0),
            Act::Tanh => x.tanh(),
            Act::Elu => {
                if x > 0.0 {
                    x
                } else {
                    x.exp_m1()
                }
            }
            Act::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Act::HardSigmoid => (x + 3.0).clamp(0.0, 6.0) / 6.0,
            Act::HardSwish => x * (x + 3.0).clamp(0.0, 6.0) / 6.0,
            Act::Silu => x / (1.0 + (-x).exp()),
            Act::Gelu => 0.5 * x * (1.0 + libm::erf(x as f64 / std::f64::consts::SQRT_2) as f32),
        }
    }
    /// Code shared with the shaders (`act` field of their params).
    pub const fn code(self) -> u32 {
        match self {
            Act::None => 0,
            Act::Relu => 1,
            Act::Relu6 => 2,
            Act::Tanh => 3,
            Act::Elu => 4,
            Act::Sigmoid => 5,
            Act::HardSigmoid => 6,
            Act::HardSwish => 7,
            Act::Silu => 8,
            Act::Gelu => 9,
        }
    }
}

/// 2-D convolution, optionally with fused bias, residual add and activation:
/// `y = act(conv(x) + bias + residual)`. `inputs[0]` is `x`, `inputs[1]` (when
/// `residual`) is the tensor added before the activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Conv2d {
    /// Input channels.
    pub in_c: usize,
    /// Output channels.
    pub out_c: usize,
    /// Kernel height and width.
    pub kernel: (usize, usize),
    /// Stride (height, width).
    pub stride: (usize, usize),
    /// Zero padding (height, width).
    pub padding: (usize, usize),
    /// Groups (`in_c` = `out_c` = `groups` is depthwise).
    pub groups: usize,
    /// Whether a `bias` parameter exists.
    pub bias: bool,
    /// Activation applied last.
    pub act: Act,
    /// Whether `inputs[1]` is added before the activation.
    pub residual: bool,
}

impl Conv2d {
    /// A plain conv: no bias, no activation, no residual.
    pub fn new(
        in_c: usize,
        out_c: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        groups: usize,
    ) -> Self {
        Self {
            in_c,
            out_c,
            kernel: (kernel, kernel),
            stride: (stride, stride),
            padding: (padding, padding),
            groups,
            bias: false,
            act: Act::None,
            residual: false,
        }
    }
    /// Whether every group has exactly one input and one output channel.
    pub fn is_depthwise(&self) -> bool {
        self.groups > 1 && self.groups == self.in_c && self.groups == self.out_c
    }
    /// Whether this is a 1x1, stride-1, unpadded, ungrouped conv (a plain GEMM).
    pub fn is_pointwise(&self) -> bool {
        self.kernel == (1, 1) && self.stride == (1, 1) && self.padding == (0, 0) && self.groups == 1
    }
    /// Weight shape `[out_c, in_c / groups, kh, kw]`.
    pub fn weight_shape(&self) -> Vec<usize> {
        vec![
            self.out_c,
            self.in_c / self.groups,
            self.kernel.0,
            self.kernel.1,
        ]
    }
    /// Output spatial size for an input of `h x w`.
    pub fn out_hw(&self, h: usize, w: usize) -> Option<(usize, usize)> {
        let oh = (h + 2 * self.padding.0).checked_sub(self.kernel.0)? / self.stride.0 + 1;
        let ow = (w + 2 * self.padding.1).checked_sub(self.kernel.1)? / self.stride.1 + 1;
        Some((oh, ow))
    }
}

/// Pooling window (max or average, as in `torch.nn.MaxPool2d` / `AvgPool2d`; average
/// counts padding, torch's default `count_include_pad=True`, and divides by the whole
/// window, so `ceil` is for max pooling).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Pool {
    /// Window size.
    pub kernel: usize,
    /// Stride.
    pub stride: usize,
    /// Padding (max pool pads with -inf, average with zeros).
    pub padding: usize,
    /// `ceil_mode`: a last, partial window where the input leaves one (its start inside the
    /// input or the left padding, as torch).
    pub ceil: bool,
}

impl Pool {
    /// Output size of one spatial dimension.
    pub fn out_len(&self, len: usize) -> Option<usize> {
        let span = (len + 2 * self.padding).checked_sub(self.kernel)?;
        if !self.ceil {
            return Some(span / self.stride + 1);
        }
        let out = span.div_ceil(self.stride) + 1;
        Some(if (out - 1) * self.stride >= len + self.padding {
            out - 1
        } else {
            out
        })
    }
}

/// Fully connected layer `y = act(W x + b)`, `W` is `[out_f, in_f]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Linear {
    /// Input features.
    pub in_f: usize,
    /// Output features.
    pub out_f: usize,
    /// Whether a `bias` parameter exists.
    pub bias: bool,
    /// Activation applied last.
    pub act: Act,
}

/// One operation of the graph.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub enum Op {
    /// The graph input (exactly one, node 0).
    Input,
    /// Convolution (see [`Conv2d`]).
    Conv2d(Conv2d),
    /// Inference batch norm with `weight, bias, running_mean, running_var`.
    BatchNorm {
        /// Channels.
        c: usize,
        /// Epsilon added to the variance.
        eps: f32,
    },
    /// max(x, 0).
    Relu,
    /// min(max(x, 0), 6).
    Relu6,
    /// Max pooling.
    MaxPool(Pool),
    /// Average pooling.
    AvgPool(Pool),
    /// `torch.nn.AdaptiveAvgPool2d((h, w))`; `(1, 1)` is global average pooling.
    AdaptiveAvgPool {
        /// Output height.
        h: usize,
        /// Output width.
        w: usize,
    },
    /// Element-wise sum of two tensors of the same shape, then an activation.
    Add {
        /// Activation applied after the sum.
        act: Act,
    },
    /// `torch.flatten(x, 1)`: a view, no data moves.
    Flatten,
    /// Fully connected layer.
    Linear(Linear),
    /// Identity at inference.
    Dropout,
    /// A stand-alone activation other than ReLU/ReLU6 (imported models: sigmoid, hard
    /// sigmoid/swish, SiLU, GELU); fused into the producing conv, linear or add like them.
    Activation(Act),
    /// `min(max(x, lo), hi)` with bounds other than ReLU6's (ONNX `Clip`).
    Clip {
        /// Lower bound (may be -inf).
        lo: f32,
        /// Upper bound (may be +inf).
        hi: f32,
    },
    /// Element-wise product of `inputs[0]` and `inputs[1]`, which has the same shape or
    /// `C x 1 x 1` (one value per channel, broadcast over the plane: squeeze-excite).
    Mul,
    /// Concatenation of the inputs (two or more, of one plane size) along the channels.
    Concat,
    /// Layer normalization over the channels of each pixel (ConvNeXt's), with per-channel
    /// `weight` and `bias`.
    LayerNorm {
        /// Channels.
        c: usize,
        /// Epsilon added to the variance.
        eps: f32,
    },
}

impl Op {
    /// Short op-type name used in tables and CSVs.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Input => "input",
            Op::Conv2d(c) if c.is_depthwise() => "dwconv",
            Op::Conv2d(c) if c.is_pointwise() => "conv1x1",
            Op::Conv2d(_) => "conv",
            Op::BatchNorm { .. } => "batchnorm",
            Op::Relu => "relu",
            Op::Relu6 => "relu6",
            Op::MaxPool(_) => "maxpool",
            Op::AvgPool(_) => "avgpool",
            Op::AdaptiveAvgPool { h: 1, w: 1 } => "gap",
            Op::AdaptiveAvgPool { .. } => "adaptive_avgpool",
            Op::Add { .. } => "add",
            Op::Flatten => "flatten",
            Op::Linear(_) => "linear",
            Op::Dropout => "dropout",
            Op::Activation(_) => "activation",
            Op::Mul => "mul",
            Op::Clip { .. } => "clip",
            Op::Concat => "concat",
            Op::LayerNorm { .. } => "layernorm",
        }
    }

    /// Whether the op moves no data (its output aliases its input).
    pub fn is_view(&self) -> bool {
        matches!(self, Op::Flatten | Op::Dropout)
    }

    /// Learnable parameters and buffers as `(suffix, shape, is_parameter)`; the state_dict
    /// key is `"{node name}.{suffix}"`. Buffers (`is_parameter == false`) do not count
    /// towards the parameter total, as in `sum(p.numel() for p in model.parameters())`.
    pub fn params(&self) -> Vec<(&'static str, Vec<usize>, bool)> {
        match self {
            Op::Conv2d(c) => {
                let mut v = vec![("weight", c.weight_shape(), true)];
                if c.bias {
                    v.push(("bias", vec![c.out_c], true));
                }
                v
            }
            Op::BatchNorm { c, .. } => vec![
                ("weight", vec![*c], true),
                ("bias", vec![*c], true),
                ("running_mean", vec![*c], false),
                ("running_var", vec![*c], false),
            ],
            Op::LayerNorm { c, .. } => {
                vec![("weight", vec![*c], true), ("bias", vec![*c], true)]
            }
            Op::Linear(l) => {
                let mut v = vec![("weight", vec![l.out_f, l.in_f], true)];
                if l.bias {
                    v.push(("bias", vec![l.out_f], true));
                }
                v
            }
            _ => vec![],
        }
    }
}

/// One node: an op, the nodes it reads, and the shape it produces.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Node {
    /// Module path as in torchvision (`layer1.0.conv1`); parameter keys derive from it.
    pub name: String,
    /// The operation.
    pub op: Op,
    /// Producers of the inputs, all with smaller ids.
    pub inputs: Vec<NodeId>,
    /// Per-sample output shape (filled by shape inference).
    pub shape: Shape,
}

impl Node {
    /// FLOPs per sample, counted as 2 x multiply-accumulates for conv/linear and one per
    /// output element for element-wise ops, pooling (per window element) and batch norm.
    pub fn flops(&self, graph: &Graph) -> u64 {
        let out = self.shape.numel() as u64;
        match &self.op {
            Op::Input | Op::Flatten | Op::Dropout | Op::Concat => 0,
            Op::Conv2d(c) => {
                let k = (c.in_c / c.groups * c.kernel.0 * c.kernel.1) as u64;
                let mut f = 2 * k * out;
                if c.bias {
                    f += out;
                }
                if c.residual {
                    f += out;
                }
                if c.act != Act::None {
                    f += out;
                }
                f
            }
            Op::Linear(l) => {
                2 * (l.in_f * l.out_f) as u64
                    + if l.bias { out } else { 0 }
                    + if l.act != Act::None { out } else { 0 }
            }
            Op::BatchNorm { .. } => 2 * out,
            Op::Relu | Op::Relu6 | Op::Activation(_) | Op::Mul | Op::Clip { .. } => out,
            Op::LayerNorm { .. } => 5 * out,
            Op::Add { act } => out * if *act == Act::None { 1 } else { 2 },
            Op::MaxPool(p) | Op::AvgPool(p) => out * (p.kernel * p.kernel) as u64,
            Op::AdaptiveAvgPool { .. } => graph.nodes[self.inputs[0]].shape.numel() as u64,
        }
    }

    /// Learnable parameters (not buffers) of this node.
    pub fn param_count(&self) -> u64 {
        self.op
            .params()
            .iter()
            .filter(|(_, _, is_param)| *is_param)
            .map(|(_, s, _)| s.iter().product::<usize>() as u64)
            .sum()
    }

    /// Values of every parameter and buffer (weights, bias, running statistics).
    pub fn param_values(&self) -> u64 {
        self.op
            .params()
            .iter()
            .map(|(_, s, _)| s.iter().product::<usize>() as u64)
            .sum()
    }

    /// Elements of the node's inputs, per sample.
    pub fn input_values(&self, graph: &Graph) -> u64 {
        self.inputs
            .iter()
            .map(|&i| graph.nodes[i].shape.numel() as u64)
            .sum()
    }
}

/// A DNN as nodes in topological order; node 0 is the input.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Graph {
    /// Model name (zoo name or file stem).
    pub name: String,
    /// Nodes, topologically sorted; node `i` only reads nodes `< i`.
    pub nodes: Vec<Node>,
}

impl Graph {
    /// Starts a graph whose input has the given per-sample shape.
    pub fn new(name: impl Into<String>, input: Shape) -> Self {
        Self {
            name: name.into(),
            nodes: vec![Node {
                name: "input".into(),
                op: Op::Input,
                inputs: vec![],
                shape: input,
            }],
        }
    }

    /// Per-sample input shape.
    pub fn input_shape(&self) -> Shape {
        self.nodes[0].shape
    }

    /// Id of the last node (the graph output).
    pub fn output(&self) -> NodeId {
        self.nodes.len() - 1
    }

    /// Appends a node, inferring its shape; returns its id. Errors name the node and the
    /// mismatch (a zoo bug or a malformed user graph).
    pub fn push(&mut self, name: impl Into<String>, op: Op, inputs: &[NodeId]) -> Result<NodeId> {
        let name = name.into();
        let id = self.nodes.len();
        if let Some(&bad) = inputs.iter().find(|&&i| i >= id) {
            return Err(Error::Graph(format!(
                "node {name}: input {bad} is not an earlier node"
            )));
        }
        let shape = self.infer(&name, &op, inputs)?;
        self.nodes.push(Node {
            name,
            op,
            inputs: inputs.to_vec(),
            shape,
        });
        Ok(id)
    }

    fn infer(&self, name: &str, op: &Op, inputs: &[NodeId]) -> Result<Shape> {
        let bad = |msg: String| Error::Graph(format!("node {name}: {msg}"));
        let expect_inputs = match op {
            Op::Input => 0,
            Op::Add { .. } | Op::Mul => 2,
            Op::Concat => inputs.len().max(2),
            Op::Conv2d(c) if c.residual => 2,
            _ => 1,
        };
        if inputs.len() != expect_inputs {
            return Err(bad(format!(
                "expected {expect_inputs} inputs, found {}",
                inputs.len()
            )));
        }
        if expect_inputs == 0 {
            return Err(bad("only node 0 may be the input".into()));
        }
        let x = self.nodes[inputs[0]].shape;
        let shape = match op {
            Op::Input => unreachable!("rejected above"),
            Op::Conv2d(c) => {
                if c.groups == 0 || c.in_c % c.groups != 0 || c.out_c % c.groups != 0 {
                    return Err(bad(format!(
                        "groups {} must divide in {} and out {} channels",
                        c.groups, c.in_c, c.out_c
                    )));
                }
                if x.c != c.in_c {
                    return Err(bad(format!(
                        "expected {} input channels, found {}",
                        c.in_c, x.c
                    )));
                }
                let (oh, ow) = c
                    .out_hw(x.h, x.w)
                    .ok_or_else(|| bad(format!("kernel larger than padded input {x}")))?;
                Shape::new(c.out_c, oh, ow)
            }
            Op::BatchNorm { c, .. } => {
                if x.c != *c {
                    return Err(bad(format!("expected {c} channels, found {}", x.c)));
                }
                x
            }
            Op::Relu | Op::Relu6 | Op::Dropout | Op::Activation(_) | Op::Mul | Op::Clip { .. } => x,
            Op::LayerNorm { c, .. } => {
                if x.c != *c {
                    return Err(bad(format!("expected {c} channels, found {}", x.c)));
                }
                x
            }
            Op::MaxPool(p) | Op::AvgPool(p) => {
                let oh = p
                    .out_len(x.h)
                    .ok_or_else(|| bad(format!("window larger than {x}")))?;
                let ow = p
                    .out_len(x.w)
                    .ok_or_else(|| bad(format!("window larger than {x}")))?;
                Shape::new(x.c, oh, ow)
            }
            Op::AdaptiveAvgPool { h, w } => Shape::new(x.c, *h, *w),
            Op::Add { .. } => x,
            Op::Concat => {
                let mut c = 0;
                for &i in inputs {
                    let s = self.nodes[i].shape;
                    if (s.h, s.w) != (x.h, x.w) {
                        return Err(bad(format!("concatenating {s} with {x}: planes differ")));
                    }
                    c += s.c;
                }
                Shape::new(c, x.h, x.w)
            }
            Op::Flatten => Shape::new(x.numel(), 1, 1),
            Op::Linear(l) => {
                if x.numel() != l.in_f {
                    return Err(bad(format!(
                        "expected {} input features, found {}",
                        l.in_f, x
                    )));
                }
                Shape::new(l.out_f, 1, 1)
            }
        };
        if expect_inputs == 2 && *op != Op::Concat {
            let second = self.nodes[inputs[1]].shape;
            let per_channel = *op == Op::Mul && second == Shape::new(shape.c, 1, 1);
            if second != shape && !per_channel {
                return Err(bad(format!(
                    "residual/add operand shape {second} differs from {shape}"
                )));
            }
        }
        Ok(shape)
    }

    /// Total FLOPs per sample.
    pub fn flops(&self) -> u64 {
        self.nodes.iter().map(|n| n.flops(self)).sum()
    }

    /// Total learnable parameters.
    pub fn param_count(&self) -> u64 {
        self.nodes.iter().map(Node::param_count).sum()
    }

    /// For each node, the ids of the nodes that read it.
    pub fn consumers(&self) -> Vec<Vec<NodeId>> {
        let mut out = vec![Vec::new(); self.nodes.len()];
        for (id, n) in self.nodes.iter().enumerate() {
            for &i in &n.inputs {
                out[i].push(id);
            }
        }
        out
    }

    /// Looks a node up by name.
    pub fn find(&self, name: &str) -> Option<NodeId> {
        self.nodes.iter().position(|n| n.name == name)
    }
}
