#!/usr/bin/env bash
# Profiles a model in a headless browser through the page of `splitbench web`: the same
# per-node profile as `splitbench profile`, measured on the browser's WebGPU adapter (here
# Chromium's SwiftShader, a CPU implementation), written as OUT (CSV), OUT's .json (the
# manifest), OUT's _kernels.csv and _pruned.csv (the study's codec and bottleneck kernels
# and pruned prefixes, as `profile --kernels` writes; --no-kernels skips them) and OUT's
# _check.json (the output against the CPU reference).
#
#   scripts/web-profile.sh --model resnet18-cifar --out browser.csv [--reps 10] [--warmup 2]
#   (--model may be an ONNX file, with its weights inside: the page fetches it)
#                          [--batch 1] [--input CxHxW] [--timeout 600] [--no-kernels]
#                          [--timing wall-clock|timestamp-pass] (default: the best granted)
#
# Needs the built page (scripts/build-web.sh), a splitbench binary ($SPLITBENCH, else
# the newer of target/release and target/debug) and Chromium ($CHROMIUM, default chromium; Debian's
# `chromium` package).
set -euo pipefail
cd "$(dirname "$0")/.."
model="" out="" reps=10 warmup=2 batch=1 input="" timeout=600 kernels=1 timing=""
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --input) input="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    --no-kernels) kernels=0; shift ;;
    --timing) timing="$2"; shift 2 ;;
    *) echo "web-profile: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
if [ -z "$model" ] || [ -z "$out" ]; then
  echo "usage: scripts/web-profile.sh --model M --out F.csv [--reps R] [--warmup W] [--batch B]" >&2
  exit 2
fi
bin="${SPLITBENCH:-}"
if [ -z "$bin" ]; then
  # The newest build.
  bin=$(ls -t target/release/splitbench target/debug/splitbench 2>/dev/null | head -1 || true)
fi
[ -n "$bin" ] || { echo "web-profile: no splitbench binary: cargo build --release" >&2; exit 1; }
[ -f web/dist/index.html ] || { echo "web-profile: no page: run scripts/build-web.sh" >&2; exit 1; }
chrome="${CHROMIUM:-chromium}"
command -v "$chrome" >/dev/null || { echo "web-profile: no '$chrome' (apt-get install chromium)" >&2; exit 1; }

work=$(mktemp -d)
server_pid="" chrome_pid=""
cleanup() {
  if [ -n "$chrome_pid" ]; then kill "$chrome_pid" 2>/dev/null || true; wait "$chrome_pid" 2>/dev/null || true; fi
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  # Chromium's helper processes may still be writing its profile for a moment.
  for _ in 1 2 3 4 5; do rm -rf "$work" 2>/dev/null && break; sleep 0.5; done
  return 0
}
trap cleanup EXIT

: >"$work/server.log" # exists before the server's own redirect opens it
root=web/dist
query="auto=1&model=$model&reps=$reps&warmup=$warmup&batch=$batch&input=$input&kernels=$kernels&timing=$timing"
case "$model" in
  *.onnx|*.ONNX)
    # The page fetches the file from the server: serve a copy of the page with it beside.
    [ -f "$model" ] || { echo "web-profile: no file '$model'" >&2; exit 1; }
    root="$work/root"
    cp -r web/dist "$root"
    name=$(basename "$model")
    cp "$model" "$root/$name"
    query="$query&onnx=$name"
    ;;
esac
"$bin" web --listen 127.0.0.1:0 --once --timeout-s "$timeout" --out "$work/result" \
  --root "$root" >"$work/server.log" 2>&1 &
server_pid=$!
url=""
for _ in $(seq 100); do
  url=$(sed -n 's/^serving //p' "$work/server.log")
  [ -n "$url" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$url" ] || { cat "$work/server.log" >&2; echo "web-profile: the server did not start" >&2; exit 1; }
# SwiftShader gives WebGPU without a GPU; --enable-unsafe-webgpu lets it run headless on
# Linux. The page logs each stage on the console, which goes to stderr.
"$chrome" --headless=new --no-sandbox --enable-unsafe-webgpu --enable-logging=stderr --v=0 \
  --user-data-dir="$work/profile" "$url?$query" >"$work/chrome.log" 2>&1 &
chrome_pid=$!
echo "web-profile: $model in headless $("$chrome" --version 2>/dev/null | head -1) via $url"
status=0
wait "$server_pid" || status=$?
server_pid=""
grep -o '"splitbench: [^"]*"' "$work/chrome.log" | sed 's/^"splitbench: /  page: /; s/"$//' || true
if [ "$status" != 0 ]; then
  cat "$work/server.log" >&2
  echo "web-profile: no result (server exit $status); the browser's log:" >&2
  tail -20 "$work/chrome.log" >&2
  exit 1
fi
mkdir -p "$(dirname "$out")"
cp "$work/result/device_profile.csv" "$out"
cp "$work/result/device_profile.json" "${out%.csv}.json"
cp "$work/result/output_check.json" "${out%.csv}_check.json"
written="$out, ${out%.csv}.json, ${out%.csv}_check.json"
for part in kernels pruned; do
  if [ -f "$work/result/device_profile_$part.csv" ]; then
    cp "$work/result/device_profile_$part.csv" "${out%.csv}_$part.csv"
    written="$written, ${out%.csv}_$part.csv"
  fi
done
echo "web-profile: wrote $written"
