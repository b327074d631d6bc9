//! Codec timer (GPU feature encode/decode); last in `gpu`'s order, after `timing`.
//!
//! Times encoding (per-group min/max, quantize and pack: the device side of a split) and
//! decoding (unpack and dequantize: the edge side), with the kernels of
//! `shaders/quantize.wgsl`. Results are cached by (numel, group_len, bits), so each distinct
//! feature size and bit width is measured once. Float32 features are sent raw and need no
//! codec (their encode and decode times are 0 by definition, not measured here).

use super::buffers;
use super::clock::{time_dispatch_groups_async, Stats, TimingMethod};
use super::context::GpuContext;
use super::launch::Builder;
use crate::cpu::QuantParams;
use crate::error::{Error, Result};
use crate::tensor::Rng;
use std::collections::HashMap;

/// Bytes of one group's parameters on the GPU: a [`QuantParams`], whose WGSL layout the
/// shader prelude takes from it.
const GPU_PARAMS_BYTES: u64 = std::mem::size_of::<QuantParams>() as u64;

/// Measured encode and decode of one feature.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct CodecStats {
    /// Min/max + quantize/pack (two dispatches), ms.
    pub encode: Stats,
    /// Unpack/dequantize (one dispatch), ms.
    pub decode: Stats,
}

/// Measures and caches codec times on one context.
pub struct CodecTimer<'a> {
    ctx: &'a GpuContext,
    warmup: usize,
    reps: usize,
    seed: u64,
    method: Option<TimingMethod>,
    cache: HashMap<(usize, usize, u32), CodecStats>,
}

impl<'a> CodecTimer<'a> {
    /// A timer doing `warmup` untimed and `reps` timed runs per measurement, on random
    /// features drawn from `seed` (the times do not depend on the values).
    pub fn new(ctx: &'a GpuContext, warmup: usize, reps: usize, seed: u64) -> Self {
        Self {
            ctx,
            warmup,
            reps,
            seed,
            method: None,
            cache: HashMap::new(),
        }
    }

    /// How the measurements so far were timed (`None` before the first).
    pub fn method(&self) -> Option<TimingMethod> {
        self.method
    }

    /// Distinct features measured so far.
    pub fn measured(&self) -> usize {
        self.cache.len()
    }

    /// Encode and decode times of `numel` values in scale groups of `group_len` at `bits`
    /// bits (1..=8); measured on the first call for a key, then cached.
    pub fn time(&mut self, numel: usize, group_len: usize, bits: u32) -> Result<CodecStats> {
        pollster::block_on(self.time_async(numel, group_len, bits))
    }

    /// [`Self::time`] for callers that cannot block (a browser).
    pub async fn time_async(
        &mut self,
        numel: usize,
        group_len: usize,
        bits: u32,
    ) -> Result<CodecStats> {
        if let Some(s) = self.cache.get(&(numel, group_len, bits)) {
            return Ok(*s);
        }
        if numel == 0
            || group_len == 0
            || !numel.is_multiple_of(group_len)
            || !(1..=8).contains(&bits)
        {
            return Err(Error::InvalidArg(format!(
                "codec of {numel} values in groups of {group_len} at {bits} bits"
            )));
        }
        let ctx = self.ctx;
        let max = ctx.device.limits().max_storage_buffer_binding_size;
        let bytes = (numel as u64).checked_mul(4).filter(|&b| b <= max);
        let Some(bytes) = bytes else {
            return Err(Error::Unsupported(format!(
                "a feature of {numel} values needs {numel} x 4 bytes, the device binds at most \
                 {max}"
            )));
        };
        let groups = (numel / group_len) as u64;
        let words = (numel as u64 * bits as u64).div_ceil(32);
        let x = buffers::upload(
            ctx,
            "codec x",
            &Rng::new(self.seed ^ numel as u64).vec(numel, -1.0, 1.0),
        );
        let params = buffers::zeroed(ctx, "codec params", groups * GPU_PARAMS_BYTES);
        let packed = buffers::zeroed(ctx, "codec words", words * 4);
        let y = buffers::zeroed(ctx, "codec y", bytes);
        let b = Builder::new(ctx);
        let enc = b.quantize_pack(numel, group_len, bits, &x, &params, &packed)?;
        let dec = b.unpack_dequantize(numel, group_len, bits, &params, &packed, &y)?;
        let (method, stats) =
            time_dispatch_groups_async(ctx, &[enc.to_vec(), vec![dec]], self.warmup, self.reps)
                .await?;
        self.method = Some(method);
        let s = CodecStats {
            encode: stats[0],
            decode: stats[1],
        };
        self.cache.insert((numel, group_len, bits), s);
        Ok(s)
    }
}
