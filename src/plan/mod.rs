//! Planning (layer 7, uses `channel`, `compress` for the configuration grammar and the
//! frame length, `report` for row types): the cost model, the split-selection methods
//! (device-only, edge-only, Neurosurgeon, best split, two-step pruning, three-step) and the
//! Pareto front. Consumes profiles and link models; never touches wgpu (codec times come in
//! as data); the study layer feeds it measurements.
//!
//! ```
//! use splitbench::channel::Channel;
//! use splitbench::model::{zoo, ZooOptions};
//! use splitbench::plan::*;
//!
//! let g = zoo::build("resnet18-cifar", &ZooOptions { width: Some(8), ..Default::default() })?;
//! let g = splitbench::model::fuse_graph(&g)?;
//! // Synthetic device times: 1 ms per MFLOP; the edge is 10x faster.
//! let dev: Vec<f64> = g.nodes.iter().map(|n| n.flops(&g) as f64 / 1e6).collect();
//! let edge = EdgeModel::from_speedup(&dev, 10.0, false)?;
//! let problem = Problem::from_graph(&g, &dev, &edge)?;
//! let variants = quantization_variants(&STUDY_BITS);
//! let codec = CodecTable::from_fn(&codec_keys(&problem, &variants), |_| CodecTime::default());
//! let space = SearchSpace::build(&problem, &variants, &codec, edge.speedup, &Predictor::fit(&problem))?;
//! let ch = Channel::parse("4g")?;
//! let best = space.choose(Method::ThreeStep, &ch);
//! let edge_only = space.choose(Method::EdgeOnly, &ch);
//! assert!(best.mean_total_ms <= edge_only.mean_total_ms);
//! # Ok::<(), splitbench::Error>(())
//! ```

mod cost;
mod edge;
mod methods;
mod pareto;
mod predict;
mod problem;
mod three;

pub use cost::{
    allowed, codec_key, codec_keys, payload_bytes, quantization_variants, Candidate, CodecKey,
    CodecTable, CodecTime, CostTable, Parts, DOWNLINK_NOTE, FRAME_OVERHEAD_BYTES,
    FRAME_TENSOR_BYTES, QUANT_GROUP_PARAM_BYTES, STUDY_BITS,
};
pub use edge::{check_profile_rows, EdgeModel, EdgeSource, DEFAULT_EDGE_SPEEDUP};
pub use methods::{Choice, Method, SearchSpace};
pub use pareto::{accuracy_front, pareto_front};
pub use predict::{LinearFit, OpFit, Predictor};
pub use problem::{CutTensor, Layer, Problem, SplitPoint};
pub use three::{
    compressed_encodings, prune_configs, three_step_candidates, three_step_requirements,
    BottleneckKey, BottleneckTable, PruneFamily, PrunedPrefix, STUDY_RATIOS,
};
