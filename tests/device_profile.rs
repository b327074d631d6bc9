//! `splitbench tradeoff --device-profile`: the trade-off study from a device's profile and
//! kernel-times files, with no local GPU. The library half runs everywhere (a synthetic
//! profile); the CLI half profiles on the local adapter first (`profile --kernels`).

mod common;

use splitbench::model::{self, Shape, ZooOptions};
use splitbench::report::{
    read_kernel_times_csv, read_profile_csv, read_pruned_times_csv, ProfileRow,
};
use splitbench::study::{self, flop_scaled_ms, DeviceProfile, TradeoffOptions};
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    common::tmp_dir("device-profile", name)
}

fn tiny() -> model::Prepared {
    let o = ZooOptions {
        width: Some(8),
        input: Some(Shape::new(3, 16, 16)),
        ..Default::default()
    };
    model::prepare("resnet18-cifar", &o, None, 0).unwrap()
}

/// A batch-1 profile of `p` with 1 ms per MFLOP (+ 1 us per node), written to `path`.
fn synthetic_profile(p: &model::Prepared, path: &Path) -> Vec<ProfileRow> {
    let g = &p.model.graph;
    let rows = common::profile_rows(g, |n| n.flops(g) as f64 / 1e6 + 1e-3);
    splitbench::report::write_csv(path, &rows).unwrap();
    rows
}

fn fast_opts() -> TradeoffOptions {
    TradeoffOptions {
        reps: 2,
        ..Default::default()
    }
}

#[test]
fn study_from_a_synthetic_profile_without_gpu() {
    let dir = tmp("lib");
    let p = tiny();
    let g = &p.model.graph;
    let csv = dir.join("phone.csv");
    let rows = synthetic_profile(&p, &csv);
    let dev = DeviceProfile::new(csv.clone(), None);
    assert_eq!(dev.kernels, None, "no kernel-times file beside it");
    let m = study::measure_from_profile(&p, &fast_opts(), &dev, &mut ()).unwrap();
    // Device times are the CSV's, node for node.
    assert_eq!(m.device_rows, rows);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(m.problem.layers[i + 1].device_ms, r.device_ms_median);
    }
    // No manifest: the adapter is unknown and named after the file.
    assert!(
        m.run.adapter.name.starts_with("unknown device (profile "),
        "{}",
        m.run.adapter.name
    );
    assert!(m
        .device_source()
        .starts_with(&format!("profile {}", csv.display())));
    // Pruned prefixes: changed nodes FLOP-scaled from the profile (here: exact, as the
    // synthetic times are affine in FLOPs only through the 1 us constant).
    let base: Vec<f64> = std::iter::once(0.0)
        .chain(rows.iter().map(|r| r.device_ms_median))
        .collect();
    assert!(!m.pruned.is_empty());
    for pp in &m.pruned {
        let small = splitbench::compress::compact_graph(g, &pp.config).unwrap();
        assert_eq!(pp.device_node_ms, flop_scaled_ms(g, &base, &small));
        assert!(pp.device_node_ms.iter().sum::<f64>() < base.iter().sum::<f64>());
    }
    // Without a kernel-times file every kernel key is scaled from the profile's rates.
    let d = m.device_profile.as_ref().unwrap();
    assert_eq!((d.bottlenecks_measured, d.codec_measured), (0, 0));
    assert_eq!(d.bottlenecks_scaled, m.bottleneck_keys.len());
    assert_eq!(d.codec_scaled, m.codec.len());
    assert!(d
        .approximations
        .iter()
        .any(|a| a.contains("no kernel-times file")));
    // Feature bytes come from the CPU reference: the charted splits are all there.
    assert!(!m.bytes.is_empty());
    // The plan and the written study name the profile.
    let r = study::plan(&m, &fast_opts()).unwrap();
    assert!(
        r.study.title.contains("device: unknown device (profile "),
        "{}",
        r.study.title
    );
    let out = dir.join("study");
    let w = study::write(&out, &m, &r, &fast_opts()).unwrap();
    assert!(w.manifest.device_source.starts_with("profile "));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(json["device_profile"]["bottlenecks_measured"], 0);
    assert!(json["search_space"]["prune_note"]
        .as_str()
        .unwrap()
        .contains("approximated"));
}

#[test]
fn profile_of_another_model_is_rejected_naming_the_file() {
    let dir = tmp("other");
    let p = tiny();
    let csv = dir.join("other.csv");
    synthetic_profile(&p, &csv);
    let wider = model::prepare(
        "resnet18-cifar",
        &ZooOptions {
            width: Some(16),
            input: Some(Shape::new(3, 16, 16)),
            ..Default::default()
        },
        None,
        0,
    )
    .unwrap();
    let dev = DeviceProfile::new(csv.clone(), None);
    let e = study::measure_from_profile(&wider, &fast_opts(), &dev, &mut ())
        .unwrap_err()
        .to_string();
    assert!(e.contains(&*csv.to_string_lossy()), "{e}");
    assert!(e.contains("not a profile of this model"), "{e}");
    // A batch-4 profile of the right model is refused too.
    let mut rows = read_profile_csv(&csv).unwrap();
    for r in &mut rows {
        r.batch = 4;
    }
    splitbench::report::write_csv(&csv, &rows).unwrap();
    let e = study::measure_from_profile(&p, &fast_opts(), &dev, &mut ())
        .unwrap_err()
        .to_string();
    assert!(e.contains("batch 4") && e.contains("other.csv"), "{e}");
    // A broken kernel-times file names itself and the line.
    synthetic_profile(&p, &csv);
    let k = dir.join("k.csv");
    std::fs::write(&k, "kind,numel\ncodec,zero\n").unwrap();
    let dev = DeviceProfile::new(csv, Some(k));
    let e = study::measure_from_profile(&p, &fast_opts(), &dev, &mut ())
        .unwrap_err()
        .to_string();
    assert!(e.contains("k.csv") && e.contains("line 2"), "{e}");
}

const TINY: [&str; 6] = [
    "--model",
    "resnet18-cifar",
    "--width",
    "8",
    "--input",
    "3x16x16",
];

/// `splitbench` with an environment in which opening any GPU fails.
fn splitbench_without_gpu(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_splitbench"))
        .args(args)
        .env("SPLITBENCH_LIMITS", "no-gpu-in-this-test") // GpuContext::new refuses it
        .env("VK_ICD_FILENAMES", "/nonexistent")
        .output()
        .expect("binary runs")
}

#[test]
fn cli_profile_kernels_then_tradeoff_from_it() {
    if common::gpu().is_none() {
        return;
    }
    let dir = tmp("cli");
    let csv = dir.join("device_profile.csv");
    let csv_s = csv.to_string_lossy().to_string();
    let mut args = vec!["profile"];
    args.extend(TINY);
    args.extend([
        "--reps",
        "2",
        "--warmup",
        "1",
        "--no-autotune",
        "--kernels",
        "--out",
        &csv_s,
    ]);
    let o = common::splitbench(&args);
    assert!(o.status.success(), "profile: {}", common::stderr(&o));
    let kernels = dir.join("device_profile_kernels.csv");
    let krows = read_kernel_times_csv(&kernels).unwrap();
    assert!(!krows.is_empty());
    let pjson: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("device_profile.json")).unwrap())
            .unwrap();
    assert_eq!(pjson["kernels"]["file"], "device_profile_kernels.csv");
    assert_eq!(pjson["kernels"]["pruned_file"], "device_profile_pruned.csv");
    let pruned = read_pruned_times_csv(&dir.join("device_profile_pruned.csv")).unwrap();
    assert!(pruned.iter().any(|r| r.ratios.starts_with("0.5_")));
    let adapter = pjson["adapter"]["name"].as_str().unwrap().to_string();

    let out = dir.join("study");
    let out_s = out.to_string_lossy().to_string();
    let mut args = vec!["tradeoff"];
    args.extend(TINY);
    args.extend([
        "--prune-ratios",
        "0.5",
        "--device-profile",
        &csv_s,
        "--out",
        &out_s,
    ]);
    let o = splitbench_without_gpu(&args);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "tradeoff: {}\n{stdout}",
        common::stderr(&o)
    );
    assert!(
        stdout.contains("no local GPU") && stdout.contains("approximated:"),
        "{stdout}"
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let source = m["device_source"].as_str().unwrap();
    assert_eq!(
        source,
        format!(
            "profile {csv_s} measured on {adapter} ({})",
            m["timing"].as_str().unwrap()
        )
    );
    let d = &m["device_profile"];
    assert_eq!(d["kernels"], kernels.to_string_lossy().as_ref());
    assert!(d["bottlenecks_measured"].as_u64().unwrap() > 0, "{d}");
    assert!(d["codec_measured"].as_u64().unwrap() > 0, "{d}");
    // 0.5 is a default ratio: every pruned prefix of the search was timed on the device.
    assert!(d["pruned_measured"].as_u64().unwrap() > 0, "{d}");
    assert_eq!(d["pruned_scaled"], 0, "{d}");
    assert_eq!(m["adapter"]["name"], adapter.as_str());
    let title = std::fs::read_to_string(out.join("title.txt")).unwrap();
    assert!(
        title.contains(&format!("device: {adapter} (profile device_profile.csv)")),
        "{title}"
    );
    // The study's device times are the profile's.
    let want = read_profile_csv(&csv).unwrap();
    let got = read_profile_csv(&out.join("device_profile.csv")).unwrap();
    assert_eq!(got, want);
    let layers = std::fs::read_to_string(out.join("layers.csv")).unwrap();
    let mut lines = layers.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = head.iter().position(|h| *h == "device_ms").unwrap();
    let ms: Vec<f64> = lines
        .map(|l| l.split(',').nth(col).unwrap().parse().unwrap())
        .skip(1) // the input
        .collect();
    let want_ms: Vec<f64> = want.iter().map(|r| r.device_ms_median).collect();
    assert_eq!(ms, want_ms);

    // A profile of another model: one error line naming the file.
    let mut args = vec![
        "tradeoff",
        "--model",
        "resnet18-cifar",
        "--width",
        "16",
        "--input",
        "3x16x16",
    ];
    args.extend(["--device-profile", &csv_s, "--out", &out_s]);
    let o = splitbench_without_gpu(&args);
    let err = common::stderr(&o);
    assert!(!o.status.success());
    assert!(
        err.starts_with("error: ")
            && err.contains(&csv_s)
            && err.contains("not a profile of this model"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // A ratio the profile did not time: its prefixes are FLOP-scaled, and the manifest and
    // stdout say so.
    let out2 = dir.join("study-0.3");
    let out2_s = out2.to_string_lossy().to_string();
    let mut args = vec!["tradeoff"];
    args.extend(TINY);
    args.extend([
        "--prune-ratios",
        "0.3",
        "--device-profile",
        &csv_s,
        "--out",
        &out2_s,
    ]);
    let o = splitbench_without_gpu(&args);
    assert!(o.status.success(), "tradeoff: {}", common::stderr(&o));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out2.join("manifest.json")).unwrap())
            .unwrap();
    let d = &m["device_profile"];
    assert_eq!(d["pruned_measured"], 0, "{d}");
    assert!(d["pruned_scaled"].as_u64().unwrap() > 0, "{d}");
    assert!(String::from_utf8_lossy(&o.stdout).contains("FLOP-scaled"));
}
