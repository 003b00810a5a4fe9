#!/usr/bin/env bash
# Miyagi's kernel and Python Semantic Kernel side by side: the same prompt function (SK template
# syntax, three variables) called one at a time against one local OpenAI-compatible endpoint
# (crates/kernel/examples/mock_openai.rs, a process of its own that answers a fixed completion at
# once). Each side also times a bare HTTP call of the same request to that endpoint (reqwest,
# httpx), so what each kernel adds is its own time less its own baseline.
#
#   bash bench/sk-python.sh [calls]      # default 2000 Python calls; criterion picks Rust's
#
# Semantic Kernel comes from PyPI into a venv under ~/.cache/miyagi (pinned below).
set -euo pipefail
cd "$(dirname "$0")/.."
calls=${1:-2000}
port=18090
target=${CARGO_TARGET_DIR:-target}
venv=$HOME/.cache/miyagi/sk-venv
cargo build -q -p miyagi-kernel --example mock_openai
"$target/debug/examples/mock_openai" "127.0.0.1:$port" >/dev/null &
mock=$!
trap 'kill $mock 2>/dev/null' EXIT
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
"$venv/bin/pip" install -q semantic-kernel==1.45.0 httpx
until curl -sf -o /dev/null -X POST "http://127.0.0.1:$port/v1/chat/completions"; do sleep 0.2; done
echo "== Python Semantic Kernel $("$venv/bin/python" -c 'import semantic_kernel; print(semantic_kernel.__version__)')"
"$venv/bin/python" bench/sk-python/compare.py "http://127.0.0.1:$port/v1" "$calls"
echo "== Miyagi's kernel (criterion)"
MOCK_OPENAI_URL="http://127.0.0.1:$port/v1" cargo bench -q -p miyagi-kernel --bench kernel_overhead -- 'raw_http|kernel_invoke' 2>&1 \
  | grep -E '^(raw_http|kernel_invoke)|time:'
