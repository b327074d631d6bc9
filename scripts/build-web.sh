#!/usr/bin/env bash
# Builds the browser profiler into web/dist: splitbench's engine compiled to wasm32 with
# wgpu's WebGPU backend (web/, its own crate), the JavaScript glue of wasm-bindgen, and the
# page. Serve it with `splitbench web --listen 127.0.0.1:8080`.
# Installs what it needs: the wasm32 target (rustup) and wasm-bindgen-cli of exactly the
# version web/Cargo.toml pins (cargo install, a few minutes the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
want=$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' web/Cargo.toml)
rustup target list --installed | grep -qx wasm32-unknown-unknown \
  || rustup target add wasm32-unknown-unknown
if [ "$(wasm-bindgen --version 2>/dev/null | cut -d' ' -f2)" != "$want" ]; then
  echo "build-web: installing wasm-bindgen-cli $want"
  cargo install --quiet wasm-bindgen-cli --version "$want"
fi
SPLITBENCH_GIT_REVISION=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown) \
  cargo build --quiet --manifest-path web/Cargo.toml --target wasm32-unknown-unknown --release
rm -rf web/dist
mkdir -p web/dist
wasm-bindgen --target web --no-typescript --out-dir web/dist/pkg \
  web/target/wasm32-unknown-unknown/release/splitbench_web.wasm
cp web/index.html web/main.js web/style.css web/dist/
echo "build-web: web/dist ($(du -sh web/dist | cut -f1)); serve it with: splitbench web --listen 127.0.0.1:8080"
