#!/usr/bin/env bash
# scripts/kafka.sh — a Kafka-compatible broker for Miyagi's tests and benchmarks.
#
# Why: there is no Docker engine and no Kafka package here. `tansu` (crates.io) is a
# single-binary broker that speaks the Kafka protocol; librdkafka (our adapter) talks
# to it exactly as to Kafka or Azure Event Hubs. It stores records in SQLite
# (feature `libsql`), one row per record: its in-memory engine skips the rest of a
# record batch when a group resumes from an offset inside it, which is precisely
# the behaviour our resume/no-loss tests check.
#
# Usage:
#   scripts/kafka.sh [start]   install tansu if missing, start it, print the bootstrap address
#   scripts/kafka.sh stop      stop it (no-op if not running)
#   scripts/kafka.sh brokers   print the bootstrap address
#
#   export TEST_KAFKA_BROKERS="$(scripts/kafka.sh start)"   # the only stdout line
#
# Settings (environment):
#   MIYAGI_KAFKA_PORT  port on localhost                      (default 9092)
#   MIYAGI_KAFKA_DIR   state dir: SQLite file, log, pid       (default ~/.cache/miyagi/kafka)
#
# The first start builds tansu with `cargo install` (6–11 minutes on 2 cores) into
# ~/.cargo/bin; later starts reuse it.
set -euo pipefail

TANSU_VERSION="0.6.0"
PORT="${MIYAGI_KAFKA_PORT:-9092}"
STATE_DIR="${MIYAGI_KAFKA_DIR:-$HOME/.cache/miyagi/kafka}"
BROKERS="localhost:${PORT}"
PID_FILE="$STATE_DIR/tansu.pid"
LOG_FILE="$STATE_DIR/tansu.log"
TANSU="${CARGO_HOME:-$HOME/.cargo}/bin/tansu"

log() { echo "kafka.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

is_answering() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

ensure_tansu() {
  if [[ -x "$TANSU" ]] && "$TANSU" --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
    return 0
  fi
  log "installing tansu $TANSU_VERSION with cargo (first run only; several minutes)"
  # -j 2: the machine has two cores and the tests' build may follow right after.
  cargo install --quiet --locked --version "$TANSU_VERSION" --features libsql -j 2 tansu >&2
}

cmd_start() {
  if is_answering; then
    log "already running on $BROKERS"
    echo "$BROKERS"
    return 0
  fi
  ensure_tansu
  mkdir -p "$STATE_DIR"
  log "starting tansu on $BROKERS (log: $LOG_FILE)"
  # setsid: the broker outlives this script and is not killed with the caller's
  # process group (CI runs the tests after this script returns). tansu reads the
  # path in a sqlite:// URL relative to its working directory, hence the cd.
  cd "$STATE_DIR"
  setsid "$TANSU" broker \
    --cluster-id miyagi-test \
    --listener-url "tcp://127.0.0.1:${PORT}" \
    --advertised-listener-url "tcp://${BROKERS}" \
    --storage-engine "sqlite://tansu.db" \
    >"$LOG_FILE" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
  for _ in $(seq 1 100); do
    is_answering && { echo "$BROKERS"; return 0; }
    kill -0 "$(cat "$PID_FILE")" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "$LOG_FILE" >&2 || true
  die "tansu did not start"
}

cmd_stop() {
  if [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
    kill "$(cat "$PID_FILE")"
    rm -f "$PID_FILE"
    log "stopped"
  else
    log "not running"
  fi
}

case "${1:-start}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  brokers) echo "$BROKERS" ;;
  -h | --help | help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" ;;
  *) die "unknown command '$1' (use start, stop or brokers)" ;;
esac
