//! Naive CPU reference of every op the GPU runs (layer 2, uses `model`): obviously correct
//! loops, the oracle for the GPU tests. Tensors are NCHW f32 with an explicit batch `n`.

mod ops;
mod quant;

pub use ops::{
    act_inplace, adaptive_avg_pool, add, batch_norm, conv2d, linear, mask_channels, pool, run,
};
pub use quant::{
    dequantize_unpack, group_params, pack_symbols, quantize, quantize_pack, unpack_symbols,
    QuantParams,
};
