//! What the training subcommands share: the base model and data of a fine-tuning run, its
//! [`TrainConfig`], the split node in the unfused and the fused graph, and the thread
//! setting candle needs on a small machine.

use super::TrainConfig;
use crate::data::{self, Dataset, DatasetKind, Split};
use crate::error::{Error, Result};
use crate::model::{self, Model, NodeId, ZooOptions};
use std::path::Path;

/// Makes candle's element-wise ops single-threaded unless `CANDLE_NUM_THREADS` is set:
/// its thread pool busy-waits at its barriers, and on a shared or oversubscribed CPU that
/// spinning takes the cores the GEMMs need (measured: 2.7 -> 1.8 CPU-s per step on 2 busy
/// cores); the trainer's own kernels use rayon. Call it first thing, before any thread
/// exists (it changes the environment).
pub fn limit_candle_threads() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
}

/// Random-crop padding for a dataset: 2 pixels for 28x28 images, 4 for 32x32.
pub fn crop_pad(kind: DatasetKind) -> usize {
    if kind.shape().h <= 28 {
        2
    } else {
        4
    }
}

/// The base model and the data of a fine-tuning run.
pub struct TuneData {
    /// The dataset.
    pub kind: DatasetKind,
    /// The trained base model (unfused zoo graph, torchvision keys).
    pub base: Model,
    /// Training images.
    pub train_set: Dataset,
    /// The first test images, evaluated before and after (`None`: no evaluation).
    pub test_set: Option<Dataset>,
}

impl TuneData {
    /// Loads zoo model `name` with `opts` and `weights`, and `kind`'s train set and first
    /// `test_limit` test images (0: none) from `dir` (default: the dataset's folder).
    pub fn load(
        name: &str,
        opts: &ZooOptions,
        weights: &Path,
        kind: DatasetKind,
        dir: Option<&Path>,
        test_limit: usize,
    ) -> Result<Self> {
        let graph = model::zoo::build(name, opts)?;
        let weights = model::load_safetensors(&graph, weights)?;
        let train_set = data::load(kind, Split::Train, dir)?;
        let test_set = (test_limit > 0)
            .then(|| data::load(kind, Split::Test, dir).map(|d| d.take(test_limit)))
            .transpose()?;
        Ok(Self {
            kind,
            base: Model { graph, weights },
            train_set,
            test_set,
        })
    }

    /// A run of `steps` steps of `batch` images at peak learning rate `lr` (cosine decay
    /// to 0, no warm-up), seeded by `seed`.
    pub fn config(&self, steps: usize, batch: usize, lr: f64, seed: u64) -> Result<TrainConfig> {
        if steps == 0 || batch == 0 || batch > self.train_set.len() {
            return Err(Error::InvalidArg(format!(
                "{steps} steps of {batch} images: both must be at least 1, the batch at most \
                 the {} training images",
                self.train_set.len()
            )));
        }
        Ok(TrainConfig {
            epochs: steps.div_ceil(self.train_set.len() / batch),
            batch,
            lr,
            warmup_epochs: 0.0,
            seed,
            crop_pad: crop_pad(self.kind),
            max_steps: Some(steps),
            ..Default::default()
        })
    }
}

/// The node of a paper split point (`stem`, `layer1`..`layer4`) in `base`'s unfused graph
/// and in the fused graph (returned with it), where the study's files are named.
pub fn split_nodes(base: &Model, split: &str) -> Result<(NodeId, Model, NodeId)> {
    let find = |g: &model::Graph| {
        model::paper_split_points(g)
            .into_iter()
            .find(|(l, _)| *l == split)
            .map(|(_, n)| n)
            .ok_or_else(|| {
                Error::InvalidArg(format!(
                    "split `{split}`: {} has no such paper split point (stem, layer1..layer4)",
                    g.name
                ))
            })
    };
    let torch = find(&base.graph)?;
    let fused = model::fuse(base)?;
    let fused_split = find(&fused.graph)?;
    Ok((torch, fused, fused_split))
}
