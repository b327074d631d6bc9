//! The wire frame: what the device sends to the edge at a split, byte for byte.
//!
//! `payload_bytes` everywhere in splitbench is the exact length of this frame
//! ([`frame_len`] computes it without encoding for the `raw-f32` and `packed` codecs;
//! with entropy coding only [`encode`] knows the coded size).
//!
//! # Layout (version 1, all integers little-endian, no padding, no reserved bytes)
//!
//! ```text
//! offset size  field
//! ------ ----  ------------------------------------------------------------------------
//! fixed header (FIXED_HEADER_LEN = 10 bytes)
//!   0     4    magic  b"SBFR"
//!   4     1    version = 1
//!   5     1    tensor count T, 1 ..= MAX_TENSORS (8)
//!   6     4    frame length in bytes, u32 (this whole frame, checksum included)
//! T tensor descriptors, one after the other (TENSOR_DESC_LEN = 23 bytes + params each)
//!   +0    1    codec: 0 = raw-f32, 1 = packed, 2 = packed+entropy
//!   +1    1    bits: 32 for raw-f32, else 1 ..= 8
//!   +2    1    granularity: 0 = per-tensor (one group per sample, C*H*W values),
//!              1 = per-channel (one group per (sample, channel), H*W values);
//!              0 for raw-f32
//!   +3    4    batch N >= 1, u32
//!   +7    4    channels C >= 1, u32
//!   +11   4    height H >= 1, u32
//!   +15   4    width W >= 1, u32
//!   +19   4    payload length in bytes, u32
//!   +23   8*G  quantization params of the G groups in order (none for raw-f32):
//!              min f32, scale f32 (finite, scale >= +0.0)
//! T payloads, in descriptor order
//!   raw-f32:         N*C*H*W f32 little-endian
//!   packed:          ceil(N*C*H*W*bits / 8) bytes: symbol i occupies bits
//!                    [i*bits, (i+1)*bits) of the byte string, LSB first (the packed u32
//!                    words of `cpu::pack_symbols` in little-endian order, cut to whole
//!                    bytes); the padding bits of the last byte are 0
//!   packed+entropy:  the coded symbols of `compress::codec` (model + ANS words); used
//!                    only when strictly shorter than `packed`, else the encoder falls
//!                    back to `packed`
//! trailer
//!   end-4 4    CRC-32 (IEEE, crc32fast) of every byte before it
//! ```
//!
//! The decoder rebuilds each group's dequantization exactly as the device computed it:
//! `x = min + q * scale` with the transmitted `min` and `scale` (the CPU reference
//! `cpu::dequantize_unpack` and the GPU kernel `unpack_dequantize` both read only those
//! two). `max` and `inv_scale` are not sent; on decode they are derived
//! (`max = min + L*scale`, `inv_scale = 1/scale` or 0) for completeness only.
//!
//! Frame size for one tensor with `G` groups: `10 + 23 + 8*G + payload + 4`. For
//! resnet18-cifar cut after layer1 (1 x 64x32x32), 4-bit per-tensor, packed: header
//! `10 + 23 + 8 = 41` bytes, payload `64*32*32*4/8 = 32,768` bytes, checksum 4 bytes:
//! 32,813 bytes in all (vs 262,144 bytes of f32 payload for raw-f32).
//!
//! # Validation
//!
//! [`decode`] rejects with [`Error::BadFrame`] (never a panic): a frame shorter or longer
//! than its declared length, a bad magic/version/codec/bits/granularity, zero or
//! out-of-range sizes (all size arithmetic is checked), more elements than
//! [`DecodeLimits`] allow, payload lengths that do not add up, a checksum mismatch,
//! non-finite params, non-zero padding bits, and entropy-coded payloads that are not
//! exactly what the encoder would have produced for the decoded symbols. Hence every
//! accepted frame re-encodes to the same bytes: there are no ignored fields.

mod read;
mod write;

pub use read::{decode, DecodeLimits, Decoded};
pub use write::{encode, Encoded, TensorReport};

use super::codec;
use super::config::{Encoding, Scale};
use crate::cpu::{self, QuantParams};
use crate::error::{Error, Result};
use crate::model::Shape;

/// First four bytes of every frame.
pub const MAGIC: [u8; 4] = *b"SBFR";
/// Format version written and accepted.
pub const VERSION: u8 = 1;
/// Bytes of the fixed header (magic, version, tensor count, frame length).
pub const FIXED_HEADER_LEN: usize = 10;
/// Bytes of one tensor descriptor, without its params.
pub const TENSOR_DESC_LEN: usize = 23;
/// Bytes of one group's params (min, scale).
pub const PARAM_LEN: usize = 8;
/// Bytes of the CRC-32 trailer.
pub const CHECKSUM_LEN: usize = 4;
/// Most tensors in one frame (a cut rarely carries more than 2).
pub const MAX_TENSORS: usize = 8;

/// How a tensor's payload is coded on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[repr(u8)]
pub enum Codec {
    /// f32 values, little-endian.
    RawF32 = 0,
    /// Bit-packed quantized symbols.
    Packed = 1,
    /// Entropy-coded quantized symbols (`compress::codec`).
    PackedEntropy = 2,
}

impl Codec {
    /// Name used in CSV rows and messages.
    pub fn name(self) -> &'static str {
        match self {
            Codec::RawF32 => "raw-f32",
            Codec::Packed => "packed",
            Codec::PackedEntropy => "packed+entropy",
        }
    }
}

/// `c * h * w` with overflow checked.
fn shape_numel(s: Shape) -> Option<usize> {
    s.c.checked_mul(s.h)?.checked_mul(s.w)
}

/// One group's dequantization: `x = min + q * scale`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GroupParams {
    /// Group minimum (the value of symbol 0).
    pub min: f32,
    /// Step between consecutive symbols.
    pub scale: f32,
}

impl GroupParams {
    /// The transmitted part of full params.
    pub fn from_quant(p: &QuantParams) -> Self {
        Self {
            min: p.min,
            scale: p.scale,
        }
    }

    /// Full params for the dequantization kernels: `min` and `scale` exactly as sent;
    /// `max` and `inv_scale` derived (the dequantization does not read them).
    pub fn to_quant(self, bits: u32) -> QuantParams {
        let levels = ((1u32 << bits) - 1) as f32;
        QuantParams {
            min: self.min,
            max: self.min + levels * self.scale,
            scale: self.scale,
            inv_scale: if self.scale > 0.0 {
                1.0 / self.scale
            } else {
                0.0
            },
        }
    }

    fn valid(&self) -> bool {
        self.min.is_finite() && self.scale.is_finite() && self.scale.is_sign_positive()
    }
}

/// Quantized tensor content: params per group and bit-packed symbols.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantized {
    /// Bits per symbol, 1..=8.
    pub bits: u32,
    /// Grouping of the params.
    pub scale: Scale,
    /// One entry per group, in order.
    pub params: Vec<GroupParams>,
    /// Symbols packed LSB first into u32 words (`cpu::pack_symbols`), unused high bits 0.
    pub words: Vec<u32>,
}

/// What a tensor carries.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    /// Uncompressed f32 values.
    RawF32(Vec<f32>),
    /// Quantized and packed.
    Quantized(Quantized),
}

/// One tensor of a frame: `batch` samples of `shape`.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameTensor {
    /// Samples.
    pub batch: usize,
    /// Shape of one sample (`c x h x w`; vectors are `f x 1 x 1`).
    pub shape: Shape,
    /// The values.
    pub payload: Payload,
}

impl FrameTensor {
    /// `batch * c * h * w` (`None` on overflow).
    pub fn numel(&self) -> Option<usize> {
        self.batch.checked_mul(shape_numel(self.shape)?)
    }

    /// The encoding of this tensor (for [`frame_len`]).
    pub fn encoding(&self) -> Encoding {
        match &self.payload {
            Payload::RawF32(_) => Encoding::F32,
            Payload::Quantized(q) => Encoding::Quant {
                bits: q.bits,
                scale: q.scale,
            },
        }
    }

    /// The quantized symbols (`None` for raw f32).
    pub fn symbols(&self) -> Option<Vec<u32>> {
        match &self.payload {
            Payload::RawF32(_) => None,
            Payload::Quantized(q) => Some(cpu::unpack_symbols(&q.words, q.bits, self.numel()?)),
        }
    }

    /// The f32 values on the CPU (reference for the GPU decode): raw values as they are,
    /// quantized ones through `cpu::dequantize_unpack` with the frame's params.
    pub fn dequantize(&self) -> Vec<f32> {
        match &self.payload {
            Payload::RawF32(v) => v.clone(),
            Payload::Quantized(q) => {
                let numel = self.numel().unwrap_or(0);
                let (_, group_len) = q.scale.groups(self.batch, self.shape).unwrap_or((0, 1));
                let params: Vec<QuantParams> =
                    q.params.iter().map(|p| p.to_quant(q.bits)).collect();
                cpu::dequantize_unpack(&q.words, &params, group_len, q.bits, numel)
            }
        }
    }
}

/// Describes one tensor of a frame without its data, for [`frame_len`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    /// Samples.
    pub batch: usize,
    /// Shape of one sample.
    pub shape: Shape,
    /// How it is sent.
    pub encoding: Encoding,
}

fn spec_sizes(s: &TensorSpec) -> Option<(usize, usize)> {
    // (descriptor + params bytes, uncoded payload bytes)
    let numel = s.batch.checked_mul(shape_numel(s.shape)?)?;
    match s.encoding {
        Encoding::F32 => Some((TENSOR_DESC_LEN, numel.checked_mul(4)?)),
        Encoding::Quant { bits, scale } => {
            if !(1..=8).contains(&bits) {
                return None;
            }
            let (groups, _) = scale.groups(s.batch, s.shape)?;
            let desc = TENSOR_DESC_LEN.checked_add(groups.checked_mul(PARAM_LEN)?)?;
            Some((desc, codec::packed_len(numel, bits)?))
        }
        // Not carried by a frame: rejected by `frame_len` and `header_len`.
        Encoding::Nothing | Encoding::Uint8Input => None,
    }
}

/// Bytes of the header (fixed header + descriptors with params) for these tensors.
pub fn header_len(specs: &[TensorSpec]) -> Result<usize> {
    specs.iter().try_fold(FIXED_HEADER_LEN, |acc, s| {
        spec_sizes(s)
            .and_then(|(d, _)| acc.checked_add(d))
            .ok_or_else(|| Error::InvalidArg(format!("tensor {s:?}: size overflows")))
    })
}

/// Exact frame length when sent without entropy coding (raw-f32 / packed), checksum
/// included. With entropy coding enabled this is an upper bound: the encoder only keeps
/// a coded payload that is shorter than the packed one.
pub fn frame_len(specs: &[TensorSpec]) -> Result<usize> {
    if specs.is_empty() || specs.len() > MAX_TENSORS {
        return Err(Error::InvalidArg(format!(
            "a frame carries 1..={MAX_TENSORS} tensors, got {}",
            specs.len()
        )));
    }
    if let Some(s) = specs.iter().find(|s| !s.encoding.is_feature()) {
        return Err(Error::InvalidArg(format!(
            "a frame carries f32 or n-bit features, not `{}`",
            s.encoding
        )));
    }
    specs
        .iter()
        .try_fold(FIXED_HEADER_LEN + CHECKSUM_LEN, |acc, s| {
            let (d, p) = spec_sizes(s)?;
            acc.checked_add(d)?.checked_add(p)
        })
        .ok_or_else(|| Error::InvalidArg("frame size overflows".into()))
}
