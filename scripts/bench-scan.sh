#!/usr/bin/env bash
# Raw multi-series selects (the Backend v2 scan seam; scripts/bench.sh has none): two influxgate
# binaries side by side, same run, on the embedded store and on ClickHouse 18.16.
#   OLD=/path/to/old/influxgate NEW=target/release/influxgate scripts/bench-scan.sh
# Knobs: SERIES (100), POINTS per series (2000), RUNS per query and binary (7, alternating).
# Prints, per store and query, the median wall time of each binary (curl, compact JSON, streamed)
# and, on ClickHouse, the statements it ran per query (system.events 'Query'). An old binary's
# error answer (e.g. its 30 s backend timeout) is shown on stderr and timed as it came.
set -euo pipefail
OLD=${OLD:?OLD=old influxgate binary}
NEW=${NEW:-target/release/influxgate}
SERIES=${SERIES:-100}
POINTS=${POINTS:-2000}
RUNS=${RUNS:-7}
WORK=$(mktemp -d /tmp/bench-scan.XXXXXX)
PIDS=()
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/bench-lib.sh
. "$ROOT/scripts/bench-lib.sh"
trap bench_cleanup EXIT
TOKEN=benchtoken
CH_HTTP=${CH_HTTP:-18923}

# start_gate NAME BIN PORT [serve flags...]
start_gate() {
    local name=$1 bin=$2
    shift 2
    GATE_BIN=$bin start_influxgate "$name" "$@"
}

write_data() {
    local port=$1 t0
    for ((t0 = 0; t0 < POINTS; t0 += 200)); do
        awk -v s="$SERIES" -v a="$t0" -v n=200 -v p="$POINTS" 'BEGIN { for (t = a; t < a + n && t < p; t++) for (h = 0; h < s; h++) printf "m,host=h%03d,g=%d v=%d,w=%di %d%09d\n", h, h % 3, (t * 7 + h) % 11, t, 1700000000 + t, h % 7 }' >"$WORK/body.lp"
        curl -sS --fail -H "Authorization: Token $TOKEN" --data-binary "@$WORK/body.lp" "http://127.0.0.1:$port/write?db=bench" >/dev/null
    done
}

ch_queries() { curl -sS --data-binary "SELECT value FROM system.events WHERE event = 'Query'" "http://127.0.0.1:$CH_HTTP/"; }

QUERIES=(
    "SELECT * FROM m"
    "SELECT v FROM m ORDER BY time DESC"
    "SELECT v, w FROM m GROUP BY host LIMIT 10"
    "SELECT v FROM m GROUP BY host ORDER BY time DESC LIMIT 10"
    "SELECT * FROM m ORDER BY time DESC LIMIT 100"
)

# one PORT Q -> seconds
one() { curl -sS -o "$WORK/answer.json" -w '%{time_total}' -H "Authorization: Token $TOKEN" --data-urlencode "q=$2" "http://127.0.0.1:$1/query?db=bench&epoch=ns"; }
# The bytes of the last answer, or "error" (the text goes to stderr).
answer_bytes() { if grep -q '"error"' "$WORK/answer.json"; then head -c 300 "$WORK/answer.json" >&2; echo >&2; echo error; else wc -c <"$WORK/answer.json"; fi; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# bench LABEL OLD_PORT NEW_PORT
bench() {
    local label=$1 po=$2 pn=$3 q i
    for q in "${QUERIES[@]}"; do
        : >"$WORK/t.old"; : >"$WORK/t.new"
        local before after nq_old="" nq_new="" bytes_old bytes_new
        for ((i = 0; i < RUNS; i++)); do
            [ "$label" = clickhouse ] && before=$(ch_queries)
            one "$po" "$q" >>"$WORK/t.old"; echo >>"$WORK/t.old"
            [ "$label" = clickhouse ] && { after=$(ch_queries); nq_old=$((after - before)); before=$after; }
            bytes_old=$(answer_bytes)
            one "$pn" "$q" >>"$WORK/t.new"; echo >>"$WORK/t.new"
            [ "$label" = clickhouse ] && { after=$(ch_queries); nq_new=$((after - before)); }
            bytes_new=$(answer_bytes)
            [ "$bytes_new" != error ] || exit 1
            [ "$bytes_old" = error ] || [ "$bytes_old" = "$bytes_new" ] || { echo "$label: $q: answers differ in size ($bytes_old, $bytes_new)" >&2; exit 1; }
        done
        local mo mn
        mo=$(median <"$WORK/t.old"); mn=$(median <"$WORK/t.new")
        printf '%-10s | %-58s | %9s bytes | old %7.3f s | new %7.3f s | new/old %5.2f | CH statements old %s new %s\n' \
            "$label" "$q" "$bytes_new" "$mo" "$mn" "$(awk -v a="$mn" -v b="$mo" 'BEGIN { print a / b }')" "${nq_old:--}" "${nq_new:--}"
    done
}

start_gate emb-old "$OLD" 18931
start_gate emb-new "$NEW" 18932
write_data 18931
write_data 18932
start_clickhouse ch "$CH_HTTP" $((CH_HTTP + 1)) $((CH_HTTP + 2))
start_gate ch-old "$OLD" 18933 --backend clickhouse --backend-url "http://127.0.0.1:$CH_HTTP"
start_gate ch-new "$NEW" 18934 --backend clickhouse --backend-url "http://127.0.0.1:$CH_HTTP"
write_data 18934
echo "$SERIES series x $POINTS points; $RUNS runs per binary, medians"
bench embedded 18931 18932
bench clickhouse 18933 18934
