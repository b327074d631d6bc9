//! What one dispatch costs the device besides its kernel's work: runs of k back-to-back
//! empty dispatches (one thread copying one vec4, the kernel efficiency table's
//! `dispatch_floor_ms` for k = 1) timed as one group, for k = 1, 2, 8, 32, in rounds
//! alternating over k. If the time per dispatch stays flat as k grows, the floor is paid
//! per dispatch, not per timestamp pair.
//!
//! `cargo run --release --example dispatch_floor`. Environment: `FLOOR_ROUNDS` (default 3),
//! `SPLITBENCH_ADAPTER`. On lavapipe, `LP_NUM_THREADS=0` runs every dispatch on the calling
//! thread instead of llvmpipe's worker threads: the difference is the workers' hand-off.

use anyhow::Context;
use splitbench::gpu::{buffers, time_dispatch_groups, Builder, GpuContext};

fn main() -> anyhow::Result<()> {
    let rounds: usize = match std::env::var("FLOOR_ROUNDS") {
        Ok(v) => v
            .parse()
            .with_context(|| format!("FLOOR_ROUNDS={v} is not a count"))?,
        Err(_) => 3,
    };
    let filter = std::env::var("SPLITBENCH_ADAPTER").ok();
    let ctx = GpuContext::new(filter.as_deref())?;
    println!(
        "{} ({}), LP_NUM_THREADS={}",
        ctx.summary.name,
        ctx.summary.device_type,
        std::env::var("LP_NUM_THREADS").unwrap_or_else(|_| "unset".into())
    );
    let x = buffers::upload(&ctx, "floor x", &[1.0f32; 4]);
    let y = buffers::zeroed(&ctx, "floor y", 16);
    let ks = [1usize, 2, 8, 32];
    let mut per_dispatch_us: Vec<Vec<f64>> = vec![Vec::new(); ks.len()];
    for _ in 0..rounds {
        for (i, &k) in ks.iter().enumerate() {
            let group = (0..k)
                .map(|_| Builder::new(&ctx).copy(4, &x, &y))
                .collect::<Result<Vec<_>, _>>()?;
            let (_, stats) = time_dispatch_groups(&ctx, &[group], 3, 30)?;
            per_dispatch_us[i].push(stats[0].median_ms * 1e3 / k as f64);
        }
    }
    println!("dispatches per group | us per dispatch, each round's median");
    for (k, us) in ks.iter().zip(&per_dispatch_us) {
        let cells: Vec<String> = us.iter().map(|u| format!("{u:.1}")).collect();
        println!("{k:>20} | {}", cells.join("  "));
    }
    Ok(())
}
