//! Writing a frame: checks every tensor, then header, payloads (entropy-coded where that
//! is shorter) and the CRC-32 trailer.

use super::Codec;
use super::{
    codec, FrameTensor, Payload, Quantized, CHECKSUM_LEN, FIXED_HEADER_LEN, MAGIC, MAX_TENSORS,
    VERSION,
};
use crate::cpu;
use crate::error::{Error, Result};

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
