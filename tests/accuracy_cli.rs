//! `splitbench accuracy` and `eval --config` end to end on a tiny seeded model and a small
//! Fashion-MNIST-format test split the test writes: the configurations it finds from the
//! files next to the base weights, the two CSVs (the table parses as the planner reads it),
//! resuming without re-evaluating, and one-line errors.

mod common;

use common::{splitbench, stderr};
use splitbench::compress::{compact_graph, Bottleneck, PruneConfig};
use splitbench::eval::TrainedFiles;
use splitbench::model::{self, zoo, Shape, ZooOptions};
use splitbench::study::AccuracyTable;
use std::path::PathBuf;
use std::process::Output;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("splitbench-acc-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn accuracy_table_of_a_tiny_model() {
    if common::gpu().is_none() {
        return;
    }
    let dir = tmp("table");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    common::write_test_split(&data);
    let opts = ZooOptions {
        input: Some(Shape::new(1, 28, 28)),
        classes: Some(10),
        width: Some(4),
    };
    let torch = zoo::build("resnet18-cifar", &opts).unwrap();
    let base = dir.join("tiny.safetensors");
    model::save_safetensors(&model::seeded(&torch, 2), &base).unwrap();
    let files = TrainedFiles::beside(&base);
    // One bottleneck (C/4 at layer2: 8 channels -> 2) and one last-stage pruning at layer3.
    let fused = model::fuse_graph(&torch).unwrap();
    let (_, l2) = model::paper_split_points(&fused)[2];
    let spec = Bottleneck::new(fused.nodes[l2].shape, 2).unwrap();
    let mut w = spec.encoder(1).unwrap().weights;
    w.extend(spec.decoder(1).unwrap().weights);
    model::save_safetensors(&w, &files.bottleneck(&fused.nodes[l2].name, 2)).unwrap();
    let p = PruneConfig::new(&[0.0, 0.0, 0.0, 0.5, 0.0]).unwrap();
    let small = compact_graph(&torch, &p).unwrap();
    model::save_safetensors(&model::seeded(&small, 3), &files.pruned(&p)).unwrap();

    let out = dir.join("acc");
    // The model and data flags of every command below.
    let m = [
        "--model",
        "resnet18-cifar",
        "--width",
        "4",
        "--weights",
        base.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ];
    let args = [
        &["accuracy"][..],
        &m,
        &["--batch", "5", "--out", out.to_str().unwrap()],
    ]
    .concat();
    let o = splitbench(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    // 2 whole-model rows + 5 splits x 4 plain + bottleneck x 3 bits + pruned x 4 encodings.
    let want = 2 + 5 * 4 + 3 + 4;
    let table = AccuracyTable::read(&out.join("accuracy_table.csv")).unwrap();
    assert_eq!(table.len(), want, "{:?}", table.entries);
    let acc = |c: &str| table.get(&c.parse().unwrap());
    let name = &fused.nodes[l2].name;
    for c in [
        "fc/none".to_string(),
        "input/uint8-input".to_string(),
        format!("{name}/bn2+2bit-tensor"),
        "layer3.1.conv2/prune-0_0_0_0.5_0+4bit-tensor".to_string(),
        "conv1/f32".to_string(),
    ] {
        assert!(acc(&c).is_some(), "{c} missing");
    }
    // Lossless sends agree with the whole model.
    assert_eq!(acc("conv1/f32"), acc("fc/none"));
    let detail = std::fs::read_to_string(out.join("accuracy.csv")).unwrap();
    assert!(detail.starts_with(
        "config,split,variant,images,correct,accuracy_pct,frame_bytes,f32_frame_bytes,reduction_vs_f32,seconds"
    ));
    assert!(
        detail.lines().skip(1).all(|l| l.contains(",12,")),
        "{detail}"
    );
    // The summary: per split, the best configuration sending >= 32x fewer bytes than f32.
    let summary = std::fs::read_to_string(out.join("accuracy_summary.csv")).unwrap();
    assert!(summary.starts_with("split,config,accuracy_pct,base_pct,gap_points,frame_bytes,"));
    // The C/4 bottleneck at 2 bits sends far fewer than 32x the f32 bytes: a row at least.
    assert!(summary.lines().count() > 1, "{summary}");
    for l in summary.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let red: f64 = f[6].parse().unwrap();
        assert!(red >= 32.0, "{l}");
    }
    // Run again: everything is kept, nothing re-evaluated.
    let o = splitbench(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("({want} already in")),
        "{}",
        stdout(&o)
    );
    assert!(!stdout(&o).contains("[1/"), "{}", stdout(&o));

    // eval --config gives the same count as the table.
    let eval = |config: &str| splitbench(&[&["eval"][..], &m, &["--config", config]].concat());
    let o = eval(&format!("{name}/bn2+2bit-tensor"));
    assert!(o.status.success(), "{}", stderr(&o));
    let pct = format!("{:.2}%", acc(&format!("{name}/bn2+2bit-tensor")).unwrap());
    assert!(stdout(&o).contains(&pct), "{pct} not in {}", stdout(&o));

    // A config whose trained file is missing: one line naming the file.
    let o = eval(&format!("{name}/bn4+2bit-tensor"));
    assert!(!o.status.success());
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("tiny.{name}-bn4.safetensors")),
        "{err}"
    );

    // A node that is not in the model, and device-only's variant at a split node, are
    // refused with the valid choices instead of evaluating the whole model.
    for (config, why) in [
        (
            "nonsense/none",
            "no node `nonsense` in resnet18-cifar; valid: `input/uint8-input`, `fc/none`",
        ),
        (
            "conv1/none",
            "`none` (device-only) is only valid at the last node: `fc/none`",
        ),
    ] {
        let o = eval(config);
        assert!(!o.status.success(), "{config}: {}", stdout(&o));
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(why), "{config}: {err}");
    }
    let o = eval("conv1/7bit-sideways");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--config"), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).ok();
}
