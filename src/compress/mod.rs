//! Communication-aware compression of the on-device part: structured pruning (ranking,
//! masks, compaction).

pub mod prune;

pub use prune::{
    compact, compact_graph, pruned_count, split_feature, stage_of, PruneConfig, PrunePlan, STAGES,
    STAGE_NAMES,
};
