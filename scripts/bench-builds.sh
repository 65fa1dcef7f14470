#!/usr/bin/env bash
# TSBS query shapes on the embedded store, several influxgate builds and influxd 1.6.7 in one run,
# interleaved by examples/tsbs_queries (influxd is the reference for ratios and answers):
#   BINS="new=target/quick-release/influxgate old=/tmp/old-influxgate" scripts/bench-builds.sh
# Knobs: HOSTS (50), HOURS (12), RUNS (15), SHAPES (all), P (18800: ports P+1..), TQ (the tsbs_queries
# binary, default target/quick-release/examples/tsbs_queries), KEEP=1 (leave the servers up and print
# their pids and ports instead of stopping them after the run; for perf: kill them yourself).
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BINS=${BINS:?BINS=\"name=/path/to/influxgate ...\"}
TQ=${TQ:-$ROOT/target/quick-release/examples/tsbs_queries}; TOKEN=benchtoken
HOSTS=${HOSTS:-50}; HOURS=${HOURS:-12}; RUNS=${RUNS:-15}; P=${P:-18800}
W=$(mktemp -d); PIDS=()
[ -n "${KEEP:-}" ] || trap 'kill ${PIDS[@]} 2>/dev/null; wait 2>/dev/null; rm -rf $W' EXIT
ping() { for _ in $(seq 1 300); do curl -sf "$1/ping" >/dev/null && return 0; sleep 0.2; done; echo "no ping $1"; exit 1; }
mkdir -p $W/influxd
INFLUXDB_HTTP_BIND_ADDRESS=127.0.0.1:$((P+1)) INFLUXDB_BIND_ADDRESS=127.0.0.1:$((P+2)) INFLUXDB_META_DIR=$W/influxd/m \
  INFLUXDB_DATA_DIR=$W/influxd/d INFLUXDB_DATA_WAL_DIR=$W/influxd/w INFLUXDB_REPORTING_DISABLED=true \
  INFLUXDB_HTTP_LOG_ENABLED=false INFLUXDB_DATA_QUERY_LOG_ENABLED=false influxd > $W/influxd.log 2>&1 &
PIDS+=($!); IPID=$!
ping http://127.0.0.1:$((P+1))
ARGS=(); port=$((P+3))
for nb in $BINS; do
  n=${nb%%=*}; b=${nb#*=}; mkdir -p $W/$n
  printf '[backend]\nsync = "full"\n[log]\nlevel = "warn"\n' > $W/$n/config.toml
  $b serve --config $W/$n/config.toml --listen 127.0.0.1:$port --data-dir $W/$n/data --admin-token $TOKEN > $W/$n/log 2>&1 &
  PIDS+=($!); ping http://127.0.0.1:$port
  ARGS+=(--server "$n=http://127.0.0.1:$port@$TOKEN" --pid "$n=$!")
  echo "$n pid $! port $port"; port=$((port+1))
done
echo "influxd pid $IPID port $((P+1)); work dir $W"
ARGS+=(--server "influxd=http://127.0.0.1:$((P+1))" --pid "influxd=$IPID")
$TQ "${ARGS[@]}" --hosts $HOSTS --hours $HOURS --runs $RUNS --load --diff-dir $W/diffs \
  ${SHAPES:+--shapes $SHAPES} 2>&1
