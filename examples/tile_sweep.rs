//! Times every candidate plan the autotuner would try for conv shapes, each alone in its
//! submission as the autotuner times them, in rounds alternating over the candidates: what
//! a tile change does to one shape, side by side, without the whole efficiency table.
//!
//! `cargo run --release --example tile_sweep -- CIN,H,W,COUT,K,STRIDE,PAD[,GROUPS] ...`
//! (batch 1), e.g. `64,14,14,16,3,1,1`. Environment: `SWEEP_ONLY` (keep candidates whose
//! label contains it), `SWEEP_ROUNDS` (default 5), `SWEEP_REPS` (timed runs per candidate
//! and round, default 10), `SPLITBENCH_ADAPTER`. Prints each candidate's median over the
//! rounds of its round medians, fastest first, and the lowest of its rounds' 5th
//! percentiles (near what the autotuner, which keeps a candidate's fastest run, sees).

use anyhow::{bail, Context};
use splitbench::gpu::{buffers, tiling, time_dispatch_groups, Builder, GpuContext, Stats};
use splitbench::model::{Conv2d, Shape};

fn env_usize(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .with_context(|| format!("{name}={v} is not a count")),
        Err(_) => Ok(default),
    }
}

/// `CIN,H,W,COUT,K,STRIDE,PAD[,GROUPS]` as a conv and its input shape.
fn parse(arg: &str) -> anyhow::Result<(Conv2d, Shape)> {
    let v: Vec<usize> = arg
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()
        .with_context(|| format!("'{arg}': expected CIN,H,W,COUT,K,STRIDE,PAD[,GROUPS]"))?;
    let zero = v.iter().enumerate().any(|(i, &n)| n == 0 && i != 6);
    if !(7..=8).contains(&v.len()) || zero {
        bail!("'{arg}': expected CIN,H,W,COUT,K,STRIDE,PAD[,GROUPS], all but PAD positive");
    }
    let c = Conv2d::new(v[0], v[3], v[4], v[5], v[6], v.get(7).copied().unwrap_or(1));
    Ok((c, Shape::new(v[0], v[1], v[2])))
}

fn main() -> anyhow::Result<()> {
    let shapes: Vec<(Conv2d, Shape)> = std::env::args()
        .skip(1)
        .map(|a| parse(&a))
        .collect::<anyhow::Result<_>>()?;
    if shapes.is_empty() {
        bail!("usage: tile_sweep CIN,H,W,COUT,K,STRIDE,PAD[,GROUPS] ...");
    }
    let rounds = env_usize("SWEEP_ROUNDS", 5)?.max(1);
    let reps = env_usize("SWEEP_REPS", 10)?.max(1);
    let only = std::env::var("SWEEP_ONLY").ok();
    let ctx = GpuContext::new(std::env::var("SPLITBENCH_ADAPTER").ok().as_deref())?;
    let k = Builder::new(&ctx);
    println!("{} ({})", ctx.summary.name, ctx.summary.backend);
    for (c, input) in shapes {
        let s = tiling::ConvShape::new(&c, 1, input)?;
        let (oc, oh, ow) = s.output;
        let x = buffers::upload(&ctx, "x", &vec![0.5f32; input.numel()]);
        let wn = c.out_c * (c.in_c / c.groups) * c.kernel.0 * c.kernel.1;
        let w = buffers::upload(&ctx, "w", &vec![0.01f32; wn]);
        let y = buffers::zeroed(&ctx, "y", 4 * oc as u64 * oh as u64 * ow as u64);
        let mut plans = tiling::candidates(&s, k.device_class())?;
        if let Some(o) = &only {
            plans.retain(|p| p.label().contains(o.as_str()));
        }
        let runs: Vec<_> = plans
            .iter()
            .map(|p| k.conv2d_planned(p, &c, &x, &w, None, None, &y))
            .collect::<Result<_, _>>()?;
        let mut samples = vec![Vec::with_capacity(rounds); runs.len()];
        let mut fastest = vec![f64::INFINITY; runs.len()];
        for _ in 0..rounds {
            for (i, d) in runs.iter().enumerate() {
                let (_, st) = time_dispatch_groups(&ctx, std::slice::from_ref(d), 1, reps)?;
                samples[i].push(st[0].median_ms);
                fastest[i] = fastest[i].min(st[0].p5_ms);
            }
        }
        let mut rows: Vec<(String, f64, f64)> = plans
            .iter()
            .zip(&samples)
            .zip(&fastest)
            .map(|((p, t), &f)| (p.label(), Stats::of(t).median_ms, f))
            .collect();
        rows.sort_by(|a, b| a.1.total_cmp(&b.1));
        println!("{} ({:.2} MFLOP)", s.key(), s.flops() as f64 / 1e6);
        for (label, ms, fast) in rows {
            let gflops = s.flops() as f64 / (ms * 1e6);
            println!(
                "  {label:>30} {:9.1} us {gflops:7.1} GFLOP/s  (fastest p5 {:9.1} us)",
                ms * 1e3,
                fast * 1e3
            );
        }
    }
    Ok(())
}
