//! Adapter, device and queue, owning the compiled pipelines; after `pipelines` in `gpu`.
//!
//! Adapter selection, a device with the features that matter for timing, a description
//! of the adapter for manifests and `splitbench devices`, and the device's lazily compiled
//! [`Pipelines`].

use super::pipelines::Pipelines;
use super::shaders;
use super::tilecache::{TileCache, TuneSummary};
use crate::error::{Error, Result};
use std::sync::{Mutex, MutexGuard};

/// The wgpu version splitbench was built with (from Cargo.lock).
pub const WGPU_VERSION: &str = env!("SPLITBENCH_WGPU_VERSION");

/// The features splitbench asks for when the adapter has them.
const WANTED: wgpu::Features = wgpu::Features::TIMESTAMP_QUERY
    .union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS)
    .union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES);

/// What an adapter is and can do, as printed by `splitbench devices` and recorded in
/// every manifest (and read back from one: what a manifest lacks stays empty or 0).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct AdapterSummary {
    /// Adapter name (`llvmpipe (LLVM 15.0.6, 256 bits)`, `NVIDIA H100 80GB HBM3`).
    pub name: String,
    /// Backend (`Vulkan`, `Metal`, ...).
    pub backend: String,
    /// `DiscreteGpu`, `IntegratedGpu`, `Cpu`, ...
    pub device_type: String,
    /// Driver name.
    pub driver: String,
    /// Driver version string.
    pub driver_info: String,
    /// `TIMESTAMP_QUERY` (timestamps at pass boundaries).
    pub timestamps: bool,
    /// `TIMESTAMP_QUERY_INSIDE_PASSES` (timestamps between dispatches of one pass).
    pub timestamps_inside_passes: bool,
    /// `TIMESTAMP_QUERY_INSIDE_ENCODERS`.
    pub timestamps_inside_encoders: bool,
    /// `SHADER_F16`.
    pub f16: bool,
    /// `SUBGROUP`.
    pub subgroups: bool,
    /// Smallest and largest subgroup size.
    pub subgroup_sizes: (u32, u32),
    /// Largest storage buffer binding in bytes.
    pub max_storage_buffer_binding_size: u64,
    /// Largest buffer in bytes.
    pub max_buffer_size: u64,
    /// Workgroup shared memory in bytes.
    pub max_compute_workgroup_storage_size: u32,
    /// Invocations per workgroup.
    pub max_compute_invocations_per_workgroup: u32,
    /// Workgroups per dispatch dimension.
    pub max_compute_workgroups_per_dimension: u32,
    /// Which limits the device was opened with (the limits above): `adapter` (its own) or
    /// `webgpu` (WebGPU's guaranteed ones, `SPLITBENCH_LIMITS=webgpu`).
    pub limits: String,
    /// For a CPU adapter, the host CPU that runs it (`model name` of `/proc/cpuinfo`):
    /// lavapipe reports the same adapter on every x86 machine, but its speed and fastest
    /// tiles are the CPU's. Empty for GPUs and where the model is unknown.
    pub host_cpu: String,
}

/// The environment variable choosing the device limits requested: `adapter` (default: the
/// adapter's own) or `webgpu` (the WebGPU spec's guaranteed limits).
pub const LIMITS_ENV: &str = "SPLITBENCH_LIMITS";

impl AdapterSummary {
    fn of(adapter: &wgpu::Adapter) -> Self {
        let info = adapter.get_info();
        let f = adapter.features();
        let l = adapter.limits();
        Self {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver: info.driver.clone(),
            driver_info: info.driver_info.clone(),
            timestamps: f.contains(wgpu::Features::TIMESTAMP_QUERY),
            timestamps_inside_passes: f.contains(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES),
            timestamps_inside_encoders: f.contains(wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS),
            f16: f.contains(wgpu::Features::SHADER_F16),
            subgroups: f.contains(wgpu::Features::SUBGROUP),
            subgroup_sizes: (info.subgroup_min_size, info.subgroup_max_size),
            max_storage_buffer_binding_size: l.max_storage_buffer_binding_size,
            max_buffer_size: l.max_buffer_size,
            max_compute_workgroup_storage_size: l.max_compute_workgroup_storage_size,
            max_compute_invocations_per_workgroup: l.max_compute_invocations_per_workgroup,
            max_compute_workgroups_per_dimension: l.max_compute_workgroups_per_dimension,
            limits: "adapter".into(),
            host_cpu: if info.device_type == wgpu::DeviceType::Cpu {
                host_cpu_model().unwrap_or_default()
            } else {
                String::new()
            },
        }
    }

    /// The key tile choices are cached under: what can change which tile is fastest
    /// (adapter, backend, driver and its version, wgpu, the kernels' source, and for a CPU
    /// adapter the host CPU, whose speed lavapipe's is: the kernel table ran 1.5-2.5x
    /// slower per shape, unevenly, on an Intel Xeon than on an AMD EPYC).
    pub fn device_key(&self) -> String {
        let cpu = if self.host_cpu.is_empty() {
            String::new()
        } else {
            format!(" | cpu {}", self.host_cpu)
        };
        format!(
            "{} | {} | {} | {} | wgpu {} | kernels {:016x}{cpu}",
            self.name,
            self.backend,
            self.driver,
            self.driver_info,
            WGPU_VERSION,
            shaders::source_hash()
        )
    }

    /// A file-safe short name (`llvmpipe`, `nvidia-h100-80gb-hbm3`) for result folders.
    pub fn file_safe_name(&self) -> String {
        let base = self.name.split('(').next().unwrap_or(&self.name);
        let mut out = String::new();
        for ch in base.trim().chars() {
            if ch.is_ascii_alphanumeric() {
                out.push(ch.to_ascii_lowercase());
            } else if !out.ends_with('-') && !out.is_empty() {
                out.push('-');
            }
        }
        let out = out.trim_end_matches('-').to_string();
        if out.is_empty() {
            "unknown-gpu".into()
        } else {
            out
        }
    }
}

/// The host CPU's model name (the first `model name` of `/proc/cpuinfo`), where known.
fn host_cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    cpu_model_of(&info)
}

/// The first `model name` value of a `/proc/cpuinfo` text (whitespace collapsed).
fn cpu_model_of(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|l| {
        let (key, value) = l.split_once(':')?;
        let model = value.split_whitespace().collect::<Vec<_>>().join(" ");
        (key.trim() == "model name" && !model.is_empty()).then_some(model)
    })
}

/// An open GPU device.
pub struct GpuContext {
    /// The adapter.
    pub adapter: wgpu::Adapter,
    /// The device.
    pub device: wgpu::Device,
    /// Its queue.
    pub queue: wgpu::Queue,
    /// What the adapter is.
    pub summary: AdapterSummary,
    /// Features enabled on the device.
    pub features: wgpu::Features,
    // Compiled on first use: listing adapters or reading limits compiles nothing.
    pipelines: std::sync::OnceLock<Pipelines>,
    // The convolution tile choices made on this device (`autotune` fills it).
    tiles: Mutex<TileCache>,
}

fn instance() -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

/// Every adapter wgpu can see on this machine.
pub fn list_adapters() -> Vec<AdapterSummary> {
    let adapters = pollster::block_on(instance().enumerate_adapters(wgpu::Backends::all()));
    adapters.iter().map(AdapterSummary::of).collect()
}

impl GpuContext {
    /// Opens the first adapter whose name contains `filter` (case-insensitive), or the
    /// best adapter (discrete > integrated > others, Vulkan/Metal/DX12 before GL) if none
    /// is given.
    pub fn new(filter: Option<&str>) -> Result<Self> {
        let inst = instance();
        let mut adapters = pollster::block_on(inst.enumerate_adapters(wgpu::Backends::all()));
        if adapters.is_empty() {
            return Err(Error::NoAdapter(
                "wgpu found no adapter (on Linux without a GPU install mesa-vulkan-drivers)".into(),
            ));
        }
        let rank = |a: &wgpu::Adapter| {
            let i = a.get_info();
            let ty = match i.device_type {
                wgpu::DeviceType::DiscreteGpu => 0,
                wgpu::DeviceType::IntegratedGpu => 1,
                wgpu::DeviceType::VirtualGpu => 2,
                wgpu::DeviceType::Cpu => 3,
                wgpu::DeviceType::Other => 4,
            };
            let be = if i.backend == wgpu::Backend::Gl { 1 } else { 0 };
            (be, ty)
        };
        adapters.sort_by_key(rank);
        let adapter = match filter {
            None => adapters.swap_remove(0),
            Some(f) => {
                let needle = f.to_lowercase();
                let names: Vec<String> = adapters.iter().map(|a| a.get_info().name).collect();
                let pos = adapters
                    .iter()
                    .position(|a| a.get_info().name.to_lowercase().contains(&needle))
                    .ok_or_else(|| {
                        Error::NoAdapter(format!(
                            "no adapter name contains '{f}' (found: {})",
                            names.join(", ")
                        ))
                    })?;
                adapters.swap_remove(pos)
            }
        };
        pollster::block_on(Self::open(adapter))
    }

    /// Opens the browser's WebGPU adapter (high-performance preference): the context of
    /// the engine compiled to wasm32.
    #[cfg(target_arch = "wasm32")]
    pub async fn new_web() -> Result<Self> {
        let inst = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::BROWSER_WEBGPU,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let adapter = inst
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| Error::NoAdapter(format!("this browser gave no WebGPU adapter: {e}")))?;
        Self::open(adapter).await
    }

    /// A device on `adapter` with the timing features it has and the limits
    /// [`LIMITS_ENV`] asks for.
    async fn open(adapter: wgpu::Adapter) -> Result<Self> {
        let mut summary = AdapterSummary::of(&adapter);
        let features = adapter.features() & WANTED;
        // Ask for the adapter's own limits: the defaults cap storage bindings at 128 MiB,
        // too small for batch-64 activations of ImageNet models. `SPLITBENCH_LIMITS=webgpu`
        // asks for WebGPU's guaranteed ones instead (what a phone's browser grants by
        // default: 16 KiB of workgroup memory, 256 invocations, 8 storage buffers per stage,
        // 128 MiB bindings, 256 MiB buffers), to check that the kernels fit them.
        let limits = match std::env::var(LIMITS_ENV).as_deref() {
            Err(_) | Ok("" | "adapter") => adapter.limits(),
            Ok("webgpu") => {
                summary.limits = "webgpu".into();
                wgpu::Limits::default()
            }
            Ok(other) => {
                return Err(Error::InvalidArg(format!(
                    "{LIMITS_ENV}={other}: expected `adapter` or `webgpu`"
                )))
            }
        };
        summary.max_storage_buffer_binding_size = limits.max_storage_buffer_binding_size;
        summary.max_buffer_size = limits.max_buffer_size;
        summary.max_compute_workgroup_storage_size = limits.max_compute_workgroup_storage_size;
        summary.max_compute_invocations_per_workgroup =
            limits.max_compute_invocations_per_workgroup;
        summary.max_compute_workgroups_per_dimension = limits.max_compute_workgroups_per_dimension;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("splitbench"),
                required_features: features,
                required_limits: limits,
                ..Default::default()
            })
            .await
            .map_err(|e| Error::gpu_from(format!("request_device on {}", summary.name), e))?;
        let tiles = Mutex::new(TileCache::open(summary.device_key()));
        Ok(Self {
            adapter,
            device,
            queue,
            summary,
            features,
            pipelines: std::sync::OnceLock::new(),
            tiles,
        })
    }

    /// Blocks until all submitted work has completed.
    pub fn wait(&self) -> Result<()> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| Error::gpu_from("poll", e))
    }

    /// Waits until all submitted work has completed: [`Self::wait`] natively; in a browser
    /// (where nothing blocks) the queue's work-done callback, which runs once control
    /// returns to the event loop.
    pub async fn wait_async(&self) -> Result<()> {
        if cfg!(target_arch = "wasm32") {
            let (tx, rx) = futures_channel::oneshot::channel();
            self.queue.on_submitted_work_done(move || {
                let _ = tx.send(());
            });
            rx.await
                .map_err(|_| Error::gpu("work-done callback never ran"))
        } else {
            self.wait()
        }
    }

    /// Every pipeline, compiled on the first call.
    pub(crate) fn pipelines(&self) -> &Pipelines {
        self.pipelines.get_or_init(|| Pipelines::new(&self.device))
    }

    /// Nanoseconds per timestamp tick.
    pub fn timestamp_period_ns(&self) -> f64 {
        self.queue.get_timestamp_period() as f64
    }

    /// The tile choices of this device.
    pub(crate) fn tiles(&self) -> MutexGuard<'_, TileCache> {
        // Poisoned only if a thread panicked holding it; the choices are still valid.
        self.tiles.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Turns convolution autotuning on (the default, unless `SPLITBENCH_AUTOTUNE=0`) or
    /// off (`--no-autotune`: every plan from the heuristic, the cache file unused).
    pub fn set_autotune(&self, on: bool) {
        self.tiles().set_autotune(on);
    }

    /// Files this device's tile choices at `path` (`None`: no file) instead of
    /// `$SPLITBENCH_TILE_CACHE` or the user's cache directory, reading the choices stored
    /// there; those made so far in this process are kept. The tests use one under the build
    /// directory: choices timed while a test suite loads the machine must not become the
    /// user's.
    pub fn set_tile_cache(&self, path: Option<std::path::PathBuf>) {
        self.tiles().set_path(path);
    }

    /// What this device's tile choices came from and cost so far.
    pub fn tile_summary(&self) -> TuneSummary {
        self.tiles().summary()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_adapters_are_keyed_by_their_host_cpu() {
        let info = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R)   Processor @ 2.60GHz\nflags\t\t: fpu\n\nprocessor\t: 1\nmodel name\t: other\n";
        assert_eq!(
            cpu_model_of(info).as_deref(),
            Some("Intel(R) Xeon(R) Processor @ 2.60GHz")
        );
        assert_eq!(cpu_model_of("processor\t: 0\nmodel name\t:\n"), None);
        assert_eq!(cpu_model_of(""), None);
        let gpu = AdapterSummary {
            name: "llvmpipe (LLVM 15.0.6, 256 bits)".into(),
            ..Default::default()
        };
        let amd = AdapterSummary {
            host_cpu: "AMD EPYC 9B14".into(),
            ..gpu.clone()
        };
        let intel = AdapterSummary {
            host_cpu: "Intel(R) Xeon(R) Processor @ 2.60GHz".into(),
            ..gpu.clone()
        };
        assert!(amd.device_key().ends_with("| cpu AMD EPYC 9B14"));
        assert_ne!(amd.device_key(), intel.device_key());
        assert!(!gpu.device_key().contains("cpu"));
    }
}
