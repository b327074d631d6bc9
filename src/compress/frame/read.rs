//! Reading a frame: every field validated (see the module docs of [`super`]), payloads
//! unpacked or entropy-decoded, never a panic on any input.

use super::{
    codec, Codec, FrameTensor, GroupParams, Payload, Quantized, CHECKSUM_LEN, FIXED_HEADER_LEN,
    MAGIC, MAX_TENSORS, PARAM_LEN, VERSION,
};
use crate::compress::config::Scale;
use crate::cpu;
use crate::error::{Error, Result};
use crate::model::Shape;

fn bad<T>(offset: usize, msg: impl Into<String>) -> Result<T> {
    Err(Error::BadFrame {
        offset,
        msg: msg.into(),
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
/// gives [`Error::BadFrame`]; an accepted frame is exactly what [`super::encode`] produces for
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
