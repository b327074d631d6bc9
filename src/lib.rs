//! splitbench: a GPU benchmarking harness for device-edge co-inference (split computing).
//!
//! The modules form layers, lowest first; a module uses only layers below it (checked by
//! `tests/architecture.rs`), so data flows one way, from a model to the study's files:
//!
//! | layer | module | owns | uses |
//! |---|---|---|---|
//! | 0 | [`Error`], [`tensor`] | the one error type, host tensors and the seeded RNG | - |
//! | 1 | [`model`], [`channel`] | graph IR, zoo, weights, fusion, cuts; link models | tensor |
//! | 2 | [`cpu`], [`link`] | the naive reference of every GPU op; the packet-level link emulator | model; channel |
//! | 3 | [`gpu`] | shaders -> tiling -> tilecache -> pipelines -> context -> dispatch -> buffers -> clock -> launch -> autotune -> executor -> timing | model, cpu |
//! | 4 | [`compress`], [`data`] | the configuration grammar, pruning, bottleneck, quantization, wire frame, entropy coding; datasets | gpu, cpu, model; model |
//! | 5 | [`eval`] | accuracy through the GPU split pipeline | compress, data, gpu |
//! | 6 | [`report`] | CSV row types, manifests, CSV files, charts | compress (`Family`), gpu (adapter info) |
//! | 7 | [`plan`], `train`, [`net`] | cost model, methods, three-step search; CPU training (feature `train`); serve / offload, the browser profiler's server | channel, compress, model, report; compress, data, model; eval, channel, report |
//! | 8 | [`study`] | `measure -> plan -> write`, the accuracy table, profiles, the kernel efficiency table, link validation, real runs | everything below |
//!
//! The binary's `cli` (one file per subcommand) parses flags, calls [`study`] and the
//! layers below, and prints.
//!
//! ```no_run
//! use splitbench::{gpu::GpuContext, model, study};
//! let p = model::prepare("resnet18-cifar", &Default::default(), None, 0)?;
//! let ctx = GpuContext::new(None)?;
//! let opts = study::TradeoffOptions::default();
//! let m = study::measure(&ctx, &p, &opts, &mut ())?;
//! let r = study::plan(&m, &opts)?;
//! study::write("study/".as_ref(), &m, &r, &opts)?;
//! print!("{}", study::summary_text(&r.summaries));
//! # Ok::<(), splitbench::Error>(())
//! ```
#![warn(missing_docs)]

pub mod channel;
pub mod compress;
pub mod cpu;
pub mod data;
mod error;
pub mod eval;
pub mod gpu;
// Sockets, namespaces and TUN: the native device and edge only, never a browser.
#[cfg(not(target_arch = "wasm32"))]
pub mod link;
pub mod model;
#[cfg(not(target_arch = "wasm32"))]
pub mod net;
pub mod plan;
pub mod report;
pub mod study;
pub mod tensor;
#[cfg(feature = "train")]
pub mod train;

pub use error::{Error, Result};
