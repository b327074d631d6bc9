//! The graph-range executor; after `launch` in `gpu`'s order, below the timing modules.
//!
//! Runs a node range of a graph on the GPU in one submission. Buffers (weights,
//! activations, params) and bind groups are created once; activation buffers are reused
//! once their last reader has run; only the requested outputs are read back. Every tensor
//! size is checked (batch x shape in `usize`, in the kernels' `u32`, in the device's
//! binding limit) before anything is allocated, so a batch too large is an error naming
//! the tensor, never an overflow.

use super::autotune::{self, ConvBuffers};
use super::buffers::{self, TENSOR_USAGE};
use super::context::GpuContext;
use super::dispatch::{self, Dispatch};
use super::launch::{Builder, PoolKind};
use super::tilecache::TileChoice;
use crate::error::{Error, Result};
use crate::model::{Act, Conv2d, Graph, Linear, Model, NodeId, Op, Shape};
use crate::tensor::Tensor;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

/// The dispatches that compute one node (none for views such as `Flatten`).
#[derive(Debug)]
pub struct Step {
    /// The node.
    pub node: NodeId,
    /// Its kernels, in order.
    pub dispatches: Vec<Dispatch>,
    /// A convolution's plan and how it was chosen.
    pub tile: Option<TileChoice>,
}

/// A node range of a model prepared for repeated execution at one batch size.
pub struct Executor<'a> {
    ctx: &'a GpuContext,
    graph: Graph,
    batch: usize,
    range: Range<NodeId>,
    steps: Vec<Step>,
    inputs: Vec<NodeId>,
    outputs: Vec<NodeId>,
    // Buffer and value count (batch included) of every input and output.
    buffers: HashMap<NodeId, (Arc<wgpu::Buffer>, usize)>,
    // Weight buffers stay alive as long as the bind groups that use them.
    _weights: Vec<wgpu::Buffer>,
}

/// The product of a weight's dimensions, or an error naming it.
fn weight_len(node: &str, dims: &[usize]) -> Result<usize> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| Error::Graph(format!("weight of '{node}' {dims:?}: size overflows")))
}

/// Values (batch included) of tensor `id`, checked: they must fit `usize`, the kernels'
/// `u32` indexing, and one binding of at most `max_binding` bytes.
fn tensor_len(graph: &Graph, id: NodeId, batch: usize, max_binding: u64) -> Result<usize> {
    let node = &graph.nodes[id];
    let what = format!("tensor '{}' ({}) at batch {batch}", node.name, node.shape);
    let values = batch
        .checked_mul(node.shape.numel())
        .filter(|v| v.checked_mul(4).is_some())
        .ok_or_else(|| {
            Error::Unsupported(format!("{what}: its size overflows; lower the batch"))
        })?;
    let bytes = values as u64 * 4;
    if bytes > max_binding {
        return Err(Error::Unsupported(format!(
            "{what} needs {bytes} bytes, the device binds at most {max_binding}; lower the batch"
        )));
    }
    if u32::try_from(values).is_err() {
        return Err(Error::Unsupported(format!(
            "{what} has {values} values, the kernels index at most {}; lower the batch",
            u32::MAX
        )));
    }
    Ok(values)
}

/// `l` as the 1x1 convolution on 1x1 planes it is (same weights, bias and activation).
fn linear_as_conv(l: &Linear) -> Conv2d {
    let mut c = Conv2d::new(l.in_f, l.out_f, 1, 1, 0, 1);
    c.bias = l.bias;
    c.act = l.act;
    c
}

/// The dispatches of convolution `c` with the plan `autotune` chooses, and the choice.
fn conv_step(
    ctx: &GpuContext,
    k: &Builder<'_>,
    c: &Conv2d,
    batch: usize,
    input: Shape,
    b: ConvBuffers<'_>,
) -> Result<(Vec<Dispatch>, TileChoice)> {
    let choice = autotune::choose(ctx, c, batch, input, b)?;
    let ds = k.conv2d_planned(&choice.plan, c, b.x, b.weight, b.bias, b.residual, b.y)?;
    Ok((ds, choice))
}

fn weight<'w>(model: &'w Model, node: &str, suffix: &str, want: usize) -> Result<&'w [f32]> {
    let key = format!("{node}.{suffix}");
    let t = model
        .weights
        .get(&key)
        .ok_or_else(|| Error::Graph(format!("missing weight '{key}'")))?;
    if t.numel() != want {
        return Err(Error::Graph(format!(
            "weight '{key}' has {} values, the graph needs {want}",
            t.numel()
        )));
    }
    Ok(&t.data)
}

impl<'a> Executor<'a> {
    /// Prepares nodes `range` of `model` (node 0, the input, is never a step) for `batch`
    /// samples; `outputs` lists the tensors to read back (default: the range's last node).
    /// Tensors produced before the range and read inside it are the executor's inputs.
    pub fn new(
        ctx: &'a GpuContext,
        model: &Model,
        range: Range<NodeId>,
        batch: usize,
        outputs: &[NodeId],
    ) -> Result<Self> {
        pollster::block_on(Self::new_async(ctx, model, range, batch, outputs))
    }

    /// [`Self::new`] for callers that cannot block (a browser).
    pub async fn new_async(
        ctx: &'a GpuContext,
        model: &Model,
        range: Range<NodeId>,
        batch: usize,
        outputs: &[NodeId],
    ) -> Result<Self> {
        // Device errors (allocation, limits) become errors here instead of wgpu's default
        // panic.
        let oom = ctx.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let invalid = ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let built = Self::build(ctx, model, range, batch, outputs);
        for scope in [invalid, oom] {
            if let Some(e) = scope.pop().await {
                return Err(Error::gpu_from(
                    format!("preparing {}", model.graph.name),
                    e,
                ));
            }
        }
        built
    }

    fn build(
        ctx: &'a GpuContext,
        model: &Model,
        range: Range<NodeId>,
        batch: usize,
        outputs: &[NodeId],
    ) -> Result<Self> {
        let graph = &model.graph;
        let range = range.start.max(1)..range.end;
        if batch == 0 {
            return Err(Error::InvalidArg("batch must be at least 1".into()));
        }
        if range.is_empty() || range.end > graph.nodes.len() {
            return Err(Error::InvalidArg(format!(
                "node range {range:?} is empty or outside the graph's {} nodes",
                graph.nodes.len()
            )));
        }
        let mut inputs: Vec<NodeId> = graph.nodes[range.clone()]
            .iter()
            .flat_map(|n| n.inputs.iter().copied())
            .filter(|&i| i < range.start)
            .collect();
        inputs.sort_unstable();
        inputs.dedup();
        let outputs = if outputs.is_empty() {
            vec![range.end - 1]
        } else {
            outputs.to_vec()
        };
        if let Some(o) = outputs
            .iter()
            .find(|&&o| !range.contains(&o) && !inputs.contains(&o))
        {
            return Err(Error::InvalidArg(format!(
                "output node {o} is neither computed nor an input of range {range:?}"
            )));
        }

        let max_binding = ctx.device.limits().max_storage_buffer_binding_size;
        // Every tensor's size, checked before anything is allocated.
        let len: HashMap<NodeId, usize> = inputs
            .iter()
            .copied()
            .chain(range.clone())
            .map(|id| Ok((id, tensor_len(graph, id, batch, max_binding)?)))
            .collect::<Result<_>>()?;
        let bytes = |id: NodeId| len[&id] as u64 * 4;

        // Views alias their input's buffer: resolve every tensor to the node that owns
        // its storage, and find the last step that reads each storage.
        let mut root: Vec<NodeId> = (0..graph.nodes.len()).collect();
        for id in range.clone() {
            if graph.nodes[id].op.is_view() {
                root[id] = root[graph.nodes[id].inputs[0]];
            }
        }
        let mut last_use: HashMap<NodeId, NodeId> = HashMap::new();
        for id in range.clone() {
            last_use.entry(root[id]).or_insert(id);
            for &i in &graph.nodes[id].inputs {
                last_use.insert(root[i], id);
            }
        }
        let pinned: Vec<NodeId> = inputs.iter().chain(&outputs).map(|&i| root[i]).collect();

        let k = Builder::new(ctx);
        let mut bufs: HashMap<NodeId, Arc<wgpu::Buffer>> = HashMap::new();
        for &i in &inputs {
            let b = buffers::zeroed(ctx, &graph.nodes[i].name, bytes(i));
            bufs.insert(i, Arc::new(b));
        }
        let mut free: Vec<Arc<wgpu::Buffer>> = Vec::new();
        let mut weights = Vec::new();
        let mut steps = Vec::with_capacity(range.len());
        for id in range.clone() {
            let node = &graph.nodes[id];
            if node.op.is_view() {
                let b = bufs[&root[id]].clone();
                bufs.insert(id, b);
                steps.push(Step {
                    node: id,
                    dispatches: vec![],
                    tile: None,
                });
                continue;
            }
            // Smallest free buffer that fits, else a new one.
            let need = bytes(id).max(16).next_multiple_of(16);
            let pick = free
                .iter()
                .enumerate()
                .filter(|(_, b)| b.size() >= need)
                .min_by_key(|(_, b)| b.size())
                .map(|(i, _)| i);
            let out = match pick {
                Some(i) => free.swap_remove(i),
                None => Arc::new(ctx.device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(&node.name),
                    size: need,
                    usage: TENSOR_USAGE,
                    mapped_at_creation: false,
                })),
            };
            bufs.insert(id, out.clone());
            let x = |i: usize| bufs[&node.inputs[i]].clone();
            let xs = |i: usize| graph.nodes[node.inputs[i]].shape;
            let name = node.name.as_str();
            let mut upload = |data: &[f32], what: &str| {
                let b = buffers::upload(ctx, &format!("{name}.{what}"), data);
                weights.push(b.clone());
                b
            };
            let mut tile = None;
            let dispatches = match &node.op {
                Op::Input => {
                    return Err(Error::Graph(format!(
                        "input node {id} '{name}' inside the graph"
                    )))
                }
                Op::Conv2d(c) => {
                    let want = weight_len(name, &c.weight_shape())?;
                    let w = upload(weight(model, name, "weight", want)?, "weight");
                    let b = if c.bias {
                        Some(upload(weight(model, name, "bias", c.out_c)?, "bias"))
                    } else {
                        None
                    };
                    let res = c.residual.then(|| x(1));
                    let bufs = ConvBuffers {
                        x: &x(0),
                        weight: &w,
                        bias: b.as_ref(),
                        residual: res.as_deref(),
                        y: &out,
                    };
                    let (ds, choice) = conv_step(ctx, &k, c, batch, xs(0), bufs)?;
                    tile = Some(choice);
                    ds
                }
                Op::Linear(l) => {
                    let w = weight(model, name, "weight", weight_len(name, &[l.out_f, l.in_f])?)?;
                    let b = if l.bias {
                        Some(upload(weight(model, name, "bias", l.out_f)?, "bias"))
                    } else {
                        None
                    };
                    // A fully connected layer is a 1x1 convolution on 1x1 planes: it takes
                    // the convolution's tiles (transposed weights, lanes along outputs)
                    // and their autotuning where its weights, repacked, fit one binding.
                    let conv = linear_as_conv(l);
                    let packed = l.in_f as u64 * l.out_f.next_multiple_of(8) as u64 * 4;
                    if packed <= max_binding {
                        let wb = upload(w, "weight");
                        let bufs = ConvBuffers {
                            x: &x(0),
                            weight: &wb,
                            bias: b.as_ref(),
                            residual: None,
                            y: &out,
                        };
                        let input = Shape::new(l.in_f, 1, 1);
                        let (ds, choice) = conv_step(ctx, &k, &conv, batch, input, bufs)?;
                        tile = Some(choice);
                        ds
                    } else {
                        // Weights larger than one binding (VGG16's first FC layer is 392 MiB)
                        // go in row blocks, one buffer and one dispatch each.
                        let row_bytes = (l.in_f.max(1) as u64).saturating_mul(4);
                        if row_bytes > max_binding {
                            return Err(Error::Unsupported(format!(
                                "linear '{name}': one weight row of {row_bytes} bytes exceeds the \
                             device's {max_binding}-byte binding limit"
                            )));
                        }
                        // Rows per block (at least 1, at most all): up to `max_binding` bytes.
                        let max_rows = (max_binding / row_bytes).min(l.out_f as u64) as usize;
                        let mut ds = Vec::new();
                        for (i, block) in w.chunks(max_rows * l.in_f.max(1)).enumerate() {
                            let wb = upload(block, "weight");
                            let rows = (i * max_rows, block.len() / l.in_f.max(1));
                            let (x, b) = (&x(0), b.as_ref());
                            ds.push(
                                k.linear(l.in_f, l.out_f, rows, l.act, batch, x, &wb, b, &out)?,
                            );
                        }
                        ds
                    }
                }
                Op::BatchNorm { c, eps } => {
                    let (w, b) = (
                        weight(model, name, "weight", *c)?,
                        weight(model, name, "bias", *c)?,
                    );
                    let m = weight(model, name, "running_mean", *c)?;
                    let v = weight(model, name, "running_var", *c)?;
                    let ss: Vec<f32> = (0..*c)
                        .flat_map(|i| {
                            let s = w[i] / (v[i] + eps).sqrt();
                            [s, b[i] - m[i] * s]
                        })
                        .collect();
                    let ssb = upload(&ss, "scale_shift");
                    let s = node.shape;
                    vec![k.scale_shift(len[&id], s.c, s.h * s.w, &x(0), &ssb, &out)?]
                }
                Op::Relu | Op::Relu6 => {
                    let act = if node.op == Op::Relu {
                        Act::Relu
                    } else {
                        Act::Relu6
                    };
                    vec![k.activation(len[&id], act, &x(0), &out)?]
                }
                Op::MaxPool(p) => vec![k.pool(PoolKind::Max(*p), batch, xs(0), &x(0), &out)?],
                Op::AvgPool(p) => vec![k.pool(PoolKind::Avg(*p), batch, xs(0), &x(0), &out)?],
                Op::AdaptiveAvgPool { h, w } => {
                    vec![k.pool(PoolKind::Adaptive(*h, *w), batch, xs(0), &x(0), &out)?]
                }
                Op::Add { act } => vec![k.add(len[&id], *act, &x(0), &x(1), &out)?],
                Op::Activation(act) => vec![k.activation(len[&id], *act, &x(0), &out)?],
                Op::Clip { lo, hi } => vec![k.clip(len[&id], *lo, *hi, &x(0), &out)?],
                Op::Mul => {
                    let (a, b) = (xs(0), xs(1));
                    let inner = if a == b { 1 } else { a.h * a.w };
                    vec![k.mul(len[&id], inner, &x(0), &x(1), &out)?]
                }
                Op::Concat => {
                    let out_block = node.shape.numel();
                    let mut offset = 0;
                    let mut ds = Vec::new();
                    for i in 0..node.inputs.len() {
                        let block = xs(i).numel();
                        ds.push(k.concat_part(batch, (block, out_block, offset), &x(i), &out)?);
                        offset += block;
                    }
                    ds
                }
                Op::LayerNorm { c, eps } => {
                    let (w, b) = (
                        weight(model, name, "weight", *c)?,
                        weight(model, name, "bias", *c)?,
                    );
                    let wb: Vec<f32> = (0..*c).flat_map(|i| [w[i], b[i]]).collect();
                    let wbb = upload(&wb, "weight_bias");
                    let s = node.shape;
                    let hw = s.h * s.w;
                    vec![k.layer_norm(batch * hw, s.c, hw, *eps, &x(0), &wbb, &out)?]
                }
                Op::Flatten | Op::Dropout => unreachable!("views handled above"),
            };
            steps.push(Step {
                node: id,
                dispatches,
                tile,
            });
            // Storage whose last reader just ran goes back to the pool.
            for (&r, &last) in &last_use {
                if last == id && !pinned.contains(&r) && range.contains(&r) {
                    if let Some(b) = bufs.get(&r) {
                        if !free.iter().any(|f| Arc::ptr_eq(f, b)) {
                            free.push(b.clone());
                        }
                    }
                }
            }
        }
        let buffers = inputs
            .iter()
            .chain(&outputs)
            .map(|&i| (i, (bufs[&i].clone(), len[&i])))
            .collect();
        Ok(Self {
            ctx,
            graph: graph.clone(),
            batch,
            range,
            steps,
            inputs,
            outputs,
            buffers,
            _weights: weights,
        })
    }

    /// The graph being executed.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }
    /// The batch size.
    pub fn batch(&self) -> usize {
        self.batch
    }
    /// The node range computed.
    pub fn range(&self) -> Range<NodeId> {
        self.range.clone()
    }
    /// Tensors the range reads from outside (to be set with [`Self::set_input`]).
    pub fn inputs(&self) -> &[NodeId] {
        &self.inputs
    }
    /// Tensors read back by [`Self::run`].
    pub fn outputs(&self) -> &[NodeId] {
        &self.outputs
    }
    /// One step per node of the range.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }
    /// The context.
    pub fn context(&self) -> &GpuContext {
        self.ctx
    }

    /// Uploads the value of input tensor `node` (`batch x shape` values).
    pub fn set_input(&self, node: NodeId, data: &[f32]) -> Result<()> {
        if !self.inputs.contains(&node) {
            return Err(Error::InvalidArg(format!(
                "node {node} is not an input of range {:?} (inputs: {:?})",
                self.range, self.inputs
            )));
        }
        let (buffer, want) = &self.buffers[&node];
        if data.len() != *want {
            return Err(Error::InvalidArg(format!(
                "input '{}' needs {want} values, got {}",
                self.graph.nodes[node].name,
                data.len()
            )));
        }
        self.ctx
            .queue
            .write_buffer(buffer, 0, bytemuck::cast_slice(data));
        Ok(())
    }

    /// Records every step into one compute pass.
    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>) {
        dispatch::encode_all(pass, self.steps.iter().flat_map(|s| &s.dispatches));
    }

    /// Runs the range in one submission and reads back the outputs, each `[N, c, h, w]`.
    pub fn run(&self) -> Result<Vec<Tensor>> {
        pollster::block_on(self.run_async())
    }

    /// [`Self::run`] for callers that cannot block (a browser).
    pub async fn run_async(&self) -> Result<Vec<Tensor>> {
        self.run_with_async(|enc| self.encode(&mut enc.begin_compute_pass(&Default::default())))
            .await
    }

    /// Like [`Self::run`], with `record` encoding the range (a caller that times it wraps
    /// [`Self::encode`] in its own pass with timestamps) before the outputs are read back.
    pub fn run_with(&self, record: impl FnOnce(&mut wgpu::CommandEncoder)) -> Result<Vec<Tensor>> {
        pollster::block_on(self.run_with_async(record))
    }

    /// [`Self::run_with`] for callers that cannot block (a browser).
    pub async fn run_with_async(
        &self,
        record: impl FnOnce(&mut wgpu::CommandEncoder),
    ) -> Result<Vec<Tensor>> {
        let dev = &self.ctx.device;
        let scope = dev.push_error_scope(wgpu::ErrorFilter::Validation);
        let mut enc = dev.create_command_encoder(&Default::default());
        record(&mut enc);
        let mut staged = Vec::new();
        for &o in &self.outputs {
            let (buffer, len) = &self.buffers[&o];
            let bytes = *len as u64 * 4;
            let st = dev.create_buffer(&wgpu::BufferDescriptor {
                label: Some("readback"),
                size: bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            enc.copy_buffer_to_buffer(buffer, 0, &st, 0, bytes);
            staged.push((o, st, bytes));
        }
        self.ctx.queue.submit([enc.finish()]);
        self.ctx.wait_async().await?;
        if let Some(e) = scope.pop().await {
            return Err(Error::gpu_from(format!("running {}", self.graph.name), e));
        }
        let mut out = Vec::with_capacity(staged.len());
        for (o, st, bytes) in staged {
            let s = self.graph.nodes[o].shape;
            let data = buffers::map_read(self.ctx, &st, bytes).await?;
            out.push(Tensor::new(vec![self.batch, s.c, s.h, s.w], data)?);
        }
        Ok(out)
    }
}
