//! Convolution tiling: which kernel and tile compute a convolution, with what split-K and
//! workgroup counts; after `shaders` in `gpu`'s order, knowing nothing of devices.
//!
//! [`ConvShape`] is a convolution with its sizes checked against the kernels' `u32`
//! indexing; [`candidates`] lists every plan that can compute it (what the autotuner
//! times), [`heuristic`] picks one without measuring (when timing is unavailable or
//! autotuning is off). Sizes come from users (batch, shapes), so every count is computed
//! with checked arithmetic: too large is an [`Error::Unsupported`], never a panic or a wrap.

use super::shaders::{self, ConvKernel, ConvTile, DirectSpec, DirectTile, RowAlign};
use crate::error::{Error, Result};
use crate::model::{Conv2d, Shape};

/// `v` as a shader `u32`, or an error naming `what`.
pub(crate) fn u32_of(what: &str, v: usize) -> Result<u32> {
    u32::try_from(v)
        .map_err(|_| Error::Unsupported(format!("{what} of {v} exceeds the kernels' u32 indexing")))
}

/// The product of `factors` as a shader `u32` (the element count of a tensor the kernel
/// indexes), or an error naming `what` and the factors.
pub(crate) fn count(what: &str, factors: &[usize]) -> Result<u32> {
    factors
        .iter()
        .try_fold(1usize, |acc, &f| acc.checked_mul(f))
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            let dims: Vec<String> = factors.iter().map(|f| f.to_string()).collect();
            Error::Unsupported(format!(
                "{what} of {} values exceeds the kernels' u32 indexing",
                dims.join(" x ")
            ))
        })
}

/// What kind of adapter a plan is for: the heuristic differs between GPUs (many lanes,
/// workgroup memory is fast) and CPU implementations of the GPU API (lavapipe: a few
/// cores, 8 lanes each, every memory access a scalar load).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceClass {
    /// A GPU (discrete, integrated, virtual or unknown).
    Gpu,
    /// A CPU implementation (`DeviceType::Cpu`).
    Cpu,
}

impl DeviceClass {
    /// The class of an adapter whose `device_type` is `Cpu`, `DiscreteGpu`, ...
    pub fn of(device_type: &str) -> Self {
        if device_type == "Cpu" {
            DeviceClass::Cpu
        } else {
            DeviceClass::Gpu
        }
    }
}

/// A convolution at a batch size, its sizes checked to fit the kernels' `u32` indexing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvShape {
    /// Samples.
    pub batch: u32,
    /// Input channels, height, width.
    pub input: (u32, u32, u32),
    /// Output channels, height, width.
    pub output: (u32, u32, u32),
    /// Kernel height and width.
    pub kernel: (u32, u32),
    /// Stride (height, width).
    pub stride: (u32, u32),
    /// Zero padding (height, width).
    pub padding: (u32, u32),
    /// Groups.
    pub groups: u32,
}

impl ConvShape {
    /// The shape of `c` on `batch` inputs of shape `input`; an error when the convolution
    /// is malformed, computes nothing, or a tensor exceeds the kernels' `u32` indexing.
    pub fn new(c: &Conv2d, batch: usize, input: Shape) -> Result<Self> {
        if c.groups == 0 || c.stride.0 == 0 || c.stride.1 == 0 {
            return Err(Error::InvalidArg(format!(
                "conv2d with groups {} and stride {:?}",
                c.groups, c.stride
            )));
        }
        let (oh, ow) = c.out_hw(input.h, input.w).ok_or_else(|| {
            Error::InvalidArg(format!(
                "conv2d kernel {:?} is larger than its padded input {input}",
                c.kernel
            ))
        })?;
        count("conv2d output pixels", &[batch, oh, ow])?;
        count("conv2d output", &[batch, c.out_c, oh, ow])?;
        count("conv2d input", &[batch, input.c, input.h, input.w])?;
        count(
            "conv2d reduction",
            &[c.in_c / c.groups, c.kernel.0, c.kernel.1],
        )?;
        let k = count(
            "conv2d weights",
            &[c.out_c, c.in_c / c.groups, c.kernel.0, c.kernel.1],
        )?;
        if batch == 0 || oh == 0 || ow == 0 || c.out_c / c.groups == 0 || k == 0 {
            return Err(Error::InvalidArg(format!(
                "conv2d of batch {batch} x {input} to {} channels computes nothing",
                c.out_c
            )));
        }
        let d = |v: usize| u32_of("conv2d dimension", v);
        Ok(Self {
            batch: d(batch)?,
            input: (d(input.c)?, d(input.h)?, d(input.w)?),
            output: (d(c.out_c)?, d(oh)?, d(ow)?),
            kernel: (d(c.kernel.0)?, d(c.kernel.1)?),
            stride: (d(c.stride.0)?, d(c.stride.1)?),
            padding: (d(c.padding.0)?, d(c.padding.1)?),
            groups: d(c.groups)?,
        })
    }

    /// Whether each output channel reads only its own input channel.
    pub fn is_depthwise(&self) -> bool {
        self.groups > 1 && self.groups == self.input.0 && self.groups == self.output.0
    }

    /// Whether the convolution is a plain GEMM (1x1, stride 1, no padding, no groups).
    pub fn is_pointwise(&self) -> bool {
        self.kernel == (1, 1) && self.stride == (1, 1) && self.padding == (0, 0) && self.groups == 1
    }

    /// Multiply-adds times 2.
    pub fn flops(&self) -> u64 {
        let (oc, oh, ow) = self.output;
        2 * self.batch as u64
            * oc as u64
            * oh as u64
            * ow as u64
            * (self.input.0 / self.groups) as u64
            * self.kernel.0 as u64
            * self.kernel.1 as u64
    }

    /// The key under which a tile choice is cached:
    /// `b<batch>-<c>x<h>x<w>-o<out_c>-k<kh>x<kw>-s<sh>x<sw>-p<ph>x<pw>-g<groups>`.
    pub fn key(&self) -> String {
        let (c, h, w) = self.input;
        format!(
            "b{}-{c}x{h}x{w}-o{}-k{}x{}-s{}x{}-p{}x{}-g{}",
            self.batch,
            self.output.0,
            self.kernel.0,
            self.kernel.1,
            self.stride.0,
            self.stride.1,
            self.padding.0,
            self.padding.1,
            self.groups
        )
    }

    fn out_bytes(&self) -> u64 {
        let (oc, oh, ow) = self.output;
        4 * self.batch as u64 * oc as u64 * oh as u64 * ow as u64
    }
}

/// How a convolution is computed on the GPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvPlan {
    /// The convolution planned.
    pub shape: ConvShape,
    /// Kernel and tile.
    pub kernel: ConvKernel,
    /// Slices of the reduction (1 = no split-K).
    pub k_splits: u32,
    /// Reduction length per slice: values of `k` for the GEMM (a multiple of its K tile),
    /// input channels for the direct kernel.
    pub k_chunk: u32,
    /// Workgroups to dispatch.
    pub workgroups: [u32; 3],
    /// Bytes of partial sums when split (0 otherwise).
    pub scratch_bytes: u64,
}

impl ConvPlan {
    /// The kernel's name, with `+splitk<n>` when the reduction is split.
    pub fn label(&self) -> String {
        if self.k_splits > 1 {
            format!("{}+splitk{}", self.kernel, self.k_splits)
        } else {
            self.kernel.to_string()
        }
    }
}

/// Largest split-K scratch buffer per convolution.
const SPLITK_MAX_SCRATCH_BYTES: u64 = 16 << 20;
/// Below this many threads a direct convolution on a GPU splits its reduction.
const DIRECT_SPLITK_TARGET_THREADS: u64 = 8192;
/// Most output channels for which the direct kernel's single-channel tiles are candidates.
const SINGLE_MAX_CHANNELS: u32 = 12;
/// Below this many workgroups of [`shaders::CONV_DIRECT_WG`] threads, the heuristic gives a
/// CPU adapter's direct convolution small workgroups, and the autotuner times them.
const SMALL_WG_BELOW: u64 = 16;
/// Fewest input channels per split-K slice of the direct convolution.
const DIRECT_MIN_CHANNELS_PER_SLICE: u32 = 8;

/// Split-K slices so that `threads` reach `target`, each slice at least `min_len` of
/// `len`, within the scratch limit; 1 when no split is needed.
fn splits(threads: u64, target: u64, len: u32, min_len: u32, out_bytes: u64) -> u32 {
    if threads >= target {
        return 1;
    }
    let want = target.div_ceil(threads.max(1)).min(u32::MAX as u64) as u32;
    want.min(len / min_len.max(1))
        .min((SPLITK_MAX_SCRATCH_BYTES / out_bytes.max(1)) as u32)
        .max(1)
}

/// The plan of the implicit GEMM with `tile`, split-K as [`shaders::CONV_SPLITK_TARGET_WORKGROUPS`]
/// asks (each slice at least 4 K tiles).
fn gemm(s: &ConvShape, tile: ConvTile) -> Result<ConvPlan> {
    let (oc, oh, ow) = s.output;
    let n = s.batch * oh * ow;
    let m = oc / s.groups;
    let k = (s.input.0 / s.groups) * s.kernel.0 * s.kernel.1;
    let tiles =
        n.div_ceil(tile.tile_n()) as u64 * m.div_ceil(tile.tile_m()) as u64 * s.groups as u64;
    let k_tiles = k.div_ceil(shaders::CONV_TILE_K);
    let target = shaders::CONV_SPLITK_TARGET_WORKGROUPS as u64;
    let k_splits = if s.is_depthwise() {
        1
    } else {
        splits(tiles, target, k_tiles, 4, s.out_bytes())
    };
    let k_chunk = k_tiles
        .div_ceil(k_splits)
        .checked_mul(shaders::CONV_TILE_K)
        .ok_or_else(|| Error::Unsupported(format!("conv2d reduction of {k} values")))?;
    let k_splits = k.div_ceil(k_chunk).max(1);
    let z = s
        .groups
        .checked_mul(k_splits)
        .ok_or_else(|| Error::Unsupported(format!("conv2d with {} groups", s.groups)))?;
    Ok(ConvPlan {
        shape: *s,
        kernel: ConvKernel::Gemm(tile),
        k_splits,
        k_chunk,
        workgroups: [n.div_ceil(tile.tile_n()), m.div_ceil(tile.tile_m()), z],
        scratch_bytes: if k_splits > 1 {
            k_splits as u64 * s.out_bytes()
        } else {
            0
        },
    })
}

/// Threads of the direct kernel with `tile` on `s` per sample and reduction slice: one per
/// channel group and pixel tile (`rows` x `tile.cols()` pixels of the plane, or `rows`
/// runs of 4 consecutive pixels for the pointwise loop).
fn direct_threads(s: &ConvShape, tile: DirectTile) -> u64 {
    let (oc, oh, ow) = s.output;
    let cols = tile.cols();
    let tiles = match direct_spec(s) {
        DirectSpec::Pw | DirectSpec::Pw4 | DirectSpec::Fc | DirectSpec::Ps2 if !tile.single => {
            (oh * ow).div_ceil(cols).div_ceil(tile.rows) as u64
        }
        _ => ow.div_ceil(cols) as u64 * oh.div_ceil(tile.rows) as u64,
    };
    oc.div_ceil(tile.channels()) as u64 * tiles
}

/// The plan of the direct kernel with `tile` and `k_splits` slices of the input channels
/// (clamped to what the channels allow).
fn direct(s: &ConvShape, tile: DirectTile, k_splits: u32) -> Result<ConvPlan> {
    if s.groups != 1 {
        return Err(Error::InvalidArg(format!(
            "the direct convolution computes ungrouped convolutions, not {} groups",
            s.groups
        )));
    }
    if tile.cols != shaders::CONV_DIRECT_COLS && (tile.single || tile.cg != 1 || !cols_fit(s, tile))
    {
        return Err(Error::InvalidArg(format!(
            "the direct tile {} ({} columns) runs only with one channel group, in the 3x3 \
             stride-1 loop on rows of 5 to 7 (7 columns) or of a multiple of 4 from 8 with \
             aligned windows (8 columns, also the 4-wide loop), not {}",
            ConvKernel::Direct(tile),
            tile.cols,
            s.key()
        )));
    }
    if tile.cg > 2 && !pointwise_groups(s) {
        return Err(Error::InvalidArg(format!(
            "the direct tile {} (4 channel groups) runs only the pointwise loop",
            ConvKernel::Direct(tile)
        )));
    }
    let cin = s.input.0;
    let mut k_chunk = cin.div_ceil(k_splits.clamp(1, cin));
    if direct_spec(s) == DirectSpec::Fc && !tile.single {
        // The fully connected loop reads 4 input channels per step.
        k_chunk = k_chunk.next_multiple_of(4);
    }
    let k_splits = cin.div_ceil(k_chunk);
    let threads = direct_threads(s, tile);
    let groups = threads.div_ceil(tile.wg as u64);
    let x = u32::try_from(groups)
        .map_err(|_| Error::Unsupported(format!("conv2d of {threads} direct threads")))?;
    let z = s
        .batch
        .checked_mul(k_splits)
        .ok_or_else(|| Error::Unsupported(format!("conv2d batch {}", s.batch)))?;
    Ok(ConvPlan {
        shape: *s,
        kernel: ConvKernel::Direct(tile),
        k_splits,
        k_chunk,
        workgroups: [x, 1, z],
        scratch_bytes: if k_splits > 1 {
            k_splits as u64 * s.out_bytes()
        } else {
            0
        },
    })
}

/// Most input channels of a strided convolution that [`s2d_shape`] lowers to stride 1 (the
/// stems: with more channels each loaded window already serves many products).
const S2D_MAX_IN_CHANNELS: u32 = 4;

/// The stride-1 convolution that computes `s` after `conv_direct.wgsl`'s `space_to_depth`
/// lays each `f x f` block of its input out as `f * f` channels, `f` its stride: channel
/// `c * f * f + py * f + px`, row `Y`, column `X` holds input row `Y f + py - pad_h`, column
/// `X f + px - pad_w` (0 outside). Its kernel is `ceil(k / f)` taps (those past `k` are zero
/// weights), without padding, on rows `out_h + kernel - 1` by `out_w + kernel - 1` rounded
/// up to a multiple of 4 (vec4-aligned rows). An 11x11 stride-4 stem becomes a 3x3 stride-1
/// convolution over 48 channels, whose loop reads each window row once for 3 kernel columns
/// instead of 11 strided scalar loads per column (the lowered kernel computes 144 taps for
/// 121); a 7x7 stride-2 stem a 4x4 one over 12 channels (`DirectSpec::Win4`, 64 taps for
/// 49). `None` unless `s` is ungrouped, of at most [`S2D_MAX_IN_CHANNELS`] input channels,
/// with equal strides from 2, and lowers to a 3x3 or 4x4 kernel (loops whose windows are
/// vector loads: other sizes would take the generic loop, no faster than `s` itself), with
/// every tensor within the kernels' `u32` indexing.
pub fn s2d_shape(s: &ConvShape) -> Option<ConvShape> {
    let f = s.stride.0;
    let k = (s.kernel.0.div_ceil(f), s.kernel.1.div_ceil(f));
    if s.groups != 1
        || s.input.0 > S2D_MAX_IN_CHANNELS
        || f < 2
        || s.stride.1 != f
        || !(k == (3, 3) || k == (4, 4))
    {
        return None;
    }
    let (_, oh, ow) = s.output;
    let channels = s.input.0.checked_mul(f)?.checked_mul(f)?;
    let h = oh.checked_add(k.0 - 1)?;
    let w = ow.checked_add(k.1 - 1)?.checked_next_multiple_of(4)?;
    let n = |v: u32| v as usize;
    count(
        "space-to-depth input",
        &[n(s.batch), n(channels), n(h), n(w)],
    )
    .ok()?;
    count(
        "space-to-depth weights",
        &[n(s.output.0), n(channels), n(k.0 * k.1)],
    )
    .ok()?;
    Some(ConvShape {
        batch: s.batch,
        input: (channels, h, w),
        output: s.output,
        kernel: k,
        stride: (1, 1),
        padding: (0, 0),
        groups: 1,
    })
}

/// The plan of the depthwise kernel: one thread per channel and tile of
/// [`shaders::DEPTHWISE_ROWS`] rows x 4 columns (8 if `wide`), workgroups of
/// [`shaders::DEPTHWISE_WG`] threads (the launcher folds them over x and y).
fn depthwise(s: &ConvShape, wide: bool) -> Result<ConvPlan> {
    if !s.is_depthwise() {
        return Err(Error::InvalidArg(format!(
            "the depthwise kernel computes depthwise convolutions, not {} groups of {} to {}",
            s.groups, s.input.0, s.output.0
        )));
    }
    if wide && !depthwise_can_widen(s) {
        return Err(Error::InvalidArg(format!(
            "the depthwise kernel's 8-column tiles need a 3x3 stride-1 kernel, not {}",
            s.key()
        )));
    }
    let (oc, oh, ow) = s.output;
    let cols = if wide { 8 } else { 4 };
    let tiles = ow.div_ceil(cols) as u64 * oh.div_ceil(shaders::DEPTHWISE_ROWS) as u64;
    let threads = tiles * oc as u64 * s.batch as u64;
    let groups = u32::try_from(threads.div_ceil(shaders::DEPTHWISE_WG as u64))
        .map_err(|_| Error::Unsupported(format!("depthwise conv of {threads} threads")))?;
    Ok(ConvPlan {
        shape: *s,
        kernel: ConvKernel::Depthwise { wide },
        k_splits: 1,
        k_chunk: 1,
        workgroups: [groups, 1, 1],
        scratch_bytes: 0,
    })
}

/// The split-K the heuristic gives the direct kernel on a GPU.
fn direct_splits(s: &ConvShape, tile: DirectTile) -> u32 {
    let threads = direct_threads(s, tile) * s.batch as u64;
    splits(
        threads,
        DIRECT_SPLITK_TARGET_THREADS,
        s.input.0,
        DIRECT_MIN_CHANNELS_PER_SLICE,
        s.out_bytes(),
    )
}

/// The plan of `kernel` for `s`, split-K as the heuristic would split it on a GPU
/// (`split` true) or not at all; an error when the kernel cannot compute `s`.
pub fn plan_for(s: &ConvShape, kernel: ConvKernel, split: bool) -> Result<ConvPlan> {
    match kernel {
        ConvKernel::Depthwise { wide } => depthwise(s, wide),
        ConvKernel::NarrowIn => narrow_in(s),
        ConvKernel::Gemm(tile) => gemm(s, tile),
        ConvKernel::Direct(tile) => {
            let k = if split { direct_splits(s, tile) } else { 1 };
            direct(s, tile, k)
        }
        ConvKernel::SpaceToDepth(tile) => {
            let t = s2d_shape(s).ok_or_else(|| {
                Error::InvalidArg(format!(
                    "space-to-depth lowers strided convolutions of at most \
                     {S2D_MAX_IN_CHANNELS} input channels to a 3x3 or 4x4 kernel, not {}",
                    s.key()
                ))
            })?;
            let k = if split { direct_splits(&t, tile) } else { 1 };
            Ok(s2d_plan(s, tile, direct(&t, tile, k)?))
        }
    }
}

/// Most weights (input x output channels) of a [`narrow_in_fits`] convolution: each is a
/// register-held value in every thread of the generated kernel (3 -> 64, a stem, is 192).
pub const NARROW_IN_MAX_CHANNEL_PAIRS: u32 = 256;

/// Most input channels of a [`narrow_in_fits`] convolution.
pub const NARROW_IN_MAX_IN_CHANNELS: u32 = 8;

/// Whether `shaders::narrow_in_wgsl`'s kernel computes `s`, and is worth timing: ungrouped,
/// 3x3, stride 1, padding 1, rows a multiple of 4 wide, at most
/// [`NARROW_IN_MAX_IN_CHANNELS`] input channels, fewer than its output channels, and at
/// most [`NARROW_IN_MAX_CHANNEL_PAIRS`] input x output channels. Side by side with every
/// direct tile on llvmpipe (`tile_sweep`, the 34 such shapes of the kernel table before
/// the channel limits, 3 rounds): 1.03-1.56x the best direct tile on 15 of the 18 that
/// widen (decoders, stems; 1 -> 16 at 112x112 1.55x), 0.87-0.95x on the other three;
/// 0.41-0.82x on all 16 encoders (more inputs than outputs: each thread reads every input
/// channel's rows for a few outputs), which the autotuner would only spend time on.
pub fn narrow_in_fits(s: &ConvShape) -> bool {
    s.groups == 1
        && s.kernel == (3, 3)
        && s.stride == (1, 1)
        && s.padding == (1, 1)
        && s.output.2.is_multiple_of(4)
        && s.input.0 <= NARROW_IN_MAX_IN_CHANNELS
        && s.input.0 < s.output.0
        && s.input.0 * s.output.0 <= NARROW_IN_MAX_CHANNEL_PAIRS
}

/// The narrow-input plan of `s`: a thread per 4 output pixels of a row and sample.
fn narrow_in(s: &ConvShape) -> Result<ConvPlan> {
    if !narrow_in_fits(s) {
        return Err(Error::InvalidArg(format!(
            "the narrow-input kernel computes 3x3 stride-1 convolutions with padding 1 on \
             rows a multiple of 4 wide, from at most {NARROW_IN_MAX_IN_CHANNELS} input \
             channels to more outputs, at most {NARROW_IN_MAX_CHANNEL_PAIRS} input x output \
             channels, not {}",
            s.key()
        )));
    }
    let (_, oh, ow) = s.output;
    let threads = oh as u64 * (ow / 4) as u64;
    let groups = u32::try_from(threads.div_ceil(shaders::NARROW_IN_WG as u64))
        .map_err(|_| Error::Unsupported(format!("narrow-input conv of {threads} threads")))?;
    Ok(ConvPlan {
        shape: *s,
        kernel: ConvKernel::NarrowIn,
        k_splits: 1,
        k_chunk: s.input.0,
        workgroups: [groups, 1, s.batch],
        scratch_bytes: 0,
    })
}

/// `lowered`, the direct plan with `tile` of [`s2d_shape`]`(s)`, as the plan of `s` (the
/// same split-K and workgroups).
fn s2d_plan(s: &ConvShape, tile: DirectTile, lowered: ConvPlan) -> ConvPlan {
    ConvPlan {
        shape: *s,
        kernel: ConvKernel::SpaceToDepth(tile),
        ..lowered
    }
}

/// Whether `s` takes the direct kernel's pointwise loops (whose single-channel tile would
/// be the generic loop: slower than 4 channels of the pointwise one).
fn pointwise_loop(s: &ConvShape) -> bool {
    matches!(
        direct_spec(s),
        DirectSpec::Pw | DirectSpec::Pw4 | DirectSpec::Fc | DirectSpec::Ps2
    )
}

/// Whether the pointwise loop runs `s` with tiles of 4 channel groups (not fully connected
/// layers, whose loop has 2 at most).
fn pointwise_groups(s: &ConvShape) -> bool {
    matches!(
        direct_spec(s),
        DirectSpec::Pw | DirectSpec::Pw4 | DirectSpec::Ps2
    )
}

/// The direct tile the heuristic picks: one channel per thread when the output has at
/// most 4 channels (groups of 4 would mostly pad), else two channel groups; as many rows as
/// the output has (up to 4), lanes along channel groups when there are enough of them to
/// fill a SIMD group of 8, and on a CPU adapter small workgroups when the layer has too few
/// threads for [`SMALL_WG_BELOW`] workgroups of the usual size.
fn direct_tile(s: &ConvShape, class: DeviceClass) -> DirectTile {
    let (oc, oh, _) = s.output;
    let single = oc <= 4 && !pointwise_loop(s);
    let rows = match oh {
        1 => 1,
        2 => 2,
        _ => 4,
    };
    // On a CPU adapter a thread takes a whole row of 7 or 8 columns where those tiles fit
    // (each window row and weight it loads serves more outputs): the autotuner picked
    // them for most such layers on llvmpipe. A GPU keeps 4 columns' twice the threads.
    let whole_rows = class == DeviceClass::Cpu && !single && rows > 1;
    let cols = if whole_rows && eight_columns(s) {
        8
    } else if whole_rows && seven_columns(s) && s.padding.1 == 1 {
        7
    } else {
        shaders::CONV_DIRECT_COLS
    };
    // Tiles of 7 or 8 columns keep columns 4-7 where a second channel group would be.
    let cg = if oc > 4 && cols == shaders::CONV_DIRECT_COLS {
        2
    } else {
        1
    };
    let cg_fast = !single && oc.div_ceil(4 * cg) >= 8;
    let mut tile = DirectTile {
        rows,
        cg,
        cg_fast,
        single,
        wg: shaders::CONV_DIRECT_WG,
        cols,
    };
    let threads = direct_threads(s, tile) * s.batch as u64;
    if class == DeviceClass::Cpu && threads < SMALL_WG_BELOW * shaders::CONV_DIRECT_WG as u64 {
        tile.wg = shaders::CONV_DIRECT_WG_SMALL;
    }
    tile
}

/// A plan chosen without measuring. Depthwise convolutions take the depthwise kernel (8
/// columns per thread on a CPU adapter where it can);
/// other grouped convolutions take the GEMM (the only kernel
/// with groups) with the tile that pads the output least; otherwise, on a CPU adapter the
/// direct kernel (workgroup memory and barriers cost more than they save there), over
/// the input laid out by space-to-depth where [`s2d_shape`] lowers it (the 7x7 and 11x11
/// stems: 1.5-2.4x the direct kernel on llvmpipe, side by side), and on a
/// GPU the direct kernel where the GEMM's 64-wide tiles would mostly compute padding
/// (at most 16 output channels, a reduction of at most 32, or at most 64 output pixels),
/// else the GEMM.
pub fn heuristic(s: &ConvShape, class: DeviceClass) -> Result<ConvPlan> {
    if s.is_depthwise() {
        // 8 columns per thread read each input row once for twice the outputs: 9-26%
        // faster on llvmpipe (side by side); a GPU keeps the 4 columns' twice as many threads.
        return depthwise(s, class == DeviceClass::Cpu && depthwise_can_widen(s));
    }
    if class == DeviceClass::Cpu {
        if let Some(t) = s2d_shape(s) {
            return plan_for(s, ConvKernel::SpaceToDepth(direct_tile(&t, class)), false);
        }
    }
    let (oc, oh, ow) = s.output;
    let k = (s.input.0 / s.groups) * s.kernel.0 * s.kernel.1;
    let pixels = s.batch as u64 * oh as u64 * ow as u64;
    let narrow = oc <= 16 || k <= 32 || pixels <= 64;
    if s.groups == 1 && (class == DeviceClass::Cpu || narrow) {
        return plan_for(
            s,
            ConvKernel::Direct(direct_tile(s, class)),
            class == DeviceClass::Gpu,
        );
    }
    let wide = gemm(s, ConvTile::WIDE)?;
    let slim = gemm(s, ConvTile::NARROW)?;
    let padded = |p: &ConvPlan| p.workgroups[0] as u64 * p.workgroups[1] as u64;
    let area = |t: ConvTile| t.tile_m() as u64 * t.tile_n() as u64;
    Ok(
        if padded(&slim) * area(ConvTile::NARROW) < padded(&wide) * area(ConvTile::WIDE) {
            slim
        } else {
            wide
        },
    )
}

/// The heuristic plan for a GPU (see [`heuristic`]).
pub fn conv_plan(c: &Conv2d, batch: usize, input: Shape) -> Result<ConvPlan> {
    heuristic(&ConvShape::new(c, batch, input)?, DeviceClass::Gpu)
}

/// Every plan worth timing for `s` on a `class` adapter, the heuristic's pick first: for a
/// depthwise convolution its tiles of 4 and (where it can) 8 columns; else both GEMM tiles
/// (on a CPU adapter only for grouped convolutions), and for ungrouped convolutions every
/// direct tile that fits the output (no rows beyond it, a second channel group only above
/// 4 channels, single channels only up to [`SINGLE_MAX_CHANNELS`] and not in pointwise
/// loops, two of them per thread only for outputs of two, small workgroups only on a CPU
/// adapter for layers of few threads, one lane mapping when the other is the same), each
/// unsplit and (but for small workgroups) split as on a GPU.
pub fn candidates(s: &ConvShape, class: DeviceClass) -> Result<Vec<ConvPlan>> {
    let first = heuristic(s, class)?;
    if s.is_depthwise() {
        // The other width than the heuristic's.
        let other = depthwise_can_widen(s)
            .then(|| depthwise(s, first.kernel == ConvKernel::Depthwise { wide: false }));
        return [Ok(first)].into_iter().chain(other).collect();
    }
    let mut out = vec![first];
    let mut push = |p: ConvPlan| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    // On a CPU adapter the GEMM's tiles run 100-1000 times slower than the direct
    // kernel's (workgroup memory and barriers are emulated): timing them would be most of
    // the tuning time, so only grouped convolutions (which need them) take them there.
    if class == DeviceClass::Gpu || s.groups != 1 {
        for tile in [ConvTile::WIDE, ConvTile::NARROW] {
            push(gemm(s, tile)?);
        }
    }
    if s.groups == 1 {
        let (oc, oh, _) = s.output;
        for tile in DirectTile::ALL {
            let groups = oc.div_ceil(tile.channels());
            let one_tile = direct_threads(s, tile) == groups as u64;
            let threads = direct_threads(s, tile) * s.batch as u64;
            let few = threads < SMALL_WG_BELOW * shaders::CONV_DIRECT_WG as u64;
            let small = tile.wg != shaders::CONV_DIRECT_WG;
            // Two single channels per thread only for outputs of two: side by side on
            // llvmpipe 1.14-1.26x the best other tile on the 16->2 and 32->2 encoders at
            // 112x112, slower than 4-channel tiles for 3 to 10 channels.
            let fits = (tile.cg == 1 || oc > tile.channels() / 2)
                && (!tile.single || tile.cg == 1 || oc == 2)
                && (tile.cg < 4 || pointwise_groups(s))
                && (!small || (few && class == DeviceClass::Cpu))
                && (!tile.single || (oc <= SINGLE_MAX_CHANNELS && !pointwise_loop(s)))
                && (tile.rows == 1 || oh > tile.rows / 2)
                && !(groups == 1 && tile.cg_fast)
                && !(one_tile && !tile.cg_fast && groups > 1)
                && cols_fit(s, tile);
            if fits {
                push(direct(s, tile, 1)?);
                let k = direct_splits(s, tile);
                if k > 1 && !small {
                    push(direct(s, tile, k)?);
                }
            }
        }
    }
    if narrow_in_fits(s) {
        push(narrow_in(s)?);
    }
    // The lowered convolution's direct candidates (never its heuristic's GEMM).
    if let Some(t) = s2d_shape(s) {
        for p in candidates(&t, class)? {
            if let ConvKernel::Direct(tile) = p.kernel {
                push(s2d_plan(s, tile, p));
            }
        }
    }
    Ok(out)
}

/// Whether `tile`'s columns per thread suit `s`: 7 and 8 only where [`seven_columns`] and
/// [`eight_columns`] say so.
fn cols_fit(s: &ConvShape, tile: DirectTile) -> bool {
    match tile.cols {
        7 => seven_columns(s),
        8 => eight_columns(s),
        _ => true,
    }
}

/// Whether the direct kernel's 7-column tiles are candidates for `s`: its 3x3 stride-1
/// loop on rows of 5 to 7 pixels, one tile wide, where tiles of 4 columns take two
/// threads per row that each read all the weights. On llvmpipe, side by side, the best
/// 7-column tile ran 0.92-1.22x as fast as the best 4-column one on seven 7x7 layers and
/// no faster on 14x14 ones, so wider rows do not spend the autotuner's time on them.
fn seven_columns(s: &ConvShape) -> bool {
    direct_spec(s) == DirectSpec::K3s1 && (5..=7).contains(&s.output.2)
}

/// Whether the direct kernel's 8-column tiles are candidates for `s`: its 3x3 stride-1
/// loop on rows of at least 8 whose windows read vectors, a multiple of 4 wide
/// ([`direct_aligned`], or [`unpadded_rows`]) or 2 more ([`pair_rows`], 14x14 planes),
/// where one 10-value window of each input row and each weight loaded serve 8 output
/// columns; or its 4-wide loop (`Win4`, three vector loads for 8 columns). Side by side on
/// llvmpipe against the best 4-column tile: 1.13-1.15x on 64->64 at 32x32 and 128->128 at
/// 16x16, 1.02-1.05x on the 3-channel stem and the decoders from 1, 2 and 4 channels.
fn eight_columns(s: &ConvShape) -> bool {
    let ow = s.output.2;
    ow >= 8
        && match direct_spec(s) {
            DirectSpec::K3s1 => {
                (ow.is_multiple_of(4) && direct_aligned(s)) || pair_rows(s) || unpadded_rows(s)
            }
            DirectSpec::Win4 => true,
            _ => false,
        }
}

/// Whether every run of 4 output pixels the direct kernel's entry point for `tile` stores
/// starts on a vec4: output rows of a multiple of 4 pixels (whole planes of one for
/// `pointwise`, which runs over the plane).
pub fn direct_out_aligned(s: &ConvShape, tile: DirectTile) -> bool {
    let (_, oh, ow) = s.output;
    if tile.entry(direct_spec(s)) == "pointwise" {
        (oh * ow).is_multiple_of(4)
    } else if tile.cols == 7 {
        // Runs of 4 and 3 pixels from columns 7 apart.
        false
    } else {
        ow.is_multiple_of(4)
    }
}

/// Whether the depthwise kernel stores whole output rows as vec4s (width a multiple of 4).
pub fn depthwise_out_aligned(s: &ConvShape) -> bool {
    s.output.2.is_multiple_of(4)
}

/// Whether the depthwise kernel's 8-column tiles (`wide`) store the output rows of `s` in
/// pairs: rows 6 more than a multiple of 8 wide (14) on planes of a multiple of 4 values,
/// so that a tile's even rows start on a vec4, its odd rows 2 past one, and the first half
/// of every tile is whole (tiles start on rows of a multiple of 4).
pub fn depthwise_out_pairs(s: &ConvShape, wide: bool) -> bool {
    let (_, oh, ow) = s.output;
    wide && ow % 8 == 6 && (oh * ow).is_multiple_of(4)
}

/// The loop of the depthwise kernel for `s`.
fn depthwise_spec(s: &ConvShape) -> DirectSpec {
    DirectSpec::depthwise(
        (s.kernel.0 as usize, s.kernel.1 as usize),
        (s.stride.0 as usize, s.stride.1 as usize),
    )
}

/// Whether the depthwise kernel's 3x3 windows of `s` read their middles as vectors: input
/// rows start on a vec4 (width a multiple of 4) and the padding along x is 1.
pub fn depthwise_aligned(s: &ConvShape) -> bool {
    matches!(depthwise_spec(s), DirectSpec::K3s1 | DirectSpec::K3s2)
        && s.input.2.is_multiple_of(4)
        && s.padding.1 == 1
}

/// Whether the depthwise kernel can compute 8 output columns per thread for `s`: 3x3
/// stride-1 windows (one 10-value window of each input row serves the 8 columns; its
/// vector loads follow [`depthwise_row_align`]).
pub fn depthwise_can_widen(s: &ConvShape) -> bool {
    depthwise_spec(s) == DirectSpec::K3s1
}

/// Whether 3x3 windows of `s` starting on an odd input row read rows alternately from a
/// vec4 and 2 past one: rows 2 more than a multiple of 4 wide (14), planes of a multiple of
/// 4 values, padding 1 (what [`RowAlign::Pairs`] needs besides the tile).
fn pair_rows(s: &ConvShape) -> bool {
    let (_, ih, iw) = s.input;
    iw % 4 == 2 && (ih * iw).is_multiple_of(4) && s.padding == (1, 1)
}

/// How the input rows the depthwise kernel (8-column tiles if `wide`) reads for `s`
/// align: on a vec4 where [`depthwise_aligned`] says so; in pairs for 3x3 windows where
/// [`pair_rows`] says so (its tiles start on rows of a multiple of 4, times the stride);
/// shifted for 8-column tiles on rows of up to 8 with padding 1 (one tile a row); else
/// anywhere.
pub fn depthwise_row_align(s: &ConvShape, wide: bool) -> RowAlign {
    if depthwise_aligned(s) {
        RowAlign::Vec4
    } else if matches!(depthwise_spec(s), DirectSpec::K3s1 | DirectSpec::K3s2) && pair_rows(s) {
        RowAlign::Pairs
    } else if wide && s.input.2 <= 8 && s.padding.1 == 1 {
        RowAlign::Shifted
    } else {
        RowAlign::None
    }
}

/// Whether the direct kernel reads the rows of `s` through vector loads: 3-wide windows
/// with padding 1 (their middles, see [`depthwise_aligned`]) or 1x1 stride-2 kernels (their
/// even values), on rows that start on a vec4 (width a multiple of 4).
pub fn direct_aligned(s: &ConvShape) -> bool {
    match direct_spec(s) {
        DirectSpec::K3s1 | DirectSpec::K3s2 | DirectSpec::Win3 => {
            s.input.2.is_multiple_of(4) && s.padding.1 == 1
        }
        DirectSpec::P1s2 => s.input.2.is_multiple_of(4),
        _ => false,
    }
}

/// Whether the direct kernel's 3x3 stride-1 loop reads windows of `s` that start on a
/// vec4: no padding along x, rows a multiple of 4 wide (the lowered convolutions of
/// [`s2d_shape`]).
fn unpadded_rows(s: &ConvShape) -> bool {
    direct_spec(s) == DirectSpec::K3s1 && s.padding.1 == 0 && s.input.2.is_multiple_of(4)
}

/// How the input rows the direct kernel's `tile` reads for `s` align: on a vec4 where
/// [`direct_aligned`] says so, or for `main`'s 3x3 stride-1 loop where
/// [`unpadded_rows`] does; in pairs for `main`'s 3x3 stride-1 loop with tiles of an
/// even number of rows (so the tile's first window row is odd) where [`pair_rows`] says
/// so; shifted for the 7-column tiles with padding 1; else anywhere.
pub fn direct_row_align(s: &ConvShape, tile: DirectTile) -> RowAlign {
    if tile.cols == 7 {
        // 7-column windows read each row as shifted vectors after a left padding of 1,
        // else every value alone (`win_k3s1`). 8-column tiles run only on aligned,
        // unpadded or paired rows (`eight_columns`), so they take `Vec4`, `Unpadded` or
        // `Pairs` below.
        if s.padding.1 == 1 {
            RowAlign::Shifted
        } else {
            RowAlign::None
        }
    } else if direct_aligned(s) {
        RowAlign::Vec4
    } else if unpadded_rows(s) && tile.entry(DirectSpec::K3s1) == "main" {
        RowAlign::Unpadded
    } else if direct_spec(s) == DirectSpec::K3s1
        && tile.entry(DirectSpec::K3s1) == "main"
        && tile.rows.is_multiple_of(2)
        && pair_rows(s)
    {
        RowAlign::Pairs
    } else {
        RowAlign::None
    }
}

/// The specialised loop of the direct kernel for `s`.
pub fn direct_spec(s: &ConvShape) -> DirectSpec {
    let u = |(a, b): (u32, u32)| (a as usize, b as usize);
    let plane = s.output.1 as usize * s.output.2 as usize;
    DirectSpec::of(
        u(s.kernel),
        u(s.stride),
        u(s.padding),
        plane,
        s.input.0 as usize,
        (s.input.2 as usize, s.output.2 as usize),
    )
}
