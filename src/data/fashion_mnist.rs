//! Fashion-MNIST in the IDX format of LeCun's MNIST: big-endian header, then raw bytes.
//! Files may be gzip-compressed (detected by the gzip magic, not by the name).

use super::{Dataset, DatasetKind, Split};
use crate::error::{Error, Result};
use crate::model::Shape;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Where Debian's `dataset-fashion-mnist` package installs the files.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// IDX magic of an unsigned-byte 3-dimensional array (images).
const IDX3_U8: u32 = 0x0000_0803;
/// IDX magic of an unsigned-byte 1-dimensional array (labels).
const IDX1_U8: u32 = 0x0000_0801;

fn bad(file: &Path, msg: impl Into<String>) -> Error {
    Error::BadFile {
        file: file.into(),
        msg: msg.into(),
    }
}

/// Reads a file, inflating it when it starts with the gzip magic bytes.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| bad(path, format!("corrupt gzip data: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The pixels of an IDX image file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
    /// `count * rows * cols` bytes, image after image, row-major.
    pub pixels: Vec<u8>,
}

/// The dimensions of an IDX file `b` whose magic number must be `magic` (`what` names the
/// kind in errors), after checking that the header is there: `D` big-endian u32s.
fn idx_dims<const D: usize>(path: &Path, b: &[u8], magic: u32, what: &str) -> Result<[usize; D]> {
    let header = 4 + 4 * D;
    if b.len() < header {
        return Err(bad(
            path,
            format!(
                "{} bytes: too short for an IDX {what} header ({header})",
                b.len()
            ),
        ));
    }
    let found = be_u32(b, 0);
    if found != magic {
        return Err(bad(
            path,
            format!(
                "magic number {found:#010x}, expected {magic:#010x} (IDX{D} unsigned-byte {what}s)"
            ),
        ));
    }
    Ok(std::array::from_fn(|i| be_u32(b, 4 + 4 * i) as usize))
}

/// Reads an IDX3 unsigned-byte image file (gzip or raw). Checks the magic number, that the
/// dimensions are non-zero and that the file holds exactly the announced bytes.
pub fn read_idx_images(path: &Path) -> Result<IdxImages> {
    let b = read_maybe_gz(path)?;
    let [count, rows, cols] = idx_dims::<3>(path, &b, IDX3_U8, "image")?;
    if rows == 0 || cols == 0 {
        return Err(bad(
            path,
            format!("image size {rows}x{cols} has a zero dimension"),
        ));
    }
    let want = count
        .checked_mul(rows * cols)
        .and_then(|n| n.checked_add(16))
        .ok_or_else(|| bad(path, "header dimensions overflow"))?;
    if b.len() != want {
        return Err(bad(
            path,
            format!(
                "header announces {count} images of {rows}x{cols} ({want} bytes) but the data has {} bytes",
                b.len()
            ),
        ));
    }
    Ok(IdxImages {
        count,
        rows,
        cols,
        pixels: b[16..].to_vec(),
    })
}

/// Reads an IDX1 unsigned-byte label file (gzip or raw). Checks the magic number and the
/// size; label ranges are checked by the caller, which knows the number of classes.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>> {
    let b = read_maybe_gz(path)?;
    let [count] = idx_dims::<1>(path, &b, IDX1_U8, "label")?;
    if b.len() != 8 + count {
        return Err(bad(
            path,
            format!(
                "header announces {count} labels ({} bytes) but the data has {} bytes",
                8 + count,
                b.len()
            ),
        ));
    }
    Ok(b[8..].to_vec())
}

/// `dir/{stem}.gz` if it exists, else `dir/{stem}` (which may not exist: the read names it).
fn find(dir: &Path, stem: &str) -> PathBuf {
    let gz = dir.join(format!("{stem}.gz"));
    if gz.exists() {
        gz
    } else {
        dir.join(stem)
    }
}

/// Loads a Fashion-MNIST split from `dir` (`train-images-idx3-ubyte[.gz]`,
/// `train-labels-idx1-ubyte[.gz]`, `t10k-...` for the test split). Images must be 28x28,
/// counts must match, labels must be < 10.
pub fn load_fashion_mnist(dir: &Path, split: Split) -> Result<Dataset> {
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    let img_path = find(dir, &format!("{prefix}-images-idx3-ubyte"));
    let lbl_path = find(dir, &format!("{prefix}-labels-idx1-ubyte"));
    let kind = DatasetKind::FashionMnist;
    let shape: Shape = kind.shape();
    let images = read_idx_images(&img_path)?;
    if (images.rows, images.cols) != (shape.h, shape.w) {
        return Err(bad(
            &img_path,
            format!(
                "images are {}x{}, Fashion-MNIST's are {}x{}",
                images.rows, images.cols, shape.h, shape.w
            ),
        ));
    }
    let labels = read_idx_labels(&lbl_path)?;
    if labels.len() != images.count {
        return Err(bad(
            &lbl_path,
            format!(
                "{} labels but {} has {} images",
                labels.len(),
                img_path.display(),
                images.count
            ),
        ));
    }
    Dataset::from_bytes(
        &lbl_path,
        &images.pixels,
        labels,
        shape,
        kind.classes(),
        kind.normalization(),
    )
}
