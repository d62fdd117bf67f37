#!/usr/bin/env bash
# Idempotent setup for kiln on Debian 12: the packages the firmware build and the emulator need,
# and a project-local Python environment holding onnx (only for the ONNX conformance test data).
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

need_apt=()
for pkg in qemu-system-arm rustc-web cargo-web rust-web-src lld-22 rust-web-llvm python3-venv; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_apt[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: no cargo on PATH; install Rust (https://rustup.rs) and run this again" >&2
  exit 2
fi

PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c 'import onnx, sys; sys.exit(onnx.__version__ != "1.20.0")' 2>/dev/null; then
  .venv/bin/pip install -q "onnx==1.20.0"
fi
echo "setup: ok"
