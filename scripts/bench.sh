#!/usr/bin/env bash
# The benchmark table of BENCHMARKS.md (issue 12), regenerated in one command, for every backend:
#   scripts/bench.sh              # full: release build, both sizes, writes the table into BENCHMARKS.md
#   QUICK=1 scripts/bench.sh      # small sizes, few runs (a few minutes); the table goes to
#                                 #   $OUT/BENCHMARKS.md (a copy), BENCHMARKS.md is not touched
# Fresh servers on loopback ports (influxd 1.6.7; influxgate on the embedded store, on
# VictoriaMetrics and on ClickHouse 18.16; VM and ClickHouse also written to straight), then:
#   parse  line-protocol parse rate per core (cargo bench --bench lineproto, by CPU time)
#   write  WRITE_ROUNDS interleaved rounds per backend: influxgate vs its peer in the same run
#          (influxd for the embedded store; the store written straight for VM and ClickHouse);
#          lines/s, server CPU per line (influxgate + store), the load generator's own CPU
#   query  per size in SIZES: every TSBS shape, all influxgates and influxd side by side
#          (examples/tsbs_queries: seeded, interleaved, answers compared); then, at the last size,
#          `perf record` of each backend's slowest shape (ratio vs influxd) -> flame graph
#   report the table ($OUT/table.md), written into MD between <!-- bench:begin --> / <!-- bench:end -->
# Results, logs and profiles go to $OUT (target/bench-results).
# Knobs (environment): STEPS ("parse write query report"), BACKENDS ("embedded vm ch"),
#   SIZES ("50x12:15 100x30:7": HOSTSxHOURS:RUNS; 360 lines per host-hour, so 216k and 1.08M lines),
#   WRITE_POINTS (1000000 lines a round), WRITE_ROUNDS (3), CONNS (4), BATCH (5000),
#   LP_CPU_SECS (2), BENCH_PROFILE (bench: cargo's profile for the parse bench),
#   FLAME_RUNS (10: at least this many queries under perf), FLAME_SECS (5: or as many as take this
#   long), PERF_FREQ (499), PERF_CALLGRAPH (-g; e.g. --call-graph=dwarf),
#   GATE_BIN (target/release/influxgate: skips building it), EXAMPLES (target/release/examples: the
#   load generators; built unless SKIP_BUILD), SKIP_BUILD, MD (BENCHMARKS.md; QUICK: $OUT/BENCHMARKS.md),
#   INSTALL_INFERNO (1: `cargo install inferno` when its flame-graph tools are missing; 0: folded
#   stacks and perf report text only), BASEPORT (18600: ports BASEPORT+1..+79).
# Full default on the 2-core machine: about 15 minutes after the release build (writes ~7, queries ~6,
# flame graphs and parse ~2; estimated from QUICK runs), plus `cargo install inferno` once.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
# shellcheck source=scripts/bench-lib.sh
. "$ROOT/scripts/bench-lib.sh"

if [ -n "${QUICK:-}" ]; then
    : "${SIZES:=10x6:3 20x12:3}" "${WRITE_POINTS:=100000}" "${WRITE_ROUNDS:=1}" "${LP_CPU_SECS:=0.5}"
    : "${FLAME_RUNS:=3}" "${FLAME_SECS:=2}" "${INSTALL_INFERNO:=0}"
fi
STEPS=${STEPS:-"parse write query report"}
BACKENDS=${BACKENDS:-"embedded vm ch"}
SIZES=${SIZES:-"50x12:15 100x30:7"}
WRITE_POINTS=${WRITE_POINTS:-1000000}
WRITE_ROUNDS=${WRITE_ROUNDS:-3}
CONNS=${CONNS:-4}
BATCH=${BATCH:-5000}
FLAME_RUNS=${FLAME_RUNS:-10}
PERF_FREQ=${PERF_FREQ:-499}
PERF_CALLGRAPH=${PERF_CALLGRAPH:--g}
INSTALL_INFERNO=${INSTALL_INFERNO:-1}
BASEPORT=${BASEPORT:-18600}
OUT=${OUT:-$ROOT/target/bench-results}
EXAMPLES=${EXAMPLES:-$ROOT/target/release/examples}
GATE_BIN=${GATE_BIN:-$ROOT/target/release/influxgate}
MD=${MD:-$([ -n "${QUICK:-}" ] && echo "$OUT/BENCHMARKS.md" || echo "$ROOT/BENCHMARKS.md")}
TOKEN=bench-admin-token
WL=$EXAMPLES/write_load
TQ=$EXAMPLES/tsbs_queries

mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/influxgate-bench.XXXXXX)
PIDS=()
trap bench_cleanup EXIT

log() { echo "== $*" | tee -a "$OUT/log.txt"; }

# has BACKEND: whether BACKENDS includes it.
has() { [[ " $BACKENDS " == *" $1 "* ]]; }

# Bodies pregenerated, 4 connections, 1M lines: the load generator's CPU (printed per row, bodies'
# generation included) stays well under one core, so it is not what limits the servers.
build() {
    [ -z "${SKIP_BUILD:-}" ] || return 0
    if [ "$GATE_BIN" = "$ROOT/target/release/influxgate" ]; then
        log "building release (influxgate, write_load, tsbs_queries)"
        cargo build --release --bin influxgate --example write_load --example tsbs_queries 2>&1 | tail -2
    else
        log "building release (write_load, tsbs_queries); influxgate: $GATE_BIN"
        cargo build --release --example write_load --example tsbs_queries 2>&1 | tail -2
    fi
}

# step_parse: the borrowed parser's rate per core, by CPU time -> $OUT/parse.txt.
step_parse() {
    log "parse: cargo bench --profile ${BENCH_PROFILE:-bench} --bench lineproto (LP_CPU_SECS=${LP_CPU_SECS:-2})"
    LP_CPU_SECS=${LP_CPU_SECS:-2} cargo bench --profile "${BENCH_PROFILE:-bench}" --bench lineproto -- \
        --warm-up-time 1 --measurement-time 1 influxgate_borrowed >"$OUT/lineproto.txt" 2>&1
    grep -E '^cpu-time' "$OUT/lineproto.txt" | tee "$OUT/parse.txt"
}

# wl_run BACKEND WHO ROUND URL PIDS STORE_PIDS [write_load args..]: one timed write of WRITE_POINTS
# lines; appends "backend who round lines elapsed_s server_cpu_s store_cpu_s loadgen_cpu_s" to
# $OUT/write.tsv. PIDS: every server process of this side (CPU per line counts them all).
wl_run() {
    local backend=$1 who=$2 r=$3 url=$4 pids=$5 store=$6 c0 s0=0 c1 s1=0 out
    shift 6
    c0=$(cpu_of "$pids"); [ -z "$store" ] || s0=$(cpu_of "$store")
    out=$(/usr/bin/time -f 'loadgen-cpu %U %S' "$WL" "$url" --points "$WRITE_POINTS" --connections "$CONNS" \
        --batch "$BATCH" --pregenerate "$@" 2>&1) || { echo "$out" >&2; return 1; }
    c1=$(cpu_of "$pids"); [ -z "$store" ] || s1=$(cpu_of "$store")
    echo "$out" | grep -q '^batches ok/failed: [0-9]*/0$' || { echo "$who: failed batches: $out" >&2; return 1; }
    echo "$out" | awk -v b="$backend" -v w="$who" -v r="$r" -v batch="$BATCH" \
        -v cpu="$(echo "$c1 - $c0" | bc)" -v st="$(echo "$s1 - $s0" | bc)" '
        /^batches ok/ { split($3, a, "/"); lines = a[1] * batch }
        /^elapsed:/ { el = $2 }
        /^loadgen-cpu/ { lg = $2 + $3 }
        END { printf "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%.2f\n", b, w, r, lines, el, cpu, st, lg }' |
        tee -a "$OUT/write.tsv" |
        awk -F'\t' '{ printf "  %-9s %-18s round %s: %8.0f lines/s  server CPU %6.2f s (%.2f us/line)  load generator CPU %5.2f s in %5.2f s\n",
            $1, $2, $3, $4 / $5, $6, $6 * 1e6 / $4, $8, $5 }'
}

# rounds BACKEND: WRITE_ROUNDS rounds of w_peer ROUND and w_gate ROUND, the order alternating.
rounds() {
    local r
    for r in $(seq 1 "$WRITE_ROUNDS"); do
        if [ $((r % 2)) = 1 ]; then w_peer "$r"; w_gate "$r"; else w_gate "$r"; w_peer "$r"; fi
    done
}

write_embedded() {
    local pu="http://127.0.0.1:$((BASEPORT + 21))" gu="http://127.0.0.1:$((BASEPORT + 22))" pi pg
    start_influxd w-influxd $((BASEPORT + 21)); pi=$LAST_PID
    start_influxgate w-gate-emb $((BASEPORT + 22)); pg=$LAST_PID
    w_peer() { wl_run embedded influxd-1.6.7 "$1" "$pu/write?db=w$1" "$pi" "" --create-db; }
    w_gate() { wl_run embedded influxgate "$1" "$gu/write?db=w$1" "$pg" "" --create-db --token "$TOKEN"; }
    rounds embedded
    stop "$pi" "$pg"
}

write_vm() {
    local pu="http://127.0.0.1:$((BASEPORT + 23))" gu="http://127.0.0.1:$((BASEPORT + 25))" pv pb pg
    start_vm w-vm-direct $((BASEPORT + 23)); pv=$LAST_PID
    start_vm w-vm-behind $((BASEPORT + 24)); pb=$LAST_PID
    start_influxgate w-gate-vm $((BASEPORT + 25)) --backend victoriametrics \
        --backend-url "http://127.0.0.1:$((BASEPORT + 24))"; pg=$LAST_PID
    # VM's /write needs no database.
    w_peer() { wl_run vm victoria-metrics "$1" "$pu/write?db=w$1" "$pv" "$pv"; }
    w_gate() { wl_run vm influxgate "$1" "$gu/write?db=w$1" "$pg+$pb" "$pb" --create-db --token "$TOKEN"; }
    rounds vm
    stop "$pg" "$pv" "$pb"
}

# The direct peer inserts, as RowBinary, the rows influxgate's ClickHouse backend makes of the same
# lines (write_load --clickhouse-table), into a copy of the table influxgate created.
write_ch() {
    local gu="http://127.0.0.1:$((BASEPORT + 38))" pg
    start_ch_setup single $((BASEPORT + 30))
    GATE_TOML="$CH_GATE_TOML" start_influxgate w-gate-ch $((BASEPORT + 38)) --backend clickhouse \
        --backend-url "$CH_URL"; pg=$LAST_PID
    "$WL" "$gu/write?db=schema" --points 100 --batch 100 --connections 1 --create-db --token "$TOKEN" >/dev/null 2>&1
    ch_sql "$CH_URL" "CREATE DATABASE IF NOT EXISTS bench_direct" >/dev/null
    w_peer() {
        ch_sql "$CH_URL" "CREATE TABLE bench_direct.cpu_$1 AS \`influx_schema.autogen\`.\`cpu\`" >/dev/null
        wl_run ch clickhouse "$1" "$CH_URL/" "$CH_PIDS" "$CH_PIDS" --clickhouse-table "bench_direct.cpu_$1"
    }
    w_gate() { wl_run ch influxgate "$1" "$gu/write?db=w$1" "$pg+$CH_PIDS" "$CH_PIDS" --create-db --token "$TOKEN"; }
    rounds ch
    stop "$pg" ${CH_PIDS//+/ }
}

step_write() {
    log "write: $WRITE_POINTS lines x $WRITE_ROUNDS rounds a side, batch $BATCH, $CONNS connections, bodies pregenerated"
    : >"$OUT/write.tsv"
    local b
    for b in $BACKENDS; do "write_$b"; done
}

# Each backend's server in the query step: NAME URL PIDS (influxgate+store) PERF_PIDS (a,b).
declare -A Q_URL Q_PIDS
query_servers() {
    local s=$1 b=$((BASEPORT + 40))
    start_influxd "q-influxd-$s" $((b + 1)); Q_URL[influxd]="http://127.0.0.1:$((b + 1))"; Q_PIDS[influxd]=$LAST_PID
    if has embedded; then
        start_influxgate "q-gate-emb-$s" $((b + 2))
        Q_URL[embedded]="http://127.0.0.1:$((b + 2))"; Q_PIDS[embedded]=$LAST_PID
    fi
    if has vm; then
        start_vm "q-vm-$s" $((b + 3)); local v=$LAST_PID
        start_influxgate "q-gate-vm-$s" $((b + 4)) --backend victoriametrics --backend-url "http://127.0.0.1:$((b + 3))"
        Q_URL[vm]="http://127.0.0.1:$((b + 4))"; Q_PIDS[vm]="$LAST_PID+$v"
    fi
    if has ch; then
        start_ch_setup single $((b + 10))
        GATE_TOML="$CH_GATE_TOML" start_influxgate "q-gate-ch-$s" $((b + 5)) --backend clickhouse --backend-url "$CH_URL"
        Q_URL[ch]="http://127.0.0.1:$((b + 5))"; Q_PIDS[ch]="$LAST_PID+$CH_PIDS"
    fi
}

# step_query: per size, all servers loaded and queried side by side -> $OUT/query-HOSTSxHOURS.md.
step_query() {
    local spec hosts hours runs b args last=${SIZES##* }
    for spec in $SIZES; do
        hosts=${spec%%x*}; hours=${spec#*x}; hours=${hours%%:*}; runs=${spec##*:}
        log "query: $hosts hosts x ${hours} h ($((hosts * hours * 360)) lines), $runs runs a shape"
        Q_URL=(); Q_PIDS=()
        query_servers "${hosts}x$hours"
        args=()
        for b in $BACKENDS influxd; do
            args+=(--server "$b=${Q_URL[$b]}$([ "$b" = influxd ] || echo "@$TOKEN")" --pid "$b=${Q_PIDS[$b]}")
        done
        "$TQ" "${args[@]}" --reference influxd --hosts "$hosts" --hours "$hours" --runs "$runs" --load \
            --diff-dir "$OUT/query-diffs-${hosts}x$hours" 2>"$OUT/query-${hosts}x$hours.log" |
            tee "$OUT/query-${hosts}x$hours.md"
        grep -E '^load' "$OUT/query-${hosts}x$hours.log" || true
        [ "$spec" != "$last" ] || flames "$OUT/query-${hosts}x$hours.md" "$hosts" "$hours"
        local p
        for p in "${Q_PIDS[@]}"; do stop ${p//+/ }; done
    done
}

# slowest TABLE COLUMN: the shape with the highest ratio in tsbs_queries' ratio column COLUMN.
slowest() {
    awk -F' *\\| *' -v c="$2" 'NR > 2 && NF > c { if ($c + 0 > m) { m = $c + 0; s = $2 } } END { print s }' "$1"
}

# flame_runs TABLE SHAPE I: runs of SHAPE that take about FLAME_SECS (5) by the I-th server's
# median, at least FLAME_RUNS, at most 2000 (a fast shape needs many runs to give perf samples).
flame_runs() {
    awk -F' *\\| *' -v s="$2" -v i="$3" -v r="$FLAME_RUNS" -v secs="${FLAME_SECS:-5}" '$2 == s {
        split($(2 + i), a, " "); n = a[1] > 0 ? int(secs * 1000 / a[1]) : r
        print (n < r ? r : (n > 2000 ? 2000 : n)) }' "$1"
}

# flames TABLE HOSTS HOURS: each backend's slowest shape under perf -> $OUT/flame-BACKEND.*
flames() {
    local table=$1 hosts=$2 hours=$3 b shape col i=0 n
    n=$(echo $BACKENDS | wc -w)
    rm -f "$OUT"/flame-*
    for b in $BACKENDS; do
        i=$((i + 1))
        # Columns: "", shape, one cell per server (n + 1), then the n ratios.
        col=$((2 + n + 1 + i))
        shape=$(slowest "$table" "$col")
        [ -n "$shape" ] || continue
        log "perf: $b, slowest shape $shape ($(flame_runs "$table" "$shape" "$i") runs)"
        perf record -F "$PERF_FREQ" $PERF_CALLGRAPH -o "$WORK/perf-$b.data" -p "${Q_PIDS[$b]//+/,}" \
            2>"$OUT/flame-$b.record.log" &
        local pp=$!
        sleep 0.5
        "$TQ" --server "$b=${Q_URL[$b]}@$TOKEN" --hosts "$hosts" --hours "$hours" --runs "$(flame_runs "$table" "$shape" "$i")" \
            --shapes "$shape" --diff-dir "$WORK/flame-diffs" >/dev/null 2>&1 || true
        kill -INT "$pp"; wait "$pp" || true
        flame_files "$WORK/perf-$b.data" "$OUT/flame-$b-$shape"
        rm -f "$WORK/perf-$b.data"
    done
}

# flame_files PERF_DATA PREFIX: PREFIX.perf.txt (perf report --no-children), PREFIX.folded, and
# PREFIX.svg when inferno's tools are there (installed by `cargo install inferno` if INSTALL_INFERNO=1).
flame_files() {
    local data=$1 pre=$2
    perf report -i "$data" --no-children --sort comm,dso,symbol --percent-limit 0.5 --stdio -g none \
        2>/dev/null | grep -v '^$' | sed 's/ *- *- *$//' | head -80 >"$pre.perf.txt" || true
    if ! command -v inferno-flamegraph >/dev/null && [ "$INSTALL_INFERNO" = 1 ]; then
        cargo install inferno >"$OUT/inferno-install.log" 2>&1 || INSTALL_INFERNO=0
    fi
    if command -v inferno-collapse-perf >/dev/null; then
        perf script -i "$data" 2>/dev/null | inferno-collapse-perf >"$pre.folded" || true
        inferno-flamegraph <"$pre.folded" >"$pre.svg" 2>/dev/null || rm -f "$pre.svg"
    else
        # The stacks folded as inferno-collapse-perf / stackcollapse-perf.pl would: comm;outer;..;leaf N.
        perf script -i "$data" -F comm,ip,sym 2>/dev/null | awk '
            /^[^ \t]/ { if (n) emit(); comm = $1; n = 0; next }
            NF >= 2 { st[++n] = $2 }
            /^$/ { if (n) emit(); n = 0 }
            function emit(  s, k) { s = comm; for (k = n; k >= 1; k--) s = s ";" st[k]; c[s]++ }
            END { if (n) emit(); for (s in c) print s, c[s] }' | sort >"$pre.folded" || true
    fi
    echo "  $pre.{perf.txt,folded$([ -s "$pre.svg" ] && echo ,svg)}: top symbols:"
    grep -E '^ +[0-9]' "$pre.perf.txt" | sort -rn | head -5 | cut -c1-160 || true
}

step_report() {
    log "report -> $OUT/table.md, $MD"
    [ -f "$MD" ] || cp "$ROOT/BENCHMARKS.md" "$MD"
    python3 "$ROOT/scripts/bench-report.py" --out "$OUT" --md "$MD" --backends "$BACKENDS" --sizes "$SIZES" --steps "$STEPS" \
        --command "$BENCH_COMMAND" --commit "$(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo '+changes')" \
        --machine "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB RAM, load average at the start $LOAD0" \
        --influxd "$(influxd version 2>/dev/null | head -1)"
}

# The command as given (knobs from the environment), for the table's header.
BENCH_COMMAND=""
for v in QUICK STEPS BACKENDS SIZES WRITE_POINTS WRITE_ROUNDS CONNS BATCH GATE_BIN; do
    if printenv "$v" >/dev/null; then BENCH_COMMAND+="$v='$(printenv "$v")' "; fi
done
BENCH_COMMAND+="scripts/bench.sh"
: >"$OUT/log.txt"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
log "date: $(date -u +%Y-%m-%dT%H:%M:%SZ); steps: $STEPS; backends: $BACKENDS; sizes: $SIZES"
[[ " $STEPS " != *" write "* && " $STEPS " != *" query "* ]] || build
for step in $STEPS; do
    case $step in
    parse | write | query | report) "step_$step" ;;
    *) echo "unknown step $step (steps: parse write query report)" >&2; exit 2 ;;
    esac
done
log "done in ${SECONDS} s; results in $OUT"
