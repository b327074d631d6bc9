#!/usr/bin/env bash
# Steps 2 and 3 on the trained base model, then the accuracy table of the study:
#   1. train-bottleneck: an encoder/decoder of width C/4, C/8 and C/16 at each split point, backbone
#      frozen, straight-through quantization at 8/4/2 bits drawn per step; the C/4 pairs (the
#      width that carries the >= 32x target, sent at 2 bits) are then refined at 2 bits with
#      knowledge distillation from the base model's logits (--init, --distill-weight);
#   2. prune-finetune: the last-stage pruning family of the study (ratios 0.5 and 0.75 on
#      the stage whose output crosses each of the 5 paper split points; the study also
#      searches 0.25 and uniform ratios, whose accuracy stays unknown), fine-tuned briefly;
#   3. splitbench accuracy: every configuration (plain f32/8/4/2-bit, pruned, bottleneck)
#      through the GPU split pipeline on the first $LIMIT test images.
# Files that exist are not retrained (delete them to redo a step). Training needs the
# `train` feature (candle, CPU); evaluation runs on the local wgpu adapter.
#
#   bash scripts/accuracy_study.sh            # everything
#   STEP=eval LIMIT=1000 bash scripts/accuracy_study.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${BASE:-models/resnet18-cifar-w16-fashion-mnist.safetensors}
LIMIT=${LIMIT:-500}
STEP=${STEP:-all}
OUT=${OUT:-results/accuracy/resnet18-cifar-w16-fashion-mnist}
BN_STEPS=${BN_STEPS:-300}     # C/8 and C/16
BN_STEPS_C4=${BN_STEPS_C4:-1000}  # C/4: the width that carries the >= 32x target
# C/4 refinement runs per split, steps of each (`steps@lr`: another peak LR than 0.0015; 2-bit,
# distillation weight 0.9, temperature 4; each run continues from the previous one with seed
# 11, 12, ...).
REFINE_STEPS=${REFINE_STEPS:-stem:1800,1500,1500@0.003 layer1:2000 layer2:1200 layer3:1500 layer4:600}
DIVS=${DIVS-4 8 16}
SPLITS=${SPLITS-layer4 layer3 layer2 layer1 stem}
PRUNE=${PRUNE:-1}
PRUNE_RATIOS=${PRUNE_RATIOS:-0.5 0.75}  # the study also searches 0.25 (not trained here)
PRUNE_STEPS=${PRUNE_STEPS:-150}
BIN=${BIN:-target/release/splitbench}
M=(--model resnet18-cifar --width 16 --dataset fashion-mnist --weights "$BASE")
stem=${BASE%.safetensors}

if [ "$STEP" = all ] || [ "$STEP" = train ]; then
  [ -x "$BIN" ] || cargo build --release --features train
  # C = 16, 16, 32, 64, 128 at stem, layer1..4 (width 16).
  for split in $SPLITS; do
    case $split in stem|layer1) c=16;; layer2) c=32;; layer3) c=64;; layer4) c=128;; esac
    node=$split.1.conv2; [ "$split" = stem ] && node=conv1  # the fused split node
    for div in $DIVS; do
      k=$((c / div)); f="$stem.$node-bn$k.safetensors"
      [ -e "$f" ] && continue
      T=(train-bottleneck "${M[@]}" --split "$split" --channels $k --batch 64 --test-limit 1000)
      if [ "$div" != 4 ]; then
        CANDLE_NUM_THREADS=1 "$BIN" "${T[@]}" --bits 8,4,2 --steps "$BN_STEPS" --lr 0.003 --seed 1
        continue
      fi
      first="$f.stage1"
      CANDLE_NUM_THREADS=1 "$BIN" "${T[@]}" --bits 8,4,2 --steps "$BN_STEPS_C4" --lr 0.003 \
        --seed 1 --out "$first"
      prev=$first seed=11
      for run in $(tr ' ' '\n' <<<"$REFINE_STEPS" | sed -n "s/^$split://p" | tr ',' ' '); do
        steps=${run%@*} lr=0.0015; [ "$run" = "$steps" ] || lr=${run#*@}
        CANDLE_NUM_THREADS=1 "$BIN" "${T[@]}" --bits 2 --steps "$steps" --lr "$lr" --seed $seed \
          --init "$prev" --distill-weight 0.9 --distill-temperature 4 --out "$f.run$seed"
        [ "$prev" = "$first" ] || rm "$prev"
        prev=$f.run$seed seed=$((seed + 1))
      done
      mv "$prev" "$f"; [ ! -e "$first" ] || rm "$first"
    done
  done
  # Stage whose output crosses each split: stem=0 .. layer4=4.
  [ "$PRUNE" = 1 ] && for stage in 0 1 2 3 4; do
    for r in $PRUNE_RATIOS; do
      ratios=(0 0 0 0 0); ratios[$stage]=$r
      csv=$(IFS=,; echo "${ratios[*]}"); name=$(IFS=_; echo "${ratios[*]}")
      f="$stem.prune-$name.safetensors"
      [ -e "$f" ] || CANDLE_NUM_THREADS=1 RAYON_NUM_THREADS=1 "$BIN" prune-finetune "${M[@]}" \
        --ratios "$csv" --steps "$PRUNE_STEPS" --batch 64 --lr 0.01 --seed 1 --test-limit 1000
    done
  done
fi

if [ "$STEP" = all ] || [ "$STEP" = eval ]; then
  [ -x "$BIN" ] || cargo build --release
  "$BIN" accuracy "${M[@]}" --limit "$LIMIT" --out "$OUT"
fi
