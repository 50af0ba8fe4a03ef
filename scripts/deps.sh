#!/usr/bin/env bash
# Installs the Debian packages that mote's build and tests need, only when one is missing.
# Called by `make test` and `make run`; safe to run again (does nothing when all are present).
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev llvm xz-utils
  libcmocka-dev
  libssl-dev openssl libsqlite3-dev
  libbearssl-dev
  gcc-arm-none-eabi picolibc-arm-none-eabi qemu-system-arm
  gcc-xtensa-lx106 picolibc-xtensa-lx106-elf
  mosquitto mosquitto-clients python3 python3-paho-mqtt
)
# The machine image may carry its own Node.js (and npm); Debian's nodejs conflicts with it.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
