#!/usr/bin/env bash
# TSBS shapes, same run: a new influxgate build (the reference for ratios), an old one and influxd 1.6.7,
# interleaved by examples/tsbs_queries, so a change can be shown to slow no shape:
#   cargo build --release --bin influxgate --example tsbs_queries
#   OLD=/path/to/old/influxgate scripts/bench-oldnew.sh                  # embedded store
#   OLD=/path/to/old/influxgate BACK=vm scripts/bench-oldnew.sh          # each build on its own VictoriaMetrics
# Knobs: HOSTS (20), HOURS (12), RUNS (10), P (18700: ports P+1..P+6), NEW (target/release/influxgate),
#   TQ (target/release/examples/tsbs_queries).
# Prints the tool's table: median / p90 ms and server CPU ms per query for each, ratios to new.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OLD=${OLD:?OLD=/path/to/an older influxgate binary}; NEW=${NEW:-$ROOT/target/release/influxgate}
TQ=${TQ:-$ROOT/target/release/examples/tsbs_queries}; TOKEN=benchtoken
HOSTS=${HOSTS:-20}; HOURS=${HOURS:-12}; RUNS=${RUNS:-10}; BACK=${BACK:-embedded}; P=${P:-18700}
W=$(mktemp -d); PIDS=()
trap 'kill ${PIDS[@]} 2>/dev/null; wait 2>/dev/null; rm -rf $W' EXIT
ping() { for i in $(seq 1 300); do curl -sf "$1/ping" >/dev/null && return 0; sleep 0.2; done; echo "no ping $1"; exit 1; }
vm() { mkdir -p $W/$1; victoria-metrics -retentionPeriod 100y -storageDataPath $W/$1 -httpListenAddr 127.0.0.1:$2 -loggerLevel ERROR > $W/$1.log 2>&1 & PIDS+=($!); VMPID=$!; sleep 1; ping http://127.0.0.1:$2; }
gate() { # name bin port [args]
  local n=$1 b=$2 p=$3; shift 3; mkdir -p $W/$n
  printf '[backend]\nsync = "full"\n[log]\nlevel = "warn"\n' > $W/$n/config.toml
  $b serve --config $W/$n/config.toml --listen 127.0.0.1:$p --data-dir $W/$n/data --admin-token $TOKEN "$@" > $W/$n/log 2>&1 & PIDS+=($!); GPID=$!; ping http://127.0.0.1:$p; }
mkdir -p $W/influxd
INFLUXDB_HTTP_BIND_ADDRESS=127.0.0.1:$((P+1)) INFLUXDB_BIND_ADDRESS=127.0.0.1:$((P+2)) INFLUXDB_META_DIR=$W/influxd/m INFLUXDB_DATA_DIR=$W/influxd/d INFLUXDB_DATA_WAL_DIR=$W/influxd/w INFLUXDB_REPORTING_DISABLED=true INFLUXDB_HTTP_LOG_ENABLED=false influxd > $W/influxd.log 2>&1 & PIDS+=($!); IPID=$!
ping http://127.0.0.1:$((P+1))
if [ "$BACK" = vm ]; then
  vm vmnew $((P+5)); VN=$VMPID; gate new $NEW $((P+3)) --backend victoriametrics --backend-url http://127.0.0.1:$((P+5)); GN="$GPID+$VN"
  vm vmold $((P+6)); VO=$VMPID; gate old $OLD $((P+4)) --backend victoriametrics --backend-url http://127.0.0.1:$((P+6)); GO="$GPID+$VO"
else
  gate new $NEW $((P+3)); GN=$GPID; gate old $OLD $((P+4)); GO=$GPID
fi
$TQ --server "new=http://127.0.0.1:$((P+3))@$TOKEN" --server "old=http://127.0.0.1:$((P+4))@$TOKEN" --server "influxd=http://127.0.0.1:$((P+1))" \
  --pid "new=$GN" --pid "old=$GO" --pid "influxd=$IPID" --hosts $HOSTS --hours $HOURS --runs $RUNS --load --diff-dir $W/diffs 2>&1
