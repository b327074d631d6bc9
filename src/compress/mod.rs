//! Communication-aware compression: structured pruning of the on-device part (ranking,
//! masks, compaction), and feature compression at the split (quantization on the GPU,
//! entropy coding and the wire frame sent from device to edge).

pub mod codec;
pub mod encode;
pub mod frame;
pub mod prune;

pub use codec::{coded_sizes, entropy_decode, entropy_encode, CodedSizes};
pub use encode::{
    decode_on_edge, encode_on_device, transmit, CodecTimes, DeviceTensor, DeviceTimes, EdgeTensor,
    EdgeTimes,
};
pub use frame::{
    decode, encode, frame_len, Codec, DecodeLimits, Decoded, Encoded, Encoding, FrameTensor,
    Granularity, GroupParams, Payload, Quantized, TensorReport, TensorSpec,
};
pub use prune::{
    compact, compact_graph, pruned_count, split_feature, stage_of, PruneConfig, PrunePlan, STAGES,
    STAGE_NAMES,
};
