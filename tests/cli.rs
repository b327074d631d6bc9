//! The command-line contract: subcommands, output files and columns, one-line errors.

mod common;

use common::{splitbench, stderr};
use std::path::PathBuf;
use std::process::Output;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("splitbench-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn assert_one_line_error(o: &Output, needle: &str) {
    assert!(
        !o.status.success(),
        "expected failure, stdout: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let err = stderr(o);
    assert_eq!(err.lines().count(), 1, "want one line, got:\n{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(needle), "'{needle}' not in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn inspect_prints_totals_and_split_points() {
    let o = splitbench(&["inspect", "--model", "resnet18-cifar"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("params=11173962"), "{out}");
    assert!(out.lines().any(|l| l.contains("flops=")));
    for point in ["stem", "layer1", "layer2", "layer3", "layer4"] {
        assert!(
            out.contains(&format!("paper split point '{point}'")),
            "{point}"
        );
    }
    assert!(
        out.contains("262144 bytes  <- paper split point 'layer1'"),
        "{out}"
    );
    let o = splitbench(&["inspect", "--model", "resnet50"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("params=25557032"));
}

#[test]
fn bad_arguments_fail_with_one_line() {
    assert_one_line_error(
        &splitbench(&["inspect", "--model", "resnet19"]),
        "unknown model 'resnet19'",
    );
    assert_one_line_error(
        &splitbench(&["inspect", "--model", "resnet18", "--input", "3x0x4"]),
        "--input",
    );
    let out = tmp("bad").join("p.csv");
    let out = out.to_str().unwrap();
    let base = [
        "profile",
        "--model",
        "resnet18-cifar",
        "--width",
        "8",
        "--out",
        out,
    ];
    let with = |extra: &[&str]| {
        let mut v: Vec<&str> = base.to_vec();
        v.extend_from_slice(extra);
        splitbench(&v)
    };
    assert_one_line_error(&with(&["--batch", "0"]), "--batch");
    assert_one_line_error(&with(&["--reps", "0"]), "--reps");
    assert_one_line_error(&with(&["--timing", "sundial"]), "--timing");
    assert_one_line_error(
        &with(&["--weights", "/nonexistent/w.safetensors"]),
        "/nonexistent/w.safetensors",
    );
    let dir = tmp("weights");
    let garbage = dir.join("garbage.safetensors");
    std::fs::write(&garbage, b"this is not a safetensors file at all").unwrap();
    assert_one_line_error(
        &with(&["--weights", garbage.to_str().unwrap()]),
        "garbage.safetensors",
    );
    // A valid file cut short.
    let g = splitbench::model::zoo::build(
        "resnet18-cifar",
        &splitbench::model::ZooOptions {
            width: Some(8),
            ..Default::default()
        },
    )
    .unwrap();
    let full = dir.join("full.safetensors");
    splitbench::model::save_safetensors(&splitbench::model::seeded(&g, 1), &full).unwrap();
    let bytes = std::fs::read(&full).unwrap();
    let cut = dir.join("truncated.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert_one_line_error(
        &with(&["--weights", cut.to_str().unwrap()]),
        "truncated.safetensors",
    );
    // Weights of another width: a key with the wrong shape.
    let other = splitbench::model::zoo::build(
        "resnet18-cifar",
        &splitbench::model::ZooOptions {
            width: Some(16),
            ..Default::default()
        },
    )
    .unwrap();
    let wrong = dir.join("wrong.safetensors");
    splitbench::model::save_safetensors(&splitbench::model::seeded(&other, 1), &wrong).unwrap();
    assert_one_line_error(
        &with(&["--weights", wrong.to_str().unwrap()]),
        "conv1.weight",
    );
    if common::gpu().is_some() {
        assert_one_line_error(&with(&["--adapter", "no-such-gpu-xyz"]), "no-such-gpu-xyz");
    }
}

#[test]
fn counts_and_huge_batches_are_refused_in_one_line() {
    let out = tmp("counts").join("x.safetensors");
    let out = out.to_str().unwrap();
    // `train --batch 0` once divided by zero after loading the dataset: now clap refuses it.
    #[cfg(feature = "train")]
    assert_one_line_error(
        &splitbench(&[
            "train",
            "--model",
            "resnet18-cifar",
            "--batch",
            "0",
            "--out",
            out,
        ]),
        "invalid value '0' for '--batch <BATCH>': must be at least 1",
    );
    assert_one_line_error(
        &splitbench(&[
            "eval",
            "--model",
            "resnet18-cifar",
            "--weights",
            out,
            "--batch",
            "0",
        ]),
        "'--batch <BATCH>': must be at least 1",
    );
    // A batch whose activations overflow the size arithmetic: an error naming the batch,
    // not a panic (debug) or a wrapped size (release).
    if common::gpu().is_some() {
        let csv = tmp("counts").join("p.csv");
        for batch in ["10000000000000000", "100000000000000", "2000000"] {
            let o = splitbench(&[
                "profile",
                "--model",
                "resnet18-cifar",
                "--width",
                "8",
                "--batch",
                batch,
                "--out",
                csv.to_str().unwrap(),
            ]);
            assert_one_line_error(&o, "batch");
        }
    }
}

#[test]
fn timing_flag_takes_the_names_the_rows_write() {
    if common::gpu().is_none() {
        return;
    }
    let csv = tmp("timing").join("p.csv");
    let o = splitbench(&[
        "profile",
        "--model",
        "resnet18-cifar",
        "--width",
        "8",
        "--reps",
        "1",
        "--timing",
        "timestamp-pass",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = splitbench::report::read_profile_csv(&csv).unwrap();
    assert!(rows.iter().all(|r| r.timing == "timestamp-pass"));
}

#[test]
fn profile_writes_csv_and_manifest() {
    if common::gpu().is_none() {
        return;
    }
    let dir = tmp("profile");
    let csv = dir.join("r18.csv");
    let o = splitbench(&[
        "profile",
        "--model",
        "resnet18-cifar",
        "--width",
        "16",
        "--batch",
        "2",
        "--reps",
        "3",
        "--out",
        csv.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("sum of per-node medians"), "{stdout}");
    let rows = splitbench::report::read_profile_csv(&csv).unwrap();
    assert_eq!(rows.len(), 23, "one row per executed node");
    let text = std::fs::read_to_string(&csv).unwrap();
    let header = text.lines().next().unwrap();
    for col in [
        "node",
        "op",
        "out_shape",
        "flops",
        "out_bytes",
        "device_ms_median",
        "device_ms_p5",
        "device_ms_p95",
        "timing",
    ] {
        assert!(
            header.split(',').any(|c| c == col),
            "column {col} missing: {header}"
        );
    }
    for r in &rows {
        assert!(
            r.timing.starts_with("timestamp-"),
            "{}: {}",
            r.node,
            r.timing
        );
        assert_eq!(r.batch, 2);
        assert_eq!(r.reps, 3);
    }
    assert_eq!(rows[0].out_shape, "2x16x32x32");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(csv.with_extension("json")).unwrap())
            .unwrap();
    for key in [
        "adapter",
        "wgpu_version",
        "git_revision",
        "model",
        "batch",
        "reps",
        "whole_graph_ms_median",
        "sum_of_node_medians_ms",
        "model_hash",
    ] {
        assert!(manifest.get(key).is_some(), "manifest lacks {key}");
    }
    assert_eq!(manifest["batch"], 2);
    assert!(manifest["whole_graph_ms_median"].as_f64().unwrap() > 0.0);
}

#[test]
fn devices_lists_the_adapter() {
    if common::gpu().is_none() {
        return;
    }
    let o = splitbench(&["devices"]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("timestamps:") && out.contains("limits:"),
        "{out}"
    );
}
