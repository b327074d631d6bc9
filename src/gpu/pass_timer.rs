//! Timer of one dispatch list as one pass; after `timing` in `gpu`'s order, using its core.
//!
//! GPU timestamps at the pass boundaries where supported, else wall clock around submit +
//! completed poll. Used by the criterion kernel benches (`iter_custom`) and anywhere a
//! fixed dispatch list needs a duration.

use super::clock::{time_groups_once, Queries, TimingMethod};
use super::context::GpuContext;
use super::dispatch::Dispatch;
use crate::error::Result;
use std::time::Duration;

/// Reusable timer for one dispatch list.
pub struct PassTimer<'a> {
    ctx: &'a GpuContext,
    dispatches: Vec<Dispatch>,
    queries: Option<Queries>,
}

impl<'a> PassTimer<'a> {
    /// A timer for `dispatches` on `ctx`.
    pub fn new(ctx: &'a GpuContext, dispatches: Vec<Dispatch>) -> Self {
        let queries = ctx
            .features
            .contains(wgpu::Features::TIMESTAMP_QUERY)
            .then(|| Queries::new(&ctx.device, 2));
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
        let group = [self.dispatches.iter().collect()];
        let ms: f64 = pollster::block_on(time_groups_once(
            self.ctx,
            self.method(),
            self.queries.as_ref(),
            &group,
        ))?
        .iter()
        .sum();
        Ok(Duration::try_from_secs_f64(ms / 1e3).unwrap_or_default())
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
