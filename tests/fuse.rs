//! Fusion: structure of the fused zoo graphs, and the fused graph computing the same
//! function as the unfused one on the CPU reference.

use splitbench::cpu;
use splitbench::model::{
    fuse, fuse_graph, load_fused, save_safetensors, seeded, seeded_fused, zoo, Act, Conv2d, Graph,
    Linear, Model, Op, Pool, Shape, ZooOptions,
};
use splitbench::tensor::{Rng, Tensor};
use splitbench::Error;

fn opts(input: Option<Shape>, width: Option<usize>) -> ZooOptions {
    ZooOptions {
        input,
        classes: None,
        width,
    }
}

fn count(g: &Graph, pred: impl Fn(&Op) -> bool) -> usize {
    g.nodes.iter().filter(|n| pred(&n.op)).count()
}

/// Runs unfused and fused models on the same random batch and compares the logits.
fn assert_same_logits(g: &Graph, batch: usize, seed: u64) {
    let model = Model {
        graph: g.clone(),
        weights: seeded(g, seed),
    };
    let fused = fuse(&model).unwrap();
    let s = g.input_shape();
    let mut rng = Rng::new(seed + 100);
    let input = Tensor::new(
        vec![batch, s.c, s.h, s.w],
        rng.vec(batch * s.numel(), -1.0, 1.0),
    )
    .unwrap();
    let a = cpu::run(&model.graph, &model.weights, &input).unwrap();
    let b = cpu::run(&fused.graph, &fused.weights, &input).unwrap();
    let (a, b) = (&a[model.graph.output()], &b[fused.graph.output()]);
    assert_eq!(a.shape, b.shape);
    let scale = a.data.iter().fold(0f32, |m, v| m.max(v.abs()));
    let err = a
        .data
        .iter()
        .zip(&b.data)
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    assert!(scale > 0.0, "{}: all-zero logits prove nothing", g.name);
    assert!(
        err <= 1e-4 * scale,
        "{}: max |diff| {err} vs max |logit| {scale}",
        g.name
    );
}

/// conv(bias) + BN + ReLU, max-pool, conv + BN + ReLU6, adaptive pool, classifier with
/// dropout: a VGG-like net that exercises a conv bias folded with BN and ReLU6.
fn tiny_vgg() -> Graph {
    let mut g = Graph::new("tiny-vgg", Shape::new(3, 12, 12));
    let mut c = Conv2d::new(3, 8, 3, 1, 1, 1);
    c.bias = true;
    let x = g.push("features.0", Op::Conv2d(c), &[0]).unwrap();
    let x = g
        .push("features.1", Op::BatchNorm { c: 8, eps: 1e-5 }, &[x])
        .unwrap();
    let x = g.push("features.2", Op::Relu, &[x]).unwrap();
    let p = Pool {
        kernel: 2,
        stride: 2,
        padding: 0,
        ceil: false,
    };
    let x = g.push("features.3", Op::MaxPool(p), &[x]).unwrap();
    let x = g
        .push(
            "features.4",
            Op::Conv2d(Conv2d::new(8, 6, 3, 2, 1, 2)),
            &[x],
        )
        .unwrap();
    let x = g
        .push("features.5", Op::BatchNorm { c: 6, eps: 1e-3 }, &[x])
        .unwrap();
    let x = g.push("features.6", Op::Relu6, &[x]).unwrap();
    let x = g
        .push("avgpool", Op::AdaptiveAvgPool { h: 2, w: 2 }, &[x])
        .unwrap();
    let x = g.push("flatten", Op::Flatten, &[x]).unwrap();
    let x = g.push("classifier.0", Op::Dropout, &[x]).unwrap();
    let lin = |i, o| {
        Op::Linear(Linear {
            in_f: i,
            out_f: o,
            bias: true,
            act: Act::None,
        })
    };
    let x = g.push("classifier.1", lin(24, 16), &[x]).unwrap();
    let x = g.push("classifier.2", Op::Relu, &[x]).unwrap();
    let x = g.push("classifier.3", Op::Dropout, &[x]).unwrap();
    g.push("classifier.4", lin(16, 5), &[x]).unwrap();
    g
}

#[test]
fn fused_resnet18_cifar_is_convs_only() {
    let g = zoo::build("resnet18-cifar", &ZooOptions::default()).unwrap();
    let f = fuse_graph(&g).unwrap();
    // input, conv1, 8 blocks x 2 convs, 3 downsample convs, avgpool, flatten, fc.
    assert_eq!(f.nodes.len(), 24);
    assert_eq!(
        count(&f, |op| matches!(
            op,
            Op::BatchNorm { .. } | Op::Relu | Op::Relu6 | Op::Add { .. } | Op::Dropout
        )),
        0
    );
    for n in &f.nodes {
        let Op::Conv2d(c) = n.op else { continue };
        assert!(c.bias, "{}: BN folded gives a bias", n.name);
        let (act, residual) = if n.name.ends_with(".conv2") {
            (Act::Relu, true)
        } else if n.name.contains("downsample") {
            (Act::None, false)
        } else {
            (Act::Relu, false)
        };
        assert_eq!((c.act, c.residual), (act, residual), "{}", n.name);
    }
    // layer2.0.conv2 adds the downsample branch; layer1.1.conv2 adds the block input.
    let c2 = &f.nodes[f.find("layer2.0.conv2").unwrap()];
    assert_eq!(
        c2.inputs,
        vec![
            f.find("layer2.0.conv1").unwrap(),
            f.find("layer2.0.downsample.0").unwrap()
        ]
    );
    let c2 = &f.nodes[f.find("layer1.1.conv2").unwrap()];
    assert_eq!(c2.inputs[1], f.find("layer1.0.conv2").unwrap());
    assert_eq!(f.nodes[f.output()].name, "fc");
    assert!(f.flops() < g.flops());
}

#[test]
fn fused_mobilenet_v2_folds_adds_without_activation() {
    let g = zoo::build("mobilenet_v2", &ZooOptions::default()).unwrap();
    let f = fuse_graph(&g).unwrap();
    assert_eq!(count(&f, |op| matches!(op, Op::Add { .. })), 0);
    assert_eq!(
        count(
            &f,
            |op| matches!(op, Op::Conv2d(c) if c.residual && c.act == Act::None)
        ),
        10
    );
    assert_eq!(
        count(&f, |op| matches!(op, Op::Conv2d(c) if c.act == Act::Relu6)),
        35
    );
    assert_eq!(count(&f, |op| matches!(op, Op::Dropout)), 0);
    // 52 convs + input + avgpool + flatten + classifier.1.
    assert_eq!(f.nodes.len(), 56);
}

#[test]
fn fused_weights_have_exactly_the_fused_keys() {
    let g = zoo::build("resnet18-cifar", &opts(None, Some(8))).unwrap();
    let m = seeded_fused(&g, 5).unwrap();
    assert!(m.weights.contains_key("layer1.0.conv1.bias"));
    assert!(!m.weights.keys().any(|k| k.contains("bn")));
    assert_eq!(m.graph.nodes.len(), fuse_graph(&g).unwrap().nodes.len());
    // vgg16: relu into every conv and the first two linears, dropouts gone.
    let f = fuse_graph(&zoo::build("vgg16", &ZooOptions::default()).unwrap()).unwrap();
    assert_eq!(count(&f, |op| matches!(op, Op::Relu | Op::Dropout)), 0);
    assert_eq!(
        count(&f, |op| matches!(op, Op::Linear(l) if l.act == Act::Relu)),
        2
    );
}

#[test]
fn fused_resnet18_cifar_width16_same_logits() {
    let g = zoo::build("resnet18-cifar", &opts(None, Some(16))).unwrap();
    assert_same_logits(&g, 2, 1);
}

#[test]
fn fused_resnet18_cifar_fashion_mnist_same_logits() {
    let g = zoo::build(
        "resnet18-cifar",
        &opts(Some(Shape::new(1, 28, 28)), Some(8)),
    )
    .unwrap();
    assert_same_logits(&g, 1, 2);
}

#[test]
fn fused_mobilenet_v2_32x32_same_logits() {
    let g = zoo::build("mobilenet_v2", &opts(Some(Shape::new(3, 32, 32)), None)).unwrap();
    assert_same_logits(&g, 2, 3);
}

#[test]
fn fused_tiny_vgg_same_logits() {
    assert_same_logits(&tiny_vgg(), 3, 4);
}

#[test]
fn batch_norm_that_cannot_be_folded_is_an_error() {
    // The conv feeds the BN and a second branch: folding would change that branch.
    let mut g = Graph::new("shared", Shape::new(2, 4, 4));
    let c = g
        .push("conv", Op::Conv2d(Conv2d::new(2, 2, 1, 1, 0, 1)), &[0])
        .unwrap();
    let b = g
        .push("bn", Op::BatchNorm { c: 2, eps: 1e-5 }, &[c])
        .unwrap();
    g.push("add", Op::Add { act: Act::None }, &[c, b]).unwrap();
    let m = Model {
        weights: seeded(&g, 0),
        graph: g,
    };
    let err = fuse(&m).unwrap_err();
    assert!(
        matches!(err, Error::Graph(_)) && err.to_string().contains("bn"),
        "{err}"
    );

    // A BN straight after the input has no conv to fold into.
    let mut g = Graph::new("bare", Shape::new(2, 4, 4));
    g.push("bn", Op::BatchNorm { c: 2, eps: 1e-5 }, &[0])
        .unwrap();
    let err = fuse_graph(&g).unwrap_err();
    assert!(err.to_string().contains("not a conv"), "{err}");

    // Weights that do not match the graph are refused before anything is folded.
    let g = tiny_vgg();
    let mut w = seeded(&g, 0);
    w.remove("features.1.running_var");
    let err = fuse(&Model {
        graph: g,
        weights: w,
    })
    .unwrap_err();
    assert!(err.to_string().contains("features.1.running_var"), "{err}");
}

#[test]
fn prepare_loads_a_file_or_seeds() {
    let g = tiny_vgg();
    let seeded_model = load_fused(&g, None, 11).unwrap();
    assert_eq!(seeded_model.weights, seeded_fused(&g, 11).unwrap().weights);
    let path = std::env::temp_dir().join(format!(
        "splitbench-fuse-{}.safetensors",
        std::process::id()
    ));
    save_safetensors(&seeded(&g, 11), &path).unwrap();
    let loaded = load_fused(&g, Some(&path), 0).unwrap();
    assert_eq!(loaded.weights, seeded_model.weights);
    let _ = std::fs::remove_file(&path);
    let err = load_fused(&g, Some(&path), 0).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
}
