//! Real co-inference on loopback: the edge's replies equal the same configuration evaluated
//! in one process, bad messages close only their own connection, a dead edge ends the
//! device's run with an error naming the phase, and the edge sends its own profile (the
//! load test is `net_load.rs`, in a process of its own).

mod common;

use common::edge::{files, options, tiny, tiny_options, with_edge};
use splitbench::compress::Config;
use splitbench::data::{self, Split};
use splitbench::eval::{load_parts, Classifier, GpuClassifier, SplitClassifier, SplitParts};
use splitbench::model::{self, Prepared};
use splitbench::net::protocol::{read_message, write_message, Hello, Message, PROTOCOL_VERSION};
use splitbench::net::{edge_profile, offload};
use splitbench::plan::EdgeModel;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("splitbench-net-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn replies_equal_the_configuration_evaluated_in_one_process() {
    let Some(ctx) = common::gpu() else { return };
    let p = tiny();
    let dir = tmp("same");
    common::write_test_split(&dir);
    let test = data::load(data::DatasetKind::FashionMnist, Split::Test, Some(&dir)).unwrap();
    let n = 4;
    let g = &p.model.graph;
    for config in [
        "layer1.1.conv2/4bit-tensor",
        "layer3.1.conv2/f32",
        "conv1/2bit-channel",
        "conv1/prune-0.5_0_0_0_0+bn1+2bit-tensor",
        "layer2.1.conv2/bn2+4bit-tensor",
        "input/uint8-input",
        "fc/none",
    ] {
        let c: Config = config.parse().unwrap();
        let got = with_edge(&ctx, &p, |addr| {
            offload(
                &ctx,
                &p,
                &files(),
                Some(&test),
                &options(addr, config, n),
                &mut |_| {},
            )
            .unwrap()
        });
        assert_eq!(got.rows.len(), n);
        // The same images in one process: requests 1..=n (request 0 was the warm-up).
        let images = &test.images[784..(n + 1) * 784];
        let mut want = Vec::new();
        match c.resolve(g).unwrap() {
            splitbench::compress::Placement::Split(split) => {
                let (pruned, bottleneck) = load_parts(&p.torch, &p.model, &c, &files()).unwrap();
                let parts = SplitParts {
                    model: pruned.as_ref().unwrap_or(&p.model),
                    bottleneck,
                };
                let mut clf =
                    SplitClassifier::new(&ctx, &parts, split, c.variant.encoding, 1).unwrap();
                for img in images.chunks(784) {
                    want.push(clf.logits(img, 1).unwrap());
                }
            }
            _ => {
                let mut clf = GpuClassifier::new(&ctx, &p.model, 1).unwrap();
                for img in images.chunks(784) {
                    want.push(clf.logits(img, 1).unwrap());
                }
            }
        }
        assert_eq!(got.logits, want, "{config}: the edge's logits differ");
        for r in &got.rows {
            assert_eq!(r.label, Some(test.labels[r.request + 1]), "{config}");
            let sends = c.variant.encoding.sends();
            assert_eq!(r.payload_bytes > 0, sends, "{config}");
            assert!(r.predicted_total_ms.is_some());
            if sends {
                assert!(r.tcp_cwnd.is_some() && r.tcp_rtt_ms.is_some(), "{config}");
                assert!(r.network_ms >= 0.0 && r.server_ms > 0.0);
                // Compute and network add up to at most the total (the rest is CPU glue).
                assert!(r.device_ms + r.encode_ms + r.network_ms + r.server_ms <= r.total_ms + 0.5);
            }
        }
    }
}

/// Sends `bytes` raw on a new connection and returns what the edge answered, if anything.
fn raw(addr: SocketAddr, bytes: &[u8]) -> Option<Message> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(bytes).unwrap();
    read_message(&mut s, 1 << 20).ok()
}

fn hello(p: &Prepared, config: &str, version: u8) -> Message {
    Message::Hello(Hello {
        version,
        model_hash: p.model.hash(),
        input: [1, 28, 28],
        batch: 1,
        config: config.into(),
        normalization: [0.5; 6],
    })
}

#[test]
fn bad_input_closes_only_its_connection() {
    let Some(ctx) = common::gpu() else { return };
    let p = tiny();
    with_edge(&ctx, &p, |addr| {
        // Hellos the edge refuses, with a reason.
        for (m, why) in [
            (
                hello(&p, "layer1.1.conv2/4bit-tensor", 9),
                "protocol version 9",
            ),
            (
                hello(&p, "nonsense/none", PROTOCOL_VERSION),
                "no node `nonsense`",
            ),
            (hello(&p, "fc/none", PROTOCOL_VERSION), "nothing to serve"),
        ] {
            match raw(addr, &m.to_bytes()) {
                Some(Message::Refuse(r)) => assert!(r.contains(why), "{r}"),
                other => panic!("{why}: {other:?}"),
            }
        }
        // A good hello, then a bad frame: an error reply naming the problem.
        let mut bytes = hello(&p, "layer1.1.conv2/4bit-tensor", PROTOCOL_VERSION).to_bytes();
        bytes.extend(
            Message::Request {
                id: 5,
                payload: b"SBFR not a frame".to_vec(),
            }
            .to_bytes(),
        );
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(&bytes).unwrap();
        assert!(matches!(
            read_message(&mut s, 1 << 20),
            Ok(Message::Welcome { .. })
        ));
        match read_message(&mut s, 1 << 20) {
            Ok(Message::Error { id: 5, reason }) => assert!(reason.contains("frame"), "{reason}"),
            other => panic!("{other:?}"),
        }
        // Garbage and an oversized length instead of a hello: refused with a reason,
        // the connection closed, nothing else happens.
        for (bytes, why) in [
            (b"\x07\x00\x00\x00garbage".to_vec(), "unknown kind"),
            (u32::MAX.to_le_bytes().to_vec(), "limit"),
        ] {
            match raw(addr, &bytes) {
                Some(Message::Refuse(r)) => assert!(r.contains(why), "{r}"),
                other => panic!("{why}: {other:?}"),
            }
        }
        // The edge still serves a well-behaved device.
        let r = offload(
            &ctx,
            &p,
            &files(),
            None,
            &options(addr, "layer2.1.conv2/8bit-tensor", 3),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(r.rows.len(), 3);
    });
}

#[test]
fn the_edge_sends_its_own_profile_of_the_model() {
    let Some(ctx) = common::gpu() else { return };
    let p = tiny();
    with_edge(&ctx, &p, |addr| {
        let got = edge_profile(&addr.to_string(), &p, Duration::from_secs(20)).unwrap();
        assert_eq!(got.adapter, ctx.summary.name);
        // A valid profile of this model: the planner's edge model reads it.
        let dir = tmp("profile");
        let path = dir.join("edge_profile.csv");
        std::fs::write(&path, &got.csv).unwrap();
        let g = &p.model.graph;
        EdgeModel::from_profile(&path, g, &vec![1.0; g.nodes.len()]).unwrap();
        // Another model (other weights, other hash) is refused with the reason.
        let other = model::prepare("resnet18-cifar", &tiny_options(), None, 99).unwrap();
        let e = edge_profile(&addr.to_string(), &other, Duration::from_secs(20)).unwrap_err();
        assert!(e.to_string().contains("hash"), "{e}");
    });
}

#[test]
fn a_dead_edge_ends_the_run_with_the_phase() {
    let Some(ctx) = common::gpu() else { return };
    let p = tiny();
    // An edge that welcomes, reads one request and hangs up.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let _ = read_message(&mut s, 1 << 20);
        write_message(
            &mut s,
            &Message::Welcome {
                adapter: "fake".into(),
                timing: "none".into(),
            },
        )
        .unwrap();
        let _ = read_message(&mut s, 1 << 24);
    });
    let mut o = options(addr, "layer1.1.conv2/4bit-tensor", 2);
    o.timeout = Duration::from_secs(5);
    let t = std::time::Instant::now();
    let e = offload(&ctx, &p, &files(), None, &o, &mut |_| {}).unwrap_err();
    fake.join().unwrap();
    assert!(t.elapsed() < Duration::from_secs(10));
    let msg = e.to_string();
    assert!(msg.contains("offloading"), "{msg}");
    let cause = std::error::Error::source(&e)
        .map(|c| c.to_string())
        .unwrap_or_default();
    assert!(
        cause.contains("request 0: waiting for the reply"),
        "{cause}"
    );
    // Nobody listening: the connecting phase.
    drop(TcpListener::bind("127.0.0.1:0"));
    let e = offload(
        &ctx,
        &p,
        &files(),
        None,
        &options(addr, "conv1/f32", 1),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("connecting"), "{e}");
}
