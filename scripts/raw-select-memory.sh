#!/usr/bin/env bash
# Peak RSS, wall time and server CPU of one chunked raw select over many series (issue 12 item 3:
# `SELECT * FROM m` over POINTS points in SERIES series sharing every timestamp), two builds
# interleaved (old, new, old, new ...), each query on a freshly started server:
#   OLD=/tmp/old-influxgate scripts/raw-select-memory.sh                  # embedded store
#   OLD=/tmp/old-influxgate BACK=vm scripts/raw-select-memory.sh          # VictoriaMetrics (Debian victoria-metrics)
#   OLD=/tmp/old-influxgate BACK=ch scripts/raw-select-memory.sh          # ClickHouse (Debian clickhouse-server)
# Knobs: POINTS (10000000), SERIES (1500), RUNS (3), CHUNK (10000: chunk_size), NEW
# (target/quick-release/influxgate), P (random: ports P+1..P+3), QUERY (SELECT * FROM m), QUERY_CONF
# (extra [query] lines), DIR (a directory kept between runs: the data is loaded once into it).
# Both builds run without a query timeout or memory limit ([query] timeout = "0s",
# max_memory_bytes = 0), so that a build holding every point shows what it holds.
# Prints one line per query: build, peak RSS (VmHWM of the fresh process: start-up included),
# wall seconds, server CPU seconds (utime+stime, influxgate only), answer bytes and its sha256
# (the same answer from both builds has the same hash); then the medians per build.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OLD=${OLD:?OLD=/path/to/an older influxgate binary}; NEW=${NEW:-$ROOT/target/quick-release/influxgate}
POINTS=${POINTS:-10000000}; SERIES=${SERIES:-1500}; RUNS=${RUNS:-3}; CHUNK=${CHUNK:-10000}
BACK=${BACK:-embedded}; P=${P:-$((20000 + RANDOM % 20000))}; QUERY=${QUERY:-SELECT * FROM m}; TOKEN=rsmtoken
W=${DIR:-$(mktemp -d)}; PIDS=(); mkdir -p $W
trap 'kill ${PIDS[@]} 2>/dev/null; wait 2>/dev/null; [ -n "${DIR:-}" ] || rm -rf $W' EXIT
ping() { for i in $(seq 1 600); do curl -sf "$1/ping" >/dev/null && return 0; curl -sf "$1/health" >/dev/null && return 0; sleep 0.2; done; echo "no ping $1"; exit 1; }
ticks=$(getconf CLK_TCK)
cpu() { awk -v t=$ticks '{print ($14+$15)/t}' /proc/$1/stat; }
printf '[log]\nlevel = "warn"\n[query]\ntimeout = "0s"\nmax_memory_bytes = 0\n%s\n' "${QUERY_CONF:-}" > $W/config.toml
ARGS=()
if [ "$BACK" = vm ]; then
  victoria-metrics -retentionPeriod 100y -storageDataPath $W/vm -httpListenAddr 127.0.0.1:$((P+3)) -loggerLevel ERROR > $W/vm.log 2>&1 & PIDS+=($!)
  ping http://127.0.0.1:$((P+3))
  ARGS=(--backend victoriametrics --backend-url http://127.0.0.1:$((P+3)))
  LOAD_URL="http://127.0.0.1:$((P+3))/write?db=rsm"   # straight to the store: the series influxgate writes
elif [ "$BACK" = ch ]; then
  . "$ROOT/scripts/bench-lib.sh"; WORK=$W/ch-work; mkdir -p $WORK
  start_clickhouse ch $((P+4)) $((P+5)) $((P+6))
  ARGS=(--backend clickhouse --backend-url http://127.0.0.1:$((P+4)))
  LOAD_URL="http://127.0.0.1:$((P+1))/write?db=rsm"   # through influxgate: ClickHouse takes no line protocol
else
  LOAD_URL="http://127.0.0.1:$((P+1))/write?db=rsm"
fi
gate() { # bin: starts influxgate on the shared data dir, sets GPID
  $1 serve --config $W/config.toml --listen 127.0.0.1:$((P+1)) --data-dir $W/data --admin-token $TOKEN "${ARGS[@]}" > $W/gate.log 2>&1 &
  GPID=$!; ping http://127.0.0.1:$((P+1)); kill -0 $GPID 2>/dev/null || { cat $W/gate.log; exit 1; }; }
LOADED=$W/loaded-$BACK-$POINTS-$SERIES
if [ ! -e $LOADED ]; then
gate $NEW
curl -sf -XPOST -H "Authorization: Token $TOKEN" "http://127.0.0.1:$((P+1))/query" --data-urlencode 'q=CREATE DATABASE rsm' >/dev/null
t0=$(date +%s)
python3 - "$LOAD_URL" "$TOKEN" "$POINTS" "$SERIES" <<'PY'
import sys, urllib.request
url, token, points, series = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
n, start = 0, 1_600_000_000
while n < points:
    lines = []
    for k in range(n, min(points, n + 200_000)):
        h = k % series
        lines.append(f"m,host=h{h:05},dc=dc{h % 3} v={(k * 7 + h) % 1000}.5 {(start + k // series) * 10**9}\n")
    n += len(lines)
    req = urllib.request.Request(url, data="".join(lines).encode(), headers={"Authorization": "Token " + token})
    urllib.request.urlopen(req).read()
PY
[ "$BACK" = vm ] && curl -sf "http://127.0.0.1:$((P+3))/internal/force_flush" >/dev/null
echo "loaded $POINTS points over $SERIES series in $(( $(date +%s) - t0 )) s ($BACK)"
kill $GPID; wait $GPID 2>/dev/null; touch $LOADED
fi
for r in $(seq 1 $RUNS); do
  for b in old new; do
    [ $b = old ] && bin=$OLD || bin=$NEW
    gate $bin; c0=$(cpu $GPID)
    out=$(curl -s -XPOST -H "Authorization: Token $TOKEN" "http://127.0.0.1:$((P+1))/query" --data-urlencode "q=$QUERY" \
      -d db=rsm -d chunked=true -d chunk_size=$CHUNK -d epoch=ns -w '%{time_total} %{size_download}' -o >(sha256sum | cut -c1-12 > $W/hash))
    sleep 0.5
    hwm=$(awk '/VmHWM/ {print int($2/1024)}' /proc/$GPID/status); c1=$(cpu $GPID)
    kill $GPID; wait $GPID 2>/dev/null
    set -- $out
    echo "$b run $r: rss_mib $hwm wall_s $1 cpu_s $(echo "$c1 - $c0" | bc) bytes $2 sha256 $(cat $W/hash)"
  done
done | tee $W/results
for b in old new; do
  med() { grep "^$b " $W/results | awk -v f=$1 '{print $f}' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
  echo "$b median: peak RSS $(med 5) MiB, wall $(med 7) s, CPU $(med 9) s"
done
