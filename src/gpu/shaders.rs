//! Shader registry and the generated WGSL prelude; first in `gpu`, importing none of it.
//!
//! Every `.wgsl` in `shaders/` is embedded at compile time and prefixed with a prelude
//! generated from the Rust definitions here: the constants, mode codes and struct layouts
//! that Rust and WGSL must agree on are written once, in Rust.

use crate::cpu::QuantParams;
use crate::model::Act;
use std::mem::{offset_of, size_of};

/// Threads per workgroup of the one-thread-per-element kernels.
pub const WG_1D: u32 = 256;
/// Workgroup width of the convolution kernel (threads along output pixels).
pub const CONV_WG_X: u32 = 16;
/// Workgroup height of the convolution kernel (threads along output channels).
pub const CONV_WG_Y: u32 = 16;
/// Output channels per convolution workgroup (4 per thread).
pub const CONV_TILE_M: u32 = CONV_WG_Y * 4;
/// Output pixels per convolution workgroup (4 per thread).
pub const CONV_TILE_N: u32 = CONV_WG_X * 4;
/// Reduction depth staged in workgroup memory per step.
pub const CONV_TILE_K: u32 = 16;
/// Workgroup width of the narrow convolution variant (16 output pixels per tile).
pub const CONV_NARROW_WG_X: u32 = 4;
/// Workgroup height of the narrow convolution variant (128 output channels per tile: its
/// staged tiles, 9 KiB, fit WebGPU's guaranteed 16 KiB of workgroup memory).
pub const CONV_NARROW_WG_Y: u32 = 32;
/// Below this many output tiles a convolution splits its reduction (split-K) so that
/// enough workgroups exist to fill a large GPU.
pub const CONV_SPLITK_TARGET_WORKGROUPS: u32 = 128;
/// Threads per workgroup of the direct convolution (`conv_direct.wgsl`), a 1-D group.
pub const CONV_DIRECT_WG: u32 = 64;
/// Threads per workgroup of the direct convolution's small-workgroup tiles (layers of few
/// threads: enough workgroups to spread over a CPU adapter's cores). One SIMD group of a
/// CPU implementation (llvmpipe runs 8 invocations per 256-bit vector): a workgroup runs
/// on one core, so a layer of 16 threads in workgroups of 16 ran on one core of two,
/// measured 1.5x slower than in two of 8 (512x4x4 -> 64 3x3).
pub const CONV_DIRECT_WG_SMALL: u32 = 8;
/// Output columns per thread of the direct convolution (one vec4 of pixels per row).
pub const CONV_DIRECT_COLS: u32 = 4;
/// Output columns per thread of the direct convolution's single-channel tiles (two vec4s of
/// pixels per row).
pub const CONV_DIRECT_SINGLE_COLS: u32 = 8;
/// The direct convolution's packed weights round the output channels up to this many
/// (two vec4 channel groups), so that a thread's second group never reads past the end.
pub const CONV_DIRECT_CO_PAD: u32 = 8;
/// Output rows per thread of the depthwise convolution (4 columns each).
pub const DEPTHWISE_ROWS: u32 = 4;
/// Threads per depthwise workgroup: the late layers' few threads (960x7x7 is 3840) still
/// make tens of workgroups to spread over a CPU adapter's cores.
pub const DEPTHWISE_WG: u32 = 64;
/// Threads per fully connected workgroup (one output feature, 4 samples).
pub const LINEAR_WG: u32 = 64;
/// Samples per fully connected workgroup (the shader's vec4 accumulators).
pub const LINEAR_BATCH_TILE: u32 = 4;
/// Threads per min/max reduction workgroup (one group of values).
pub const REDUCE_WG: u32 = 256;

/// `(file name, source)` of every shader file.
pub const FILES: &[(&str, &str)] = &[
    ("conv2d.wgsl", include_str!("../../shaders/conv2d.wgsl")),
    (
        "conv_direct.wgsl",
        include_str!("../../shaders/conv_direct.wgsl"),
    ),
    (
        "depthwise.wgsl",
        include_str!("../../shaders/depthwise.wgsl"),
    ),
    ("linear.wgsl", include_str!("../../shaders/linear.wgsl")),
    ("pool.wgsl", include_str!("../../shaders/pool.wgsl")),
    ("eltwise.wgsl", include_str!("../../shaders/eltwise.wgsl")),
    ("mask.wgsl", include_str!("../../shaders/mask.wgsl")),
    ("quantize.wgsl", include_str!("../../shaders/quantize.wgsl")),
    ("copy.wgsl", include_str!("../../shaders/copy.wgsl")),
];

/// Tile shape of a convolution pipeline: workgroup `wg_x` x `wg_y` threads, each
/// computing 4 output channels x 4 output pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvTile {
    /// Threads along output pixels.
    pub wg_x: u32,
    /// Threads along output channels.
    pub wg_y: u32,
}

impl ConvTile {
    /// The default 64 x 64 tile.
    pub const WIDE: ConvTile = ConvTile {
        wg_x: CONV_WG_X,
        wg_y: CONV_WG_Y,
    };
    /// The 256 (channels) x 16 (pixels) tile for layers with few output pixels.
    pub const NARROW: ConvTile = ConvTile {
        wg_x: CONV_NARROW_WG_X,
        wg_y: CONV_NARROW_WG_Y,
    };
    /// Output channels per tile.
    pub const fn tile_m(self) -> u32 {
        self.wg_y * 4
    }
    /// Output pixels per tile.
    pub const fn tile_n(self) -> u32 {
        self.wg_x * 4
    }
}

/// Tile of the direct convolution (`conv_direct.wgsl`): each thread computes `4 * cg`
/// output channels x `rows` output rows x [`CONV_DIRECT_COLS`] output columns (entry points
/// `main` and `pointwise`), or, for a `single` tile, `cg` (1 or 2) output channels x `rows`
/// rows x [`CONV_DIRECT_SINGLE_COLS`] columns (entry point `single`: outputs of a few channels,
/// which groups of 4 would mostly pad). The fields are the shader's pipeline-overridable
/// constants ([`DirectTile::overrides`]) and its entry point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DirectTile {
    /// Output rows per thread: 1, 2 or 4.
    pub rows: u32,
    /// Groups of 4 output channels per thread: 1 or 2, or 4 for the pointwise loop only (its
    /// inputs reused across 16 channels); for a `single` tile, its channels: 1 or 2.
    pub cg: u32,
    /// Consecutive threads take consecutive channel groups (else consecutive pixel tiles).
    pub cg_fast: bool,
    /// One or two (`cg`) output channels per thread, scalar weights (entry point `single`).
    pub single: bool,
    /// Threads per workgroup: [`CONV_DIRECT_WG`] or [`CONV_DIRECT_WG_SMALL`].
    pub wg: u32,
    /// Output columns per thread of `main`'s 3x3 stride-1 loop (`COLS`): [`CONV_DIRECT_COLS`]
    /// (4), or with one channel group 7 (rows of 5 to 7 pixels: one thread per row where 4
    /// columns take two, each reading all the weights) or 8 (rows of a multiple of 4 from
    /// 8: each weight loaded serves twice the pixels). Other entry points and loops: 4.
    pub cols: u32,
}

impl DirectTile {
    /// Every tile the shader is compiled for: rows 1, 2, 4 x (1, 2 channel groups, or a
    /// single channel) x both lane mappings x both workgroup sizes, then the 4-group tiles
    /// of the pointwise loop (rows x lane mappings x workgroup sizes), then the 7- and
    /// 8-column tiles (rows 2, 4 x lane mappings x workgroup sizes, one channel group: the
    /// shader keeps their columns 4-7 in the second group's accumulators; a row of 7
    /// columns alone won 2 of 56 layers in the kernel table on llvmpipe, and each
    /// candidate costs the autotuner a pipeline), then the single tiles of two channels for
    /// outputs of two (rows 1, 2, 4 x workgroup sizes; one channel group, so one lane
    /// mapping: a 2-channel encoder's 4-channel tile computes half padding, and two
    /// 1-channel threads each read the same windows).
    pub const ALL: [DirectTile; 70] = {
        const WG_SIZES: [u32; 2] = [CONV_DIRECT_WG, CONV_DIRECT_WG_SMALL];
        let mut all = [DirectTile {
            rows: 1,
            cg: 1,
            cg_fast: true,
            single: false,
            wg: CONV_DIRECT_WG,
            cols: CONV_DIRECT_COLS,
        }; 70];
        let mut i = 0;
        while i < 36 {
            let j = i % 18;
            let kind = (j / 2) % 3;
            all[i] = DirectTile {
                rows: [1, 2, 4][j / 6],
                cg: if kind == 1 { 2 } else { 1 },
                cg_fast: j % 2 == 0,
                single: kind == 2,
                wg: WG_SIZES[i / 18],
                cols: CONV_DIRECT_COLS,
            };
            i += 1;
        }
        while i < 48 {
            let j = i - 36;
            all[i] = DirectTile {
                rows: [1, 2, 4][j / 4],
                cg: 4,
                cg_fast: j % 2 == 0,
                single: false,
                wg: WG_SIZES[(j / 2) % 2],
                cols: CONV_DIRECT_COLS,
            };
            i += 1;
        }
        while i < 64 {
            let j = (i - 48) % 8;
            all[i] = DirectTile {
                rows: [2, 4][j / 4],
                cg: 1,
                cg_fast: j % 2 == 0,
                single: false,
                wg: WG_SIZES[(j / 2) % 2],
                cols: if i < 56 { 7 } else { 8 },
            };
            i += 1;
        }
        while i < 70 {
            let j = i - 64;
            all[i] = DirectTile {
                rows: [1, 2, 4][j / 2],
                cg: 2,
                cg_fast: false,
                single: true,
                wg: WG_SIZES[j % 2],
                cols: CONV_DIRECT_COLS,
            };
            i += 1;
        }
        all
    };
    /// Output channels per thread.
    pub const fn channels(self) -> u32 {
        if self.single {
            self.cg
        } else {
            4 * self.cg
        }
    }
    /// Output columns per thread.
    pub const fn cols(self) -> u32 {
        if self.single {
            CONV_DIRECT_SINGLE_COLS
        } else {
            self.cols
        }
    }
    /// Output pixels per thread.
    pub const fn pixels(self) -> u32 {
        self.rows * self.cols()
    }
    /// The entry point of `conv_direct.wgsl` that runs this tile with loop `spec`.
    pub fn entry(self, spec: DirectSpec) -> &'static str {
        if self.single {
            "single"
        } else {
            spec.entry()
        }
    }
    /// The pipeline-overridable constants of `conv_direct.wgsl` for this tile, `spec`,
    /// how its windows' rows align, and its epilogue `e`.
    pub fn overrides(
        self,
        spec: DirectSpec,
        rows: RowAlign,
        e: Epilogue,
    ) -> [(&'static str, f64); 14] {
        [
            ("ACT", e.act as f64),
            ("RES", e.residual as u32 as f64),
            ("SPLIT", e.split as u32 as f64),
            ("OUT_ALIGNED", e.out_aligned as u32 as f64),
            ("WG", self.wg as f64),
            ("ROWS", self.rows as f64),
            ("CG", self.cg as f64),
            ("CG_FAST", self.cg_fast as u32 as f64),
            ("SPEC", spec.code() as f64),
            ("ALIGNED", (rows == RowAlign::Vec4) as u32 as f64),
            ("PAIRS", (rows == RowAlign::Pairs) as u32 as f64),
            ("SHIFTED", (rows == RowAlign::Shifted) as u32 as f64),
            ("UNPADDED", (rows == RowAlign::Unpadded) as u32 as f64),
            ("COLS", self.cols as f64),
        ]
    }
}

/// Where the input rows a direct convolution's windows read start, which decides how many
/// of their values are whole vector loads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RowAlign {
    /// Anywhere: every value a scalar load.
    #[default]
    None,
    /// Every row on a vec4 (width a multiple of 4): `ALIGNED`.
    Vec4,
    /// A 3x3 tile's window rows alternately on a vec4 and 2 past one (width 2 more than a
    /// multiple of 4, planes a multiple of 4 values, tiles starting on even rows, padding
    /// 1; the direct kernel at stride 1, the depthwise at stride 1 and 2): `PAIRS`.
    Pairs,
    /// Anywhere, each row read as the vectors that hold it, shifted by its offset (rows
    /// one tile wide, padding 1: the direct kernel's 7-column tiles, the depthwise
    /// kernel's 8-column tiles on rows of up to 8): `SHIFTED`.
    Shifted,
    /// Every row on a vec4 and no padding along x, so every window starts on one (the
    /// direct kernel's 3x3 stride-1 loop, as `space_to_depth` lowers convolutions):
    /// `UNPADDED`.
    Unpadded,
}

/// What a direct convolution does with its sums, as pipeline constants: a CPU
/// implementation runs both sides of a branch on a uniform value (masked), so runtime
/// flags would cost every output a residual load, every activation and unaligned stores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Epilogue {
    /// The fused activation's code.
    pub act: u32,
    /// Whether a residual is added.
    pub residual: bool,
    /// Whether the reduction is split (raw partial sums are written for `splitk_reduce`).
    pub split: bool,
    /// Whether every run of 4 output pixels the entry point stores starts on a vec4 (the
    /// output width, or the plane for `pointwise`, a multiple of 4).
    pub out_aligned: bool,
}

/// One specialisation of `depthwise.wgsl`: its pipeline-overridable constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DepthwiseVariant {
    /// The loop.
    pub spec: DirectSpec,
    /// How the input rows align (which of their values are vector loads).
    pub rows: RowAlign,
    /// Activation, residual and whether output rows are stored as vectors (the kernel
    /// never splits its reduction: `split` is ignored).
    pub epilogue: Epilogue,
    /// Input height and width, output height and width, channels: the layer's shape, so
    /// that the kernel divides and bounds by constants.
    pub dims: [u32; 5],
    /// 8 output columns per thread instead of 4 (3x3 stride 1 only).
    pub wide: bool,
    /// Output rows stored in pairs (`OUT_PAIRS`, see `tiling::depthwise_out_pairs`).
    pub out_pairs: bool,
}

impl DepthwiseVariant {
    /// The constants, by the names `depthwise.wgsl` declares.
    pub fn overrides(&self) -> [(&'static str, f64); 14] {
        let [ih, iw, oh, ow, c] = self.dims.map(f64::from);
        [
            ("SPEC", self.spec.code() as f64),
            ("ALIGNED", (self.rows == RowAlign::Vec4) as u32 as f64),
            ("PAIRS", (self.rows == RowAlign::Pairs) as u32 as f64),
            ("OUT_ALIGNED", self.epilogue.out_aligned as u32 as f64),
            ("ACT", self.epilogue.act as f64),
            ("RES", self.epilogue.residual as u32 as f64),
            ("IN_H", ih),
            ("IN_W", iw),
            ("OUT_H", oh),
            ("OUT_W", ow),
            ("CHANNELS", c),
            ("WIDE", self.wide as u32 as f64),
            ("OUT_PAIRS", self.out_pairs as u32 as f64),
            ("SHIFTED", (self.rows == RowAlign::Shifted) as u32 as f64),
        ]
    }
}

/// A convolution kernel: the implicit GEMM of `conv2d.wgsl` with a tile shape, or the
/// direct convolution of `conv_direct.wgsl` with its tile, alone or after a space-to-depth
/// pass. Written and parsed as `gemm-<channels>x<pixels>`,
/// `direct-r<rows>[x<columns>]-c<channels>-<ch|px>[-w<threads>]` (columns 7 or 8; else 4)
/// and `s2d-direct-...` (the tile cache and the profile manifest use these names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConvKernel {
    /// Implicit GEMM through workgroup memory (any groups).
    Gemm(ConvTile),
    /// Direct convolution (groups = 1).
    Direct(DirectTile),
    /// A strided convolution of few input channels as a stride-1 one: `conv_direct.wgsl`'s
    /// `space_to_depth` lays each `stride x stride` block of the input out as channels, then
    /// the direct kernel with this tile runs the smaller kernel over them
    /// (`tiling::s2d_shape`).
    SpaceToDepth(DirectTile),
    /// A 3x3 stride-1 convolution of a few input channels (bottleneck decoders, stems),
    /// every thread all output channels of 4 pixels, from generated WGSL whose weights
    /// are loaded at constant indices ([`narrow_in_wgsl`]; `tiling::narrow_in_fits`).
    NarrowIn,
    /// Depthwise convolution (`depthwise.wgsl`: groups = input = output channels).
    Depthwise {
        /// 8 output columns per thread instead of 4 (3x3 stride 1, see
        /// `tiling::depthwise_can_widen`).
        wide: bool,
    },
}

impl std::fmt::Display for ConvKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConvKernel::Gemm(t) => write!(f, "gemm-{}x{}", t.tile_m(), t.tile_n()),
            ConvKernel::Direct(t) => {
                write!(
                    f,
                    "direct-r{}{}-c{}-{}",
                    t.rows,
                    if t.cols == CONV_DIRECT_COLS {
                        String::new()
                    } else {
                        format!("x{}", t.cols)
                    },
                    t.channels(),
                    if t.cg_fast { "ch" } else { "px" }
                )?;
                if t.wg != CONV_DIRECT_WG {
                    write!(f, "-w{}", t.wg)?;
                }
                Ok(())
            }
            ConvKernel::SpaceToDepth(t) => write!(f, "s2d-{}", ConvKernel::Direct(*t)),
            ConvKernel::NarrowIn => write!(f, "narrow-in"),
            ConvKernel::Depthwise { wide: false } => write!(f, "depthwise"),
            ConvKernel::Depthwise { wide: true } => write!(f, "depthwise-c8"),
        }
    }
}

impl std::str::FromStr for ConvKernel {
    type Err = String;
    /// The names [`Display`](std::fmt::Display) writes, for the kernels that exist.
    fn from_str(s: &str) -> Result<Self, String> {
        let gemm = [ConvTile::WIDE, ConvTile::NARROW].map(ConvKernel::Gemm);
        let direct = DirectTile::ALL.map(ConvKernel::Direct);
        let s2d = DirectTile::ALL.map(ConvKernel::SpaceToDepth);
        gemm.into_iter()
            .chain(direct)
            .chain(s2d)
            .chain([false, true].map(|wide| ConvKernel::Depthwise { wide }))
            .chain([ConvKernel::NarrowIn])
            .find(|k| k.to_string() == s)
            .ok_or_else(|| format!("unknown convolution kernel '{s}'"))
    }
}

/// One field of a struct shared with WGSL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldLayout {
    /// Field name, the same in Rust and WGSL.
    pub name: &'static str,
    /// Scalar type, spelled the same in Rust and WGSL (`u32`, `f32`).
    pub ty: &'static str,
    /// Byte offset in the Rust struct.
    pub offset: usize,
}

/// The Rust layout of a struct that the prelude declares in WGSL (4-byte scalars only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StructLayout {
    /// Struct name, the same in Rust and WGSL.
    pub name: &'static str,
    /// Fields in declaration order.
    pub fields: &'static [FieldLayout],
    /// `size_of` the Rust struct.
    pub size: usize,
}

impl StructLayout {
    /// The WGSL declaration, fields in the Rust order.
    pub fn wgsl(&self) -> String {
        let fields: String = self
            .fields
            .iter()
            .map(|f| format!("    {}: {},\n", f.name, f.ty))
            .collect();
        format!("struct {} {{\n{fields}}}\n", self.name)
    }
}

/// The [`StructLayout`] of a `#[repr(C)]` struct of 4-byte scalars. A field missing from
/// the list fails to compile (the size check), so does a misspelt one (`offset_of!`).
macro_rules! layout_of {
    ($name:ident { $($field:ident : $ty:ident),* $(,)? }) => {{
        const FIELDS: &[FieldLayout] = &[$(FieldLayout {
            name: stringify!($field),
            ty: stringify!($ty),
            offset: offset_of!($name, $field),
        }),*];
        const SIZE: usize = {
            assert!(
                size_of::<$name>() == 4 * FIELDS.len(),
                "every field of the struct must be listed, each a 4-byte scalar"
            );
            size_of::<$name>()
        };
        StructLayout {
            name: stringify!($name),
            fields: FIELDS,
            size: SIZE,
        }
    }};
}

/// Declares the uniform parameters of shaders: for each, a `#[repr(C)]` Rust struct of
/// u32/f32 fields (the launchers fill it) and, from the same tokens, its WGSL declaration.
/// `_pad` fields round the size up to 16 bytes, as uniform buffers want.
macro_rules! uniform_structs {
    ($($(#[$meta:meta])* $name:ident { $($field:ident : $ty:ident),* $(,)? })*) => {$(
        $(#[$meta])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
        pub(crate) struct $name {
            $(pub(crate) $field: $ty),*
        }

        impl Uniform for $name {
            const LAYOUT: StructLayout = layout_of!($name { $($field: $ty),* });
        }
    )*};
}

/// A shader's uniform parameter struct, declared with `uniform_structs!`.
pub(crate) trait Uniform: bytemuck::Pod {
    /// Its layout, as the prelude declares it in WGSL.
    const LAYOUT: StructLayout;
}

uniform_structs! {
    /// `conv2d.wgsl`, `conv_direct.wgsl` (whose `k_chunk` counts input channels) and
    /// `depthwise.wgsl` (which ignores `k_splits` and `k_chunk`).
    ConvParams {
        batch: u32, in_c: u32, in_h: u32, in_w: u32,
        out_c: u32, out_h: u32, out_w: u32, groups: u32,
        kh: u32, kw: u32, stride_h: u32, stride_w: u32,
        pad_h: u32, pad_w: u32, has_bias: u32, has_res: u32,
        act: u32, k_splits: u32, k_chunk: u32, _pad0: u32,
    }
    /// `linear.wgsl`: `o_base` is the first output feature of the weight row block.
    LinearParams {
        batch: u32, in_f: u32, out_f: u32, has_bias: u32,
        act: u32, o_base: u32, _pad0: u32, _pad1: u32,
    }
    /// `pool.wgsl`; `mode` is a [`PoolMode`] code.
    PoolParams {
        batch: u32, c: u32, in_h: u32, in_w: u32,
        out_h: u32, out_w: u32, kernel: u32, stride: u32,
        pad: u32, mode: u32, _pad0: u32, _pad1: u32,
    }
    /// `eltwise.wgsl`; `mode` is an [`EltwiseMode`] code.
    EltwiseParams {
        n: u32, mode: u32, act: u32, channels: u32,
        inner: u32, eps: f32, offset: u32, hi: f32,
    }
    /// `mask.wgsl`: a `[outer, channels, inner]` tensor of `n` values.
    MaskParams { n: u32, channels: u32, inner: u32, _pad0: u32 }
    /// `quantize.wgsl`: `numel` values in `groups` groups of `group_len` at `bits` bits.
    QuantizeParams { numel: u32, group_len: u32, groups: u32, bits: u32 }
    /// `copy.wgsl`: `n` vec4s.
    CopyParams { n: u32, _pad0: u32, _pad1: u32, _pad2: u32 }
}

/// Per-group parameters of `quantize.wgsl`: the layout of [`QuantParams`], whose
/// definition stays with the CPU reference (`cpu` sits below `gpu`).
const QUANT_PARAMS: StructLayout = layout_of!(QuantParams {
    min: f32,
    max: f32,
    scale: f32,
    inv_scale: f32,
});

/// Every struct the prelude declares: the uniforms, then `QuantParams`.
pub const STRUCTS: &[StructLayout] = &[
    ConvParams::LAYOUT,
    LinearParams::LAYOUT,
    PoolParams::LAYOUT,
    EltwiseParams::LAYOUT,
    MaskParams::LAYOUT,
    QuantizeParams::LAYOUT,
    CopyParams::LAYOUT,
    QUANT_PARAMS,
];

/// `(file, uniform struct)`: the struct each registered file binds at `@binding(0)`.
pub const UNIFORMS: &[(&str, StructLayout)] = &[
    ("conv2d.wgsl", ConvParams::LAYOUT),
    ("conv_direct.wgsl", ConvParams::LAYOUT),
    ("depthwise.wgsl", ConvParams::LAYOUT),
    ("linear.wgsl", LinearParams::LAYOUT),
    ("pool.wgsl", PoolParams::LAYOUT),
    ("eltwise.wgsl", EltwiseParams::LAYOUT),
    ("mask.wgsl", MaskParams::LAYOUT),
    ("quantize.wgsl", QuantizeParams::LAYOUT),
    ("copy.wgsl", CopyParams::LAYOUT),
];

/// The uniform struct that `file` binds, from [`UNIFORMS`].
pub fn uniform_of(file: &str) -> Option<StructLayout> {
    UNIFORMS.iter().find(|(f, _)| *f == file).map(|(_, l)| *l)
}

/// Declares a fieldless enum of mode codes (0, 1, ... in declaration order) and the
/// WGSL `const` name of each, which the prelude emits: shaders compare against names.
macro_rules! mode_codes {
    (
        $(#[$meta:meta])*
        $vis:vis $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wgsl:ident),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* $variant),*
        }

        impl $name {
            /// `(WGSL const name, code)` of every variant.
            const WGSL: &'static [(&'static str, u32)] =
                &[$((stringify!($wgsl), $name::$variant as u32)),*];

            /// The code written in the shader's `mode` field (or override).
            pub const fn code(self) -> u32 {
                self as u32
            }
        }
    };
}

mode_codes! {
    /// `mode` of `pool.wgsl`.
    pub(crate) PoolMode {
        /// Max over the window (padding never wins).
        Max = POOL_MAX,
        /// Average counting zero padding.
        Avg = POOL_AVG,
        /// Adaptive average to an output size.
        Adaptive = POOL_ADAPTIVE,
    }
}

mode_codes! {
    /// `SPEC` of `conv_direct.wgsl`: the loop specialised for the kernel's shape.
    pub DirectSpec {
        /// Any kernel, stride and padding.
        Generic = DIRECT_GENERIC,
        /// Kernel 3 wide, stride 1 along x: one input window serves 3 kernel columns.
        Win3 = DIRECT_WIN3,
        /// 3x3, stride 1: each input row is also read once for the output rows it feeds.
        K3s1 = DIRECT_K3S1,
        /// 3x3, stride 2: each input row read once, a 9-value window.
        K3s2 = DIRECT_K3S2,
        /// 1x1, stride 2, no padding (downsampling shortcuts): the generic loop, with the
        /// even inputs of vector loads where rows are vec4-aligned.
        P1s2 = DIRECT_P1S2,
        /// Pointwise (1x1, stride 1, no padding; entry point `pointwise`) over flat pixels.
        Pw = DIRECT_PW,
        /// Pointwise with planes a multiple of 4 pixels: vector loads of 4 pixels.
        Pw4 = DIRECT_PW4,
        /// Pointwise on 1x1 planes with input channels a multiple of 4: a fully connected
        /// layer, its reduction read 4 inputs per vector load.
        Fc = DIRECT_FC,
        /// 1x1, stride 2, no padding, input and output rows a multiple of 4 wide: the
        /// pointwise loop over flat output pixels (tiles of up to 16 channels), each run
        /// of 4 the even values of two vector loads.
        Ps2 = DIRECT_PS2,
        /// 4x4, stride 1, no padding along x, rows a multiple of 4 wide (the 7x7 stride-2
        /// stem lowered by space-to-depth): each input row read once, two vector loads for
        /// the 4 kernel columns of 4 output columns (three for 8), for the up to 4 output
        /// rows it feeds.
        Win4 = DIRECT_WIN4,
    }
}

impl DirectSpec {
    /// The most specialised loop of `conv_direct.wgsl` for a kernel `(kh, kw)` with
    /// stride `(sh, sw)` and padding `(ph, pw)` on planes of `plane` output pixels from
    /// `in_c` input channels, rows `in_w` wide in and `out_w` wide out.
    pub fn of(
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
        plane: usize,
        in_c: usize,
        (in_w, out_w): (usize, usize),
    ) -> Self {
        match (kernel, stride, padding) {
            ((1, 1), (2, 2), (0, 0)) if in_w.is_multiple_of(4) && out_w.is_multiple_of(4) => {
                DirectSpec::Ps2
            }
            ((1, 1), (1, 1), (0, 0)) if plane == 1 && in_c.is_multiple_of(4) => DirectSpec::Fc,
            ((1, 1), (1, 1), (0, 0)) if plane.is_multiple_of(4) => DirectSpec::Pw4,
            ((1, 1), (1, 1), (0, 0)) => DirectSpec::Pw,
            ((3, 3), (1, 1), _) => DirectSpec::K3s1,
            ((3, 3), (2, 2), _) => DirectSpec::K3s2,
            ((1, 1), (2, 2), (0, 0)) => DirectSpec::P1s2,
            ((_, 3), (_, 1), _) => DirectSpec::Win3,
            ((4, 4), (1, 1), (_, 0)) if in_w.is_multiple_of(4) => DirectSpec::Win4,
            _ => DirectSpec::Generic,
        }
    }

    /// The entry point of `conv_direct.wgsl` that runs this loop.
    pub fn entry(self) -> &'static str {
        match self {
            DirectSpec::Pw | DirectSpec::Pw4 | DirectSpec::Fc | DirectSpec::Ps2 => "pointwise",
            _ => "main",
        }
    }

    /// The most specialised loop of `depthwise.wgsl` for a kernel and stride.
    pub fn depthwise(kernel: (usize, usize), stride: (usize, usize)) -> Self {
        match (kernel, stride) {
            ((3, 3), (1, 1)) => DirectSpec::K3s1,
            ((3, 3), (2, 2)) => DirectSpec::K3s2,
            _ => DirectSpec::Generic,
        }
    }
}

mode_codes! {
    /// `mode` of `eltwise.wgsl`.
    pub(crate) EltwiseMode {
        /// `y = act(a + b)`.
        Add = ELTWISE_ADD,
        /// `y = act(a)`.
        Activation = ELTWISE_ACTIVATION,
        /// `y = a * b[2c] + b[2c+1]`.
        ScaleShift = ELTWISE_SCALE_SHIFT,
        /// `y = a * b[i / inner]` (same shape: inner 1; per channel: inner = the plane).
        Mul = ELTWISE_MUL,
        /// Layer norm over the channels of pixel `i` (one thread per pixel), `b` holding
        /// interleaved weight and bias.
        LayerNorm = ELTWISE_LAYER_NORM,
        /// `y[(i / channels) * inner + offset + i % channels] = a[i]`: one input of a
        /// concatenation (blocks of `channels` values per sample into blocks of `inner`).
        Concat = ELTWISE_CONCAT,
        /// `y = min(max(a, eps), hi)`: a clip with any bounds (`eps` holds the lower one).
        Clip = ELTWISE_CLIP,
    }
}

/// `(name, value)` of every `u32` constant in the prelude for a conv tile: sizes, then
/// mode codes.
pub fn constants(tile: ConvTile) -> Vec<(&'static str, u32)> {
    let sizes = [
        ("WG_1D", WG_1D),
        ("CONV_WG_X", tile.wg_x),
        ("CONV_WG_Y", tile.wg_y),
        ("CONV_TILE_M", tile.tile_m()),
        ("CONV_TILE_N", tile.tile_n()),
        ("CONV_TILE_K", CONV_TILE_K),
        ("CONV_DIRECT_WG", CONV_DIRECT_WG),
        ("CONV_DIRECT_COLS", CONV_DIRECT_COLS),
        ("CONV_DIRECT_SINGLE_COLS", CONV_DIRECT_SINGLE_COLS),
        ("CONV_DIRECT_CO_PAD", CONV_DIRECT_CO_PAD),
        ("DEPTHWISE_ROWS", DEPTHWISE_ROWS),
        ("DEPTHWISE_WG", DEPTHWISE_WG),
        ("LINEAR_WG", LINEAR_WG),
        ("LINEAR_BATCH_TILE", LINEAR_BATCH_TILE),
        ("REDUCE_WG", REDUCE_WG),
    ];
    sizes
        .into_iter()
        .chain(PoolMode::WGSL.iter().copied())
        .chain(EltwiseMode::WGSL.iter().copied())
        .chain(DirectSpec::WGSL.iter().copied())
        .collect()
}

/// The WGSL prelude for a conv tile: [`constants`], [`STRUCTS`], `apply_act` and
/// [`SHIFT4_WGSL`].
pub fn prelude_for(tile: ConvTile) -> String {
    constants(tile)
        .iter()
        .map(|(name, v)| format!("const {name}: u32 = {v}u;\n"))
        .chain(STRUCTS.iter().map(StructLayout::wgsl))
        .chain(std::iter::once(activation_wgsl()))
        .chain(std::iter::once(SHIFT4_WGSL.to_string()))
        .collect()
}

/// `shift4(lo, hi, r)`: the 4 values from offset `r` (0-3) of the 8 in two vectors, how
/// the direct and depthwise kernels read a run that starts anywhere from the vectors that
/// hold it (one definition for both).
const SHIFT4_WGSL: &str = "fn shift4(lo: vec4<f32>, hi: vec4<f32>, r: u32) -> vec4<f32> {
    return select(select(lo, vec4<f32>(lo.yzw, hi.x), r == 1u),
                  select(vec4<f32>(lo.zw, hi.xy), vec4<f32>(lo.w, hi.xyz), r == 3u), r >= 2u);
}
";

/// `apply_act(v, code)` (and `apply_act4` of a vec4), the activation every kernel's epilogue applies, with the codes of
/// [`Act::code`] (one definition for all shaders).
fn activation_wgsl() -> String {
    let c = |a: Act| a.code();
    format!(
        "fn apply_act(v: f32, act: u32) -> f32 {{
    if (act == {relu}u) {{ return max(v, 0.0); }}
    if (act == {relu6}u) {{ return clamp(v, 0.0, 6.0); }}
    if (act == {tanh}u) {{ return tanh(v); }}
    if (act == {elu}u) {{ return select(exp(v) - 1.0, v, v > 0.0); }}
    if (act == {sigmoid}u) {{ return 1.0 / (1.0 + exp(-v)); }}
    if (act == {hsigmoid}u) {{ return clamp(v + 3.0, 0.0, 6.0) / 6.0; }}
    if (act == {hswish}u) {{ return v * clamp(v + 3.0, 0.0, 6.0) / 6.0; }}
    if (act == {silu}u) {{ return v / (1.0 + exp(-v)); }}
    if (act == {gelu}u) {{ return 0.5 * v * (1.0 + erf_approx(v * 0.70710678)); }}
    return v;
}}
// erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7): WGSL has no erf.
fn erf_approx(x: f32) -> f32 {{
    return erf_approx4(vec4<f32>(x)).x;
}}
// `apply_act` of 4 values at once: the activation's code is tested once per vector, not
// once per value (the epilogue of a layer with a short reduction is mostly these tests).
fn apply_act4(v: vec4<f32>, act: u32) -> vec4<f32> {{
    let z = vec4<f32>(0.0);
    if (act == {relu}u) {{ return max(v, z); }}
    if (act == {relu6}u) {{ return clamp(v, z, vec4<f32>(6.0)); }}
    if (act == {tanh}u) {{ return tanh(v); }}
    if (act == {elu}u) {{ return select(exp(v) - 1.0, v, v > z); }}
    if (act == {sigmoid}u) {{ return 1.0 / (1.0 + exp(-v)); }}
    if (act == {hsigmoid}u) {{ return clamp(v + 3.0, z, vec4<f32>(6.0)) / 6.0; }}
    if (act == {hswish}u) {{ return v * clamp(v + 3.0, z, vec4<f32>(6.0)) / 6.0; }}
    if (act == {silu}u) {{ return v / (1.0 + exp(-v)); }}
    if (act == {gelu}u) {{ return 0.5 * v * (1.0 + erf_approx4(v * 0.70710678)); }}
    return v;
}}
fn erf_approx4(x: vec4<f32>) -> vec4<f32> {{
    let t = 1.0 / (1.0 + 0.3275911 * abs(x));
    let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
        + t * (-1.453152027 + t * 1.061405429))));
    return sign(x) * (1.0 - poly * exp(-x * x));
}}
",
        relu = c(Act::Relu),
        relu6 = c(Act::Relu6),
        tanh = c(Act::Tanh),
        elu = c(Act::Elu),
        sigmoid = c(Act::Sigmoid),
        hsigmoid = c(Act::HardSigmoid),
        hswish = c(Act::HardSwish),
        silu = c(Act::Silu),
        gelu = c(Act::Gelu),
    )
}

/// Threads per workgroup of [`narrow_in_wgsl`]'s kernel.
pub const NARROW_IN_WG: u32 = 64;

/// What a [`narrow_in_wgsl`] kernel is generated for: its channels and epilogue (every
/// other size is a uniform of the dispatch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NarrowInVariant {
    /// Input channels.
    pub in_c: u32,
    /// Output channels.
    pub out_c: u32,
    /// Whether a bias is added (binding 3).
    pub bias: bool,
    /// Whether a residual is added (binding 4).
    pub residual: bool,
    /// The fused activation's code.
    pub act: u32,
}

/// The WGSL of a 3x3 stride-1 convolution with padding 1 of `v.in_c` to `v.out_c`
/// channels on rows a multiple of 4 wide (`tiling::narrow_in_fits`), after the prelude.
/// Each thread computes every output channel of 4 consecutive pixels of a row of one
/// sample (`gid.z`); its loops are unrolled here, so that every weight (and bias) is
/// loaded at a constant index before any branch. A CPU adapter (llvmpipe) loads such a
/// value once for all its SIMD lanes, where an index that differs between threads (a
/// thread's channel group in `conv_direct.wgsl`) is a loop over the lanes for every
/// component: for a decoder of 1 or 2 input channels those weight loads are most of the
/// direct kernel's loads (`examples/memop_cost.rs`).
/// Input rows are read as the vector of the 4 pixels and the values either side of it,
/// zero outside the plane by selects (no branch before the stores).
pub fn narrow_in_wgsl(v: NarrowInVariant) -> String {
    use std::fmt::Write;
    let (cin, cout) = (v.in_c, v.out_c);
    let mut s = prelude();
    s += "@group(0) @binding(0) var<uniform> p: ConvParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
";
    if v.bias {
        s += "@group(0) @binding(3) var<storage, read> bias: array<f32>;\n";
    }
    if v.residual {
        s += "@group(0) @binding(4) var<storage, read> res4: array<vec4<f32>>;\n";
    }
    s += "@group(0) @binding(5) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read> xv: array<vec4<f32>>;
";
    // `write!` to a String cannot fail.
    let _ = writeln!(s, "@compute @workgroup_size({NARROW_IN_WG})");
    s += "fn main(@builtin(global_invocation_id) gid: vec3<u32>, \
          @builtin(num_workgroups) nwg: vec3<u32>) {\n";
    for co in 0..cout {
        for ci in 0..cin {
            for k in 0..9 {
                let _ = writeln!(
                    s,
                    "    let w{co}_{ci}_{k} = wt[{}u];",
                    (co * cin + ci) * 9 + k
                );
            }
        }
        let b = if v.bias {
            format!("bias[{co}u]")
        } else {
            "0.0".into()
        };
        let _ = writeln!(s, "    var a{co} = vec4<f32>({b});");
    }
    // Threads past the last tile compute it again and store nothing.
    s += "    let ncol = p.out_w / 4u;
    let tiles = p.out_h * ncol;
    let t = gid.x + gid.y * nwg.x * ";
    let _ = writeln!(s, "{NARROW_IN_WG}u;");
    s += "    let tc = min(t, tiles - 1u);
    let oy = tc / ncol;
    let ox = (tc % ncol) * 4u;
    let n = gid.z;
    let plane = p.in_h * p.in_w;
";
    for ci in 0..cin {
        for ky in 0..3 {
            let _ = write!(
                s,
                "    {{
        let iy = i32(oy) + {ky} - 1;
        let ok = iy >= 0 && iy < i32(p.in_h);
        let row = (n * {cin}u + {ci}u) * plane + u32(clamp(iy, 0, i32(p.in_h) - 1)) * p.in_w;
        let m = select(vec4<f32>(0.0), xv[(row + ox) / 4u], ok);
        let l = select(0.0, x[row + max(ox, 1u) - 1u], ok && ox > 0u);
        let r = select(0.0, x[row + min(ox + 4u, p.in_w - 1u)], ok && ox + 4u < p.in_w);
        let s0 = vec4<f32>(l, m.xyz);
        let s2 = vec4<f32>(m.yzw, r);
"
            );
            for co in 0..cout {
                let k = ky * 3;
                let _ = writeln!(
                    s,
                    "        a{co} += w{co}_{ci}_{k} * s0 + w{co}_{ci}_{} * m + w{co}_{ci}_{} * s2;",
                    k + 1,
                    k + 2
                );
            }
            s += "    }\n";
        }
    }
    s += "    if (t < tiles) {
        let out_plane = p.out_h * p.out_w;
        let at = n * ";
    let _ = writeln!(s, "{cout}u * out_plane + oy * p.out_w + ox;");
    for co in 0..cout {
        let _ = writeln!(s, "        let i{co} = (at + {co}u * out_plane) / 4u;");
        let sum = if v.residual {
            format!("a{co} + res4[i{co}]")
        } else {
            format!("a{co}")
        };
        let _ = writeln!(s, "        y4[i{co}] = apply_act4({sum}, {}u);", v.act);
    }
    s += "    }\n}\n";
    s
}

/// The default prelude (wide conv tile).
pub fn prelude() -> String {
    prelude_for(ConvTile::WIDE)
}

/// The full source of a registered shader file (prelude + file), or `None`.
pub fn source(file: &str) -> Option<String> {
    source_for(file, ConvTile::WIDE)
}

/// Like [`source`] with the constants of another conv tile.
pub fn source_for(file: &str, tile: ConvTile) -> Option<String> {
    FILES
        .iter()
        .find(|(name, _)| *name == file)
        .map(|(_, src)| prelude_for(tile) + src)
}

/// A hash (FNV-1a, 64 bits) of every shader's full source under both conv tiles: it
/// changes with any kernel, prelude constant or struct, so that measurements taken with
/// other kernels are not reused.
pub fn source_hash() -> u64 {
    // The generated kernels change with their generator, not with any file.
    let narrow = NarrowInVariant {
        in_c: 2,
        out_c: 4,
        bias: true,
        residual: true,
        act: 1,
    };
    let files = [ConvTile::WIDE, ConvTile::NARROW]
        .into_iter()
        .flat_map(|tile| FILES.iter().map(move |(name, _)| source_for(name, tile)));
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for src in files.flatten().chain([narrow_in_wgsl(narrow)]) {
        for b in src.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}
