#!/usr/bin/env bash
# Installs what splitbench needs on a fresh Debian/Ubuntu machine: the Vulkan loader and
# Mesa's drivers (lavapipe, a CPU Vulkan implementation, is the GPU of machines without
# one), Debian's Fashion-MNIST (/usr/share/datasets/fashion-mnist, for training and the
# accuracy tests) and iproute2 (`ip`, which `splitbench link` uses to set addresses).
# With --web also Chromium (the browser test runs the page in it, headless) and the
# browser profiler itself (scripts/build-web.sh: the wasm32 target, wasm-bindgen-cli, the
# page in web/dist).
# Idempotent; run as root or with sudo available.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
web=0
case "${1:-}" in
  --web) web=1 ;;
  "") ;;
  *) echo "usage: scripts/setup.sh [--web]" >&2; exit 2 ;;
esac
pkgs=(mesa-vulkan-drivers libvulkan1 dataset-fashion-mnist iproute2)
if [ "$web" = 1 ]; then pkgs+=(chromium); fi
need=()
for pkg in "${pkgs[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "setup: ${need[*]:-nothing to install} ok"
if [ "$web" = 1 ]; then
  bash "$(dirname "$0")/build-web.sh"
fi
