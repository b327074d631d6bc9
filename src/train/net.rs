//! A trainable network interpreted from a splitbench [`Graph`] (the unfused, torchvision-
//! faithful graph of the zoo), with one candle variable per parameter key, so that exported
//! weights carry torchvision's names and layouts by construction.
//!
//! Activations are NHWC, stored as `[n * h * w, c]` matrices: a convolution is im2col + one
//! GEMM, batch norm reduces over rows. Vectors (after global pooling) are `[n, f]`.

use super::fused::{BatchNormTrain, Relu};
use super::im2col::{ConvGeom, Im2Col};
use super::{cerr, Mode};
use crate::error::{Error, Result};
use crate::model::{expected_keys, Graph, NodeId, Op, Shape, Weights};
use crate::tensor::{Rng, Tensor as HostTensor};
use candle_core::{DType, Device, Tensor, Var};
use std::collections::BTreeMap;

/// Batch norm momentum of the running statistics (PyTorch's default).
pub const BN_MOMENTUM: f64 = 0.1;

/// A graph with candle parameters and batch-norm running statistics.
pub struct Net {
    graph: Graph,
    /// Learnable parameters by state_dict key.
    params: BTreeMap<String, Var>,
    /// Buffers (`running_mean`, `running_var`) by state_dict key.
    buffers: BTreeMap<String, Tensor>,
}

/// An activation during the forward pass: `[n*h*w, c]` (or `[n, f]` for vectors) plus the
/// per-sample shape it stands for.
#[derive(Clone, Debug)]
pub struct Feature {
    /// The data, NHWC rows.
    pub t: Tensor,
    /// Per-sample shape (C, H, W).
    pub shape: Shape,
}

impl Net {
    /// A network for `graph` with seeded initialisation as torchvision's ResNet does it:
    /// conv weights Kaiming-normal (fan_out, ReLU gain), batch norm weight 1 and bias 0,
    /// running mean 0 and variance 1, linear weight and bias U(-1/sqrt(in), 1/sqrt(in)).
    pub fn new(graph: &Graph, seed: u64) -> Result<Self> {
        let mut rng = Rng::new(seed ^ 0x1417_7a1e);
        let mut w = Weights::new();
        for node in &graph.nodes {
            for (suffix, shape, _) in node.op.params() {
                let key = format!("{}.{suffix}", node.name);
                let n: usize = shape.iter().product();
                let data = match (&node.op, suffix) {
                    (Op::Conv2d(c), "weight") => {
                        let fan_out = c.out_c * c.kernel.0 * c.kernel.1 / c.groups;
                        let std = (2.0 / fan_out as f32).sqrt();
                        (0..n).map(|_| rng.normal() * std).collect()
                    }
                    (Op::Linear(l), _) => {
                        let b = 1.0 / (l.in_f as f32).sqrt();
                        rng.vec(n, -b, b)
                    }
                    (Op::BatchNorm { .. }, "weight" | "running_var") => vec![1.0; n],
                    _ => vec![0.0; n],
                };
                w.insert(key, HostTensor { shape, data });
            }
        }
        Self::from_weights(graph, &w)
    }

    /// A network for `graph` starting from `weights` (torchvision keys, e.g. from
    /// [`crate::model::load_safetensors`]): for fine-tuning and for checking exports.
    pub fn from_weights(graph: &Graph, weights: &Weights) -> Result<Self> {
        crate::model::check(graph, weights)?;
        for node in &graph.nodes {
            match node.op {
                Op::Input
                | Op::Conv2d(_)
                | Op::BatchNorm { .. }
                | Op::Relu
                | Op::Relu6
                | Op::Add { .. }
                | Op::Dropout
                | Op::Linear(_) => {}
                Op::AdaptiveAvgPool { h: 1, w: 1 } => {}
                Op::Flatten if graph.nodes[node.inputs[0]].shape.h == 1 => {}
                Op::Flatten if graph.nodes[node.inputs[0]].shape.w == 1 => {}
                _ => {
                    return Err(Error::Unsupported(format!(
                        "training: node '{}' ({}) is not supported by the trainer",
                        node.name,
                        node.op.kind()
                    )))
                }
            }
            if let Op::Conv2d(c) = node.op {
                if c.groups != 1 || c.residual || c.act != crate::model::Act::None {
                    return Err(Error::Unsupported(format!(
                        "training: conv '{}' is grouped or fused; train the unfused graph",
                        node.name
                    )));
                }
            }
        }
        let mut params = BTreeMap::new();
        let mut buffers = BTreeMap::new();
        for node in &graph.nodes {
            for (suffix, shape, is_param) in node.op.params() {
                let key = format!("{}.{suffix}", node.name);
                let t = &weights[&key];
                let tensor = Tensor::from_vec(t.data.clone(), shape, &Device::Cpu).map_err(cerr)?;
                if is_param {
                    params.insert(key, Var::from_tensor(&tensor).map_err(cerr)?);
                } else {
                    buffers.insert(key, tensor);
                }
            }
        }
        Ok(Self {
            graph: graph.clone(),
            params,
            buffers,
        })
    }

    /// The graph this network follows.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Learnable parameters by state_dict key.
    pub fn params(&self) -> &BTreeMap<String, Var> {
        &self.params
    }

    /// Every parameter and buffer with torchvision keys and layouts, ready for
    /// [`crate::model::save_safetensors`].
    pub fn weights(&self) -> Result<Weights> {
        let mut out = Weights::new();
        for (key, shape) in expected_keys(&self.graph) {
            let t: &Tensor = match self.params.get(&key) {
                Some(v) => v.as_tensor(),
                None => &self.buffers[&key],
            };
            let data = t
                .flatten_all()
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(cerr)?;
            out.insert(key, HostTensor { shape, data });
        }
        Ok(out)
    }

    /// NCHW images (`n * numel` values) to the network's NHWC input matrix.
    pub fn input(&self, images: &[f32], n: usize) -> Result<Tensor> {
        let s = self.graph.input_shape();
        let t = Tensor::from_slice(images, (n, s.c, s.h, s.w), &Device::Cpu)
            .and_then(|t| t.permute((0, 2, 3, 1)))
            .and_then(|t| t.contiguous())
            .and_then(|t| t.reshape((n * s.h * s.w, s.c)))
            .map_err(cerr)?;
        Ok(t)
    }

    /// Logits `[n, classes]` of an NHWC input matrix (see [`Net::input`]).
    pub fn forward(&mut self, x: &Tensor, n: usize, mode: Mode) -> Result<Tensor> {
        self.forward_with(x, n, mode, &mut |_, f| Ok(f))
    }

    /// Forward pass calling `hook(node, output)` on every node's output; the hook returns the
    /// feature that consumers see. This is where later steps plug in: channel masks after a
    /// pruned conv's batch norm, or an encoder/quantizer/decoder at a split node (with the
    /// backbone frozen by training only the hook's own variables and [`Mode::Eval`] for its batch norms).
    pub fn forward_with(
        &mut self,
        x: &Tensor,
        n: usize,
        mode: Mode,
        hook: &mut dyn FnMut(NodeId, Feature) -> Result<Feature>,
    ) -> Result<Tensor> {
        let nodes = self.graph.nodes.clone();
        let mut vals: Vec<Option<Feature>> = vec![None; nodes.len()];
        let consumers = self.graph.consumers();
        let mut remaining: Vec<usize> = consumers.iter().map(Vec::len).collect();
        for (id, node) in nodes.iter().enumerate() {
            let arg = |k: usize| -> Result<Feature> {
                vals[node.inputs[k]]
                    .clone()
                    .ok_or_else(|| Error::Graph(format!("node '{}': input freed", node.name)))
            };
            let out = match node.op {
                Op::Input => Feature {
                    t: x.clone(),
                    shape: node.shape,
                },
                Op::Conv2d(c) => {
                    let a = arg(0)?;
                    let g = ConvGeom {
                        n,
                        h: a.shape.h,
                        w: a.shape.w,
                        c: a.shape.c,
                        kh: c.kernel.0,
                        kw: c.kernel.1,
                        sh: c.stride.0,
                        sw: c.stride.1,
                        ph: c.padding.0,
                        pw: c.padding.1,
                    };
                    let w = self.params[&format!("{}.weight", node.name)].as_tensor();
                    let t = conv(&a.t, g, w, self.params.get(&format!("{}.bias", node.name)))?;
                    Feature {
                        t,
                        shape: node.shape,
                    }
                }
                Op::BatchNorm { eps, .. } => {
                    let a = arg(0)?;
                    let t = self.batch_norm(&node.name, &a.t, eps, mode)?;
                    Feature {
                        t,
                        shape: node.shape,
                    }
                }
                Op::Relu => {
                    let a = arg(0)?;
                    Feature {
                        t: relu(&a.t)?,
                        shape: node.shape,
                    }
                }
                Op::Relu6 => {
                    let a = arg(0)?;
                    Feature {
                        t: a.t.clamp(0f32, 6f32).map_err(cerr)?,
                        shape: node.shape,
                    }
                }
                Op::Add { act } => {
                    let (a, b) = (arg(0)?, arg(1)?);
                    let mut t = (&a.t + &b.t).map_err(cerr)?;
                    t = activation(t, act)?;
                    Feature {
                        t,
                        shape: node.shape,
                    }
                }
                Op::AdaptiveAvgPool { .. } => {
                    let a = arg(0)?;
                    let t =
                        a.t.reshape((n, a.shape.h * a.shape.w, a.shape.c))
                            .and_then(|t| t.mean(1))
                            .map_err(cerr)?;
                    Feature {
                        t,
                        shape: node.shape,
                    }
                }
                Op::Flatten | Op::Dropout => {
                    let a = arg(0)?;
                    let t = if node.shape.h == 1 && node.shape.w == 1 {
                        a.t.reshape((n, node.shape.c)).map_err(cerr)?
                    } else {
                        a.t
                    };
                    Feature {
                        t,
                        shape: node.shape,
                    }
                }
                Op::Linear(l) => {
                    let a = arg(0)?;
                    let w = self.params[&format!("{}.weight", node.name)].as_tensor();
                    let mut t =
                        a.t.reshape((n, l.in_f))
                            .and_then(|t| t.matmul(&w.t()?))
                            .map_err(cerr)?;
                    if let Some(b) = self.params.get(&format!("{}.bias", node.name)) {
                        t = t.broadcast_add(b.as_tensor()).map_err(cerr)?;
                    }
                    Feature {
                        t,
                        shape: node.shape,
                    }
                }
                _ => {
                    return Err(Error::Unsupported(format!(
                        "training: node '{}' ({})",
                        node.name,
                        node.op.kind()
                    )))
                }
            };
            let out = hook(id, out)?;
            vals[id] = Some(out);
            for &i in &node.inputs {
                remaining[i] -= 1;
                if remaining[i] == 0 {
                    vals[i] = None;
                }
            }
        }
        let last = vals
            .pop()
            .flatten()
            .ok_or_else(|| Error::Graph("empty graph".into()))?;
        Ok(last.t)
    }

    /// Batch norm over the rows of `x` (`[m, c]`): batch statistics in [`Mode::Train`]
    /// (updating the running ones), running statistics otherwise.
    fn batch_norm(&mut self, name: &str, x: &Tensor, eps: f32, mode: Mode) -> Result<Tensor> {
        let gamma = self.params[&format!("{name}.weight")].as_tensor().clone();
        let beta = self.params[&format!("{name}.bias")].as_tensor().clone();
        let rm_key = format!("{name}.running_mean");
        let rv_key = format!("{name}.running_var");
        let r = (|| -> candle_core::Result<Tensor> {
            if mode == Mode::Train {
                let m = x.dim(0)?;
                let stats = std::sync::Arc::new(std::sync::Mutex::new(None));
                let op = BatchNormTrain {
                    eps,
                    stats: stats.clone(),
                };
                let y = x.contiguous()?.apply_op3(&gamma, &beta, op)?;
                let (mean, var) = stats
                    .lock()
                    .expect("batch stats lock")
                    .clone()
                    .expect("forward pass filled the statistics");
                let c = mean.len();
                let unbiased = m as f64 / (m.max(2) - 1) as f64;
                let mean = Tensor::from_vec(mean, c, x.device())?;
                let var = (Tensor::from_vec(var, c, x.device())? * unbiased)?;
                let rm = &self.buffers[&rm_key];
                let rv = &self.buffers[&rv_key];
                let new_rm = ((rm * (1.0 - BN_MOMENTUM))? + (mean * BN_MOMENTUM)?)?;
                let new_rv = ((rv * (1.0 - BN_MOMENTUM))? + (var * BN_MOMENTUM)?)?;
                self.buffers.insert(rm_key.clone(), new_rm);
                self.buffers.insert(rv_key.clone(), new_rv);
                Ok(y)
            } else {
                let rm = &self.buffers[&rm_key];
                let rv = &self.buffers[&rv_key];
                let scale = (gamma * (rv + eps as f64)?.sqrt()?.recip()?)?;
                let shift = (beta - (rm * &scale)?)?;
                x.broadcast_mul(&scale.unsqueeze(0)?)?
                    .broadcast_add(&shift.unsqueeze(0)?)
            }
        })();
        r.map_err(cerr)
    }
}

/// The activation of a fused op (bottleneck layers use tanh and ELU).
fn activation(t: Tensor, act: crate::model::Act) -> Result<Tensor> {
    use crate::model::Act;
    match act {
        Act::None => Ok(t),
        Act::Relu => relu(&t),
        Act::Relu6 => t.clamp(0f32, 6f32).map_err(cerr),
        Act::Tanh => t.tanh().map_err(cerr),
        Act::Elu => t.elu(1.0).map_err(cerr),
        // Imported models' activations: the trainer builds zoo graphs only.
        other => Err(crate::Error::Unsupported(format!(
            "training with the {other:?} activation"
        ))),
    }
}

/// max(x, 0) with a one-pass backward.
fn relu(x: &Tensor) -> Result<Tensor> {
    x.contiguous().and_then(|x| x.apply_op1(Relu)).map_err(cerr)
}

/// `x` (`[n*h*w, c]`) convolved with torch-layout `w` (`[o, c, kh, kw]`) -> `[n*oh*ow, o]`.
fn conv(x: &Tensor, g: ConvGeom, w: &Tensor, bias: Option<&Var>) -> Result<Tensor> {
    let r = (|| -> candle_core::Result<Tensor> {
        let o = w.dim(0)?;
        let cols = if g.is_identity() {
            x.clone()
        } else {
            x.contiguous()?.apply_op1(Im2Col(g))?
        };
        // (ky, kx, c) column order, as im2col writes it.
        let wm = w.permute((0, 2, 3, 1))?.reshape((o, g.cols()))?;
        let mut y = cols.matmul(&wm.t()?)?;
        if let Some(b) = bias {
            y = y.broadcast_add(b.as_tensor())?;
        }
        Ok(y)
    })();
    r.map_err(cerr)
}

/// Gathers `[n, classes]` logits to host rows.
pub fn logits_to_vec(t: &Tensor) -> Result<Vec<Vec<f32>>> {
    t.to_dtype(DType::F32)
        .and_then(|t| t.to_vec2::<f32>())
        .map_err(cerr)
}
