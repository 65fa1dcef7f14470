#!/usr/bin/env bash
# The write spool's cost while the store is up, counted in instructions (issue 10, item 6).
#
#   SKIP_BUILD=1 scripts/spool-cost.sh
#
# For each durability-window bound in WINDOWS and spool off/on: a fresh VictoriaMetrics, a fresh
# influxgate (release build) under `valgrind --tool=callgrind`, the same bodies (LOAD_DIR/*.lp,
# each POSTed once by curl, CONNS at a time: not the bottleneck), then SETTLE seconds for the
# spool's background work (the durability window's checks, replay of what went to disk). Only that
# part is counted (`callgrind_control -z` before the load, `-d` after the settle): instructions
# do not depend on the machine's load, CPU seconds do. A bound below the bytes written in one
# `durability_window` (15 s) makes the window overflow to disk, as 18 MB/s does against the
# default 256 MiB. Prints instructions per run and on/off ratios; callgrind files stay in OUT.
#
# Knobs: LOAD_DIR (default: BODIES (10) bodies of BATCH (5000) lines by scripts/tsbs-bodies.py), CONNS (4), WINDOWS ("268435456 4194304"), SETTLE (20), GATE_BIN,
# OUT (target/bench-results/spool-cost), BASEPORT (19400).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CONNS=${CONNS:-4} SETTLE=${SETTLE:-20}
WINDOWS=${WINDOWS:-268435456 4194304} BASEPORT=${BASEPORT:-19400}
OUT=${OUT:-$ROOT/target/bench-results/spool-cost}
TOKEN=bench-admin-token
for p in valgrind callgrind_control victoria-metrics curl python3; do
    command -v "$p" >/dev/null || { echo "missing $p (Debian packages: valgrind, victoria-metrics, curl, python3)" >&2; exit 1; }
done
if [ -z "${SKIP_BUILD:-}" ]; then
    cargo build --release --bin influxgate 2>&1 | tail -2
fi
BIN=${GATE_BIN:-$ROOT/target/release/influxgate}

mkdir -p "$OUT"
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
if [ -z "${LOAD_DIR:-}" ]; then
    LOAD_DIR=$WORK/load
    mkdir -p "$LOAD_DIR"
    (cd "$LOAD_DIR" && python3 "$ROOT/scripts/tsbs-bodies.py" "${BODIES:-10}" "${BATCH:-5000}")
fi

up() { # up URL PATH: waits for a 2xx
    local i
    for i in $(seq 1 1200); do
        curl -s -o /dev/null -f "$1$2" && return 0
        sleep 0.1
    done
    echo "$1 did not come up" >&2
    return 1
}

# run NAME WINDOW_MAX_BYTES ON: prints the instructions counted.
run() {
    local name=$1 wmax=$2 on=$3 d="$WORK/$1" vport=$((BASEPORT)) gport=$((BASEPORT + 1))
    mkdir -p "$d"
    victoria-metrics -retentionPeriod 100y -storageDataPath "$d/vm" -httpListenAddr "127.0.0.1:$vport" \
        -loggerLevel ERROR >"$d/vm.log" 2>&1 &
    local vpid=$!
    PIDS+=("$vpid")
    up "http://127.0.0.1:$vport" /health
    printf '[log]\nlevel = "warn"\n[spool]\nenabled = %s\nwindow_max_bytes = %s\n' "$on" "$wmax" >"$d/config.toml"
    valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.$name" "$BIN" serve --config "$d/config.toml" \
        --listen "127.0.0.1:$gport" --data-dir "$d/data" --admin-token "$TOKEN" --backend victoriametrics \
        --backend-url "http://127.0.0.1:$vport" >"$d/gate.log" 2>&1 &
    local gpid=$!
    PIDS+=("$gpid")
    up "http://127.0.0.1:$gport" /ping
    sleep 2
    curl -s -f -o /dev/null -H "Authorization: Token $TOKEN" "http://127.0.0.1:$gport/query" \
        --data-urlencode "q=CREATE DATABASE cost"
    callgrind_control -z "$gpid" >/dev/null
    local t0=$SECONDS
    find "$LOAD_DIR" -name '*.lp' | sort | xargs -P "$CONNS" -I{} curl -s -f -o /dev/null \
        -H "Authorization: Token $TOKEN" --data-binary @{} "http://127.0.0.1:$gport/write?db=cost" >"$d/load.txt" 2>&1 ||
        { echo "a write failed" >&2; return 1; }
    echo "load: $((SECONDS - t0)) s" >"$d/load.txt"
    sleep "$SETTLE"
    local spooled
    spooled=$(curl -s -H "Authorization: Token $TOKEN" "http://127.0.0.1:$gport/metrics" |
        awk '/^influxgate_spool_(bytes|window_bytes) /{printf "%s=%s ", $1, $2}')
    rm -f "$OUT/callgrind.$name".*
    callgrind_control -d "$gpid" >/dev/null
    kill "$gpid" "$vpid"
    wait "$gpid" "$vpid" 2>/dev/null || true
    local f
    f=$(ls "$OUT/callgrind.$name".* | head -1)
    mv "$f" "$OUT/callgrind.$name.load"
    local ir
    ir=$(awk '/^(summary|totals):/{print $2; exit}' "$OUT/callgrind.$name.load")
    printf '%-28s instructions %14s  %s(%s)\n' "$name" "$ir" "$spooled" "$(cat "$d/load.txt")" >&2
    echo "$ir"
}

for w in $WINDOWS; do
    off=$(run "off-w$w" "$w" false)
    on=$(run "on-w$w" "$w" true)
    printf 'window_max_bytes %-10s spool off %14s  on %14s  ratio on/off %.4f\n' "$w" "$off" "$on" \
        "$(echo "$on / $off" | bc -l)" | tee -a "$OUT/summary.txt"
done
