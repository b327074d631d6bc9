//! Accuracy through the GPU engine: the counting on a seeded model agrees with the CPU
//! reference (partial last batch included), and the committed base model reaches its
//! documented accuracy on the first 1,000 Fashion-MNIST test images.

mod common;

use splitbench::data::{self, Dataset, DatasetKind, Normalization, Split};
use splitbench::eval::{self, argmax, Classifier, GpuClassifier};
use splitbench::model::{self, Shape, ZooOptions};
use splitbench::tensor::{Rng, Tensor};
use std::path::{Path, PathBuf};

/// The committed base model and its README (paths relative to the crate root).
const BASE_MODEL: &str = "models/resnet18-cifar-w16-fashion-mnist.safetensors";
const README: &str = "models/README.md";

fn root(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn fmnist_opts(width: usize) -> ZooOptions {
    ZooOptions {
        input: Some(DatasetKind::FashionMnist.shape()),
        classes: Some(10),
        width: Some(width),
    }
}

fn random_dataset(n: usize, seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    let px: Vec<u8> = (0..n * 784).map(|_| (rng.next_u64() % 256) as u8).collect();
    let labels = (0..n).map(|_| (rng.next_u64() % 10) as u8).collect();
    Dataset::from_bytes(
        "random".as_ref(),
        &px,
        labels,
        Shape::new(1, 28, 28),
        10,
        Normalization::FASHION_MNIST,
    )
    .unwrap()
}

#[test]
fn argmax_takes_first_maximum() {
    assert_eq!(argmax(&[0.0, 2.0, 1.0]), 1);
    assert_eq!(argmax(&[3.0, 3.0, 1.0]), 0);
    assert_eq!(argmax(&[f32::NAN, -1.0, 0.5]), 2);
    assert_eq!(argmax(&[-5.0]), 0);
}

#[test]
fn gpu_accuracy_counts_like_cpu_reference() {
    let Some(ctx) = common::gpu() else { return };
    let torch = model::zoo::build("resnet18-cifar", &fmnist_opts(4)).unwrap();
    let weights = model::seeded(&torch, 3);
    let fused = model::fuse(&model::Model {
        graph: torch.clone(),
        weights: weights.clone(),
    })
    .unwrap();
    let mut ds = random_dataset(23, 8);
    let input = Tensor::new(vec![ds.len(), 1, 28, 28], ds.images.clone()).unwrap();
    let cpu = splitbench::cpu::run(&torch, &weights, &input).unwrap();
    let preds: Vec<usize> = cpu.last().unwrap().data.chunks(10).map(argmax).collect();
    // Make about half the labels right so the count is not trivially 0 or n.
    for (i, p) in preds.iter().enumerate() {
        if i % 2 == 0 {
            ds.labels[i] = *p as u8;
        }
    }
    let want = preds
        .iter()
        .zip(&ds.labels)
        .filter(|(p, l)| **p == **l as usize)
        .count();
    // Batch 5: four full batches and a partial one of 3.
    let mut clf = GpuClassifier::new(&ctx, &fused, 5).unwrap();
    assert_eq!(clf.max_batch(), 5);
    let mut calls = Vec::new();
    let acc = eval::accuracy(&mut clf, &ds, None, &mut |d, t| calls.push((d, t))).unwrap();
    assert_eq!(acc.total, 23);
    assert_eq!(
        acc.correct, want,
        "GPU top-1 count differs from the CPU reference"
    );
    assert_eq!(calls.last(), Some(&(23, 23)));
    assert_eq!(calls.len(), 5);
    let acc7 = eval::accuracy(&mut clf, &ds, Some(7), &mut |_, _| {}).unwrap();
    assert_eq!(acc7.total, 7);
    // Wrong image shape is an error, not a panic.
    let mut other = ds.clone();
    other.shape = Shape::new(3, 28, 28);
    assert!(eval::accuracy(&mut clf, &other, None, &mut |_, _| {}).is_err());
}

/// Reads "first 1,000 test images ... **NN.NN%**" from models/README.md.
fn documented_first_1000() -> f64 {
    let text = std::fs::read_to_string(root(README)).expect("models/README.md");
    let line = text
        .lines()
        .find(|l| l.contains("first 1,000 test images"))
        .expect("models/README.md has no 'first 1,000 test images' line");
    let v = line
        .split("**")
        .nth(1)
        .and_then(|s| s.trim_end_matches('%').parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no **NN.NN%** on line: {line}"));
    v / 100.0
}

#[test]
fn committed_base_model_reaches_documented_accuracy() {
    let require = std::env::var("SPLITBENCH_REQUIRE_GPU").is_ok_and(|v| v == "1");
    let dir = Path::new(data::FASHION_MNIST_DIR);
    if !dir.join("t10k-images-idx3-ubyte.gz").exists()
        && !dir.join("t10k-images-idx3-ubyte").exists()
    {
        assert!(
            !require,
            "SPLITBENCH_REQUIRE_GPU=1 but {} is absent: run scripts/setup.sh",
            dir.display()
        );
        eprintln!(
            "skipped: Fashion-MNIST absent at {} (apt-get install dataset-fashion-mnist)",
            dir.display()
        );
        return;
    }
    let Some(ctx) = common::gpu() else { return };
    let documented = documented_first_1000();
    let p = model::prepare(
        "resnet18-cifar",
        &fmnist_opts(16),
        Some(&root(BASE_MODEL)),
        0,
    )
    .unwrap();
    let test = data::load(DatasetKind::FashionMnist, Split::Test, None).unwrap();
    let mut clf = GpuClassifier::new(&ctx, &p.model, 100).unwrap();
    let acc = eval::accuracy(&mut clf, &test, Some(1000), &mut |_, _| {}).unwrap();
    eprintln!(
        "base model, first 1,000 test images: {:.2}% (documented {:.2}%)",
        100.0 * acc.top1(),
        100.0 * documented
    );
    assert_eq!(acc.total, 1000);
    assert!(
        (acc.top1() - documented).abs() <= 0.01,
        "top-1 {:.2}% is more than 1 point from the documented {:.2}%",
        100.0 * acc.top1(),
        100.0 * documented
    );
}
