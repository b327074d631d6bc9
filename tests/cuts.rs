//! Split cuts on the fused CIFAR ResNet-18: one tensor between blocks, two inside a residual
//! block, the input at the edge-only cut, the logits at the device-only cut.

use splitbench::model::{cuts, fuse_graph, paper_split_points, zoo, Graph, Shape, ZooOptions};

fn fused_cifar() -> Graph {
    let g = zoo::build("resnet18-cifar", &ZooOptions::default()).unwrap();
    fuse_graph(&g).unwrap()
}

#[test]
fn one_cut_per_node_in_order() {
    let g = fused_cifar();
    let cs = cuts(&g);
    assert_eq!(cs.len(), g.nodes.len());
    for (k, c) in cs.iter().enumerate() {
        assert_eq!(c.after, k);
        assert!(!c.tensors.is_empty(), "cut {k} carries nothing");
        assert!(c.tensors.iter().all(|&t| t <= k));
        let bytes: usize = c
            .tensors
            .iter()
            .map(|&t| g.nodes[t].shape.bytes_f32())
            .sum();
        assert_eq!(c.bytes_per_sample, bytes);
    }
}

#[test]
fn edge_only_and_device_only_cuts() {
    let g = fused_cifar();
    let cs = cuts(&g);
    assert_eq!(cs[0].tensors, vec![0]);
    assert_eq!(cs[0].bytes_per_sample, 3 * 32 * 32 * 4);
    let last = cs.last().unwrap();
    assert_eq!(last.tensors, vec![g.output()]);
    assert_eq!(last.bytes_per_sample, 10 * 4);
}

#[test]
fn paper_points_carry_one_tensor() {
    let g = fused_cifar();
    let cs = cuts(&g);
    let points = paper_split_points(&g);
    let labels: Vec<&str> = points.iter().map(|p| p.0).collect();
    assert_eq!(labels, ["stem", "layer1", "layer2", "layer3", "layer4"]);
    let expect = [
        ("conv1", Shape::new(64, 32, 32)),
        ("layer1.1.conv2", Shape::new(64, 32, 32)),
        ("layer2.1.conv2", Shape::new(128, 16, 16)),
        ("layer3.1.conv2", Shape::new(256, 8, 8)),
        ("layer4.1.conv2", Shape::new(512, 4, 4)),
    ];
    for ((label, id), (name, shape)) in points.iter().zip(expect) {
        assert_eq!(g.nodes[*id].name, name, "{label}");
        assert_eq!(cs[*id].tensors, vec![*id], "{label}");
        assert_eq!(cs[*id].bytes_per_sample, shape.bytes_f32(), "{label}");
    }
    assert_eq!(cs[points[1].1].bytes_per_sample, 262_144);
}

#[test]
fn cuts_inside_residual_blocks_carry_two() {
    let g = fused_cifar();
    let cs = cuts(&g);
    // Identity block: after conv1 the block input waits for the residual add.
    let c1 = g.find("layer1.1.conv1").unwrap();
    assert_eq!(cs[c1].tensors, vec![g.find("layer1.0.conv2").unwrap(), c1]);
    assert_eq!(cs[c1].bytes_per_sample, 2 * 262_144);
    // Downsampling block: after the downsample conv the input still feeds conv1; after
    // conv1 the downsample output and conv1's output cross.
    let ds = g.find("layer2.0.downsample.0").unwrap();
    assert_eq!(cs[ds].tensors, vec![g.find("layer1.1.conv2").unwrap(), ds]);
    let c1 = g.find("layer2.0.conv1").unwrap();
    assert_eq!(cs[c1].tensors, vec![ds, c1]);
    assert_eq!(cs[c1].bytes_per_sample, 2 * 128 * 16 * 16 * 4);
    // Every cut is one tensor at a block boundary or two inside a block, never more.
    assert!(cs.iter().all(|c| c.tensors.len() <= 2));
    assert_eq!(cs.iter().filter(|c| c.tensors.len() == 2).count(), 8 + 3);
}

#[test]
fn paper_points_on_the_unfused_graph() {
    let g = zoo::build("resnet18-cifar", &ZooOptions::default()).unwrap();
    let cs = cuts(&g);
    let points = paper_split_points(&g);
    let names: Vec<&str> = points
        .iter()
        .map(|&(_, id)| g.nodes[id].name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "relu",
            "layer1.1.relu2",
            "layer2.1.relu2",
            "layer3.1.relu2",
            "layer4.1.relu2"
        ]
    );
    for &(label, id) in &points {
        assert_eq!(cs[id].tensors.len(), 1, "{label}");
    }
    // ImageNet ResNets: the stem ends with the max-pool. Non-ResNets have no points.
    let g = zoo::build("resnet50", &ZooOptions::default()).unwrap();
    assert_eq!(g.nodes[paper_split_points(&g)[0].1].name, "maxpool");
    let g = zoo::build("vgg16", &ZooOptions::default()).unwrap();
    assert!(paper_split_points(&g).is_empty());
}

#[test]
fn cut_serializes() {
    let g = fused_cifar();
    let json = serde_json::to_string(&cuts(&g)[0]).unwrap();
    assert_eq!(
        json,
        r#"{"after":0,"tensors":[0],"bytes_per_sample":12288}"#
    );
}
