//! Flags and steps shared by `prune-finetune` and `train-bottleneck` (feature `train`):
//! the base model, the run's length, and the candle evaluation around it.

use super::args::{count, positive, TrainedModelArgs};
use anyhow::Result;
use splitbench::train::{self, StepInfo, TrainConfig, TuneData};
use std::path::PathBuf;

/// Flags shared by `prune-finetune` and `train-bottleneck`: the base model and the run.
#[derive(clap::Args)]
pub struct TuneArgs {
    #[command(flatten)]
    pub m: TrainedModelArgs,
    /// Optimisation steps (cosine decay to 0 over them).
    #[arg(long, default_value_t = 300, value_parser = count)]
    pub steps: usize,
    /// Images per step.
    #[arg(long, default_value_t = 128, value_parser = count)]
    pub batch: usize,
    /// Peak learning rate (fine-tuning: SGD, momentum 0.9; bottlenecks: AdamW).
    #[arg(long, default_value_t = 0.01, value_parser = positive)]
    pub lr: f64,
    /// Seed of data order, augmentation and new weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Test images evaluated by candle before and after (0: none).
    #[arg(long, default_value_t = 1000)]
    pub test_limit: usize,
    /// Output safetensors (default: the name `splitbench accuracy` looks for).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl TuneArgs {
    /// Loads the base model and the data, and the run's configuration.
    pub fn load(&self) -> Result<(TuneData, TrainConfig)> {
        train::limit_candle_threads();
        let d = TuneData::load(
            &self.m.model,
            &self.m.options(),
            &self.m.weights_file()?,
            self.m.data.dataset,
            self.m.data.data.as_deref(),
            self.test_limit,
        )?;
        let cfg = d.config(self.steps, self.batch, self.lr, self.seed)?;
        Ok((d, cfg))
    }
}

/// Prints a line every 25 steps.
pub fn log_step(s: StepInfo, t0: std::time::Instant) {
    if (s.step + 1).is_multiple_of(25) {
        println!(
            "step {}: loss {:.4} lr {:.4} ({:.1} s)",
            s.epoch * s.steps + s.step + 1,
            s.loss,
            s.lr,
            t0.elapsed().as_secs_f64()
        );
    }
}
