//! ONNX import: the committed fixtures (tiny networks from both of torch's exporters and
//! per-op models made with `onnx.helper`, `scripts/onnx/make_fixtures.py`) against
//! onnxruntime's outputs; the ops imported models need, GPU against CPU on odd shapes;
//! malformed files give one clear error.

mod common;

use splitbench::data::npy;
use splitbench::model::{self, onnx, Act, Conv2d, Graph, Model, Op, Shape, ZooOptions};
use splitbench::tensor::Tensor;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/onnx")
        .join(name)
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("splitbench-onnx-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Max abs difference over max abs value (the 1e-3 criterion, kept at 1e-4 here).
fn rel_err(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len());
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
    got.iter()
        .zip(want)
        .fold(0f32, |m, (g, w)| m.max((g - w).abs()))
        / scale
}

const GOLDEN: [&str; 9] = [
    "tiny_fmnist_ts17",
    "ops_conv_clip_gemm",
    "ops_ceilpool_clip",
    "ops_concat_se",
    "ops_bn_avgpool_reducemean_matmul",
    "tiny_resnet_ts17",
    "tiny_resnet_dynamo",
    "tiny_mobilenet_ts17",
    "tiny_mobilenet_dynamo",
];

#[test]
fn fixtures_match_onnxruntime_on_cpu_and_gpu() {
    let ctx = common::gpu();
    for name in GOLDEN {
        let path = fixture(&format!("{name}.onnx"));
        let p = model::prepare(path.to_str().unwrap(), &ZooOptions::default(), None, 0)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let x = npy::read(&fixture(&format!("{name}.in.npy"))).unwrap();
        let want = npy::read(&fixture(&format!("{name}.out.npy"))).unwrap();
        let n = x.dims[0];
        // The CPU reference on the unfused import, then the fused model on the GPU.
        let input = Tensor::new(x.dims.clone(), x.data.clone()).unwrap();
        let imported = onnx::import(&path, None).unwrap();
        let cpu = splitbench::cpu::run(&imported.graph, &imported.weights, &input).unwrap();
        let got = &cpu.last().unwrap().data;
        assert!(
            rel_err(got, &want.data) < 1e-4,
            "{name} cpu: {}",
            rel_err(got, &want.data)
        );
        if let Some(ctx) = &ctx {
            let gpu = splitbench::eval::predict(ctx, &p.model, &x.data, n, 2).unwrap();
            assert!(
                rel_err(&gpu, &want.data) < 1e-4,
                "{name} gpu: {}",
                rel_err(&gpu, &want.data)
            );
        }
    }
}

#[test]
fn both_exporters_give_the_same_structure() {
    // Names follow the module paths either way; the dynamo file's weights are external.
    for net in ["tiny_resnet", "tiny_mobilenet"] {
        let ts = onnx::import(&fixture(&format!("{net}_ts17.onnx")), None).unwrap();
        let dy = onnx::import(&fixture(&format!("{net}_dynamo.onnx")), None).unwrap();
        let kinds = |g: &Graph| g.nodes.iter().map(|n| n.op.kind()).collect::<Vec<_>>();
        assert_eq!(kinds(&ts.graph), kinds(&dy.graph), "{net}");
        assert_eq!(ts.graph.param_count(), dy.graph.param_count(), "{net}");
        assert_eq!(ts.graph.flops(), dy.graph.flops(), "{net}");
        assert!(ts.graph.find("a").is_some() || ts.graph.find("block.0").is_some());
        assert_eq!(ts.opset, 17);
    }
    let r = onnx::import(&fixture("tiny_resnet_ts17.onnx"), None).unwrap();
    for name in ["conv1", "a", "b", "down", "fc"] {
        assert!(
            r.graph.find(name).is_some(),
            "{name} in {:?}",
            r.graph.nodes
        );
    }
}

#[test]
fn predict_writes_the_outputs() {
    let d = tmp("predict");
    let out = d.join("y.npy");
    let o = common::splitbench(&[
        "predict",
        "--model",
        fixture("tiny_mobilenet_dynamo.onnx").to_str().unwrap(),
        "--input",
        fixture("tiny_mobilenet_dynamo.in.npy").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    if common::gpu().is_none() {
        return;
    }
    assert!(o.status.success(), "{}", common::stderr(&o));
    let got = npy::read(&out).unwrap();
    let want = npy::read(&fixture("tiny_mobilenet_dynamo.out.npy")).unwrap();
    assert_eq!(got.dims, want.dims);
    assert!(rel_err(&got.data, &want.data) < 1e-4);
    std::fs::remove_dir_all(&d).ok();
}

/// Runs `splitbench inspect --model FILE [extra]` and returns (success, stderr).
fn inspect(file: &Path, extra: &[&str]) -> (bool, String) {
    let mut args = vec!["inspect", "--model", file.to_str().unwrap()];
    args.extend(extra);
    let o = common::splitbench(&args);
    (o.status.success(), common::stderr(&o))
}

#[test]
fn bad_models_fail_with_one_clear_error() {
    // Every unsupported node, with the opset, in one error.
    let (ok, e) = inspect(&fixture("bad_unsupported.onnx"), &[]);
    assert!(!ok);
    assert_eq!(e.lines().count(), 1, "{e}");
    for want in [
        "opset 17",
        "weird_sine (Sin)",
        "weird_norm (LpNormalization)",
        "2 node(s)",
    ] {
        assert!(e.contains(want), "{want}: {e}");
    }
    // A symbolic height needs --input, which then fixes it.
    let (ok, e) = inspect(&fixture("bad_symbolic.onnx"), &[]);
    assert!(
        !ok && e.contains("symbolic height") && e.contains("--input"),
        "{e}"
    );
    let (ok, e) = inspect(&fixture("bad_symbolic.onnx"), &["--input", "3x5x8"]);
    assert!(ok, "{e}");
    let (ok, e) = inspect(&fixture("bad_symbolic.onnx"), &["--input", "3x5x9"]);
    assert!(!ok && e.contains("width 8"), "{e}");

    let d = tmp("bad");
    // Truncated: every prefix is an error naming the file, never a panic.
    let bytes = std::fs::read(fixture("tiny_resnet_ts17.onnx")).unwrap();
    let cut = d.join("cut.onnx");
    for len in [0, 1, 7, 100, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&cut, &bytes[..len]).unwrap();
        let e = onnx::import(&cut, None).unwrap_err().to_string();
        assert!(e.contains("cut.onnx"), "{len}: {e}");
    }
    // The external data file missing, then too short.
    let alone = d.join("tiny_resnet_dynamo.onnx");
    std::fs::copy(fixture("tiny_resnet_dynamo.onnx"), &alone).unwrap();
    let e = onnx::import(&alone, None).unwrap_err().to_string();
    assert!(
        e.contains("tiny_resnet_dynamo.onnx.data") && e.contains("external data"),
        "{e}"
    );
    let data = std::fs::read(fixture("tiny_resnet_dynamo.onnx.data")).unwrap();
    std::fs::write(
        d.join("tiny_resnet_dynamo.onnx.data"),
        &data[..data.len() / 2],
    )
    .unwrap();
    let e = onnx::import(&alone, None).unwrap_err().to_string();
    assert!(e.contains("beyond the end"), "{e}");
    // Not a file, and --weights with an ONNX model.
    let e = onnx::import(&d.join("none.onnx"), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("none.onnx") && e.contains("cannot read"), "{e}");
    let (ok, e) = inspect(&fixture("tiny_resnet_ts17.onnx"), &["--classes", "3"]);
    assert!(!ok && e.contains("carries its own"), "{e}");
    std::fs::remove_dir_all(&d).ok();
}

/// A graph of `input -> conv -> each op`, run on the GPU and the CPU reference.
fn gpu_matches_cpu(g: Graph, batch: usize, what: &str) {
    let Some(ctx) = common::gpu() else { return };
    let weights = model::seeded(&g, 11);
    let model = Model { graph: g, weights };
    let s = model.graph.input_shape();
    let x = common::rand_vec(5, batch * s.numel());
    let input = Tensor::new(vec![batch, s.c, s.h, s.w], x.clone()).unwrap();
    let cpu = splitbench::cpu::run(&model.graph, &model.weights, &input).unwrap();
    let want = &cpu.last().unwrap().data;
    let unfused = splitbench::eval::predict(&ctx, &model, &x, batch, batch).unwrap();
    common::assert_close(&unfused, want, 2e-5, what);
    let fused = model::fuse(&model).unwrap();
    let got = splitbench::eval::predict(&ctx, &fused, &x, batch, batch).unwrap();
    common::assert_close(&got, want, 2e-5, &format!("{what} (fused)"));
}

#[test]
fn new_activations_gpu_match_cpu_standalone_and_fused() {
    for act in [
        Act::Sigmoid,
        Act::HardSigmoid,
        Act::HardSwish,
        Act::Silu,
        Act::Gelu,
    ] {
        // Odd sizes. Unfused, both activations run stand-alone (eltwise kernel); fused, the
        // first stays stand-alone (the conv also feeds the add) and the second joins the
        // residual add, folded into the depthwise conv's epilogue.
        let mut g = Graph::new("acts", Shape::new(3, 7, 5));
        let mut c = Conv2d::new(3, 5, 3, 1, 1, 1);
        c.bias = true;
        let conv = g.push("conv", Op::Conv2d(c), &[0]).unwrap();
        let a = g.push("act", Op::Activation(act), &[conv]).unwrap();
        let mut c2 = Conv2d::new(5, 5, 1, 1, 0, 5);
        c2.bias = true;
        let dw = g.push("dw", Op::Conv2d(c2), &[a]).unwrap();
        let sum = g
            .push("add", Op::Add { act: Act::None }, &[dw, conv])
            .unwrap();
        let a2 = g.push("act2", Op::Activation(act), &[sum]).unwrap();
        // A conv read only by its activation: fused, the activation is its epilogue.
        let c3 = g
            .push("conv3", Op::Conv2d(Conv2d::new(5, 4, 3, 2, 1, 1)), &[a2])
            .unwrap();
        g.push("act3", Op::Activation(act), &[c3]).unwrap();
        let fused = model::fuse_graph(&g).unwrap();
        assert!(matches!(fused.nodes.last().unwrap().op, Op::Conv2d(c) if c.act == act));
        gpu_matches_cpu(g, 3, &format!("{act:?}"));
    }
}

#[test]
fn activations_cover_their_range() {
    // The GPU's erf is an approximation: check GELU (and the rest) far into the tails.
    let Some(ctx) = common::gpu() else { return };
    for act in [
        Act::Sigmoid,
        Act::HardSigmoid,
        Act::HardSwish,
        Act::Silu,
        Act::Gelu,
    ] {
        let mut g = Graph::new("range", Shape::new(1, 1, 101));
        g.push("act", Op::Activation(act), &[0]).unwrap();
        let model = Model {
            graph: g,
            weights: Default::default(),
        };
        let x: Vec<f32> = (0..101).map(|i| (i as f32 - 50.0) * 0.2).collect();
        let got = splitbench::eval::predict(&ctx, &model, &x, 1, 1).unwrap();
        let want: Vec<f32> = x.iter().map(|&v| act.apply(v)).collect();
        common::assert_close(&got, &want, 1e-5, &format!("{act:?}"));
    }
}

#[test]
fn mul_and_layer_norm_gpu_match_cpu() {
    // Squeeze-excite: x * sigmoid(fc(gap(x))) as a per-channel gate, a same-shape product,
    // then a channel layer norm, on odd shapes.
    let mut g = Graph::new("se", Shape::new(6, 5, 3));
    let mut c = Conv2d::new(6, 7, 3, 1, 1, 1);
    c.bias = true;
    let x = g.push("conv", Op::Conv2d(c), &[0]).unwrap();
    let gap = g
        .push("gap", Op::AdaptiveAvgPool { h: 1, w: 1 }, &[x])
        .unwrap();
    let mut fc = Conv2d::new(7, 7, 1, 1, 0, 1);
    fc.bias = true;
    let s = g.push("fc", Op::Conv2d(fc), &[gap]).unwrap();
    let s = g
        .push("gate", Op::Activation(Act::HardSigmoid), &[s])
        .unwrap();
    let y = g.push("scale", Op::Mul, &[x, s]).unwrap();
    let z = g.push("square", Op::Mul, &[y, x]).unwrap();
    g.push("ln", Op::LayerNorm { c: 7, eps: 1e-6 }, &[z])
        .unwrap();
    gpu_matches_cpu(g, 2, "squeeze-excite, product, layer norm");
}

#[test]
fn concat_gpu_matches_cpu() {
    // Three inputs of odd channel counts on a 5x3 plane, one of them the graph input.
    let mut g = Graph::new("cat", Shape::new(3, 5, 3));
    let a = g
        .push("a", Op::Conv2d(Conv2d::new(3, 5, 3, 1, 1, 1)), &[0])
        .unwrap();
    let b = g
        .push("b", Op::Conv2d(Conv2d::new(3, 1, 1, 1, 0, 1)), &[0])
        .unwrap();
    let c = g.push("cat", Op::Concat, &[a, 0, b]).unwrap();
    assert_eq!(g.nodes[c].shape, Shape::new(9, 5, 3));
    g.push("after", Op::Conv2d(Conv2d::new(9, 2, 1, 1, 0, 1)), &[c])
        .unwrap();
    gpu_matches_cpu(g, 3, "concat");
    let mut bad = Graph::new("bad", Shape::new(3, 5, 3));
    let p = bad.push(
        "p",
        Op::MaxPool(model::Pool {
            kernel: 2,
            stride: 2,
            padding: 0,
            ceil: false,
        }),
        &[0],
    );
    assert!(bad.push("cat", Op::Concat, &[0, p.unwrap()]).is_err());
}

#[test]
fn clip_and_ceil_mode_pool_gpu_match_cpu() {
    let mut g = Graph::new("clip", Shape::new(3, 9, 7));
    let c = g
        .push("conv", Op::Conv2d(Conv2d::new(3, 5, 3, 1, 1, 1)), &[0])
        .unwrap();
    let k = g
        .push("clip", Op::Clip { lo: -0.3, hi: 0.45 }, &[c])
        .unwrap();
    let p = model::Pool {
        kernel: 3,
        stride: 2,
        padding: 1,
        ceil: true,
    };
    // torch: ceil((9 + 2 - 3) / 2) + 1 = 5 rows; ceil((7 + 2 - 3) / 2) + 1 = 4 columns, whose
    // last window starts in the input; without ceil 5 x 4 too, so use stride 3 as well.
    assert_eq!((p.out_len(9), p.out_len(7)), (Some(5), Some(4)));
    let q = model::Pool { stride: 3, ..p };
    assert_eq!((q.out_len(9), q.out_len(7)), (Some(4), Some(3)));
    let m = g.push("pool", Op::MaxPool(q), &[k]).unwrap();
    assert_eq!(g.nodes[m].shape, Shape::new(5, 4, 3));
    gpu_matches_cpu(g, 2, "clip, ceil-mode max pool");
}

#[test]
fn imported_resnet_counts_like_the_zoo() {
    // The TorchScript exporter's tiny ResNet: BN folded into conv biases by the exporter,
    // so the import's counts equal the fused zoo-style graph's (the fixture's own
    // structure: conv+bias, pools, linear).
    let r = onnx::import(&fixture("tiny_resnet_ts17.onnx"), None).unwrap();
    let convs: u64 = r
        .graph
        .nodes
        .iter()
        .map(|n| match n.op {
            Op::Conv2d(c) => (c.weight_shape().iter().product::<usize>() + c.out_c) as u64,
            Op::Linear(l) => (l.in_f * l.out_f + l.out_f) as u64,
            _ => 0,
        })
        .sum();
    assert_eq!(r.graph.param_count(), convs);
    // w=4, classes=5: conv1 3*4*9+4, a 4*4*9+4, b 4*8*9+8, down 4*8+8, fc 8*5+5.
    assert_eq!(convs, 112 + 148 + 296 + 40 + 45);
}

#[test]
fn fuzz_findings_are_errors() {
    // Inputs the fuzzer (`fuzz/`, target `onnx_import`) once crashed the importer with.
    let dir = fixture("fuzz");
    for f in std::fs::read_dir(&dir).unwrap() {
        let path = f.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if let Err(e) = onnx::import_bytes(&bytes, &path, None) {
            assert!(e.to_string().contains(path.to_str().unwrap()), "{e}");
        }
    }
}

#[test]
fn an_imported_model_serves_and_offloads() {
    // The dynamo-exported tiny MobileNetV2 (3x16x16, 5 classes) as edge and device: the
    // edge's logits equal the same split pipeline run in one process.
    use splitbench::compress::{Config, Placement};
    use splitbench::data::{Dataset, Normalization};
    use splitbench::eval::{load_parts, Classifier, SplitClassifier, SplitParts};
    let Some(ctx) = common::gpu() else { return };
    let path = fixture("tiny_mobilenet_dynamo.onnx");
    let p = model::prepare(path.to_str().unwrap(), &ZooOptions::default(), None, 0).unwrap();
    let shape = p.model.graph.input_shape();
    let pixels: Vec<u8> = (0..5 * shape.numel())
        .map(|i| (i * 37 % 251) as u8)
        .collect();
    let test = Dataset::from_bytes(
        Path::new("synthetic"),
        &pixels,
        vec![0, 1, 2, 3, 4],
        shape,
        5,
        Normalization::CIFAR10,
    )
    .unwrap();
    for config in [
        "stem.0/4bit-tensor",
        "stem.0/bn2+2bit-tensor",
        "input/uint8-input",
    ] {
        let c: Config = config.parse().unwrap();
        let got = common::edge::with_edge(&ctx, &p, |addr| {
            splitbench::net::offload(
                &ctx,
                &p,
                &common::edge::files(),
                Some(&test),
                &common::edge::options(addr, config, 3),
                &mut |_| {},
            )
            .unwrap()
        });
        let Placement::Split(split) = c.resolve(&p.model.graph).unwrap() else {
            assert_eq!(config, "input/uint8-input");
            continue;
        };
        let (pruned, bottleneck) =
            load_parts(&p.torch, &p.model, &c, &common::edge::files()).unwrap();
        let parts = SplitParts {
            model: pruned.as_ref().unwrap_or(&p.model),
            bottleneck,
        };
        let mut clf = SplitClassifier::new(&ctx, &parts, split, c.variant.encoding, 1).unwrap();
        let per = shape.numel();
        let want: Vec<Vec<f32>> = test.images[per..4 * per]
            .chunks(per)
            .map(|img| clf.logits(img, 1).unwrap())
            .collect();
        assert_eq!(got.logits, want, "{config}");
    }
}

#[test]
fn eval_takes_a_trained_onnx_model_without_weights() {
    // A Fashion-MNIST-shaped classifier: `eval --model F.onnx` scores the test split; its
    // hits equal the CPU reference's on the same normalized images.
    if common::gpu().is_none() {
        return;
    }
    let d = tmp("eval");
    common::write_test_split(&d);
    let path = fixture("tiny_fmnist_ts17.onnx");
    let o = common::splitbench(&[
        "eval",
        "--model",
        path.to_str().unwrap(),
        "--data",
        d.to_str().unwrap(),
        "--batch",
        "5",
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let test = splitbench::data::load(
        splitbench::data::DatasetKind::FashionMnist,
        splitbench::data::Split::Test,
        Some(&d),
    )
    .unwrap();
    let imported = onnx::import(&path, None).unwrap();
    let input = Tensor::new(vec![12, 1, 28, 28], test.images.clone()).unwrap();
    let logits = splitbench::cpu::run(&imported.graph, &imported.weights, &input).unwrap();
    let hits = logits
        .last()
        .unwrap()
        .data
        .chunks(10)
        .zip(&test.labels)
        .filter(|(l, &y)| splitbench::eval::argmax(l) == y as usize)
        .count();
    assert!(out.contains(&format!("({hits}/12)")), "{hits}: {out}");
    // A zoo model still needs its weights.
    let o = common::splitbench(&[
        "eval",
        "--model",
        "resnet18-cifar",
        "--data",
        d.to_str().unwrap(),
    ]);
    assert!(!o.status.success() && common::stderr(&o).contains("--weights is required"));
    std::fs::remove_dir_all(&d).ok();
}
