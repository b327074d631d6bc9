//! Lossless entropy coding of quantized symbols.
//!
//! # Choice of coder
//!
//! Symbols are coded with an ANS (asymmetric numeral systems) stack coder from the
//! [`constriction`] crate, driven by one i.i.d. categorical model per tensor whose
//! fixed-point probabilities travel in the frame. Why this and not zstd:
//! - the quantized feature is a stream of `bits`-wide symbols with a very skewed histogram
//!   (ReLU features: most symbols are 0), which is exactly what a categorical model captures;
//!   ANS gets within a fraction of a percent of the empirical entropy, whereas a byte-oriented
//!   LZ coder sees symbols that straddle byte boundaries at 3, 5, 6 and 7 bits;
//! - constriction is pure Rust (no C toolchain to cross-compile for a phone), deterministic,
//!   maintained, and its decoder is surjective: arbitrary bytes decode to *some* symbols
//!   without panicking, so robustness reduces to checking that the stream was consumed
//!   exactly and that the model is the canonical one (below);
//! - decoding cost is a table look-up per symbol, comparable to unpacking.
//!
//! # Coded payload (inside a frame)
//!
//! ```text
//! model:  2^bits LEB128 varints, p[s] - 1 for s = 0 .. 2^bits - 1, where p[s] >= 1 is the
//!         fixed-point probability of symbol s at PRECISION = 24 bits (sum = 2^24);
//!         varints are canonical (no overlong encodings) and each p[s] - 1 < 2^24
//! words:  the ANS coder's compressed u32 words, little-endian (possibly none), the last one
//!         non-zero; decoding pops exactly `count` symbols and must leave the coder empty
//! ```
//! The model is the deterministic function [`model_from_counts`] of the symbol histogram:
//! the decoder recomputes it from the decoded symbols and rejects the payload if it
//! differs, so every accepted payload is the one the encoder would produce (no ignored
//! freedom in the format).

use crate::error::{Error, Result};
use constriction::stream::model::DefaultContiguousCategoricalEntropyModel;
use constriction::stream::stack::DefaultAnsCoder;
use constriction::stream::Decode;

/// Fixed-point precision of the categorical model (constriction's default).
pub const PRECISION: u32 = 24;

/// Bytes of `count` symbols of `bits` bits packed LSB first (the `packed` codec's payload).
/// `None` on overflow.
pub fn packed_len(count: usize, bits: u32) -> Option<usize> {
    Some(count.checked_mul(bits as usize)?.div_ceil(8))
}

/// Raw packed size and entropy-coded size of one symbol stream, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CodedSizes {
    /// `ceil(count * bits / 8)`: the bit-packed symbols.
    pub packed_bytes: usize,
    /// The coded payload (model + ANS words).
    pub coded_bytes: usize,
}

/// Packed and coded sizes of `symbols` (runs the coder).
pub fn coded_sizes(symbols: &[u32], bits: u32) -> Result<CodedSizes> {
    let packed_bytes = packed_len(symbols.len(), bits)
        .ok_or_else(|| Error::InvalidArg("symbol count overflows".into()))?;
    Ok(CodedSizes {
        packed_bytes,
        coded_bytes: entropy_encode(symbols, bits)?.len(),
    })
}

fn check_bits(bits: u32) -> Result<()> {
    if (1..=8).contains(&bits) {
        Ok(())
    } else {
        Err(Error::InvalidArg(format!("bits must be 1..=8, got {bits}")))
    }
}

/// Symbol histogram (`2^bits` bins); symbols must be `< 2^bits`.
fn histogram(symbols: &[u32], bits: u32) -> Result<Vec<u64>> {
    let mut counts = vec![0u64; 1 << bits];
    for &s in symbols {
        *counts
            .get_mut(s as usize)
            .ok_or_else(|| Error::InvalidArg(format!("symbol {s} does not fit {bits} bits")))? += 1;
    }
    Ok(counts)
}

/// The canonical fixed-point model of a histogram: every symbol gets probability
/// `1 + floor(count * (2^24 - n) / total)` (`n` = alphabet size), and what is left to
/// reach `2^24` goes to the most frequent symbol (the lowest on ties). Integer arithmetic
/// only, so device and edge agree on any platform. An all-zero histogram gives the model
/// with all mass on symbol 0.
pub fn model_from_counts(counts: &[u64]) -> Vec<u32> {
    let n = counts.len() as u64;
    let total: u64 = counts.iter().sum();
    let free = (1u64 << PRECISION) - n;
    let mut probs: Vec<u32> = counts
        .iter()
        .map(|&c| {
            let share = if total == 0 {
                0
            } else {
                (c as u128 * free as u128 / total as u128) as u64
            };
            (1 + share) as u32
        })
        .collect();
    let sum: u64 = probs.iter().map(|&p| p as u64).sum();
    let top = (0..counts.len())
        .max_by_key(|&i| (counts[i], std::cmp::Reverse(i)))
        .unwrap_or(0);
    probs[top] += ((1u64 << PRECISION) - sum) as u32;
    probs
}

fn write_varint(out: &mut Vec<u8>, mut v: u32) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Reads one canonical LEB128 varint `< 2^24` at `*pos`.
fn read_varint(data: &[u8], pos: &mut usize) -> std::result::Result<u32, String> {
    let start = *pos;
    let mut v = 0u32;
    for i in 0..4 {
        let byte = *data
            .get(*pos)
            .ok_or_else(|| format!("model varint at {start} runs past the payload"))?;
        *pos += 1;
        v |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            if i > 0 && byte == 0 {
                return Err(format!("overlong model varint at {start}"));
            }
            if v >= 1 << PRECISION {
                return Err(format!(
                    "model probability at {start} exceeds 2^{PRECISION}"
                ));
            }
            return Ok(v);
        }
    }
    Err(format!("model varint at {start} longer than 4 bytes"))
}

fn model(probs: &[u32]) -> std::result::Result<DefaultContiguousCategoricalEntropyModel, String> {
    DefaultContiguousCategoricalEntropyModel::from_nonzero_fixed_point_probabilities(probs, false)
        .map_err(|()| "model probabilities do not sum to 2^24".to_string())
}

/// Entropy-codes `bits`-bit symbols (each `< 2^bits`) into a coded payload (module docs).
pub fn entropy_encode(symbols: &[u32], bits: u32) -> Result<Vec<u8>> {
    check_bits(bits)?;
    let probs = model_from_counts(&histogram(symbols, bits)?);
    let m = model(&probs).map_err(Error::InvalidArg)?;
    let mut ans = DefaultAnsCoder::new();
    ans.encode_iid_symbols_reverse(symbols.iter().map(|&s| s as usize), &m)
        .map_err(|e| Error::InvalidArg(format!("entropy coder: {e:?}")))?;
    let words = ans
        .into_compressed()
        .map_err(|e| Error::InvalidArg(format!("entropy coder: {e:?}")))?;
    let mut out = Vec::with_capacity(probs.len() + words.len() * 4);
    for &p in &probs {
        write_varint(&mut out, p - 1);
    }
    for w in words {
        out.extend_from_slice(&w.to_le_bytes());
    }
    Ok(out)
}

/// Decodes `count` symbols of `bits` bits from a coded payload. Errors are
/// `(offset within the payload, message)`; any input either decodes to the symbols whose
/// encoding it is, or is rejected, without panicking.
pub fn entropy_decode(
    payload: &[u8],
    bits: u32,
    count: usize,
) -> std::result::Result<Vec<u32>, (usize, String)> {
    if !(1..=8).contains(&bits) {
        return Err((0, format!("bits must be 1..=8, got {bits}")));
    }
    let mut pos = 0;
    let mut probs = Vec::with_capacity(1 << bits);
    let mut sum = 0u64;
    for _ in 0..1u32 << bits {
        let p = read_varint(payload, &mut pos).map_err(|m| (pos, m))? + 1;
        sum += u64::from(p);
        probs.push(p);
    }
    if sum != 1 << PRECISION {
        return Err((pos, format!("model probabilities sum to {sum}, not 2^24")));
    }
    let m = model(&probs).map_err(|msg| (pos, msg))?;
    let rest = &payload[pos..];
    if !rest.len().is_multiple_of(4) {
        return Err((
            pos,
            format!("{} coded bytes: not whole u32 words", rest.len()),
        ));
    }
    let words: Vec<u32> = rest
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let mut ans = DefaultAnsCoder::from_compressed(words)
        .map_err(|_| (payload.len(), "coded words end in a zero word".to_string()))?;
    let mut symbols = Vec::with_capacity(count);
    for s in ans.decode_iid_symbols(count, &m) {
        // The ANS decoder cannot fail (its error types are uninhabited); map anyway.
        let s = s.map_err(|e| (pos, format!("entropy decoder: {e:?}")))?;
        symbols.push(s as u32);
    }
    if !ans.is_empty() {
        return Err((
            pos,
            "coded words left over after the last symbol".to_string(),
        ));
    }
    let counts = histogram(&symbols, bits).map_err(|e| (pos, e.to_string()))?;
    if model_from_counts(&counts) != probs {
        return Err((
            0,
            "model is not the histogram of the decoded symbols".into(),
        ));
    }
    Ok(symbols)
}
