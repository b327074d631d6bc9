//! `splitbench train-bottleneck` (feature `train`): trains an encoder/decoder pair at a
//! split point of the frozen base model with straight-through quantization at the given
//! bit widths, optionally distilling from the base model.

use super::tune::{log_step, TuneArgs};
use anyhow::Result;
use clap::builder::PossibleValuesParser;
use splitbench::compress::{Bottleneck, STAGE_NAMES};
use splitbench::eval::TrainedFiles;
use splitbench::model;
use splitbench::train::{self, BottleneckNets, Net, Optimizer, TrainConfig};
use std::path::PathBuf;

/// Flags of `splitbench train-bottleneck`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    tune: TuneArgs,
    /// Split point.
    #[arg(long, value_parser = PossibleValuesParser::new(STAGE_NAMES))]
    split: String,
    /// Channels of the code (the study uses C/4, C/8, C/16).
    #[arg(long, value_parser = super::args::count)]
    channels: usize,
    /// Bit widths drawn per step for the straight-through quantization.
    #[arg(long, value_delimiter = ',', default_value = "8,4,2", value_parser = clap::value_parser!(u32).range(1..=8))]
    bits: Vec<u32>,
    /// Continue from this trained pair (a file `train-bottleneck` wrote) instead of new
    /// seeded weights.
    #[arg(long)]
    init: Option<PathBuf>,
    /// Weight of knowledge distillation from the base model's softened logits, in [0, 1]
    /// (0: cross-entropy on the labels only).
    #[arg(long, default_value_t = 0.0)]
    distill_weight: f64,
    /// Distillation temperature.
    #[arg(long, default_value_t = 4.0)]
    distill_temperature: f64,
}

/// Trains the pair, evaluates it per bit width, writes the f16 file.
pub fn run(a: &Args) -> Result<()> {
    let (d, cfg) = a.tune.load()?;
    let (torch_split, fused, fused_split) = train::split_nodes(&d.base, &a.split)?;
    let spec = Bottleneck::new(d.base.graph.nodes[torch_split].shape, a.channels)?;
    let split_name = &fused.graph.nodes[fused_split].name;
    let beside = TrainedFiles::beside(&a.tune.m.weights_file()?);
    let out = a
        .tune
        .out
        .clone()
        .unwrap_or_else(|| beside.bottleneck(split_name, a.channels));
    println!(
        "bottleneck {} at {} ({split_name}): {} -> {} channels, bits {:?}, {} steps of {} {} images, backbone frozen",
        spec.name(),
        a.split,
        spec.feature,
        a.channels,
        a.bits,
        a.tune.steps,
        a.tune.batch,
        d.kind.name()
    );
    let mut net = Net::from_weights(&d.base.graph, &d.base.weights)?;
    let mut bn = match &a.init {
        Some(p) => {
            println!("continuing from {}", p.display());
            BottleneckNets::load(spec, p)?
        }
        None => BottleneckNets::new(spec, a.tune.seed)?,
    };
    let distill = (a.distill_weight > 0.0)
        .then(|| train::Distill::new(a.distill_temperature, a.distill_weight))
        .transpose()?;
    // The teacher is the untouched base model (the student's backbone is the same frozen
    // network, with the bottleneck spliced in).
    let mut teacher = distill
        .map(|_| Net::from_weights(&d.base.graph, &d.base.weights))
        .transpose()?;
    if let Some(dist) = distill {
        println!(
            "distilling from the base model: weight {}, temperature {}",
            dist.weight, dist.temperature
        );
    }
    let cfg = TrainConfig {
        optimizer: Optimizer::AdamW,
        weight_decay: 0.0,
        distill,
        ..cfg
    };
    let t0 = std::time::Instant::now();
    train::train_bottleneck(
        &mut net,
        &mut bn,
        torch_split,
        &a.bits,
        &d.train_set,
        &cfg,
        teacher.as_mut(),
        &mut |st| log_step(st, t0),
        &mut |_, _| Ok(()),
    )?;
    let secs = t0.elapsed().as_secs_f64();
    if let Some(t) = &d.test_set {
        for &b in &a.bits {
            let acc = train::accuracy_with(&mut net, t, 250, None, &mut |id, f, n| {
                if id == torch_split {
                    bn.apply(&f, n, Some(b))
                } else {
                    Ok(f)
                }
            })?;
            println!(
                "after {} steps ({secs:.1} s), {b}-bit: test top-1 (first {}, candle) {:.2}%",
                a.tune.steps,
                t.len(),
                100.0 * acc
            );
        }
    }
    model::save_safetensors_as(&bn.weights()?, &out, true)?;
    println!("wrote {} (f16)", out.display());
    Ok(())
}
