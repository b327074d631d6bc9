//! The browser profiler in a real browser: `scripts/web-profile.sh` serves the page with
//! `splitbench web` and runs it in headless Chromium (WebGPU through SwiftShader); the
//! profile must have native `profile`'s nodes, and the browser's output must equal the
//! native engine's; `tradeoff --device-profile` then plans from the browser's files alone.
//! Needs the built page (`scripts/build-web.sh`, which
//! `scripts/setup.sh --web` runs) and Chromium: skipped without them, a failure under
//! `SPLITBENCH_REQUIRE_GPU=1` (CI), where they are installed.

mod common;

use splitbench::model::{self, ZooOptions};
use splitbench::report::{read_profile_csv, OutputCheck};
use splitbench::study::profile::{check_output_async, profile, ProfileOptions};
use std::path::Path;
use std::process::Command;

/// Why the browser test cannot run here, if it cannot.
fn missing(root: &Path) -> Option<String> {
    if !root.join("web/dist/pkg/splitbench_web_bg.wasm").is_file() {
        return Some("web/dist is not built (scripts/build-web.sh)".into());
    }
    let chrome = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let found = Command::new(&chrome).arg("--version").output();
    if !found.is_ok_and(|o| o.status.success()) {
        return Some(format!("no '{chrome}' (apt-get install chromium)"));
    }
    None
}

/// Where the browser tests run, or `None` after printing why they are skipped (a failure
/// under `SPLITBENCH_REQUIRE_GPU=1`).
fn browser_ready() -> Option<(splitbench::gpu::GpuContext, &'static Path)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Some(why) = missing(root) {
        if std::env::var("SPLITBENCH_REQUIRE_GPU").is_ok_and(|v| v == "1") {
            panic!("SPLITBENCH_REQUIRE_GPU=1 but {why}: run scripts/setup.sh --web");
        }
        eprintln!("skipped: {why}");
        return None;
    }
    Some((common::gpu()?, root))
}

/// `scripts/web-profile.sh` for `model` (2 reps) into `dir/browser.csv`; checks that the
/// browser's profile has native `profile`'s nodes, that its manifest names the browser,
/// and that its output equals the native engine's on the same seeded input. Returns the
/// CSV and the manifest.
fn profile_in_browser(
    ctx: &splitbench::gpu::GpuContext,
    root: &Path,
    model: &str,
    timing: Option<&str>,
    dir: &Path,
) -> (std::path::PathBuf, serde_json::Value) {
    let _ = std::fs::remove_dir_all(dir);
    let csv = dir.join("browser.csv");
    let out = Command::new("bash")
        .arg(root.join("scripts/web-profile.sh"))
        .args(["--model", model, "--reps", "2", "--warmup", "1"])
        .arg("--out")
        .arg(&csv)
        .args(["--timeout", "600"])
        .args(timing.map(|t| ["--timing", t]).into_iter().flatten())
        .env("SPLITBENCH", env!("CARGO_BIN_EXE_splitbench"))
        .env("SPLITBENCH_TILE_CACHE", common::test_tile_cache())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "web-profile.sh failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The same nodes, in the same order, with the same shapes as native `profile`.
    let browser = read_profile_csv(&csv).unwrap();
    let p = model::prepare(model, &ZooOptions::default(), None, 0).unwrap();
    let o = ProfileOptions {
        batch: 1,
        reps: 1,
        warmup: 0,
        timing: None,
        seed: 0,
    };
    let native = profile(ctx, &p, &o).unwrap();
    let nodes = |rows: &[splitbench::report::ProfileRow]| -> Vec<(String, String, String)> {
        rows.iter()
            .map(|r| (r.node.clone(), r.op.clone(), r.out_shape.clone()))
            .collect()
    };
    assert_eq!(nodes(&browser), nodes(&native.rows));
    assert!(browser
        .iter()
        .all(|r| r.device_ms_median.is_finite() && r.reps == 2));

    // The manifest says a browser measured it, on which adapter, with which clock.
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(csv.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(manifest["adapter"]["backend"], "BrowserWebGpu");
    assert!(!manifest["adapter"]["name"].as_str().unwrap().is_empty());
    assert!(manifest["browser"]["user_agent"]
        .as_str()
        .unwrap()
        .contains("Chrome"));
    assert_eq!(manifest["timing"], browser[0].timing);

    // The browser's outputs are the native engine's (and the CPU reference's), on the same
    // seeded input.
    let check: OutputCheck =
        serde_json::from_str(&std::fs::read_to_string(dir.join("browser_check.json")).unwrap())
            .unwrap();
    let here = pollster::block_on(check_output_async(ctx, &p, 0)).unwrap();
    assert_eq!(check.gpu.len(), here.gpu.len());
    common::assert_close(&check.gpu, &here.gpu, 1e-3, "browser vs native outputs");
    common::assert_close(&check.gpu, &here.cpu, 1e-3, "browser vs CPU reference");
    assert!(check.max_abs_diff <= 1e-3 * check.max_abs_ref.max(1.0));
    (csv, manifest)
}

#[test]
fn browser_profile_has_native_nodes_and_outputs() {
    let Some((ctx, root)) = browser_ready() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("splitbench-web-{}", std::process::id()));
    let (csv, manifest) = profile_in_browser(&ctx, root, "resnet18-cifar", None, &dir);

    // The study runs from the browser's files alone, and says where its device times came
    // from: the browser's adapter, every pruned prefix measured there.
    let study = dir.join("study");
    let o = common::splitbench_command()
        .args([
            "tradeoff",
            "--model",
            "resnet18-cifar",
            "--prune-ratios",
            "0.5",
        ])
        .arg("--device-profile")
        .arg(&csv)
        .arg("--out")
        .arg(&study)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "tradeoff --device-profile: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let adapter = manifest["adapter"]["name"].as_str().unwrap();
    let title = std::fs::read_to_string(study.join("title.txt")).unwrap();
    assert!(
        title.contains(&format!("device: {adapter} (profile ")),
        "{title}"
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(study.join("manifest.json")).unwrap())
            .unwrap();
    let d = &m["device_profile"];
    assert!(d["pruned_measured"].as_u64().unwrap() > 0, "{d}");
    assert_eq!(d["pruned_scaled"], 0, "{d}");
    assert!(d["bottlenecks_measured"].as_u64().unwrap() > 0, "{d}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// An ONNX file picked in the page: the page fetches it, imports it in wasm and profiles it
/// (timed by the wall clock: the path of a browser without `timestamp-query`).
#[test]
fn browser_profiles_an_onnx_file() {
    let Some((ctx, root)) = browser_ready() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("splitbench-web-onnx-{}", std::process::id()));
    let model = root.join("tests/fixtures/onnx/tiny_mobilenet_ts17.onnx");
    let model = model.to_str().unwrap();
    let (_, manifest) = profile_in_browser(&ctx, root, model, Some("wall-clock"), &dir);
    assert_eq!(manifest["model"], "tiny_mobilenet_ts17");
    assert_eq!(manifest["timing"], "wall-clock");
    let _ = std::fs::remove_dir_all(&dir);
}

/// One HTTP/1.1 request to `addr`; the status code and body.
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{method} {path}: response {out:?}"));
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// `splitbench web` without a browser: serves the page's files (nothing outside its root),
/// rejects a malformed result, saves a good one in `profile`'s files and exits (`--once`).
#[test]
fn web_server_serves_the_page_and_saves_results() {
    let dir = std::env::temp_dir().join(format!("splitbench-web-server-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let root = dir.join("dist");
    std::fs::create_dir_all(root.join("pkg")).unwrap();
    std::fs::write(root.join("index.html"), "<!doctype html>page").unwrap();
    std::fs::write(root.join("pkg/splitbench_web_bg.wasm"), b"\0asm").unwrap();
    std::fs::write(dir.join("secret.txt"), "outside the root").unwrap();
    let out = dir.join("saved");

    // Without a built page: an error that says how to build it.
    let o = common::splitbench_command()
        .args(["web", "--listen", "127.0.0.1:0", "--root"])
        .arg(dir.join("nothing"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("scripts/build-web.sh"));

    let mut server = common::splitbench_command()
        .args([
            "web",
            "--listen",
            "127.0.0.1:0",
            "--once",
            "--timeout-s",
            "60",
        ])
        .arg("--root")
        .arg(&root)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(server.stdout.take().unwrap()));
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .strip_prefix("serving http://")
        .and_then(|s| s.strip_suffix('/'))
        .unwrap_or_else(|| panic!("first line: {first}"))
        .to_string();

    assert_eq!(
        http(&addr, "GET", "/", ""),
        (200, "<!doctype html>page".into())
    );
    assert_eq!(http(&addr, "GET", "/pkg/splitbench_web_bg.wasm", "").0, 200);
    assert_eq!(http(&addr, "GET", "/../secret.txt", "").0, 404);
    assert_eq!(http(&addr, "GET", "/missing.js", "").0, 404);
    let (status, body) = http(&addr, "POST", "/result", "{\"model\": 1}");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not a result of the page"), "{body}");

    // A result whose CSV is not a profile is rejected too, naming the file.
    let result = |csv: &str| {
        serde_json::json!({
            "model": "resnet18-cifar",
            "profile_csv": csv,
            "manifest_json": "{\"adapter\": {\"name\": \"test adapter\"}}",
            "kernels_csv": "kind\n",
            "pruned_csv": null,
            "check": {"gpu": [1.0], "cpu": [1.0], "max_abs_diff": 0.0, "max_abs_ref": 1.0},
        })
        .to_string()
    };
    let (status, body) = http(&addr, "POST", "/result", &result("node,op\nconv1\n"));
    assert_eq!(status, 400);
    assert!(body.contains("device_profile.csv"), "{body}");
    let csv = "node,op,out_shape,batch,flops,out_bytes,in_bytes,device_ms_median,device_ms_p5,\
               device_ms_p95,reps,dispatches,timing\n\
               conv1,conv,1x64x32x32,1,3670016,262144,19456,1.5,1.4,1.6,3,1,timestamp-pass\n";
    let (status, body) = http(&addr, "POST", "/result", &result(csv));
    assert_eq!(status, 200, "{body}");
    assert!(
        server.wait().unwrap().success(),
        "--once exits after a result"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("device_profile.csv")).unwrap(),
        csv
    );
    assert!(out.join("device_profile.json").is_file());
    assert!(out.join("device_profile_kernels.csv").is_file());
    assert!(!out.join("device_profile_pruned.csv").exists());
    let check: OutputCheck =
        serde_json::from_str(&std::fs::read_to_string(out.join("output_check.json")).unwrap())
            .unwrap();
    assert_eq!(check.gpu, [1.0]);
    let _ = std::fs::remove_dir_all(&dir);
}
