//! Run manifests: what ran, where, with which code.

use crate::gpu::AdapterSummary;

/// The wgpu version splitbench was built with (from Cargo.lock).
pub const WGPU_VERSION: &str = env!("SPLITBENCH_WGPU_VERSION");

/// The git revision of the working directory (`<sha>` or `<sha>-dirty`), or `unknown`.
pub fn git_revision() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "--short=12", "HEAD"]) {
        Some(sha) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{sha}-dirty")
            } else {
                sha
            }
        }
        None => "unknown".into(),
    }
}

/// Seconds since the Unix epoch.
pub fn unix_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The environment of a run, shared by every manifest.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RunInfo {
    /// splitbench version.
    pub splitbench_version: &'static str,
    /// wgpu version.
    pub wgpu_version: &'static str,
    /// Git revision of the checkout.
    pub git_revision: String,
    /// Seconds since the epoch when the run started.
    pub unix_time: u64,
    /// The adapter.
    pub adapter: AdapterSummary,
    /// A warning when times are not GPU times (CPU adapter such as lavapipe).
    pub note: Option<String>,
}

impl RunInfo {
    /// Collects the run environment for an adapter.
    pub fn new(adapter: &AdapterSummary) -> Self {
        let note = (adapter.device_type == "Cpu").then(|| {
            format!(
                "{} is a CPU implementation of the GPU API: its times are CPU times, for \
                 correctness and CI, not GPU performance",
                adapter.name
            )
        });
        Self {
            splitbench_version: env!("CARGO_PKG_VERSION"),
            wgpu_version: WGPU_VERSION,
            git_revision: git_revision(),
            unix_time: unix_time(),
            adapter: adapter.clone(),
            note,
        }
    }
}

/// A 64-bit FNV-1a hash of a model's graph and weights, to tell runs of different models
/// (or weights) apart in manifests.
pub fn model_hash(model: &crate::model::Model) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= *b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for n in &model.graph.nodes {
        eat(n.name.as_bytes());
        eat(format!("{:?}{:?}", n.op, n.inputs).as_bytes());
    }
    for (k, t) in &model.weights {
        eat(k.as_bytes());
        eat(bytemuck::cast_slice(&t.data));
    }
    format!("{h:016x}")
}
