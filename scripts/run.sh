#!/usr/bin/env bash
# scripts/run.sh - what `make run` starts after installing what is missing: the system a Pi owner
# wants, built optimised (build/release). On the first run it creates, in the data folder
# (MOTE_DATA, default ./mote-data, kept between runs):
#   certs/    a CA and the broker's certificate (mote certs init: ECDSA P-256)
#   mote_ca.h the CA as a C header a device compiles in (mote certs embed)
#   passwd    a password file with user "device" and a generated password (device.password)
#   moted.conf
#   moted.db  the store: sessions, queued and retained messages (SQLite, docs/persistence.md)
# then starts moted with plain MQTT on 127.0.0.1:1883 (anonymous, this machine only), TLS with a
# password on 8883 and mutual TLS (a client certificate: mote certs device NAME) on 8884.
# MOTED_CONFIG=FILE runs moted with that file instead; extra arguments go to moted.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/build-release.sh moted mote
moted=build/release/broker/moted
mote=build/release/cli/mote

if [ -n "${MOTED_CONFIG:-}" ]; then
  echo "run: starting $moted -c $MOTED_CONFIG $* (Ctrl-C stops it)"
  exec "$moted" -c "$MOTED_CONFIG" "$@"
fi

data=${MOTE_DATA:-mote-data}
mkdir -p "$data"
data=$(cd "$data" && pwd)

if [ ! -f "$data/certs/ca.crt" ]; then
  hosts=(--host "$(hostname)" --host localhost)
  ips=(--ip 127.0.0.1 --ip ::1)
  for ip in $(hostname -I 2>/dev/null || true); do
    ips+=(--ip "$ip")
  done
  "$mote" certs init --dir "$data/certs" "${hosts[@]}" "${ips[@]}"
fi
if [ ! -f "$data/mote_ca.h" ]; then
  "$mote" certs embed --dir "$data/certs" -o "$data/mote_ca.h" >/dev/null
fi
if [ ! -f "$data/passwd" ]; then
  umask 077
  head -c 12 /dev/urandom | base64 | tr -d '/+=' >"$data/device.password"
  "$mote" passwd -c -b "$data/passwd" device "$(cat "$data/device.password")"
fi
cat >"$data/moted.conf" <<CONF
# Written by make run (scripts/run.sh) at every start; edit scripts/run.sh, or run moted
# yourself with a copy: build/release/broker/moted -c FILE
per_listener_settings true

# Plain MQTT for this machine only.
listener 1883 127.0.0.1
allow_anonymous true

# TLS with a user name and password (user "device", password in device.password).
listener 8883
certfile $data/certs/server.crt
keyfile $data/certs/server.key
allow_anonymous false

# Mutual TLS: a client certificate from this CA (mote certs device NAME --dir $data/certs).
listener 8884
certfile $data/certs/server.crt
keyfile $data/certs/server.key
cafile $data/certs/ca.crt
require_certificate true
use_identity_as_username true
allow_anonymous false

password_file $data/passwd

# Sessions, queued messages and retained messages survive restarts and crashes
# (docs/persistence.md): every acknowledged message is on disk before its acknowledgement.
persistence true
persistence_location $data/
CONF

fingerprint=$(openssl x509 -noout -fingerprint -sha256 -in "$data/certs/ca.crt" | cut -d= -f2)
cat <<INFO
run: mote is ready
  CA certificate     $data/certs/ca.crt
  CA SHA-256         $fingerprint
  device header      $data/mote_ca.h   (trust anchor + server key pin, for BearSSL)
  plain MQTT         127.0.0.1:1883    (anonymous, this machine only)
  TLS + password     port 8883         user "device", password in $data/device.password
  mutual TLS         port 8884         $mote certs device NAME --dir $data/certs
  try it             mosquitto_sub -h localhost -p 8883 --cafile $data/certs/ca.crt \\
                       -u device -P "\$(cat $data/device.password)" -t '#' -v
INFO
echo "run: starting $moted -c $data/moted.conf $* (Ctrl-C stops it)"
exec "$moted" -c "$data/moted.conf" "$@"
