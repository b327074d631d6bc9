//! `splitbench devices`: every GPU adapter with its backend, timing features and limits.

use anyhow::{bail, Result};
use splitbench::gpu;

/// Prints one block per adapter.
pub fn run() -> Result<()> {
    let list = gpu::list_adapters();
    if list.is_empty() {
        bail!(
            "wgpu found no adapter (on Linux without a GPU: apt-get install mesa-vulkan-drivers)"
        );
    }
    for (i, a) in list.iter().enumerate() {
        println!(
            "[{i}] {} ({}, {}, driver {} {})",
            a.name, a.backend, a.device_type, a.driver, a.driver_info
        );
        if !a.host_cpu.is_empty() {
            println!("    host CPU: {}", a.host_cpu);
        }
        println!(
            "    timestamps: pass={} inside-passes={} inside-encoders={}  f16={}  subgroups={} (sizes {}..{})",
            a.timestamps,
            a.timestamps_inside_passes,
            a.timestamps_inside_encoders,
            a.f16,
            a.subgroups,
            a.subgroup_sizes.0,
            a.subgroup_sizes.1
        );
        println!(
            "    limits: storage binding {} MiB, buffer {} MiB, workgroup storage {} KiB, {} invocations/workgroup, {} workgroups/dim",
            a.max_storage_buffer_binding_size >> 20,
            a.max_buffer_size >> 20,
            a.max_compute_workgroup_storage_size >> 10,
            a.max_compute_invocations_per_workgroup,
            a.max_compute_workgroups_per_dimension
        );
    }
    Ok(())
}
