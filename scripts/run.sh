#!/usr/bin/env bash
# scripts/run.sh - what `make run` starts, after deps and the build. One place to change when the
# broker lands.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "moted: the broker is not built yet (issue 3)"
