//! Zoo models against torchvision: parameter counts, conv+linear FLOPs, output shapes,
//! module paths.
//!
//! Parameter counts are `sum(p.numel() for p in m.parameters())` of
//! `torchvision.models.<name>()` (torchvision's docs list the same numbers); the CIFAR
//! ResNet-18 count is that of the paper's reference (kuangliu-style ResNet18, 10 classes).
//! MAC counts are the commonly quoted figures for conv + linear layers at 224x224.

use splitbench::model::{zoo, Graph, Op, Shape, ZooOptions};
use splitbench::Error;

fn build(name: &str) -> Graph {
    zoo::build(name, &ZooOptions::default()).expect(name)
}

/// 2 x multiply-accumulates of conv and linear layers only (no bias, BN, pooling).
fn conv_linear_flops(g: &Graph) -> f64 {
    g.nodes
        .iter()
        .map(|n| match &n.op {
            Op::Conv2d(c) => {
                2.0 * (c.in_c / c.groups * c.kernel.0 * c.kernel.1) as f64 * n.shape.numel() as f64
            }
            Op::Linear(l) => 2.0 * (l.in_f * l.out_f) as f64,
            _ => 0.0,
        })
        .sum()
}

#[test]
fn param_counts_match_torchvision() {
    for (name, want) in [
        ("resnet18", 11_689_512u64),
        ("resnet34", 21_797_672),
        ("resnet50", 25_557_032),
        ("mobilenet_v2", 3_504_872),
        ("vgg16", 138_357_544),
        ("alexnet", 61_100_840),
        ("resnet18-cifar", 11_173_962),
    ] {
        assert_eq!(build(name).param_count(), want, "{name}");
    }
}

#[test]
fn every_name_builds_and_ends_in_logits() {
    assert!(!zoo::names().is_empty());
    for &name in zoo::names() {
        let g = build(name);
        let classes = if name == "resnet18-cifar" { 10 } else { 1000 };
        assert_eq!(
            g.nodes[g.output()].shape,
            Shape::new(classes, 1, 1),
            "{name}"
        );
        assert!(matches!(g.nodes[g.output()].op, Op::Linear(_)), "{name}");
        // Names are unique, so every state_dict key is.
        let mut names: Vec<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
        names.sort_unstable();
        let len = names.len();
        names.dedup();
        assert_eq!(names.len(), len, "{name}: duplicate node names");
    }
}

#[test]
fn conv_linear_flops_match_known_mac_counts() {
    for (name, gmacs) in [
        ("resnet18", 1.814),
        ("resnet50", 4.09),
        ("mobilenet_v2", 0.300),
        ("vgg16", 15.47),
        ("alexnet", 0.714),
    ] {
        let got = conv_linear_flops(&build(name)) / 2e9;
        let rel = (got - gmacs).abs() / gmacs;
        assert!(rel < 0.02, "{name}: {got:.4} GMACs, expected ~{gmacs}");
    }
    // Total FLOPs also count BN, ReLU, pooling, bias: a little more than 2 x MACs.
    let g = build("resnet18");
    let total = g.flops() as f64;
    let cl = conv_linear_flops(&g);
    assert!(total > cl && total < 1.05 * cl, "{total} vs {cl}");
}

#[test]
fn resnet18_cifar_shapes_and_names() {
    let g = build("resnet18-cifar");
    assert_eq!(g.input_shape(), Shape::new(3, 32, 32));
    let shape = |n: &str| g.nodes[g.find(n).expect(n)].shape;
    assert_eq!(shape("relu"), Shape::new(64, 32, 32));
    assert_eq!(shape("layer1.1.relu2"), Shape::new(64, 32, 32));
    assert_eq!(shape("layer2.1.relu2"), Shape::new(128, 16, 16));
    assert_eq!(shape("layer3.1.relu2"), Shape::new(256, 8, 8));
    assert_eq!(shape("layer4.1.relu2"), Shape::new(512, 4, 4));
    assert!(
        g.find("maxpool").is_none(),
        "the CIFAR stem has no max-pool"
    );
    let Op::Conv2d(c) = g.nodes[g.find("conv1").unwrap()].op else {
        panic!("conv1 is not a conv")
    };
    assert_eq!(
        (c.kernel, c.stride, c.padding, c.bias),
        ((3, 3), (1, 1), (1, 1), false)
    );
    // The downsample branch comes before the main path of its block.
    let ds = g.find("layer2.0.downsample.0").unwrap();
    assert!(ds < g.find("layer2.0.conv1").unwrap());
    assert!(g.find("layer1.0.downsample.0").is_none());
    let add = g.find("layer2.0.add").unwrap();
    assert_eq!(
        g.nodes[add].inputs,
        vec![g.find("layer2.0.bn2").unwrap(), ds + 1]
    );
}

#[test]
fn resnet18_cifar_fashion_mnist_input() {
    let opts = ZooOptions {
        input: Some(Shape::new(1, 28, 28)),
        classes: Some(10),
        width: None,
    };
    let g = zoo::build("resnet18-cifar", &opts).unwrap();
    let shape = |n: &str| g.nodes[g.find(n).expect(n)].shape;
    assert_eq!(shape("layer2.1.relu2"), Shape::new(128, 14, 14));
    assert_eq!(shape("layer3.1.relu2"), Shape::new(256, 7, 7));
    assert_eq!(shape("layer4.1.relu2"), Shape::new(512, 4, 4));
    assert_eq!(g.nodes[g.output()].shape, Shape::new(10, 1, 1));
    // Only conv1's input channels change: 64 * 9 * (3 - 1) fewer weights.
    assert_eq!(g.param_count(), 11_173_962 - 64 * 9 * 2);
}

#[test]
fn width_and_classes_options() {
    let opts = ZooOptions {
        width: Some(16),
        classes: Some(100),
        ..Default::default()
    };
    let g = zoo::build("resnet18-cifar", &opts).unwrap();
    assert_eq!(g.nodes[g.find("layer4.1.conv2").unwrap()].shape.c, 128);
    assert_eq!(g.nodes[g.output()].shape.c, 100);
    for &name in zoo::names() {
        let g = zoo::build(
            name,
            &ZooOptions {
                classes: Some(7),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(g.nodes[g.output()].shape.c, 7, "{name}");
    }
    let err = zoo::build("vgg16", &opts).unwrap_err();
    assert!(matches!(err, Error::InvalidArg(_)), "{err}");
    let zero = ZooOptions {
        classes: Some(0),
        ..Default::default()
    };
    assert!(matches!(
        zoo::build("resnet18", &zero),
        Err(Error::InvalidArg(_))
    ));
}

#[test]
fn small_inputs_work_for_imagenet_models_or_fail_cleanly() {
    let opts = ZooOptions {
        input: Some(Shape::new(3, 32, 32)),
        ..Default::default()
    };
    for name in ["resnet18", "resnet50", "mobilenet_v2", "vgg16"] {
        let g = zoo::build(name, &opts).expect(name);
        assert_eq!(g.nodes[g.output()].shape.c, 1000);
    }
    // AlexNet's 11x11/4 conv and three max-pools need more than 32x32.
    let err = zoo::build("alexnet", &opts).unwrap_err();
    assert!(matches!(err, Error::Graph(_)), "{err}");
}

#[test]
fn torchvision_module_paths() {
    let g = build("mobilenet_v2");
    for name in [
        "features.0.0",
        "features.0.1",
        "features.1.conv.0.0",
        "features.1.conv.1",
        "features.1.conv.2",
        "features.2.conv.0.0",
        "features.2.conv.1.0",
        "features.2.conv.2",
        "features.2.conv.3",
        "features.17.conv.3",
        "features.18.0",
        "classifier.1",
    ] {
        assert!(g.find(name).is_some(), "mobilenet_v2 lacks {name}");
    }
    assert!(matches!(
        g.nodes[g.find("classifier.0").unwrap()].op,
        Op::Dropout
    ));
    // Residual adds only where stride 1 and channels match: 10 of the 17 blocks.
    let adds = g
        .nodes
        .iter()
        .filter(|n| matches!(n.op, Op::Add { .. }))
        .count();
    assert_eq!(adds, 10);

    let g = build("vgg16");
    assert!(matches!(
        g.nodes[g.find("features.30").unwrap()].op,
        Op::MaxPool(_)
    ));
    assert!(matches!(
        g.nodes[g.find("features.28").unwrap()].op,
        Op::Conv2d(_)
    ));
    assert!(matches!(
        g.nodes[g.find("classifier.6").unwrap()].op,
        Op::Linear(_)
    ));
    assert!(matches!(
        g.nodes[g.find("classifier.5").unwrap()].op,
        Op::Dropout
    ));
    assert_eq!(
        g.nodes[g.find("avgpool").unwrap()].shape,
        Shape::new(512, 7, 7)
    );

    let g = build("alexnet");
    assert_eq!(
        g.nodes[g.find("avgpool").unwrap()].shape,
        Shape::new(256, 6, 6)
    );
    assert!(matches!(
        g.nodes[g.find("features.12").unwrap()].op,
        Op::MaxPool(_)
    ));

    let g = build("resnet50");
    for name in [
        "layer1.0.downsample.0",
        "layer1.0.conv3",
        "layer4.2.bn3",
        "fc",
    ] {
        assert!(g.find(name).is_some(), "resnet50 lacks {name}");
    }
    assert_eq!(
        g.nodes[g.find("layer4.2.relu3").unwrap()].shape,
        Shape::new(2048, 7, 7)
    );
}

#[test]
fn unknown_model_names_the_known_ones() {
    let err = zoo::build("resnet19", &ZooOptions::default()).unwrap_err();
    let Error::UnknownModel {
        ref name,
        ref known,
    } = err
    else {
        panic!("{err}")
    };
    assert_eq!(name, "resnet19");
    assert!(known.contains("resnet18-cifar"));
}
