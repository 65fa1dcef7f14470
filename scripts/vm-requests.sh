#!/usr/bin/env bash
# The HTTP requests influxgate makes to VictoriaMetrics per statement, for each TSBS shape, and
# VictoriaMetrics' own time in them (from its /metrics: vm_http_requests_total and
# vm_request_duration_seconds_sum per path), next to each statement's wall and CPU time:
#   cargo build --profile quick-release --bin influxgate --example tsbs_queries
#   GATE_BIN=target/quick-release/influxgate scripts/vm-requests.sh
# Knobs: HOSTS (50), HOURS (12), RUNS (10), P (23400: ports P+1, P+2), TQ (the tsbs_queries binary),
#   PERF (set: also `perf record -g` influxgate over each shape, into $OUT/perf-SHAPE.data).
# Starts a fresh victoria-metrics and influxgate on loopback ports, loads the dataset, stops both.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
GATE_BIN=${GATE_BIN:-$ROOT/target/quick-release/influxgate}
TQ=${TQ:-$ROOT/target/quick-release/examples/tsbs_queries}
HOSTS=${HOSTS:-50}; HOURS=${HOURS:-12}; RUNS=${RUNS:-10}; P=${P:-23400}; TOKEN=benchtoken
OUT=${OUT:-$ROOT/target/vm-requests}; mkdir -p "$OUT"
for port in $((P + 1)) $((P + 2)); do
    if ss -ltn "sport = :$port" | grep -q LISTEN; then echo "port $port is in use: choose another P" >&2; exit 1; fi
done
W=$(mktemp -d); PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$W"' EXIT
ping() { for _ in $(seq 1 300); do curl -sf "$1" >/dev/null && return 0; sleep 0.2; done; echo "no answer from $1"; exit 1; }
victoria-metrics -retentionPeriod 100y -storageDataPath "$W/vm" -httpListenAddr "127.0.0.1:$((P + 1))" \
    -loggerLevel ERROR >"$W/vm.log" 2>&1 & PIDS+=($!); VPID=$!
ping "http://127.0.0.1:$((P + 1))/health"
printf '[backend]\nsync = "full"\n[log]\nlevel = "warn"\n' >"$W/config.toml"
"$GATE_BIN" serve --config "$W/config.toml" --listen "127.0.0.1:$((P + 2))" --data-dir "$W/gate" \
    --admin-token "$TOKEN" --backend victoriametrics --backend-url "http://127.0.0.1:$((P + 1))" \
    >"$W/gate.log" 2>&1 & PIDS+=($!); GPID=$!
ping "http://127.0.0.1:$((P + 2))/ping"
# path -> "count seconds" from VictoriaMetrics' /metrics.
vm_counts() {
    sleep 2 # VictoriaMetrics counts a request a moment after answering it
    curl -s "http://127.0.0.1:$((P + 1))/metrics" | awk '
        /^vm_http_requests_total\{path="\/api\/v1\/[a-z_{}\/]+"\}/ { split($1, a, "\""); n[a[2]] += $2 }
        /^vm_request_duration_seconds_sum\{path="\/api\/v1\/[a-z_{}\/]+"\}/ { split($1, a, "\""); s[a[2]] += $2 }
        END { for (k in n) printf "%s %d %.6f\n", k, n[k], s[k] }'  | sort
}
cpu() { awk '{ sub(/^.*\) /, ""); print ($12 + $13) / 100 }' "/proc/$1/stat"; }
"$TQ" --server "gate=http://127.0.0.1:$((P + 2))@$TOKEN" --hosts "$HOSTS" --hours "$HOURS" --runs 1 --load \
    --shapes lastpoint >/dev/null 2>"$OUT/load.txt" || { cat "$OUT/load.txt"; exit 1; }
cat "$OUT/load.txt"
printf '%-22s %8s %9s %9s  %s\n' shape "wall ms" "gate CPU" "VM CPU" "VM requests per statement: path count (VM ms)"
for shape in single-groupby-1-1-1 single-groupby-5-1-12 cpu-max-all-1 cpu-max-all-8 double-groupby-1 high-cpu-1 lastpoint groupby-orderby-limit; do
    vm_counts >"$OUT/before"; g0=$(cpu $GPID); v0=$(cpu $VPID)
    [ -n "${PERF:-}" ] && { perf record -q -g -F 999 -p "$GPID" -o "$OUT/perf-$shape.data" >/dev/null 2>&1 & PERFPID=$!; sleep 0.3; }
    t0=$(date +%s.%N)
    "$TQ" --server "gate=http://127.0.0.1:$((P + 2))@$TOKEN" --hosts "$HOSTS" --hours "$HOURS" --runs "$RUNS" \
        --shapes "$shape" >"$OUT/tq-$shape.txt" 2>&1
    t1=$(date +%s.%N)
    [ -n "${PERF:-}" ] && { kill -INT "$PERFPID"; wait "$PERFPID" 2>/dev/null; }
    g1=$(cpu $GPID); v1=$(cpu $VPID); vm_counts >"$OUT/after"
    n=$((RUNS + 1)) # tsbs_queries sends one warm-up statement per shape
    med=$(awk -F'|' -v s=" $shape " '$2 == s { split($3, a, "/"); print a[1] }' "$OUT/tq-$shape.txt" | tr -d ' ')
    reqs=$(join -a2 "$OUT/before" "$OUT/after" | awk -v n=$n '{ if (NF == 3) { c = $2; s = $3 } else { c = $4 - $2; s = $5 - $3 }
        if (c > 0) printf "%s %.1f (%.1f)  ", $1, c / n, 1000 * s / n }')
    printf '%-22s %8s %9.1f %9.1f  %s\n' "$shape" "$med" "$(echo "1000 * ($g1 - $g0) / $n" | bc -l)" \
        "$(echo "1000 * ($v1 - $v0) / $n" | bc -l)" "$reqs"
done
