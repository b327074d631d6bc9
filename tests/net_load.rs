//! The edge under load, in a process of its own so that its memory is the edge's and its
//! clients': 8 devices x 200 requests at once all get every answer, and memory stays flat.

mod common;

use common::edge::{files, options, tiny, with_edge};
use splitbench::net::offload;

/// Resident memory of this process, bytes (Linux).
fn rss() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[test]
fn eight_clients_at_once_all_get_every_answer() {
    let Some(ctx) = common::gpu() else { return };
    let p = tiny();
    let clients = 8;
    with_edge(&ctx, &p, |addr| {
        let run = |k: usize, requests: usize| {
            let config = ["layer1.1.conv2/4bit-tensor", "layer3.1.conv2/2bit-tensor"][k % 2];
            let mut o = options(addr, config, requests);
            o.seed = (k % 2) as u64;
            offload(&ctx, &p, &files(), None, &o, &mut |_| {}).unwrap()
        };
        let all = |requests: usize| {
            std::thread::scope(|s| {
                let h: Vec<_> = (0..clients)
                    .map(|k| s.spawn(move || run(k, requests)))
                    .collect();
                h.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
            })
        };
        // A short first round warms every allocation up; the long one must not grow memory.
        let warm = all(10);
        let m0 = rss();
        let runs = all(200);
        let m1 = rss();
        for r in &runs {
            assert_eq!(r.rows.len(), 200, "a request was lost");
            let ids: Vec<usize> = r.rows.iter().map(|r| r.request).collect();
            assert_eq!(ids, (0..200).collect::<Vec<_>>());
        }
        // Same seed and configuration: the same answers, whatever else the server was doing.
        assert_eq!(runs[0].logits, runs[2].logits);
        assert_eq!(runs[1].logits, runs[7].logits);
        assert_eq!(warm[0].logits[..], runs[0].logits[..warm[0].logits.len()]);
        assert_ne!(runs[0].logits, runs[1].logits);
        if let (Some(a), Some(b)) = (m0, m1) {
            assert!(b < a + (64 << 20), "memory grew from {a} to {b} bytes");
        }
    });
}
