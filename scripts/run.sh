#!/usr/bin/env bash
# scripts/run.sh - what `make run` starts after installing what is missing: moted, built
# optimised (build/release, no sanitizers), with working defaults. Without a configuration
# file moted listens on 127.0.0.1:1883 only and allows anonymous clients there.
# MOTED_CONFIG=FILE runs it with that file instead; extra arguments go to moted.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build/release
bash scripts/build-release.sh moted

args=()
if [ -n "${MOTED_CONFIG:-}" ]; then
  args+=(-c "$MOTED_CONFIG")
fi
echo "run: starting $dir/broker/moted ${args[*]} $* (Ctrl-C stops it)"
exec "$dir/broker/moted" "${args[@]}" "$@"
