//! The kernel efficiency table: it covers the shapes the study's conclusions hinge on
//! (narrow bottleneck encoders and their decoders, few-pixel layers, the stems, the
//! classifiers), and its columns follow its conventions (the roofline is the best conv
//! rate or arithmetic intensity x copy bandwidth, whichever is lower; the target is 50% of
//! it).

mod common;

use common::gpu;
use splitbench::study::efficiency::{
    cases, drift_warnings, measure_efficiency, EfficiencyOptions, TARGET_PCT,
};

#[test]
fn the_table_covers_the_studys_critical_shapes() {
    let names: Vec<String> = cases(false)
        .unwrap()
        .iter()
        .map(|c| c.shape_name(1))
        .collect();
    for want in [
        "1x16x112x112 -> 1x112x112 k3x3 s1",
        "1x16x112x112 -> 4x112x112 k3x3 s1",
        "1x24x112x112 -> 1x112x112 k3x3 s1",
        "1x16x56x56 -> 1x56x56 k3x3 s1",
        "1x24x56x56 -> 1x56x56 k3x3 s1",
        "1x1x112x112 -> 16x112x112 k3x3 s1",
        "1x512x4x4 -> 512x4x4 k3x3 s1",
        "1x3x32x32 -> 64x32x32 k3x3 s1",
        "1x3x224x224 -> 32x112x112 k3x3 s2",
        "1x3x224x224 -> 64x112x112 k7x7 s2",
        "1x32x112x112 -> 32x112x112 k3x3 s1 g32",
        "1x1280 -> 1000",
        "1x512 -> 10",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from the table"
        );
    }
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len(), "a shape is in the table twice");
}

#[test]
fn rows_follow_the_roofline_conventions() {
    let Some(ctx) = gpu() else { return };
    let opts = EfficiencyOptions {
        warmup: 0,
        reps: 2,
        copy_bytes: 1 << 20,
        max_shapes: Some(4),
        passes: 1,
        ..Default::default()
    };
    let t = measure_efficiency(&ctx, &opts, &mut ()).unwrap();
    let m = &t.manifest;
    assert_eq!(t.rows.len(), 4);
    assert!(m.copy_gbps > 0.0 && m.best_conv_gflops > 0.0, "{m:?}");
    for r in &t.rows {
        assert!(!r.kernel.is_empty() && r.median_ms > 0.0, "{r:?}");
        let intensity = r.flops as f64 / r.bytes as f64;
        let roof = (intensity * m.copy_gbps).min(m.best_conv_gflops);
        let want_bound = if intensity * m.copy_gbps < m.best_conv_gflops {
            "memory"
        } else {
            "compute"
        };
        assert_eq!(r.bound, want_bound, "{r:?}");
        assert!(
            (r.pct_of_roofline - 100.0 * r.gflops / roof).abs() < 1e-6,
            "{r:?}"
        );
        assert_eq!(r.meets_target, r.pct_of_roofline >= TARGET_PCT, "{r:?}");
        // The floor columns: the roofline's time plus an empty dispatch's, against the
        // measured time; floor-bound when the floor alone is as long as the roofline's time.
        let roof_ms = r.flops as f64 / (roof * 1e6);
        assert!(
            (r.pct_of_roofline_with_floor - 100.0 * (roof_ms + m.dispatch_floor_ms) / r.median_ms)
                .abs()
                < 1e-6,
            "{r:?}"
        );
        assert_eq!(r.floor_bound, m.dispatch_floor_ms >= roof_ms, "{r:?}");
    }
    assert!(m.dispatch_floor_ms > 0.0, "{m:?}");
    assert_eq!(
        m.shapes_floor_bound,
        t.rows
            .iter()
            .filter(|r| !r.meets_target && r.floor_bound)
            .count()
    );
    // The bar is the table's fastest convs timed again; the table's own fastest row is
    // recorded beside it, and every row's % is against the bar.
    let convs: Vec<_> = t
        .rows
        .iter()
        .filter(|r| matches!(r.op.as_str(), "conv" | "conv1x1"))
        .collect();
    let max = convs.iter().map(|r| r.gflops).fold(0.0, f64::max);
    assert!((m.table_max_conv_gflops - max).abs() < 1e-9, "{m:?}");
    // The copy is the higher of its two runs; a drift between two measurements of a bar
    // is reported in the manifest and the text.
    assert_eq!(m.copy_gbps, m.copy_gbps_runs[0].max(m.copy_gbps_runs[1]));
    assert_eq!(
        m.drift,
        drift_warnings(
            m.table_max_conv_gflops,
            m.best_conv_gflops,
            m.copy_gbps_runs
        )
    );
    assert_eq!(t.text().contains("warning:"), !m.drift.is_empty());
    assert!(convs.iter().any(|r| r.shape == m.best_conv_shape), "{m:?}");
    for r in &t.rows {
        let want = 100.0 * r.gflops / m.best_conv_gflops;
        assert!((r.pct_of_best_conv - want).abs() < 1e-6, "{r:?}");
    }
    let dir = std::env::temp_dir().join(format!("splitbench-eff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (csv, json) = t.write(&dir).unwrap();
    let text = std::fs::read_to_string(csv).unwrap();
    let header = text.lines().next().unwrap();
    for col in [
        "shape",
        "gflops",
        "gbps",
        "pct_of_best_conv",
        "pct_of_copy_bw",
        "bound",
        "pct_of_roofline_with_floor",
        "floor_bound",
    ] {
        assert!(header.split(',').any(|c| c == col), "{col} not in {header}");
    }
    let manifest = std::fs::read_to_string(json).unwrap();
    assert!(manifest.contains("copy_gbps") && manifest.contains("dispatch_floor_ms"));
    std::fs::remove_dir_all(&dir).ok();
    assert!(t.text().contains("shapes at >= 50% of their roofline"));
}

#[test]
fn only_filters_the_shapes_and_rejects_a_filter_that_matches_none() {
    let Some(ctx) = gpu() else { return };
    let opts = |only: &str| EfficiencyOptions {
        warmup: 0,
        reps: 1,
        copy_bytes: 1 << 20,
        passes: 2,
        only: Some(only.into()),
        ..Default::default()
    };
    // The 7x7 depthwise layer of MobileNetV2 (one shape), measured in two passes.
    let t = measure_efficiency(&ctx, &opts("960x7x7 -> 960x7x7"), &mut ()).unwrap();
    assert_eq!(t.rows.len(), 1, "{:?}", t.rows);
    assert_eq!(t.rows[0].op, "dwconv");
    assert_eq!(t.manifest.passes, 2);
    assert_eq!(t.manifest.only.as_deref(), Some("960x7x7 -> 960x7x7"));
    let e = measure_efficiency(&ctx, &opts("no-such-layer"), &mut ()).unwrap_err();
    assert!(e.to_string().contains("no-such-layer"), "{e}");
}
