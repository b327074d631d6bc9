//! The study's configurations through the GPU split pipeline: parsing of configuration
//! names (as the planner writes them), the f32 pipeline equal to the whole model, a
//! bottleneck pipeline equal to the CPU reference of the spliced graph, n-bit wires close
//! to f32, pruned files loaded by name, and errors naming missing files.

mod common;

use splitbench::compress::{Bottleneck, PruneConfig};
use splitbench::eval::{
    load_parts, Classifier, GpuClassifier, SplitClassifier, SplitConfig, SplitParts, TrainedFiles,
    Wire,
};
use splitbench::model::{self, Graph, Model, Shape, ZooOptions};
use splitbench::plan::{variant_name, Encoding, Scale};
use splitbench::tensor::{Rng, Tensor};

fn opts() -> ZooOptions {
    ZooOptions {
        input: Some(Shape::new(1, 28, 28)),
        classes: Some(10),
        width: Some(4),
    }
}

fn base() -> (Graph, Model, Model) {
    let torch = model::zoo::build("resnet18-cifar", &opts()).unwrap();
    let weights = model::seeded(&torch, 11);
    let unfused = Model {
        graph: torch.clone(),
        weights,
    };
    let fused = model::fuse(&unfused).unwrap();
    (torch, unfused, fused)
}

fn images(n: usize) -> Vec<f32> {
    Rng::new(5).vec(n * 784, -1.0, 2.0)
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn config_names_round_trip_with_the_planner() {
    let (_, _, fused) = base();
    let g = &fused.graph;
    let p = PruneConfig::new(&[0.0, 0.5, 0.0, 0.0, 0.0]).unwrap();
    let enc4 = Encoding::Quant {
        bits: 4,
        scale: Scale::Tensor,
    };
    let name = format!("layer1.1.conv2/{}", variant_name(enc4, Some(&p), Some(2)));
    let split = g
        .nodes
        .iter()
        .position(|n| n.name == "layer1.1.conv2")
        .unwrap();
    assert_eq!(
        SplitConfig::parse(g, &name).unwrap(),
        SplitConfig::Split {
            split,
            prune: Some(p),
            bottleneck: Some(2),
            wire: Wire::Quant {
                bits: 4,
                per_channel: false
            }
        }
    );
    let c = SplitConfig::parse(g, "conv1/8bit-channel").unwrap();
    assert!(matches!(
        c,
        SplitConfig::Split {
            wire: Wire::Quant {
                bits: 8,
                per_channel: true
            },
            prune: None,
            bottleneck: None,
            ..
        }
    ));
    assert_eq!(
        SplitConfig::parse(g, "fc/none").unwrap(),
        SplitConfig::Whole
    );
    assert_eq!(
        SplitConfig::parse(g, "input/uint8-input").unwrap(),
        SplitConfig::Whole
    );
    for bad in [
        "nonode/f32",
        "conv1",
        "conv1/9bit-tensor",
        "conv1/4bit-row",
        "conv1/bnx+f32",
        "conv1/prune-a_b+f32",
        "conv1/foo+f32",
        "fc/f32",
    ] {
        let e = SplitConfig::parse(g, bad).unwrap_err().to_string();
        assert!(e.contains(bad), "{bad}: {e}");
    }
}

#[test]
fn f32_pipeline_equals_the_whole_model_and_nbit_stays_close() {
    let Some(ctx) = common::gpu() else { return };
    let (_, _, fused) = base();
    let g = &fused.graph;
    let x = images(3);
    let whole = GpuClassifier::new(&ctx, &fused, 3)
        .unwrap()
        .logits(&x, 3)
        .unwrap();
    for (label, split) in model::paper_split_points(g) {
        let parts = SplitParts {
            model: &fused,
            bottleneck: None,
        };
        let mut f32c = SplitClassifier::new(&ctx, &parts, split, Wire::F32, 3).unwrap();
        let l = f32c.logits(&x, 3).unwrap();
        assert!(max_diff(&l, &whole) < 1e-4, "{label}: f32 split differs");
        let s = g.nodes[split].shape;
        assert!(f32c.frame_bytes_per_image().unwrap() > s.numel() * 4);
        let wire = Wire::Quant {
            bits: 8,
            per_channel: false,
        };
        let mut q = SplitClassifier::new(&ctx, &parts, split, wire, 3).unwrap();
        assert!(q.logits(&x, 2).is_err(), "3 images' values for n = 2");
        let lq = q.logits(&x[..2 * 784], 2).unwrap();
        assert_eq!(lq.len(), 20);
        let scale = whole.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(
            max_diff(&lq, &whole[..20]) < 0.05 * scale.max(1.0),
            "{label}: 8-bit far from f32"
        );
        // The frame carries one byte per value plus the header and params.
        assert!(q.frame_bytes_per_image().unwrap() < s.numel() + 64);
        assert!(q.last_frame_bytes > 3 * s.numel());
    }
}

/// The fused graph with encoder and decoder inserted after `split`: the CPU reference of
/// the bottleneck pipeline (f32 wire).
fn spliced(g: &Graph, split: usize, enc: &Model, dec: &Model) -> Graph {
    let mut out = Graph::new("spliced", g.input_shape());
    let remap = |i: usize| if i <= split { i } else { i + 2 };
    for (id, n) in g.nodes.iter().enumerate().skip(1) {
        let inputs: Vec<usize> = n
            .inputs
            .iter()
            .map(|&i| if i == split { split + 2 } else { remap(i) })
            .collect();
        out.push(n.name.clone(), n.op, &inputs).unwrap();
        if id == split {
            out.push("encoder", enc.graph.nodes[1].op, &[split])
                .unwrap();
            out.push("decoder", dec.graph.nodes[1].op, &[split + 1])
                .unwrap();
        }
    }
    out
}

#[test]
fn bottleneck_pipeline_matches_cpu_reference_and_loads_by_name() {
    let Some(ctx) = common::gpu() else { return };
    let (torch, _, fused) = base();
    let g = &fused.graph;
    let dir = std::env::temp_dir().join(format!("sb-split-eval-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files = TrainedFiles::beside(&dir.join("base.safetensors"));
    let (_, split) = model::paper_split_points(g)[2];
    let spec = Bottleneck::new(g.nodes[split].shape, 2).unwrap();
    // A "trained" file: seeded halves under the pair graph's keys.
    let (enc, dec) = (spec.encoder(3).unwrap(), spec.decoder(3).unwrap());
    let mut w = enc.weights.clone();
    w.extend(dec.weights.clone());
    let name = &g.nodes[split].name;
    let config = format!("{name}/bn2+f32");
    let cfg = SplitConfig::parse(g, &config).unwrap();
    let err = load_parts(&torch, &fused, &cfg, &files)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("base.{name}-bn2.safetensors")),
        "{err}"
    );
    model::save_safetensors(&w, &files.bottleneck(name, 2)).unwrap();
    let (pruned, bn) = load_parts(&torch, &fused, &cfg, &files).unwrap();
    assert!(pruned.is_none());
    let parts = SplitParts {
        model: &fused,
        bottleneck: bn,
    };
    let x = images(2);
    let mut clf = SplitClassifier::new(&ctx, &parts, split, Wire::F32, 2).unwrap();
    let got = clf.logits(&x, 2).unwrap();
    let sg = spliced(g, split, &enc, &dec);
    let mut sw = fused.weights.clone();
    sw.extend(w);
    let input = Tensor::new(vec![2, 1, 28, 28], x).unwrap();
    let want = splitbench::cpu::run(&sg, &sw, &input).unwrap();
    let want = &want.last().unwrap().data;
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1.0);
    assert!(
        max_diff(&got, want) < 1e-3 * scale,
        "bottleneck pipeline differs from the CPU reference"
    );
    // The code, not the feature, is what crosses: 2 channels.
    let code = spec.code_shape().numel();
    assert!(clf.frame_bytes_per_image().unwrap() < code * 4 + 64);

    // A pruned file is found by its ratios and loaded into the compacted graph.
    let p = PruneConfig::new(&[0.0, 0.0, 0.5, 0.0, 0.0]).unwrap();
    let compacted = splitbench::compress::compact_graph(&torch, &p).unwrap();
    model::save_safetensors(&model::seeded(&compacted, 1), &files.pruned(&p)).unwrap();
    let cfg = SplitConfig::parse(g, &format!("{name}/prune-0_0_0.5_0_0+4bit-tensor")).unwrap();
    let (pruned, _) = load_parts(&torch, &fused, &cfg, &files).unwrap();
    let pruned = pruned.unwrap();
    assert_eq!(
        pruned.graph.nodes[split].shape.c,
        g.nodes[split].shape.c / 2
    );
    let parts = SplitParts {
        model: &pruned,
        bottleneck: None,
    };
    let wire = Wire::Quant {
        bits: 4,
        per_channel: false,
    };
    let mut clf = SplitClassifier::new(&ctx, &parts, split, wire, 2).unwrap();
    assert_eq!(clf.logits(&images(2), 2).unwrap().len(), 20);
    std::fs::remove_dir_all(&dir).ok();
}
