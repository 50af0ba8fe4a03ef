#!/usr/bin/env bash
# scripts/build-release.sh TARGET... - builds the given targets optimised, without sanitizers,
# in build/release (what `make run` starts and `make bench` measures). Quiet unless it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build/release
mkdir -p build
if ! { cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DMOTE_BUILD_TESTS=OFF \
         -DMOTE_EMBEDDED_TESTS=OFF --log-level=WARNING &&
       cmake --build "$dir" --target "$@" -j"$(nproc)"; } >"$dir.log" 2>&1; then
  cat "$dir.log" >&2
  echo "build-release: building $* failed (log: $dir.log)" >&2
  exit 1
fi
