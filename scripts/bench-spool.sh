#!/usr/bin/env bash
# The write spool in front of VictoriaMetrics, by wall time (scripts/spool-cost.sh counts its cost in
# instructions instead):
#   SKIP_BUILD=1 scripts/bench-spool.sh
# 1. throughput with [spool] enabled vs disabled while the store is up: a fresh VM and influxgate per
#    run, the order of the two alternating per round, at each batch size of SPOOL_BATCHES (the spool's
#    cost is per request: one window entry per acknowledged body, so a small batch shows it most);
# 2. through an outage: VM killed, SPOOL_POINTS written (all spooled), VM restarted on its data, the
#    rate from the first replayed batch to an empty spool.
# Knobs: WRITE_POINTS (1000000), WRITE_ROUNDS (3), CONNS (4), BATCH (5000), SPOOL_BATCHES ("5000 500"),
#   SPOOL_POINTS (1000000), GATE_BIN, EXAMPLES (target/release/examples), OUT (target/bench-results),
#   BASEPORT (18700).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
# shellcheck source=scripts/bench-lib.sh
. "$ROOT/scripts/bench-lib.sh"
WRITE_POINTS=${WRITE_POINTS:-1000000}
WRITE_ROUNDS=${WRITE_ROUNDS:-3}
CONNS=${CONNS:-4}
BATCH=${BATCH:-5000}
BASEPORT=${BASEPORT:-18700}
OUT=${OUT:-$ROOT/target/bench-results}
WL=${EXAMPLES:-$ROOT/target/release/examples}/write_load
TOKEN=bench-admin-token
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/influxgate-bench.XXXXXX)
PIDS=()
trap bench_cleanup EXIT
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --bin influxgate --example write_load 2>&1 | tail -2

# vm_gate_round NAME ROUND: a fresh VM and a fresh influxgate in front of it, one write run;
# prints influxgate's and VM's CPU separately.
vm_gate_round() {
    local name=$1 r=$2 pv pg g0 v0 g1 v1 out
    start_vm "vmb-$name-$r" $((BASEPORT + 42)); pv=$LAST_PID
    start_influxgate "gvm-$name-$r" $((BASEPORT + 43)) --backend victoriametrics \
        --backend-url "http://127.0.0.1:$((BASEPORT + 42))"; pg=$LAST_PID
    g0=$(cpu_of "$pg"); v0=$(cpu_of "$pv")
    out=$("$WL" "http://127.0.0.1:$((BASEPORT + 43))/write?db=w$r" --points "$WRITE_POINTS" \
        --connections "$CONNS" --batch "$BATCH" --create-db --token "$TOKEN" 2>&1) || { echo "$out" >&2; return 1; }
    g1=$(cpu_of "$pg"); v1=$(cpu_of "$pv")
    printf '%-22s %-6s points/s %9s  field values/s %10s  elapsed %7s s  influxgate CPU %6.2f s  VM CPU %6.2f s\n' \
        "$name" "w$r" "$(echo "$out" | awk '/^points\/s:/{print $2}')" \
        "$(echo "$out" | awk '/^field values\/s:/{print $3}')" "$(echo "$out" | awk '/^elapsed:/{print $2}')" \
        "$(echo "$g1 - $g0" | bc)" "$(echo "$v1 - $v0" | bc)" | tee -a "$WFILE"
    stop "$pg" "$pv"
}

echo "== write spool: $WRITE_POINTS points x $WRITE_ROUNDS rounds, spool enabled vs disabled (store up), batches ${SPOOL_BATCHES:-5000 500}, $CONNS connections"
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
    "$WFILE" | sort
# Through an outage: VM killed, SPOOL_POINTS written (all spooled), VM restarted on its data,
# the time until the spool is empty again.
SPOOL_POINTS=${SPOOL_POINTS:-1000000}
echo "== spool through an outage: $SPOOL_POINTS points written while VM is down, then replayed"
start_vm vm-outage $((BASEPORT + 51)); P_VMO=$LAST_PID
start_influxgate gate-outage $((BASEPORT + 52)) --backend victoriametrics \
    --backend-url "http://127.0.0.1:$((BASEPORT + 51))"; P_GO=$LAST_PID
kill -9 "$P_VMO"; wait "$P_VMO" 2>/dev/null || true
c0=$(cpu_of "$P_GO")
out=$("$WL" "http://127.0.0.1:$((BASEPORT + 52))/write?db=outage" --points "$SPOOL_POINTS" \
    --connections "$CONNS" --batch "$BATCH" --token "$TOKEN" 2>&1) || { echo "$out" >&2; exit 1; }
c1=$(cpu_of "$P_GO")
metric() { curl -s "http://127.0.0.1:$((BASEPORT + 52))/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
printf 'spooled (VM down)      points/s %9s  elapsed %7s s  influxgate CPU %6.2f s  spool bytes %s\n' \
    "$(echo "$out" | awk '/^points\/s:/{print $2}')" "$(echo "$out" | awk '/^elapsed:/{print $2}')" \
    "$(echo "$c1 - $c0" | bc)" "$(metric influxgate_spool_bytes)" | tee -a "$WFILE"
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
    "$(echo "$t1 - $tu" | bc)" "$(echo "$c1 - $c0" | bc)" | tee -a "$WFILE"
stop "$P_GO"; stop "$P_VMO"
