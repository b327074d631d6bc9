//! Labelled image datasets for accuracy work (layer 4, uses `model`): Fashion-MNIST (IDX
//! files, gzip or raw) and CIFAR-10 (binary batches).
//!
//! Images are stored NCHW as f32 *after normalization*: `(pixel / 255 - mean[c]) / std[c]`,
//! with the dataset's [`Normalization`] (Fashion-MNIST: mean 0.2860, std 0.3530; CIFAR-10:
//! the usual per-channel values). Training and evaluation both read images through this
//! module, so they cannot disagree on the normalization.
//!
//! ```no_run
//! use splitbench::data::{self, DatasetKind, Split};
//! let test = data::load(DatasetKind::FashionMnist, Split::Test, None)?;
//! assert_eq!(test.len(), 10_000);
//! # Ok::<(), splitbench::Error>(())
//! ```

mod cifar10;
mod fashion_mnist;
pub mod npy;

pub use cifar10::{load_cifar10, parse_cifar10_batch, CIFAR10_RECORD_BYTES};
pub use fashion_mnist::{
    load_fashion_mnist, read_idx_images, read_idx_labels, IdxImages, FASHION_MNIST_DIR,
};

use crate::error::{Error, Result};
use crate::model::Shape;
use std::path::Path;

/// Per-channel mean and standard deviation of pixel values scaled to [0, 1].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Normalization {
    /// Mean of each channel (only the first `channels` entries are used).
    pub mean: [f32; 3],
    /// Standard deviation of each channel.
    pub std: [f32; 3],
}

impl Normalization {
    /// Fashion-MNIST training-set statistics: mean 0.2860, std 0.3530.
    pub const FASHION_MNIST: Normalization = Normalization {
        mean: [0.2860, 0.2860, 0.2860],
        std: [0.3530, 0.3530, 0.3530],
    };
    /// CIFAR-10 training-set statistics (R, G, B): mean (0.4914, 0.4822, 0.4465), std
    /// (0.2470, 0.2435, 0.2616).
    pub const CIFAR10: Normalization = Normalization {
        mean: [0.4914, 0.4822, 0.4465],
        std: [0.2470, 0.2435, 0.2616],
    };

    /// The normalized value of raw byte `v` in channel `c`.
    pub fn apply(&self, c: usize, v: u8) -> f32 {
        (v as f32 / 255.0 - self.mean[c]) / self.std[c]
    }

    /// The normalized value of a black (0) pixel in channel `c`: what zero padding of the
    /// raw image becomes (used by random-crop augmentation).
    pub fn zero(&self, c: usize) -> f32 {
        self.apply(c, 0)
    }
}

/// Which dataset (a closed set: the CLI's `--dataset` takes exactly these names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DatasetKind {
    /// Fashion-MNIST: 1x28x28 grey images, 10 classes, 60,000 train / 10,000 test.
    #[value(
        name = "fashion-mnist",
        alias = "fashion_mnist",
        alias = "fashionmnist"
    )]
    FashionMnist,
    /// CIFAR-10: 3x32x32 colour images, 10 classes, 50,000 train / 10,000 test.
    #[value(name = "cifar10", alias = "cifar-10")]
    Cifar10,
}

impl DatasetKind {
    /// Parses a name `--dataset` accepts (`fashion-mnist`, `cifar10` and their aliases),
    /// ignoring case.
    pub fn parse(s: &str) -> Result<Self> {
        <Self as clap::ValueEnum>::from_str(s, true).map_err(|_| {
            Error::InvalidArg(format!(
                "unknown dataset '{s}' (known: fashion-mnist, cifar10)"
            ))
        })
    }

    /// The name `parse` accepts.
    pub fn name(self) -> &'static str {
        match self {
            Self::FashionMnist => "fashion-mnist",
            Self::Cifar10 => "cifar10",
        }
    }

    /// Per-sample image shape.
    pub fn shape(self) -> Shape {
        match self {
            Self::FashionMnist => Shape::new(1, 28, 28),
            Self::Cifar10 => Shape::new(3, 32, 32),
        }
    }

    /// Number of classes.
    pub fn classes(self) -> usize {
        10
    }

    /// The normalization applied to this dataset's pixels.
    pub fn normalization(self) -> Normalization {
        match self {
            Self::FashionMnist => Normalization::FASHION_MNIST,
            Self::Cifar10 => Normalization::CIFAR10,
        }
    }
}

/// Training or test split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// The training set.
    Train,
    /// The test set.
    Test,
}

/// Normalized images and their labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// `len() * shape.numel()` values, NCHW, normalized (see the module doc).
    pub images: Vec<f32>,
    /// One label per image, each `< classes`.
    pub labels: Vec<u8>,
    /// Per-sample shape (C, H, W).
    pub shape: Shape,
    /// Number of classes.
    pub classes: usize,
    /// The normalization the images went through.
    pub norm: Normalization,
}

impl Dataset {
    /// Builds a dataset from raw bytes (NCHW, 0..=255), normalizing them; checks sizes and
    /// labels (`what` names the source in errors).
    pub fn from_bytes(
        what: &Path,
        pixels: &[u8],
        labels: Vec<u8>,
        shape: Shape,
        classes: usize,
        norm: Normalization,
    ) -> Result<Self> {
        let per = shape.numel();
        if pixels.len() != labels.len() * per {
            return Err(Error::BadFile {
                file: what.into(),
                msg: format!(
                    "{} labels but {} pixel values ({} images of {shape})",
                    labels.len(),
                    pixels.len(),
                    pixels.len() as f64 / per as f64
                ),
            });
        }
        if let Some((i, l)) = labels
            .iter()
            .enumerate()
            .find(|(_, &l)| l as usize >= classes)
        {
            return Err(Error::BadFile {
                file: what.into(),
                msg: format!("label {l} of image {i} is out of range 0..{classes}"),
            });
        }
        let hw = shape.h * shape.w;
        let images = pixels
            .iter()
            .enumerate()
            .map(|(i, &v)| norm.apply((i / hw) % shape.c, v))
            .collect();
        Ok(Self {
            images,
            labels,
            shape,
            classes,
            norm,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there is no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The normalized pixels of image `i` (CHW).
    pub fn image(&self, i: usize) -> &[f32] {
        let per = self.shape.numel();
        &self.images[i * per..(i + 1) * per]
    }

    /// The first `n` images (all when `n >= len()`).
    pub fn take(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        Dataset {
            images: self.images[..n * self.shape.numel()].to_vec(),
            labels: self.labels[..n].to_vec(),
            ..self.clone_meta()
        }
    }

    /// The images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        let mut images = Vec::with_capacity(indices.len() * self.shape.numel());
        for &i in indices {
            images.extend_from_slice(self.image(i));
        }
        Dataset {
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            ..self.clone_meta()
        }
    }

    fn clone_meta(&self) -> Dataset {
        Dataset {
            images: Vec::new(),
            labels: Vec::new(),
            shape: self.shape,
            classes: self.classes,
            norm: self.norm,
        }
    }
}

/// Loads a split of a dataset from `dir`: for Fashion-MNIST the default is
/// [`FASHION_MNIST_DIR`] (Debian's `dataset-fashion-mnist`); CIFAR-10 needs a folder
/// holding `data_batch_{1..5}.bin` and `test_batch.bin` (or its `cifar-10-batches-bin`
/// subfolder).
pub fn load(kind: DatasetKind, split: Split, dir: Option<&Path>) -> Result<Dataset> {
    match kind {
        DatasetKind::FashionMnist => {
            load_fashion_mnist(dir.unwrap_or(Path::new(FASHION_MNIST_DIR)), split)
        }
        DatasetKind::Cifar10 => {
            let dir = dir.ok_or_else(|| {
                Error::InvalidArg(
                    "CIFAR-10 has no default folder: give the one holding data_batch_1.bin .. \
                     test_batch.bin"
                        .into(),
                )
            })?;
            load_cifar10(dir, split)
        }
    }
}
