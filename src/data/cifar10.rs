//! CIFAR-10 in its binary format: records of 1 label byte + 3072 pixel bytes (1024 red,
//! 1024 green, 1024 blue, each 32x32 row-major).

use super::{Dataset, DatasetKind, Split};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Bytes per CIFAR-10 record: a label and a 3x32x32 image.
pub const CIFAR10_RECORD_BYTES: usize = 1 + 3 * 32 * 32;

/// Splits one batch file's bytes into labels and pixels; checks the size (a non-zero
/// multiple of [`CIFAR10_RECORD_BYTES`]) and the label range, naming `path` in errors.
pub fn parse_cifar10_batch(path: &Path, bytes: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let bad = |msg: String| Error::BadFile {
        file: path.into(),
        msg,
    };
    if bytes.is_empty() || !bytes.len().is_multiple_of(CIFAR10_RECORD_BYTES) {
        return Err(bad(format!(
            "{} bytes is not a whole number of {CIFAR10_RECORD_BYTES}-byte CIFAR-10 records",
            bytes.len()
        )));
    }
    let n = bytes.len() / CIFAR10_RECORD_BYTES;
    let mut labels = Vec::with_capacity(n);
    let mut pixels = Vec::with_capacity(n * (CIFAR10_RECORD_BYTES - 1));
    for (i, rec) in bytes.chunks_exact(CIFAR10_RECORD_BYTES).enumerate() {
        if rec[0] >= 10 {
            return Err(bad(format!(
                "record {i} (byte offset {}): label {} is out of range 0..10",
                i * CIFAR10_RECORD_BYTES,
                rec[0]
            )));
        }
        labels.push(rec[0]);
        pixels.extend_from_slice(&rec[1..]);
    }
    Ok((labels, pixels))
}

/// Loads a CIFAR-10 split from `dir` or from its `cifar-10-batches-bin` subfolder:
/// `data_batch_1.bin` .. `data_batch_5.bin` for training, `test_batch.bin` for test.
pub fn load_cifar10(dir: &Path, split: Split) -> Result<Dataset> {
    let sub = dir.join("cifar-10-batches-bin");
    let dir = if !dir.join("test_batch.bin").exists() && sub.is_dir() {
        sub
    } else {
        dir.to_path_buf()
    };
    let files: Vec<PathBuf> = match split {
        Split::Train => (1..=5)
            .map(|i| dir.join(format!("data_batch_{i}.bin")))
            .collect(),
        Split::Test => vec![dir.join("test_batch.bin")],
    };
    let kind = DatasetKind::Cifar10;
    let mut labels = Vec::new();
    let mut pixels = Vec::new();
    for f in &files {
        let bytes = std::fs::read(f).map_err(|e| Error::io(f, e))?;
        let (l, p) = parse_cifar10_batch(f, &bytes)?;
        labels.extend(l);
        pixels.extend(p);
    }
    Dataset::from_bytes(
        &files[0],
        &pixels,
        labels,
        kind.shape(),
        kind.classes(),
        kind.normalization(),
    )
}
