//! splitbench's per-node profiler on a browser's GPU: the engine, compiled to wasm32 with
//! wgpu's WebGPU backend, runs the same library calls as `splitbench profile` (the async
//! twins of the native ones: nothing may block in a browser) and returns what the page
//! shows, downloads and sends to `splitbench web`.

use splitbench::gpu::{self, GpuContext};
use splitbench::model::{self, Shape, ZooOptions};
use splitbench::report::{BrowserInfo, WebResult};
use splitbench::study::kernel_times::timing_method;
use splitbench::study::profile::{check_output_async, profile_async, ProfileOptions};
use splitbench::study::Progress;
use std::path::Path;
use wasm_bindgen::prelude::*;

/// What the page asks for (JSON from JavaScript).
#[derive(serde::Deserialize)]
struct Request {
    /// A zoo name, or the name of the ONNX file passed beside the request.
    model: String,
    /// Per-sample input `CxHxW` (zoo models: optional; ONNX: fixes symbolic dimensions).
    #[serde(default)]
    input: Option<String>,
    batch: usize,
    reps: usize,
    warmup: usize,
    #[serde(default)]
    seed: u64,
    /// Also time the study's codec and bottleneck kernels (`profile --kernels`).
    #[serde(default)]
    kernels: bool,
    /// Per-node timing method (`timestamp-pass`, `wall-clock`); default: the best the
    /// browser grants.
    #[serde(default)]
    timing: Option<String>,
    /// `navigator.userAgent`.
    user_agent: String,
    /// The adapter's `GPUAdapterInfo` as the page read it: wgpu leaves the name empty in a
    /// browser, and every output must say what measured it.
    #[serde(default)]
    adapter: AdapterInfo,
}

#[derive(serde::Deserialize, Default)]
struct AdapterInfo {
    #[serde(default)]
    vendor: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    device: String,
    #[serde(default)]
    description: String,
}

impl AdapterInfo {
    /// `description`, else `vendor architecture device`, else a placeholder.
    fn name(&self) -> String {
        if !self.description.trim().is_empty() {
            return self.description.trim().to_string();
        }
        let parts: Vec<&str> = [&self.vendor, &self.architecture, &self.device]
            .into_iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect();
        if parts.is_empty() {
            "unnamed WebGPU adapter".into()
        } else {
            parts.join(" ")
        }
    }
}

/// The name the server saves the profile under (its manifest names the kernels file after
/// it, as `splitbench profile` does).
const PROFILE_CSV: &str = "device_profile.csv";

/// The zoo's model names, for the page's picker.
#[wasm_bindgen]
pub fn zoo_models() -> Vec<String> {
    model::zoo::names().iter().map(|s| s.to_string()).collect()
}

/// Profiles a model on this browser's GPU and checks its output against the CPU
/// reference. `request` is a JSON [`Request`]; `onnx` holds the file's bytes when the
/// model is an ONNX file; `status` is called with a line per stage. Returns a JSON
/// [`Page`] (which holds the [`WebResult`]).
#[wasm_bindgen]
pub async fn profile(
    request: String,
    onnx: Option<Vec<u8>>,
    status: js_sys::Function,
) -> Result<String, JsError> {
    let say = |line: &str| {
        let _ = status.call1(&JsValue::NULL, &JsValue::from_str(line));
    };
    let req: Request =
        serde_json::from_str(&request).map_err(|e| JsError::new(&format!("request: {e}")))?;
    let input = req
        .input
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(str::parse::<Shape>)
        .transpose()
        .map_err(|e| JsError::new(&format!("input shape: {e}")))?;
    say("opening the WebGPU adapter");
    let mut ctx = GpuContext::new_web().await.map_err(js)?;
    if ctx.summary.name.is_empty() {
        ctx.summary.name = req.adapter.name();
    }
    if ctx.summary.driver.is_empty() {
        ctx.summary.driver = req.adapter.vendor.clone();
    }
    let p = match &onnx {
        Some(bytes) => model::prepare_onnx_bytes(bytes, &req.model, input),
        None => {
            let opts = ZooOptions {
                input,
                ..Default::default()
            };
            model::prepare(&req.model, &opts, None, req.seed)
        }
    }
    .map_err(js)?;
    let g = &p.model.graph;
    say(&format!(
        "{} {} on {}: profiling {} nodes, batch {}, {} reps after {} warm-up",
        g.name,
        g.input_shape(),
        ctx.summary.name,
        g.nodes.len() - 1,
        req.batch,
        req.reps,
        req.warmup
    ));
    let timing = match req.timing.as_deref().filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => {
            Some(timing_method(t).ok_or_else(|| JsError::new(&format!("unknown timing '{t}'")))?)
        }
    };
    let opts = ProfileOptions {
        batch: req.batch,
        reps: req.reps,
        warmup: req.warmup,
        timing,
        seed: req.seed,
    };
    let mut prof = profile_async(&ctx, &p, &opts).await.map_err(js)?;
    say("measuring the timestamp resolution");
    prof.manifest.browser = Some(BrowserInfo {
        user_agent: req.user_agent.clone(),
        timer_resolution_ms: gpu::timer_resolution_async(&ctx).await.map_err(js)?,
    });
    if req.kernels {
        prof.add_kernels_async(&ctx, &p, &opts, &mut Status(&say))
            .await
            .map_err(js)?;
    }
    say("checking the output against the CPU reference");
    let check = check_output_async(&ctx, &p, req.seed).await.map_err(js)?;
    // The files `splitbench profile --kernels --out device_profile.csv` would write.
    let files = prof.files(Path::new(PROFILE_CSV)).map_err(js)?;
    let result = WebResult {
        model: req.model.clone(),
        profile_csv: files.profile.1,
        manifest_json: files.manifest.1,
        kernels_csv: files.kernels.map(|k| k.1),
        pruned_csv: files.pruned.map(|k| k.1),
        check,
    };
    let m = &prof.manifest;
    let page = Page {
        summary: format!(
            "{} {} on {} ({}): whole graph {:.3} ms, sum of node medians {:.3} ms ({})",
            g.name,
            g.input_shape(),
            ctx.summary.name,
            ctx.summary.backend,
            m.whole_graph_ms_median,
            m.sum_of_node_medians_ms,
            m.timing
        ),
        bars: prof
            .rows
            .iter()
            .map(|r| Bar {
                node: r.node.clone(),
                op: r.op.clone(),
                ms: r.device_ms_median,
            })
            .collect(),
        result,
    };
    serde_json::to_string(&page).map_err(|e| JsError::new(&e.to_string()))
}

/// Stage lines of the kernel timing, on the page.
struct Status<'a, F: Fn(&str)>(&'a F);

impl<F: Fn(&str)> Progress for Status<'_, F> {
    fn stage(&mut self, what: &str, total: Option<usize>) {
        match total {
            Some(n) => (self.0)(&format!("{what} ({n})")),
            None => (self.0)(what),
        }
    }
    fn step(&mut self) {}
}

/// What the page shows: one line, a bar per node, and the result it sends.
#[derive(serde::Serialize)]
struct Page {
    summary: String,
    bars: Vec<Bar>,
    result: WebResult,
}

#[derive(serde::Serialize)]
struct Bar {
    node: String,
    op: String,
    ms: f64,
}

/// The error with its causes, as the CLI prints it.
fn js(e: splitbench::Error) -> JsError {
    let mut msg = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !msg.ends_with(&text) {
            msg = format!("{msg}: {text}");
        }
        cause = c.source();
    }
    JsError::new(&msg)
}
