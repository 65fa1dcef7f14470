#!/usr/bin/env bash
# `SELECT last(*) FROM cpu GROUP BY *` on ClickHouse over data in two shard groups two weeks apart
# (216k lines: 50 hosts x 6 h at 2024-01-01 and at 2024-01-15): ClickHouse's statements, rows read
# and time per query (system.query_log) for two influxgate builds on one ClickHouse 18.16, and an
# answer hash each; the builds alternate, 5 queries a round, 2 rounds.
#   OLD=/path/to/old/influxgate NEW=target/release/influxgate scripts/bench-ch-lastpoint-weeks.sh
# Knobs: BASEPORT (19500: ports BASEPORT+1, +2, +10..+19).
set -euo pipefail
cd "$(dirname "$0")/.."; ROOT=$(pwd)
. scripts/bench-lib.sh
BASEPORT=${BASEPORT:-19500}; TOKEN=tok
WORK=$(mktemp -d /tmp/lastweeks.XXXX); PIDS=(); trap bench_cleanup EXIT
CH_PROFILE_XML="<log_queries>1</log_queries>" start_ch_setup single $((BASEPORT + 10))
GATE_BIN=$OLD start_influxgate old $((BASEPORT + 1)) --backend clickhouse --backend-url "$CH_URL"
GATE_BIN=$NEW start_influxgate new $((BASEPORT + 2)) --backend clickhouse --backend-url "$CH_URL"
python3 - "$WORK/body" <<'PY'
import sys, random
random.seed(1)
out = open(sys.argv[1], 'w')
T0 = 1704067200  # 2024-01-01, then 2024-01-15
for base in (T0, T0 + 14*86400):
    for k in range(0, 6*360):
        t = base + k*10
        for h in range(50):
            f = ",".join("usage_%d=%d" % (i, random.randint(0, 100)) for i in range(10))
            out.write("cpu,hostname=host_%d,region=r%d %s %d\n" % (h, h % 3, f, t * 10**9))
PY
split -l 5000 "$WORK/body" "$WORK/part."
for p in "$WORK"/part.*; do curl -sf -XPOST "http://127.0.0.1:$((BASEPORT + 1))/write?db=lw" -H "Authorization: Token $TOKEN" --data-binary @"$p"; done
echo "lines: $(wc -l < "$WORK/body")"
q='SELECT last(*) FROM cpu GROUP BY *'
for who in old new old new; do
    port=$([ $who = old ] && echo $((BASEPORT + 1)) || echo $((BASEPORT + 2)))
    sleep 1.2; t0=$(date +%s); sleep 1
    s=$(date +%s%N)
    for i in 1 2 3 4 5; do curl -sf -G "http://127.0.0.1:$port/query" -H "Authorization: Token $TOKEN" --data-urlencode "db=lw" --data-urlencode "q=$q" | md5sum | cut -c1-8 > "$WORK/h.$who"; done
    e=$(date +%s%N)
    ch_sql "$CH_URL" "SYSTEM FLUSH LOGS" >/dev/null
    echo "$who: answer $(cat $WORK/h.$who) wall $(( (e - s) / 5000000 )) ms/query; CH per query: $(ch_sql "$CH_URL" "SELECT count()/5, sum(read_rows)/5, sum(query_duration_ms)/5 FROM system.query_log WHERE type = 2 AND event_time >= toDateTime($t0) AND query NOT LIKE '%query_log%' AND query NOT LIKE 'SYSTEM%' FORMAT TSV")"
done
