//! Times a list of dispatches as one compute pass: GPU timestamps at the pass boundaries
//! where supported, else wall clock around submit + completed poll. Used by the criterion
//! kernel benches (`iter_custom`) and anywhere a fixed dispatch list needs a duration.

use super::buffers::map_read;
use super::context::GpuContext;
use super::dispatch::Dispatch;
use super::timing::TimingMethod;
use crate::error::Result;
use std::time::{Duration, Instant};

/// Reusable timer for one dispatch list.
pub struct PassTimer<'a> {
    ctx: &'a GpuContext,
    dispatches: Vec<Dispatch>,
    queries: Option<(wgpu::QuerySet, wgpu::Buffer, wgpu::Buffer)>,
}

impl<'a> PassTimer<'a> {
    /// A timer for `dispatches` on `ctx`.
    pub fn new(ctx: &'a GpuContext, dispatches: Vec<Dispatch>) -> Self {
        let queries = ctx
            .features
            .contains(wgpu::Features::TIMESTAMP_QUERY)
            .then(|| {
                let dev = &ctx.device;
                let set = dev.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("pass timer"),
                    ty: wgpu::QueryType::Timestamp,
                    count: 2,
                });
                let resolve = dev.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("pass timer resolve"),
                    size: 16,
                    usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                    mapped_at_creation: false,
                });
                let staging = dev.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("pass timer readback"),
                    size: 16,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                (set, resolve, staging)
            });
        Self {
            ctx,
            dispatches,
            queries,
        }
    }

    /// The method [`Self::time_once`] uses.
    pub fn method(&self) -> TimingMethod {
        if self.queries.is_some() {
            TimingMethod::TimestampPass
        } else {
            TimingMethod::WallClock
        }
    }

    /// Runs the pass once and returns its duration.
    pub fn time_once(&self) -> Result<Duration> {
        let dev = &self.ctx.device;
        let mut enc = dev.create_command_encoder(&Default::default());
        {
            let timestamp_writes =
                self.queries
                    .as_ref()
                    .map(|(set, _, _)| wgpu::ComputePassTimestampWrites {
                        query_set: set,
                        beginning_of_pass_write_index: Some(0),
                        end_of_pass_write_index: Some(1),
                    });
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: None,
                timestamp_writes,
            });
            for d in &self.dispatches {
                d.encode(&mut pass);
            }
        }
        match &self.queries {
            Some((set, resolve, staging)) => {
                enc.resolve_query_set(set, 0..2, resolve, 0);
                enc.copy_buffer_to_buffer(resolve, 0, staging, 0, 16);
                self.ctx.queue.submit([enc.finish()]);
                let t: Vec<u64> = map_read(self.ctx, staging, 16)?;
                let ns = t[1].saturating_sub(t[0]) as f64 * self.ctx.timestamp_period_ns();
                Ok(Duration::from_nanos(ns as u64))
            }
            None => {
                let start = Instant::now();
                self.ctx.queue.submit([enc.finish()]);
                self.ctx.wait()?;
                Ok(start.elapsed())
            }
        }
    }

    /// Sum of `n` timed runs (for criterion's `iter_custom`).
    pub fn time_n(&self, n: u64) -> Result<Duration> {
        let mut total = Duration::ZERO;
        for _ in 0..n {
            total += self.time_once()?;
        }
        Ok(total)
    }
}
