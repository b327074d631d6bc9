//! The cost model. For a candidate (split, variant) at link state `s`:
//!
//! ```text
//! total = device(prefix) + encode + tx(payload, s) + decode + edge(suffix) + RTT
//! ```
//!
//! with the RTT charged once, and only when something is sent. The result that the edge
//! returns (a class index or a few logits) is a few bytes: its downlink time is neglected
//! ([`DOWNLINK_NOTE`]).
//!
//! What is sent ([`payload_bytes`], which sizes a feature with the wire frame's own
//! [`crate::compress::frame_len`]):
//! - device-only (`Encoding::Nothing`): nothing, no RTT;
//! - edge-only (`Encoding::Uint8Input`): the raw input as uint8 pixels, `C*H*W` bytes,
//!   with no encoding or decoding time (the camera's bytes are sent as they are);
//! - a feature: the **exact length of the wire frame** (`docs/wire-format.md`,
//!   [`crate::compress::frame`]) carrying the crossing tensors, without entropy coding:
//!   10-byte fixed header + 4-byte CRC once, and per tensor a 23-byte descriptor, then
//!   - `Encoding::F32`: `4 * numel` payload bytes (encode = decode = 0: sent raw);
//!   - `Encoding::Quant`: 8 bytes (min, scale) per scale group (one per sample for
//!     per-tensor scales, one per channel for per-channel scales) and the packed symbols,
//!     `ceil(numel * bits / 8)` bytes. Encode (min/max, quantize, pack on the device GPU) and
//!     decode (unpack, dequantize) are measured on the GPU (`gpu::codec`); the edge's decode
//!     is the local measurement divided by the edge speed-up ([`super::EdgeModel::speedup`]).
//!
//!   The frame's optional entropy coding (codec 2) is not used by the cost model: its gain
//!   depends on the feature's values, which with seeded weights say nothing about a trained
//!   network; the study reports coded sizes of real features beside the packed ones.
//!
//! A cut crossed by several tensors (a residual stream and a block's branch) sends each of
//! them with the same encoding; payloads and codec times add up.

use super::problem::{CutTensor, Problem};
use crate::channel::Channel;
use crate::compress::frame::{CHECKSUM_LEN, FIXED_HEADER_LEN, PARAM_LEN, TENSOR_DESC_LEN};
use crate::compress::{frame_len, Config, Encoding, Scale, TensorSpec, Variant};
use crate::error::{Error, Result};
use crate::model::Shape;
use std::collections::HashMap;

/// Bytes of the frame's fixed header and checksum, sent once per frame.
pub const FRAME_OVERHEAD_BYTES: u64 = (FIXED_HEADER_LEN + CHECKSUM_LEN) as u64;
/// Bytes of one tensor descriptor in the frame (without its quantization params).
pub const FRAME_TENSOR_BYTES: u64 = TENSOR_DESC_LEN as u64;
/// Bytes of quantization parameters per scale group: min and scale as f32.
pub const QUANT_GROUP_PARAM_BYTES: u64 = PARAM_LEN as u64;
/// What the manifests say about the downlink.
pub const DOWNLINK_NOTE: &str = "the edge returns the result (class index or logits, a few \
    bytes) over the downlink; its transmission time is negligible and not counted; the RTT is \
    charged once per offloaded inference";

/// Bytes sent per sample for `tensors` under `enc` (see the module docs): for a feature,
/// the exact wire-frame length, from the frame's own [`frame_len`].
pub fn payload_bytes(enc: Encoding, tensors: &[CutTensor]) -> Result<u64> {
    match enc {
        Encoding::Nothing => Ok(0),
        Encoding::Uint8Input => Ok(tensors.iter().map(|t| t.numel() as u64).sum()),
        Encoding::F32 | Encoding::Quant { .. } if tensors.is_empty() => Ok(0),
        Encoding::F32 | Encoding::Quant { .. } => {
            let specs: Vec<TensorSpec> = tensors
                .iter()
                .map(|t| TensorSpec {
                    batch: 1,
                    shape: Shape::new(t.channels, t.plane, 1),
                    encoding: enc,
                })
                .collect();
            Ok(frame_len(&specs)? as u64)
        }
    }
}

/// The GPU codec work of sending `t` with `enc`, if the encoding has any.
pub fn codec_key(enc: Encoding, t: &CutTensor) -> Option<CodecKey> {
    match enc {
        Encoding::Quant { bits, scale } => Some(CodecKey {
            numel: t.numel(),
            group_len: match scale {
                Scale::Tensor => t.numel(),
                Scale::Channel => t.plane,
            },
            bits,
        }),
        _ => None,
    }
}

/// Bit widths of the three-step search in this study (besides f32).
pub const STUDY_BITS: [u32; 3] = [8, 4, 2];

/// The feature variants of an intermediate split: `f32`, then every width of `bits` with
/// per-tensor and per-channel scales.
pub fn quantization_variants(bits: &[u32]) -> Vec<Variant> {
    let mut v = vec![Variant::plain(Encoding::F32)];
    for &b in bits {
        for scale in [Scale::Tensor, Scale::Channel] {
            v.push(Variant::plain(Encoding::Quant { bits: b, scale }));
        }
    }
    v
}

/// One unit of GPU codec work: a tensor of `numel` values in groups of `group_len` at
/// `bits` bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct CodecKey {
    /// Values.
    pub numel: usize,
    /// Values per scale group.
    pub group_len: usize,
    /// Bits per value.
    pub bits: u32,
}

/// Measured codec times of one [`CodecKey`], ms, both on the local GPU.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct CodecTime {
    /// Min/max, quantize and pack (device side).
    pub encode_ms: f64,
    /// Unpack and dequantize, measured locally (the edge's time is this / speed-up).
    pub decode_ms: f64,
}

/// Codec times by key.
#[derive(Clone, Debug, Default)]
pub struct CodecTable {
    times: HashMap<CodecKey, CodecTime>,
}

impl CodecTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a key's times.
    pub fn insert(&mut self, key: CodecKey, t: CodecTime) {
        self.times.insert(key, t);
    }

    /// A key's times.
    pub fn get(&self, key: &CodecKey) -> Option<CodecTime> {
        self.times.get(key).copied()
    }

    /// A table with `f(key)` for every key (synthetic codec costs in tests).
    pub fn from_fn(keys: &[CodecKey], f: impl Fn(&CodecKey) -> CodecTime) -> Self {
        Self {
            times: keys.iter().map(|k| (*k, f(k))).collect(),
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }
}

/// Which encodings a split allows: split 0 only the uint8 input, the last node only
/// nothing (device-only), any other split a feature encoding (f32 or n-bit).
pub fn allowed(problem: &Problem, split: usize, enc: Encoding) -> bool {
    enc.allowed_at(split, problem.last())
}

/// Every distinct codec key that the plain `variants` at the intermediate splits need,
/// sorted.
pub fn codec_keys(problem: &Problem, variants: &[Variant]) -> Vec<CodecKey> {
    let mut keys: Vec<CodecKey> = problem
        .splits
        .iter()
        .flat_map(|s| {
            variants
                .iter()
                .filter(|v| allowed(problem, s.after, v.encoding))
                .flat_map(|v| s.tensors.iter().filter_map(|t| codec_key(v.encoding, t)))
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Compute parts of a candidate (see [`Candidate::from_parts`]), ms.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Parts {
    /// Device compute of the prefix.
    pub device_ms: f64,
    /// Edge compute of the suffix.
    pub edge_ms: f64,
    /// Extra device work charged to encoding (a bottleneck encoder).
    pub device_extra_ms: f64,
    /// Extra edge work charged to decoding, measured locally (a bottleneck decoder).
    pub edge_extra_local_ms: f64,
}

/// A (split, variant) configuration with the link-independent parts of its cost.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// Cut after this node.
    pub split: usize,
    /// Pruning, bottleneck and encoding.
    pub variant: Variant,
    /// Top-1 accuracy of the configuration, when known.
    pub accuracy: Option<f64>,
    /// Bytes sent.
    pub payload_bytes: u64,
    /// Device compute of the (pruned) prefix, ms.
    pub device_ms: f64,
    /// Feature encoding on the device, ms.
    pub encode_ms: f64,
    /// Feature decoding on the edge, ms.
    pub decode_ms: f64,
    /// Edge compute of the suffix, ms.
    pub edge_ms: f64,
}

impl Candidate {
    /// Builds the plain candidate `variant` (no pruning, no bottleneck) at `split`. Codec
    /// times come from `codec` (a missing key is an error); the edge's decode is the local
    /// time divided by `edge_speedup`.
    pub fn build(
        problem: &Problem,
        split: usize,
        variant: &Variant,
        codec: &CodecTable,
        edge_speedup: f64,
    ) -> Result<Self> {
        if split >= problem.splits.len()
            || !allowed(problem, split, variant.encoding)
            || !variant.is_plain()
        {
            return Err(Error::InvalidArg(format!(
                "variant {variant} is not a plain variant allowed at split {split} of {}",
                problem.model
            )));
        }
        let sent = match variant.encoding {
            Encoding::Uint8Input => vec![CutTensor::of(problem.input)],
            Encoding::Nothing => vec![],
            _ => problem.splits[split].tensors.clone(),
        };
        Self::from_parts(
            split,
            variant,
            &sent,
            Parts {
                device_ms: problem.device_prefix_ms(split),
                edge_ms: problem.edge_suffix_ms(split),
                device_extra_ms: 0.0,
                edge_extra_local_ms: 0.0,
            },
            codec,
            edge_speedup,
        )
    }

    /// A candidate from its parts: the tensors `sent` (after pruning and bottleneck), the
    /// device and edge compute, and extra encode/decode work (a bottleneck's encoder on the
    /// device; its decoder measured locally, divided by `edge_speedup` like the codec's
    /// decode). Codec times of `sent` come from `codec` (a missing key is an error).
    pub fn from_parts(
        split: usize,
        variant: &Variant,
        sent: &[CutTensor],
        parts: Parts,
        codec: &CodecTable,
        edge_speedup: f64,
    ) -> Result<Self> {
        let (mut encode_ms, mut decode_ms) = (parts.device_extra_ms, 0.0);
        let mut decode_local = parts.edge_extra_local_ms;
        for t in sent {
            if let Some(key) = codec_key(variant.encoding, t) {
                let c = codec.get(&key).ok_or_else(|| {
                    Error::InvalidArg(format!("no codec time measured for {key:?}"))
                })?;
                encode_ms += c.encode_ms;
                decode_local += c.decode_ms;
            }
        }
        decode_ms += decode_local / edge_speedup;
        Ok(Self {
            split,
            variant: *variant,
            accuracy: None,
            payload_bytes: payload_bytes(variant.encoding, sent)?,
            device_ms: parts.device_ms.max(0.0),
            encode_ms,
            decode_ms,
            edge_ms: parts.edge_ms.max(0.0),
        })
    }

    /// Its configuration (the accuracy table's key), e.g.
    /// `layer1.1.conv2/prune-0.5_0.5_0_0_0+bn16+4bit-tensor`, `input/uint8-input`
    /// (edge-only), `fc/none` (device-only).
    pub fn config(&self, problem: &Problem) -> Config {
        Config {
            split: problem.layers[self.split].name.clone(),
            variant: self.variant,
        }
    }

    /// Whether anything is sent (then the RTT and a transmission are charged).
    pub fn sends(&self) -> bool {
        self.variant.encoding.sends()
    }

    /// Bits per transmitted value.
    pub fn bits(&self) -> u32 {
        self.variant.encoding.bits()
    }

    /// Everything but the link: device + encode + decode + edge, ms.
    pub fn compute_ms(&self) -> f64 {
        self.device_ms + self.encode_ms + self.decode_ms + self.edge_ms
    }

    /// Transmission time in link state `state` (0 when nothing is sent), ms, without RTT.
    pub fn tx_ms(&self, ch: &Channel, state: usize) -> f64 {
        if self.sends() {
            ch.tx_ms_in_state(self.payload_bytes, state)
        } else {
            0.0
        }
    }

    /// The RTT charged on `ch`: its RTT when something is sent, else 0.
    pub fn rtt_ms(&self, ch: &Channel) -> f64 {
        if self.sends() {
            ch.rtt_ms()
        } else {
            0.0
        }
    }

    /// End-to-end latency in link state `state`, ms.
    pub fn total_ms(&self, ch: &Channel, state: usize) -> f64 {
        self.compute_ms() + self.rtt_ms(ch) + self.tx_ms(ch, state)
    }
}

/// The candidates flattened for the search's inner loop: the link-independent compute
/// time, payload and whether anything is sent, per candidate. Evaluating a (candidate,
/// link state) pair reads two numbers and calls the channel's allocation-free
/// [`Channel::tx_ms_in_state`].
#[derive(Clone, Debug, Default)]
pub struct CostTable {
    compute_ms: Vec<f64>,
    payload_bytes: Vec<u64>,
    sends: Vec<bool>,
}

impl CostTable {
    /// The table of `candidates` with their measured compute times.
    pub fn new(candidates: &[Candidate]) -> Self {
        Self::with_compute(candidates, candidates.iter().map(Candidate::compute_ms))
    }

    /// The table of `candidates` with other compute times (e.g. predicted ones).
    pub fn with_compute(candidates: &[Candidate], compute_ms: impl Iterator<Item = f64>) -> Self {
        Self {
            compute_ms: compute_ms.collect(),
            payload_bytes: candidates.iter().map(|c| c.payload_bytes).collect(),
            sends: candidates.iter().map(Candidate::sends).collect(),
        }
    }

    /// Number of candidates.
    pub fn len(&self) -> usize {
        self.compute_ms.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.compute_ms.is_empty()
    }

    /// Compute time of candidate `i`, ms.
    pub fn compute_ms(&self, i: usize) -> f64 {
        self.compute_ms[i]
    }

    /// End-to-end latency of candidate `i` in link state `state`, ms.
    #[inline]
    pub fn total_ms(&self, i: usize, ch: &Channel, state: usize) -> f64 {
        if self.sends[i] {
            self.compute_ms[i] + ch.rtt_ms() + ch.tx_ms_in_state(self.payload_bytes[i], state)
        } else {
            self.compute_ms[i]
        }
    }

    /// Mean end-to-end latency of candidate `i` over the link's states, ms (the total
    /// itself for a deterministic link).
    #[inline]
    pub fn mean_total_ms(&self, i: usize, ch: &Channel) -> f64 {
        let n = ch.n_states();
        if !self.sends[i] {
            return self.compute_ms[i];
        }
        let mut sum = 0.0;
        for s in 0..n {
            sum += self.total_ms(i, ch, s);
        }
        sum / n as f64
    }

    /// The candidate of `set` with the lowest mean latency on `ch` (the first on ties) and
    /// that latency. `None` for an empty set.
    pub fn argmin_mean(&self, set: &[usize], ch: &Channel) -> Option<(usize, f64)> {
        let mut best: Option<(usize, f64)> = None;
        for &i in set {
            let t = self.mean_total_ms(i, ch);
            if best.is_none_or(|(_, b)| t < b) {
                best = Some((i, t));
            }
        }
        best
    }
}
