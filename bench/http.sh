#!/usr/bin/env bash
# HTTP load: wrk against GET /api/v1/userprofile/{id} on a release build of `miyagi up`, with
# GET /healthz (same stack, no database) as the same-session baseline.
#
#   bash bench/http.sh            # needs wrk (apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p miyagi
data=$(mktemp -d)
port=18080
MIYAGI_DATA_DIR="$data" MIYAGI_HTTP__BIND="127.0.0.1:$port" MIYAGI_TELEMETRY__LOG_FILTER=warn \
  "${CARGO_TARGET_DIR:-target}/release/miyagi" up >/dev/null 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
id=$(curl -sf -X POST "http://127.0.0.1:$port/api/v1/userprofile/generate?count=1&seed=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
run() { wrk -t2 -c32 -d10s --latency "$1" | grep -E "Requests/sec|50%|99%"; }
echo "== baseline: GET /healthz"; run "http://127.0.0.1:$port/healthz"
echo "== GET /api/v1/userprofile/$id"; run "http://127.0.0.1:$port/api/v1/userprofile/$id"
