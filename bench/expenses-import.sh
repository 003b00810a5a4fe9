#!/usr/bin/env bash
# Expense import throughput on `miyagi up`: one CSV of N rows posted to /api/v1/expenses/imports
# and followed until imported, in three shapes, with the preview endpoint (the same file read and
# checked, nothing filed or stored) as the same-session baseline:
#   known      rows whose payees the dictionary knows (stages 1–4 only)
#   unknown    every row a payee of its own (each one embedded by MiniLM, stage 5)
#   again      the `known` file re-imported: every row a duplicate
#
#   bash bench/expenses-import.sh [rows] [binary]   # default 10000 rows, a release build
# (The binary is an argument, not a MIYAGI_ variable: `miyagi` reads every one of those as config.)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-10000}
bin=${2:-}
if [[ -z "$bin" ]]; then
  cargo build --release -p miyagi
  bin=./target/release/miyagi
fi
data=$(mktemp -d)
port=18081
MIYAGI_DATA_DIR="$data" MIYAGI_HTTP__BIND="127.0.0.1:$port" MIYAGI_TELEMETRY__LOG_FILTER=warn \
  MIYAGI_DOCUMENTS__LIBRARY=false MIYAGI_HTTP__REQUEST_TIMEOUT_SECS=600 "$bin" up >"$data/miyagi.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do
  kill -0 $pid 2>/dev/null || { echo "miyagi did not start:"; tail -5 "$data/miyagi.log"; exit 1; }
  sleep 0.5
done

python3 - "$rows" "$data" <<'PY'
import random, sys
rows, out = int(sys.argv[1]), sys.argv[2]
random.seed(7)
known = ["KROGER #{} CINCINNATI OH", "STARBUCKS STORE {}", "SHELL OIL {}", "AMAZON MKTPL*{}", "TARGET 000{}", "UBER TRIP {}", "CVS/PHARMACY #{}"]
def write(name, payee):
    with open(f"{out}/{name}.csv", "w") as f:
        f.write("Date,Description,Amount\n")
        for i in range(rows):
            day = f"2026-{1 + i % 11:02d}-{1 + i % 28:02d}"
            f.write(f"{day},{payee(i)},-{random.uniform(3, 150):.2f}\n")
write("known", lambda i: random.choice(known).format(random.randint(100, 9999)))
words = ["OAK", "RIVER", "SUN", "STONE", "MAPLE", "NORTH", "BLUE", "GOLDEN", "CEDAR", "HARBOR", "PINE", "SILVER"]
kinds = ["BISTRO", "MARKET", "STUDIO", "SUPPLY", "GARAGE", "TAVERN", "BAKERY", "OUTFITTERS", "CLINIC", "SALON"]
# Payee keys drop digits, so each payee's own mark is its number spelled in letters.
letters = lambda i: "".join(chr(65 + int(d)) for d in f"{i:05d}")
write("unknown", lambda i: f"{random.choice(words)} {random.choice(kinds)} {letters(i)}")
PY

# Seconds from sending the file to its import done: the answer (202) comes once the file is
# stored; the rows are filed and stored from the import's event, so the import is followed
# until it is no longer `received`. The preview answers with its result directly.
timed() { # path file → seconds
  python3 - "http://127.0.0.1:$port$1" "$2" <<'PY'
import json, sys, time, urllib.request
url, path = sys.argv[1:]
body = open(path, "rb").read()
started = time.monotonic()
request = urllib.request.Request(url, data=body, method="POST", headers={"content-type": "text/csv"})
with urllib.request.urlopen(request) as answer:
    job = json.load(answer)
    status = answer.status
while status == 202 and job["status"] == "received":
    time.sleep(0.02)
    with urllib.request.urlopen(url.split("?")[0] + "/" + job["id"]) as answer:
        job = json.load(answer)
assert status != 202 or job["status"] == "completed", job
print(time.monotonic() - started)
PY
}
rate() { python3 -c "print(f'{$rows / $1:,.0f} rows/s ({$1:.2f} s)')"; }
timed /api/v1/expenses/imports/preview "$data/known.csv" >/dev/null   # warm-up
echo "== baseline: preview (read and check only), $rows rows: $(rate "$(timed /api/v1/expenses/imports/preview "$data/known.csv")")"
echo "== known payees:   $(rate "$(timed '/api/v1/expenses/imports?account=a' "$data/known.csv")")"
echo "== again (dupes):  $(rate "$(timed '/api/v1/expenses/imports?account=a' "$data/known.csv")")"
echo "== unknown payees: $(rate "$(timed '/api/v1/expenses/imports?account=b' "$data/unknown.csv")")"
