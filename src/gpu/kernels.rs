//! Compute pipelines (compiled once per context) and the dispatch records that the
//! executor and the one-shot launchers encode.

use super::context::GpuContext;
use super::shaders::{self, ConvTile};
use crate::model::{Act, Conv2d, Pool, Shape};

/// One compute dispatch ready to encode: pipeline, its bind group and workgroup counts.
#[derive(Clone, Debug)]
pub struct Dispatch {
    pub(crate) pipeline: wgpu::ComputePipeline,
    pub(crate) bind_group: wgpu::BindGroup,
    pub(crate) workgroups: [u32; 3],
}

impl Dispatch {
    /// Records the dispatch into a compute pass.
    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        let [x, y, z] = self.workgroups;
        pass.dispatch_workgroups(x, y, z);
    }
}

/// Every pipeline splitbench uses.
#[derive(Debug)]
pub(crate) struct Kernels {
    conv: wgpu::ComputePipeline,
    conv_pointwise: wgpu::ComputePipeline,
    conv_narrow: wgpu::ComputePipeline,
    conv_narrow_pointwise: wgpu::ComputePipeline,
    conv_splitk_reduce: wgpu::ComputePipeline,
    depthwise: wgpu::ComputePipeline,
    linear: wgpu::ComputePipeline,
    pool: wgpu::ComputePipeline,
    eltwise: wgpu::ComputePipeline,
    mask: wgpu::ComputePipeline,
    q_minmax: wgpu::ComputePipeline,
    q_pack: wgpu::ComputePipeline,
    q_unpack: wgpu::ComputePipeline,
}

fn pipeline(
    dev: &wgpu::Device,
    file: &str,
    entry: &str,
    constants: &[(&str, f64)],
) -> wgpu::ComputePipeline {
    pipeline_tiled(dev, file, entry, constants, shaders::ConvTile::WIDE)
}

fn pipeline_tiled(
    dev: &wgpu::Device,
    file: &str,
    entry: &str,
    constants: &[(&str, f64)],
    tile: shaders::ConvTile,
) -> wgpu::ComputePipeline {
    let src = shaders::source_for(file, tile).expect("registered shader file");
    let module = dev.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(file),
        source: wgpu::ShaderSource::Wgsl(src.into()),
    });
    dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(entry),
        layout: None,
        module: &module,
        entry_point: Some(entry),
        compilation_options: wgpu::PipelineCompilationOptions {
            constants,
            ..Default::default()
        },
        cache: None,
    })
}

impl Kernels {
    fn new(dev: &wgpu::Device) -> Self {
        Self {
            conv: pipeline(dev, "conv2d.wgsl", "main", &[]),
            conv_pointwise: pipeline(dev, "conv2d.wgsl", "main", &[("POINTWISE", 1.0)]),
            conv_narrow: pipeline_tiled(dev, "conv2d.wgsl", "main", &[], ConvTile::NARROW),
            conv_narrow_pointwise: pipeline_tiled(
                dev,
                "conv2d.wgsl",
                "main",
                &[("POINTWISE", 1.0)],
                ConvTile::NARROW,
            ),
            conv_splitk_reduce: pipeline(dev, "conv2d.wgsl", "splitk_reduce", &[]),
            depthwise: pipeline(dev, "depthwise.wgsl", "main", &[]),
            linear: pipeline(dev, "linear.wgsl", "main", &[]),
            pool: pipeline(dev, "pool.wgsl", "main", &[]),
            eltwise: pipeline(dev, "eltwise.wgsl", "main", &[]),
            mask: pipeline(dev, "mask.wgsl", "main", &[]),
            q_minmax: pipeline(dev, "quantize.wgsl", "group_minmax", &[]),
            q_pack: pipeline(dev, "quantize.wgsl", "quantize_pack", &[]),
            q_unpack: pipeline(dev, "quantize.wgsl", "unpack_dequantize", &[]),
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ConvParams {
    batch: u32,
    in_c: u32,
    in_h: u32,
    in_w: u32,
    out_c: u32,
    out_h: u32,
    out_w: u32,
    groups: u32,
    kh: u32,
    kw: u32,
    stride_h: u32,
    stride_w: u32,
    pad_h: u32,
    pad_w: u32,
    has_bias: u32,
    has_res: u32,
    act: u32,
    k_splits: u32,
    k_chunk: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct LinearParams {
    batch: u32,
    in_f: u32,
    out_f: u32,
    has_bias: u32,
    act: u32,
    o_base: u32,
    _pad: [u32; 2],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct PoolParams {
    batch: u32,
    c: u32,
    in_h: u32,
    in_w: u32,
    out_h: u32,
    out_w: u32,
    kernel: u32,
    stride: u32,
    pad: u32,
    mode: u32,
    _pad: [u32; 2],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct EltParams {
    n: u32,
    mode: u32,
    act: u32,
    channels: u32,
    inner: u32,
    _pad: [u32; 3],
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct MaskParams {
    n: u32,
    channels: u32,
    inner: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct QuantShaderParams {
    numel: u32,
    group_len: u32,
    groups: u32,
    bits: u32,
}

/// How a convolution is tiled on the GPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvPlan {
    /// Tile shape.
    pub tile: ConvTile,
    /// Slices of the reduction (1 = no split-K).
    pub k_splits: u32,
    /// Reduction length per slice (a multiple of the K tile).
    pub k_chunk: u32,
    /// Workgroups to dispatch.
    pub workgroups: [u32; 3],
    /// Bytes of partial sums when split (0 otherwise).
    pub scratch_bytes: u64,
}

/// Largest split-K scratch buffer per convolution.
const SPLITK_MAX_SCRATCH_BYTES: u64 = 16 << 20;

/// Chooses the tile (the one that pads the output least; ties go to the wide tile) and
/// split-K (when the output has fewer tiles than [`shaders::CONV_SPLITK_TARGET_WORKGROUPS`],
/// each slice keeping at least 4 K tiles).
pub fn conv_plan(c: &Conv2d, batch: usize, input: Shape) -> ConvPlan {
    let (oh, ow) = c.out_hw(input.h, input.w).expect("shape-checked graph");
    let n = u(batch * oh * ow);
    let m = u(c.out_c / c.groups);
    let k = u(c.in_c / c.groups * c.kernel.0 * c.kernel.1);
    let padded = |t: ConvTile| {
        n.div_ceil(t.tile_n()) as u64
            * t.tile_n() as u64
            * m.div_ceil(t.tile_m()) as u64
            * t.tile_m() as u64
    };
    let tile = if padded(ConvTile::NARROW) < padded(ConvTile::WIDE) {
        ConvTile::NARROW
    } else {
        ConvTile::WIDE
    };
    let tiles = n.div_ceil(tile.tile_n()) * m.div_ceil(tile.tile_m()) * u(c.groups);
    let out_bytes = (batch * c.out_c * oh * ow * 4) as u64;
    let k_tiles = k.div_ceil(shaders::CONV_TILE_K);
    let mut k_splits = 1;
    if tiles < shaders::CONV_SPLITK_TARGET_WORKGROUPS && !c.is_depthwise() {
        k_splits = shaders::CONV_SPLITK_TARGET_WORKGROUPS
            .div_ceil(tiles)
            .min(k_tiles / 4)
            .min((SPLITK_MAX_SCRATCH_BYTES / out_bytes.max(1)) as u32)
            .max(1);
    }
    let k_chunk = k_tiles.div_ceil(k_splits) * shaders::CONV_TILE_K;
    let k_splits = k.div_ceil(k_chunk).max(1);
    ConvPlan {
        tile,
        k_splits,
        k_chunk,
        workgroups: [
            n.div_ceil(tile.tile_n()),
            m.div_ceil(tile.tile_m()),
            u(c.groups) * k_splits,
        ],
        scratch_bytes: if k_splits > 1 {
            k_splits as u64 * out_bytes
        } else {
            0
        },
    }
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

/// Builds dispatches for one device; buffers are bound when the dispatch is built.
pub struct Builder<'a> {
    ctx: &'a GpuContext,
    k: &'a Kernels,
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

fn u(v: usize) -> u32 {
    u32::try_from(v).expect("tensor dimension fits u32 (checked by the executor)")
}

impl<'a> Builder<'a> {
    /// A builder on a context (compiles the pipelines on first use).
    pub fn new(ctx: &'a GpuContext) -> Self {
        let k = ctx.kernels.get_or_init(|| Kernels::new(&ctx.device));
        Self { ctx, k }
    }

    fn uniform<T: bytemuck::Pod>(&self, v: &T) -> wgpu::Buffer {
        use wgpu::util::DeviceExt;
        self.ctx
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("params"),
                contents: bytemuck::bytes_of(v),
                usage: wgpu::BufferUsages::UNIFORM,
            })
    }

    fn bind(
        &self,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[(u32, &wgpu::Buffer)],
    ) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .map(|(binding, b)| wgpu::BindGroupEntry {
                binding: *binding,
                resource: b.as_entire_binding(),
            })
            .collect();
        self.ctx
            .device
            .create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &pipeline.get_bind_group_layout(0),
                entries: &entries,
            })
    }

    fn dispatch(
        &self,
        pipeline: &wgpu::ComputePipeline,
        buffers: &[(u32, &wgpu::Buffer)],
        workgroups: [u32; 3],
    ) -> Dispatch {
        Dispatch {
            pipeline: pipeline.clone(),
            bind_group: self.bind(pipeline, buffers),
            workgroups,
        }
    }

    fn fold(&self, threads: usize, per_group: u32) -> [u32; 3] {
        let max = self
            .ctx
            .device
            .limits()
            .max_compute_workgroups_per_dimension;
        fold_1d(u(threads).div_ceil(per_group), max)
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

    /// Convolution (general, pointwise or depthwise kernel chosen from the shape; tile
    /// shape and split-K chosen by [`conv_plan`]). One or two dispatches.
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
    ) -> Vec<Dispatch> {
        let (oh, ow) = c.out_hw(input.h, input.w).expect("shape-checked graph");
        let plan = conv_plan(c, batch, input);
        let prm = ConvParams {
            batch: u(batch),
            in_c: u(c.in_c),
            in_h: u(input.h),
            in_w: u(input.w),
            out_c: u(c.out_c),
            out_h: u(oh),
            out_w: u(ow),
            groups: u(c.groups),
            kh: u(c.kernel.0),
            kw: u(c.kernel.1),
            stride_h: u(c.stride.0),
            stride_w: u(c.stride.1),
            pad_h: u(c.padding.0),
            pad_w: u(c.padding.1),
            has_bias: bias.is_some() as u32,
            has_res: residual.is_some() as u32,
            act: c.act.code(),
            k_splits: plan.k_splits,
            k_chunk: plan.k_chunk,
            _pad: 0,
        };
        let ub = self.uniform(&prm);
        let dummy = self.dummy();
        let out_len = batch * c.out_c * oh * ow;
        if c.is_depthwise() {
            let bufs = [
                (0, &ub),
                (1, x),
                (2, weight),
                (3, bias.unwrap_or(&dummy)),
                (4, residual.unwrap_or(&dummy)),
                (5, y),
            ];
            return vec![self.dispatch(
                &self.k.depthwise,
                &bufs,
                self.fold(out_len, shaders::WG_1D),
            )];
        }
        let partial = if plan.k_splits > 1 {
            super::buffers::zeroed(self.ctx, "split-k partial sums", plan.scratch_bytes)
        } else {
            // Its own placeholder: a buffer bound read-write may not alias a read binding.
            self.dummy()
        };
        let bufs = [
            (0, &ub),
            (1, x),
            (2, weight),
            (3, bias.unwrap_or(&dummy)),
            (4, residual.unwrap_or(&dummy)),
            (5, y),
            (6, &partial),
        ];
        let pipeline = match (plan.tile == ConvTile::NARROW, c.is_pointwise()) {
            (false, false) => &self.k.conv,
            (false, true) => &self.k.conv_pointwise,
            (true, false) => &self.k.conv_narrow,
            (true, true) => &self.k.conv_narrow_pointwise,
        };
        let mut out = vec![self.dispatch(pipeline, &bufs, plan.workgroups)];
        if plan.k_splits > 1 {
            out.push(self.dispatch(
                &self.k.conv_splitk_reduce,
                &[
                    (0, &ub),
                    (3, bias.unwrap_or(&dummy)),
                    (4, residual.unwrap_or(&dummy)),
                    (5, y),
                    (6, &partial),
                ],
                self.fold(out_len, shaders::WG_1D),
            ));
        }
        out
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
    ) -> Dispatch {
        let prm = LinearParams {
            batch: u(batch),
            in_f: u(in_f),
            out_f: u(out_f),
            has_bias: bias.is_some() as u32,
            act: act.code(),
            o_base: u(o_base),
            _pad: [0; 2],
        };
        let ub = self.uniform(&prm);
        let dummy = self.dummy();
        let bufs = [
            (0, &ub),
            (1, x),
            (2, weight),
            (3, bias.unwrap_or(&dummy)),
            (4, y),
        ];
        let wg = [u(rows), u(batch).div_ceil(shaders::LINEAR_BATCH_TILE), 1];
        self.dispatch(&self.k.linear, &bufs, wg)
    }

    /// Pooling of `batch` tensors of shape `input`.
    pub fn pool(
        &self,
        kind: PoolKind,
        batch: usize,
        input: Shape,
        x: &wgpu::Buffer,
        y: &wgpu::Buffer,
    ) -> Dispatch {
        let (mode, win, oh, ow) = match kind {
            PoolKind::Max(p) => (0, p, p.out_len(input.h), p.out_len(input.w)),
            PoolKind::Avg(p) => (1, p, p.out_len(input.h), p.out_len(input.w)),
            PoolKind::Adaptive(h, w) => (
                2,
                Pool {
                    kernel: 1,
                    stride: 1,
                    padding: 0,
                },
                Some(h),
                Some(w),
            ),
        };
        let (oh, ow) = (
            oh.expect("shape-checked graph"),
            ow.expect("shape-checked graph"),
        );
        let prm = PoolParams {
            batch: u(batch),
            c: u(input.c),
            in_h: u(input.h),
            in_w: u(input.w),
            out_h: u(oh),
            out_w: u(ow),
            kernel: u(win.kernel),
            stride: u(win.stride),
            pad: u(win.padding),
            mode,
            _pad: [0; 2],
        };
        let ub = self.uniform(&prm);
        self.dispatch(
            &self.k.pool,
            &[(0, &ub), (1, x), (2, y)],
            self.fold(batch * input.c * oh * ow, shaders::WG_1D),
        )
    }

    /// `y = act(a + b)` over `n` elements.
    pub fn add(
        &self,
        n: usize,
        act: Act,
        a: &wgpu::Buffer,
        b: &wgpu::Buffer,
        y: &wgpu::Buffer,
    ) -> Dispatch {
        self.eltwise(n, 0, act, 1, 1, a, b, y)
    }

    /// `y = act(a)` over `n` elements.
    pub fn activation(&self, n: usize, act: Act, a: &wgpu::Buffer, y: &wgpu::Buffer) -> Dispatch {
        let dummy = self.dummy();
        self.eltwise(n, 1, act, 1, 1, a, &dummy, y)
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
    ) -> Dispatch {
        self.eltwise(n, 2, Act::None, channels, inner, a, ss, y)
    }

    #[allow(clippy::too_many_arguments)] // the eltwise shader's whole parameter set
    fn eltwise(
        &self,
        n: usize,
        mode: u32,
        act: Act,
        channels: usize,
        inner: usize,
        a: &wgpu::Buffer,
        b: &wgpu::Buffer,
        y: &wgpu::Buffer,
    ) -> Dispatch {
        let prm = EltParams {
            n: u(n),
            mode,
            act: act.code(),
            channels: u(channels),
            inner: u(inner),
            _pad: [0; 3],
        };
        let ub = self.uniform(&prm);
        self.dispatch(
            &self.k.eltwise,
            &[(0, &ub), (1, a), (2, b), (3, y)],
            self.fold(n, shaders::WG_1D),
        )
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
    ) -> Dispatch {
        let prm = MaskParams {
            n: u(n),
            channels: u(channels),
            inner: u(inner),
            _pad: 0,
        };
        let ub = self.uniform(&prm);
        self.dispatch(
            &self.k.mask,
            &[(0, &ub), (1, x), (2, keep), (3, y)],
            self.fold(n, shaders::WG_1D),
        )
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
    ) -> [Dispatch; 2] {
        let groups = numel / group_len;
        let prm = QuantShaderParams {
            numel: u(numel),
            group_len: u(group_len),
            groups: u(groups),
            bits,
        };
        let ub = self.uniform(&prm);
        let max = self
            .ctx
            .device
            .limits()
            .max_compute_workgroups_per_dimension;
        let n_words = (numel * bits as usize).div_ceil(32);
        [
            self.dispatch(
                &self.k.q_minmax,
                &[(0, &ub), (1, x), (2, params)],
                fold_1d(u(groups), max),
            ),
            self.dispatch(
                &self.k.q_pack,
                &[(0, &ub), (1, x), (2, params), (3, words)],
                self.fold(n_words, shaders::WG_1D),
            ),
        ]
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
    ) -> Dispatch {
        let prm = QuantShaderParams {
            numel: u(numel),
            group_len: u(group_len),
            groups: u(numel / group_len),
            bits,
        };
        let ub = self.uniform(&prm);
        self.dispatch(
            &self.k.q_unpack,
            &[(0, &ub), (2, params), (3, words), (4, y)],
            self.fold(numel, shaders::WG_1D),
        )
    }
}
