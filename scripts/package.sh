#!/usr/bin/env bash
# Builds the Debian package: target/debian/influxgate_<version>_<arch>.deb.
#
# The package's /etc/influxgate/config.toml is the shipped config.toml with data_dir set to
# /var/lib/influxgate (written to target/package/config.toml here, so the two never drift).
# Needs cargo-deb (`cargo install cargo-deb --version 3.6.2 --locked`; scripts/test.sh installs it).
# Extra arguments go to `cargo deb`, e.g. `--no-build --profile dev --fast` to package a debug
# build already made (as tests/deb_package.rs does).
set -euo pipefail
cd "$(dirname "$0")/.."

mkdir -p target/package
sed 's|^data_dir = .*|data_dir = "/var/lib/influxgate"|' config.toml > target/package/config.toml.new
grep -q '^data_dir = "/var/lib/influxgate"$' target/package/config.toml.new \
    || { echo "package.sh: config.toml has no top-level data_dir line to set" >&2; exit 1; }
mv target/package/config.toml.new target/package/config.toml

if ! cargo deb --version >/dev/null 2>&1; then
    echo "package.sh: cargo-deb is missing: cargo install cargo-deb --version 3.6.2 --locked" >&2
    exit 1
fi
exec cargo deb "$@"
