#!/usr/bin/env bash
# TSBS query shapes on the embedded store: several influxgate builds and influxd 1.6.7 in one run,
# interleaved by examples/tsbs_queries (influxd is the reference for ratios and answers), e.g. the
# current build against the commits it should be no slower than (bench-oldnew.sh compares two):
#   BINS="new=target/quick-release/influxgate old=/tmp/old-influxgate" scripts/bench-builds.sh
# Knobs: HOSTS (50), HOURS (12), RUNS (15), SHAPES (all, comma-separated), P (18800: ports P+1..),
#   TQ (the tsbs_queries binary, default target/quick-release/examples/tsbs_queries).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/bench-lib.sh
. "$ROOT/scripts/bench-lib.sh"
BINS=${BINS:?BINS=\"name=/path/to/influxgate ...\"}
TQ=${TQ:-$ROOT/target/quick-release/examples/tsbs_queries}; TOKEN=benchtoken
HOSTS=${HOSTS:-50}; HOURS=${HOURS:-12}; RUNS=${RUNS:-15}; P=${P:-18800}
WORK=$(mktemp -d); PIDS=()
trap bench_cleanup EXIT
start_influxd influxd $((P + 1)); IPID=$LAST_PID
ARGS=(); port=$((P + 3))
for nb in $BINS; do
    GATE_BIN=${nb#*=} start_influxgate "${nb%%=*}" $port
    ARGS+=(--server "${nb%%=*}=http://127.0.0.1:$port@$TOKEN" --pid "${nb%%=*}=$LAST_PID"); port=$((port + 1))
done
"$TQ" "${ARGS[@]}" --server "influxd=http://127.0.0.1:$((P + 1))" --pid "influxd=$IPID" --hosts "$HOSTS" \
    --hours "$HOURS" --runs "$RUNS" --load --diff-dir "$WORK/diffs" ${SHAPES:+--shapes "$SHAPES"} 2>&1
