//! Kernel launchers; after `clock` in `gpu`'s order, before `autotune`.
//!
//! [`Builder`] fills each kernel's uniform parameters, binds its buffers and counts its
//! workgroups; a convolution follows a [`ConvPlan`] (from `tiling`). Sizes come from users
//! (batch, shapes, feature lengths), so every count the shaders index with `u32` is
//! computed with checked arithmetic: too large is an [`Error::Unsupported`], never a panic
//! or a wrap.

use super::buffers;
use super::context::GpuContext;
use super::dispatch::Dispatch;
use super::pipelines::{Kernel, Pipelines};
use super::shaders::{
    self, ConvKernel, ConvParams, ConvTile, CopyParams, DirectSpec, EltwiseMode, EltwiseParams,
    LinearParams, MaskParams, PoolMode, PoolParams, QuantizeParams, Uniform,
};
use super::tiling::{self, count, u32_of, ConvPlan, ConvShape, DeviceClass};
use crate::error::{Error, Result};
use crate::model::{Act, Conv2d, Pool, Shape};
use std::marker::PhantomData;

/// The fields of `EltwiseParams` that only some modes read: layer norm's `eps` (and a
/// clip's lower bound), a clip's upper bound `hi`, a concatenation's `offset`.
#[derive(Clone, Copy, Debug, Default)]
struct Extra {
    eps: f32,
    hi: f32,
    offset: u32,
}

/// Pooling flavours of `pool.wgsl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    /// Max pooling with a window.
    Max(Pool),
    /// Average pooling with a window (zero padding counted).
    Avg(Pool),
    /// Adaptive average pooling to `(h, w)`.
    Adaptive(usize, usize),
}

/// Splits a 1-D count of workgroups over x and y so that no dimension exceeds the limit;
/// the shaders rebuild the index as `gid.x + gid.y * num_workgroups.x * WG`.
pub fn fold_1d(workgroups: u32, max_per_dim: u32) -> [u32; 3] {
    if workgroups <= max_per_dim {
        [workgroups.max(1), 1, 1]
    } else {
        [max_per_dim, workgroups.div_ceil(max_per_dim), 1]
    }
}

/// A uniform buffer holding a `P`, bindable only to a [`Kernel<P>`].
struct Params<P> {
    buffer: wgpu::Buffer,
    kind: PhantomData<fn(P)>,
}

/// Builds dispatches for one device; buffers are bound when the dispatch is built. Every
/// launcher returns an error, not a panic, when a size exceeds what the kernels index.
pub struct Builder<'a> {
    ctx: &'a GpuContext,
    k: &'a Pipelines,
}

impl<'a> Builder<'a> {
    /// A builder on a context (compiles the pipelines on first use).
    pub fn new(ctx: &'a GpuContext) -> Self {
        Self {
            ctx,
            k: ctx.pipelines(),
        }
    }

    fn uniform<P: Uniform>(&self, v: &P) -> Params<P> {
        use wgpu::util::DeviceExt;
        let buffer = self
            .ctx
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(P::LAYOUT.name),
                contents: bytemuck::bytes_of(v),
                usage: wgpu::BufferUsages::UNIFORM,
            });
        Params {
            buffer,
            kind: PhantomData,
        }
    }

    /// A dispatch of `kernel` with `params` at binding 0 and `buffers` at theirs.
    fn dispatch<P>(
        &self,
        kernel: &Kernel<P>,
        params: &Params<P>,
        buffers: &[(u32, &wgpu::Buffer)],
        workgroups: [u32; 3],
    ) -> Dispatch {
        let entries: Vec<wgpu::BindGroupEntry> = std::iter::once((0, &params.buffer))
            .chain(buffers.iter().copied())
            .map(|(binding, b)| wgpu::BindGroupEntry {
                binding,
                resource: b.as_entire_binding(),
            })
            .collect();
        let bind_group = self
            .ctx
            .device
            .create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &kernel.pipeline.get_bind_group_layout(0),
                entries: &entries,
            });
        Dispatch {
            pipeline: kernel.pipeline.clone(),
            bind_group,
            workgroups,
        }
    }

    /// Workgroups of `per_group` threads for `threads` threads, folded over x and y.
    fn fold(&self, threads: u32, per_group: u32) -> [u32; 3] {
        let max = self
            .ctx
            .device
            .limits()
            .max_compute_workgroups_per_dimension;
        fold_1d(threads.div_ceil(per_group), max)
    }

    /// A dispatch of a one-thread-per-element kernel over `threads` elements.
    fn per_element<P: Uniform>(
        &self,
        kernel: &Kernel<P>,
        params: &P,
        buffers: &[(u32, &wgpu::Buffer)],
        threads: u32,
    ) -> Dispatch {
        let ub = self.uniform(params);
        self.dispatch(kernel, &ub, buffers, self.fold(threads, shaders::WG_1D))
    }

    /// A small placeholder bound where a kernel's optional input is absent.
    pub fn dummy(&self) -> wgpu::Buffer {
        self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("dummy"),
            size: 16,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        })
    }

    /// The class of this builder's adapter (what the tiling heuristic plans for).
    pub fn device_class(&self) -> DeviceClass {
        DeviceClass::of(&self.ctx.summary.device_type)
    }

    /// Convolution with the plan [`tiling::heuristic`] picks for this adapter. One or two
    /// dispatches.
    #[allow(clippy::too_many_arguments)] // one buffer per kernel binding
    pub fn conv2d(
        &self,
        c: &Conv2d,
        batch: usize,
        input: Shape,
        x: &wgpu::Buffer,
        weight: &wgpu::Buffer,
        bias: Option<&wgpu::Buffer>,
        residual: Option<&wgpu::Buffer>,
        y: &wgpu::Buffer,
    ) -> Result<Vec<Dispatch>> {
        let plan = tiling::heuristic(&ConvShape::new(c, batch, input)?, self.device_class())?;
        self.conv2d_planned(&plan, c, x, weight, bias, residual, y)
    }

    /// Convolution `c` as `plan` says (a plan of `c`'s shape: see [`tiling::candidates`]);
    /// `weight` is `[out_c, in_c / groups, kh, kw]`. The direct kernel's weights are
    /// repacked into a buffer of their own here, once (submitted now, ahead of any later
    /// submission). One or two dispatches (split-K adds its reduction).
    #[allow(clippy::too_many_arguments)] // one buffer per kernel binding
    pub fn conv2d_planned(
        &self,
        plan: &ConvPlan,
        c: &Conv2d,
        x: &wgpu::Buffer,
        weight: &wgpu::Buffer,
        bias: Option<&wgpu::Buffer>,
        residual: Option<&wgpu::Buffer>,
        y: &wgpu::Buffer,
    ) -> Result<Vec<Dispatch>> {
        let s = plan.shape;
        let input = Shape::new(s.input.0 as usize, s.input.1 as usize, s.input.2 as usize);
        // The plan must be one `tiling` makes for this very convolution: a kernel that
        // cannot compute it (a direct plan for groups, a hand-edited split) is an error,
        // not a wrong result.
        let remade = tiling::plan_for(&s, plan.kernel, plan.k_splits > 1);
        if ConvShape::new(c, s.batch as usize, input)? != s || remade.ok() != Some(*plan) {
            return Err(Error::InvalidArg(format!(
                "plan {} is not a plan of conv {}",
                plan.label(),
                ConvShape::new(c, s.batch as usize, input)?.key()
            )));
        }
        let params = |s: &ConvShape| ConvParams {
            batch: s.batch,
            in_c: s.input.0,
            in_h: s.input.1,
            in_w: s.input.2,
            out_c: s.output.0,
            out_h: s.output.1,
            out_w: s.output.2,
            groups: s.groups,
            kh: s.kernel.0,
            kw: s.kernel.1,
            stride_h: s.stride.0,
            stride_w: s.stride.1,
            pad_h: s.padding.0,
            pad_w: s.padding.1,
            has_bias: bias.is_some() as u32,
            has_res: residual.is_some() as u32,
            act: c.act.code(),
            k_splits: plan.k_splits,
            k_chunk: plan.k_chunk,
            _pad0: 0,
        };
        let prm = params(&s);
        let out_len = count(
            "conv2d output",
            &[
                c.out_c,
                s.batch as usize,
                s.output.1 as usize,
                s.output.2 as usize,
            ],
        )?;
        let dummy = self.dummy();
        let (bias, residual) = (bias.unwrap_or(&dummy), residual.unwrap_or(&dummy));
        let mut ub = self.uniform(&prm);
        let mut out = Vec::new();
        // A space-to-depth plan runs the direct kernel on the lowered convolution, over
        // the input laid out by `space_to_depth` (which reads the original's parameters).
        let (s, prm, x, weight) = match plan.kernel {
            ConvKernel::SpaceToDepth(_) => {
                let t = tiling::s2d_shape(&s).ok_or_else(|| {
                    Error::InvalidArg(format!("conv {} has no space-to-depth form", s.key()))
                })?;
                let n = |v: u32| v as usize;
                let len = count(
                    "space-to-depth input",
                    &[n(t.batch), n(t.input.0), n(t.input.1), n(t.input.2)],
                )?;
                let lowered = buffers::zeroed(self.ctx, "space-to-depth input", len as u64 * 4);
                out.push(self.dispatch(
                    &self.k.conv_space_to_depth,
                    &ub,
                    &[(1, x), (5, &lowered)],
                    self.fold(len, shaders::WG_1D),
                ));
                let lowered_prm = params(&t);
                let packed = self.pack_conv_weights(
                    &self.k.conv_pack_weights_s2d,
                    &prm,
                    &lowered_prm,
                    weight,
                )?;
                ub = self.uniform(&lowered_prm);
                (t, lowered_prm, lowered, packed)
            }
            ConvKernel::Direct(_) => {
                let packed =
                    self.pack_conv_weights(&self.k.conv_pack_weights, &prm, &prm, weight)?;
                (s, prm, x.clone(), packed)
            }
            _ => (s, prm, x.clone(), weight.clone()),
        };
        let x = &x;
        let max = self
            .ctx
            .device
            .limits()
            .max_compute_workgroups_per_dimension;
        // What the kernels do with their sums (the store's alignment is the kernel's own).
        let epilogue = shaders::Epilogue {
            act: c.act.code(),
            residual: prm.has_res != 0,
            split: plan.k_splits > 1,
            out_aligned: false,
        };
        let (pipeline, weight, workgroups) = match plan.kernel {
            ConvKernel::Depthwise { wide } => {
                let bufs = [
                    (1, x),
                    (2, &weight),
                    (3, bias),
                    (4, residual),
                    (5, y),
                    (7, x),
                ];
                let v = shaders::DepthwiseVariant {
                    spec: DirectSpec::depthwise(c.kernel, c.stride),
                    rows: tiling::depthwise_row_align(&s, wide),
                    epilogue: shaders::Epilogue {
                        out_aligned: tiling::depthwise_out_aligned(&s),
                        ..epilogue
                    },
                    dims: [s.input.1, s.input.2, s.output.1, s.output.2, s.output.0],
                    wide,
                    out_pairs: tiling::depthwise_out_pairs(&s, wide),
                };
                let k = self.k.depthwise(&self.ctx.device, v);
                return Ok(vec![self.dispatch(
                    &k,
                    &ub,
                    &bufs,
                    fold_1d(plan.workgroups[0], max),
                )]);
            }
            ConvKernel::NarrowIn => {
                let v = shaders::NarrowInVariant {
                    in_c: s.input.0,
                    out_c: s.output.0,
                    bias: prm.has_bias != 0,
                    residual: prm.has_res != 0,
                    act: c.act.code(),
                };
                // The generated kernel declares the bias and residual only when it reads
                // them, and a bind group lists exactly the bindings of its layout.
                let mut bufs = vec![(1, x), (2, &weight), (5, y), (7, x)];
                if v.bias {
                    bufs.push((3, bias));
                }
                if v.residual {
                    bufs.push((4, residual));
                }
                let [fx, fy, _] = fold_1d(plan.workgroups[0], max);
                let z = plan.workgroups[2];
                if z > max {
                    return Err(Error::Unsupported(format!(
                        "conv2d of {z} samples (at most {max})"
                    )));
                }
                let k = self.k.narrow_in(&self.ctx.device, v);
                return Ok(vec![self.dispatch(&k, &ub, &bufs, [fx, fy, z])]);
            }
            ConvKernel::Gemm(tile) => {
                let k = match (tile == ConvTile::NARROW, c.is_pointwise()) {
                    (false, false) => self.k.conv.clone(),
                    (false, true) => self.k.conv_pointwise.clone(),
                    (true, false) => self.k.conv_narrow.clone(),
                    (true, true) => self.k.conv_narrow_pointwise.clone(),
                };
                (k, weight, plan.workgroups)
            }
            ConvKernel::Direct(tile) | ConvKernel::SpaceToDepth(tile) => {
                let spec = tiling::direct_spec(&s);
                let rows = tiling::direct_row_align(&s, tile);
                let epilogue = shaders::Epilogue {
                    out_aligned: tiling::direct_out_aligned(&s, tile),
                    ..epilogue
                };
                let k = self
                    .k
                    .conv_direct(&self.ctx.device, tile, spec, rows, epilogue);
                let [x, _, z] = plan.workgroups;
                let [fx, fy, _] = fold_1d(x, max);
                if z > max {
                    return Err(Error::Unsupported(format!(
                        "conv2d of {z} samples x reduction slices (at most {max})"
                    )));
                }
                (k, weight, [fx, fy, z])
            }
        };
        // `main` and `single` of conv_direct.wgsl also read the input as vec4s (binding
        // 7); its `pointwise` entry and conv2d.wgsl do not, and a bind group lists exactly
        // the bindings of its layout.
        let vec_view = match plan.kernel {
            ConvKernel::Direct(t) | ConvKernel::SpaceToDepth(t) => {
                t.entry(tiling::direct_spec(&s)) != "pointwise"
            }
            _ => false,
        };
        let partial = if plan.k_splits > 1 {
            buffers::zeroed(self.ctx, "split-k partial sums", plan.scratch_bytes)
        } else {
            // Its own placeholder: a buffer bound read-write may not alias a read binding.
            self.dummy()
        };
        let mut bufs = vec![
            (1, x),
            (2, &weight),
            (3, bias),
            (4, residual),
            (5, y),
            (6, &partial),
        ];
        if vec_view {
            bufs.push((7, x));
        }
        out.push(self.dispatch(&pipeline, &ub, &bufs, workgroups));
        if plan.k_splits > 1 {
            out.push(self.dispatch(
                &self.k.conv_splitk_reduce,
                &ub,
                &[(3, bias), (4, residual), (5, y), (6, &partial)],
                self.fold(out_len, shaders::WG_1D),
            ));
        }
        Ok(out)
    }

    /// The direct kernel's weights for the convolution `run`: `[out_c][k]` repacked to
    /// `[k][out_c rounded up to CONV_DIRECT_CO_PAD]` by `kernel` (`pack_weights`, or
    /// `pack_weights_s2d` for the lowered form of the convolution `prm`; else `prm` is
    /// `run`), submitted now (queue order puts it before every later submission, so no
    /// wait).
    fn pack_conv_weights(
        &self,
        kernel: &Kernel<ConvParams>,
        prm: &ConvParams,
        run: &ConvParams,
        weight: &wgpu::Buffer,
    ) -> Result<wgpu::Buffer> {
        let pad = shaders::CONV_DIRECT_CO_PAD as usize;
        let k = run.in_c as usize * run.kh as usize * run.kw as usize;
        let values = count(
            "packed conv2d weights",
            &[k, (run.out_c as usize).div_ceil(pad), pad],
        )?;
        let bytes = values as u64 * 4;
        let max_binding = self.ctx.device.limits().max_storage_buffer_binding_size;
        if bytes > max_binding {
            return Err(Error::Unsupported(format!(
                "packed conv2d weights of {bytes} bytes exceed the device's {max_binding}-byte binding"
            )));
        }
        let packed = buffers::zeroed(self.ctx, "packed conv weights", bytes);
        let ub = self.uniform(prm);
        let d = self.dispatch(
            kernel,
            &ub,
            &[(1, weight), (5, &packed)],
            self.fold(values, shaders::WG_1D),
        );
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        super::dispatch::encode_all(&mut enc.begin_compute_pass(&Default::default()), [&d]);
        self.ctx.queue.submit([enc.finish()]);
        Ok(packed)
    }

    /// Fully connected layer `y = act(W x + b)` on `batch` vectors, for the block of
    /// output features `o_base..o_base + rows` whose weight rows `weight` holds.
    #[allow(clippy::too_many_arguments)] // one buffer per kernel binding
    pub fn linear(
        &self,
        in_f: usize,
        out_f: usize,
        (o_base, rows): (usize, usize),
        act: Act,
        batch: usize,
        x: &wgpu::Buffer,
        weight: &wgpu::Buffer,
        bias: Option<&wgpu::Buffer>,
        y: &wgpu::Buffer,
    ) -> Result<Dispatch> {
        count("linear input", &[batch, in_f])?;
        count("linear output", &[batch, out_f])?;
        count("linear weight block", &[rows, in_f])?;
        let dim = |v: usize| u32_of("linear dimension", v);
        let prm = LinearParams {
            batch: dim(batch)?,
            in_f: dim(in_f)?,
            out_f: dim(out_f)?,
            has_bias: bias.is_some() as u32,
            act: act.code(),
            o_base: dim(o_base)?,
            _pad0: 0,
            _pad1: 0,
        };
        let ub = self.uniform(&prm);
        let dummy = self.dummy();
        let bufs = [(1, x), (2, weight), (3, bias.unwrap_or(&dummy)), (4, y)];
        let wg = [
            dim(rows)?,
            prm.batch.div_ceil(shaders::LINEAR_BATCH_TILE),
            1,
        ];
        Ok(self.dispatch(&self.k.linear, &ub, &bufs, wg))
    }

    /// Pooling of `batch` tensors of shape `input`.
    pub fn pool(
        &self,
        kind: PoolKind,
        batch: usize,
        input: Shape,
        x: &wgpu::Buffer,
        y: &wgpu::Buffer,
    ) -> Result<Dispatch> {
        let window = |p: Pool| (p, p.out_len(input.h), p.out_len(input.w));
        let (mode, (win, oh, ow)) = match kind {
            PoolKind::Max(p) => (PoolMode::Max, window(p)),
            PoolKind::Avg(p) => (PoolMode::Avg, window(p)),
            PoolKind::Adaptive(h, w) => {
                let one = Pool {
                    kernel: 1,
                    stride: 1,
                    padding: 0,
                    ceil: false,
                };
                (PoolMode::Adaptive, (one, Some(h), Some(w)))
            }
        };
        let (Some(oh), Some(ow)) = (oh, ow) else {
            return Err(Error::InvalidArg(format!(
                "{kind:?}: window larger than its padded input {input}"
            )));
        };
        count("pool input", &[batch, input.c, input.h, input.w])?;
        let out_len = count("pool output", &[batch, input.c, oh, ow])?;
        let dim = |v: usize| u32_of("pool dimension", v);
        let prm = PoolParams {
            batch: dim(batch)?,
            c: dim(input.c)?,
            in_h: dim(input.h)?,
            in_w: dim(input.w)?,
            out_h: dim(oh)?,
            out_w: dim(ow)?,
            kernel: dim(win.kernel)?,
            stride: dim(win.stride)?,
            pad: dim(win.padding)?,
            mode: mode.code(),
            _pad0: 0,
            _pad1: 0,
        };
        Ok(self.per_element(&self.k.pool, &prm, &[(1, x), (2, y)], out_len))
    }

    /// `y = act(a + b)` over `n` elements.
    pub fn add(
        &self,
        n: usize,
        act: Act,
        a: &wgpu::Buffer,
        b: &wgpu::Buffer,
        y: &wgpu::Buffer,
    ) -> Result<Dispatch> {
        self.eltwise(
            EltwiseMode::Add,
            n,
            act,
            (1, 1),
            [a, b, y],
            Extra::default(),
        )
    }

    /// `y = act(a)` over `n` elements.
    pub fn activation(
        &self,
        n: usize,
        act: Act,
        a: &wgpu::Buffer,
        y: &wgpu::Buffer,
    ) -> Result<Dispatch> {
        let dummy = self.dummy();
        self.eltwise(
            EltwiseMode::Activation,
            n,
            act,
            (1, 1),
            [a, &dummy, y],
            Extra::default(),
        )
    }

    /// Batch norm as `y = a * ss[2c] + ss[2c+1]` with interleaved per-channel scale/shift.
    pub fn scale_shift(
        &self,
        n: usize,
        channels: usize,
        inner: usize,
        a: &wgpu::Buffer,
        ss: &wgpu::Buffer,
        y: &wgpu::Buffer,
    ) -> Result<Dispatch> {
        let mode = EltwiseMode::ScaleShift;
        self.eltwise(
            mode,
            n,
            Act::None,
            (channels, inner),
            [a, ss, y],
            Extra::default(),
        )
    }

    /// `y = a * b[i / inner]` over `n` elements: `inner` 1 for operands of one shape, the
    /// plane for a per-channel `b`.
    pub fn mul(
        &self,
        n: usize,
        inner: usize,
        a: &wgpu::Buffer,
        b: &wgpu::Buffer,
        y: &wgpu::Buffer,
    ) -> Result<Dispatch> {
        self.eltwise(
            EltwiseMode::Mul,
            n,
            Act::None,
            (1, inner),
            [a, b, y],
            Extra::default(),
        )
    }

    /// Layer norm over the `channels` of each of `pixels` pixels (N x plane, planes of
    /// `inner` values), `wb` holding interleaved weight and bias.
    #[allow(clippy::too_many_arguments)]
    pub fn layer_norm(
        &self,
        pixels: usize,
        channels: usize,
        inner: usize,
        eps: f32,
        a: &wgpu::Buffer,
        wb: &wgpu::Buffer,
        y: &wgpu::Buffer,
    ) -> Result<Dispatch> {
        let mode = EltwiseMode::LayerNorm;
        self.eltwise(
            mode,
            pixels,
            Act::None,
            (channels, inner),
            [a, wb, y],
            Extra {
                eps,
                ..Extra::default()
            },
        )
    }

    /// `y = min(max(a, lo), hi)` over `n` elements.
    pub fn clip(
        &self,
        n: usize,
        lo: f32,
        hi: f32,
        a: &wgpu::Buffer,
        y: &wgpu::Buffer,
    ) -> Result<Dispatch> {
        let dummy = self.dummy();
        self.eltwise(
            EltwiseMode::Clip,
            n,
            Act::None,
            (1, 1),
            [a, &dummy, y],
            Extra {
                eps: lo,
                hi,
                ..Extra::default()
            },
        )
    }

    /// Copies one input of a channel concatenation: `batch` samples of `block` values into
    /// the output's samples of `out_block` values, from `offset` on.
    pub fn concat_part(
        &self,
        batch: usize,
        (block, out_block, offset): (usize, usize, usize),
        a: &wgpu::Buffer,
        y: &wgpu::Buffer,
    ) -> Result<Dispatch> {
        let dummy = self.dummy();
        let extra = Extra {
            offset: u32_of("concat offset", offset)?,
            ..Extra::default()
        };
        let n = batch.saturating_mul(block);
        self.eltwise(
            EltwiseMode::Concat,
            n,
            Act::None,
            (block, out_block),
            [a, &dummy, y],
            extra,
        )
    }

    /// `eltwise.wgsl` in `mode` on `n` threads over a tensor laid out `[outer, channels,
    /// inner]`, with buffers `[a, b, y]` and the fields only some modes read (`extra`).
    fn eltwise(
        &self,
        mode: EltwiseMode,
        n: usize,
        act: Act,
        (channels, inner): (usize, usize),
        [a, b, y]: [&wgpu::Buffer; 3],
        extra: Extra,
    ) -> Result<Dispatch> {
        let prm = EltwiseParams {
            n: u32_of("element-wise length", n)?,
            mode: mode.code(),
            act: act.code(),
            channels: u32_of("element-wise channels", channels)?,
            inner: u32_of("element-wise plane", inner)?,
            eps: extra.eps,
            offset: extra.offset,
            hi: extra.hi,
        };
        let bufs = [(1, a), (2, b), (3, y)];
        Ok(self.per_element(&self.k.eltwise, &prm, &bufs, prm.n))
    }

    /// Pruning mask over a `[outer, channels, inner]` tensor of `n` elements.
    pub fn mask(
        &self,
        n: usize,
        channels: usize,
        inner: usize,
        x: &wgpu::Buffer,
        keep: &wgpu::Buffer,
        y: &wgpu::Buffer,
    ) -> Result<Dispatch> {
        let prm = MaskParams {
            n: u32_of("masked length", n)?,
            channels: u32_of("masked channels", channels)?,
            inner: u32_of("masked plane", inner)?,
            _pad0: 0,
        };
        let bufs = [(1, x), (2, keep), (3, y)];
        Ok(self.per_element(&self.k.mask, &prm, &bufs, prm.n))
    }

    /// The parameters of `quantize.wgsl`, checked: `group_len` divides nothing when 0,
    /// the shaders shift by `bits` (below 32) and index bits with `u32`.
    fn quantize_params(numel: usize, group_len: usize, bits: u32) -> Result<QuantizeParams> {
        if group_len == 0 || !(1..32).contains(&bits) {
            return Err(Error::InvalidArg(format!(
                "quantizing {numel} values in groups of {group_len} at {bits} bits"
            )));
        }
        // The shader rounds `numel * bits + 31` down to whole words, in u32.
        let padded_bits = numel
            .checked_mul(bits as usize)
            .and_then(|b| b.checked_add(31));
        u32_of("quantized bit count", padded_bits.unwrap_or(usize::MAX))?;
        Ok(QuantizeParams {
            numel: u32_of("quantized length", numel)?,
            group_len: u32_of("quantization group", group_len)?,
            groups: u32_of("quantization groups", numel / group_len)?,
            bits,
        })
    }

    /// Min/max per group then quantize and pack: two dispatches writing `params`
    /// (`numel / group_len` x [`crate::cpu::QuantParams`]) and `words`.
    pub fn quantize_pack(
        &self,
        numel: usize,
        group_len: usize,
        bits: u32,
        x: &wgpu::Buffer,
        params: &wgpu::Buffer,
        words: &wgpu::Buffer,
    ) -> Result<[Dispatch; 2]> {
        let prm = Self::quantize_params(numel, group_len, bits)?;
        let ub = self.uniform(&prm);
        let max = self
            .ctx
            .device
            .limits()
            .max_compute_workgroups_per_dimension;
        let n_words = (prm.numel * bits).div_ceil(32);
        Ok([
            self.dispatch(
                &self.k.q_minmax,
                &ub,
                &[(1, x), (2, params)],
                fold_1d(prm.groups, max),
            ),
            self.dispatch(
                &self.k.q_pack,
                &ub,
                &[(1, x), (2, params), (3, words)],
                self.fold(n_words, shaders::WG_1D),
            ),
        ])
    }

    /// Unpack and dequantize `numel` values from `words` with per-group `params`.
    pub fn unpack_dequantize(
        &self,
        numel: usize,
        group_len: usize,
        bits: u32,
        params: &wgpu::Buffer,
        words: &wgpu::Buffer,
        y: &wgpu::Buffer,
    ) -> Result<Dispatch> {
        let prm = Self::quantize_params(numel, group_len, bits)?;
        let bufs = [(2, params), (3, words), (4, y)];
        Ok(self.per_element(&self.k.q_unpack, &prm, &bufs, prm.numel))
    }

    /// Copies `n` values (a multiple of 4) from `x` to `y`: the memory roofline of the
    /// kernel efficiency table.
    pub fn copy(&self, n: usize, x: &wgpu::Buffer, y: &wgpu::Buffer) -> Result<Dispatch> {
        if !n.is_multiple_of(4) {
            return Err(Error::InvalidArg(format!(
                "the copy kernel moves whole vec4s, not {n} values"
            )));
        }
        let prm = CopyParams {
            n: u32_of("copied vec4s", n / 4)?,
            _pad0: 0,
            _pad1: 0,
            _pad2: 0,
        };
        Ok(self.per_element(&self.k.copy, &prm, &[(1, x), (2, y)], prm.n))
    }
}
