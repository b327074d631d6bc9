//! Structured pruning: ranking, residual-consistent channel groups, masks (CPU and GPU
//! kernel) and compaction, which must compute exactly what the masked model computes.

mod common;

use common::{assert_close, gpu};
use splitbench::compress::{
    compact, compact_graph, pruned_count, split_feature, stage_of, PruneConfig, PrunePlan,
};
use splitbench::cpu;
use splitbench::gpu::Executor;
use splitbench::model::{self, paper_split_points, seeded, Model, Op, Shape, ZooOptions};
use splitbench::tensor::{Rng, Tensor};
use splitbench::Error;

fn opts(width: usize) -> ZooOptions {
    ZooOptions {
        width: Some(width),
        ..Default::default()
    }
}

fn cifar(width: usize) -> Model {
    model::prepare("resnet18-cifar", &opts(width), None, 11)
        .unwrap()
        .model
}

fn input(m: &Model, batch: usize, seed: u64) -> Tensor {
    let s = m.graph.input_shape();
    Tensor::new(
        vec![batch, s.c, s.h, s.w],
        Rng::new(seed).vec(batch * s.numel(), -1.0, 1.0),
    )
    .unwrap()
}

/// Channels `keep` of an `[N, C, H, W]` tensor.
fn select(t: &Tensor, keep: Option<&[u32]>) -> Vec<f32> {
    let Some(keep) = keep else {
        return t.data.clone();
    };
    let (n, c) = (t.shape[0], t.shape[1]);
    let inner: usize = t.shape[2..].iter().product();
    let mut out = Vec::new();
    for b in 0..n {
        for &k in keep {
            let at = (b * c + k as usize) * inner;
            out.extend_from_slice(&t.data[at..at + inner]);
        }
    }
    out
}

fn cfg(r: [f32; 5]) -> PruneConfig {
    PruneConfig::new(&r).unwrap()
}

const RATIOS: [[f32; 5]; 5] = [
    [0.0; 5],
    [0.9; 5],
    [0.5, 0.0, 0.25, 0.75, 0.9],
    [0.0, 0.5, 0.0, 0.0, 0.0],
    [0.3, 0.1, 0.6, 0.2, 0.45],
];

/// Masked and compacted models give the same logits and the same split features (the
/// masked feature's kept channels), and pruned channels of the masked model are zero.
fn check_masked_equals_compacted(m: &Model, plan: &PrunePlan, masked: &Model, what: &str) {
    let small = plan.compact(m).unwrap();
    let x = input(m, 2, 5);
    let a = cpu::run(&masked.graph, &masked.weights, &x).unwrap();
    let b = cpu::run(&small.graph, &small.weights, &x).unwrap();
    let out = m.graph.output();
    assert_close(&b[out].data, &a[out].data, 1e-4, &format!("{what}: logits"));
    for (label, id) in paper_split_points(&m.graph) {
        let kept = plan.kept(id);
        assert_close(
            &b[id].data,
            &select(&a[id], kept),
            1e-4,
            &format!("{what}: feature at {label}"),
        );
        if let Some(k) = kept {
            let all: Vec<u32> = (0..m.graph.nodes[id].shape.c as u32).collect();
            let pruned: Vec<u32> = all.into_iter().filter(|c| !k.contains(c)).collect();
            assert!(
                select(&a[id], Some(&pruned)).iter().all(|&v| v == 0.0),
                "{what}: pruned channels at {label} are not zero in the masked model"
            );
        }
    }
}

#[test]
fn compacted_equals_masked_on_cpu() {
    let m = cifar(16);
    for r in RATIOS {
        let plan = PrunePlan::new(&m, &cfg(r)).unwrap();
        let masked = plan.mask_cpu(&m).unwrap();
        check_masked_equals_compacted(&m, &plan, &masked, &format!("ratios {r:?}"));
    }
}

#[test]
fn bottleneck_resnet_and_unfused_graph_compact_consistently() {
    // ResNet-50 (Bottleneck, downsample in layer1, max-pool stem) at a toy size.
    let o = ZooOptions {
        input: Some(Shape::new(3, 32, 32)),
        classes: Some(10),
        width: Some(8),
    };
    let p = model::prepare("resnet50", &o, None, 3).unwrap();
    let c = cfg([0.5, 0.25, 0.5, 0.75, 0.5]);
    let plan = PrunePlan::new(&p.model, &c).unwrap();
    let masked = plan.mask_cpu(&p.model).unwrap();
    check_masked_equals_compacted(&p.model, &plan, &masked, "resnet50");

    // The unfused torch graph: batch norms are sliced (compaction) or zeroed (masks), and
    // ranking its raw conv weights is the reference's choice.
    let torch = Model {
        graph: p.torch.clone(),
        weights: seeded(&p.torch, 3),
    };
    let plan_t = PrunePlan::new(&torch, &c).unwrap();
    let masked_t = plan_t.mask_cpu(&torch).unwrap();
    check_masked_equals_compacted(&torch, &plan_t, &masked_t, "unfused resnet50");
    // Same channel counts as the fused compaction, node for node by name.
    let small_t = plan_t.compact(&torch).unwrap();
    let small_f = compact(&p.model, &c).unwrap();
    for n in &small_f.graph.nodes {
        let Op::Conv2d(f) = n.op else { continue };
        let t = small_t.graph.find(&n.name).unwrap();
        let Op::Conv2d(u) = small_t.graph.nodes[t].op else {
            panic!("{} is a conv in both", n.name)
        };
        assert_eq!((u.in_c, u.out_c), (f.in_c, f.out_c), "{}", n.name);
    }
}

#[test]
fn gpu_masks_and_compacted_executor_match() {
    let Some(ctx) = gpu() else { return };
    let m = cifar(16);
    for r in [[0.0; 5], [0.9; 5], [0.5, 0.0, 0.25, 0.75, 0.9]] {
        let what = format!("gpu ratios {r:?}");
        let plan = PrunePlan::new(&m, &cfg(r)).unwrap();
        let masked = plan.mask_gpu(&ctx, &m).unwrap();
        // The kernel is bit-exact with the CPU mask.
        let want = plan.mask_cpu(&m).unwrap();
        assert_eq!(masked.weights, want.weights, "{what}: GPU vs CPU masks");
        let small = plan.compact(&m).unwrap();
        let splits = paper_split_points(&m.graph);
        let mut outs: Vec<usize> = splits.iter().map(|&(_, id)| id).collect();
        outs.push(m.graph.output());
        let x = input(&m, 2, 9);
        let n = m.graph.nodes.len();
        let run = |model: &Model| {
            let e = Executor::new(&ctx, model, 1..n, 2, &outs).unwrap();
            e.set_input(0, &x.data).unwrap();
            e.run().unwrap()
        };
        let (a, b) = (run(&masked), run(&small));
        for (k, &id) in outs.iter().enumerate() {
            assert_eq!(b[k].shape[1], small.graph.nodes[id].shape.c);
            assert_close(
                &b[k].data,
                &select(&a[k], plan.kept(id)),
                1e-4,
                &format!("{what}: node {}", m.graph.nodes[id].name),
            );
        }
    }
}

#[test]
fn ranking_keeps_the_highest_l1_filters() {
    let mut m = cifar(16);
    // layer2.0.conv1 owns its channel space (inner conv): give filter o the L1 norm
    // `score[o] * len`; the 16 lowest of 32 must go at ratio 0.5.
    let key = "layer2.0.conv1.weight";
    let w = m.weights.get_mut(key).unwrap();
    let c = w.shape[0];
    let per = w.numel() / c;
    let score: Vec<f32> = (0..c).map(|o| ((o * 7) % c) as f32 + 1.0).collect();
    for (filter, &s) in w.data.chunks_mut(per).zip(&score) {
        for (j, v) in filter.iter_mut().enumerate() {
            // Alternate signs: L1 counts magnitudes.
            *v = if j % 2 == 0 { s } else { -s };
        }
    }
    let plan = PrunePlan::new(&m, &cfg([0.0, 0.0, 0.5, 0.0, 0.0])).unwrap();
    let id = m.graph.find("layer2.0.conv1").unwrap();
    let mut want: Vec<u32> = (0..c as u32)
        .filter(|&o| score[o as usize] > 16.0)
        .collect();
    want.sort_unstable();
    assert_eq!(want.len(), c / 2);
    assert_eq!(plan.kept(id).unwrap(), want.as_slice());
    assert_eq!(plan.masks()["layer2.0.conv1"].iter().sum::<u32>(), 16);

    // The layer2 stream is ranked by the L1 norm summed over every conv writing it: make
    // channel 0 huge in one conv only; it must survive in all three.
    let mut m2 = cifar(16);
    let keys = ["layer2.0.downsample.0", "layer2.0.conv2", "layer2.1.conv2"];
    for (i, name) in keys.iter().enumerate() {
        let w = m2.weights.get_mut(&format!("{name}.weight")).unwrap();
        let per = w.numel() / w.shape[0];
        for o in 0..w.shape[0] {
            // Channel o scores o in each conv, except channel 0 which scores 1000 in the
            // downsample only; channels 1..=16 are the lowest in the sum.
            let s = if o == 0 && i == 0 { 1000.0 } else { o as f32 };
            w.data[o * per..(o + 1) * per].fill(s / per as f32);
        }
    }
    let plan = PrunePlan::new(&m2, &cfg([0.0, 0.0, 0.5, 0.0, 0.0])).unwrap();
    let mut want: Vec<u32> = vec![0];
    want.extend(17..32);
    for name in keys {
        let id = m2.graph.find(name).unwrap();
        assert_eq!(plan.kept(id).unwrap(), want.as_slice(), "{name}");
    }
    // Consumers of the stream: layer3.0's conv1 and downsample read the 16 kept channels.
    let small = plan.compact(&m2).unwrap();
    for name in ["layer3.0.conv1", "layer3.0.downsample.0", "layer2.1.conv1"] {
        let Op::Conv2d(c) = small.graph.nodes[small.graph.find(name).unwrap()].op else {
            panic!("{name} is a conv")
        };
        assert_eq!(c.in_c, 16, "{name}");
    }
}

#[test]
fn reference_ranking_from_unfused_weights() {
    let p = model::prepare("resnet18-cifar", &opts(16), None, 11).unwrap();
    let raw = seeded(&p.torch, 11);
    let c = PruneConfig::uniform(0.5).unwrap();
    let a = PrunePlan::with_ranking(&p.model.graph, &raw, &c).unwrap();
    let b = PrunePlan::new(&p.model, &c).unwrap();
    // Same counts, and a valid compaction either way.
    let id = p.model.graph.find("layer3.1.conv1").unwrap();
    assert_eq!(a.kept(id).unwrap().len(), b.kept(id).unwrap().len());
    let masked = a.mask_cpu(&p.model).unwrap();
    check_masked_equals_compacted(&p.model, &a, &masked, "reference ranking");
}

#[test]
fn ratio_zero_is_the_identity() {
    let m = cifar(16);
    let plan = PrunePlan::new(&m, &PruneConfig::NONE).unwrap();
    assert!(plan.masks().is_empty());
    let small = plan.compact(&m).unwrap();
    assert_eq!(small.weights, m.weights);
    assert_eq!(small.graph.nodes.len(), m.graph.nodes.len());
    for (a, b) in small.graph.nodes.iter().zip(&m.graph.nodes) {
        assert_eq!(
            (&a.name, a.op, &a.inputs, a.shape),
            (&b.name, b.op, &b.inputs, b.shape)
        );
    }
    assert_eq!(plan.mask_cpu(&m).unwrap().weights, m.weights);
    // Any graph accepts the identity; only ResNets accept pruning.
    let mb = model::prepare("mobilenet_v2", &ZooOptions::default(), None, 1)
        .unwrap()
        .model;
    assert_eq!(
        compact_graph(&mb.graph, &PruneConfig::NONE)
            .unwrap()
            .flops(),
        mb.graph.flops()
    );
    let err = compact_graph(&mb.graph, &PruneConfig::uniform(0.5).unwrap()).unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
}

#[test]
fn flops_and_params_decrease_with_ratios() {
    let g = model::zoo::build("resnet18-cifar", &ZooOptions::default()).unwrap();
    let g = model::fuse_graph(&g).unwrap();
    let mut last = (u64::MAX, u64::MAX);
    for r in [0.0, 0.1, 0.25, 0.5, 0.75, 0.9] {
        let s = compact_graph(&g, &PruneConfig::uniform(r).unwrap()).unwrap();
        let now = (s.flops(), s.param_count());
        assert!(
            now.0 < last.0 && now.1 < last.1,
            "uniform {r}: {now:?} vs {last:?}"
        );
        last = now;
    }
    // Raising one stage's ratio never adds work, and removes some.
    let base = [0.2f32, 0.3, 0.1, 0.4, 0.2];
    let f0 = compact_graph(&g, &cfg(base)).unwrap();
    for s in 0..5 {
        let mut r = base;
        r[s] += 0.4;
        let f = compact_graph(&g, &cfg(r)).unwrap();
        assert!(f.flops() < f0.flops(), "stage {s} flops");
        assert!(f.param_count() < f0.param_count(), "stage {s} params");
    }
    // Roughly quadratic: at 0.5 the convs do about a quarter of the work.
    let half = compact_graph(&g, &PruneConfig::uniform(0.5).unwrap()).unwrap();
    let ratio = half.flops() as f64 / g.flops() as f64;
    assert!((0.2..0.32).contains(&ratio), "flops ratio {ratio}");
}

#[test]
fn split_features_shrink_as_expected() {
    let g = model::zoo::build("resnet18-cifar", &ZooOptions::default()).unwrap();
    let g = model::fuse_graph(&g).unwrap();
    let pts = paper_split_points(&g);
    let at = |label: &str| pts.iter().find(|p| p.0 == label).unwrap().1;
    let shape = |cfg: &PruneConfig, label: &str| {
        let cut = split_feature(&g, cfg, at(label)).unwrap();
        assert_eq!(cut.tensors, vec![at(label)]);
        let s = compact_graph(&g, cfg).unwrap().nodes[at(label)].shape;
        assert_eq!(cut.bytes_per_sample, s.bytes_f32());
        s
    };
    // layer1 at 0.5: its stream (shared with the stem) halves.
    let l1 = cfg([0.0, 0.5, 0.0, 0.0, 0.0]);
    assert_eq!(shape(&l1, "layer1"), Shape::new(32, 32, 32));
    assert_eq!(shape(&l1, "stem"), Shape::new(32, 32, 32));
    assert_eq!(shape(&l1, "layer2"), Shape::new(128, 16, 16));
    assert_eq!(
        split_feature(&g, &l1, at("layer1"))
            .unwrap()
            .bytes_per_sample,
        131_072
    );
    let u = PruneConfig::uniform(0.5).unwrap();
    assert_eq!(shape(&u, "layer2"), Shape::new(64, 16, 16));
    assert_eq!(shape(&u, "layer3"), Shape::new(128, 8, 8));
    assert_eq!(shape(&u, "layer4"), Shape::new(256, 4, 4));
    let fc = compact_graph(&g, &u).unwrap();
    let Op::Linear(l) = fc.nodes[fc.output()].op else {
        panic!("fc is linear")
    };
    assert_eq!((l.in_f, l.out_f), (256, 10));
    // 0.9 of 64: round(57.6) = 58 go, 6 stay; a ratio never removes every channel.
    assert_eq!(shape(&PruneConfig::uniform(0.9).unwrap(), "layer1").c, 6);
    assert_eq!(pruned_count(64, 0.9), 58);
    assert_eq!(pruned_count(1, 0.9), 0);
    assert_eq!(pruned_count(10, 0.25), 2); // 2.5 rounds half to even
    assert!(split_feature(&g, &u, g.nodes.len()).is_err());
}

#[test]
fn stages_and_on_device_ratios() {
    let g = model::fuse_graph(&model::zoo::build("resnet18-cifar", &opts(16)).unwrap()).unwrap();
    let st = |name: &str| stage_of(&g, g.find(name).unwrap());
    assert_eq!(st("input"), None);
    assert_eq!(st("conv1"), Some(0));
    assert_eq!(st("layer1.0.conv2"), Some(1));
    assert_eq!(st("layer4.1.conv2"), Some(4));
    assert_eq!(st("fc"), None);
    assert_eq!(stage_of(&g, 10_000), None);
    let c = cfg([0.1, 0.2, 0.3, 0.4, 0.5]);
    let l2 = g.find("layer2.1.conv2").unwrap();
    assert_eq!(c.on_device(&g, l2).ratios, [0.1, 0.2, 0.3, 0.0, 0.0]);
    assert_eq!(c.on_device(&g, 0).ratios, [0.0; 5]);
    assert_eq!(c.on_device(&g, g.output()), c);
}

#[test]
fn bad_configs_are_errors() {
    for r in [-0.1, 1.0, 1.5, f32::NAN, f32::INFINITY] {
        assert!(
            matches!(PruneConfig::uniform(r), Err(Error::InvalidArg(_))),
            "{r}"
        );
        let mut v = [0.0; 5];
        v[3] = r;
        assert!(PruneConfig::new(&v).is_err(), "{r} in stage 3");
        // A config built by hand is validated when planned.
        let m = cifar(8);
        assert!(PrunePlan::new(&m, &PruneConfig { ratios: v }).is_err());
        assert!(compact_graph(&m.graph, &PruneConfig { ratios: v }).is_err());
    }
    for len in [0, 4, 6] {
        let err = PruneConfig::new(&vec![0.1; len]).unwrap_err();
        assert!(err.to_string().contains("5 ratios"), "{err}");
    }
    // A plan is tied to its graph.
    let plan = PrunePlan::new(&cifar(8), &PruneConfig::uniform(0.5).unwrap()).unwrap();
    let other = model::prepare("resnet18", &opts(8), None, 1).unwrap().model;
    assert!(plan.compact(&other).is_err());
    assert!(plan.mask_cpu(&other).is_err());
}
