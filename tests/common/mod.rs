//! Shared test helpers.
#![allow(dead_code)] // each test binary uses a different subset

pub mod edge;

use splitbench::gpu::GpuContext;
use splitbench::model::{Graph, Node};
use splitbench::report::ProfileRow;
use splitbench::tensor::Rng;
use std::path::PathBuf;

/// The GPU context, or `None` after printing `skipped: no adapter`. With
/// `SPLITBENCH_REQUIRE_GPU=1` (set by CI) a missing adapter fails the test instead, so a
/// suite that ran nothing cannot pass there.
pub fn gpu() -> Option<GpuContext> {
    match GpuContext::new(None) {
        Ok(ctx) => {
            ctx.set_tile_cache(Some(test_tile_cache()));
            Some(ctx)
        }
        Err(e) => {
            if std::env::var("SPLITBENCH_REQUIRE_GPU").is_ok_and(|v| v == "1") {
                panic!("SPLITBENCH_REQUIRE_GPU=1 but {e}");
            }
            eprintln!("skipped: no adapter ({e})");
            None
        }
    }
}

/// Asserts `|a - b| <= tol * max(1, |b|)` element-wise, naming the first offender.
pub fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1f32, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        assert!(
            err <= tol * scale.max(w.abs()),
            "{what}: element {i}: got {g}, want {w} (err {err}, tol {tol} x {scale})"
        );
    }
}

/// `n` uniform random values in [-1, 1).
pub fn rand_vec(seed: u64, n: usize) -> Vec<f32> {
    Rng::new(seed).vec(n, -1.0, 1.0)
}

/// The tile cache of the tests, under the build directory: tiles timed while the suite
/// loads the machine must not become the user's (`~/.cache/splitbench/tiles.json`).
pub fn test_tile_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tiles.json")
}

/// The splitbench binary of this build, with the tests' tile cache.
pub fn splitbench_command() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_splitbench"));
    c.env("SPLITBENCH_TILE_CACHE", test_tile_cache());
    c
}

/// Runs the splitbench binary of this build with `args`.
pub fn splitbench(args: &[&str]) -> std::process::Output {
    splitbench_command()
        .args(args)
        .output()
        .expect("binary runs")
}

/// stderr without the harmless lavapipe noise.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| !l.contains("XDG_RUNTIME_DIR"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A 12-image Fashion-MNIST-format test split (uncompressed IDX) in `dir`.
pub fn write_test_split(dir: &std::path::Path) {
    let n = 12u32;
    let mut img = 0x0000_0803u32.to_be_bytes().to_vec();
    for d in [n, 28, 28] {
        img.extend_from_slice(&d.to_be_bytes());
    }
    img.extend((0..n as usize * 784).map(|k| (k * 13 % 251) as u8));
    let mut lbl = 0x0000_0801u32.to_be_bytes().to_vec();
    lbl.extend_from_slice(&n.to_be_bytes());
    lbl.extend((0..n as u8).map(|i| i % 10));
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), img).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), lbl).unwrap();
}

/// A fresh folder `splitbench-<what>-<pid>-<name>` under the system's temporary folder.
pub fn tmp_dir(what: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("splitbench-{what}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A batch-1 profile of `g` as `splitbench profile` writes it, with `ms(node)` as every
/// node's median, p5 and p95.
pub fn profile_rows(g: &Graph, ms: impl Fn(&Node) -> f64) -> Vec<ProfileRow> {
    g.nodes
        .iter()
        .skip(1)
        .map(|n| ProfileRow {
            node: n.name.clone(),
            op: n.op.kind().into(),
            out_shape: format!("1x{}", n.shape),
            batch: 1,
            flops: n.flops(g),
            out_bytes: n.shape.bytes_f32() as u64,
            in_bytes: (n.input_values(g) + n.param_values()) * 4,
            device_ms_median: ms(n),
            device_ms_p5: ms(n),
            device_ms_p95: ms(n),
            reps: 3,
            dispatches: 1,
            timing: "timestamp-inside-pass".into(),
        })
        .collect()
}
