//! `splitbench kernels`: the kernel efficiency table of this GPU (every conv, depthwise and
//! fully connected shape of the study against the device's roofline); a CSV and its
//! manifest.

use super::args::{count, AdapterArgs};
use super::progress::Bars;
use anyhow::Result;
use splitbench::study::efficiency::{measure_efficiency, EfficiencyOptions};
use std::path::PathBuf;

/// Flags of `splitbench kernels`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    adapter: AdapterArgs,
    /// Every shape of every zoo model, not only the study's models and bottlenecks and the
    /// other models' stems and classifiers.
    #[arg(long)]
    full: bool,
    /// Timed repetitions per shape.
    #[arg(long, default_value_t = EfficiencyOptions::default().reps, value_parser = count)]
    reps: usize,
    /// Passes over all shapes; each shape keeps its pass of lowest median (a busy machine
    /// slows runs for seconds at a time).
    #[arg(long, default_value_t = EfficiencyOptions::default().passes, value_parser = count)]
    passes: usize,
    /// Untimed warm-up runs per shape.
    #[arg(long, default_value_t = EfficiencyOptions::default().warmup)]
    warmup: usize,
    /// Measure only the shapes whose op (conv, conv1x1, dwconv, linear), shape, group or
    /// nodes contain this text; the % columns are then relative to the best conv measured.
    #[arg(long)]
    only: Option<String>,
    /// Output folder for kernel_efficiency.csv and kernel_efficiency.manifest.json.
    #[arg(long)]
    out: PathBuf,
}

/// Measures, prints and writes the table.
pub fn run(a: &Args) -> Result<()> {
    let ctx = a.adapter.context()?;
    let opts = EfficiencyOptions {
        full: a.full,
        reps: a.reps,
        warmup: a.warmup,
        passes: a.passes,
        only: a.only.clone(),
        ..Default::default()
    };
    println!(
        "kernel efficiency on {} ({})",
        ctx.summary.name, ctx.summary.backend
    );
    if let Some(note) = splitbench::report::RunInfo::cpu_note(&ctx.summary) {
        println!("note: {note}");
    }
    let table = measure_efficiency(&ctx, &opts, &mut Bars::default())?;
    print!("{}", table.text());
    std::fs::create_dir_all(&a.out)?;
    let (csv, json) = table.write(&a.out)?;
    println!("wrote {} and {}", csv.display(), json.display());
    Ok(())
}
