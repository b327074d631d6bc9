//! The feature transmission pipeline around the wire frame, timed stage by stage.
//!
//! Device side ([`encode_on_device`]): GPU min/max + quantize + pack (the engine's
//! `quantize_pack` dispatches, timed with GPU timestamps through [`PassTimer`]), read back
//! params and words, then on the CPU entropy-code and build the frame.
//!
//! Edge side ([`decode_on_edge`]): on the CPU parse, check and entropy-decode the frame,
//! upload params and words, then GPU unpack + dequantize (timed with timestamps), leaving
//! the f32 tensor on the edge GPU for the suffix of the network.
//!
//! Each call runs its stages once; callers that want medians call it repeatedly.

use super::config::{Encoding, Scale};
use super::frame::{self, DecodeLimits, Encoded, FrameTensor, Payload, Quantized};
use crate::cpu::QuantParams;
use crate::error::{Error, Result};
use crate::gpu::{buffers, Builder, Dispatch, GpuContext, PassTimer, TimingMethod};
use crate::model::Shape;
use std::time::{Duration, Instant};

/// Bytes of one group's parameters on the GPU (`cpu::QuantParams`, the layout the
/// quantize kernels share through the generated prelude).
const PARAMS_BYTES: u64 = std::mem::size_of::<QuantParams>() as u64;

/// A tensor resident on the device GPU: `batch * shape.numel()` f32 values at the start
/// of `buffer`.
#[derive(Clone, Copy, Debug)]
pub struct DeviceTensor<'a> {
    /// The values.
    pub buffer: &'a wgpu::Buffer,
    /// Samples.
    pub batch: usize,
    /// Shape of one sample.
    pub shape: Shape,
}

/// A decoded tensor on the edge GPU.
#[derive(Debug)]
pub struct EdgeTensor {
    /// `batch * shape.numel()` f32 values.
    pub buffer: wgpu::Buffer,
    /// Samples.
    pub batch: usize,
    /// Shape of one sample.
    pub shape: Shape,
}

impl EdgeTensor {
    /// Reads the values back to the host.
    pub fn read(&self, ctx: &GpuContext) -> Result<Vec<f32>> {
        buffers::read(ctx, &self.buffer, self.batch * self.shape.numel())
    }
}

/// Device-side stage times of one encode.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct DeviceTimes {
    /// How `encode_gpu_ms` was measured.
    pub method: TimingMethod,
    /// GPU min/max + quantize + pack of every tensor, one pass (0 for raw-f32 only).
    pub encode_gpu_ms: f64,
    /// Reading params and packed words (or raw f32) back to the host, wall clock.
    pub readback_ms: f64,
    /// CPU entropy coding and frame assembly (checksum included), wall clock.
    pub entropy_encode_ms: f64,
}

/// Edge-side stage times of one decode.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct EdgeTimes {
    /// How `decode_gpu_ms` was measured.
    pub method: TimingMethod,
    /// CPU frame parsing, checksum and entropy decoding (and re-packing), wall clock.
    pub entropy_decode_ms: f64,
    /// Uploading params and words (or raw f32) to the edge GPU, wall clock.
    pub upload_ms: f64,
    /// GPU unpack + dequantize of every tensor, one pass (0 for raw-f32 only).
    pub decode_gpu_ms: f64,
}

/// Everything measured in one device -> edge transmission of a feature.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct CodecTimes {
    /// How the GPU stages were timed.
    pub method: TimingMethod,
    /// See [`DeviceTimes::encode_gpu_ms`].
    pub encode_gpu_ms: f64,
    /// See [`DeviceTimes::readback_ms`].
    pub readback_ms: f64,
    /// See [`DeviceTimes::entropy_encode_ms`].
    pub entropy_encode_ms: f64,
    /// See [`EdgeTimes::entropy_decode_ms`].
    pub entropy_decode_ms: f64,
    /// See [`EdgeTimes::upload_ms`].
    pub upload_ms: f64,
    /// See [`EdgeTimes::decode_gpu_ms`].
    pub decode_gpu_ms: f64,
    /// Exact frame length: the bytes on the wire.
    pub frame_bytes: usize,
    /// Sum over tensors of the bit-packed payload (raw-f32: f32 bytes).
    pub raw_packed_bytes: usize,
    /// Sum over tensors of the entropy-coded payload where it was tried (whether kept
    /// or not), else of the packed payload.
    pub coded_bytes: usize,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs `dispatches` as one timed pass, turning validation errors into [`Error::Gpu`].
fn timed_pass(ctx: &GpuContext, dispatches: Vec<Dispatch>) -> Result<(Duration, TimingMethod)> {
    if dispatches.is_empty() {
        return Ok((Duration::ZERO, TimingMethod::TimestampPass));
    }
    let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
    let timer = PassTimer::new(ctx, dispatches);
    let t = timer.time_once();
    ctx.wait()?;
    if let Some(e) = pollster::block_on(scope.pop()) {
        return Err(Error::gpu_from("codec pass", e));
    }
    Ok((t?, timer.method()))
}

/// Numbers the quantize kernels need, checked against the shader's u32 arithmetic and
/// the device's binding limit.
fn gpu_sizes(
    ctx: &GpuContext,
    batch: usize,
    shape: Shape,
    bits: u32,
    scale: Option<Scale>,
) -> Result<(usize, usize)> {
    let numel = batch
        .checked_mul(shape.c)
        .and_then(|v| v.checked_mul(shape.h))
        .and_then(|v| v.checked_mul(shape.w))
        .filter(|&n| n > 0)
        .ok_or_else(|| Error::InvalidArg(format!("tensor {batch} x {shape}: bad size")))?;
    let total_bits = numel
        .checked_mul(bits.max(1) as usize)
        .filter(|&b| u32::try_from(b).is_ok())
        .ok_or_else(|| {
            Error::Unsupported(format!(
                "tensor of {numel} values at {bits} bits: the kernels index bits with u32"
            ))
        })?;
    let limit = ctx.device.limits().max_storage_buffer_binding_size;
    // f32 values, and params (one QuantParams per group, at most one group per value).
    let groups = scale
        .and_then(|g| g.groups(batch, shape))
        .map_or(0, |(g, _)| g);
    let biggest = (numel as u64 * 4).max(groups as u64 * PARAMS_BYTES);
    if biggest > limit {
        return Err(Error::Unsupported(format!(
            "tensor {batch} x {shape}: a {biggest}-byte buffer exceeds the storage binding \
             limit of {limit} bytes"
        )));
    }
    Ok((numel, total_bits.div_ceil(32)))
}

/// Checks that a device tensor's buffer holds its values.
fn check_buffer(t: &DeviceTensor, numel: usize) -> Result<()> {
    if t.buffer.size() < numel as u64 * 4 {
        return Err(Error::InvalidArg(format!(
            "tensor {} x {}: buffer of {} bytes for {numel} f32",
            t.batch,
            t.shape,
            t.buffer.size()
        )));
    }
    Ok(())
}

/// Encodes device tensors into a frame: GPU quantize + pack with `encoding` (raw-f32 reads
/// the values back as they are), read back, entropy-code if `entropy`, assemble.
pub fn encode_on_device(
    ctx: &GpuContext,
    inputs: &[DeviceTensor],
    encoding: Encoding,
    entropy: bool,
) -> Result<(Encoded, DeviceTimes)> {
    let k = Builder::new(ctx);
    struct Staged {
        numel: usize,
        groups: usize,
        n_words: usize,
        params: wgpu::Buffer,
        words: wgpu::Buffer,
    }
    let mut staged = Vec::with_capacity(inputs.len());
    let mut dispatches = Vec::new();
    if !encoding.is_feature() {
        return Err(Error::InvalidArg(format!(
            "a frame carries f32 or n-bit features, not `{encoding}`"
        )));
    }
    if let Encoding::Quant { bits, scale } = encoding {
        if !(1..=8).contains(&bits) {
            return Err(Error::InvalidArg(format!("bits must be 1..=8, got {bits}")));
        }
        for t in inputs {
            let (numel, n_words) = gpu_sizes(ctx, t.batch, t.shape, bits, Some(scale))?;
            check_buffer(t, numel)?;
            let (groups, group_len) = scale
                .groups(t.batch, t.shape)
                .ok_or_else(|| Error::InvalidArg("group count overflows".into()))?;
            let params = buffers::zeroed(ctx, "q params", groups as u64 * PARAMS_BYTES);
            let words = buffers::zeroed(ctx, "q words", (n_words * 4) as u64);
            dispatches.extend(k.quantize_pack(numel, group_len, bits, t.buffer, &params, &words)?);
            staged.push(Staged {
                numel,
                groups,
                n_words,
                params,
                words,
            });
        }
    }
    let (gpu, method) = timed_pass(ctx, dispatches)?;

    let start = Instant::now();
    let mut tensors = Vec::with_capacity(inputs.len());
    for (i, t) in inputs.iter().enumerate() {
        let payload = match encoding {
            Encoding::F32 | Encoding::Nothing | Encoding::Uint8Input => {
                let (numel, _) = gpu_sizes(ctx, t.batch, t.shape, 32, None)?;
                check_buffer(t, numel)?;
                Payload::RawF32(buffers::read(ctx, t.buffer, numel)?)
            }
            Encoding::Quant { bits, scale } => {
                let s = &staged[i];
                let params: Vec<QuantParams> = buffers::read(ctx, &s.params, s.groups)?;
                debug_assert!(s.numel > 0);
                Payload::Quantized(Quantized {
                    bits,
                    scale,
                    params: params.iter().map(frame::GroupParams::from_quant).collect(),
                    words: buffers::read(ctx, &s.words, s.n_words)?,
                })
            }
        };
        tensors.push(FrameTensor {
            batch: t.batch,
            shape: t.shape,
            payload,
        });
    }
    let readback = start.elapsed();

    let start = Instant::now();
    let encoded = frame::encode(&tensors, entropy)?;
    let coding = start.elapsed();
    Ok((
        encoded,
        DeviceTimes {
            method,
            encode_gpu_ms: ms(gpu),
            readback_ms: ms(readback),
            entropy_encode_ms: ms(coding),
        },
    ))
}

/// Decodes a frame on the edge: CPU parse + entropy decode, upload, GPU unpack +
/// dequantize. Rejects malformed frames with [`Error::BadFrame`] before touching the GPU.
pub fn decode_on_edge(
    ctx: &GpuContext,
    bytes: &[u8],
    limits: &DecodeLimits,
) -> Result<(Vec<EdgeTensor>, EdgeTimes)> {
    let start = Instant::now();
    let decoded = frame::decode(bytes, limits)?;
    let cpu = start.elapsed();

    // Check every tensor against the kernels' limits before uploading anything.
    for t in &decoded.tensors {
        let (bits, scale) = match &t.payload {
            Payload::RawF32(_) => (32, None),
            Payload::Quantized(q) => (q.bits, Some(q.scale)),
        };
        gpu_sizes(ctx, t.batch, t.shape, bits, scale)?;
    }
    let k = Builder::new(ctx);
    let start = Instant::now();
    let mut out = Vec::with_capacity(decoded.tensors.len());
    let mut dispatches = Vec::new();
    for t in &decoded.tensors {
        let numel = t.batch * t.shape.numel();
        let buffer = match &t.payload {
            Payload::RawF32(v) => buffers::upload(ctx, "edge f32", v),
            Payload::Quantized(q) => {
                let (_, group_len) = q.scale.groups(t.batch, t.shape).unwrap_or((1, 1));
                let params: Vec<QuantParams> =
                    q.params.iter().map(|p| p.to_quant(q.bits)).collect();
                let pb = buffers::upload(ctx, "edge params", &params);
                let wb = buffers::upload(ctx, "edge words", &q.words);
                let y = buffers::zeroed(ctx, "edge f32", (numel * 4) as u64);
                dispatches.push(k.unpack_dequantize(numel, group_len, q.bits, &pb, &wb, &y)?);
                y
            }
        };
        out.push(EdgeTensor {
            buffer,
            batch: t.batch,
            shape: t.shape,
        });
    }
    ctx.wait()?;
    let upload = start.elapsed();
    let (gpu, method) = timed_pass(ctx, dispatches)?;
    Ok((
        out,
        EdgeTimes {
            method,
            entropy_decode_ms: ms(cpu),
            upload_ms: ms(upload),
            decode_gpu_ms: ms(gpu),
        },
    ))
}

/// Encodes on `device`, decodes on `edge` (may be the same context) and reports every
/// stage and size.
pub fn transmit(
    device: &GpuContext,
    edge: &GpuContext,
    inputs: &[DeviceTensor],
    encoding: Encoding,
    entropy: bool,
    limits: &DecodeLimits,
) -> Result<(Vec<EdgeTensor>, Encoded, CodecTimes)> {
    let (enc, dt) = encode_on_device(device, inputs, encoding, entropy)?;
    let (out, et) = decode_on_edge(edge, &enc.bytes, limits)?;
    let times = CodecTimes {
        method: dt.method,
        encode_gpu_ms: dt.encode_gpu_ms,
        readback_ms: dt.readback_ms,
        entropy_encode_ms: dt.entropy_encode_ms,
        entropy_decode_ms: et.entropy_decode_ms,
        upload_ms: et.upload_ms,
        decode_gpu_ms: et.decode_gpu_ms,
        frame_bytes: enc.bytes.len(),
        raw_packed_bytes: enc.tensors.iter().map(|t| t.packed_bytes).sum(),
        coded_bytes: enc
            .tensors
            .iter()
            .map(|t| t.coded_bytes.unwrap_or(t.packed_bytes))
            .sum(),
    };
    Ok((out, enc, times))
}
