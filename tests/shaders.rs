//! Every WGSL file in shaders/ parses and validates with naga (with the Rust prelude),
//! every file is registered in the shader registry, and Rust and WGSL agree on what they
//! share: each struct the prelude declares has, in naga's layout, exactly the fields,
//! offsets and size of its Rust definition; each shader binds the prelude's uniform struct
//! that its launcher fills, declares no struct of its own, and compares modes by name; the
//! override constants the pipelines set are the ones the shaders declare.

use splitbench::gpu::shaders::{self, ConvTile, StructLayout};

const TILES: [ConvTile; 2] = [ConvTile::WIDE, ConvTile::NARROW];

fn parse(name: &str, src: &str) -> naga::Module {
    naga::front::wgsl::parse_str(src)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)))
}

fn shader_files() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("shaders/ exists") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "wgsl") {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            files.push((name, std::fs::read_to_string(&path).unwrap()));
        }
    }
    assert!(
        !files.is_empty(),
        "found no .wgsl files in {}",
        dir.display()
    );
    files
}

#[test]
fn every_shader_validates_with_naga() {
    let files = shader_files();
    for (name, on_disk) in &files {
        let registered = shaders::FILES
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} is not in gpu::shaders::FILES"));
        assert_eq!(registered.1, on_disk, "{name}: embedded copy is stale");
        // Every file with each prelude it is compiled with (conv tile shapes).
        for tile in TILES {
            let src = shaders::source_for(name, tile).unwrap();
            let module = parse(name, &src);
            naga::valid::Validator::new(
                naga::valid::ValidationFlags::all(),
                naga::valid::Capabilities::all(),
            )
            .validate(&module)
            .unwrap_or_else(|e| panic!("{name} ({tile:?}): {}", e.emit_to_string(&src)));
        }
    }
    assert_eq!(
        files.len(),
        shaders::FILES.len(),
        "registry lists files that are not on disk"
    );
}

/// How the WGSL struct `rust.name` in `module` differs from its Rust layout (empty when
/// they agree): fields by name, scalar type and byte offset in naga's layout, and size.
fn disagreements(module: &naga::Module, rust: &StructLayout) -> Vec<String> {
    let mut layouter = naga::proc::Layouter::default();
    layouter.update(module.to_ctx()).expect("layout");
    let Some((handle, ty)) = module
        .types
        .iter()
        .find(|(_, t)| t.name.as_deref() == Some(rust.name))
    else {
        return vec![format!("no WGSL struct {}", rust.name)];
    };
    let naga::TypeInner::Struct { members, .. } = &ty.inner else {
        return vec![format!("WGSL {} is not a struct", rust.name)];
    };
    let scalar = |h: naga::Handle<naga::Type>| match module.types[h].inner {
        naga::TypeInner::Scalar(s) => match (s.kind, s.width) {
            (naga::ScalarKind::Uint, 4) => "u32".to_string(),
            (naga::ScalarKind::Float, 4) => "f32".to_string(),
            (naga::ScalarKind::Sint, 4) => "i32".to_string(),
            other => format!("{other:?}"),
        },
        ref other => format!("{other:?}"),
    };
    let wgsl: Vec<(String, String, usize)> = members
        .iter()
        .map(|m| {
            let name = m.name.clone().unwrap_or_default();
            (name, scalar(m.ty), m.offset as usize)
        })
        .collect();
    let rust_fields: Vec<(String, String, usize)> = rust
        .fields
        .iter()
        .map(|f| (f.name.to_string(), f.ty.to_string(), f.offset))
        .collect();
    let mut out = Vec::new();
    if wgsl != rust_fields {
        out.push(format!(
            "{}: fields (name, type, offset) WGSL {wgsl:?} vs Rust {rust_fields:?}",
            rust.name
        ));
    }
    let size = layouter[handle].size as usize;
    if size != rust.size {
        out.push(format!(
            "{}: WGSL size {size}, Rust {}",
            rust.name, rust.size
        ));
    }
    out
}

#[test]
fn prelude_structs_have_the_rust_layout() {
    for tile in TILES {
        let module = parse("prelude", &shaders::prelude_for(tile));
        for layout in shaders::STRUCTS {
            assert_eq!(disagreements(&module, layout), Vec::<String>::new());
        }
    }
    // Uniform buffers are padded to 16 bytes on the Rust side (`_pad` fields).
    for (file, layout) in shaders::UNIFORMS {
        assert_eq!(layout.size % 16, 0, "{file}: {} size", layout.name);
    }
    // The per-group parameters the GPU writes are read back as cpu::QuantParams.
    let quant = shaders::STRUCTS.iter().find(|s| s.name == "QuantParams");
    assert_eq!(
        quant.map(|s| s.size),
        Some(std::mem::size_of::<splitbench::cpu::QuantParams>())
    );
}

#[test]
fn layout_check_catches_a_field_on_one_side_only() {
    let conv = shaders::STRUCTS
        .iter()
        .find(|s| s.name == "ConvParams")
        .expect("ConvParams in the prelude");
    // A field added to the WGSL declaration only.
    let extra_wgsl = conv
        .wgsl()
        .replace("    act: u32,\n", "    act: u32,\n    alpha: f32,\n");
    let module = parse("edited", &extra_wgsl);
    assert!(!disagreements(&module, conv).is_empty(), "WGSL-only field");
    // Two WGSL fields swapped.
    let swapped = conv.wgsl().replace(
        "    kh: u32,\n    kw: u32,\n",
        "    kw: u32,\n    kh: u32,\n",
    );
    assert!(!disagreements(&parse("swapped", &swapped), conv).is_empty());
    // A field added to the Rust side only.
    let mut fields = conv.fields.to_vec();
    fields.push(shaders::FieldLayout {
        name: "alpha",
        ty: "f32",
        offset: conv.size,
    });
    let rust_only = StructLayout {
        fields: Box::leak(fields.into_boxed_slice()),
        size: conv.size + 4,
        ..*conv
    };
    let module = parse("prelude", &shaders::prelude());
    assert!(
        !disagreements(&module, &rust_only).is_empty(),
        "Rust-only field"
    );
}

#[test]
fn every_shader_binds_the_prelude_uniform_and_declares_no_struct() {
    let prelude: Vec<&str> = shaders::STRUCTS.iter().map(|s| s.name).collect();
    for (name, src) in shader_files() {
        let want = shaders::uniform_of(&name)
            .unwrap_or_else(|| panic!("{name} has no entry in shaders::UNIFORMS"));
        let module = parse(&name, &shaders::source(&name).unwrap());
        for (_, ty) in module.types.iter() {
            if let (Some(n), naga::TypeInner::Struct { .. }) = (&ty.name, &ty.inner) {
                assert!(
                    prelude.contains(&n.as_str()),
                    "{name} declares struct {n}: declare it in gpu::shaders (one source)"
                );
            }
        }
        let uniforms: Vec<(Option<&str>, u32)> = module
            .global_variables
            .iter()
            .filter(|(_, g)| g.space == naga::AddressSpace::Uniform)
            .map(|(_, g)| {
                let binding = g.binding.as_ref().map_or(u32::MAX, |b| b.binding);
                (module.types[g.ty].name.as_deref(), binding)
            })
            .collect();
        assert_eq!(uniforms, vec![(Some(want.name), 0)], "{name}: uniform");
        // Mode and activation codes are compared by the prelude's names, never numbers.
        for field in ["mode", "act"] {
            let literal = (0..10).any(|d| src.contains(&format!("{field} == {d}")));
            assert!(!literal, "{name}: compares `{field}` with a number");
        }
    }
}

#[test]
fn prelude_constants_are_the_rust_values() {
    for tile in TILES {
        let module = parse("prelude", &shaders::prelude_for(tile));
        let wgsl: Vec<(String, u32)> = module
            .constants
            .iter()
            .filter_map(|(_, c)| match module.global_expressions[c.init] {
                naga::Expression::Literal(naga::Literal::U32(v)) => Some((c.name.clone()?, v)),
                _ => None,
            })
            .collect();
        let rust: Vec<(String, u32)> = shaders::constants(tile)
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect();
        assert_eq!(wgsl, rust, "{tile:?}");
        for name in [
            "LINEAR_BATCH_TILE",
            "POOL_MAX",
            "POOL_AVG",
            "POOL_ADAPTIVE",
            "ELTWISE_ADD",
            "ELTWISE_ACTIVATION",
            "ELTWISE_SCALE_SHIFT",
        ] {
            assert!(rust.iter().any(|(n, _)| n == name), "{name} in the prelude");
        }
    }
}

/// The override constants Rust sets (tile, loop specialisation, alignment) are the ones the
/// shaders declare, by name: a name on one side only would fail pipeline creation, or leave
/// a shader constant at its default.
#[test]
fn pipeline_overrides_are_declared_by_their_shaders() {
    use shaders::{DepthwiseVariant, DirectSpec, DirectTile, RowAlign};
    let declared = |file: &str| -> Vec<String> {
        let module = parse(file, &shaders::source(file).unwrap());
        let mut names: Vec<String> = module
            .overrides
            .iter()
            .filter_map(|(_, o)| o.name.clone())
            .collect();
        names.sort();
        names
    };
    let names = |o: &[(&str, f64)]| -> Vec<String> {
        let mut n: Vec<String> = o.iter().map(|(k, _)| k.to_string()).collect();
        n.sort();
        n
    };
    let tile = DirectTile::ALL[0];
    assert_eq!(
        names(&tile.overrides(DirectSpec::K3s1, RowAlign::Vec4, Default::default())),
        declared("conv_direct.wgsl")
    );
    assert_eq!(
        names(
            &DepthwiseVariant {
                spec: DirectSpec::K3s2,
                rows: RowAlign::Vec4,
                epilogue: Default::default(),
                dims: [8, 8, 4, 4, 3],
                wide: false,
                out_pairs: false,
            }
            .overrides()
        ),
        declared("depthwise.wgsl")
    );
    // Every spec code the Rust enum has is a prelude constant the shaders compare with.
    let consts: Vec<&str> = shaders::constants(ConvTile::WIDE)
        .iter()
        .map(|(n, _)| *n)
        .collect();
    for name in [
        "DIRECT_GENERIC",
        "DIRECT_K3S1",
        "DIRECT_K3S2",
        "DIRECT_P1S2",
        "DIRECT_PW4",
        "DIRECT_FC",
    ] {
        assert!(consts.contains(&name), "{name} not in the prelude");
    }
}

#[test]
fn every_kernel_fits_webgpu_guaranteed_limits() {
    // What a browser grants by default (`SPLITBENCH_LIMITS=webgpu` asks for exactly these):
    // 16 KiB of workgroup memory, 256 invocations per workgroup, 8 storage buffers per stage.
    let l = wgpu::Limits::default();
    for (name, _) in shader_files() {
        for tile in TILES {
            let module = parse(&name, &shaders::source_for(&name, tile).unwrap());
            let mut layouter = naga::proc::Layouter::default();
            layouter.update(module.to_ctx()).unwrap();
            let shared: u32 = module
                .global_variables
                .iter()
                .filter(|(_, v)| v.space == naga::AddressSpace::WorkGroup)
                .map(|(_, v)| layouter[v.ty].size)
                .sum();
            assert!(
                shared <= l.max_compute_workgroup_storage_size,
                "{name} ({tile:?}): {shared} bytes of workgroup memory"
            );
            let info = naga::valid::Validator::new(
                naga::valid::ValidationFlags::all(),
                naga::valid::Capabilities::all(),
            )
            .validate(&module)
            .unwrap();
            for (i, ep) in module.entry_points.iter().enumerate() {
                // Storage buffers the entry point (one pipeline) really uses.
                let used = info.get_entry_point(i);
                let storage = module
                    .global_variables
                    .iter()
                    .filter(|(h, v)| {
                        matches!(v.space, naga::AddressSpace::Storage { .. })
                            && !used[*h].is_empty()
                    })
                    .count() as u32;
                assert!(
                    storage <= l.max_storage_buffers_per_shader_stage,
                    "{name}::{}: {storage} storage buffers",
                    ep.name
                );
                let n: u32 = ep.workgroup_size.iter().product();
                assert!(
                    n <= l.max_compute_invocations_per_workgroup,
                    "{name}::{}: {n} invocations",
                    ep.name
                );
            }
        }
    }
}

#[test]
fn every_direct_tile_specialises_within_webgpu_limits() {
    // The direct convolution's workgroup size is an override (the tile's `wg`): the
    // specialised entry point of every tile must stay within a browser's 256 invocations.
    use shaders::{DirectSpec, DirectTile, RowAlign};
    let l = wgpu::Limits::default();
    let file = "conv_direct.wgsl";
    let module = parse(file, &shaders::source(file).unwrap());
    let info = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    )
    .validate(&module)
    .unwrap();
    let mut checked = 0;
    for tile in DirectTile::ALL {
        for spec in [DirectSpec::K3s1, DirectSpec::Pw4] {
            let entry = tile.entry(spec);
            let constants: naga::back::PipelineConstants = tile
                .overrides(spec, RowAlign::Vec4, Default::default())
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect();
            let (m, _) = naga::back::pipeline_constants::process_overrides(
                &module,
                &info,
                Some((naga::ShaderStage::Compute, entry)),
                &constants,
            )
            .unwrap_or_else(|e| panic!("{file}::{entry} with {tile:?}: {e}"));
            let n: u32 = m.entry_points[0].workgroup_size.iter().product();
            assert_eq!(n, tile.wg, "{file}::{entry} with {tile:?}");
            assert!(
                n <= l.max_compute_invocations_per_workgroup,
                "{tile:?}: {n}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * DirectTile::ALL.len());
}

#[test]
fn generated_narrow_in_kernels_validate_within_webgpu_limits() {
    // `narrow_in_wgsl` writes a kernel per channel count and epilogue: the smallest, the
    // largest the planner allows and each optional binding must validate, bind the
    // prelude's ConvParams and stay within a browser's limits.
    use shaders::NarrowInVariant;
    let l = wgpu::Limits::default();
    let max = splitbench::gpu::tiling::NARROW_IN_MAX_CHANNEL_PAIRS;
    for (in_c, out_c, bias, residual) in [
        (1, 1, false, false),
        (1, 16, true, false),
        (3, 64, true, true),
        (1, max, false, true),
    ] {
        let v = NarrowInVariant {
            in_c,
            out_c,
            bias,
            residual,
            act: 2,
        };
        let name = format!("narrow-in {v:?}");
        let module = parse(&name, &shaders::narrow_in_wgsl(v));
        let info = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::all(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let used = info.get_entry_point(0);
        let bound: Vec<u32> = module
            .global_variables
            .iter()
            .filter(|(h, _)| !used[*h].is_empty())
            .filter_map(|(_, v)| v.binding.as_ref().map(|b| b.binding))
            .collect();
        // Exactly the bindings the launcher lists for it.
        let mut want = vec![0, 1, 2, 5, 7];
        want.extend(bias.then_some(3));
        want.extend(residual.then_some(4));
        let mut got = bound.clone();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{name}");
        assert!(bound.len() as u32 - 1 <= l.max_storage_buffers_per_shader_stage);
        let n: u32 = module.entry_points[0].workgroup_size.iter().product();
        assert!(n <= l.max_compute_invocations_per_workgroup, "{name}: {n}");
    }
}

/// Decimal float literals of `src` (`1.5`, `-3e38`, `2.0f`), as written.
fn float_literals(src: &str) -> Vec<String> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts = b[i].is_ascii_digit()
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_'));
        if !starts {
            i += 1;
            continue;
        }
        let s = i;
        while i < b.len()
            && (b[i].is_ascii_alphanumeric()
                || b[i] == b'.'
                || ((b[i] == b'-' || b[i] == b'+') && matches!(b[i - 1], b'e' | b'E')))
        {
            i += 1;
        }
        let lit = &src[s..i];
        if lit.contains(['.', 'e', 'E']) && !lit.starts_with("0x") {
            out.push(lit.trim_end_matches(['f', 'h']).to_string());
        }
    }
    out
}

/// Browsers' WGSL compilers (Tint in Chrome) reject a float literal that rounds past
/// f32's range, which naga accepts (`-3.40282347e38` is 1 ulp of f64 above f32::MAX and
/// broke every pool and quantize shader in Chrome).
#[test]
fn float_literals_fit_f32_as_browsers_require() {
    assert_eq!(
        float_literals("x = -3.5e38; y = 1.0f; z = vec4f(2.5)"),
        ["3.5e38", "1.0", "2.5"]
    );
    let mut bad = Vec::new();
    for (name, src) in shader_files() {
        let code: String = src
            .lines()
            .map(|l| l.split("//").next().unwrap_or("").to_string() + "\n")
            .collect();
        for lit in float_literals(&code) {
            let v: f64 = lit
                .parse()
                .unwrap_or_else(|e| panic!("{name}: '{lit}': {e}"));
            if v.abs() > f32::MAX as f64 {
                bad.push(format!("{name}: {lit}"));
            }
        }
    }
    assert!(bad.is_empty(), "literals outside f32's range: {bad:?}");
}
