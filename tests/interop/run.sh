#!/usr/bin/env bash
# Interop tests: real third-party MQTT clients against moted (or, as a check of the tests
# themselves, Debian's mosquitto). Three groups run side by side, each test on its own broker:
#   cli     mosquitto_pub / mosquitto_sub 2.0.11     (clients_test.py)
#   paho    python3-paho-mqtt 1.6.1                  (paho_test.py, Debian's /usr/bin/python3)
#   mqttjs  MQTT.js, pinned in package-lock.json     (mqttjs_test.mjs, /usr/bin/node)
#
#   tests/interop/run.sh [-k NAME]...      only tests whose name contains NAME
#   MOTED=path      the broker to test (default build/broker/moted)
#   BROKER=mosquitto  run against /usr/sbin/mosquitto instead
#   INTEROP_JOBS=N  tests at once per group (default 4)
#
# Prints one PASS/FAIL/SKIP line per test, then "N passed, N failed" (", N skipped" when tests
# marked as known mosquitto differences failed against mosquitto). Exit status 1 on any failure.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python=/usr/bin/python3 # Debian's: python3-paho-mqtt is installed for it, not for a pyenv one
node=/usr/bin/node
group_timeout=150

export MOTED="${MOTED:-$root/build/broker/moted}"
case "$MOTED" in /*) ;; *) MOTED="$PWD/$MOTED" ;; esac
export BROKER="${BROKER:-moted}"
export PYTHONDONTWRITEBYTECODE=1

problems=()
if [ "$BROKER" = mosquitto ]; then
  [ -x "${MOSQUITTO:-/usr/sbin/mosquitto}" ] || problems+=("no ${MOSQUITTO:-/usr/sbin/mosquitto}: apt-get install mosquitto")
  echo "interop: broker ${MOSQUITTO:-/usr/sbin/mosquitto}"
else
  [ -x "$MOTED" ] || problems+=("no broker at $MOTED: build it with make, or set MOTED=path")
  echo "interop: broker $MOTED"
fi
command -v mosquitto_sub >/dev/null && command -v mosquitto_pub >/dev/null ||
  problems+=("mosquitto_pub/mosquitto_sub missing: apt-get install mosquitto-clients (scripts/deps.sh)")
command -v stdbuf >/dev/null || problems+=("stdbuf missing (coreutils)")
command -v setpriv >/dev/null || problems+=("setpriv missing (util-linux)")
"$python" -c 'import paho.mqtt' 2>/dev/null ||
  problems+=("$python cannot import paho.mqtt: apt-get install python3-paho-mqtt (scripts/deps.sh)")
[ -x "$node" ] || problems+=("no $node: Node.js 18 or later is needed for MQTT.js")

# MQTT.js: install exactly what package-lock.json names, again whenever the lock changes.
if [ -x "$node" ] && { [ ! -f "$here/node_modules/.package-lock.json" ] ||
  [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; }; then
  echo "interop: npm ci (MQTT.js from package-lock.json)"
  if ! (cd "$here" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >"$here/.npm-ci.log" 2>&1); then
    problems+=("npm ci failed in tests/interop (see below); the npm registry must be reachable")
    sed 's/^/    /' "$here/.npm-ci.log" | tail -20
  fi
  rm -f "$here/.npm-ci.log"
fi

if [ ${#problems[@]} -gt 0 ]; then
  for p in "${problems[@]}"; do echo "FAIL interop setup: $p"; done
  echo "0 passed, ${#problems[@]} failed"
  exit 1
fi

out="$(mktemp -d "${TMPDIR:-/tmp}/mote-interop-run.XXXXXX")"
trap 'rm -rf "$out"' EXIT
# Test a copy: a rebuild of build/ during the run must not swap the binary under the tests.
if [ "$BROKER" != mosquitto ]; then
  cp "$MOTED" "$out/moted" && MOTED="$out/moted"
fi

run_group() { # name command...: output to $out/name.log, exit status to $out/name.rc
  local name="$1"
  shift
  (cd "$here" && timeout -k 5 "$group_timeout" "$@" >"$out/$name.log" 2>&1)
  echo $? >"$out/$name.rc"
}

start=$SECONDS
run_group cli "$python" clients_test.py "$@" &
run_group paho "$python" paho_test.py "$@" &
run_group mqttjs "$node" mqttjs_test.mjs "$@" &
wait

passed=0 failed=0 skipped=0
for g in cli paho mqttjs; do
  rc="$(cat "$out/$g.rc" 2>/dev/null || echo 1)"
  # Everything but the group's own summary line ("cli: N passed, N failed").
  grep -v -E "^$g: [0-9]+ passed, [0-9]+ failed" "$out/$g.log"
  p=$(grep -c '^PASS ' "$out/$g.log")
  f=$(grep -c '^FAIL ' "$out/$g.log")
  s=$(grep -c '^SKIP ' "$out/$g.log")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    if [ "$rc" -eq 124 ]; then
      echo "FAIL $g: the group did not finish within ${group_timeout}s"
    else
      echo "FAIL $g: exited with status $rc without naming a failed test"
    fi
    f=$((f + 1))
  fi
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done

echo "interop: $BROKER, $((SECONDS - start))s"
if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
