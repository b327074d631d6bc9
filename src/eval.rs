//! Accuracy of a model on a labelled dataset, measured through the GPU engine (layer 5,
//! uses `compress`, `data`, `gpu`).
//!
//! [`accuracy`] feeds a [`Classifier`] batches of normalized images and counts top-1 hits.
//! [`GpuClassifier`] runs a whole (fused) model with one [`Executor`]; a configuration of
//! the study (device part -> bottleneck encoder -> quantize/pack -> wire frame -> decode ->
//! edge part) is a [`SplitClassifier`] built from several executors and codecs, measured by
//! the same [`accuracy`]. Sits above `data`, `compress` and `gpu`.
//!
//! ```no_run
//! use splitbench::{data, eval, gpu::GpuContext, model};
//! let opts = model::ZooOptions { input: Some(model::Shape::new(1, 28, 28)),
//!     classes: Some(10), width: Some(16) };
//! let p = model::prepare("resnet18-cifar", &opts,
//!     Some("models/resnet18-cifar-w16-fashion-mnist.safetensors".as_ref()), 0)?;
//! let ctx = GpuContext::new(None)?;
//! let test = data::load(data::DatasetKind::FashionMnist, data::Split::Test, None)?;
//! let mut clf = eval::GpuClassifier::new(&ctx, &p.model, 100)?;
//! let acc = eval::accuracy(&mut clf, &test, None, &mut |_, _| {})?;
//! println!("top-1 {:.2}%", 100.0 * acc.top1());
//! # Ok::<(), splitbench::Error>(())
//! ```

pub mod split;

pub use split::{
    load_parts, DeviceCost, DevicePart, EdgeCost, EdgePart, LoadedParts, SplitClassifier,
    SplitParts, TrainedFiles,
};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::gpu::{Executor, GpuContext};
use crate::model::{Model, Shape};

/// Anything that turns a batch of images into class scores.
pub trait Classifier {
    /// Per-sample input shape.
    fn input_shape(&self) -> Shape;
    /// Largest batch [`Classifier::logits`] accepts.
    fn max_batch(&self) -> usize;
    /// Scores of `n <= max_batch()` images (`n * numel` normalized values, NCHW), as
    /// `n * classes` values, row after row.
    fn logits(&mut self, images: &[f32], n: usize) -> Result<Vec<f32>>;
}

/// A whole model on the GPU engine at a fixed batch size; a shorter last batch is padded
/// with zeros and its extra rows dropped.
pub struct GpuClassifier<'a> {
    exec: Executor<'a>,
    shape: Shape,
    batch: usize,
    classes: usize,
}

impl<'a> GpuClassifier<'a> {
    /// Prepares every node of `model` (fused or not) for batches of `batch`.
    pub fn new(ctx: &'a GpuContext, model: &Model, batch: usize) -> Result<Self> {
        if batch == 0 {
            return Err(Error::InvalidArg("batch must be at least 1".into()));
        }
        let g = &model.graph;
        let exec = Executor::new(ctx, model, 1..g.nodes.len(), batch, &[])?;
        Ok(Self {
            exec,
            shape: g.input_shape(),
            batch,
            classes: g.nodes[g.output()].shape.numel(),
        })
    }
}

impl Classifier for GpuClassifier<'_> {
    fn input_shape(&self) -> Shape {
        self.shape
    }

    fn max_batch(&self) -> usize {
        self.batch
    }

    fn logits(&mut self, images: &[f32], n: usize) -> Result<Vec<f32>> {
        let per = self.shape.numel();
        if n == 0 || n > self.batch || images.len() != n * per {
            return Err(Error::InvalidArg(format!(
                "{n} images ({} values) for a classifier of batch {} and input {}",
                images.len(),
                self.batch,
                self.shape
            )));
        }
        if n == self.batch {
            self.exec.set_input(0, images)?;
        } else {
            let mut padded = images.to_vec();
            padded.resize(self.batch * per, 0.0);
            self.exec.set_input(0, &padded)?;
        }
        let out = self.exec.run()?;
        let mut logits = out
            .into_iter()
            .next()
            .ok_or_else(|| Error::gpu("executor returned no output"))?
            .data;
        logits.truncate(n * self.classes);
        Ok(logits)
    }
}

/// The whole model's outputs for `n` samples (`n * numel` values, NCHW) through the GPU
/// engine, `batch` samples per submission: `n * out_numel` values, sample after sample. How
/// a user checks the engine against their own framework (`splitbench predict`).
pub fn predict(
    ctx: &GpuContext,
    model: &Model,
    inputs: &[f32],
    n: usize,
    batch: usize,
) -> Result<Vec<f32>> {
    let per = model.graph.input_shape().numel();
    if n == 0 || inputs.len() != n * per {
        return Err(Error::InvalidArg(format!(
            "{} values for {n} samples of {}",
            inputs.len(),
            model.graph.input_shape()
        )));
    }
    let mut clf = GpuClassifier::new(ctx, model, batch.clamp(1, n))?;
    let mut out = Vec::new();
    for (k, chunk) in inputs.chunks(clf.batch * per).enumerate() {
        let m = chunk.len() / per;
        out.extend(clf.logits(chunk, m).map_err(|e| match e {
            Error::Gpu { what, source } => Error::Gpu {
                what: format!("{what} (samples from {})", k * clf.batch),
                source,
            },
            e => e,
        })?);
    }
    Ok(out)
}

/// The dimensions of [`predict`]'s output for `n` samples: `n x features` where the model
/// ends in a vector (a classifier), else `n x C x H x W`.
pub fn output_dims(model: &Model, n: usize) -> Vec<usize> {
    let g = &model.graph;
    let s = g.nodes[g.output()].shape;
    if s.h == 1 && s.w == 1 {
        vec![n, s.c]
    } else {
        vec![n, s.c, s.h, s.w]
    }
}

/// Top-1 hits out of a number of images.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Accuracy {
    /// Images whose highest score is their label.
    pub correct: usize,
    /// Images evaluated.
    pub total: usize,
}

impl Accuracy {
    /// `correct / total` (0 when nothing was evaluated).
    pub fn top1(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.correct as f64 / self.total as f64
        }
    }
}

/// Index of the largest value (the first one on ties, as `torch.argmax`); NaN never wins.
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] || row[best].is_nan() {
            best = i;
        }
    }
    best
}

/// Top-1 accuracy of `clf` on the first `limit` images of `ds` (all when `None`), in
/// batches of `clf.max_batch()`. Calls `progress(done, total)` after every batch.
pub fn accuracy(
    clf: &mut dyn Classifier,
    ds: &Dataset,
    limit: Option<usize>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Accuracy> {
    if ds.shape != clf.input_shape() {
        return Err(Error::InvalidArg(format!(
            "dataset images are {} but the model takes {}",
            ds.shape,
            clf.input_shape()
        )));
    }
    let total = limit.unwrap_or(ds.len()).min(ds.len());
    let per = ds.shape.numel();
    let mut correct = 0;
    let mut start = 0;
    while start < total {
        let n = clf.max_batch().min(total - start);
        let logits = clf.logits(&ds.images[start * per..(start + n) * per], n)?;
        if logits.len() % n != 0 || logits.is_empty() {
            return Err(Error::Graph(format!(
                "classifier returned {} scores for {n} images",
                logits.len()
            )));
        }
        let classes = logits.len() / n;
        correct += logits
            .chunks_exact(classes)
            .zip(&ds.labels[start..start + n])
            .filter(|(row, &y)| argmax(row) == y as usize)
            .count();
        start += n;
        progress(start, total);
    }
    Ok(Accuracy { correct, total })
}
