#!/usr/bin/env bash
# examples/seed-device/test.sh - the POSIX seed device against moted over TLS, watched by
# Debian's mosquitto_sub: registration ("online", retained), 3 pings and a clean "offline"; the
# will's "offline" after kill -9; and the explained failures (an unknown CA naming the broker's
# issuer, a CA made again under the same name, nothing listening), plus a pinned key.
#   examples/seed-device/test.sh SEED_DEVICE MOTED MOTE
# Prints one ok/FAIL line per check and "N passed, N failed"; exit status 1 on any failure.
set -uo pipefail

seed=${1:?usage: test.sh SEED_DEVICE MOTED MOTE}
moted=${2:?}
mote=${3:?}
abs() { [[ $1 == /* ]] && echo "$1" || echo "$PWD/$1"; }
seed=$(abs "$seed") moted=$(abs "$moted") mote=$(abs "$mote")
for tool in openssl mosquitto_sub mosquitto_pub python3 stdbuf timeout; do
    command -v "$tool" >/dev/null || { echo "seed-device test: $tool is missing: run scripts/deps.sh"; echo "0 passed, 1 failed"; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/mote-seed-test.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work" || exit 1

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; [[ -n ${2:-} ]] && sed 's/^/     /' <<<"$2"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# wait_for FILE TEXT SECONDS: until FILE holds the line TEXT
wait_for() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -qxF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# Certificates: the broker's, a CA of another name, and a CA made again under the same name.
"$mote" certs init --dir good --host localhost >/dev/null || { echo "FAIL mote certs init"; echo "0 passed, 1 failed"; exit 1; }
"$mote" certs init --dir same --host localhost >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key \
    -out other.crt -days 30 -subj "/CN=Another CA" 2>/dev/null
openssl pkey -in good/server.key -pubout -out server.pub 2>/dev/null
issuer=$(openssl x509 -in good/ca.crt -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p')

tls_port=$(free_port)
plain_port=$(free_port)
cat >moted.conf <<EOF
listener $tls_port 127.0.0.1
certfile $work/good/server.crt
keyfile $work/good/server.key
listener $plain_port 127.0.0.1
allow_anonymous true
persistence_location $work/
EOF
"$moted" -c moted.conf >moted.log 2>&1 &
pids+=($!)
for ((i = 0; i < 50; i++)); do
    grep -q "listening on 127.0.0.1:$plain_port" moted.log && break
    sleep 0.1
done

# The watcher: every message under devices/, with its retain flag.
stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$plain_port" -t 'devices/#' -v -F '%r %t %p' >sub.log 2>&1 &
pids+=($!)
for ((i = 0; i < 50; i++)); do
    mosquitto_pub -h 127.0.0.1 -p "$plain_port" -t devices/ready -m 1
    grep -q "devices/ready" sub.log && break
    sleep 0.1
done
grep -q "devices/ready" sub.log || bad "mosquitto_sub subscribed to moted" "$(cat moted.log sub.log)"

# 1. Three pings, then a clean goodbye.
start=$SECONDS
out=$(timeout 30 "$seed" -h localhost -p "$tls_port" --cafile good/ca.crt -i seed-a -n 3 2>&1)
rc=$?
if [[ $rc == 0 ]]; then ok "seed-device -n 3 exits 0 (in $((SECONDS - start)) s)"; else bad "seed-device -n 3 exits 0 (exit $rc)" "$out"; fi
grep -qF "issued by \"$issuer\"" <<<"$out" && grep -qF "records of 512 bytes" <<<"$out" &&
    ok "it says whom it verified, and the 512-byte records" || bad "it says whom it verified" "$out"
wait_for sub.log "0 devices/seed-a/status offline" 5
expect=$'0 devices/seed-a/status online\n0 devices/seed-a/ping 1\n0 devices/seed-a/ping 2\n0 devices/seed-a/ping 3\n0 devices/seed-a/status offline'
got=$(grep "devices/seed-a/" sub.log)
if [[ $got == "$expect" ]]; then ok "mosquitto_sub saw online, ping 1..3, offline"; else bad "mosquitto_sub saw online, ping 1..3, offline" "$got"; fi

# 2. Killed: the broker publishes the will.
"$seed" -h localhost -p "$tls_port" --cafile good/ca.crt -i seed-b >seed-b.log 2>&1 &
seed_pid=$!
pids+=("$seed_pid")
if wait_for sub.log "0 devices/seed-b/status online" 10; then ok "a device without -n registers"; else bad "a device without -n registers" "$(cat seed-b.log)"; fi
got=$(timeout 5 mosquitto_sub -h 127.0.0.1 -p "$plain_port" -t devices/seed-b/status -C 1 -F '%r %p' 2>&1)
if [[ $got == "1 online" ]]; then ok "its \"online\" is retained"; else bad "its \"online\" is retained" "$got"; fi
kill -9 "$seed_pid"
wait "$seed_pid" 2>/dev/null # bash's "Killed" notice
if wait_for sub.log "0 devices/seed-b/status offline" 10; then ok "kill -9: the will says \"offline\""; else bad "kill -9: the will says \"offline\"" "$(grep seed-b sub.log)"; fi
got=$(timeout 5 mosquitto_sub -h 127.0.0.1 -p "$plain_port" -t devices/seed-b/status -C 1 -F '%r %p' 2>&1)
if [[ $got == "1 offline" ]]; then ok "the will's \"offline\" is retained"; else bad "the will's \"offline\" is retained" "$got"; fi

# 3. The wrong CA: non-zero, with lib/tls's explanation naming the broker's issuer.
out=$(timeout 30 "$seed" -h localhost -p "$tls_port" --cafile other.crt -i seed-c -n 3 2>&1)
rc=$?
if [[ $rc != 0 ]] && grep -qF "not trusted: none of the device's trust anchors signed it" <<<"$out" &&
    grep -qF "issued by \"$issuer\"" <<<"$out"; then
    ok "an unknown CA: exit $rc, explained, naming the issuer \"$issuer\""
else
    bad "an unknown CA: non-zero, explained, naming the issuer \"$issuer\" (exit $rc)" "$out"
fi
grep -q "devices/seed-c/" sub.log && bad "nothing is published without trust" "$(grep seed-c sub.log)" || ok "nothing is published without trust"

# 4. A CA made again under the same name (a new key): a wrong signature, not an unknown CA.
out=$(timeout 30 "$seed" -h localhost -p "$tls_port" --cafile same/ca.crt -i seed-d -n 1 2>&1)
rc=$?
if [[ $rc != 0 ]] && grep -qF "a signature does not verify" <<<"$out"; then ok "the same CA name with a new key: a wrong signature, explained"; else bad "the same CA name with a new key (exit $rc)" "$out"; fi

# 5. A pinned key instead of the CA.
out=$(timeout 30 "$seed" -h localhost -p "$tls_port" --pin server.pub -i seed-e -n 1 2>&1)
rc=$?
if [[ $rc == 0 ]] && grep -qF "pinned key" <<<"$out"; then ok "--pin: the broker's key alone, 1 ping"; else bad "--pin (exit $rc)" "$out"; fi

# 6. Nothing listens there.
dead_port=$(free_port)
out=$(timeout 30 "$seed" -h 127.0.0.1 -p "$dead_port" --cafile good/ca.crt -i seed-f -n 1 2>&1)
rc=$?
if [[ $rc != 0 ]] && grep -qF "tcp: connection refused" <<<"$out"; then ok "nothing listening: exit $rc, explained"; else bad "nothing listening (exit $rc)" "$out"; fi

# 7. Usage errors exit 2.
"$seed" -h localhost >/dev/null 2>&1
rc=$?
if [[ $rc == 2 ]]; then ok "no --cafile and no --pin: exit 2"; else bad "no --cafile and no --pin: exit 2 (got $rc)"; fi

echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
