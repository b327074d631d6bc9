//! `splitbench tradeoff` end to end on a tiny model, and its one-line errors on bad input.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

const TINY: [&str; 8] = [
    "--model",
    "resnet18-cifar",
    "--width",
    "8",
    "--input",
    "3x16x16",
    "--reps",
    "2",
];

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "splitbench-tradeoff-cli-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn splitbench(args: &[&str]) -> Output {
    common::splitbench_command()
        .args(args)
        .output()
        .expect("run splitbench")
}

fn header(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .next()
        .unwrap_or("")
        .split(',')
        .map(String::from)
        .collect()
}

fn has_columns(path: &Path, cols: &str) {
    let h = header(path);
    for c in cols.split(',') {
        assert!(
            h.iter().any(|x| x == c),
            "{}: no column {c} in {h:?}",
            path.display()
        );
    }
}

/// Runs `tradeoff` with `extra` flags; asserts failure with exactly one `error:` line naming
/// `needle`.
fn fails(extra: &[&str], needle: &str) {
    let out_dir = tmp("bad");
    let mut args = vec!["tradeoff"];
    args.extend(TINY);
    args.extend(extra);
    let out_s = out_dir.to_string_lossy().to_string();
    args.extend(["--out", &out_s]);
    let o = splitbench(&args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{extra:?} succeeded");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{extra:?}: one line expected, got {stderr}");
    assert!(lines[0].starts_with("error: "), "{}", lines[0]);
    assert!(
        lines[0].contains(needle),
        "{extra:?}: '{}' lacks '{needle}'",
        lines[0]
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_channel_specs_fail_with_one_line() {
    fails(&["--channel", "carrier-pigeon:mbps=1"], "carrier-pigeon");
    fails(&["--channel", "fixed:mbps=-3"], "mbps");
    fails(&["--channel", "rayleigh:bw_mhz=1"], "snr_db");
}

#[test]
fn bad_traces_fail_with_one_line_naming_the_file() {
    let d = tmp("traces");
    let missing = d.join("missing.csv");
    fails(
        &["--channel", &format!("trace:path={}", missing.display())],
        "missing.csv",
    );
    for (name, text) in [
        ("unsorted.csv", "time_s,mbps\n0,1\n2,1\n1,1\n"),
        ("negative.csv", "time_s,mbps\n0,1\n1,-2\n"),
        ("nan.csv", "time_s,mbps\n0,1\n1,NaN\n"),
        ("empty.csv", ""),
        ("nocolumn.csv", "time_s\n0\n1\n"),
    ] {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        fails(&["--channel", &format!("trace:path={}", p.display())], name);
    }
}

#[test]
fn bad_edge_inputs_fail_with_one_line() {
    let d = tmp("edge");
    // A profile of another model (mobilenet_v2 rows against resnet18-cifar).
    let g = splitbench::model::zoo::build(
        "mobilenet_v2",
        &splitbench::model::ZooOptions {
            input: Some(splitbench::model::Shape::new(3, 16, 16)),
            ..Default::default()
        },
    )
    .unwrap();
    let g = splitbench::model::fuse_graph(&g).unwrap();
    let rows: Vec<splitbench::report::ProfileRow> = g
        .nodes
        .iter()
        .skip(1)
        .map(|n| splitbench::report::ProfileRow {
            node: n.name.clone(),
            op: n.op.kind().into(),
            out_shape: format!("1x{}", n.shape),
            batch: 1,
            flops: n.flops(&g),
            out_bytes: 0,
            in_bytes: 0,
            device_ms_median: 0.1,
            device_ms_p5: 0.1,
            device_ms_p95: 0.1,
            reps: 1,
            dispatches: 1,
            timing: "wall-clock".into(),
        })
        .collect();
    let other = d.join("mobilenet-edge.csv");
    splitbench::report::write_csv(&other, &rows).unwrap();
    fails(
        &["--edge-profile", other.to_str().unwrap()],
        "mobilenet-edge.csv",
    );
    let garbage = d.join("garbage.csv");
    std::fs::write(&garbage, "hello,world\n1,2\n").unwrap();
    fails(
        &["--edge-profile", garbage.to_str().unwrap()],
        "garbage.csv",
    );
    fails(
        &["--edge-profile", d.join("none.csv").to_str().unwrap()],
        "none.csv",
    );
    fails(&["--edge-speedup", "0"], "--edge-speedup");
    fails(&["--edge-speedup", "-2"], "--edge-speedup");
}

#[test]
fn tradeoff_writes_the_study() {
    let Some(ctx) = common::gpu() else { return };
    drop(ctx);
    let d = tmp("study");
    let out = d.join("out");
    let mut args = vec!["tradeoff"];
    args.extend(TINY);
    let out_s = out.to_string_lossy().to_string();
    args.extend(["--deadline-ms", "20", "--out", &out_s]);
    let o = splitbench(&args);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for f in [
        "tradeoff.csv",
        "layers.csv",
        "candidates.csv",
        "cdf.csv",
        "bytes_per_split.csv",
        "manifest.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    for stem in [
        "layers",
        "latency_vs_bandwidth",
        "breakdown",
        "tradeoff",
        "cdf",
        "bytes_per_split",
    ] {
        for ext in ["png", "svg"] {
            let f = out.join(format!("{stem}.{ext}"));
            assert!(
                std::fs::metadata(&f).is_ok_and(|m| m.len() > 1000),
                "chart {} missing or empty",
                f.display()
            );
        }
    }
    // Without an accuracy table there is no chart (f) and no accuracy-latency CSV.
    assert!(!out.join("accuracy_latency.csv").exists());
    assert!(!out.join("f_accuracy_latency.png").exists());
    has_columns(
        &out.join("tradeoff.csv"),
        "method,channel,uplink_mbps,split,payload_bytes,device_ms,encode_ms,tx_ms,decode_ms,edge_ms,total_ms",
    );
    has_columns(
        &out.join("layers.csv"),
        "index,node,op,device_ms,flops,cut_bytes",
    );
    has_columns(
        &out.join("candidates.csv"),
        "split,split_index,variant,device_ms,payload_bytes,pareto",
    );
    has_columns(&out.join("cdf.csv"), "method,channel,quantile,total_ms");
    has_columns(
        &out.join("bytes_per_split.csv"),
        "split,split_index,encoding,payload_bytes,coded_bytes",
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert!(m["edge_source"]
        .as_str()
        .unwrap()
        .contains("default --edge-speedup"));
    assert!(m["downlink_note"].as_str().unwrap().contains("negligible"));
    assert!(m["predictor_error"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));
    assert_eq!(m["summary"].as_array().map(|a| a.len()), Some(5));
    for method in [
        "device-only",
        "edge-only",
        "neurosurgeon",
        "best-split",
        "two-step-pruning",
        "three-step",
    ] {
        assert!(stdout.contains(method), "stdout lacks {method}");
    }
    // Pruned and bottlenecked candidates are in the search, and the seeded bottleneck
    // weights are declared.
    assert!(stdout.contains("bottleneck weights: seeded for timing"));
    assert_eq!(
        m["bottleneck_weights"].as_str(),
        Some(splitbench::compress::BOTTLENECK_WEIGHTS_NOTE)
    );
    let cands = std::fs::read_to_string(out.join("candidates.csv")).unwrap();
    for family in ["pruned+n-bit", "bottleneck", "n-bit", "f32"] {
        assert!(
            cands.contains(&format!(",{family},")),
            "no {family} candidate"
        );
    }
    assert!(stdout.contains("three-step is"));
    assert!(stdout.contains("default --edge-speedup"));

    // The device profile of this run serves as an edge profile of the same model.
    let out2 = d.join("out2");
    let edge = out.join("device_profile.csv");
    let mut args = vec!["tradeoff"];
    args.extend(TINY);
    let out2_s = out2.to_string_lossy().to_string();
    args.extend([
        "--channel",
        "4g:rtt_ms=10",
        "--edge-profile",
        edge.to_str().unwrap(),
        "--out",
        &out2_s,
    ]);
    let o = splitbench(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out2.join("manifest.json")).unwrap())
            .unwrap();
    assert!(m["edge_source"]
        .as_str()
        .unwrap()
        .contains("device_profile.csv"));
    assert!(String::from_utf8_lossy(&o.stdout).contains("device_profile.csv"));
}

#[test]
fn min_accuracy_restricts_three_step_to_known_configurations() {
    let d = tmp("accuracy");
    std::fs::create_dir_all(&d).unwrap();
    let bad = d.join("bad.csv");
    std::fs::write(&bad, "config,accuracy\ninput/uint8-input,high\n").unwrap();
    fails(
        &["--accuracy-table", bad.to_str().unwrap()],
        "bad.csv: line 2",
    );
    let Some(ctx) = common::gpu() else { return };
    drop(ctx);
    let table = d.join("acc.csv");
    std::fs::write(
        &table,
        "config,accuracy\ninput/uint8-input,0.93\nfc/none,0.93\nconv1/2bit-tensor,0.5\n",
    )
    .unwrap();
    let out = d.join("out");
    let out_s = out.to_string_lossy().to_string();
    let mut args = vec!["tradeoff"];
    args.extend(TINY);
    args.extend([
        "--prune-ratios",
        "none",
        "--no-bottleneck",
        "--accuracy-table",
        table.to_str().unwrap(),
        "--min-accuracy",
        "0.9",
        "--out",
        &out_s,
    ]);
    let o = splitbench(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["min_accuracy"].as_f64(), Some(0.9));
    for link in m["summary"].as_array().unwrap() {
        for c in link["choices"].as_array().unwrap() {
            if c["method"] == "three-step" {
                assert!(c["accuracy"].as_f64().is_some_and(|a| a >= 0.9), "{c}");
            }
        }
    }
}

/// Rows of a CSV, as header-keyed maps (link labels are quoted: they hold commas).
fn csv_rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cols: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            cols.iter()
                .cloned()
                .zip(rec.iter().map(String::from))
                .collect()
        })
        .collect()
}

#[test]
fn accuracy_table_gives_the_accuracy_latency_csv_and_chart() {
    let Some(ctx) = common::gpu() else { return };
    drop(ctx);
    let d = tmp("chart-f");
    // A synthetic table over the tiny model's plain candidates: accuracy rises with the
    // split and the bits, so the fronts are staircases, not single points.
    let g = splitbench::model::fuse_graph(
        &splitbench::model::zoo::build(
            "resnet18-cifar",
            &splitbench::model::ZooOptions {
                width: Some(8),
                input: Some(splitbench::model::Shape::new(3, 16, 16)),
                ..Default::default()
            },
        )
        .unwrap(),
    )
    .unwrap();
    let last = g.nodes.len() - 1;
    let mut table = format!(
        "config,accuracy\ninput/uint8-input,0.92\n{}/none,0.92\n",
        g.nodes[last].name
    );
    for (k, node) in g.nodes.iter().enumerate().take(last).skip(1) {
        let depth = k as f64 / last as f64;
        for (variant, loss) in [
            ("f32", 0.0),
            ("8bit-tensor", 0.01),
            ("4bit-tensor", 0.08),
            ("2bit-channel", 0.3),
        ] {
            let a = 0.92 - loss * (1.0 - depth);
            table.push_str(&format!("{}/{variant},{a:.4}\n", node.name));
        }
    }
    let table_path = d.join("acc.csv");
    std::fs::write(&table_path, table).unwrap();
    let out = d.join("out");
    let out_s = out.to_string_lossy().to_string();
    let mut args = vec!["tradeoff"];
    args.extend(TINY);
    args.extend([
        "--prune-ratios",
        "none",
        "--no-bottleneck",
        "--accuracy-table",
        table_path.to_str().unwrap(),
        "--out",
        &out_s,
    ]);
    let o = splitbench(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let csv = out.join("accuracy_latency.csv");
    has_columns(
        &csv,
        "link,method,config,accuracy,bytes,device_ms,transmit_ms,edge_ms,total_ms,on_front",
    );
    let rows = csv_rows(&csv);
    let num = |r: &std::collections::HashMap<String, String>, c: &str| -> f64 {
        r[c].parse().unwrap_or_else(|_| panic!("{c} = {}", r[c]))
    };
    for link in ["3G", "4G", "Wi-Fi"] {
        for method in [
            "device-only",
            "edge-only",
            "neurosurgeon",
            "best-split",
            "two-step-pruning",
            "three-step",
        ] {
            let mine: Vec<_> = rows
                .iter()
                .filter(|r| r["link"].starts_with(link) && r["method"] == method)
                .collect();
            assert!(!mine.is_empty(), "no rows for {method} at {link}");
            assert!(mine.iter().any(|r| r["on_front"] == "true"));
            for r in &mine {
                let (t, a) = (num(r, "total_ms"), num(r, "accuracy"));
                let parts = num(r, "device_ms") + num(r, "transmit_ms") + num(r, "edge_ms");
                assert!((parts - t).abs() <= 1e-6 * t.max(1.0), "{r:?}");
                let dominated = mine.iter().any(|q| {
                    let (qt, qa) = (num(q, "total_ms"), num(q, "accuracy"));
                    qt <= t && qa >= a && (qt < t || qa > a)
                });
                assert_eq!(
                    r["on_front"] == "true",
                    !dominated,
                    "{method} at {link}: {r:?}"
                );
            }
        }
        // The single-configuration methods have exactly their configuration.
        let only = |m: &str| {
            rows.iter()
                .filter(|r| r["link"].starts_with(link) && r["method"] == m)
                .map(|r| r["config"].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(only("edge-only"), ["input/uint8-input"]);
        assert_eq!(
            only("device-only"),
            [format!("{}/none", g.nodes[last].name)]
        );
    }
    // Only neurosurgeon's and best-split's f32 features and the two ends.
    assert!(rows
        .iter()
        .filter(|r| r["method"] == "best-split")
        .all(|r| r["config"].ends_with("/f32")
            || r["config"].ends_with("/none")
            || r["config"].ends_with("/uint8-input")));
    assert!(rows
        .iter()
        .any(|r| r["method"] == "three-step" && r["config"].ends_with("/2bit-channel")));
    for ext in ["png", "svg"] {
        let f = out.join(format!("f_accuracy_latency.{ext}"));
        assert!(
            std::fs::metadata(&f).is_ok_and(|m| m.len() > 1000),
            "chart {} missing or empty",
            f.display()
        );
    }
    let svg = std::fs::read_to_string(out.join("f_accuracy_latency.svg")).unwrap();
    assert!(svg.contains("top-1 accuracy"));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let files: Vec<&str> = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f.as_str())
        .collect();
    for f in [
        "accuracy_latency.csv",
        "f_accuracy_latency.png",
        "f_accuracy_latency.svg",
    ] {
        assert!(files.contains(&f), "manifest lacks {f}: {files:?}");
    }
}

#[test]
fn codec_timer_measures_and_caches() {
    let Some(ctx) = common::gpu() else { return };
    let mut t = splitbench::gpu::codec::CodecTimer::new(&ctx, 1, 3, 0);
    let s = t.time(64 * 16 * 16, 16 * 16, 4).unwrap();
    assert_eq!(s.encode.count, 3);
    assert_eq!(s.decode.count, 3);
    assert!(
        s.encode.median_ms > 0.0 && s.decode.median_ms > 0.0,
        "{s:?}"
    );
    assert!(t.method().is_some());
    // Cached: the same key is not measured again.
    assert_eq!(t.time(64 * 16 * 16, 16 * 16, 4).unwrap(), s);
    assert_eq!(t.measured(), 1);
    t.time(1000, 1000, 2).unwrap();
    assert_eq!(t.measured(), 2);
    // Bad keys are errors, not panics.
    assert!(t.time(10, 3, 4).is_err());
    assert!(t.time(10, 10, 9).is_err());
    assert!(t.time(0, 1, 4).is_err());
}
