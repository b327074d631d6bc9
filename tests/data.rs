//! Dataset loaders on small files the tests write themselves: valid IDX (raw and gzip) and
//! CIFAR-10 batches, and each kind of corruption, which must fail naming the file.

use flate2::write::GzEncoder;
use splitbench::data::{
    self, load_cifar10, load_fashion_mnist, DatasetKind, Normalization, Split, CIFAR10_RECORD_BYTES,
};
use splitbench::Error;
use std::io::Write;
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("splitbench-data-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn idx_images(n: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&0x0000_0803u32.to_be_bytes());
    for d in [n, rows, cols] {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(pixels);
    b
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&0x0000_0801u32.to_be_bytes());
    b.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    b.extend_from_slice(labels);
    b
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Pixel `k` of a test image: a ramp that makes every value distinct enough to check order.
fn pixels(n: usize, per: usize) -> Vec<u8> {
    (0..n * per).map(|k| (k * 7 % 256) as u8).collect()
}

/// Writes a 3-image Fashion-MNIST test split (`t10k-*`) into `dir`.
fn write_fmnist(dir: &Path, compress: bool, images: &[u8], labels: &[u8]) {
    let (img, lbl) = if compress {
        (gz(images), gz(labels))
    } else {
        (images.to_vec(), labels.to_vec())
    };
    let ext = if compress { ".gz" } else { "" };
    std::fs::write(dir.join(format!("t10k-images-idx3-ubyte{ext}")), img).unwrap();
    std::fs::write(dir.join(format!("t10k-labels-idx1-ubyte{ext}")), lbl).unwrap();
}

fn expect_bad(r: Result<data::Dataset, Error>, file_end: &str, msg_part: &str) {
    match r {
        Err(Error::BadFile { file, msg }) => {
            assert!(
                file.to_string_lossy().ends_with(file_end),
                "error names {} instead of ...{file_end} ({msg})",
                file.display()
            );
            assert!(msg.contains(msg_part), "message '{msg}' lacks '{msg_part}'");
        }
        other => panic!("expected BadFile for {file_end}, got {other:?}"),
    }
}

#[test]
fn fashion_mnist_raw_and_gzip_load_normalized() {
    for compress in [false, true] {
        let dir = tmp(if compress { "fm-gz" } else { "fm-raw" });
        let px = pixels(3, 28 * 28);
        write_fmnist(
            &dir,
            compress,
            &idx_images(3, 28, 28, &px),
            &idx_labels(&[0, 9, 4]),
        );
        let ds = load_fashion_mnist(&dir, Split::Test).unwrap();
        assert_eq!(ds.len(), 3);
        assert_eq!(ds.labels, vec![0, 9, 4]);
        assert_eq!(ds.shape, DatasetKind::FashionMnist.shape());
        assert_eq!(ds.images.len(), 3 * 784);
        let n = Normalization::FASHION_MNIST;
        for k in [0, 1, 783, 784, 3 * 784 - 1] {
            let want = (px[k] as f32 / 255.0 - 0.2860) / 0.3530;
            assert!((ds.images[k] - want).abs() < 1e-6, "pixel {k}");
            assert!((n.apply(0, px[k]) - want).abs() < 1e-6);
        }
        assert_eq!(ds.image(1), &ds.images[784..1568]);
        let sub = ds.select(&[2, 0]);
        assert_eq!(sub.labels, vec![4, 0]);
        assert_eq!(sub.image(0), ds.image(2));
        assert_eq!(ds.take(2).len(), 2);
        assert_eq!(ds.take(10).len(), 3);
    }
}

#[test]
fn fashion_mnist_corruptions_name_the_file() {
    let px = pixels(3, 784);
    let good_img = idx_images(3, 28, 28, &px);
    let good_lbl = idx_labels(&[1, 2, 3]);
    let images = "t10k-images-idx3-ubyte";
    let labels = "t10k-labels-idx1-ubyte";

    // Wrong magic in the image file.
    let dir = tmp("fm-magic");
    let mut bad = good_img.clone();
    bad[3] = 0x01;
    write_fmnist(&dir, false, &bad, &good_lbl);
    expect_bad(load_fashion_mnist(&dir, Split::Test), images, "magic");

    // Wrong magic in the label file (gzip).
    let dir = tmp("fm-lmagic");
    let mut bad = good_lbl.clone();
    bad[3] = 0x03;
    write_fmnist(&dir, true, &good_img, &bad);
    expect_bad(
        load_fashion_mnist(&dir, Split::Test),
        "t10k-labels-idx1-ubyte.gz",
        "magic",
    );

    // Truncated image data.
    let dir = tmp("fm-trunc");
    write_fmnist(&dir, false, &good_img[..good_img.len() - 5], &good_lbl);
    expect_bad(
        load_fashion_mnist(&dir, Split::Test),
        images,
        "announces 3 images",
    );

    // Header too short.
    let dir = tmp("fm-short");
    write_fmnist(&dir, false, &good_img[..10], &good_lbl);
    expect_bad(load_fashion_mnist(&dir, Split::Test), images, "too short");

    // Images of the wrong size (consistent file, wrong dataset).
    let dir = tmp("fm-dims");
    write_fmnist(
        &dir,
        false,
        &idx_images(3, 32, 32, &pixels(3, 1024)),
        &good_lbl,
    );
    expect_bad(load_fashion_mnist(&dir, Split::Test), images, "28x28");

    // Image and label counts differ.
    let dir = tmp("fm-count");
    write_fmnist(&dir, false, &good_img, &idx_labels(&[1, 2]));
    expect_bad(load_fashion_mnist(&dir, Split::Test), labels, "2 labels");

    // Label out of range.
    let dir = tmp("fm-label");
    write_fmnist(&dir, false, &good_img, &idx_labels(&[1, 10, 3]));
    expect_bad(
        load_fashion_mnist(&dir, Split::Test),
        labels,
        "label 10 of image 1",
    );

    // Corrupt gzip stream.
    let dir = tmp("fm-gzip");
    let mut z = gz(&good_img);
    let mid = z.len() / 2;
    z.truncate(mid);
    std::fs::write(dir.join("t10k-images-idx3-ubyte.gz"), z).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte.gz"), gz(&good_lbl)).unwrap();
    expect_bad(
        load_fashion_mnist(&dir, Split::Test),
        "t10k-images-idx3-ubyte.gz",
        "gzip",
    );

    // Missing file: an I/O error naming it.
    let dir = tmp("fm-missing");
    match load_fashion_mnist(&dir, Split::Train) {
        Err(Error::Io { path, .. }) => {
            assert!(
                path.ends_with("train-images-idx3-ubyte"),
                "{}",
                path.display()
            )
        }
        other => panic!("expected Io, got {other:?}"),
    }
}

fn cifar_records(labels: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    for (i, &l) in labels.iter().enumerate() {
        b.push(l);
        b.extend((0..3072).map(|k| ((k + 31 * i) % 256) as u8));
    }
    b
}

#[test]
fn cifar10_loads_train_and_test_in_channel_planes() {
    let dir = tmp("cifar");
    let sub = dir.join("cifar-10-batches-bin");
    std::fs::create_dir_all(&sub).unwrap();
    for i in 1..=5 {
        std::fs::write(
            sub.join(format!("data_batch_{i}.bin")),
            cifar_records(&[i, 0]),
        )
        .unwrap();
    }
    std::fs::write(sub.join("test_batch.bin"), cifar_records(&[7, 8, 9])).unwrap();
    let test = load_cifar10(&dir, Split::Test).unwrap();
    assert_eq!(test.labels, vec![7, 8, 9]);
    assert_eq!(test.shape, DatasetKind::Cifar10.shape());
    let n = Normalization::CIFAR10;
    // Image 1, channel 2 (blue), pixel 5: record byte 1 + 2048 + 5.
    let raw = ((2048 + 5 + 31) % 256) as u8;
    let got = test.image(1)[2048 + 5];
    assert!((got - (raw as f32 / 255.0 - n.mean[2]) / n.std[2]).abs() < 1e-6);
    let train = data::load(DatasetKind::Cifar10, Split::Train, Some(&sub)).unwrap();
    assert_eq!(train.labels, vec![1, 0, 2, 0, 3, 0, 4, 0, 5, 0]);
    assert!(data::load(DatasetKind::Cifar10, Split::Test, None).is_err());
}

#[test]
fn cifar10_corruptions_name_the_file() {
    let dir = tmp("cifar-bad");
    let mut rec = cifar_records(&[1, 2]);
    rec.pop();
    std::fs::write(dir.join("test_batch.bin"), &rec).unwrap();
    let r = load_cifar10(&dir, Split::Test);
    expect_bad(r, "test_batch.bin", "whole number");
    assert_eq!(CIFAR10_RECORD_BYTES, 3073);

    let mut rec = cifar_records(&[1, 2]);
    rec[CIFAR10_RECORD_BYTES] = 10;
    std::fs::write(dir.join("test_batch.bin"), &rec).unwrap();
    expect_bad(
        load_cifar10(&dir, Split::Test),
        "test_batch.bin",
        "record 1",
    );

    std::fs::write(dir.join("test_batch.bin"), b"").unwrap();
    expect_bad(load_cifar10(&dir, Split::Test), "test_batch.bin", "0 bytes");
}

#[test]
fn dataset_names_parse() {
    assert_eq!(
        DatasetKind::parse("fashion-mnist").unwrap(),
        DatasetKind::FashionMnist
    );
    assert_eq!(DatasetKind::parse("CIFAR10").unwrap(), DatasetKind::Cifar10);
    assert!(DatasetKind::parse("mnist").is_err());
}

/// The real package, when installed: 10,000 test images, labels balanced (1,000 each).
#[test]
fn debian_fashion_mnist_package_when_installed() {
    let dir = Path::new(data::FASHION_MNIST_DIR);
    if !dir.join("t10k-labels-idx1-ubyte.gz").exists() {
        eprintln!(
            "skipped: {} absent (apt-get install dataset-fashion-mnist)",
            dir.display()
        );
        return;
    }
    let ds = data::load(DatasetKind::FashionMnist, Split::Test, None).unwrap();
    assert_eq!(ds.len(), 10_000);
    let mut counts = [0usize; 10];
    for &l in &ds.labels {
        counts[l as usize] += 1;
    }
    assert_eq!(counts, [1000; 10]);
}
