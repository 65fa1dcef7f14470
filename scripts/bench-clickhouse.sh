# ClickHouse steps of scripts/bench.sh (sourced by it: uses its WORK, PIDS, OUT, log, start_influxd,
# start_influxgate, cpu_of, stop, WL, TQ, TOKEN, BASEPORT, CONNS).
#   STEPS=chwrite scripts/bench.sh   # writes: influxgate -> ClickHouse vs the same rows straight into it
#   STEPS=chquery scripts/bench.sh   # TSBS shapes: influxgate on ClickHouse vs influxd 1.6.7
# Knobs: CH_WRITE="POINTS:BATCH ..." (default "1000000:5000 200000:1000"), CH_ROUNDS (3),
#   CH_QUERY="HOSTSxHOURS:RUNS ..." (default "20x6:10 100x24:5"), CH_CLUSTER (set: the query step
#   on a 2-shard cluster with ZooKeeper too), CH_PERF (set: one more influxgate write round under
#   `perf record`), CH_EXTRA_XML (more server configuration, e.g. a <query_log> section).
# ClickHouse 18.16 (Debian's clickhouse-server) runs as an ordinary process with its own config in
# $WORK, the configuration of tests/common/clickhouse.rs (../shared/notes/clickhouse-cluster.md).

CH_WRITE=${CH_WRITE:-"1000000:5000 200000:1000"}
CH_ROUNDS=${CH_ROUNDS:-3}
CH_QUERY=${CH_QUERY:-"20x6:10 100x24:5"}

# ch_sql URL SQL: runs SQL on the server at URL, prints the answer, fails on an error.
ch_sql() {
    curl -sS --fail-with-body --data-binary "$2" "$1/"
}

# start_clickhouse NAME HTTP TCP INTERSERVER [SHARD ZK_PORT REMOTE_SERVERS_XML] -> sets LAST_PID.
start_clickhouse() {
    local name=$1 http=$2 tcp=$3 inter=$4 shard=${5:-} zk=${6:-} remote=${7:-} d="$WORK/$1"
    mkdir -p "$d/log"
    {
        echo "<?xml version=\"1.0\"?><yandex>"
        echo "<logger><level>warning</level><log>$d/log/server.log</log><errorlog>$d/log/error.log</errorlog><size>50M</size><count>1</count></logger>"
        echo "<http_port>$http</http_port><tcp_port>$tcp</tcp_port><interserver_http_port>$inter</interserver_http_port>"
        echo "<interserver_http_host>127.0.0.1</interserver_http_host><listen_host>127.0.0.1</listen_host>"
        echo "<path>$d/data/</path><tmp_path>$d/tmp/</tmp_path><user_files_path>$d/user_files/</user_files_path>"
        echo "<format_schema_path>$d/format_schemas/</format_schema_path><users_config>$d/users.xml</users_config>"
        echo "<default_profile>default</default_profile><default_database>default</default_database>"
        echo "<mark_cache_size>67108864</mark_cache_size><max_concurrent_queries>100</max_concurrent_queries>"
        echo "${CH_EXTRA_XML:-}"
        if [ -n "$zk" ]; then
            echo "$remote"
            echo "<zookeeper><node><host>127.0.0.1</host><port>$zk</port></node><session_timeout_ms>6000</session_timeout_ms></zookeeper>"
            echo "<macros><shard>$shard</shard><replica>r1</replica></macros>"
            echo "<distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>"
        fi
        echo "</yandex>"
    } >"$d/config.xml"
    cat >"$d/users.xml" <<'EOF'
<?xml version="1.0"?><yandex>
<profiles><default><max_memory_usage>4000000000</max_memory_usage><load_balancing>in_order</load_balancing></default></profiles>
<users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
<quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
EOF
    (cd "$d" && exec clickhouse-server --config-file="$d/config.xml" >"$d/stdout.log" 2>&1) &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    local i
    for i in $(seq 1 600); do
        [ "$(curl -s "http://127.0.0.1:$http/ping" 2>/dev/null)" = "Ok." ] && return 0
        sleep 0.1
    done
    echo "clickhouse-server $name did not come up:" >&2
    tail -5 "$d/log/error.log" >&2
    return 1
}

# start_zookeeper PORT -> sets LAST_PID.
start_zookeeper() {
    local port=$1 d="$WORK/zookeeper"
    mkdir -p "$d/data"
    printf 'tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir=%s/data\nclientPort=%s\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\nmaxSessionTimeout=60000\n4lw.commands.whitelist=srvr\n' \
        "$d" "$port" >"$d/zoo.cfg"
    java -Xmx256m -XX:+UseSerialGC -cp "/usr/share/java/*:/usr/share/zookeeper/*" \
        org.apache.zookeeper.server.quorum.QuorumPeerMain "$d/zoo.cfg" >"$d/log.txt" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    local i
    for i in $(seq 1 600); do
        echo srvr | timeout 1 bash -c "cat >/dev/tcp/127.0.0.1/$port" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "zookeeper did not come up" >&2
    return 1
}

# start_ch_setup KIND BASE: KIND single or cluster; ports BASE+0.. -> sets CH_URL, CH_PIDS (a+b),
# CH_GATE_EXTRA (the [backend.clickhouse] lines), CH_INSERT_PARAMS ("" or the Distributed insert setting).
start_ch_setup() {
    local kind=$1 base=$2
    if [ "$kind" = single ]; then
        start_clickhouse "ch-$base" "$base" $((base + 1)) $((base + 2)); CH_PIDS=$LAST_PID
        CH_GATE_EXTRA=""
        CH_INSERT_PARAMS=""
    else
        start_zookeeper $((base + 9)); CH_PIDS=$LAST_PID
        local remote="<remote_servers><gate>"
        remote+="<shard><internal_replication>true</internal_replication><replica><host>127.0.0.1</host><port>$((base + 1))</port></replica></shard>"
        remote+="<shard><internal_replication>true</internal_replication><replica><host>127.0.0.1</host><port>$((base + 4))</port></replica></shard>"
        remote+="</gate></remote_servers>"
        start_clickhouse "ch-$base-s1" "$base" $((base + 1)) $((base + 2)) 1 $((base + 9)) "$remote"
        CH_PIDS+="+$LAST_PID"
        start_clickhouse "ch-$base-s2" $((base + 3)) $((base + 4)) $((base + 5)) 2 $((base + 9)) "$remote"
        CH_PIDS+="+$LAST_PID"
        local i
        for i in $(seq 1 300); do
            ch_sql "http://127.0.0.1:$base" "SELECT count() FROM system.zookeeper WHERE path = '/'" >/dev/null 2>&1 &&
                ch_sql "http://127.0.0.1:$((base + 3))" "SELECT count() FROM system.zookeeper WHERE path = '/'" >/dev/null 2>&1 && break
            sleep 0.2
        done
        CH_GATE_EXTRA=$'[backend.clickhouse]\ncluster = "gate"\n'
        CH_INSERT_PARAMS="insert_distributed_sync=1"
    fi
    CH_URL="http://127.0.0.1:$base"
}

# One timed write; prints a row. ch_write_row NAME TABLE_OR_DB POINTS BATCH URL GATE_PID ARGS...
ch_write_row() {
    local name=$1 target=$2 points=$3 batch=$4 url=$5 gpid=$6
    shift 6
    local g0 c0 g1 c1 out
    g0=0; [ -n "$gpid" ] && g0=$(cpu_of "$gpid")
    c0=$(cpu_of "$CH_PIDS")
    out=$("$WL" "$url" --points "$points" --connections "$CONNS" --batch "$batch" "$@" 2>&1) || { echo "$out" >&2; return 1; }
    g1=0; [ -n "$gpid" ] && g1=$(cpu_of "$gpid")
    c1=$(cpu_of "$CH_PIDS")
    printf '%-16s %-8s %-22s points/s %9s  elapsed %7s s  influxgate CPU %6.2f s  ClickHouse CPU %6.2f s  latency p50/p90 %s\n' \
        "$name" "$points/$batch" "$target" "$(echo "$out" | awk '/^points\/s:/{print $2}')" \
        "$(echo "$out" | awk '/^elapsed:/{print $2}')" "$(echo "$g1 - $g0" | bc)" "$(echo "$c1 - $c0" | bc)" \
        "$(echo "$out" | awk '/^latency/{split($4, a, "/"); print a[1] "/" a[2]}')" | tee -a "$WFILE"
}

# ch_write BASE: write overhead on one server (fresh servers). (On the cluster the direct peer
# would need its own replicated tables plus a Distributed table: not measured yet.)
ch_write() {
    local kind=single base=$1
    start_ch_setup "$kind" "$base"
    GATE_TOML="$CH_GATE_EXTRA" start_influxgate "gate-ch-$kind" $((base + 8)) full --backend clickhouse --backend-url "$CH_URL"
    local P_GATE=$LAST_PID gurl="http://127.0.0.1:$((base + 8))"
    # The table the direct inserts copy: made by influxgate's first write (same engine, partitions, order).
    "$WL" "$gurl/write?db=schema" --points 100 --batch 100 --connections 1 --create-db --token "$TOKEN" >/dev/null
    local tmpl='`influx_schema.autogen`.`cpu`'
    ch_sql "$CH_URL" "CREATE DATABASE IF NOT EXISTS bench_direct" >/dev/null
    WFILE="$OUT/write-ch-$kind.txt"; : >"$WFILE"
    echo "influxgate: ${GATE_BIN:-target/release/influxgate} serve --backend clickhouse --backend-url $CH_URL (config: sync=full${CH_GATE_EXTRA:+, cluster = \"gate\"}); client: $WL URL --points P --batch B --connections $CONNS" | tee -a "$WFILE"
    local spec r points batch t order
    for spec in $CH_WRITE; do
        points=${spec%%:*}; batch=${spec##*:}
        for r in $(seq 1 "$CH_ROUNDS"); do
            t="bench_direct.cpu_${points}_${batch}_$r"
            ch_sql "$CH_URL" "CREATE TABLE $t AS $tmpl" >/dev/null
            # Alternate who goes first, so both see the same background merges and noise.
            for order in $( [ $((r % 2)) = 1 ] && echo "direct gate" || echo "gate direct"); do
                if [ "$order" = direct ]; then
                    ch_write_row "clickhouse-direct" "$t" "$points" "$batch" "$CH_URL/?$CH_INSERT_PARAMS" "" \
                        --clickhouse-table "$t"
                else
                    ch_write_row "influxgate-ch" "db=w${points}_${batch}_$r" "$points" "$batch" \
                        "$gurl/write?db=w${points}_${batch}_$r" "$P_GATE" --pregenerate --create-db --token "$TOKEN"
                fi
            done
            echo "  rows stored: direct $(ch_sql "$CH_URL" "SELECT count() FROM $t" | tr -d '\n'), influxgate $(ch_sql "$CH_URL" "SELECT count() FROM \`influx_w${points}_${batch}_$r.autogen\`.cpu" | tr -d '\n')" | tee -a "$WFILE"
        done
    done
    awk '/points\/s/ {k = $1 " " $2; n[k]++; s[k] += $5; g[k] += $11; c[k] += $15}
         END {for (k in n) printf "mean %-28s %10.0f points/s  influxgate CPU %6.2f s  ClickHouse CPU %6.2f s\n", k, s[k]/n[k], g[k]/n[k], c[k]/n[k]}' \
        "$WFILE" | sort -k3,3 -k2,2 | tee -a "$WFILE"
    if [ -n "${CH_PERF:-}" ]; then
        perf record -F 999 -g -o "$OUT/perf-ch-write.data" -p "$P_GATE" 2>"$OUT/perf-record.log" &
        local P_PERF=$!
        sleep 0.5
        ch_write_row "influxgate-ch(perf)" "db=perf" 1000000 5000 "$gurl/write?db=perf" "$P_GATE" --pregenerate --create-db --token "$TOKEN"
        kill -INT "$P_PERF"; wait "$P_PERF" || true
        perf report -i "$OUT/perf-ch-write.data" --no-children --sort symbol --percent-limit 1 --stdio 2>/dev/null |
            grep -E '^ +[0-9]' | head -40 >"$OUT/perf-ch-write.txt" || true
        perf report -i "$OUT/perf-ch-write.data" --children --sort symbol --percent-limit 3 --stdio -g none 2>/dev/null |
            grep -E '^ +[0-9]' | head -60 >"$OUT/perf-ch-write-children.txt" || true
    fi
    cat "$WFILE" >>"$OUT/summary.txt"
    stop "$P_GATE"
    local p
    for p in ${CH_PIDS//+/ }; do stop "$p"; done
}

# ch_query KIND BASE: the TSBS shapes, influxgate on ClickHouse vs influxd, fresh servers per size.
ch_query() {
    local kind=$1 base=$2 spec hosts hours runs
    for spec in $CH_QUERY; do
        hosts=${spec%%x*}; hours=${spec#*x}; hours=${hours%%:*}; runs=${spec##*:}
        start_ch_setup "$kind" "$base"
        GATE_TOML="$CH_GATE_EXTRA" start_influxgate "q-gate-ch-$kind-$spec" $((base + 8)) full --backend clickhouse --backend-url "$CH_URL"
        local P_GATE=$LAST_PID
        start_influxd "q-influxd-ch-$kind-$spec" $((base + 7)); local P_INF=$LAST_PID
        log "TSBS shapes, influxgate on ClickHouse ($kind) vs influxd 1.6.7: $hosts hosts x ${hours}h, $runs runs per shape"
        "$TQ" --server "influxgate-ch=http://127.0.0.1:$((base + 8))@$TOKEN" \
            --server "influxd=http://127.0.0.1:$((base + 7))" \
            --pid "influxgate-ch=$P_GATE+$CH_PIDS" --pid "influxd=$P_INF" \
            --hosts "$hosts" --hours "$hours" --runs "$runs" --load \
            --diff-dir "$OUT/query-diffs-ch-$kind-$hosts-$hours" 2>&1 | tee "$OUT/query-ch-$kind-$hosts-$hours.txt" | tee -a "$OUT/summary.txt"
        stop "$P_GATE"; stop "$P_INF"
        local p
        for p in ${CH_PIDS//+/ }; do stop "$p"; done
    done
}
