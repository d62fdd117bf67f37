#!/usr/bin/env bash
# The whole test suite, the same locally and in CI: setup (idempotent), formatting, lints, then
# every test (unit, kernels, conformance, end to end on the emulated boards).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

# The ONNX backend node tests ship inside the pinned onnx package.
KILN_ONNX_NODE_TESTS="$(.venv/bin/python -c 'import onnx, os; print(os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node"))')"
export KILN_ONNX_NODE_TESTS
# One cargo target dir for every firmware build (cargo keeps one subfolder per target triple).
export KILN_TARGET_DIR="$PWD/target/firmware"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace --no-fail-fast
