//! Planner tests on synthetic profiles: pure CPU, no GPU needed.

mod common;

use splitbench::channel::Channel;
use splitbench::compress::{Encoding, Scale, Variant};
use splitbench::model::{fuse_graph, zoo, Graph, Shape, ZooOptions};
use splitbench::plan::*;
use splitbench::report::{ChannelRole, ProfileRow};
use splitbench::study::{
    accuracy_latency_rows, evaluate_links, link_summaries, summary_text, sweep_channels,
    AccuracyTable, StudyChannel, CDF_POINTS, SWEEP_MAX_MBPS, SWEEP_MIN_MBPS, SWEEP_POINTS,
};
use splitbench::tensor::Rng;
use splitbench::Error;

fn graph(name: &str, opts: ZooOptions) -> Graph {
    fuse_graph(&zoo::build(name, &opts).unwrap()).unwrap()
}

fn cifar(width: usize) -> Graph {
    graph(
        "resnet18-cifar",
        ZooOptions {
            width: Some(width),
            ..Default::default()
        },
    )
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-9 * b.abs().max(1.0),
        "{what}: got {a}, want {b}"
    );
}

/// A four-node chain: input 3x2x2, a 4x2x2, b 8x1x1, out 10x1x1.
fn tiny() -> Problem {
    let t = |c, h, w| CutTensor::of(Shape::new(c, h, w));
    let layer = |name: &str, op: &str, d: f64, e: f64| Layer {
        name: name.into(),
        op: op.into(),
        flops: 0,
        bytes: 0,
        device_ms: d,
        edge_ms: e,
    };
    Problem::new(
        "tiny",
        Shape::new(3, 2, 2),
        vec![
            layer("input", "input", 0.0, 0.0),
            layer("a", "conv", 1.0, 0.1),
            layer("b", "conv", 2.0, 0.2),
            layer("out", "linear", 3.0, 0.3),
        ],
        vec![
            SplitPoint {
                after: 0,
                tensors: vec![t(3, 2, 2)],
            },
            SplitPoint {
                after: 1,
                tensors: vec![t(4, 2, 2)],
            },
            SplitPoint {
                after: 2,
                tensors: vec![t(8, 1, 1)],
            },
            SplitPoint {
                after: 3,
                tensors: vec![t(10, 1, 1)],
            },
        ],
    )
    .unwrap()
}

fn const_codec(problem: &Problem, variants: &[Variant], enc: f64, dec: f64) -> CodecTable {
    CodecTable::from_fn(&codec_keys(problem, variants), |_| CodecTime {
        encode_ms: enc,
        decode_ms: dec,
    })
}

#[test]
fn cost_formula_on_hand_computed_numbers() {
    let p = tiny();
    // 8 Mbit/s: 1 byte = 1e-3 ms; RTT 5 ms.
    let ch = Channel::fixed(8.0, 5.0).unwrap();
    let variants = quantization_variants(&[4]);
    let codec = const_codec(&p, &variants, 0.5, 0.2);
    let speedup = 10.0;
    let cand =
        |split, enc| Candidate::build(&p, split, &Variant::plain(enc), &codec, speedup).unwrap();

    // f32 after a: a frame of 16 values = 64 bytes + 23 descriptor + 10 header + 4 CRC =
    // 101 bytes; 1 + 101e-3 + (0.2 + 0.3) + 5.
    let c = cand(1, Encoding::F32);
    assert_eq!(c.payload_bytes, 101);
    assert_eq!((c.encode_ms, c.decode_ms), (0.0, 0.0));
    close(c.total_ms(&ch, 0), 1.0 + 0.101 + 0.5 + 5.0, "f32 after a");

    // 4-bit per tensor: 64 bits = 8 bytes, + 8 (min, scale) + 23 descriptor + 14 = 53 B;
    // encode 0.5, decode 0.2 / 10 on the edge.
    let q = Encoding::Quant {
        bits: 4,
        scale: Scale::Tensor,
    };
    let c = cand(1, q);
    assert_eq!(
        c.payload_bytes,
        8 + QUANT_GROUP_PARAM_BYTES + FRAME_TENSOR_BYTES + FRAME_OVERHEAD_BYTES
    );
    assert_eq!(c.payload_bytes, 53);
    close(c.encode_ms, 0.5, "encode");
    close(c.decode_ms, 0.02, "decode");
    close(
        c.total_ms(&ch, 0),
        1.0 + 0.5 + 0.053 + 0.02 + 0.5 + 5.0,
        "4-bit after a",
    );

    // 4-bit per channel: 8 + 4 groups x 8 + 23 + 14 = 77 B.
    let c = cand(
        1,
        Encoding::Quant {
            bits: 4,
            scale: Scale::Channel,
        },
    );
    assert_eq!(c.payload_bytes, 77);

    // Edge-only: 12 uint8 pixels, all of the edge's time, RTT.
    let c = cand(0, Encoding::Uint8Input);
    assert_eq!(c.payload_bytes, 12);
    close(c.total_ms(&ch, 0), 0.012 + 0.6 + 5.0, "edge-only");

    // Device-only: 6 ms, no transmission, no RTT.
    let c = cand(3, Encoding::Nothing);
    assert_eq!(c.payload_bytes, 0);
    close(c.total_ms(&ch, 0), 6.0, "device-only");

    // The flat table agrees with the candidates.
    let space = SearchSpace::build(&p, &variants, &codec, speedup, &Predictor::fit(&p)).unwrap();
    for (i, c) in space.candidates.iter().enumerate() {
        close(
            space.table().total_ms(i, &ch, 0),
            c.total_ms(&ch, 0),
            &c.variant.to_string(),
        );
    }
}

#[test]
fn payload_sizes() {
    let t = CutTensor::of(Shape::new(64, 32, 32));
    let q4 = Encoding::Quant {
        bits: 4,
        scale: Scale::Tensor,
    };
    // 64x32x32 at 4 bits = 32,768 packed bytes + a 41-byte header (10 fixed + 23 descriptor
    // + 8 params) + 4-byte CRC (docs/wire-format.md).
    assert_eq!(
        payload_bytes(Encoding::F32, &[t]).unwrap(),
        262_144 + 10 + 23 + 4
    );
    assert_eq!(payload_bytes(q4, &[t]).unwrap(), 32_813);
    // Bits that do not fill a byte round up: 10 values x 3 bits = 30 bits = 4 bytes.
    let small = CutTensor::of(Shape::new(10, 1, 1));
    let q3 = Encoding::Quant {
        bits: 3,
        scale: Scale::Channel,
    };
    assert_eq!(payload_bytes(q3, &[small]).unwrap(), 4 + 10 * 8 + 23 + 14);
    // Two tensors share one frame: one fixed header and CRC.
    assert_eq!(
        payload_bytes(q4, &[t, small]).unwrap(),
        payload_bytes(q4, &[t]).unwrap() + payload_bytes(q4, &[small]).unwrap()
            - FRAME_OVERHEAD_BYTES
    );
    assert_eq!(payload_bytes(Encoding::Nothing, &[t]).unwrap(), 0);
}

#[test]
fn a_cut_crossed_by_two_tensors_sends_both() {
    let g = cifar(8);
    let dev = vec![1.0; g.nodes.len()];
    let edge = EdgeModel::from_speedup(&dev, 2.0, false).unwrap();
    let p = Problem::from_graph(&g, &dev, &edge).unwrap();
    let k = p
        .splits
        .iter()
        .position(|s| s.tensors.len() == 2)
        .expect("a cut inside a residual block");
    let variants = quantization_variants(&STUDY_BITS);
    let codec = const_codec(&p, &variants, 1.0, 1.0);
    for v in &variants {
        let c = Candidate::build(&p, k, v, &codec, 2.0).unwrap();
        let sum: u64 = p.splits[k]
            .tensors
            .iter()
            .map(|t| payload_bytes(v.encoding, &[*t]).unwrap())
            .sum::<u64>()
            - FRAME_OVERHEAD_BYTES; // one frame carries both
        assert_eq!(c.payload_bytes, sum, "{v}");
        if v.encoding != Encoding::F32 {
            // Each tensor is encoded and decoded.
            close(c.encode_ms, 2.0, "encode of two tensors");
            close(c.decode_ms, 1.0, "decode of two tensors / speed-up 2");
        }
    }
}

#[test]
fn edge_only_sends_the_input_as_uint8_and_device_only_sends_nothing() {
    for (g, chw) in [
        (cifar(64), 3 * 32 * 32),
        (
            graph(
                "mobilenet_v2",
                ZooOptions {
                    input: Some(Shape::new(3, 64, 48)),
                    ..Default::default()
                },
            ),
            3 * 64 * 48,
        ),
    ] {
        let dev: Vec<f64> = (0..g.nodes.len()).map(|i| i as f64 * 0.1).collect();
        let edge = EdgeModel::from_speedup(&dev, 4.0, false).unwrap();
        let p = Problem::from_graph(&g, &dev, &edge).unwrap();
        let variants = quantization_variants(&STUDY_BITS);
        let codec = const_codec(&p, &variants, 0.1, 0.1);
        let space = SearchSpace::build(&p, &variants, &codec, 4.0, &Predictor::fit(&p)).unwrap();
        let ch = Channel::parse("4g:rtt_ms=20").unwrap();
        let eo = &space.candidates[space.choose(Method::EdgeOnly, &ch).index];
        assert_eq!(eo.split, 0);
        assert_eq!(eo.payload_bytes, chw as u64);
        assert_eq!(eo.variant.to_string(), "uint8-input");
        assert_eq!(eo.bits(), 8);
        assert_eq!(eo.device_ms, 0.0);
        close(
            eo.edge_ms,
            dev.iter().sum::<f64>() / 4.0,
            "edge-only edge time",
        );

        let d = space.choose(Method::DeviceOnly, &ch);
        let c = &space.candidates[d.index];
        assert_eq!(c.split, g.nodes.len() - 1);
        assert_eq!(c.payload_bytes, 0);
        assert!(!c.sends());
        assert_eq!(c.tx_ms(&ch, 0), 0.0);
        assert_eq!(c.rtt_ms(&ch), 0.0);
        assert_eq!((c.edge_ms, c.encode_ms, c.decode_ms), (0.0, 0.0, 0.0));
        close(d.mean_total_ms, dev.iter().sum(), "device-only total");
    }
}

/// A random profile of a zoo graph: per-node device times, an edge speed-up, codec times.
fn random_space(g: &Graph, rng: &mut Rng) -> (Problem, SearchSpace) {
    let dev: Vec<f64> = g
        .nodes
        .iter()
        .map(|n| n.flops(g) as f64 / 1e6 * rng.range(0.01, 2.0) as f64 + rng.range(0.0, 0.5) as f64)
        .collect();
    let speedup = rng.range(0.5, 50.0) as f64;
    let edge = EdgeModel::from_speedup(&dev, speedup, false).unwrap();
    let p = Problem::from_graph(g, &dev, &edge).unwrap();
    let variants = quantization_variants(&STUDY_BITS);
    let keys = codec_keys(&p, &variants);
    let scale = rng.range(0.0, 1e-4) as f64;
    let codec = CodecTable::from_fn(&keys, |k| CodecTime {
        encode_ms: k.numel as f64 * scale * (1.0 + k.bits as f64 / 8.0),
        decode_ms: k.numel as f64 * scale,
    });
    let space = SearchSpace::build(&p, &variants, &codec, speedup, &Predictor::fit(&p)).unwrap();
    (p, space)
}

#[test]
fn three_step_is_never_worse_than_any_baseline() {
    let mut rng = Rng::new(7);
    let graphs = [
        cifar(8),
        cifar(16),
        graph(
            "mobilenet_v2",
            ZooOptions {
                input: Some(Shape::new(3, 32, 32)),
                ..Default::default()
            },
        ),
    ];
    let mut checked = 0;
    for round in 0..12 {
        let g = &graphs[round % graphs.len()];
        let (_, space) = random_space(g, &mut rng);
        let mut links: Vec<Channel> = (0..20)
            .map(|_| {
                let mbps = 10f64.powf(rng.range(-2.0, 3.5) as f64);
                Channel::fixed(mbps, rng.range(0.0, 50.0) as f64).unwrap()
            })
            .collect();
        links.push(
            Channel::parse(&format!(
                "rayleigh:bw_mhz={},snr_db={},draws=500,seed={round},rtt_ms=10",
                rng.range(0.1, 20.0),
                rng.range(-5.0, 30.0)
            ))
            .unwrap(),
        );
        links.push(Channel::parse("awgn:bw_mhz=2,snr_db=3,eff=0.7").unwrap());
        for ch in &links {
            let ts = space.choose(Method::ThreeStep, ch);
            for m in Method::ALL {
                let other = space.choose(m, ch);
                assert!(
                    ts.mean_total_ms <= other.mean_total_ms,
                    "round {round}, {}: three-step {} ms > {m} {} ms",
                    ch.label(),
                    ts.mean_total_ms,
                    other.mean_total_ms
                );
                // Every method's choice is in three-step's set.
                assert!(space.set(Method::ThreeStep).contains(&other.index));
                checked += 1;
            }
        }
    }
    assert!(checked > 1000);
}

#[test]
fn methods_pick_from_their_sets() {
    let mut rng = Rng::new(3);
    let (p, space) = random_space(&cifar(8), &mut rng);
    for mbps in [0.1, 1.0, 10.0, 100.0, 1000.0] {
        let ch = Channel::fixed(mbps, 0.0).unwrap();
        for m in [Method::Neurosurgeon, Method::BestSplit] {
            let c = &space.candidates[space.choose(m, &ch).index];
            assert!(
                matches!(
                    c.variant.encoding,
                    Encoding::F32 | Encoding::Uint8Input | Encoding::Nothing
                ),
                "{m} picked {}",
                c.variant
            );
        }
        // best-split is the oracle over the f32 set: never worse than neurosurgeon.
        assert!(
            space.choose(Method::BestSplit, &ch).mean_total_ms
                <= space.choose(Method::Neurosurgeon, &ch).mean_total_ms
        );
    }
    // Every intermediate split has f32 + 2 scales x STUDY_BITS quantized variants.
    assert_eq!(
        space.candidates.len(),
        2 + (p.layers.len() - 2) * (1 + 2 * STUDY_BITS.len())
    );
}

#[test]
fn regression_recovers_exact_coefficients() {
    let mut rng = Rng::new(11);
    let (a, b, c) = (0.125, 3.5, 0.75); // ms, ms/GFLOP, ms/MB
    let xs: Vec<(f64, f64)> = (0..12)
        .map(|_| (rng.range(1e6, 5e8) as f64, rng.range(1e4, 2e7) as f64))
        .collect();
    let ys: Vec<f64> = xs
        .iter()
        .map(|&(f, by)| a + b * f / 1e9 + c * by / 1e6)
        .collect();
    let fit = LinearFit::fit(&xs, &ys);
    close(fit.intercept, a, "intercept");
    close(fit.per_gflop, b, "per GFLOP");
    close(fit.per_mb, c, "per MB");
    assert_eq!(fit.n, 12);

    // Through the predictor: per op type, device and edge separately; zero error.
    let g = cifar(16);
    let dev: Vec<f64> = g
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            if i == 0 {
                0.0
            } else {
                let w = if n.op.kind() == "conv" { 1.0 } else { 3.0 };
                w * (0.01 + 2.0 * n.flops(&g) as f64 / 1e9)
            }
        })
        .collect();
    let edge = EdgeModel::from_speedup(&dev, 5.0, false).unwrap();
    let p = Problem::from_graph(&g, &dev, &edge).unwrap();
    let pred = Predictor::fit(&p);
    for (l, (pd, pe)) in p.layers.iter().zip(pred.predict_all(&p)).skip(1) {
        close(pd, l.device_ms, &format!("device {}", l.name));
        close(pe, l.edge_ms, &format!("edge {}", l.name));
    }
    for e in pred.errors(&p) {
        assert!(e.device_mdape_pct.unwrap_or(0.0) < 1e-6, "{e:?}");
        assert!(e.edge_mdape_pct.unwrap_or(0.0) < 1e-6, "{e:?}");
    }
    let all = pred.errors(&p).pop().unwrap();
    assert_eq!(all.op, "all");
    assert_eq!(all.layers, g.nodes.len() - 1);
}

#[test]
fn regression_degrades_gracefully() {
    // One point: the mean. Collinear regressors: one of them.
    let f = LinearFit::fit(&[(1e9, 1e6)], &[2.0]);
    close(f.predict(5e9, 0.0), 2.0, "one point");
    let xs: Vec<(f64, f64)> = (1..6).map(|i| (i as f64 * 1e9, i as f64 * 2e6)).collect();
    let ys: Vec<f64> = (1..6).map(|i| 1.0 + i as f64).collect();
    let f = LinearFit::fit(&xs, &ys);
    close(f.predict(3e9, 6e6), 4.0, "collinear");
    assert!(f.predict(0.0, 0.0) >= 0.0);
    let f = LinearFit::fit(&[], &[]);
    assert_eq!(f.predict(1.0, 1.0), 0.0);
}

#[test]
fn pareto_front_on_hand_made_points() {
    let pts = [
        (0.0, 100), // edge-only: on
        (10.0, 0),  // device-only: on
        (2.0, 50),  // on
        (3.0, 60),  // dominated by (2, 50)
        (2.0, 70),  // dominated by (2, 50): same time, more bytes
        (5.0, 50),  // dominated by (2, 50): same bytes, more time
        (4.0, 10),  // on
        (4.0, 10),  // a duplicate of a front point: on
        (f64::NAN, 0),
    ];
    assert_eq!(
        pareto_front(&pts),
        vec![true, true, true, false, false, false, true, true, false]
    );
    assert!(pareto_front(&[]).is_empty());
    assert_eq!(pareto_front(&[(1.0, 1)]), vec![true]);
    // Brute force on random points.
    let mut rng = Rng::new(5);
    let pts: Vec<(f64, u64)> = (0..300)
        .map(|_| ((rng.range(0.0, 20.0) as f64).round(), rng.next_u64() % 40))
        .collect();
    let front = pareto_front(&pts);
    for (i, p) in pts.iter().enumerate() {
        let dominated = pts
            .iter()
            .any(|q| q.0 <= p.0 && q.1 <= p.1 && (q.0 < p.0 || q.1 < p.1));
        assert_eq!(front[i], !dominated, "point {p:?}");
    }
}

#[test]
fn accuracy_front_on_hand_made_points() {
    // (latency ms, accuracy): lower latency and higher accuracy are better.
    let pts = [
        (10.0, 0.90), // on: the fastest
        (50.0, 0.93), // on: the most accurate
        (20.0, 0.92), // on
        (30.0, 0.91), // dominated by (20, 0.92)
        (20.0, 0.91), // dominated by (20, 0.92): same latency, less accurate
        (40.0, 0.92), // dominated by (20, 0.92): same accuracy, slower
        (20.0, 0.92), // a duplicate of a front point: on
        (5.0, f64::NAN),
        (f64::NAN, 0.99),
    ];
    assert_eq!(
        accuracy_front(&pts),
        vec![true, true, true, false, false, false, true, false, false]
    );
    assert!(accuracy_front(&[]).is_empty());
    assert_eq!(accuracy_front(&[(1.0, 0.5)]), vec![true]);
    // Brute force on random points with many ties.
    let mut rng = Rng::new(7);
    let pts: Vec<(f64, f64)> = (0..300)
        .map(|_| {
            (
                (rng.range(0.0, 20.0) as f64).round(),
                (rng.range(0.0, 10.0) as f64).round() / 10.0,
            )
        })
        .collect();
    let front = accuracy_front(&pts);
    for (i, p) in pts.iter().enumerate() {
        let dominated = pts
            .iter()
            .any(|q| q.0 <= p.0 && q.1 >= p.1 && (q.0 < p.0 || q.1 > p.1));
        assert_eq!(front[i], !dominated, "point {p:?}");
    }
}

#[test]
fn accuracy_latency_rows_follow_the_method_sets() {
    let g = cifar(8);
    let (p, mut space) = random_space(&g, &mut Rng::new(3));
    let ch = Channel::parse("4g").unwrap();
    assert!(
        accuracy_latency_rows(&p, &space, &[&ch]).is_empty(),
        "no accuracy known, no rows"
    );
    // Every other candidate known, accuracy rising with the split and the bits.
    let text: String = space
        .candidates
        .iter()
        .step_by(2)
        .chain(&space.candidates[..2]) // edge-only and device-only
        .map(|c| {
            let a = 0.5 + 0.4 * c.split as f64 / p.last() as f64 + c.bits().min(8) as f64 / 100.0;
            format!("{},{a}\n", c.config(&p))
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    let text: String = std::iter::once("config,accuracy\n".to_string())
        .chain(
            text.lines()
                .filter(|l| seen.insert(l.to_string()))
                .map(|l| format!("{l}\n")),
        )
        .collect();
    let table = AccuracyTable::parse(std::path::Path::new("synthetic.csv"), &text).unwrap();
    let known = space.apply_accuracy(&p, |c| table.get(c));
    let rows = accuracy_latency_rows(&p, &space, &[&ch]);
    for m in Method::ALL {
        let mine: Vec<_> = rows.iter().filter(|r| r.method == m.name()).collect();
        let want = space
            .set(m)
            .iter()
            .filter(|&&i| space.candidates[i].accuracy.is_some())
            .count();
        assert_eq!(mine.len(), want, "{m}");
        assert!(!mine.is_empty(), "{m} has known candidates");
        for r in &mine {
            close(
                r.device_ms + r.transmit_ms + r.edge_ms,
                r.total_ms,
                &r.config.to_string(),
            );
            let dominated = mine.iter().any(|q| {
                q.total_ms <= r.total_ms
                    && q.accuracy >= r.accuracy
                    && (q.total_ms < r.total_ms || q.accuracy > r.accuracy)
            });
            assert_eq!(r.on_front, !dominated, "{m} {}", r.config);
        }
    }
    assert_eq!(
        rows.iter().filter(|r| r.method == "three-step").count(),
        known
    );
    // The chosen configuration of an unconstrained method is on its front.
    for m in Method::ALL {
        let c = space.choose(m, &ch);
        let cfg = space.candidates[c.index].config(&p);
        if let Some(r) = rows
            .iter()
            .find(|r| r.method == m.name() && r.config == cfg)
        {
            assert!(r.on_front, "{m} chose {cfg}, not on its front");
        }
    }
}

fn profile_rows(g: &Graph, ms: f64) -> Vec<ProfileRow> {
    common::profile_rows(g, |_| ms)
}

fn write_rows(name: &str, rows: &[ProfileRow]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("splitbench-plan-test-{}", std::process::id()));
    let path = dir.join(name);
    splitbench::report::write_csv(&path, rows).unwrap();
    path
}

#[test]
fn edge_profile_of_the_same_model_is_used() {
    let g = cifar(8);
    let n = g.nodes.len();
    let path = write_rows("same.csv", &profile_rows(&g, 0.5));
    let dev = vec![2.0; n];
    let e = EdgeModel::from_profile(&path, &g, &dev).unwrap();
    assert_eq!(e.node_ms.len(), n);
    assert_eq!(e.node_ms[0], 0.0);
    assert!(e.node_ms[1..].iter().all(|&t| t == 0.5));
    close(e.speedup, 4.0, "effective speed-up");
    assert!(e.source.describe().contains("same.csv"));
}

#[test]
fn edge_profile_of_another_model_is_rejected_naming_the_file() {
    let g = cifar(8);
    let check = |name: &str, rows: Vec<ProfileRow>, needle: &str| {
        let path = write_rows(name, &rows);
        let err = EdgeModel::from_profile(&path, &g, &vec![1.0; g.nodes.len()]).unwrap_err();
        assert!(matches!(err, Error::BadFile { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(name), "{msg}");
        assert!(msg.contains(needle), "{msg} lacks {needle}");
        assert!(!msg.contains('\n'), "one line: {msg}");
    };
    // A wider network: same names, other shapes; the first mismatch is the first conv.
    check("wider.csv", profile_rows(&cifar(16), 1.0), "conv1");
    // Another architecture.
    let mb = graph(
        "mobilenet_v2",
        ZooOptions {
            input: Some(Shape::new(3, 32, 32)),
            ..Default::default()
        },
    );
    check(
        "mobilenet.csv",
        profile_rows(&mb, 1.0),
        "not a profile of this model",
    );
    // Truncated and extended.
    let mut rows = profile_rows(&g, 1.0);
    let last = rows.pop().unwrap();
    check("short.csv", rows.clone(), &last.node);
    rows.push(last.clone());
    rows.push(last);
    check("long.csv", rows, "past the model's last node");
    // Batch 4.
    let mut rows = profile_rows(&g, 1.0);
    rows.iter_mut().for_each(|r| r.batch = 4);
    check("batch.csv", rows, "batch 4");
}

#[test]
fn edge_speedup_must_be_positive() {
    for x in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(EdgeModel::from_speedup(&[1.0], x, false).is_err(), "{x}");
    }
    // The library names the setting, not a command-line flag.
    let e = EdgeModel::from_speedup(&[1.0], 0.0, false).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid argument: edge speed-up 0: expected a positive number"
    );
    let e = EdgeModel::from_speedup(&[0.0, 10.0], DEFAULT_EDGE_SPEEDUP, true).unwrap();
    assert_eq!(e.node_ms, vec![0.0, 1.0]);
    assert!(e.source.describe().contains("default"));
}

#[test]
fn study_rows_cdf_and_candidates() {
    let mut rng = Rng::new(9);
    let g = cifar(8);
    let (p, space) = random_space(&g, &mut rng);
    let mut channels: Vec<StudyChannel> = sweep_channels(5, 0.1, 1000.0, 0.0)
        .unwrap()
        .into_iter()
        .map(|channel| StudyChannel {
            channel,
            role: ChannelRole::Sweep,
        })
        .collect();
    channels.push(StudyChannel {
        channel: Channel::parse("4g").unwrap(),
        role: ChannelRole::Preset,
    });
    channels.push(StudyChannel {
        channel: Channel::parse("rayleigh:bw_mhz=1,snr_db=10,draws=300,seed=1").unwrap(),
        role: ChannelRole::Extra,
    });
    let (study, links) = evaluate_links(&p, &space, &channels, "t", Some(50.0), false);
    assert_eq!(links.len(), channels.len());
    let s = &study;
    assert_eq!(s.layers.len(), g.nodes.len());
    assert_eq!(s.candidates.len(), space.candidates.len());
    assert!(s.candidates.iter().any(|c| c.pareto));
    // One chosen row per method and link.
    for sc in &channels {
        for m in Method::ALL {
            let n = s
                .tradeoff
                .iter()
                .filter(|t| t.chosen && t.method == m.name() && t.channel == sc.channel.label())
                .count();
            assert_eq!(n, 1, "{m} on {}", sc.channel.label());
        }
    }
    // Sweep links: chosen rows only; the others: every candidate under three-step.
    let sweep_rows = s
        .tradeoff
        .iter()
        .filter(|t| t.channel == channels[0].channel.label())
        .count();
    assert_eq!(sweep_rows, Method::ALL.len());
    let rayleigh = channels.last().unwrap().channel.label();
    let ts_rows = s
        .tradeoff
        .iter()
        .filter(|t| t.channel == rayleigh && t.method == "three-step")
        .count();
    assert_eq!(ts_rows, space.candidates.len());
    // Totals are the sum of the parts (mean over states for a random link), p_miss only
    // on the random link.
    for t in &s.tradeoff {
        let parts = t.device_ms + t.encode_ms + t.tx_ms + t.decode_ms + t.edge_ms + t.rtt_ms;
        close(t.total_ms, parts, "total = parts");
        assert!(t.total_ms_p50 <= t.total_ms_p95 && t.total_ms_p95 <= t.total_ms_p99);
        assert_eq!(t.p_miss.is_some(), t.channel_kind == "rayleigh");
    }
    // CDF: 101 quantiles per method on the random link only.
    assert_eq!(s.cdf.len(), Method::ALL.len() * CDF_POINTS);
    assert!(s.cdf.iter().all(|c| c.channel == rayleigh));
    for m in Method::ALL {
        let q: Vec<f64> = s
            .cdf
            .iter()
            .filter(|c| c.method == m.name())
            .map(|c| c.total_ms)
            .collect();
        assert!(q.windows(2).all(|w| w[0] <= w[1]), "{m}: monotone");
    }
    let sums = link_summaries(&p, &space, &channels, &links);
    assert_eq!(sums.len(), 2);
    assert!(sums
        .iter()
        .all(|l| l.three_step_vs_edge_only >= 1.0 && l.three_step_vs_neurosurgeon >= 1.0));
    assert!(summary_text(&sums).contains("three-step is"));
}

#[test]
fn sweep_is_log_spaced() {
    let s = sweep_channels(SWEEP_POINTS, SWEEP_MIN_MBPS, SWEEP_MAX_MBPS, 0.0).unwrap();
    assert_eq!(s.len(), 25);
    close(s[0].nominal_mbps(), 0.1, "first");
    close(s[24].nominal_mbps(), 1000.0, "last");
    close(s[12].nominal_mbps(), 10.0, "middle");
    assert!(sweep_channels(1, 1.0, 2.0, 0.0).is_err());
}

#[test]
fn a_bottleneck_or_pruned_cut_is_sized_by_what_it_sends() {
    // The three-step candidates send the (pruned or bottlenecked) tensor: the payload is
    // the frame of that tensor, not of the unpruned feature.
    let q8 = Encoding::Quant {
        bits: 8,
        scale: Scale::Tensor,
    };
    let half = CutTensor::of(Shape::new(32, 8, 8));
    assert_eq!(payload_bytes(q8, &[half]).unwrap(), 32 * 64 + 8 + 23 + 14);
    let code = CutTensor::of(Shape::new(4, 8, 8));
    assert_eq!(payload_bytes(q8, &[code]).unwrap(), 4 * 64 + 8 + 23 + 14);
}
