//! Convolution tiles chosen by measurement: `splitbench profile` measures the candidates
//! of every distinct conv shape once, files the choices in the tile cache, and a second
//! run on the same adapter measures nothing and runs the same tiles, which the manifest
//! records per node (fully connected layers run as 1x1 convs, so they have tiles too). `--no-autotune` plans with the heuristic and leaves the cache alone.

mod common;

use common::{gpu, stderr};
use serde_json::Value;
use std::path::Path;

/// Profiles a small resnet18-cifar with the tile cache at `cache`; returns the manifest.
fn profile(dir: &Path, cache: &Path, extra: &[&str]) -> Value {
    let out = dir.join("p.csv");
    let mut args = vec![
        "profile",
        "--model",
        "resnet18-cifar",
        "--width",
        "8",
        "--input",
        "3x12x12",
        "--reps",
        "2",
        "--warmup",
        "1",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_splitbench"))
        .args(&args)
        .env("SPLITBENCH_TILE_CACHE", cache)
        .env_remove("SPLITBENCH_AUTOTUNE")
        .output()
        .expect("binary runs");
    assert!(o.status.success(), "profile failed: {}", stderr(&o));
    let text = std::fs::read_to_string(dir.join("p.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// `(node, kernel, source)` of every convolution and fully connected layer in a manifest.
fn tiles(m: &Value) -> Vec<(String, String, String)> {
    m["tiles"]
        .as_array()
        .expect("tiles in the manifest")
        .iter()
        .map(|t| {
            let s = |k: &str| t[k].as_str().unwrap_or_default().to_string();
            (s("node"), s("kernel"), s("source"))
        })
        .collect()
}

#[test]
fn second_profile_run_measures_no_tile_and_runs_the_same_ones() {
    if gpu().is_none() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("splitbench-autotune-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cache = dir.join("tiles.json");

    let first = profile(&dir, &cache, &[]);
    let a = &first["autotune"];
    let tuned = a["tuned"].as_u64().unwrap();
    assert!(tuned >= 4, "first run measured {tuned} shapes: {a}");
    assert_eq!(a["cached"].as_u64(), Some(0), "{a}");
    assert_eq!(a["mode"], "autotune");
    assert!(cache.exists(), "no cache file written");
    let t1 = tiles(&first);
    assert_eq!(
        t1.len(),
        21,
        "resnet18-cifar has 20 convolutions and a fully connected layer: {t1:?}"
    );
    assert!(
        t1.iter().all(|(_, k, s)| !k.is_empty() && s == "tuned"),
        "{t1:?}"
    );

    let second = profile(&dir, &cache, &[]);
    let b = &second["autotune"];
    assert_eq!(b["tuned"].as_u64(), Some(0), "second run measured: {b}");
    assert_eq!(b["tuning_ms"].as_f64(), Some(0.0), "{b}");
    assert_eq!(b["cached"].as_u64(), Some(tuned), "{b}");
    let t2 = tiles(&second);
    let kernels = |t: &[(String, String, String)]| {
        t.iter()
            .map(|(n, k, _)| (n.clone(), k.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(kernels(&t2), kernels(&t1), "the cached run changed tiles");
    assert!(t2.iter().all(|(_, _, s)| s == "cached"), "{t2:?}");

    // --no-autotune: every plan from the heuristic, the cache file untouched.
    let before = std::fs::read(&cache).unwrap();
    let third = profile(&dir, &cache, &["--no-autotune"]);
    let c = &third["autotune"];
    assert_eq!(c["mode"], "heuristic");
    assert_eq!(
        (c["tuned"].as_u64(), c["cached"].as_u64()),
        (Some(0), Some(0)),
        "{c}"
    );
    assert!(tiles(&third).iter().all(|(_, _, s)| s == "heuristic"));
    assert_eq!(
        std::fs::read(&cache).unwrap(),
        before,
        "--no-autotune wrote the cache"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A cache file that is not JSON is an empty cache (measured again and rewritten), not an
/// error: tiles change speed, never results.
#[test]
fn a_corrupt_tile_cache_is_measured_again_and_rewritten() {
    if gpu().is_none() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("splitbench-autotune-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cache = dir.join("tiles.json");
    std::fs::write(&cache, "{ not json").unwrap();
    let m = profile(&dir, &cache, &[]);
    assert!(m["autotune"]["tuned"].as_u64().unwrap() > 0);
    let text = std::fs::read_to_string(&cache).unwrap();
    let v: Value = serde_json::from_str(&text).expect("the cache was rewritten as JSON");
    assert_eq!(v["format"], 4);
    std::fs::remove_dir_all(&dir).ok();
}
