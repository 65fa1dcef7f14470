#!/usr/bin/env bash
# Where a TSBS shape's time goes on ClickHouse (scripts/bench.sh gives only the total): influxgate on
# a fresh ClickHouse 18.16 with `log_queries=1`, and influxd 1.6.7, loaded with the same data; per
# shape RUNS queries side by side (examples/tsbs_queries), then from ClickHouse's system.query_log
# the statements per query, their kinds and ClickHouse's own time (query_duration_ms, rows read),
# and from /proc the CPU of influxgate and of ClickHouse separately.
#   SKIP_BUILD=1 scripts/bench-chprofile.sh
# Knobs: HOSTS (50), HOURS (12), RUNS (10), SHAPES (all, comma-separated), GATE_BIN, EXAMPLES,
#   OUT (target/bench-results), BASEPORT (18800), PERF (set: `perf record -g` of influxgate per shape
#   -> $OUT/chprofile-SHAPE.perf.txt), OPTIMIZE (set: OPTIMIZE TABLE … FINAL after the load).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
# shellcheck source=scripts/bench-lib.sh
. "$ROOT/scripts/bench-lib.sh"
HOSTS=${HOSTS:-50}; HOURS=${HOURS:-12}; RUNS=${RUNS:-10}; BASEPORT=${BASEPORT:-18800}
OUT=${OUT:-$ROOT/target/bench-results}
TQ=${EXAMPLES:-$ROOT/target/release/examples}/tsbs_queries
TOKEN=bench-admin-token
SHAPES=${SHAPES:-single-groupby-1-1-1,single-groupby-5-1-12,cpu-max-all-1,cpu-max-all-8,double-groupby-1,high-cpu-1,lastpoint,groupby-orderby-limit}
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/influxgate-bench.XXXXXX)
PIDS=()
trap bench_cleanup EXIT
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --bin influxgate --example tsbs_queries 2>&1 | tail -2

CH_PROFILE_XML="<log_queries>1</log_queries>" start_ch_setup single $((BASEPORT + 10))
start_influxgate chp-gate $((BASEPORT + 1)) --backend clickhouse --backend-url "$CH_URL"; PG=$LAST_PID
start_influxd chp-influxd $((BASEPORT + 2)); PI=$LAST_PID
SERVERS=(--server "influxgate-ch=http://127.0.0.1:$((BASEPORT + 1))@$TOKEN" --server "influxd=http://127.0.0.1:$((BASEPORT + 2))"
    --pid "influxgate-ch=$PG+$CH_PIDS" --pid "influxd=$PI" --reference influxd --hosts "$HOSTS" --hours "$HOURS")
"$TQ" "${SERVERS[@]}" --load --runs 1 --shapes lastpoint --diff-dir "$WORK/d" >/dev/null 2>"$OUT/chprofile-load.log"
# OPTIMIZE=1: merge the table's parts first (as bench.sh does not: its queries see the parts the load made).
[ -z "${OPTIMIZE:-}" ] || ch_sql "$CH_URL" "OPTIMIZE TABLE \`influx_tsbs.autogen\`.cpu FINAL" >/dev/null
echo "parts of the table: $(ch_sql "$CH_URL" "SELECT count() FROM system.parts WHERE active AND database = 'influx_tsbs.autogen'")"

# The statements ClickHouse finished since event time T (seconds), influxgate's only.
log_since() {
    ch_sql "$CH_URL" "SYSTEM FLUSH LOGS" >/dev/null
    ch_sql "$CH_URL" "SELECT count(), sum(query_duration_ms), sum(read_rows), max(query_duration_ms) FROM system.query_log
        WHERE type = 2 AND event_time >= toDateTime($1) AND query NOT LIKE '%system.query_log%' AND query NOT LIKE 'SYSTEM FLUSH%'
        AND query NOT LIKE 'OPTIMIZE%' FORMAT TSV"
}
kinds_since() {
    ch_sql "$CH_URL" "SELECT count() AS n, round(avg(query_duration_ms), 1), round(avg(read_rows)), substring(replaceRegexpAll(query, '[0-9]+', 'N'), 1, 150)
        FROM system.query_log WHERE type = 2 AND event_time >= toDateTime($1) AND query NOT LIKE '%system.query_log%'
        AND query NOT LIKE 'SYSTEM FLUSH%' GROUP BY query ORDER BY n DESC LIMIT 6 FORMAT TSV" |
        awk -F'\t' '{ printf "      %4d x  %6s ms  %9s rows  %s\n", $1, $2, $3, $4 }' | sort -u -k5 | sort -rn | head -6
}

printf '%-22s | %-22s | %8s | %10s | %10s | %12s | %10s | %s\n' shape "median ms gate / influxd" ratio \
    "CH stmts/q" "CH ms/q" "CH rows/q" "gate CPU ms/q" "CH CPU ms/q"
for shape in ${SHAPES//,/ }; do
    sleep 1
    t0=$(date +%s); g0=$(cpu_of "$PG"); c0=$(cpu_of "$CH_PIDS")
    [ -z "${PERF:-}" ] || { perf record -F 499 -g -o "$WORK/p.data" -p "$PG" 2>/dev/null & PP=$!; sleep 0.3; }
    row=$("$TQ" "${SERVERS[@]}" --runs "$RUNS" --shapes "$shape" --diff-dir "$OUT/chprofile-diffs" 2>/dev/null | grep "^| $shape ")
    [ -z "${PERF:-}" ] || { kill -INT "$PP"; wait "$PP" || true
        perf report -i "$WORK/p.data" --no-children --sort symbol --percent-limit 0.7 --stdio -g none 2>/dev/null |
            grep -E '^ +[0-9]' | head -25 >"$OUT/chprofile-$shape.perf.txt" || true; }
    g1=$(cpu_of "$PG"); c1=$(cpu_of "$CH_PIDS")
    n=$((RUNS + 1)) # tsbs_queries sends one untimed warm-up query
    read -r cnt dur rows _ < <(log_since "$t0")
    printf '%-22s | %-22s | %8s | %10.1f | %10.1f | %12.0f | %10.1f | %.1f\n' "$shape" \
        "$(echo "$row" | awk -F' *\\| *' '{ split($3, a, " "); split($4, b, " "); print a[1] " / " b[1] }')" \
        "$(echo "$row" | awk -F' *\\| *' '{ print $5 }')" "$(echo "$cnt / $n" | bc -l)" "$(echo "$dur / $n" | bc -l)" \
        "$(echo "$rows / $n" | bc -l)" "$(echo "($g1 - $g0) * 1000 / $n" | bc -l)" "$(echo "($c1 - $c0) * 1000 / $n" | bc -l)"
    kinds_since "$t0"
done
