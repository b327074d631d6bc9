//! Speed of the split search: (split, variant, link state) evaluations per second.
//!
//! The search space is the study's: resnet18-cifar (3x32x32) and mobilenet_v2 (3x224x224)
//! with synthetic per-node times, every split x {f32, 8/6/4/2 bits x per-tensor/per-channel}
//! plus edge-only and device-only. One iteration is three-step's full search on one link:
//! every candidate at every link state (mean over the states, then the minimum), so the
//! throughput is candidates x states per iteration. Target: >= 1,000,000 evaluations/s on
//! one core.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use splitbench::channel::Channel;
use splitbench::model::{fuse_graph, zoo, Shape, ZooOptions};
use splitbench::plan::*;
use splitbench::study::DEFAULT_TRACE;
use std::hint::black_box;

/// `cargo bench` passes `--bench`; `cargo test --benches` does not: then use small links.
fn is_test() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

fn space(model: &str, input: Shape) -> SearchSpace {
    let g = fuse_graph(
        &zoo::build(
            model,
            &ZooOptions {
                input: Some(input),
                ..Default::default()
            },
        )
        .expect("zoo model"),
    )
    .expect("fusable");
    // 3.5 GFLOP/s on the device (lavapipe-like), 10x faster edge.
    let dev: Vec<f64> = g
        .nodes
        .iter()
        .map(|n| n.flops(&g) as f64 / 3.5e6 + 0.01)
        .collect();
    let edge = EdgeModel::from_speedup(&dev, 10.0, false).expect("speed-up");
    let p = Problem::from_graph(&g, &dev, &edge).expect("problem");
    let variants = quantization_variants(&STUDY_BITS);
    let codec = CodecTable::from_fn(&codec_keys(&p, &variants), |k| CodecTime {
        encode_ms: k.numel as f64 * 2e-6,
        decode_ms: k.numel as f64 * 1e-6,
    });
    SearchSpace::build(&p, &variants, &codec, 10.0, &Predictor::fit(&p)).expect("space")
}

fn search(c: &mut Criterion) {
    let (draws, offsets) = if is_test() { (50, 20) } else { (10_000, 1_000) };
    let trace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_TRACE);
    let links = [
        ("4g", Channel::parse("4g").expect("preset")),
        (
            "rayleigh",
            Channel::parse(&format!("rayleigh:bw_mhz=1,snr_db=10,draws={draws},seed=1"))
                .expect("rayleigh"),
        ),
        (
            "trace",
            Channel::parse(&format!("trace:path={},offsets={offsets}", trace.display()))
                .expect("trace"),
        ),
    ];
    for (model, input) in [
        ("resnet18-cifar", Shape::new(3, 32, 32)),
        ("mobilenet_v2", Shape::new(3, 224, 224)),
    ] {
        let s = space(model, input);
        let n = s.candidates.len();
        let mut group = c.benchmark_group(format!("three-step search {model} ({n} candidates)"));
        for (name, ch) in &links {
            group.throughput(Throughput::Elements((n * ch.n_states()) as u64));
            group.bench_with_input(BenchmarkId::from_parameter(name), ch, |b, ch| {
                b.iter(|| black_box(s.choose(Method::ThreeStep, black_box(ch))))
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::cpu();
    targets = search
}
criterion_main!(benches);
