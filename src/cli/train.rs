//! `splitbench train` (feature `train`): trains a zoo model on the CPU with candle and
//! writes safetensors with torchvision keys after every epoch.

use super::args::{count, positive, DatasetArgs};
use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use splitbench::data::{self, Split};
use splitbench::model;
use splitbench::train::{self, Net, TrainConfig};
use std::path::PathBuf;

/// Flags of `splitbench train`.
#[derive(clap::Args)]
pub struct Args {
    /// Zoo model (ResNets without max-pool: resnet18-cifar).
    #[arg(long, value_parser = super::args::model_name)]
    model: String,
    #[command(flatten)]
    data: DatasetArgs,
    /// Base width of ResNets.
    #[arg(long, value_parser = count)]
    width: Option<usize>,
    /// Passes over the training set.
    #[arg(long, default_value_t = 10, value_parser = count)]
    epochs: usize,
    /// Images per step.
    #[arg(long, default_value_t = 128, value_parser = count)]
    batch: usize,
    /// Peak learning rate (SGD, cosine decay to 0).
    #[arg(long, default_value_t = 0.1, value_parser = positive)]
    lr: f64,
    /// Linear warm-up, in epochs.
    #[arg(long, default_value_t = 0.2)]
    warmup: f64,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    momentum: f64,
    /// Weight decay of conv and linear weights.
    #[arg(long, default_value_t = 5e-4)]
    weight_decay: f64,
    /// Random-crop padding in pixels (default 2 for 28x28 images, 4 for 32x32).
    #[arg(long)]
    crop_pad: Option<usize>,
    /// Disable random horizontal flips.
    #[arg(long)]
    no_flip: bool,
    /// Seed of initialisation, data order and augmentation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Test images evaluated (on the CPU, by candle) after every epoch; 0: none.
    #[arg(long, default_value_t = 2000)]
    test_limit: usize,
    /// Stop after this many steps in all (for timing and smoke runs).
    #[arg(long, value_parser = count)]
    max_steps: Option<usize>,
    /// Start from these weights (safetensors, torchvision keys) instead of a seeded
    /// initialisation: to resume or fine-tune (the SGD momentum starts from zero).
    #[arg(long)]
    init: Option<PathBuf>,
    /// Output safetensors (torchvision keys), rewritten after every epoch.
    #[arg(long)]
    out: PathBuf,
}

/// The bar of one epoch's steps.
fn epoch_bar(steps: usize) -> Result<ProgressBar> {
    let bar = ProgressBar::new(steps as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "epoch {prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}<{eta})",
        )?
        .progress_chars("=> "),
    );
    Ok(bar)
}

/// Trains, checkpoints after every epoch, prints per-epoch lines.
pub fn run(a: &Args) -> Result<()> {
    train::limit_candle_threads();
    let kind = a.data.dataset;
    let graph = model::zoo::build(&a.model, &a.data.options(a.width))?;
    let train_set = data::load(kind, Split::Train, a.data.data.as_deref())?;
    let test_set = (a.test_limit > 0)
        .then(|| {
            data::load(kind, Split::Test, a.data.data.as_deref()).map(|d| d.take(a.test_limit))
        })
        .transpose()?;
    let cfg = TrainConfig {
        epochs: a.epochs,
        batch: a.batch,
        lr: a.lr,
        warmup_epochs: a.warmup,
        momentum: a.momentum,
        weight_decay: a.weight_decay,
        seed: a.seed,
        crop_pad: a.crop_pad.unwrap_or(train::crop_pad(kind)),
        flip: !a.no_flip,
        max_steps: a.max_steps,
        ..Default::default()
    };
    println!(
        "training {} (width {}, {} params) on {} ({} images), {:?}",
        a.model,
        a.width.unwrap_or(64),
        graph.param_count(),
        kind.name(),
        train_set.len(),
        cfg
    );
    let mut net = match &a.init {
        Some(p) => {
            println!("starting from {}", p.display());
            Net::from_weights(&graph, &model::load_safetensors(&graph, p)?)?
        }
        None => Net::new(&graph, a.seed)?,
    };
    let bar = epoch_bar(train_set.len() / cfg.batch)?;
    let mut last_epoch = usize::MAX;
    let stats = train::train(
        &mut net,
        &train_set,
        &cfg,
        &mut |s| {
            if s.epoch != last_epoch {
                last_epoch = s.epoch;
                bar.reset();
                bar.set_prefix(format!("{}/{}", s.epoch + 1, cfg.epochs));
            }
            bar.set_position(s.step as u64 + 1);
            bar.set_message(format!("loss {:.4} lr {:.4}", s.loss, s.lr));
            // Without a terminal the bar is hidden: log a line now and then instead.
            if bar.is_hidden() && (s.step + 1) % 10 == 0 {
                println!(
                    "epoch {} step {}/{}: loss {:.4} lr {:.4} ({:.1} s)",
                    s.epoch + 1,
                    s.step + 1,
                    s.steps,
                    s.loss,
                    s.lr,
                    bar.elapsed().as_secs_f64()
                );
            }
        },
        &mut |st, net| {
            let test_acc = match &test_set {
                Some(t) => format!(
                    ", test top-1 (first {}, candle) {:.2}%",
                    t.len(),
                    100.0 * train::accuracy(net, t, 250, None)?
                ),
                None => String::new(),
            };
            model::save_safetensors(&net.weights()?, &a.out)?;
            bar.suspend(|| {
                println!(
                    "epoch {}/{}: loss {:.4}, train top-1 {:.2}%{test_acc}, {:.1} s/epoch; wrote {}",
                    st.epoch + 1,
                    cfg.epochs,
                    st.loss,
                    100.0 * st.train_accuracy,
                    st.seconds,
                    a.out.display()
                )
            });
            Ok(())
        },
    )?;
    bar.finish_and_clear();
    let secs: f64 = stats.iter().map(|s| s.seconds).sum();
    println!(
        "trained {} epochs in {:.1} s ({:.1} s/epoch); weights in {}",
        stats.len(),
        secs,
        secs / stats.len().max(1) as f64,
        a.out.display()
    );
    Ok(())
}
