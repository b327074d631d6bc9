//! CPU training with candle (feature `train`; layer 7, uses `compress`, `data`, `model`): a
//! network interpreted from the zoo's unfused graph ([`Net`]), SGD with momentum and weight decay, cosine learning rate with a
//! linear warm-up, random-crop + horizontal-flip augmentation, seeded data order and
//! initialisation. Weights export with torchvision keys and layouts
//! ([`Net::weights`] + [`crate::model::save_safetensors`]), so the GPU engine loads them
//! with the same loader as PyTorch weights.
//!
//! Later steps of the three-step framework reuse this: [`Net::forward_with`] lets a hook
//! replace any node's output (channel masks for pruning fine-tuning; an encoder, quantizer
//! and decoder at a split for bottleneck training), and [`train_with`] trains only the
//! variables it is given (a frozen backbone), with batch norms in [`Mode::Eval`] if wanted.
//!
//! ```no_run
//! use splitbench::{data, model, train};
//! let graph = model::zoo::build("resnet18-cifar", &model::ZooOptions {
//!     input: Some(model::Shape::new(1, 28, 28)), classes: Some(10), width: Some(16) })?;
//! let ds = data::load(data::DatasetKind::FashionMnist, data::Split::Train, None)?;
//! let mut net = train::Net::new(&graph, 0)?;
//! let cfg = train::TrainConfig { epochs: 1, ..Default::default() };
//! train::train(&mut net, &ds, &cfg, &mut |_| {}, &mut |_, _| Ok(()))?;
//! model::save_safetensors(&net.weights()?, "models/x.safetensors".as_ref())?;
//! # Ok::<(), splitbench::Error>(())
//! ```

mod fused;
mod im2col;
mod net;
mod split;
mod tune;

pub use net::{logits_to_vec, Feature, Net, BN_MOMENTUM};
pub use split::{compact_unfused, fake_quantize, train_bottleneck, BottleneckNets};
pub use tune::{crop_pad, limit_candle_threads, split_nodes, TuneData};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::tensor::Rng;
use candle_core::{Device, Tensor, Var};
use std::collections::BTreeMap;
use std::time::Instant;

/// Converts a candle error to the crate's error.
pub(crate) fn cerr(e: candle_core::Error) -> Error {
    Error::Candle(e)
}

/// Batch norm behaviour of a forward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Batch statistics; running statistics updated.
    Train,
    /// Running statistics (inference); nothing updated.
    Eval,
}

/// Hyper-parameters of a training run.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Images per step.
    pub batch: usize,
    /// Peak learning rate (after warm-up; cosine decay to 0 over the run).
    pub lr: f64,
    /// Linear warm-up from 0, in epochs (fractions allowed).
    pub warmup_epochs: f64,
    /// SGD momentum (PyTorch's formulation, no dampening).
    pub momentum: f64,
    /// L2 weight decay on conv and linear weights (not on batch norm or biases).
    pub weight_decay: f64,
    /// Seed of the data order and augmentation (initialisation takes its own seed).
    pub seed: u64,
    /// Random-crop padding in pixels (0: no crop).
    pub crop_pad: usize,
    /// Random horizontal flips.
    pub flip: bool,
    /// Stop after this many steps in all (for smoke tests); `None`: full epochs.
    pub max_steps: Option<usize>,
    /// The optimiser.
    pub optimizer: Optimizer,
    /// Knowledge distillation from a teacher network (see [`train_with`]); `None`: plain
    /// cross-entropy.
    pub distill: Option<Distill>,
}

/// Knowledge distillation (Hinton et al., 2015): the loss is
/// `(1 - weight) * CE(labels) + weight * T^2 * KL(softmax(teacher / T) || softmax(student / T))`.
/// For a bottleneck on a frozen backbone the teacher is the base model itself, so the
/// student learns to reproduce the base model's predictions, not only the labels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Distill {
    /// Softening temperature T (> 0).
    pub temperature: f64,
    /// Weight of the distillation term, in [0, 1].
    pub weight: f64,
}

impl Distill {
    /// Checked parameters.
    pub fn new(temperature: f64, weight: f64) -> Result<Self> {
        let ok = temperature > 0.0 && temperature.is_finite() && (0.0..=1.0).contains(&weight);
        if !ok {
            return Err(Error::InvalidArg(format!(
                "distillation temperature {temperature} must be > 0 and weight {weight} in [0, 1]"
            )));
        }
        Ok(Self {
            temperature,
            weight,
        })
    }

    /// The mixed loss of `logits` against `labels` and the (detached) teacher logits.
    pub fn loss(&self, logits: &Tensor, teacher: &Tensor, labels: &Tensor) -> Result<Tensor> {
        use candle_nn::ops::log_softmax;
        let r = (|| -> candle_core::Result<Tensor> {
            let t = self.temperature;
            let ce = candle_nn::loss::cross_entropy(logits, labels)?;
            let ls = log_softmax(&logits.affine(1.0 / t, 0.0)?, 1)?;
            let lt = log_softmax(&teacher.detach().affine(1.0 / t, 0.0)?, 1)?;
            let kl = (lt.exp()? * (lt - ls)?)?.sum(1)?.mean(0)?;
            ce.affine(1.0 - self.weight, 0.0)? + kl.affine(self.weight * t * t, 0.0)?
        })();
        r.map_err(cerr)
    }
}

/// Optimiser of a training run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Optimizer {
    /// [`Sgd`] with `momentum` and `weight_decay` (the base model, fine-tuning).
    #[default]
    Sgd,
    /// candle's AdamW (betas 0.9/0.999, decoupled `weight_decay`): for freshly initialised
    /// layers trained on a frozen backbone (bottlenecks), where SGD needs many more steps.
    AdamW,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch: 128,
            lr: 0.1,
            warmup_epochs: 0.2,
            momentum: 0.9,
            weight_decay: 5e-4,
            seed: 0,
            crop_pad: 2,
            flip: true,
            max_steps: None,
            optimizer: Optimizer::Sgd,
            distill: None,
        }
    }
}

/// One optimisation step, reported to the progress callback.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepInfo {
    /// Epoch (0-based).
    pub epoch: usize,
    /// Step within the epoch (0-based).
    pub step: usize,
    /// Steps per epoch.
    pub steps: usize,
    /// Mean cross-entropy of this batch.
    pub loss: f32,
    /// Learning rate used.
    pub lr: f64,
}

/// Summary of one epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochStats {
    /// Epoch (0-based).
    pub epoch: usize,
    /// Mean training loss over the epoch's batches.
    pub loss: f32,
    /// Top-1 accuracy on the (augmented) training batches, in training mode.
    pub train_accuracy: f32,
    /// Wall-clock seconds of the epoch.
    pub seconds: f64,
    /// Steps taken.
    pub steps: usize,
}

/// The learning rate at `step` of `total`: linear warm-up, then cosine to zero.
pub fn lr_at(cfg: &TrainConfig, step: usize, total: usize, steps_per_epoch: usize) -> f64 {
    let warm = (cfg.warmup_epochs * steps_per_epoch as f64).round() as usize;
    if step < warm {
        return cfg.lr * (step + 1) as f64 / warm as f64;
    }
    let t = (step - warm) as f64 / (total.saturating_sub(warm)).max(1) as f64;
    cfg.lr * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
}

/// SGD with momentum and decoupled-from-BN weight decay, PyTorch semantics:
/// `g += wd * w; buf = mu * buf + g; w -= lr * buf`.
pub struct Sgd {
    vars: Vec<(String, Var, bool)>,
    bufs: BTreeMap<String, Tensor>,
    momentum: f64,
    weight_decay: f64,
}

impl Sgd {
    /// Optimises `vars` (key, variable); weight decay applies to those of rank > 1.
    pub fn new(vars: Vec<(String, Var)>, momentum: f64, weight_decay: f64) -> Self {
        let vars = vars
            .into_iter()
            .map(|(k, v)| {
                let decay = v.as_tensor().rank() > 1;
                (k, v, decay)
            })
            .collect();
        Self {
            vars,
            bufs: BTreeMap::new(),
            momentum,
            weight_decay,
        }
    }

    /// Back-propagates `loss` and takes one step at learning rate `lr`.
    pub fn backward_step(&mut self, loss: &Tensor, lr: f64) -> Result<()> {
        let grads = loss.backward().map_err(cerr)?;
        for (key, var, decay) in &self.vars {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            let r = (|| -> candle_core::Result<()> {
                let w = var.as_tensor().detach();
                let mut g = g.detach();
                if *decay && self.weight_decay != 0.0 {
                    g = (g + (&w * self.weight_decay)?)?;
                }
                let buf = match self.bufs.get(key) {
                    Some(b) if self.momentum != 0.0 => ((b * self.momentum)? + g)?,
                    _ => g,
                };
                var.set(&(w - (&buf * lr)?)?)?;
                self.bufs.insert(key.clone(), buf);
                Ok(())
            })();
            r.map_err(cerr)?;
        }
        Ok(())
    }
}

/// Builds one augmented batch as the network's NHWC input: for each index, a random crop
/// of the image zero-padded (in raw pixel terms) by `pad`, then a horizontal flip with
/// probability 1/2 if `flip`.
pub fn augmented_batch(
    ds: &Dataset,
    indices: &[usize],
    pad: usize,
    flip: bool,
    rng: &mut Rng,
) -> Vec<f32> {
    let s = ds.shape;
    let (c, h, w) = (s.c, s.h, s.w);
    let mut out = vec![0f32; indices.len() * s.numel()];
    for (b, &i) in indices.iter().enumerate() {
        let img = ds.image(i);
        let dy = if pad > 0 {
            (rng.next_u64() % (2 * pad as u64 + 1)) as isize - pad as isize
        } else {
            0
        };
        let dx = if pad > 0 {
            (rng.next_u64() % (2 * pad as u64 + 1)) as isize - pad as isize
        } else {
            0
        };
        let mirror = flip && rng.next_u64() & 1 == 1;
        let o = &mut out[b * s.numel()..(b + 1) * s.numel()];
        for y in 0..h {
            let sy = y as isize + dy;
            for x in 0..w {
                let xx = if mirror { w - 1 - x } else { x };
                let sx = xx as isize + dx;
                let inside = sy >= 0 && sy < h as isize && sx >= 0 && sx < w as isize;
                for ch in 0..c {
                    o[(y * w + x) * c + ch] = if inside {
                        img[(ch * h + sy as usize) * w + sx as usize]
                    } else {
                        ds.norm.zero(ch)
                    };
                }
            }
        }
    }
    out
}

/// Trains every parameter of `net` on `ds` (see [`train_with`]).
pub fn train(
    net: &mut Net,
    ds: &Dataset,
    cfg: &TrainConfig,
    on_step: &mut dyn FnMut(StepInfo),
    on_epoch: &mut dyn FnMut(&EpochStats, &mut Net) -> Result<()>,
) -> Result<Vec<EpochStats>> {
    let vars: Vec<(String, Var)> = net
        .params()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    train_with(
        net,
        ds,
        cfg,
        vars,
        Mode::Train,
        &mut |_, f| Ok(f),
        None,
        on_step,
        on_epoch,
    )
}

/// The training loop: per epoch a seeded permutation of `ds`, augmented batches (the last
/// partial batch is dropped), cross-entropy, [`Sgd`] on `vars` only, `bn_mode` for the
/// batch norms, `hook` as in [`Net::forward_with`]. With `cfg.distill`, `teacher` (batch
/// norms in eval mode, never updated) sees the same augmented batch and the loss is
/// [`Distill::loss`]. Calls `on_step` after every step and `on_epoch` after every epoch (to
/// print, evaluate or checkpoint).
#[allow(clippy::too_many_arguments)] // the loop's inputs; grouped in TrainConfig where they are plain values
pub fn train_with(
    net: &mut Net,
    ds: &Dataset,
    cfg: &TrainConfig,
    vars: Vec<(String, Var)>,
    bn_mode: Mode,
    hook: &mut dyn FnMut(crate::model::NodeId, Feature) -> Result<Feature>,
    mut teacher: Option<&mut Net>,
    on_step: &mut dyn FnMut(StepInfo),
    on_epoch: &mut dyn FnMut(&EpochStats, &mut Net) -> Result<()>,
) -> Result<Vec<EpochStats>> {
    if cfg.distill.is_some() && teacher.is_none() {
        return Err(Error::InvalidArg(
            "distillation needs a teacher network".into(),
        ));
    }
    if cfg.batch == 0 || cfg.batch > ds.len() {
        return Err(Error::InvalidArg(format!(
            "batch {} must be between 1 and the dataset size {}",
            cfg.batch,
            ds.len()
        )));
    }
    if ds.shape != net.graph().input_shape() {
        return Err(Error::InvalidArg(format!(
            "dataset images are {} but the model takes {}",
            ds.shape,
            net.graph().input_shape()
        )));
    }
    let steps = ds.len() / cfg.batch;
    let total = cfg.max_steps.unwrap_or(usize::MAX).min(steps * cfg.epochs);
    let mut sgd = Sgd::new(vars.clone(), cfg.momentum, cfg.weight_decay);
    let mut adam = match cfg.optimizer {
        Optimizer::Sgd => None,
        Optimizer::AdamW => {
            use candle_nn::Optimizer as _;
            let params = candle_nn::ParamsAdamW {
                lr: cfg.lr,
                weight_decay: cfg.weight_decay,
                ..Default::default()
            };
            Some(
                candle_nn::AdamW::new(vars.into_iter().map(|(_, v)| v).collect(), params)
                    .map_err(cerr)?,
            )
        }
    };
    let mut rng = Rng::new(cfg.seed);
    let mut stats = Vec::new();
    let mut global = 0;
    for epoch in 0..cfg.epochs {
        if global >= total {
            break;
        }
        let t0 = Instant::now();
        let mut order: Vec<usize> = (0..ds.len()).collect();
        for i in (1..order.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        let (mut loss_sum, mut correct, mut seen, mut taken) = (0f64, 0usize, 0usize, 0usize);
        for step in 0..steps {
            if global >= total {
                break;
            }
            let idx = &order[step * cfg.batch..(step + 1) * cfg.batch];
            let x = augmented_batch(ds, idx, cfg.crop_pad, cfg.flip, &mut rng);
            let s = ds.shape;
            let x =
                Tensor::from_vec(x, (cfg.batch * s.h * s.w, s.c), &Device::Cpu).map_err(cerr)?;
            let labels: Vec<u32> = idx.iter().map(|&i| ds.labels[i] as u32).collect();
            let y = Tensor::from_vec(labels.clone(), cfg.batch, &Device::Cpu).map_err(cerr)?;
            let logits = net.forward_with(&x, cfg.batch, bn_mode, hook)?;
            let loss = match (cfg.distill, teacher.as_deref_mut()) {
                (Some(d), Some(t)) => {
                    d.loss(&logits, &t.forward(&x, cfg.batch, Mode::Eval)?, &y)?
                }
                _ => candle_nn::loss::cross_entropy(&logits, &y).map_err(cerr)?,
            };
            let lr = lr_at(cfg, global, total, steps);
            match adam.as_mut() {
                Some(a) => {
                    use candle_nn::Optimizer as _;
                    a.set_learning_rate(lr);
                    a.backward_step(&loss).map_err(cerr)?;
                }
                None => sgd.backward_step(&loss, lr)?,
            }
            let l = loss.to_scalar::<f32>().map_err(cerr)?;
            let pred: Vec<u32> = logits
                .argmax(1)
                .and_then(|p| p.to_vec1::<u32>())
                .map_err(cerr)?;
            correct += pred.iter().zip(&labels).filter(|(p, y)| p == y).count();
            seen += cfg.batch;
            loss_sum += l as f64;
            taken += 1;
            global += 1;
            on_step(StepInfo {
                epoch,
                step,
                steps,
                loss: l,
                lr,
            });
        }
        let st = EpochStats {
            epoch,
            loss: (loss_sum / taken.max(1) as f64) as f32,
            train_accuracy: correct as f32 / seen.max(1) as f32,
            seconds: t0.elapsed().as_secs_f64(),
            steps: taken,
        };
        on_epoch(&st, net)?;
        stats.push(st);
    }
    Ok(stats)
}

/// Top-1 accuracy of `net` (batch norms in eval mode) on the first `limit` images of `ds`
/// (all when `None`), in batches of `batch`: candle's view, for monitoring training.
pub fn accuracy(net: &mut Net, ds: &Dataset, batch: usize, limit: Option<usize>) -> Result<f32> {
    accuracy_with(net, ds, batch, limit, &mut |_, f, _| Ok(f))
}

/// [`accuracy`] with a hook as in [`Net::forward_with`] that also gets the batch size (a
/// bottleneck at a split, for instance).
pub fn accuracy_with(
    net: &mut Net,
    ds: &Dataset,
    batch: usize,
    limit: Option<usize>,
    hook: &mut dyn FnMut(crate::model::NodeId, Feature, usize) -> Result<Feature>,
) -> Result<f32> {
    let n = limit.unwrap_or(ds.len()).min(ds.len());
    let per = ds.shape.numel();
    let mut correct = 0;
    let mut start = 0;
    while start < n {
        let b = batch.max(1).min(n - start);
        let x = net.input(&ds.images[start * per..(start + b) * per], b)?;
        let logits = net.forward_with(&x, b, Mode::Eval, &mut |id, f| hook(id, f, b))?;
        let pred: Vec<u32> = logits
            .argmax(1)
            .and_then(|p| p.to_vec1::<u32>())
            .map_err(cerr)?;
        correct += pred
            .iter()
            .zip(&ds.labels[start..start + b])
            .filter(|(p, &y)| **p == y as u32)
            .count();
        start += b;
    }
    Ok(correct as f32 / n.max(1) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    /// A candle failure is a training error with candle's message as its cause, not a
    /// claim that something is unsupported on the GPU.
    #[test]
    fn candle_errors_are_training_errors() {
        let e = cerr(candle_core::Error::Msg("shape mismatch in matmul".into()));
        assert_eq!(e.to_string(), "training (candle)");
        assert!(e
            .source()
            .is_some_and(|s| s.to_string().contains("shape mismatch in matmul")));
    }
}
