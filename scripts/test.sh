#!/usr/bin/env bash
# The test command (README and .ci/run call it).
#
# 1. Installs what the integration tests need when missing (Debian packages): InfluxDB 1.6.7
#    (`influxd`, the reference the differential tests compare with), its `influx` CLI, the
#    Python client (python3-influxdb, python3-msgpack), VictoriaMetrics (`victoria-metrics`,
#    for the VictoriaMetrics backend's tests), ClickHouse 18.16 and ZooKeeper (`clickhouse-server`,
#    `clickhouse-client`, `zookeeper`, for the ClickHouse backend's tests, one server and clusters).
#    For the package's test (tests/deb_package.rs) and the README's (tests/readme.rs): mmdebstrap,
#    systemd (systemd-analyze), iproute2 (network namespaces), curl.
#    Needs root (or password-less sudo). Then PyPI's `chdb` (a current ClickHouse, in process) for
#    python3 when it is missing, with pip, and cargo-deb (pinned) when missing, with cargo install.
# 2. Builds and runs every test target: library unit tests, the binary's tests, integration
#    tests under tests/, examples and benches (compiled and run once in test mode), doc tests.
#    Integration tests start the debug influxgate binary (and influxd) on free loopback ports.
# 3. Ends with a summary of all test binaries; exits non-zero if anything failed.
#
# Extra arguments go to `cargo test` (e.g. scripts/test.sh --test auth_matrix).
set -uo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s\n' "$*" >&2; }

# --- 1. external programs the tests use -----------------------------------------------------
PKGS=(influxdb influxdb-client python3-influxdb python3-msgpack victoria-metrics clickhouse-server clickhouse-client zookeeper
      mmdebstrap systemd iproute2 curl)
missing=()
command -v influxd >/dev/null 2>&1 || [ -x /usr/bin/influxd ] || missing+=(influxdb)
command -v influx >/dev/null 2>&1 || [ -x /usr/bin/influx ] || missing+=(influxdb-client)
if ! /usr/bin/python3 -c 'import influxdb' >/dev/null 2>&1; then missing+=(python3-influxdb); fi
if ! /usr/bin/python3 -c 'import msgpack' >/dev/null 2>&1; then missing+=(python3-msgpack); fi
[ -x /usr/bin/victoria-metrics ] || missing+=(victoria-metrics)
[ -x /usr/sbin/clickhouse-server ] || missing+=(clickhouse-server)
command -v clickhouse-client >/dev/null 2>&1 || missing+=(clickhouse-client)
[ -d /usr/share/zookeeper ] || missing+=(zookeeper)
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v curl >/dev/null 2>&1 || missing+=(curl)

if [ ${#missing[@]} -gt 0 ]; then
    SUDO=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=(sudo -n); fi
    fi
    if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || [ ${#SUDO[@]} -gt 0 ]; }; then
        log "installing ${PKGS[*]} (missing: ${missing[*]})"
        # Keep the packages from starting their own services (CI must start nothing).
        made_policy=0
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
            "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
            made_policy=1
        fi
        export DEBIAN_FRONTEND=noninteractive
        "${SUDO[@]}" apt-get update -q </dev/null || log "apt-get update failed"
        "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${PKGS[@]}" </dev/null \
            || log "apt-get install failed: the tests needing ${missing[*]} will fail"
        if [ "$made_policy" = 1 ]; then "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d; fi
    else
        log "missing ${missing[*]} and cannot install them (need root and apt-get):"
        log "the tests that need them will fail; install: apt-get install -y ${PKGS[*]}"
    fi
fi

# chdb (PyPI) for the tests that check the ClickHouse dialect on a current release.
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import chdb' >/dev/null 2>&1; then
    log "installing chdb for python3 (pip)"
    python3 -m pip install -q chdb==4.4.0 </dev/null 2>/dev/null \
        || python3 -m pip install -q --break-system-packages chdb==4.4.0 </dev/null \
        || log "pip install chdb failed: the tests needing it will fail (python3 -m pip install chdb)"
fi

if ! command -v cargo >/dev/null 2>&1; then
    log "cargo not found: install a Rust toolchain (https://rustup.rs)"
    exit 1
fi

# cargo-deb (crates.io) for the Debian package's test; a pinned version, built once (~4 min on 2 cores).
CARGO_DEB_VERSION=3.6.2
if [ "$(cargo deb --version 2>/dev/null | awk '{print $NF}')" != "$CARGO_DEB_VERSION" ]; then
    log "installing cargo-deb $CARGO_DEB_VERSION (cargo install)"
    cargo install -q cargo-deb --version "$CARGO_DEB_VERSION" --locked </dev/null \
        || log "cargo install cargo-deb failed: tests/deb_package.rs will fail"
fi

# --- 2. build and run everything -------------------------------------------------------------
# A CI run builds once from a clean clone: incremental compilation would only cost time there.
if [ "${CI:-}" = "true" ] && [ -z "${CARGO_INCREMENTAL:-}" ]; then export CARGO_INCREMENTAL=0; fi
out=$(mktemp -t influxgate-test.XXXXXX)
trap 'rm -f "$out"' EXIT
start=$(date +%s)

log "cargo test --all-targets --no-fail-fast $*"
cargo test --all-targets --no-fail-fast "$@" </dev/null 2>&1 | tee "$out"
status=${PIPESTATUS[0]}

if [ $# -eq 0 ]; then
    log "cargo test --doc"
    cargo test --doc --no-fail-fast </dev/null 2>&1 | tee -a "$out"
    doc_status=${PIPESTATUS[0]}
    [ "$status" -eq 0 ] && status=$doc_status
fi

# --- 3. summary ---------------------------------------------------------------------------------
elapsed=$(( $(date +%s) - start ))
awk -v secs="$elapsed" -v status="$status" '
    /^     Running / || /^   Doc-tests / { bin = ($2 == "unittests") ? $3 : $2 }
    /^test result:/ {
        for (i = 1; i <= NF; i++) {
            if ($(i+1) ~ /^passed/)  p += $i
            if ($(i+1) ~ /^failed/)  { f += $i; if ($i > 0) bad = bad "\n  " bin " (" $i " failed)" }
            if ($(i+1) ~ /^ignored/) ig += $i
        }
        n++
    }
    /^test .* \.\.\. FAILED$/ { names = names "\n    " $2 }
    END {
        print ""
        print "==================================== summary ===================================="
        if (bad != "") print "failing test binaries:" bad
        if (names != "") print "failing tests:" names
        printf "%d test binaries, %d s, cargo exit status %d; ignored tests are counted as skipped\n", n, secs, status
        printf "summary: %d passed, %d failed, %d skipped\n", p, f, ig
    }' "$out"
if [ "$status" -ne 0 ] && ! grep -q '^test result:' "$out"; then
    echo "the build failed before any test ran: see the compiler output above"
fi
exit "$status"
