//! Every WGSL file in shaders/ parses and validates with naga (with the Rust prelude),
//! and every file is registered in the shader registry.

use splitbench::gpu::shaders;

#[test]
fn every_shader_validates_with_naga() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("shaders/ exists") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_none_or(|e| e != "wgsl") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let on_disk = std::fs::read_to_string(&path).unwrap();
        let registered = shaders::FILES
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("{name} is not in gpu::shaders::FILES"));
        assert_eq!(registered.1, on_disk, "{name}: embedded copy is stale");
        // Every file with each prelude it is compiled with (conv tile shapes).
        for tile in [shaders::ConvTile::WIDE, shaders::ConvTile::NARROW] {
            let src = shaders::source_for(&name, tile).unwrap();
            let module = naga::front::wgsl::parse_str(&src)
                .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(&src)));
            naga::valid::Validator::new(
                naga::valid::ValidationFlags::all(),
                naga::valid::Capabilities::all(),
            )
            .validate(&module)
            .unwrap_or_else(|e| panic!("{name} ({tile:?}): {}", e.emit_to_string(&src)));
        }
        checked += 1;
    }
    assert!(checked > 0, "found no .wgsl files in {}", dir.display());
    assert_eq!(
        checked,
        shaders::FILES.len(),
        "registry lists files that are not on disk"
    );
}
