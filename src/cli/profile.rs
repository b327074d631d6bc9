//! `splitbench profile`: every node of a model timed on the GPU; a CSV and its manifest.

use super::args::{count, AdapterArgs, ModelArgs};
use super::progress::Bars;
use anyhow::Result;
use splitbench::gpu::TimingMethod;
use splitbench::report::{kernels_path, pruned_path};
use splitbench::study::profile::{profile, ProfileOptions};
use std::path::PathBuf;

/// Per-node timing method; the manifest's names are accepted too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Timing {
    /// The best the adapter supports.
    Auto,
    /// Timestamps between the dispatches of one pass.
    #[value(alias = "timestamp-inside-pass")]
    InsidePass,
    /// One pass per node, timestamps at its boundaries.
    #[value(alias = "timestamp-pass")]
    Pass,
    /// Host clock around submit and a completed poll.
    WallClock,
}

impl Timing {
    fn method(self) -> Option<TimingMethod> {
        match self {
            Timing::Auto => None,
            Timing::InsidePass => Some(TimingMethod::TimestampInsidePass),
            Timing::Pass => Some(TimingMethod::TimestampPass),
            Timing::WallClock => Some(TimingMethod::WallClock),
        }
    }
}

/// Flags of `splitbench profile`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Batch size.
    #[arg(long, default_value_t = 1, value_parser = count)]
    batch: usize,
    /// Timed repetitions.
    #[arg(long, default_value_t = 20, value_parser = count)]
    reps: usize,
    /// Untimed warm-up runs.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    #[command(flatten)]
    adapter: AdapterArgs,
    /// Weights (safetensors with torchvision key names); default: seeded random.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Seed of the random weights and input.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Per-node timing.
    #[arg(long, value_enum, default_value_t = Timing::Auto)]
    timing: Timing,
    /// Output CSV; the manifest goes to the same path with .json.
    #[arg(long)]
    out: PathBuf,
    /// Also time, per sample, every bottleneck encoder/decoder and feature codec a trade-off
    /// study of this model can use at an unpruned split, and write them to
    /// `<out stem>_kernels.csv` beside the CSV (named in the manifest's `kernels`), for
    /// `splitbench tradeoff --device-profile OUT` on another machine.
    #[arg(long)]
    kernels: bool,
}

/// Profiles, writes, prints the table.
pub fn run(a: &Args) -> Result<()> {
    let p = a.model.prepare(a.weights.as_deref(), a.seed)?;
    let ctx = a.adapter.context()?;
    let opts = ProfileOptions {
        batch: a.batch,
        reps: a.reps,
        warmup: a.warmup,
        timing: a.timing.method(),
        seed: a.seed,
    };
    let mut prof = profile(&ctx, &p, &opts)?;
    if a.kernels {
        prof.add_kernels(&ctx, &p, &opts, &mut Bars::default())?;
    }
    let json = prof.write(&a.out)?;
    let m = &prof.manifest;
    println!(
        "{} on {} ({}), batch {}, {} reps, weights {}",
        m.model, ctx.summary.name, ctx.summary.backend, a.batch, a.reps, m.weights
    );
    if let Some(note) = &m.run.note {
        println!("note: {note}");
    }
    println!(
        "{:<28} {:<9} {:>16} {:>13} {:>10} {:>10} {:>10}",
        "node", "op", "out_shape", "flops", "median_ms", "p5_ms", "p95_ms"
    );
    for r in &prof.rows {
        println!(
            "{:<28} {:<9} {:>16} {:>13} {:>10.4} {:>10.4} {:>10.4}",
            r.node, r.op, r.out_shape, r.flops, r.device_ms_median, r.device_ms_p5, r.device_ms_p95
        );
    }
    println!(
        "whole graph (one submission, {}): median {:.4} ms (p5 {:.4}, p95 {:.4}); sum of per-node medians ({}): {:.4} ms",
        m.whole_graph_timing,
        m.whole_graph_ms_median,
        m.whole_graph_ms_p5,
        m.whole_graph_ms_p95,
        m.timing,
        m.sum_of_node_medians_ms
    );
    let t = &m.autotune;
    println!(
        "conv tiles ({}): {} measured now ({:.0} ms), {} from the cache, {} by the heuristic; cache {}",
        t.mode,
        t.tuned,
        t.tuning_ms,
        t.cached,
        t.heuristic,
        t.cache_file.as_deref().unwrap_or("none")
    );
    if let Some(e) = &t.save_error {
        println!("note: the tile cache could not be written: {e}");
    }
    if let Some(k) = &prof.manifest.kernels {
        println!(
            "kernel times: {} bottlenecks and {} codec keys in {}; {} pruned prefixes in {}",
            k.bottlenecks,
            k.codec_keys,
            kernels_path(&a.out).display(),
            k.pruned_configs,
            pruned_path(&a.out).display()
        );
    }
    println!("wrote {} and {}", a.out.display(), json.display());
    Ok(())
}
