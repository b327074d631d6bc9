//! What the benches share: the one switch between the default run, quick enough for every
//! `cargo bench` (a few minutes on a CPU adapter), and the full-precision run.
#![allow(dead_code)] // each bench uses a different subset

use criterion::{Criterion, SamplingMode};
use std::time::Duration;

/// `SPLITBENCH_BENCH=full` asks for the full-precision run: longer criterion measurements
/// and more repetitions in the study and the pruning bench (see README "Benchmarks").
pub fn full() -> bool {
    std::env::var("SPLITBENCH_BENCH").is_ok_and(|v| v == "full")
}

/// Criterion settings of a group of GPU kernel benches. Quick: flat sampling, so a kernel
/// that takes 100 ms costs about 10 iterations instead of criterion's 55; full: 3 s of
/// linear sampling per kernel.
pub fn gpu_group(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    g.sample_size(10);
    if full() {
        g.warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));
    } else {
        g.sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_millis(100))
            .measurement_time(Duration::from_millis(500));
    }
}

/// Criterion settings of CPU benches (the planner): criterion's defaults when full, else a
/// second of measurement.
pub fn cpu() -> Criterion {
    if full() {
        Criterion::default()
    } else {
        Criterion::default()
            .sample_size(20)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
    }
}
