#!/usr/bin/env bash
# One command for a machine with a real GPU: builds nothing, runs a prebuilt release
# binary (default target/release/splitbench, or the first argument) and prints, in a few
# minutes: the adapters, the whole-model medians of resnet18-cifar at batch 1 and 64 and
# mobilenet_v2 at batch 1 (GPU timestamps, one submission), and the kernel efficiency
# table (every conv, depthwise and FC shape of the study against the device's best conv
# rate and copy bandwidth). Tiles are autotuned on the first run and cached (see README
# "Kernels"). Outputs go to $GPU_CHECK_OUT (default: a new temporary folder).
#
# On a headless NVIDIA server copy ../shared/gpu-server to .gl first (its README says
# how); the Vulkan environment there is loaded from .gl/vulkan-env.sh when it exists.
# SPLITBENCH_ADAPTER=<substring> picks the adapter (default: the best one).
# Compare with the reference cuDNN figures in ../shared/gpu-server/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${1:-target/release/splitbench}"
if [ ! -x "$BIN" ]; then
  echo "error: no splitbench binary at $BIN (build one with cargo build --release)" >&2
  exit 1
fi
if [ -f .gl/vulkan-env.sh ]; then
  # shellcheck disable=SC1091
  source .gl/vulkan-env.sh
fi
OUT="${GPU_CHECK_OUT:-$(mktemp -d -t splitbench-gpu-check.XXXXXX)}"
mkdir -p "$OUT"
ADAPTER=()
if [ -n "${SPLITBENCH_ADAPTER:-}" ]; then ADAPTER=(--adapter "$SPLITBENCH_ADAPTER"); fi
start=$(date +%s)
"$BIN" devices
echo
echo "whole-model medians (GPU timestamps, the whole graph in one submission):"
for run in "resnet18-cifar 1 20" "resnet18-cifar 64 10" "mobilenet_v2 1 20"; do
  read -r model batch reps <<<"$run"
  log="$OUT/$model-b$batch.txt"
  "$BIN" profile --model "$model" --batch "$batch" --reps "$reps" \
    ${ADAPTER[@]+"${ADAPTER[@]}"} --out "$OUT/$model-b$batch.csv" >"$log"
  median=$(sed -n 's/^whole graph (one submission, \([^)]*\)): median \([0-9.]*\) ms (p5 \([0-9.]*\), p95 \([0-9.]*\)).*/\2 ms (p5 \3, p95 \4; \1)/p' "$log")
  tiles=$(grep '^conv tiles' "$log" || true)
  printf '  %-15s batch %-3s %s\n      %s\n' "$model" "$batch" "$median" "$tiles"
done
echo
"$BIN" kernels ${ADAPTER[@]+"${ADAPTER[@]}"} --out "$OUT"
echo "gpu-check: $(( $(date +%s) - start )) s; outputs in $OUT"
