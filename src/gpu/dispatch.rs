//! Dispatch records, encoding and running them; after `context` in `gpu`'s order.
//!
//! A [`Dispatch`] is a pipeline with its bind group and workgroup counts, ready to
//! encode; [`run`] submits a list of them and waits.

use super::context::GpuContext;
use crate::error::{Error, Result};

/// One compute dispatch ready to encode: pipeline, its bind group and workgroup counts.
#[derive(Clone, Debug)]
pub struct Dispatch {
    pub(crate) pipeline: wgpu::ComputePipeline,
    pub(crate) bind_group: wgpu::BindGroup,
    pub(crate) workgroups: [u32; 3],
}

impl Dispatch {
    /// Records the dispatch into a compute pass.
    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        let [x, y, z] = self.workgroups;
        pass.dispatch_workgroups(x, y, z);
    }
}

/// Records `dispatches` into `pass`, in order.
pub(crate) fn encode_all<'d>(
    pass: &mut wgpu::ComputePass<'_>,
    dispatches: impl IntoIterator<Item = &'d Dispatch>,
) {
    for d in dispatches {
        d.encode(pass);
    }
}

/// Encodes `dispatches` in one compute pass, submits and waits; reports validation errors.
pub fn run(ctx: &GpuContext, dispatches: &[Dispatch]) -> Result<()> {
    pollster::block_on(run_async(ctx, dispatches))
}

/// [`run`] for callers that cannot block (a browser).
pub async fn run_async(ctx: &GpuContext, dispatches: &[Dispatch]) -> Result<()> {
    let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
    let mut enc = ctx.device.create_command_encoder(&Default::default());
    encode_all(&mut enc.begin_compute_pass(&Default::default()), dispatches);
    ctx.queue.submit([enc.finish()]);
    ctx.wait_async().await?;
    match scope.pop().await {
        Some(e) => Err(Error::gpu_from("dispatch", e)),
        None => Ok(()),
    }
}
