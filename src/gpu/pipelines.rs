//! The compiled compute pipelines; after `shaders` in `gpu`'s order, before `context`.
//!
//! Built from a `&wgpu::Device` and the shader registry, knowing nothing of contexts or
//! buffers.

use super::shaders::{
    self, ConvParams, ConvTile, CopyParams, DepthwiseVariant, DirectSpec, DirectTile,
    EltwiseParams, Epilogue, LinearParams, MaskParams, NarrowInVariant, PoolParams, QuantizeParams,
    RowAlign, Uniform,
};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Mutex;

/// A compute pipeline whose `@binding(0)` uniform is `P`, so that a launcher can only fill
/// it with the struct the shader declares.
#[derive(Debug)]
pub(crate) struct Kernel<P> {
    pub(crate) pipeline: wgpu::ComputePipeline,
    params: PhantomData<fn(P)>,
}

impl<P> Clone for Kernel<P> {
    fn clone(&self) -> Self {
        Self {
            pipeline: self.pipeline.clone(),
            params: PhantomData,
        }
    }
}

/// A pipeline compiled per value of its override constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Specialised {
    Direct(DirectTile, DirectSpec, RowAlign, Epilogue),
    Depthwise(DepthwiseVariant),
    NarrowIn(NarrowInVariant),
}

/// Every pipeline splitbench uses. The variants of the direct and depthwise convolutions
/// are compiled on first use: a device compiles only the tiles its layers use (or the
/// autotuner tries).
#[derive(Debug)]
pub(crate) struct Pipelines {
    pub(crate) conv: Kernel<ConvParams>,
    pub(crate) conv_pointwise: Kernel<ConvParams>,
    pub(crate) conv_narrow: Kernel<ConvParams>,
    pub(crate) conv_narrow_pointwise: Kernel<ConvParams>,
    pub(crate) conv_splitk_reduce: Kernel<ConvParams>,
    pub(crate) conv_pack_weights: Kernel<ConvParams>,
    pub(crate) conv_space_to_depth: Kernel<ConvParams>,
    pub(crate) conv_pack_weights_s2d: Kernel<ConvParams>,
    specialised: Mutex<HashMap<Specialised, Kernel<ConvParams>>>,
    pub(crate) linear: Kernel<LinearParams>,
    pub(crate) pool: Kernel<PoolParams>,
    pub(crate) eltwise: Kernel<EltwiseParams>,
    pub(crate) mask: Kernel<MaskParams>,
    pub(crate) q_minmax: Kernel<QuantizeParams>,
    pub(crate) q_pack: Kernel<QuantizeParams>,
    pub(crate) q_unpack: Kernel<QuantizeParams>,
    pub(crate) copy: Kernel<CopyParams>,
}

/// Compiles `entry` of the registered `file` with the constants of `tile` and the
/// pipeline-overridable `constants`.
fn kernel<P: Uniform>(
    dev: &wgpu::Device,
    file: &str,
    entry: &str,
    constants: &[(&str, f64)],
    tile: ConvTile,
) -> Kernel<P> {
    debug_assert_eq!(
        shaders::uniform_of(file).map(|l| l.name),
        Some(P::LAYOUT.name),
        "{file} binds another uniform struct (see shaders::UNIFORMS)"
    );
    // Only the fixed names below reach here, and every test that opens a context
    // compiles all of them: a missing file is a bug in this list, not an input error.
    let src = shaders::source_for(file, tile).expect("registered shader file");
    compile(dev, file, &src, entry, constants)
}

/// Compiles `entry` of the WGSL `src` (named `label`) with the pipeline-overridable
/// `constants`.
fn compile<P: Uniform>(
    dev: &wgpu::Device,
    label: &str,
    src: &str,
    entry: &str,
    constants: &[(&str, f64)],
) -> Kernel<P> {
    let module = dev.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(src.into()),
    });
    let pipeline = dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(entry),
        layout: None,
        module: &module,
        entry_point: Some(entry),
        compilation_options: wgpu::PipelineCompilationOptions {
            constants,
            ..Default::default()
        },
        cache: None,
    });
    Kernel {
        pipeline,
        params: PhantomData,
    }
}

impl Pipelines {
    /// Compiles every pipeline on `dev`.
    pub(crate) fn new(dev: &wgpu::Device) -> Self {
        let wide = ConvTile::WIDE;
        let narrow = ConvTile::NARROW;
        let pointwise = &[("POINTWISE", 1.0)];
        Self {
            conv: kernel(dev, "conv2d.wgsl", "main", &[], wide),
            conv_pointwise: kernel(dev, "conv2d.wgsl", "main", pointwise, wide),
            conv_narrow: kernel(dev, "conv2d.wgsl", "main", &[], narrow),
            conv_narrow_pointwise: kernel(dev, "conv2d.wgsl", "main", pointwise, narrow),
            conv_splitk_reduce: kernel(dev, "conv2d.wgsl", "splitk_reduce", &[], wide),
            conv_pack_weights: kernel(dev, "conv_direct.wgsl", "pack_weights", &[], wide),
            conv_space_to_depth: kernel(dev, "conv_direct.wgsl", "space_to_depth", &[], wide),
            conv_pack_weights_s2d: kernel(dev, "conv_direct.wgsl", "pack_weights_s2d", &[], wide),
            specialised: Mutex::new(HashMap::new()),
            linear: kernel(dev, "linear.wgsl", "main", &[], wide),
            pool: kernel(dev, "pool.wgsl", "main", &[], wide),
            eltwise: kernel(dev, "eltwise.wgsl", "main", &[], wide),
            mask: kernel(dev, "mask.wgsl", "main", &[], wide),
            q_minmax: kernel(dev, "quantize.wgsl", "group_minmax", &[], wide),
            q_pack: kernel(dev, "quantize.wgsl", "quantize_pack", &[], wide),
            q_unpack: kernel(dev, "quantize.wgsl", "unpack_dequantize", &[], wide),
            copy: kernel(dev, "copy.wgsl", "main", &[], wide),
        }
    }

    /// The pipeline of `which`, compiled on first use.
    fn specialised(&self, dev: &wgpu::Device, which: Specialised) -> Kernel<ConvParams> {
        // A poisoned lock only means another thread panicked while compiling; the map
        // itself is still valid.
        let mut map = self.specialised.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(which)
            .or_insert_with(|| {
                let wide = ConvTile::WIDE;
                match which {
                    Specialised::Direct(tile, spec, rows, epilogue) => {
                        let o = tile.overrides(spec, rows, epilogue);
                        kernel(dev, "conv_direct.wgsl", tile.entry(spec), &o, wide)
                    }
                    Specialised::Depthwise(v) => {
                        let o = v.overrides();
                        kernel(dev, "depthwise.wgsl", "main", &o, wide)
                    }
                    Specialised::NarrowIn(v) => {
                        let src = shaders::narrow_in_wgsl(v);
                        compile(dev, "narrow-in conv", &src, "main", &[])
                    }
                }
            })
            .clone()
    }

    /// The direct convolution for `tile`, its loop specialised as `spec`, its window rows
    /// read as `rows` allows, and epilogue `e`.
    pub(crate) fn conv_direct(
        &self,
        dev: &wgpu::Device,
        tile: DirectTile,
        spec: DirectSpec,
        rows: RowAlign,
        e: Epilogue,
    ) -> Kernel<ConvParams> {
        self.specialised(dev, Specialised::Direct(tile, spec, rows, e))
    }

    /// The narrow-input convolution generated for `v` (compiled once per channel count
    /// and epilogue).
    pub(crate) fn narrow_in(&self, dev: &wgpu::Device, v: NarrowInVariant) -> Kernel<ConvParams> {
        self.specialised(dev, Specialised::NarrowIn(v))
    }

    /// The depthwise convolution specialised as `v` (compiled once per layer shape).
    pub(crate) fn depthwise(&self, dev: &wgpu::Device, v: DepthwiseVariant) -> Kernel<ConvParams> {
        self.specialised(dev, Specialised::Depthwise(v))
    }
}
