//! Shader registry: every `.wgsl` in `shaders/` embedded at compile time, prefixed with a
//! prelude of the constants that Rust and WGSL must agree on (one source of truth).

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

/// WGSL constant declarations generated from the Rust constants above.
pub fn prelude() -> String {
    [
        ("WG_1D", WG_1D),
        ("CONV_WG_X", CONV_WG_X),
        ("CONV_WG_Y", CONV_WG_Y),
        ("CONV_TILE_M", CONV_TILE_M),
        ("CONV_TILE_N", CONV_TILE_N),
        ("CONV_TILE_K", CONV_TILE_K),
        ("LINEAR_WG", LINEAR_WG),
        ("REDUCE_WG", REDUCE_WG),
    ]
    .iter()
    .map(|(name, v)| format!("const {name}: u32 = {v}u;\n"))
    .collect()
}

/// The full source of a registered shader file (prelude + file), or `None`.
pub fn source(file: &str) -> Option<String> {
    FILES
        .iter()
        .find(|(name, _)| *name == file)
        .map(|(_, src)| prelude() + src)
}
