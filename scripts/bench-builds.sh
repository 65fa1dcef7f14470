#!/usr/bin/env bash
# TSBS query shapes, same run: several influxgate builds and influxd 1.6.7, interleaved by
# examples/tsbs_queries (influxd is the reference for ratios and answers), so a change can be shown to
# slow no shape (scripts/bench.sh measures one build against the peers; this compares builds):
#   cargo build --profile quick-release --bin influxgate --example tsbs_queries
#   BINS="new=target/quick-release/influxgate old=/tmp/old-influxgate" scripts/bench-builds.sh          # embedded store
#   BINS="new=target/quick-release/influxgate old=/tmp/old-influxgate" BACK=vm scripts/bench-builds.sh  # each build on its own VictoriaMetrics
#   BINS="new=target/quick-release/influxgate old=/tmp/old-influxgate" BACK=ch scripts/bench-builds.sh  # each build on its own ClickHouse 18.16
# Knobs: HOSTS (50), HOURS (12), RUNS (15), SHAPES (all, comma-separated), BACK (embedded | vm | ch),
#   P (18800: ports P+1..), TQ (the tsbs_queries binary, default target/quick-release/examples/tsbs_queries),
#   GATE_CPU=1 (count influxgate's CPU alone, not its store's: what a change to influxgate's own work moves).
# Prints the tool's table: median / p90 ms and server CPU ms per query (influxgate and its VictoriaMetrics
# together; with ClickHouse likewise, unless GATE_CPU=1) for each, ratios to influxd.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/bench-lib.sh
. "$ROOT/scripts/bench-lib.sh"
BINS=${BINS:?BINS=\"name=/path/to/influxgate ...\"}
TQ=${TQ:-$ROOT/target/quick-release/examples/tsbs_queries}; TOKEN=benchtoken
HOSTS=${HOSTS:-50}; HOURS=${HOURS:-12}; RUNS=${RUNS:-15}; BACK=${BACK:-embedded}; P=${P:-18800}
WORK=$(mktemp -d); PIDS=()
trap bench_cleanup EXIT
start_influxd influxd $((P + 1)); IPID=$LAST_PID
ARGS=(); port=$((P + 3))
for nb in $BINS; do
    name=${nb%%=*}
    if [ "$BACK" = vm ]; then
        start_vm "vm$name" $((port + 100)); vpid=$LAST_PID
        GATE_BIN=${nb#*=} start_influxgate "$name" $port --backend victoriametrics --backend-url "http://127.0.0.1:$((port + 100))"
        pids="$LAST_PID+$vpid"
        if [ -n "${GATE_CPU:-}" ]; then pids=$LAST_PID; fi
    elif [ "$BACK" = ch ]; then
        start_ch_setup single $((port + 200))
        GATE_BIN=${nb#*=} start_influxgate "$name" $port --backend clickhouse --backend-url "$CH_URL"
        pids="$LAST_PID+$CH_PIDS"
        if [ -n "${GATE_CPU:-}" ]; then pids=$LAST_PID; fi
    else
        GATE_BIN=${nb#*=} start_influxgate "$name" $port; pids=$LAST_PID
    fi
    ARGS+=(--server "$name=http://127.0.0.1:$port@$TOKEN" --pid "$name=$pids"); port=$((port + 10))
done
"$TQ" "${ARGS[@]}" --server "influxd=http://127.0.0.1:$((P + 1))" --pid "influxd=$IPID" --hosts "$HOSTS" \
    --hours "$HOURS" --runs "$RUNS" --load --diff-dir "$WORK/diffs" ${SHAPES:+--shapes "$SHAPES"} 2>&1
