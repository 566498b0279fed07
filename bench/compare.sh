#!/usr/bin/env bash
# A before/after of the delivery path: a baseline build (any commit, built in its own worktree and
# target directory) and this build, alternating run by run so load from elsewhere hits both.
#
#   git worktree add /work/wt/baseline BASELINE_COMMIT
#   (cd /work/wt/baseline && CARGO_TARGET_DIR=/work/target-baseline cargo build --release -p streamhooks-api -p streamhooks-bench)
#   CARGO_TARGET_DIR=/work/target-delivery cargo build --release -p streamhooks-api -p streamhooks-bench
#   PG_URL=postgres://postgres@127.0.0.1:5433/postgres PG_PIDFILE=/work/pg-delivery/data/postmaster.pid bash bench/compare.sh
#
# PG_URL must be a PostgreSQL with its default durability (fsync, synchronous_commit on) whose
# postmaster.pid is PG_PIDFILE, on this machine: the side-by-side reads its processes' CPU time.
set -euo pipefail
BASE="${BASE:-/work/target-baseline/release}"
NEW="${NEW:-/work/target-delivery/release}"
RUNS="${RUNS:-3}"
: "${PG_URL:?set PG_URL}" "${PG_PIDFILE:?set PG_PIDFILE}"

echo "== (a) SQLite, drain 200,000 queued events: baseline and this build alternately, $RUNS runs each"
for run in $(seq "$RUNS"); do
  echo "-- run $run"
  "$BASE/streamhooks-bench" --only throughput --runs 1 | grep -E 'run:'  | sed 's/^/baseline  /'
  "$NEW/streamhooks-bench" --only throughput --runs 1 | grep -E 'run:' | sed 's/^/this build/'
done

echo "== (side) PostgreSQL, 10 webhooks, receiver in its own process, 5,000 and 50,000 queued"
TEST_DATABASE_URL="$PG_URL" "$NEW/streamhooks-bench" --only side --runs "$RUNS" \
  --streamhooks-bin "$NEW/streamhooks" --baseline-bin "$BASE/streamhooks" --pg-pidfile "$PG_PIDFILE"

echo "== (history) history(limit: 25) with attempts on a webhook with 1,000,000 events"
TEST_DATABASE_URL="$PG_URL" "$NEW/streamhooks-bench" --only history --runs "$RUNS"
