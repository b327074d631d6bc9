//! Uniform n-bit feature quantization and bit packing, the reference the GPU kernels must
//! match bit for bit.
//!
//! A tensor is split into contiguous *groups* of `group_len` values (per-tensor: one group
//! per sample, `C*H*W`; per-channel: one per (sample, channel), `H*W`). Each group has
//! `min`, `scale = (max - min) / L` and `inv_scale = L / (max - min)` (0 when max == min),
//! `L = 2^bits - 1`. A value becomes `q = clamp(round_half_even((x - min) * inv_scale), 0, L)`;
//! symbol `i` occupies bits `[i*bits, (i+1)*bits)` of a little-endian stream of u32 words.

/// Per-group quantization parameters (layout shared with the GPU: 4 x f32).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct QuantParams {
    /// Group minimum.
    pub min: f32,
    /// Group maximum.
    pub max: f32,
    /// `(max - min) / L`.
    pub scale: f32,
    /// `L / (max - min)`, 0 for a constant group.
    pub inv_scale: f32,
}

fn levels(bits: u32) -> f32 {
    ((1u32 << bits) - 1) as f32
}

/// Min/max and scales of each group of `group_len` consecutive values.
pub fn group_params(x: &[f32], group_len: usize, bits: u32) -> Vec<QuantParams> {
    x.chunks(group_len)
        .map(|g| {
            let min = g.iter().copied().fold(f32::INFINITY, f32::min);
            let max = g.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let range = max - min;
            let l = levels(bits);
            QuantParams {
                min,
                max,
                scale: range / l,
                inv_scale: if range > 0.0 { l / range } else { 0.0 },
            }
        })
        .collect()
}

/// Quantized symbols of `x` given its group parameters (which may come from the GPU).
pub fn quantize(x: &[f32], group_len: usize, params: &[QuantParams], bits: u32) -> Vec<u32> {
    let l = levels(bits);
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let p = params[i / group_len];
            ((v - p.min) * p.inv_scale).round_ties_even().clamp(0.0, l) as u32
        })
        .collect()
}

/// Packs `bits`-bit symbols into u32 words, LSB first; symbols may straddle two words.
pub fn pack_symbols(q: &[u32], bits: u32) -> Vec<u32> {
    let b = bits as usize;
    let mut words = vec![0u32; (q.len() * b).div_ceil(32)];
    for (i, &s) in q.iter().enumerate() {
        let bit = i * b;
        let (w, off) = (bit / 32, bit % 32);
        words[w] |= s << off;
        if off + b > 32 {
            words[w + 1] |= s >> (32 - off);
        }
    }
    words
}

/// Inverse of [`pack_symbols`] for `count` symbols.
pub fn unpack_symbols(words: &[u32], bits: u32, count: usize) -> Vec<u32> {
    let b = bits as usize;
    let mask = ((1u64 << b) - 1) as u32;
    (0..count)
        .map(|i| {
            let bit = i * b;
            let (w, off) = (bit / 32, bit % 32);
            let mut s = words[w] >> off;
            if off + b > 32 {
                s |= words[w + 1] << (32 - off);
            }
            s & mask
        })
        .collect()
}

/// Quantize then pack: returns the group parameters and the packed words.
pub fn quantize_pack(x: &[f32], group_len: usize, bits: u32) -> (Vec<QuantParams>, Vec<u32>) {
    let params = group_params(x, group_len, bits);
    let q = quantize(x, group_len, &params, bits);
    (params, pack_symbols(&q, bits))
}

/// Unpack and dequantize `count` values: `min + q * scale`.
pub fn dequantize_unpack(
    words: &[u32],
    params: &[QuantParams],
    group_len: usize,
    bits: u32,
    count: usize,
) -> Vec<f32> {
    unpack_symbols(words, bits, count)
        .iter()
        .enumerate()
        .map(|(i, &q)| {
            let p = params[i / group_len];
            p.min + q as f32 * p.scale
        })
        .collect()
}
