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

/// What the encoder did with one tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TensorReport {
    /// Codec written in the frame (`packed` when entropy coding did not help).
    pub codec: Codec,
    /// Bit-packed size (`raw-f32`: the f32 bytes).
    pub packed_bytes: usize,
    /// Entropy-coded size when it was tried (kept or not).
    pub coded_bytes: Option<usize>,
    /// Bytes of this tensor's payload in the frame.
    pub payload_bytes: usize,
}

/// An encoded frame and how each tensor was coded.
#[derive(Clone, Debug, PartialEq)]
pub struct Encoded {
    /// The frame; its length is the `payload_bytes` of the transmission.
    pub bytes: Vec<u8>,
    /// One report per tensor.
    pub tensors: Vec<TensorReport>,
}

fn bad<T>(offset: usize, msg: impl Into<String>) -> Result<T> {
    Err(Error::BadFrame {
        offset,
        msg: msg.into(),
    })
}

fn arg<T>(msg: String) -> Result<T> {
    Err(Error::InvalidArg(msg))
}

fn to_u32(v: usize, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::InvalidArg(format!("{what} {v} does not fit u32")))
}

/// Checks a quantized tensor before encoding; returns its symbol count.
fn check_quantized(i: usize, t: &FrameTensor, q: &Quantized) -> Result<usize> {
    let numel = t
        .numel()
        .ok_or_else(|| Error::InvalidArg(format!("tensor {i}: size overflows")))?;
    if !(1..=8).contains(&q.bits) {
        return arg(format!("tensor {i}: bits must be 1..=8, got {}", q.bits));
    }
    let (groups, _) = q
        .scale
        .groups(t.batch, t.shape)
        .ok_or_else(|| Error::InvalidArg(format!("tensor {i}: size overflows")))?;
    if q.params.len() != groups {
        return arg(format!(
            "tensor {i}: {} params for {groups} groups",
            q.params.len()
        ));
    }
    if let Some((g, p)) = q.params.iter().enumerate().find(|(_, p)| !p.valid()) {
        return arg(format!(
            "tensor {i}: group {g} params {p:?} are not finite with scale >= 0 \
             (non-finite input?)"
        ));
    }
    let total_bits = numel
        .checked_mul(q.bits as usize)
        .ok_or_else(|| Error::InvalidArg(format!("tensor {i}: size overflows")))?;
    if q.words.len() != total_bits.div_ceil(32) {
        return arg(format!(
            "tensor {i}: {} words for {numel} symbols of {} bits",
            q.words.len(),
            q.bits
        ));
    }
    if !total_bits.is_multiple_of(32) {
        let last = q.words[q.words.len() - 1];
        if last >> (total_bits % 32) != 0 {
            return arg(format!("tensor {i}: padding bits of the last word are set"));
        }
    }
    Ok(numel)
}

/// Encodes tensors into a frame. With `entropy`, each quantized tensor is entropy-coded
/// and sent coded when that is strictly shorter than packed, else packed.
pub fn encode(tensors: &[FrameTensor], entropy: bool) -> Result<Encoded> {
    if tensors.is_empty() || tensors.len() > MAX_TENSORS {
        return arg(format!(
            "a frame carries 1..={MAX_TENSORS} tensors, got {}",
            tensors.len()
        ));
    }
    let mut header = Vec::new();
    let mut payloads: Vec<Vec<u8>> = Vec::with_capacity(tensors.len());
    let mut reports = Vec::with_capacity(tensors.len());
    for (i, t) in tensors.iter().enumerate() {
        let dims = [t.batch, t.shape.c, t.shape.h, t.shape.w];
        if dims.contains(&0) {
            return arg(format!("tensor {i}: zero-sized dimension in {dims:?}"));
        }
        let (codec, bits, gran, payload, report) = match &t.payload {
            Payload::RawF32(v) => {
                if Some(v.len()) != t.numel() {
                    return arg(format!(
                        "tensor {i}: {} values for {} x {}",
                        v.len(),
                        t.batch,
                        t.shape
                    ));
                }
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                let n = bytes.len();
                let report = TensorReport {
                    codec: Codec::RawF32,
                    packed_bytes: n,
                    coded_bytes: None,
                    payload_bytes: n,
                };
                (Codec::RawF32, 32u8, 0u8, bytes, report)
            }
            Payload::Quantized(q) => {
                let numel = check_quantized(i, t, q)?;
                let packed_len = codec::packed_len(numel, q.bits).unwrap_or(usize::MAX);
                let packed: Vec<u8> = q
                    .words
                    .iter()
                    .flat_map(|w| w.to_le_bytes())
                    .take(packed_len)
                    .collect();
                let coded = if entropy {
                    let symbols = cpu::unpack_symbols(&q.words, q.bits, numel);
                    Some(codec::entropy_encode(&symbols, q.bits)?)
                } else {
                    None
                };
                let coded_bytes = coded.as_ref().map(Vec::len);
                let (codec, payload) = match coded {
                    Some(c) if c.len() < packed.len() => (Codec::PackedEntropy, c),
                    _ => (Codec::Packed, packed),
                };
                let report = TensorReport {
                    codec,
                    packed_bytes: packed_len,
                    coded_bytes,
                    payload_bytes: payload.len(),
                };
                (codec, q.bits as u8, q.scale as u8, payload, report)
            }
        };
        header.extend_from_slice(&[codec as u8, bits, gran]);
        for d in dims {
            header.extend_from_slice(&to_u32(d, "dimension")?.to_le_bytes());
        }
        header.extend_from_slice(&to_u32(payload.len(), "payload length")?.to_le_bytes());
        if let Payload::Quantized(q) = &t.payload {
            for p in &q.params {
                header.extend_from_slice(&p.min.to_le_bytes());
                header.extend_from_slice(&p.scale.to_le_bytes());
            }
        }
        payloads.push(payload);
        reports.push(report);
    }
    let total = payloads
        .iter()
        .try_fold(FIXED_HEADER_LEN + header.len() + CHECKSUM_LEN, |a, p| {
            a.checked_add(p.len())
        })
        .ok_or_else(|| Error::InvalidArg("frame size overflows".into()))?;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(tensors.len() as u8);
    out.extend_from_slice(&to_u32(total, "frame length")?.to_le_bytes());
    out.extend_from_slice(&header);
    for p in &payloads {
        out.extend_from_slice(p);
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    debug_assert_eq!(out.len(), total);
    Ok(Encoded {
        bytes: out,
        tensors: reports,
    })
}

/// Caps on what a frame may declare, checked before anything is allocated or decoded.
///
/// Entropy coding can describe many values in few bytes (a tensor of zeros codes to a
/// model and no words at all), so the frame length alone does not bound the decoder's
/// work or memory: `max_elements` does. An edge that knows the shapes of its cut should
/// set it to their total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Most values over all tensors of a frame.
    pub max_elements: usize,
}

impl Default for DecodeLimits {
    /// 2^26 values (256 MiB of f32: a batch of 64 ImageNet ResNet stem features).
    fn default() -> Self {
        Self {
            max_elements: 1 << 26,
        }
    }
}

/// A decoded frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// The tensors, in frame order; quantized ones carry packed words ready for the GPU.
    pub tensors: Vec<FrameTensor>,
    /// The codec each tensor had on the wire.
    pub codecs: Vec<Codec>,
}

/// Little-endian reader that reports offsets.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        match end {
            Some(end) => {
                let s = &self.data[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => bad(
                self.pos,
                format!(
                    "{what}: needs {n} bytes, {} left",
                    self.data.len() - self.pos
                ),
            ),
        }
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

struct Desc {
    codec: Codec,
    bits: u32,
    scale: Scale,
    batch: usize,
    shape: Shape,
    numel: usize,
    payload_len: usize,
    params: Vec<GroupParams>,
}

fn read_desc(
    r: &mut Reader,
    i: usize,
    elements: &mut usize,
    limits: &DecodeLimits,
) -> Result<Desc> {
    let at = r.pos;
    let codec = match r.u8("codec")? {
        0 => Codec::RawF32,
        1 => Codec::Packed,
        2 => Codec::PackedEntropy,
        c => return bad(at, format!("tensor {i}: unknown codec {c}")),
    };
    let bits = u32::from(r.u8("bits")?);
    let gran_byte = r.u8("granularity")?;
    let scale = match gran_byte {
        0 => Scale::Tensor,
        1 => Scale::Channel,
        g => return bad(at + 2, format!("tensor {i}: unknown granularity {g}")),
    };
    match codec {
        Codec::RawF32 if bits != 32 => {
            return bad(at + 1, format!("tensor {i}: raw-f32 with bits {bits}"))
        }
        Codec::RawF32 if gran_byte != 0 => {
            return bad(
                at + 2,
                format!("tensor {i}: raw-f32 with granularity {gran_byte}"),
            )
        }
        Codec::Packed | Codec::PackedEntropy if !(1..=8).contains(&bits) => {
            return bad(at + 1, format!("tensor {i}: bits {bits} not in 1..=8"))
        }
        _ => {}
    }
    let mut dims = [0usize; 4];
    for (k, name) in ["batch", "channels", "height", "width"].iter().enumerate() {
        let d = r.u32(name)?;
        if d == 0 {
            return bad(r.pos - 4, format!("tensor {i}: {name} is 0"));
        }
        dims[k] = d as usize;
    }
    let [batch, c, h, w] = dims;
    let shape = Shape::new(c, h, w);
    let numel = (batch as u128) * (c as u128) * (h as u128) * (w as u128);
    let total = (*elements as u128) + numel;
    if total > limits.max_elements as u128 {
        return bad(
            at + 3,
            format!(
                "tensor {i}: {batch} x {shape} brings the frame to {total} values, over the \
                 limit of {}",
                limits.max_elements
            ),
        );
    }
    let numel = numel as usize; // <= max_elements: fits
    *elements = total as usize;
    let payload_len = r.u32("payload length")? as usize;
    let mut params = Vec::new();
    if codec != Codec::RawF32 {
        // groups <= numel <= max_elements: no overflow.
        let (groups, _) = scale.groups(batch, shape).ok_or_else(|| Error::BadFrame {
            offset: at,
            msg: "group count overflows".into(),
        })?;
        let bytes = groups.saturating_mul(PARAM_LEN);
        let start = r.pos;
        let raw = r.take(bytes, "quantization params")?;
        params = raw
            .chunks_exact(PARAM_LEN)
            .map(|c| GroupParams {
                min: f32::from_le_bytes([c[0], c[1], c[2], c[3]]),
                scale: f32::from_le_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        if let Some(g) = params.iter().position(|p| !p.valid()) {
            return bad(
                start + g * PARAM_LEN,
                format!("tensor {i}: group {g} params {:?} invalid", params[g]),
            );
        }
    }
    Ok(Desc {
        codec,
        bits,
        scale,
        batch,
        shape,
        numel,
        payload_len,
        params,
    })
}

/// Parses, checks and decodes a frame (entropy decoding included). Any malformed input
/// gives [`Error::BadFrame`]; an accepted frame is exactly what [`encode`] produces for
/// the returned tensors.
pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<Decoded> {
    let mut r = Reader {
        data: bytes,
        pos: 0,
    };
    if bytes.len() < FIXED_HEADER_LEN + CHECKSUM_LEN {
        return bad(
            bytes.len(),
            format!(
                "truncated: {} bytes, less than the smallest frame",
                bytes.len()
            ),
        );
    }
    if r.take(4, "magic")? != MAGIC {
        return bad(0, "bad magic (not a splitbench frame)");
    }
    let version = r.u8("version")?;
    if version != VERSION {
        return bad(
            4,
            format!("unsupported version {version} (expected {VERSION})"),
        );
    }
    let count = r.u8("tensor count")? as usize;
    if count == 0 || count > MAX_TENSORS {
        return bad(5, format!("tensor count {count} not in 1..={MAX_TENSORS}"));
    }
    let declared = r.u32("frame length")? as usize;
    if declared != bytes.len() {
        let what = if bytes.len() < declared {
            "truncated"
        } else {
            "trailing bytes"
        };
        return bad(
            6,
            format!(
                "{what}: header declares {declared} bytes, got {}",
                bytes.len()
            ),
        );
    }
    let body = bytes.len() - CHECKSUM_LEN;
    let crc = u32::from_le_bytes([
        bytes[body],
        bytes[body + 1],
        bytes[body + 2],
        bytes[body + 3],
    ]);
    let actual = crc32fast::hash(&bytes[..body]);
    if crc != actual {
        return bad(
            body,
            format!("checksum mismatch: frame says {crc:08x}, content is {actual:08x}"),
        );
    }
    r.data = &bytes[..body];
    let mut elements = 0usize;
    let mut descs = Vec::with_capacity(count);
    for i in 0..count {
        descs.push(read_desc(&mut r, i, &mut elements, limits)?);
    }
    let payload_total = descs
        .iter()
        .try_fold(0usize, |a, d| a.checked_add(d.payload_len));
    if payload_total != Some(body - r.pos) {
        return bad(
            r.pos,
            format!(
                "payload lengths add up to {payload_total:?}, but {} bytes follow the header",
                body - r.pos
            ),
        );
    }
    let mut tensors = Vec::with_capacity(count);
    let mut codecs = Vec::with_capacity(count);
    for (i, d) in descs.into_iter().enumerate() {
        let at = r.pos;
        let payload = r.take(d.payload_len, "payload")?;
        let content = match d.codec {
            Codec::RawF32 => {
                if Some(d.payload_len) != d.numel.checked_mul(4) {
                    return bad(
                        at,
                        format!(
                            "tensor {i}: raw-f32 payload of {} bytes for {} values",
                            d.payload_len, d.numel
                        ),
                    );
                }
                Payload::RawF32(
                    payload
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                )
            }
            Codec::Packed | Codec::PackedEntropy => {
                // numel <= max_elements, bits <= 8: no overflow on 64-bit targets; checked
                // anyway for 32-bit ones.
                let packed_len =
                    codec::packed_len(d.numel, d.bits).ok_or_else(|| Error::BadFrame {
                        offset: at,
                        msg: "packed size overflows".into(),
                    })?;
                let words = if d.codec == Codec::Packed {
                    if d.payload_len != packed_len {
                        return bad(
                            at,
                            format!(
                                "tensor {i}: packed payload of {} bytes, expected {packed_len}",
                                d.payload_len
                            ),
                        );
                    }
                    let pad = packed_len * 8 - d.numel * d.bits as usize;
                    if pad > 0 && payload[packed_len - 1] >> (8 - pad) != 0 {
                        return bad(
                            at + packed_len - 1,
                            format!("tensor {i}: padding bits are not zero"),
                        );
                    }
                    let mut words = vec![0u32; packed_len.div_ceil(4)];
                    for (k, b) in payload.iter().enumerate() {
                        words[k / 4] |= u32::from(*b) << (8 * (k % 4));
                    }
                    words
                } else {
                    if d.payload_len >= packed_len {
                        return bad(
                            at,
                            format!(
                                "tensor {i}: entropy-coded payload of {} bytes is not shorter \
                                 than packed ({packed_len}); the encoder sends packed then",
                                d.payload_len
                            ),
                        );
                    }
                    let symbols =
                        codec::entropy_decode(payload, d.bits, d.numel).map_err(|(off, msg)| {
                            Error::BadFrame {
                                offset: at + off,
                                msg: format!("tensor {i}: {msg}"),
                            }
                        })?;
                    cpu::pack_symbols(&symbols, d.bits)
                };
                Payload::Quantized(Quantized {
                    bits: d.bits,
                    scale: d.scale,
                    params: d.params,
                    words,
                })
            }
        };
        tensors.push(FrameTensor {
            batch: d.batch,
            shape: d.shape,
            payload: content,
        });
        codecs.push(d.codec);
    }
    Ok(Decoded { tensors, codecs })
}
