//! The study's configurations through the GPU split pipeline: parsing of configuration
//! names (as the planner writes them), the f32 pipeline equal to the whole model, a
//! bottleneck pipeline equal to the CPU reference of the spliced graph, n-bit wires close
//! to f32, pruned files loaded by name, and errors naming missing files.

mod common;

use splitbench::compress::{Bottleneck, Config, Encoding, Placement, PruneConfig, Scale, Variant};
use splitbench::eval::{
    load_parts, Classifier, GpuClassifier, SplitClassifier, SplitParts, TrainedFiles,
};
use splitbench::model::{self, Graph, Model, Shape, ZooOptions};
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
fn configurations_resolve_against_the_fused_graph() {
    let (_, _, fused) = base();
    let g = &fused.graph;
    let p = PruneConfig::new(&[0.0, 0.5, 0.0, 0.0, 0.0]).unwrap();
    let split = g
        .nodes
        .iter()
        .position(|n| n.name == "layer1.1.conv2")
        .unwrap();
    let c = Config::at(
        g,
        split,
        Variant {
            prune: Some(p),
            bottleneck: Some(2),
            encoding: Encoding::Quant {
                bits: 4,
                scale: Scale::Tensor,
            },
        },
    );
    assert_eq!(
        c.to_string(),
        "layer1.1.conv2/prune-0_0.5_0_0_0+bn2+4bit-tensor"
    );
    assert_eq!(c.resolve(g).unwrap(), Placement::Split(split));
    let conf = |s: &str| s.parse::<Config>().unwrap();
    assert_eq!(
        conf("conv1/8bit-channel").resolve(g).unwrap(),
        Placement::Split(1)
    );
    assert_eq!(conf("fc/none").resolve(g).unwrap(), Placement::DeviceOnly);
    assert_eq!(
        conf("input/uint8-input").resolve(g).unwrap(),
        Placement::EdgeOnly
    );
    // Parsed but refused by the graph: an unknown node, the device-only variant at a split
    // node, a feature at the last node, the input's encoding at a split.
    for (bad, why) in [
        ("nonode/f32", "no node `nonode`"),
        ("nonsense/none", "no node `nonsense`"),
        (
            "conv1/none",
            "`none` (device-only) is only valid at the last node: `fc/none`",
        ),
        ("fc/f32", "`fc` is not an intermediate node"),
        ("conv1/uint8-input", "only valid at the input"),
        ("conv1/bn99+2bit-tensor", "the width must be in 1..=4"),
    ] {
        let e = conf(bad).resolve(g).unwrap_err().to_string();
        assert!(e.contains(&format!("config `{bad}`")), "{bad}: {e}");
        assert!(e.contains(why), "{bad}: {e}");
    }
    // An unknown node lists the valid choices.
    let e = conf("nonsense/none").resolve(g).unwrap_err().to_string();
    assert!(e.contains("`input/uint8-input`, `fc/none`"), "{e}");
    assert!(e.contains("layer4.1.conv2"), "{e}");
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
        let mut f32c = SplitClassifier::new(&ctx, &parts, split, Encoding::F32, 3).unwrap();
        let l = f32c.logits(&x, 3).unwrap();
        assert!(max_diff(&l, &whole) < 1e-4, "{label}: f32 split differs");
        let s = g.nodes[split].shape;
        assert!(f32c.frame_bytes_per_image().unwrap() > s.numel() * 4);
        let wire = Encoding::Quant {
            bits: 8,
            scale: Scale::Tensor,
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
    let cfg: Config = config.parse().unwrap();
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
    let mut clf = SplitClassifier::new(&ctx, &parts, split, Encoding::F32, 2).unwrap();
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
    let cfg: Config = format!("{name}/prune-0_0_0.5_0_0+4bit-tensor")
        .parse()
        .unwrap();
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
    let wire = Encoding::Quant {
        bits: 4,
        scale: Scale::Tensor,
    };
    let mut clf = SplitClassifier::new(&ctx, &parts, split, wire, 2).unwrap();
    assert_eq!(clf.logits(&images(2), 2).unwrap().len(), 20);
    std::fs::remove_dir_all(&dir).ok();
}
