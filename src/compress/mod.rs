//! Compression at the split (layer 4, uses `gpu`, `cpu`, `model`): the configuration
//! grammar ([`config`]: split, pruning, bottleneck, encoding), communication-aware
//! structured pruning of the on-device part (ranking, masks, compaction), the learned
//! bottleneck, quantization on the GPU, entropy coding and the wire frame sent from device
//! to edge.

pub mod bottleneck;
pub mod codec;
pub mod config;
pub mod encode;
pub mod frame;
pub mod prune;

pub use bottleneck::{
    widths as bottleneck_widths, Bottleneck, BottleneckKind, BottleneckTimes,
    BOTTLENECK_WEIGHTS_NOTE, WIDTH_DIVISORS,
};
pub use codec::{coded_sizes, entropy_decode, entropy_encode, CodedSizes};
pub use config::{
    stage_of, Config, Encoding, Family, Placement, PruneConfig, Scale, Variant, STAGES, STAGE_NAMES,
};
pub use encode::{
    decode_on_edge, encode_on_device, transmit, CodecTimes, DeviceTensor, DeviceTimes, EdgeTensor,
    EdgeTimes,
};
pub use frame::{
    decode, encode, frame_len, Codec, DecodeLimits, Decoded, Encoded, FrameTensor, GroupParams,
    Payload, Quantized, TensorReport, TensorSpec,
};
pub use prune::{compact, compact_graph, pruned_count, pruning_skipped, split_feature, PrunePlan};
