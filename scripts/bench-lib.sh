# Servers for the benchmark scripts (sourced by scripts/bench.sh, bench-builds.sh, bench-scan.sh):
# influxd 1.6.7, influxgate, victoria-metrics, clickhouse-server 18.16 and ZooKeeper, each started
# on 127.0.0.1 with a fresh directory under $WORK, its pid appended to PIDS (bench_cleanup stops
# them all). Uses: WORK, PIDS (array), TOKEN, ROOT; GATE_BIN (the influxgate binary, default
# target/release/influxgate). Every wait is bounded (60 s).
# ClickHouse runs as an ordinary process with the configuration of tests/common/clickhouse.rs.

# bench_cleanup: stops every server in PIDS, removes $WORK.
bench_cleanup() {
    local p
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}

# wait_ping URL: waits until URL/ping answers 204 (influxd, influxgate).
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

# stop PID..: ends servers we started.
stop() {
    local p
    for p in "$@"; do kill "$p" 2>/dev/null || true; done
    for p in "$@"; do wait "$p" 2>/dev/null || true; done
}

# cpu_of PID[+PID..]: utime+stime in seconds, of the processes together.
cpu_of() {
    local p files=()
    for p in ${1//+/ }; do files+=("/proc/$p/stat"); done
    awk '{ sub(/^.*\) /, ""); t += $12 + $13 } END { printf "%.2f\n", t / 100 }' "${files[@]}"
}

# start_influxd NAME PORT -> LAST_PID. Default configuration except directories and ports.
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

# start_influxgate NAME PORT [serve args..] -> LAST_PID. sync = "full"; GATE_TOML: more config TOML.
start_influxgate() {
    local name=$1 port=$2 d="$WORK/$1"
    shift 2
    mkdir -p "$d"
    printf '[backend]\nsync = "full"\n[log]\nlevel = "warn"\n%s\n' "${GATE_TOML:-}" >"$d/config.toml"
    "${GATE_BIN:-$ROOT/target/release/influxgate}" serve --config "$d/config.toml" --listen "127.0.0.1:$port" \
        --data-dir "$d/data" --admin-token "$TOKEN" "$@" >"$d/log.txt" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    wait_ping "http://127.0.0.1:$port"
}

# start_vm NAME PORT [VM flags..] -> LAST_PID.
start_vm() {
    local name=$1 port=$2 d="$WORK/$1" i
    shift 2
    mkdir -p "$d"
    victoria-metrics -retentionPeriod 100y -storageDataPath "$d/data" -httpListenAddr "127.0.0.1:$port" \
        -loggerLevel ERROR "$@" >"$d/log.txt" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    for i in $(seq 1 600); do
        curl -s -o /dev/null "http://127.0.0.1:$port/health" && return 0
        sleep 0.1
    done
    echo "victoria-metrics did not come up" >&2
    return 1
}

# ch_sql URL SQL: runs SQL on the ClickHouse server at URL, prints the answer, fails on an error.
ch_sql() {
    curl -sS --fail-with-body --data-binary "$2" "$1/"
}

# start_clickhouse NAME HTTP TCP INTERSERVER [SHARD ZK_PORT REMOTE_SERVERS_XML] -> LAST_PID.
# CH_EXTRA_XML: more server configuration; CH_PROFILE_XML: more <default> profile settings
# (e.g. <log_queries>1</log_queries> to fill system.query_log).
start_clickhouse() {
    local name=$1 http=$2 tcp=$3 inter=$4 shard=${5:-} zk=${6:-} remote=${7:-} d="$WORK/$1" i
    # Fresh, as for every server here: bench.sh starts "ch-<base>" once per size, and a reused
    # directory kept the smaller size's rows under the larger one's (the same hosts and times with
    # other values: rewritten points, which sent aggregates to the scan at 1.08M lines).
    rm -rf "$d"
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
    cat >"$d/users.xml" <<EOF
<?xml version="1.0"?><yandex>
<profiles><default><max_memory_usage>4000000000</max_memory_usage><load_balancing>in_order</load_balancing>${CH_PROFILE_XML:-}</default></profiles>
<users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
<quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
EOF
    (cd "$d" && exec clickhouse-server --config-file="$d/config.xml" >"$d/stdout.log" 2>&1) &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    for i in $(seq 1 600); do
        [ "$(curl -s "http://127.0.0.1:$http/ping" 2>/dev/null)" = "Ok." ] && return 0
        sleep 0.1
    done
    echo "clickhouse-server $name did not come up:" >&2
    tail -5 "$d/log/error.log" >&2
    return 1
}

# start_zookeeper PORT -> LAST_PID.
start_zookeeper() {
    local port=$1 d="$WORK/zookeeper" i
    rm -rf "$d"
    mkdir -p "$d/data"
    printf 'tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir=%s/data\nclientPort=%s\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\nmaxSessionTimeout=60000\n4lw.commands.whitelist=srvr\n' \
        "$d" "$port" >"$d/zoo.cfg"
    java -Xmx256m -XX:+UseSerialGC -cp "/usr/share/java/*:/usr/share/zookeeper/*" \
        org.apache.zookeeper.server.quorum.QuorumPeerMain "$d/zoo.cfg" >"$d/log.txt" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    for i in $(seq 1 600); do
        echo srvr | timeout 1 bash -c "cat >/dev/tcp/127.0.0.1/$port" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "zookeeper did not come up" >&2
    return 1
}

# start_ch_setup KIND BASE: KIND single (one server) or cluster (2 shards + ZooKeeper); ports
# BASE+0..+9 -> CH_URL, CH_PIDS (a+b), CH_GATE_TOML (influxgate's [backend.clickhouse] lines, with
# the lines of $CH_GATE_EXTRA, e.g. 'insert_linger = "10ms"', to compare its settings).
start_ch_setup() {
    local kind=$1 base=$2 i
    CH_URL="http://127.0.0.1:$base"
    if [ "$kind" = single ]; then
        start_clickhouse "ch-$base" "$base" $((base + 1)) $((base + 2)); CH_PIDS=$LAST_PID
        CH_GATE_TOML=$'[backend.clickhouse]\n'"${CH_GATE_EXTRA:-}"$'\n'
        return 0
    fi
    start_zookeeper $((base + 9)); CH_PIDS=$LAST_PID
    local remote="<remote_servers><gate>"
    remote+="<shard><internal_replication>true</internal_replication><replica><host>127.0.0.1</host><port>$((base + 1))</port></replica></shard>"
    remote+="<shard><internal_replication>true</internal_replication><replica><host>127.0.0.1</host><port>$((base + 4))</port></replica></shard>"
    remote+="</gate></remote_servers>"
    start_clickhouse "ch-$base-s1" "$base" $((base + 1)) $((base + 2)) 1 $((base + 9)) "$remote"
    CH_PIDS+="+$LAST_PID"
    start_clickhouse "ch-$base-s2" $((base + 3)) $((base + 4)) $((base + 5)) 2 $((base + 9)) "$remote"
    CH_PIDS+="+$LAST_PID"
    for i in $(seq 1 300); do
        ch_sql "$CH_URL" "SELECT count() FROM system.zookeeper WHERE path = '/'" >/dev/null 2>&1 &&
            ch_sql "http://127.0.0.1:$((base + 3))" "SELECT count() FROM system.zookeeper WHERE path = '/'" >/dev/null 2>&1 && break
        sleep 0.2
    done
    CH_GATE_TOML=$'[backend.clickhouse]\ncluster = "gate"\n'"${CH_GATE_EXTRA:-}"$'\n'
}
