//! A test edge: a tiny model served on loopback (for the co-inference tests).

use splitbench::eval::TrainedFiles;
use splitbench::gpu::GpuContext;
use splitbench::model::{self, Prepared, Shape, ZooOptions};
use splitbench::net::{Edge, OffloadOptions, ServeOptions};
use splitbench::report::csv_string;
use splitbench::study::profile::{self, ProfileOptions};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub fn tiny_options() -> ZooOptions {
    ZooOptions {
        input: Some(Shape::new(1, 28, 28)),
        classes: Some(10),
        width: Some(4),
    }
}

pub fn tiny() -> Prepared {
    model::prepare("resnet18-cifar", &tiny_options(), None, 3).unwrap()
}

pub fn files() -> TrainedFiles {
    // Seeded weights: pruned models and bottlenecks are seeded too, on both ends.
    TrainedFiles::seeded(3)
}

/// Runs an edge for `p` on a free loopback port while `f` runs; stops it after.
pub fn with_edge<T>(ctx: &GpuContext, p: &Prepared, f: impl FnOnce(SocketAddr) -> T) -> T {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = AtomicBool::new(false);
    let files = files();
    // The edge's own profile, as `serve` takes it before listening.
    let o = ProfileOptions {
        batch: 1,
        reps: 1,
        warmup: 0,
        timing: None,
        seed: 0,
    };
    let csv = csv_string(&profile::profile(ctx, p, &o).unwrap().rows).unwrap();
    let edge = Edge {
        ctx,
        model: p,
        files: &files,
        profile: Some(&csv),
    };
    std::thread::scope(|s| {
        let server = s.spawn(|| {
            edge.serve(&listener, &ServeOptions::default(), &stop, &|_| {})
                .unwrap()
        });
        // Stops the server even when `f` panics, so a failing test fails instead of hanging.
        struct Stop<'s>(&'s AtomicBool);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let guard = Stop(&stop);
        let out = f(addr);
        drop(guard);
        server.join().unwrap();
        out
    })
}

pub fn options(addr: SocketAddr, config: &str, requests: usize) -> OffloadOptions {
    OffloadOptions {
        server: addr.to_string(),
        config: config.parse().unwrap(),
        requests,
        warmup: 1,
        interval_ms: 0.0,
        link: Some(splitbench::channel::Channel::parse("4g:rtt_ms=20").unwrap()),
        timeout: Duration::from_secs(20),
        seed: 1,
    }
}
