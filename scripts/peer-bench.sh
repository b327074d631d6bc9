#!/usr/bin/env bash
# The peer bench: burn 0.22.1's wgpu backend (CubeCL kernels, autotuned, fused) and
# splitbench run the same models (splitbench's fused graph, the same seeded weights and the
# same random input) in one process, alternating, each timed by the wall clock up to its
# output read back; writes results/<device>/peers.csv and peers.manifest.json.
#
# benches/peers is a crate of its own, outside the default build and CI: burn takes about
# 15 minutes to compile on 2 cores. It is built here into target/peers (or
# $PEERS_TARGET_DIR). Arguments go to the bench (`--out DIR` writes elsewhere);
# PEERS_REPS_SCALE scales the repetitions (default 20 at batch 1, 5 at batch 64);
# SPLITBENCH_ADAPTER picks splitbench's adapter (burn takes wgpu's default one).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${PEERS_TARGET_DIR:-$PWD/target/peers}"
cargo build --release --manifest-path benches/peers/Cargo.toml
"$CARGO_TARGET_DIR/release/splitbench-peers" "$@"
