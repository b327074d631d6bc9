//! Buffer upload, allocation and read-back; after `dispatch` in `gpu`'s order.
//!
//! Re-exports [`run`] from `dispatch`, where its callers have always found it.

use super::context::GpuContext;
use crate::error::{Error, Result};
use std::borrow::Cow;
use wgpu::util::DeviceExt;

pub use super::dispatch::run;

/// Usage of every tensor buffer: kernels read and write it, it can be uploaded and read.
pub const TENSOR_USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// A storage buffer holding `data`, rounded up to a multiple of 16 bytes with zeros (an
/// empty slice gives 16 zero bytes): wgpu rejects zero-sized bindings, and kernels also read
/// their inputs through vec4 views, whose bindings must hold at least one vector (an FC
/// layer of 3 inputs failed validation before).
pub fn upload<T: bytemuck::Pod>(ctx: &GpuContext, label: &str, data: &[T]) -> wgpu::Buffer {
    let bytes: &[u8] = bytemuck::cast_slice(data);
    let size = bytes.len().max(16).next_multiple_of(16);
    // Most tensors are whole vectors already; only the others are copied to be padded.
    let padded: Cow<[u8]> = if size == bytes.len() {
        Cow::Borrowed(bytes)
    } else {
        let mut v = bytes.to_vec();
        v.resize(size, 0);
        Cow::Owned(v)
    };
    ctx.device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents: &padded,
            usage: TENSOR_USAGE,
        })
}

/// A zero-initialised storage buffer of `bytes` (rounded up to 16).
pub fn zeroed(ctx: &GpuContext, label: &str, bytes: u64) -> wgpu::Buffer {
    ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(16).next_multiple_of(16),
        usage: TENSOR_USAGE,
        mapped_at_creation: false,
    })
}

/// Copies `count` values of type `T` from the start of `buf` to the host (waits).
pub fn read<T: bytemuck::Pod>(
    ctx: &GpuContext,
    buf: &wgpu::Buffer,
    count: usize,
) -> Result<Vec<T>> {
    pollster::block_on(read_async(ctx, buf, count))
}

/// [`read`] for callers that cannot block (a browser).
pub async fn read_async<T: bytemuck::Pod>(
    ctx: &GpuContext,
    buf: &wgpu::Buffer,
    count: usize,
) -> Result<Vec<T>> {
    let bytes = count
        .checked_mul(std::mem::size_of::<T>())
        .ok_or_else(|| Error::InvalidArg(format!("reading {count} values overflows usize")))?
        as u64;
    if bytes == 0 {
        return Ok(Vec::new());
    }
    let size = bytes.next_multiple_of(4);
    let staging = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut enc = ctx.device.create_command_encoder(&Default::default());
    enc.copy_buffer_to_buffer(buf, 0, &staging, 0, size);
    ctx.queue.submit([enc.finish()]);
    map_read(ctx, &staging, bytes).await
}

/// Maps a `MAP_READ` buffer whose copy was submitted, and returns its first `bytes`.
/// Natively the map completes within `ctx.wait()`; in a browser once control returns to
/// the event loop, which the await gives it.
pub(crate) async fn map_read<T: bytemuck::Pod>(
    ctx: &GpuContext,
    staging: &wgpu::Buffer,
    bytes: u64,
) -> Result<Vec<T>> {
    let (tx, rx) = futures_channel::oneshot::channel();
    staging.map_async(wgpu::MapMode::Read, .., move |r| {
        let _ = tx.send(r);
    });
    if !cfg!(target_arch = "wasm32") {
        ctx.wait()?;
    }
    rx.await
        .map_err(|_| Error::gpu("map callback never ran"))?
        .map_err(|e| Error::gpu_from("map_async", e))?;
    let out = {
        let view = staging
            .get_mapped_range(..bytes)
            .map_err(|e| Error::gpu_from("mapped range", e))?;
        bytemuck::pod_collect_to_vec(&view)
    };
    staging.unmap();
    Ok(out)
}
