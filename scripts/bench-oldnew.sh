#!/usr/bin/env bash
# TSBS shapes, same run: a new influxgate build (the reference for ratios), an old one and influxd 1.6.7,
# interleaved by examples/tsbs_queries, so a change can be shown to slow no shape (scripts/bench.sh
# measures one build against the peers; this compares two builds):
#   cargo build --release --bin influxgate --example tsbs_queries
#   OLD=/path/to/old/influxgate scripts/bench-oldnew.sh                  # embedded store
#   OLD=/path/to/old/influxgate BACK=vm scripts/bench-oldnew.sh          # each build on its own VictoriaMetrics
# Knobs: HOSTS (20), HOURS (12), RUNS (10), P (18700: ports P+1..P+6), NEW (target/release/influxgate),
#   EXAMPLES (target/release/examples).
# Prints the tool's table: median / p90 ms and server CPU ms per query for each, ratios to new.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/bench-lib.sh
. "$ROOT/scripts/bench-lib.sh"
OLD=${OLD:?OLD=/path/to/an older influxgate binary}; NEW=${NEW:-$ROOT/target/release/influxgate}
TQ=${EXAMPLES:-$ROOT/target/release/examples}/tsbs_queries; TOKEN=benchtoken
HOSTS=${HOSTS:-20}; HOURS=${HOURS:-12}; RUNS=${RUNS:-10}; BACK=${BACK:-embedded}; P=${P:-18700}
WORK=$(mktemp -d); PIDS=()
trap bench_cleanup EXIT
start_influxd influxd $((P + 1)); IPID=$LAST_PID
# gate NAME BIN PORT VM_PORT -> GPIDS (influxgate, and the VM behind it with BACK=vm).
gate() {
    if [ "$BACK" = vm ]; then
        start_vm "vm$1" "$4"; local v=$LAST_PID
        GATE_BIN=$2 start_influxgate "$1" "$3" --backend victoriametrics --backend-url "http://127.0.0.1:$4"
        GPIDS="$LAST_PID+$v"
    else
        GATE_BIN=$2 start_influxgate "$1" "$3"; GPIDS=$LAST_PID
    fi
}
gate new "$NEW" $((P + 3)) $((P + 5)); GN=$GPIDS
gate old "$OLD" $((P + 4)) $((P + 6)); GO=$GPIDS
"$TQ" --server "new=http://127.0.0.1:$((P + 3))@$TOKEN" --server "old=http://127.0.0.1:$((P + 4))@$TOKEN" \
    --server "influxd=http://127.0.0.1:$((P + 1))" --reference new \
    --pid "new=$GN" --pid "old=$GO" --pid "influxd=$IPID" --hosts "$HOSTS" --hours "$HOURS" --runs "$RUNS" \
    --load --diff-dir "$WORK/diffs" 2>&1
