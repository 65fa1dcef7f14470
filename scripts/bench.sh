#!/usr/bin/env bash
# Reproduces every figure in BENCHMARKS.md in one command:
#   scripts/bench.sh            # everything (about 15-25 minutes on 2 cores)
#   STEPS="parse write" scripts/bench.sh   # a subset: parse, write, query, vm, vmwrite, spool, chwrite, chquery
#   (vmwrite: only the VictoriaMetrics write overhead, a fresh VM — and influxgate — every round;
#    spool: write throughput with [spool] enabled vs disabled in front of VictoriaMetrics, and the
#    spool's write and replay rates through a VictoriaMetrics outage; not in the default STEPS)
#   (chwrite, chquery: ClickHouse 18.16, see scripts/bench-clickhouse.sh for their knobs)
# Builds release, starts influxgate / influxd 1.6.7 / victoria-metrics on loopback ports with fresh
# data directories under $WORK, runs, stops them. Results go to $OUT (default target/bench-results).
# Knobs (environment): WRITE_POINTS (1000000), WRITE_ROUNDS (3), CONNS (4), BATCH (5000),
#   QUERY_HOURS (30), QUERY_HOSTS (100), QUERY_RUNS (20), LP_CPU_SECS (2), SKIP_BUILD (unset),
#   BASEPORT (18600: servers listen on 127.0.0.1:BASEPORT+1..+33),
#   GATE_BIN (target/release/influxgate: the influxgate binary to measure, e.g. a copy of an older build),
#   SPOOL_POINTS (1000000: points written during the outage of the spool step),
#   SPOOL_BATCHES ("5000 500": the batch sizes of the spool step's enabled-vs-disabled runs).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

STEPS=${STEPS:-"parse write query vm"}
OUT=${OUT:-$ROOT/target/bench-results}
WRITE_POINTS=${WRITE_POINTS:-1000000}
WRITE_ROUNDS=${WRITE_ROUNDS:-3}
CONNS=${CONNS:-4}
BATCH=${BATCH:-5000}
QUERY_HOURS=${QUERY_HOURS:-30}
QUERY_HOSTS=${QUERY_HOSTS:-100}
QUERY_RUNS=${QUERY_RUNS:-20}
TOKEN=bench-admin-token
BASEPORT=${BASEPORT:-18600}

mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/influxgate-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && kill "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && wait "$p" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

log() { echo "== $*" | tee -a "$OUT/summary.txt"; }

# Waits (bounded, 60 s) until URL answers /ping.
wait_ping() {
    local url=$1 i
    for i in $(seq 1 600); do
        if curl -s -o /dev/null -w '%{http_code}' "$url/ping" 2>/dev/null | grep -q '^204$'; then
            return 0
        fi
        sleep 0.1
    done
    echo "server at $url did not come up" >&2
    return 1
}

# stop PID: ends one server we started.
stop() {
    local p=$1
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}

# utime+stime in seconds of PID, or of PID+PID.. together.
cpu_of() {
    local p files=()
    for p in ${1//+/ }; do files+=("/proc/$p/stat"); done
    awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { printf "%.2f\n", t / 100 }' "${files[@]}"
}

# start_influxd NAME PORT -> sets LAST_PID. Default configuration except directories/ports.
start_influxd() {
    local name=$1 port=$2 d="$WORK/$1"
    mkdir -p "$d"
    cat >"$d/influxd.conf" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$((port + 1000))"
[meta]
  dir = "$d/meta"
[data]
  dir = "$d/data"
  wal-dir = "$d/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:$port"
  log-enabled = false
EOF
    influxd -config "$d/influxd.conf" >"$d/log.txt" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    wait_ping "http://127.0.0.1:$port"
}

# start_influxgate NAME PORT [SYNC] [extra serve args...] -> sets LAST_PID.
start_influxgate() {
    local name=$1 port=$2 sync=${3:-full} d="$WORK/$1"
    shift 3 || shift $#
    mkdir -p "$d"
    # GATE_TOML: TOML appended to the config (a step's settings).
    printf '[backend]\nsync = "%s"\n[log]\nlevel = "warn"\n%s\n' "$sync" "${GATE_TOML:-}" >"$d/config.toml"
    "${GATE_BIN:-$ROOT/target/release/influxgate}" serve --config "$d/config.toml" --listen "127.0.0.1:$port" \
        --data-dir "$d/data" --admin-token "$TOKEN" "$@" >"$d/log.txt" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    wait_ping "http://127.0.0.1:$port"
}

# start_vm NAME PORT [extra VM flags...] -> sets LAST_PID.
start_vm() {
    local name=$1 port=$2 d="$WORK/$1"
    shift 2
    mkdir -p "$d"
    victoria-metrics -retentionPeriod 100y -storageDataPath "$d/data" -httpListenAddr "127.0.0.1:$port" \
        -loggerLevel ERROR "$@" >"$d/log.txt" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    local i
    for i in $(seq 1 600); do
        curl -s -o /dev/null "http://127.0.0.1:$port/health" && return 0
        sleep 0.1
    done
    echo "victoria-metrics did not come up" >&2
    return 1
}

: >"$OUT/summary.txt"
log "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
log "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB RAM, kernel $(uname -r)"
log "influxd: $(influxd version 2>/dev/null | head -1)"
log "git: $(git rev-parse --short HEAD 2>/dev/null || echo '?')"

if [ -z "${SKIP_BUILD:-}" ]; then
    log "building release"
    cargo build --release --bin influxgate --example write_load --example tsbs_queries 2>&1 | tail -2
fi

WL="$ROOT/target/release/examples/write_load"
# shellcheck source=scripts/bench-clickhouse.sh
. "$ROOT/scripts/bench-clickhouse.sh"
TQ="$ROOT/target/release/examples/tsbs_queries"

# write_round NAME URL PID DB [token]
write_round() {
    local name=$1 url=$2 pid=$3 db=$4 tok=${5:-}
    local c0 c1 out
    c0=$(cpu_of "$pid")
    out=$("$WL" "$url/write?db=$db" --points "$WRITE_POINTS" --connections "$CONNS" --batch "$BATCH" \
        --create-db ${tok:+--token "$tok"} 2>&1) || { echo "$out" >&2; return 1; }
    c1=$(cpu_of "$pid")
    local pps fvs el
    pps=$(echo "$out" | awk '/^points\/s:/{print $2}')
    fvs=$(echo "$out" | awk '/^field values\/s:/{print $3}')
    el=$(echo "$out" | awk '/^elapsed:/{print $2}')
    printf '%-22s %-6s points/s %9s  field values/s %10s  elapsed %7s s  server CPU %6.2f s  (%s)\n' \
        "$name" "$db" "$pps" "$fvs" "$el" "$(echo "$c1 - $c0" | bc)" \
        "$(echo "$out" | grep latency)" | tee -a "$WFILE"
}

# vm_gate_round NAME ROUND [VM flags...]: fresh VM + fresh influxgate in front, one write run;
# prints influxgate's and VM's CPU separately.
vm_gate_round() {
    local name=$1 r=$2
    shift 2
    start_vm "vmb-$name-$r" $((BASEPORT + 42)) "$@"; local P_VMB=$LAST_PID
    start_influxgate "gvm-$name-$r" $((BASEPORT + 43)) full --backend victoriametrics \
        --backend-url "http://127.0.0.1:$((BASEPORT + 42))"; local P_GVM=$LAST_PID
    local g0 v0 g1 v1 out
    g0=$(cpu_of "$P_GVM"); v0=$(cpu_of "$P_VMB")
    out=$("$WL" "http://127.0.0.1:$((BASEPORT + 43))/write?db=w$r" --points "$WRITE_POINTS" \
        --connections "$CONNS" --batch "$BATCH" --create-db --token "$TOKEN" 2>&1) || { echo "$out" >&2; return 1; }
    g1=$(cpu_of "$P_GVM"); v1=$(cpu_of "$P_VMB")
    printf '%-22s %-6s points/s %9s  field values/s %10s  elapsed %7s s  influxgate CPU %6.2f s  VM CPU %6.2f s\n' \
        "$name" "w$r" "$(echo "$out" | awk '/^points\/s:/{print $2}')" \
        "$(echo "$out" | awk '/^field values\/s:/{print $3}')" "$(echo "$out" | awk '/^elapsed:/{print $2}')" \
        "$(echo "$g1 - $g0" | bc)" "$(echo "$v1 - $v0" | bc)" | tee -a "$WFILE"
    stop "$P_GVM"; stop "$P_VMB"
}

for step in $STEPS; do
case $step in
parse)
    log "1. line-protocol parse rate (cargo bench --bench lineproto)"
    LP_CPU_SECS=${LP_CPU_SECS:-2} cargo bench --bench lineproto -- --warm-up-time 1 --measurement-time 3 \
        >"$OUT/lineproto.txt" 2>&1
    grep -E 'cpu-time|body:|time:|thrpt:|^lineproto' "$OUT/lineproto.txt" | tee -a "$OUT/summary.txt"
    ;;
write)
    log "2. end-to-end write throughput: $WRITE_POINTS points x $WRITE_ROUNDS rounds, batch $BATCH, $CONNS connections, interleaved"
    start_influxd influxd $((BASEPORT + 1)); P_INF=$LAST_PID
    start_influxgate gate-full $((BASEPORT + 2)) full; P_FULL=$LAST_PID
    start_influxgate gate-normal $((BASEPORT + 3)) normal; P_NORM=$LAST_PID
    WFILE="$OUT/write.txt"; : >"$WFILE"
    for r in $(seq 1 "$WRITE_ROUNDS"); do
        write_round "influxd-1.6.7" "http://127.0.0.1:$((BASEPORT + 1))" "$P_INF" "w$r"
        write_round "influxgate(sync=full)" "http://127.0.0.1:$((BASEPORT + 2))" "$P_FULL" "w$r" "$TOKEN"
        write_round "influxgate(sync=normal)" "http://127.0.0.1:$((BASEPORT + 3))" "$P_NORM" "w$r" "$TOKEN"
    done
    cat "$OUT/write.txt" >>"$OUT/summary.txt"
    awk '{n[$1]++; s[$1]+=$4} END {for (k in n) printf "mean %-24s %10.0f points/s\n", k, s[k]/n[k]}' \
        "$OUT/write.txt" | sort | tee -a "$OUT/summary.txt"
    stop "$P_INF"; stop "$P_FULL"; stop "$P_NORM"
    ;;
query)
    log "3. TSBS devops query shapes: $QUERY_HOSTS hosts x ${QUERY_HOURS}h, $QUERY_RUNS runs per shape, interleaved"
    start_influxd q-influxd $((BASEPORT + 11)); P_INF=$LAST_PID
    start_influxgate q-gate $((BASEPORT + 12)) full; P_GATE=$LAST_PID
    "$TQ" --server "influxgate=http://127.0.0.1:$((BASEPORT + 12))@$TOKEN" \
        --server "influxd=http://127.0.0.1:$((BASEPORT + 11))" \
        --pid "influxgate=$P_GATE" --pid "influxd=$P_INF" \
        --hosts "$QUERY_HOSTS" --hours "$QUERY_HOURS" --runs "$QUERY_RUNS" --load \
        --diff-dir "$OUT/query-diffs" 2>&1 | tee "$OUT/query.txt" | tee -a "$OUT/summary.txt"
    stop "$P_INF"; stop "$P_GATE"
    ;;
vm)
    log "4. victoriametrics backend: TSBS shapes, and write overhead through influxgate vs straight to VM /write"
    start_vm vm-q $((BASEPORT + 21)); P_VMQ=$LAST_PID
    start_influxgate q-gate-vm $((BASEPORT + 22)) full --backend victoriametrics \
        --backend-url "http://127.0.0.1:$((BASEPORT + 21))"; P_GVM=$LAST_PID
    start_influxd q-influxd2 $((BASEPORT + 23)); P_INF=$LAST_PID
    "$TQ" --server "influxgate-vm=http://127.0.0.1:$((BASEPORT + 22))@$TOKEN" \
        --server "influxd=http://127.0.0.1:$((BASEPORT + 23))" \
        --pid "influxgate-vm=$P_GVM+$P_VMQ" --pid "influxd=$P_INF" \
        --hosts "$QUERY_HOSTS" --hours "$QUERY_HOURS" --runs "$QUERY_RUNS" --load \
        --diff-dir "$OUT/query-diffs-vm" 2>&1 | tee "$OUT/query-vm.txt" | tee -a "$OUT/summary.txt"
    stop "$P_GVM"; stop "$P_VMQ"; stop "$P_INF"
    # Write overhead: two fresh VMs, one behind influxgate, one written directly.
    start_vm vm-direct $((BASEPORT + 31)); P_VMD=$LAST_PID
    start_vm vm-behind $((BASEPORT + 32)); P_VMB=$LAST_PID
    start_influxgate w-gate-vm $((BASEPORT + 33)) full --backend victoriametrics \
        --backend-url "http://127.0.0.1:$((BASEPORT + 32))"; P_GVM=$LAST_PID
    WFILE="$OUT/write-vm.txt"; : >"$WFILE"
    for r in $(seq 1 "$WRITE_ROUNDS"); do
        # VM's /write needs no database; write_load's --create-db is only sent through influxgate.
        c0=$(cpu_of "$P_VMD")
        out=$("$WL" "http://127.0.0.1:$((BASEPORT + 31))/write?db=w$r" --points "$WRITE_POINTS" \
            --connections "$CONNS" --batch "$BATCH" 2>&1)
        c1=$(cpu_of "$P_VMD")
        printf '%-22s %-6s points/s %9s  field values/s %10s  elapsed %7s s  VM CPU %6.2f s\n' \
            "victoria-metrics" "w$r" "$(echo "$out" | awk '/^points\/s:/{print $2}')" \
            "$(echo "$out" | awk '/^field values\/s:/{print $3}')" "$(echo "$out" | awk '/^elapsed:/{print $2}')" \
            "$(echo "$c1 - $c0" | bc)" | tee -a "$OUT/write-vm.txt"
        # CPU: influxgate and the VM behind it together.
        write_round "influxgate-vm" "http://127.0.0.1:$((BASEPORT + 33))" "$P_GVM+$P_VMB" "w$r" "$TOKEN"
    done
    cat "$OUT/write-vm.txt" >>"$OUT/summary.txt"
    stop "$P_GVM"; stop "$P_VMB"; stop "$P_VMD"
    ;;
chwrite)
    log "5. clickhouse backend: writes through influxgate vs the same rows inserted straight into ClickHouse ($CH_WRITE, $CH_ROUNDS rounds, $CONNS connections)"
    ch_write $((BASEPORT + 50))
    ;;
chquery)
    log "6. clickhouse backend: TSBS shapes vs influxd 1.6.7 ($CH_QUERY)"
    ch_query single $((BASEPORT + 50))
    [ -z "${CH_CLUSTER:-}" ] || ch_query cluster $((BASEPORT + 70))
    ;;
vmwrite)
    # Write overhead alone: every round starts fresh VMs (and a fresh influxgate in front of one),
    # writes straight to VM /write, then through influxgate -> VM, interleaved.
    log "4b. victoriametrics write overhead: $WRITE_POINTS points x $WRITE_ROUNDS rounds, batch $BATCH, $CONNS connections, fresh VM every round"
    WFILE="$OUT/write-vm.txt"; : >"$WFILE"
    for r in $(seq 1 "$WRITE_ROUNDS"); do
        start_vm "vmd-$r" $((BASEPORT + 41)); P_VMD=$LAST_PID
        c0=$(cpu_of "$P_VMD")
        out=$("$WL" "http://127.0.0.1:$((BASEPORT + 41))/write?db=w$r" --points "$WRITE_POINTS" \
            --connections "$CONNS" --batch "$BATCH" 2>&1)
        c1=$(cpu_of "$P_VMD")
        printf '%-22s %-6s points/s %9s  field values/s %10s  elapsed %7s s  VM CPU %6.2f s\n' \
            "victoria-metrics" "w$r" "$(echo "$out" | awk '/^points\/s:/{print $2}')" \
            "$(echo "$out" | awk '/^field values\/s:/{print $3}')" "$(echo "$out" | awk '/^elapsed:/{print $2}')" \
            "$(echo "$c1 - $c0" | bc)" | tee -a "$WFILE"
        stop "$P_VMD"
        vm_gate_round influxgate-vm "$r"
        # The same through influxgate's JSON-import path (forced by a VM flag it checks,
        # -influxTrimTimestamp, which does not affect /api/v1/import): the old way of writing.
        [ -n "${VMWRITE_NO_JSON:-}" ] || vm_gate_round influxgate-vm-json "$r" -influxTrimTimestamp=2ms
    done
    cat "$WFILE" >>"$OUT/summary.txt"
    awk '{n[$1]++; s[$1]+=$4} END {for (k in n) printf "mean %-24s %10.0f points/s\n", k, s[k]/n[k]}' \
        "$WFILE" | sort | tee -a "$OUT/summary.txt"
    ;;
spool)
    # Throughput with the spool enabled (store up: writes go straight to VM, acknowledged bodies are
    # kept for the durability window) vs disabled; a fresh VM and influxgate per run, the order of
    # the two alternating per round.
    # Two batch sizes (SPOOL_BATCHES, default "5000 500"): the spool's cost is per request (one
    # window entry per acknowledged body), so a small batch shows it most.
    log "5. write spool: $WRITE_POINTS points x $WRITE_ROUNDS rounds, spool enabled vs disabled (store up), batches ${SPOOL_BATCHES:-5000 500}, $CONNS connections"
    WFILE="$OUT/spool.txt"; : >"$WFILE"
    for b in ${SPOOL_BATCHES:-5000 500}; do
        for r in $(seq 1 "$WRITE_ROUNDS"); do
            if [ $((r % 2)) -eq 1 ]; then modes="true false"; else modes="false true"; fi
            for on in $modes; do
                BATCH=$b GATE_TOML=$'[spool]\nenabled = '"$on" vm_gate_round "spool=$on,batch=$b" "$r"
            done
        done
    done
    # Mean per mode and batch, and enabled/disabled in this run.
    awk '{split($1, a, /[=,]/); n[$1]++; s[$1]+=$4; m[a[4], a[2]]+=$4; c[a[4], a[2]]++; b[a[4]]=1}
        END {for (k in n) printf "mean %-24s %10.0f points/s\n", k, s[k]/n[k];
             for (k in b) printf "ratio spool enabled/disabled, batch %-6s %.3f\n", k,
                 (m[k, "true"]/c[k, "true"]) / (m[k, "false"]/c[k, "false"])}' \
        "$WFILE" | sort | tee -a "$OUT/summary.txt"
    # Through an outage: VM killed, SPOOL_POINTS written (all spooled), VM restarted on its data,
    # the time until the spool is empty again.
    SPOOL_POINTS=${SPOOL_POINTS:-1000000}
    log "5b. spool through an outage: $SPOOL_POINTS points written while VM is down, then replayed"
    start_vm vm-outage $((BASEPORT + 51)); P_VMO=$LAST_PID
    start_influxgate gate-outage $((BASEPORT + 52)) full --backend victoriametrics \
        --backend-url "http://127.0.0.1:$((BASEPORT + 51))"; P_GO=$LAST_PID
    kill -9 "$P_VMO"; wait "$P_VMO" 2>/dev/null || true
    c0=$(cpu_of "$P_GO")
    out=$("$WL" "http://127.0.0.1:$((BASEPORT + 52))/write?db=outage" --points "$SPOOL_POINTS" \
        --connections "$CONNS" --batch "$BATCH" --token "$TOKEN" 2>&1) || { echo "$out" >&2; exit 1; }
    c1=$(cpu_of "$P_GO")
    metric() { curl -s "http://127.0.0.1:$((BASEPORT + 52))/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
    printf 'spooled (VM down)      points/s %9s  elapsed %7s s  influxgate CPU %6.2f s  spool bytes %s\n' \
        "$(echo "$out" | awk '/^points\/s:/{print $2}')" "$(echo "$out" | awk '/^elapsed:/{print $2}')" \
        "$(echo "$c1 - $c0" | bc)" "$(metric influxgate_spool_bytes)" | tee -a "$WFILE" | tee -a "$OUT/summary.txt"
    pending=$(metric influxgate_spool_pending_points)
    start_vm vm-outage $((BASEPORT + 51)); P_VMO=$LAST_PID
    # The replay starts after the replay task's backoff (up to retry_backoff_max, 10 s): the rate is
    # timed from its first replayed batch to an empty spool.
    tu=$(date +%s.%N)
    for i in $(seq 1 6000); do
        r0=$(metric influxgate_spool_replayed_points_total)
        [ "${r0:-0}" != "0" ] && break
        sleep 0.05
    done
    t0=$(date +%s.%N); c0=$(cpu_of "$P_GO")
    for i in $(seq 1 6000); do
        [ "$(metric influxgate_spool_pending_points)" = "0" ] && break
        sleep 0.05
    done
    t1=$(date +%s.%N); c1=$(cpu_of "$P_GO")
    r1=$(metric influxgate_spool_replayed_points_total)
    printf 'replayed (VM back)     points %s  rate %.0f points/s (%s points in %.2f s from the first batch; %.2f s after VM was up)  influxgate CPU %6.2f s\n' \
        "$pending" "$(echo "($r1 - $r0) / ($t1 - $t0)" | bc -l)" "$((r1 - r0))" "$(echo "$t1 - $t0" | bc)" \
        "$(echo "$t1 - $tu" | bc)" "$(echo "$c1 - $c0" | bc)" | tee -a "$WFILE" | tee -a "$OUT/summary.txt"
    stop "$P_GO"; stop "$P_VMO"
    ;;
*)
    echo "unknown step $step" >&2
    exit 2
    ;;
esac
done
log "done; results in $OUT"
