//! Whole models and split halves on the GPU against the CPU reference.

mod common;

use common::{assert_close, gpu};
use splitbench::cpu;
use splitbench::gpu::{profile, Executor, TimingMethod};
use splitbench::model::{self, Model, Shape, ZooOptions};
use splitbench::tensor::{Rng, Tensor};

fn prepared(name: &str, opts: ZooOptions) -> Model {
    model::prepare(name, &opts, None, 7).unwrap().model
}

fn input(m: &Model, batch: usize, seed: u64) -> Tensor {
    let s = m.graph.input_shape();
    let data = Rng::new(seed).vec(batch * s.numel(), -1.0, 1.0);
    Tensor::new(vec![batch, s.c, s.h, s.w], data).unwrap()
}

fn logits_match(name: &str, opts: ZooOptions, batch: usize) {
    let Some(ctx) = gpu() else { return };
    let m = prepared(name, opts);
    let x = input(&m, batch, 3);
    let want = cpu::run(&m.graph, &m.weights, &x).unwrap();
    let exec = Executor::new(&ctx, &m, 1..m.graph.nodes.len(), batch, &[]).unwrap();
    exec.set_input(0, &x.data).unwrap();
    let got = exec.run().unwrap();
    let out = m.graph.output();
    assert_eq!(got[0].shape, want[out].shape);
    assert_close(
        &got[0].data,
        &want[out].data,
        1e-3,
        &format!("{name} logits"),
    );
}

#[test]
fn resnet18_cifar_logits_match_cpu() {
    logits_match("resnet18-cifar", ZooOptions::default(), 1);
}

#[test]
fn mobilenet_v2_logits_match_cpu() {
    logits_match("mobilenet_v2", ZooOptions::default(), 1);
}

#[test]
fn fashion_mnist_resnet_batch_3_matches_cpu() {
    let opts = ZooOptions {
        input: Some(Shape::new(1, 28, 28)),
        classes: Some(10),
        width: Some(16),
    };
    logits_match("resnet18-cifar", opts, 3);
}

#[test]
fn small_vgg_and_alexnet_style_pools_match_cpu() {
    // VGG16 at 32x32 exercises max pools and the adaptive 7x7 pool that upsamples 1x1;
    // AlexNet needs at least 63x63.
    let vgg = ZooOptions {
        input: Some(Shape::new(3, 32, 32)),
        classes: Some(10),
        width: None,
    };
    logits_match("vgg16", vgg, 1);
    let alex = ZooOptions {
        input: Some(Shape::new(3, 64, 64)),
        classes: Some(10),
        width: None,
    };
    logits_match("alexnet", alex, 2);
}

#[test]
fn split_halves_compose_to_the_whole_graph() {
    let Some(ctx) = gpu() else { return };
    let opts = ZooOptions {
        width: Some(16),
        ..Default::default()
    };
    let m = prepared("resnet18-cifar", opts);
    let batch = 2;
    let x = input(&m, batch, 5);
    let all = cpu::run(&m.graph, &m.weights, &x).unwrap();
    let n = m.graph.nodes.len();
    // A cut between blocks (one tensor) and one inside a block (two tensors).
    for cut in model::cuts(&m.graph)
        .into_iter()
        .filter(|c| c.after > 0 && c.after + 1 < n)
    {
        if cut.after % 3 != 0 && cut.tensors.len() == 1 {
            continue; // a sample of the cuts keeps the test short
        }
        let head = Executor::new(&ctx, &m, 1..cut.after + 1, batch, &cut.tensors).unwrap();
        head.set_input(0, &x.data).unwrap();
        let feats = head.run().unwrap();
        let tail = Executor::new(&ctx, &m, cut.after + 1..n, batch, &[]).unwrap();
        assert_eq!(
            tail.inputs(),
            cut.tensors.as_slice(),
            "cut after {}",
            cut.after
        );
        for (t, f) in cut.tensors.iter().zip(&feats) {
            assert_close(&f.data, &all[*t].data, 1e-3, &format!("feature {t}"));
            tail.set_input(*t, &f.data).unwrap();
        }
        let out = tail.run().unwrap();
        assert_close(
            &out[0].data,
            &all[n - 1].data,
            1e-3,
            &format!("logits via cut {}", cut.after),
        );
    }
}

#[test]
fn executor_rejects_bad_arguments() {
    let Some(ctx) = gpu() else { return };
    let m = prepared(
        "resnet18-cifar",
        ZooOptions {
            width: Some(8),
            ..Default::default()
        },
    );
    let n = m.graph.nodes.len();
    assert!(Executor::new(&ctx, &m, 1..n, 0, &[]).is_err(), "batch 0");
    assert!(
        Executor::new(&ctx, &m, 5..5, 1, &[]).is_err(),
        "empty range"
    );
    assert!(
        Executor::new(&ctx, &m, 1..n + 1, 1, &[]).is_err(),
        "past the end"
    );
    let e = Executor::new(&ctx, &m, 1..n, 1, &[]).unwrap();
    assert!(e.set_input(0, &[0.0; 5]).is_err(), "wrong input length");
    assert!(e.set_input(3, &[0.0; 5]).is_err(), "not an input");
}

#[test]
fn profiler_times_every_node_with_each_method() {
    let Some(ctx) = gpu() else { return };
    let m = prepared(
        "resnet18-cifar",
        ZooOptions {
            width: Some(8),
            ..Default::default()
        },
    );
    let exec = Executor::new(&ctx, &m, 1..m.graph.nodes.len(), 1, &[]).unwrap();
    exec.set_input(0, &input(&m, 1, 1).data).unwrap();
    let best = TimingMethod::best_per_node(ctx.features);
    for method in [
        TimingMethod::TimestampInsidePass,
        TimingMethod::TimestampPass,
        TimingMethod::WallClock,
    ] {
        if (method as u8) < (best as u8) {
            assert!(
                profile(&exec, 0, 2, Some(method)).is_err(),
                "unsupported method accepted"
            );
            continue;
        }
        let p = profile(&exec, 1, 3, Some(method)).unwrap();
        assert_eq!(p.method, method);
        assert_eq!(p.per_node.len(), exec.steps().len());
        for (s, st) in exec.steps().iter().zip(&p.per_node) {
            assert_eq!(st.count, 3);
            assert!(st.p5_ms <= st.median_ms && st.median_ms <= st.p95_ms);
            if !s.dispatches.is_empty() {
                assert!(st.median_ms > 0.0, "{method:?}: node {} timed at 0", s.node);
            }
        }
        assert!(p.whole.median_ms > 0.0);
    }
    assert!(profile(&exec, 0, 0, None).is_err(), "reps 0");
}
