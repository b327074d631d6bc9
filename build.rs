// Records the resolved wgpu version (from Cargo.lock) for run manifests.
fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    // The revision a wasm build records (it cannot run git in a browser).
    println!("cargo:rerun-if-env-changed=SPLITBENCH_GIT_REVISION");
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let mut version = "unknown".to_string();
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wgpu\"" {
            if let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = "))
            {
                version = v.trim_matches('"').to_string();
            }
            break;
        }
    }
    println!("cargo:rustc-env=SPLITBENCH_WGPU_VERSION={version}");
}
