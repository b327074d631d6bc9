//! Shader registry: every `.wgsl` in `shaders/` embedded at compile time, prefixed with a
//! prelude of the constants that Rust and WGSL must agree on (one source of truth).

use crate::model::Act;

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
/// Workgroup height of the narrow convolution variant (256 output channels per tile).
pub const CONV_NARROW_WG_Y: u32 = 64;
/// Below this many output tiles a convolution splits its reduction (split-K) so that
/// enough workgroups exist to fill a large GPU.
pub const CONV_SPLITK_TARGET_WORKGROUPS: u32 = 128;
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
        "depthwise.wgsl",
        include_str!("../../shaders/depthwise.wgsl"),
    ),
    ("linear.wgsl", include_str!("../../shaders/linear.wgsl")),
    ("pool.wgsl", include_str!("../../shaders/pool.wgsl")),
    ("eltwise.wgsl", include_str!("../../shaders/eltwise.wgsl")),
    ("mask.wgsl", include_str!("../../shaders/mask.wgsl")),
    ("quantize.wgsl", include_str!("../../shaders/quantize.wgsl")),
];

/// Tile shape of a convolution pipeline: workgroup `wg_x` x `wg_y` threads, each
/// computing 4 output channels x 4 output pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// WGSL constant declarations generated from the Rust constants above, for a conv tile.
pub fn prelude_for(tile: ConvTile) -> String {
    [
        ("WG_1D", WG_1D),
        ("CONV_WG_X", tile.wg_x),
        ("CONV_WG_Y", tile.wg_y),
        ("CONV_TILE_M", tile.tile_m()),
        ("CONV_TILE_N", tile.tile_n()),
        ("CONV_TILE_K", CONV_TILE_K),
        ("LINEAR_WG", LINEAR_WG),
        ("REDUCE_WG", REDUCE_WG),
    ]
    .iter()
    .map(|(name, v)| format!("const {name}: u32 = {v}u;\n"))
    .chain(std::iter::once(activation_wgsl()))
    .collect()
}

/// `apply_act(v, code)`, the activation every kernel's epilogue applies, with the codes of
/// [`Act::code`] (one definition for all shaders).
fn activation_wgsl() -> String {
    let c = |a: Act| a.code();
    format!(
        "fn apply_act(v: f32, act: u32) -> f32 {{\n\
         \x20   if (act == {relu}u) {{ return max(v, 0.0); }}\n\
         \x20   if (act == {relu6}u) {{ return clamp(v, 0.0, 6.0); }}\n\
         \x20   if (act == {tanh}u) {{ return tanh(v); }}\n\
         \x20   if (act == {elu}u) {{ return select(exp(v) - 1.0, v, v > 0.0); }}\n\
         \x20   return v;\n\
         }}\n",
        relu = c(Act::Relu),
        relu6 = c(Act::Relu6),
        tanh = c(Act::Tanh),
        elu = c(Act::Elu),
    )
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
