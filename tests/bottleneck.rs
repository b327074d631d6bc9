//! The learned bottleneck's encoder and decoder graphs: shapes (conv and linear), and the
//! GPU output equals the CPU reference.

mod common;

use splitbench::compress::{bottleneck_widths, Bottleneck, BottleneckKind};
use splitbench::cpu;
use splitbench::gpu::Executor;
use splitbench::model::{Op, Shape};
use splitbench::tensor::Tensor;

#[test]
fn shapes_of_conv_and_linear_bottlenecks() {
    let b = Bottleneck::new(Shape::new(64, 32, 32), 4).unwrap();
    assert_eq!(b.kind, BottleneckKind::Conv);
    let e = b.encoder_graph().unwrap();
    let d = b.decoder_graph().unwrap();
    assert_eq!(e.input_shape(), Shape::new(64, 32, 32));
    assert_eq!(e.nodes[1].shape, Shape::new(4, 32, 32));
    assert_eq!(d.input_shape(), Shape::new(4, 32, 32));
    assert_eq!(d.nodes[1].shape, Shape::new(64, 32, 32));
    match (e.nodes[1].op, d.nodes[1].op) {
        (Op::Conv2d(ce), Op::Conv2d(cd)) => {
            assert_eq!((ce.kernel, ce.padding, ce.stride), ((3, 3), (1, 1), (1, 1)));
            assert_eq!(ce.act, splitbench::model::Act::Tanh);
            assert_eq!(cd.act, splitbench::model::Act::Elu);
        }
        other => panic!("expected convs, got {other:?}"),
    }
    // A vector feature (after global pooling) gets a linear bottleneck.
    let v = Bottleneck::new(Shape::new(512, 1, 1), 32).unwrap();
    assert_eq!(v.kind, BottleneckKind::Linear);
    assert!(matches!(
        v.encoder_graph().unwrap().nodes[1].op,
        Op::Linear(_)
    ));
    assert_eq!(
        v.decoder_graph().unwrap().nodes[1].shape,
        Shape::new(512, 1, 1)
    );
    // Widths C/4, C/8, C/16, distinct and below C.
    assert_eq!(bottleneck_widths(64), vec![16, 8, 4]);
    assert_eq!(bottleneck_widths(8), vec![2, 1]);
    assert!(bottleneck_widths(1).is_empty());
    assert!(Bottleneck::new(Shape::new(8, 4, 4), 0).is_err());
    assert!(Bottleneck::new(Shape::new(8, 4, 4), 9).is_err());
    assert_eq!(b.name(), "bn4");
}

#[test]
fn gpu_bottleneck_matches_cpu_reference() {
    let Some(ctx) = common::gpu() else { return };
    // Conv (odd channel counts, small spatial size) and linear cases.
    for (feature, k) in [
        (Shape::new(12, 5, 7), 3),
        (Shape::new(16, 1, 1), 4),
        (Shape::new(6, 8, 8), 1),
    ] {
        let b = Bottleneck::new(feature, k).unwrap();
        for (what, m) in [
            ("encoder", b.encoder(7).unwrap()),
            ("decoder", b.decoder(7).unwrap()),
        ] {
            let s = m.graph.input_shape();
            let x = common::rand_vec(3, s.numel());
            let exec = Executor::new(&ctx, &m, 1..2, 1, &[]).unwrap();
            exec.set_input(0, &x).unwrap();
            let got = exec.run().unwrap();
            let want = cpu::run(
                &m.graph,
                &m.weights,
                &Tensor::new(vec![1, s.c, s.h, s.w], x).unwrap(),
            )
            .unwrap();
            let want = want.last().unwrap();
            common::assert_close(
                &got[0].data,
                &want.data,
                1e-4,
                &format!("{what} of {feature} -> {k}"),
            );
            if what == "encoder" {
                assert!(got[0].data.iter().all(|v| v.abs() <= 1.0), "tanh range");
            } else {
                assert!(got[0].data.iter().all(|&v| v >= -1.0), "ELU range");
            }
        }
        let t = b.time(&ctx, 1, 2, 1).unwrap();
        assert_eq!(t.encoder.count, 2);
        assert!(t.encoder.median_ms >= 0.0 && t.decoder.median_ms >= 0.0);
    }
}
