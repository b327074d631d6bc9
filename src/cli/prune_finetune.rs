//! `splitbench prune-finetune` (feature `train`): compacts the base model with per-stage
//! ratios (L1 ranking of the folded filters, as the latency study does) and fine-tunes
//! every parameter.

use super::tune::{log_step, TuneArgs};
use anyhow::Result;
use splitbench::compress::PruneConfig;
use splitbench::eval::TrainedFiles;
use splitbench::model;
use splitbench::train::{self, Net};

/// Flags of `splitbench prune-finetune`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    tune: TuneArgs,
    /// Per-stage pruning ratios, stem,layer1,..,layer4 (e.g. 0,0.5,0,0,0).
    #[arg(long, value_parser = ratios)]
    ratios: PruneConfig,
}

/// Per-stage ratios (`--ratios`).
fn ratios(s: &str) -> Result<PruneConfig, String> {
    let r: Vec<f32> = s
        .split(',')
        .map(|x| x.trim().parse::<f32>())
        .collect::<Result<_, _>>()
        .map_err(|_| "expected comma-separated numbers, e.g. 0,0.5,0,0,0".to_string())?;
    PruneConfig::new(&r).map_err(|e| e.to_string())
}

/// Compacts, fine-tunes, writes the f16 file.
pub fn run(a: &Args) -> Result<()> {
    let (d, cfg) = a.tune.load()?;
    let beside = TrainedFiles::beside(&a.tune.m.weights_file()?);
    let out = a
        .tune
        .out
        .clone()
        .unwrap_or_else(|| beside.pruned(&a.ratios));
    let compacted = train::compact_unfused(&d.base, &a.ratios)?;
    println!(
        "pruning {} with {:?}: {} -> {} params; fine-tuning {} steps of {} {} images",
        a.tune.m.model,
        a.ratios.ratios,
        d.base.graph.param_count(),
        compacted.graph.param_count(),
        a.tune.steps,
        a.tune.batch,
        d.kind.name()
    );
    let mut net = Net::from_weights(&compacted.graph, &compacted.weights)?;
    if let Some(t) = &d.test_set {
        println!(
            "before fine-tuning: test top-1 (first {}, candle) {:.2}%",
            t.len(),
            100.0 * train::accuracy(&mut net, t, 250, None)?
        );
    }
    let t0 = std::time::Instant::now();
    train::train(
        &mut net,
        &d.train_set,
        &cfg,
        &mut |st| log_step(st, t0),
        &mut |_, _| Ok(()),
    )?;
    if let Some(t) = &d.test_set {
        println!(
            "after {} steps ({:.1} s): test top-1 (first {}, candle) {:.2}%",
            a.tune.steps,
            t0.elapsed().as_secs_f64(),
            t.len(),
            100.0 * train::accuracy(&mut net, t, 250, None)?
        );
    }
    model::save_safetensors_as(&net.weights()?, &out, true)?;
    println!("wrote {} (f16)", out.display());
    Ok(())
}
