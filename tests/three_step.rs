//! The three-step search over split x pruning x bottleneck x bits, two-step pruning, the
//! accuracy table and `--min-accuracy`, and payloads as exact frame lengths. CPU only:
//! synthetic times (1 ms per MFLOP on the device, edge 10x faster).

use splitbench::channel::Channel;
use splitbench::compress::{
    compact_graph, frame, Encoding, Family, FrameTensor, GroupParams, Payload, Quantized, Scale,
};
use splitbench::model::{fuse_graph, zoo, Graph, Shape, ZooOptions};
use splitbench::plan::*;
use splitbench::study::AccuracyTable;
use std::path::Path;

fn cifar() -> Graph {
    let opts = ZooOptions {
        width: Some(8),
        ..Default::default()
    };
    fuse_graph(&zoo::build("resnet18-cifar", &opts).unwrap()).unwrap()
}

fn ms(g: &Graph) -> Vec<f64> {
    g.nodes.iter().map(|n| n.flops(g) as f64 / 1e6).collect()
}

/// The whole three-step space of a small resnet18-cifar with synthetic measurements.
fn space() -> (Problem, SearchSpace) {
    let g = cifar();
    let dev = ms(&g);
    let edge = EdgeModel::from_speedup(&dev, 10.0, false).unwrap();
    let problem = Problem::from_graph(&g, &dev, &edge).unwrap();
    let families = PruneFamily::study();
    let configs = prune_configs(&g, &families).unwrap();
    assert!(configs.len() > 5, "{} configs", configs.len());
    let pruned: Vec<PrunedPrefix> = configs
        .iter()
        .map(|c| {
            let small = compact_graph(&g, c).unwrap();
            PrunedPrefix::new(*c, &g, &dev, &edge, &small, &ms(&small)).unwrap()
        })
        .collect();
    let (keys, bns) = three_step_requirements(&problem, &g, &families, &pruned, true).unwrap();
    let variants = quantization_variants(&STUDY_BITS);
    let mut all = codec_keys(&problem, &variants);
    all.extend(keys);
    let codec = CodecTable::from_fn(&all, |k| CodecTime {
        encode_ms: k.numel as f64 * 1e-5,
        decode_ms: k.numel as f64 * 1e-5,
    });
    let bt: BottleneckTable = bns.iter().map(|k| (*k, (0.05, 0.05))).collect();
    let mut space =
        SearchSpace::build(&problem, &variants, &codec, 10.0, &Predictor::fit(&problem)).unwrap();
    space.extend(
        three_step_candidates(&problem, &g, &families, &pruned, true, &codec, &bt, 10.0).unwrap(),
    );
    (problem, space)
}

#[test]
fn three_step_is_never_worse_and_uses_every_family() {
    let (_, space) = space();
    let fams: Vec<Family> = space
        .candidates
        .iter()
        .map(|c| c.variant.family())
        .collect();
    for f in [
        Family::F32,
        Family::NBit,
        Family::PrunedNBit,
        Family::Bottleneck,
    ] {
        assert!(fams.contains(&f), "no {f} candidate");
    }
    let mut picked = std::collections::BTreeSet::new();
    for mbps in [0.05, 0.3, 1.1, 5.85, 18.88, 100.0, 1000.0] {
        let ch = Channel::fixed(mbps, 5.0).unwrap();
        let ts = space.choose(Method::ThreeStep, &ch).mean_total_ms;
        for m in Method::ALL {
            let c = space.choose(m, &ch);
            assert!(
                ts <= c.mean_total_ms + 1e-12,
                "{m} beats three-step at {mbps}"
            );
        }
        let two = space.choose(Method::TwoStepPruning, &ch).mean_total_ms;
        let best = space.choose(Method::BestSplit, &ch).mean_total_ms;
        assert!(
            two <= best + 1e-12,
            "two-step worse than best-split at {mbps}"
        );
        let i = space.choose(Method::ThreeStep, &ch).index;
        picked.insert(space.candidates[i].variant.family());
    }
    // On slow links the compressed families win.
    assert!(
        picked.contains(&Family::Bottleneck) || picked.contains(&Family::PrunedNBit),
        "{picked:?}"
    );
    // Two-step pruning: no bottleneck, only f32 or 8-bit per-tensor features.
    for &i in space.set(Method::TwoStepPruning) {
        let v = &space.candidates[i].variant;
        assert!(v.bottleneck.is_none());
        assert!(matches!(
            v.encoding,
            Encoding::F32
                | Encoding::Uint8Input
                | Encoding::Nothing
                | Encoding::Quant {
                    bits: 8,
                    scale: Scale::Tensor
                }
        ));
    }
    assert!(space
        .set(Method::TwoStepPruning)
        .iter()
        .any(|&i| space.candidates[i].variant.prune.is_some()));
}

#[test]
fn pruning_shrinks_the_feature_and_the_prefix() {
    let (problem, space) = space();
    let k = problem
        .layers
        .iter()
        .position(|l| l.name == "layer1.1.conv2")
        .unwrap();
    let at = |name: &str| {
        space
            .candidates
            .iter()
            .find(|c| c.split == k && c.variant.to_string() == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let plain = at("f32");
    let half = at("prune-0.5_0.5_0_0_0+f32");
    // Half of the channels are kept (a frame: 23-byte descriptor + 14 bytes).
    let t = problem.splits[k].tensors[0];
    assert_eq!(problem.splits[k].tensors.len(), 1);
    assert_eq!(plain.payload_bytes, (t.numel() * 4) as u64 + 37);
    assert_eq!(half.payload_bytes, (t.numel() * 2) as u64 + 37);
    assert!(half.device_ms < plain.device_ms);
    // C/2 channels pruned, then a C/2/4 = 1-channel bottleneck at 2 bits.
    assert_eq!(t.channels, 8);
    let bn = at("prune-0.5_0.5_0_0_0+bn1+2bit-tensor");
    assert_eq!(bn.payload_bytes, (t.plane * 2 / 8) as u64 + 8 + 37);
    assert!(bn.encode_ms >= 0.05);
    // Last-stage-only pruning at the same split.
    at("prune-0_0.75_0_0_0+4bit-tensor");
}

#[test]
fn payload_is_the_exact_frame_length() {
    let shape = Shape::new(5, 3, 7);
    let t = CutTensor::of(shape);
    let x: Vec<f32> = (0..shape.numel())
        .map(|i| (i as f32 * 0.37).sin())
        .collect();
    let f32_frame = frame::encode(
        &[FrameTensor {
            batch: 1,
            shape,
            payload: Payload::RawF32(x.clone()),
        }],
        false,
    )
    .unwrap();
    assert_eq!(
        payload_bytes(Encoding::F32, &[t]).unwrap(),
        f32_frame.bytes.len() as u64
    );
    for bits in [1, 2, 3, 4, 8] {
        for (scale, group) in [(Scale::Tensor, shape.numel()), (Scale::Channel, 21)] {
            let (params, words) = splitbench::cpu::quantize_pack(&x, group, bits);
            let ft = FrameTensor {
                batch: 1,
                shape,
                payload: Payload::Quantized(Quantized {
                    bits,
                    scale,
                    params: params.iter().map(GroupParams::from_quant).collect(),
                    words,
                }),
            };
            let two = frame::encode(&[ft.clone(), ft.clone()], false).unwrap();
            let one = frame::encode(&[ft], false).unwrap();
            let enc = Encoding::Quant { bits, scale };
            assert_eq!(
                payload_bytes(enc, &[t]).unwrap(),
                one.bytes.len() as u64,
                "{bits} {scale:?}"
            );
            assert_eq!(payload_bytes(enc, &[t, t]).unwrap(), two.bytes.len() as u64);
        }
    }
}

#[test]
fn accuracy_table_and_min_accuracy() {
    let (problem, mut space) = space();
    let pick = space
        .candidates
        .iter()
        .find(|c| c.variant.family() == Family::Bottleneck)
        .unwrap()
        .config(&problem);
    let edge_only = "input/uint8-input";
    let text = format!("config,accuracy\n{pick},0.91\n\n{edge_only},0.93\nfc/none,0.93\n");
    let t = AccuracyTable::parse(Path::new("acc.csv"), &text).unwrap();
    assert_eq!(space.apply_accuracy(&problem, |c| t.get(c)), 3);
    let ch = Channel::fixed(1.1, 0.0).unwrap();
    // 0.92: only edge-only and device-only qualify.
    space.set_min_accuracy(Some(0.92)).unwrap();
    let c = space.choose(Method::ThreeStep, &ch);
    assert!(c.index == 0 || c.index == 1, "picked {}", c.index);
    // 0.9: the bottleneck too; 0.95: nothing, an error that leaves the space unrestricted.
    space.set_min_accuracy(Some(0.9)).unwrap();
    assert_eq!(space.set(Method::ThreeStep).len(), 3);
    let e = space.set_min_accuracy(Some(0.95)).unwrap_err().to_string();
    // One clean sentence (its words once had a run of stray spaces in the middle).
    assert_eq!(
        e,
        "invalid argument: minimum accuracy 0.95: no three-step configuration has a known \
         accuracy of at least 0.95"
    );
    assert_eq!(space.min_accuracy(), Some(0.9));
    space.set_min_accuracy(None).unwrap();
    assert_eq!(space.set(Method::ThreeStep).len(), space.candidates.len());
}

#[test]
fn known_accuracies_leave_every_method_its_candidates() {
    // Once an accuracy was part of the variant, so a plain f32 candidate of known accuracy
    // no longer equalled "plain f32" and fell out of Neurosurgeon's and best-split's sets.
    let (problem, mut space) = space();
    let before: Vec<Vec<usize>> = Method::ALL.iter().map(|&m| space.set(m).to_vec()).collect();
    let text: String = std::iter::once("config,accuracy\n".to_string())
        .chain(
            space
                .candidates
                .iter()
                .map(|c| format!("{},0.9\n", c.config(&problem))),
        )
        .collect();
    let t = AccuracyTable::parse(Path::new("all.csv"), &text).unwrap();
    assert_eq!(
        space.apply_accuracy(&problem, |c| t.get(c)),
        space.candidates.len()
    );
    for (m, set) in Method::ALL.iter().zip(before) {
        assert_eq!(space.set(*m), set, "{m}'s set changed");
    }
    assert!(space.set(Method::BestSplit).len() > 2);
}

#[test]
fn malformed_accuracy_tables_fail_with_one_line_naming_file_and_line() {
    let p = Path::new("acc.csv");
    for (text, needle) in [
        ("", "empty"),
        ("split,acc\n", "line 1"),
        ("config,accuracy\nfc/none\n", "line 2"),
        ("config,accuracy\nfc/none,abc\n", "line 2"),
        ("config,accuracy\nfc/none,NaN\n", "line 2"),
        ("config,accuracy\nfc/none,101\n", "line 2"),
        ("config,accuracy\n\nfc/none,0.5\nfc/none,0.6\n", "line 4"),
        ("config,accuracy\n,0.5\n", "line 2"),
    ] {
        let e = AccuracyTable::parse(p, text).unwrap_err().to_string();
        assert!(e.contains("acc.csv"), "{e}");
        assert!(e.contains(needle), "{text:?}: {e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
    let missing = AccuracyTable::read(Path::new("/nonexistent/acc.csv")).unwrap_err();
    assert!(missing.to_string().contains("/nonexistent/acc.csv"));
}

#[test]
fn variant_names_are_canonical() {
    let cfg = splitbench::compress::PruneConfig::new(&[0.5, 0.5, 0.0, 0.0, 0.0]).unwrap();
    let q4 = Encoding::Quant {
        bits: 4,
        scale: Scale::Tensor,
    };
    let name = |prune, bottleneck, encoding| {
        splitbench::compress::Variant {
            prune,
            bottleneck,
            encoding,
        }
        .to_string()
    };
    assert_eq!(
        name(Some(cfg), Some(16), q4),
        "prune-0.5_0.5_0_0_0+bn16+4bit-tensor"
    );
    assert_eq!(name(None, Some(8), Encoding::F32), "bn8+f32");
    assert_eq!(name(None, None, q4), "4bit-tensor");
    // Families of graphs that cannot be pruned are empty.
    let mb = fuse_graph(
        &zoo::build(
            "mobilenet_v2",
            &ZooOptions {
                input: Some(Shape::new(3, 32, 32)),
                ..Default::default()
            },
        )
        .unwrap(),
    )
    .unwrap();
    assert!(prune_configs(&mb, &PruneFamily::study())
        .unwrap()
        .is_empty());
}
