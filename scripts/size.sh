#!/usr/bin/env bash
# scripts/size.sh - cross-builds the codec and the client engine at -Os -ffreestanding for each
# device target and prints text/data/bss of the codec, of the client engine, and of both together
# (the TOTALS of `size -t` over libmote_codec.a and libmote_client.a). Trees: build/size-<target>.
# -v also prints the per-file breakdown.
#
# Then the seed device (examples/seed-device, docs/seed-device.md), built by its Makefile with
# BearSSL's sources (scripts/bearssl-cross.sh): lib/tls's size, the linked firmware part by part,
# "seed-device RAM:" (verified and pinned) and "seed-device stack:" (measured on the emulated
# Cortex-M3). Trees: build/seed-cortex-m3, build/seed-lx106; logs next to them.
#   MOTE=path   the `mote` command for the test certificates (default: built in build/size-host)
set -euo pipefail
cd "$(dirname "$0")/.."

verbose=0
[ "${1:-}" = "-v" ] && verbose=1

# name | toolchain file | size tool | shown as
targets=(
  "arm|cmake/toolchain-arm-none-eabi.cmake|arm-none-eabi-size|arm-none-eabi cortex-m3 thumb"
  "xtensa|cmake/toolchain-xtensa-lx106.cmake|xtensa-lx106-elf-size|xtensa-lx106 (esp8266)"
)

rows=()
for t in "${targets[@]}"; do
  IFS='|' read -r name toolchain sizetool label <<<"$t"
  dir=build/size-$name
  log=$dir.log
  mkdir -p build
  if ! { cmake -S . -B "$dir" -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=MinSizeRel \
           -DMOTE_EMBEDDED_TESTS=OFF &&
         cmake --build "$dir" --target mote_codec mote_client -j2; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "size: the $label build failed (log: $log)" >&2
    exit 1
  fi
  if [ "$verbose" = 1 ]; then
    echo "== $label"
    "$sizetool" -t "$dir/libmote_codec.a" "$dir/libmote_client.a"
  fi
  # TOTALS line: text data bss dec hex (TOTALS)
  for part in "codec|libmote_codec.a" "client engine|libmote_client.a" \
              "codec + client|libmote_codec.a libmote_client.a"; do
    IFS='|' read -r what libs <<<"$part"
    files=()
    for l in $libs; do files+=("$dir/$l"); done
    read -r text data bss dec _ < <("$sizetool" -t "${files[@]}" | tail -n 1)
    rows+=("$(printf '%-16s %-32s %8s %8s %8s %8s' "$what" "$label" "$text" "$data" "$bss" "$dec")")
  done
done

printf '%-49s %8s %8s %8s %8s\n' "-Os -ffreestanding" text data bss total
printf '%s\n' "${rows[@]}"

# ---------------------------------------------------------------------------------------------
# The seed device: lib/tls, the firmware, its RAM and its stack
# ---------------------------------------------------------------------------------------------
say() { printf '%s\n' "$*"; }
seed_logs=build/seed.log
: >"$seed_logs"

# The `mote` command makes the test CA and the trust anchor headers (mote certs). Without it,
# only what needs no certificate is reported (lib/tls, RAM).
mote=${MOTE:-}
if [ -z "$mote" ] && [ -x build/cli/mote ]; then
  mote=$PWD/build/cli/mote
elif [ -z "$mote" ]; then
  mote=$PWD/build/size-host/cli/mote
  if ! { cmake -S . -B build/size-host -DCMAKE_BUILD_TYPE=Release -DMOTE_BUILD_TESTS=OFF \
           -DMOTE_EMBEDDED_TESTS=OFF && cmake --build build/size-host --target mote -j2; } \
       >>"$seed_logs" 2>&1; then
    say "NOTE: the mote command (for the test certificates) did not build (see $seed_logs): the"
    say "      firmware and the stack are not reported, only what needs no certificate."
    mote=
  fi
fi
case "$mote" in /* | "") ;; *) mote=$PWD/$mote ;; esac

# BearSSL's sources; without them, BearSSL's headers still give the RAM figures and lib/tls's size.
bearssl=
if bearssl=$(bash scripts/bearssl-cross.sh 2>>"$seed_logs"); then
  br_inc=$bearssl/inc
else
  bearssl=
  say "NOTE: BearSSL's source could not be fetched ($(tail -n 1 "$seed_logs"))."
  say "      Reported below: RAM and lib/tls from BearSSL's headers; not reported: the linked"
  say "      firmware and the stack (they need BearSSL's code). Set BEARSSL_SRC=DIR to use a tree."
  br_inc=$PWD/build/bearssl-headers
  mkdir -p "$br_inc"
  if [ -f /usr/include/bearssl.h ]; then
    cp /usr/include/bearssl*.h "$br_inc"/
    [ -d /usr/include/bearssl ] && cp -r /usr/include/bearssl "$br_inc"/
  else
    say "seed-device: no BearSSL headers either (Debian: libbearssl-dev): nothing more to report"
    exit 1
  fi
fi

seed_make() { # TARGET GOALS...: the example's Makefile into build/seed-TARGET
  local target=$1
  shift
  make -C examples/seed-device -j2 TARGET="$target" OUT="$PWD/build/seed-$target" \
    MOTE="$mote" BEARSSL="$bearssl" BEARSSL_INC="$br_inc" "$@" >"build/seed-$target.log" 2>&1
}
full=
[ -n "$bearssl" ] && [ -n "$mote" ] && full=1
for target in cortex-m3 lx106; do
  g=(core)
  [ -n "$full" ] && g=(objects firmware)
  [ -n "$full" ] && [ "$target" = cortex-m3 ] && g+=(mps2)
  if ! seed_make "$target" "${g[@]}"; then
    tail -n 20 "build/seed-$target.log" >&2
    say "seed-device: the $target build failed (log: build/seed-$target.log)"
    exit 1
  fi
done

# lib/tls next to the codec and the client (objects at -Os, before linking).
sizes() { # TOOL FILES...: "text data bss" of size -t's TOTALS
  "$@" 2>/dev/null | tail -n 1 | awk '{print $1, $2, $3}'
}
for target in cortex-m3 lx106; do
  d=build/seed-$target/lib
  tool=arm-none-eabi-size label="arm-none-eabi cortex-m3 thumb"
  [ "$target" = lx106 ] && tool=xtensa-lx106-elf-size label="xtensa-lx106 (esp8266)"
  read -r t da b < <(sizes "$tool" -t "$d"/tls/*.o)
  printf '%-16s %-32s %8s %8s %8s %8s\n' "tls, no BearSSL" "$label" "$t" "$da" "$b" $((t + da + b))
done
say
say "coreMQTT's published figure: about 7 KB (MQTT 3.1.1 only, -Os, Cortex-M). codec + client"
say "above: MQTT 3.1.1 and 5.0, QoS 0/1/2 both ways, offline queue, explained errors."

# The firmware, linked with --gc-sections: what each part takes of the flash (from the .map).
map_parts() { # MAP: "codec client tls bearssl device board libc" bytes of code and constants
  awk '
    function hex(s,   i, n) {
      n = 0
      s = tolower(substr(s, 3))
      for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
      return n
    }
    /^Linker script and memory map/ { on = 1; next }
    !on { next }
    /^ [.][^ ]+$/ { pending = $1; next }
    {
      if (pending != "" && $1 ~ /^0x/ && NF >= 3) { sec = pending; size = $2; file = $3 }
      else if ($1 ~ /^[.]/ && $2 ~ /^0x/ && $3 ~ /^0x/ && NF >= 4) { sec = $1; size = $3; file = $4 }
      else { pending = ""; next }
      pending = ""
      if (sec !~ /^[.](text|rodata|literal|data|init|sdata|srodata)/) next
      n = hex(size)
      if (file ~ /libmote[.]a[(](error|utf8|topic|props|frame|decode|encode)[.]o[)]/) part["codec"] += n
      else if (file ~ /libmote[.]a[(]client[.]o[)]/) part["client"] += n
      else if (file ~ /libmote[.]a[(](tls|x509scan|certs|explain)[.]o[)]/) part["tls"] += n
      else if (file ~ /libbearssl[.]a/) part["bearssl"] += n
      else if (file ~ /device[.]o$/) part["device"] += n
      else if (file ~ /main_bare(_pinned)?[.]o$/) part["board"] += n
      else part["libc"] += n
    }
    END { printf "%d %d %d %d %d %d %d\n", part["codec"], part["client"], part["tls"],
          part["bearssl"], part["device"], part["board"], part["libc"] }' "$1"
}
if [ -n "$full" ]; then
  say
  say "seed-device firmware, -Os, linked with --gc-sections (only what it calls), bytes of flash:"
  printf '  %-34s %10s %10s %10s %10s\n' "" "Cortex-M3" "pinned" "ESP8266" "pinned"
  read -r -a arm < <(map_parts build/seed-cortex-m3/seed-device.map)
  read -r -a armp < <(map_parts build/seed-cortex-m3/seed-device-pinned.map)
  read -r -a lx < <(map_parts build/seed-lx106/seed-device.map)
  read -r -a lxp < <(map_parts build/seed-lx106/seed-device-pinned.map)
  names=("lib/codec" "lib/client" "lib/tls" "BearSSL 0.6 (Debian's source)" "device.c" \
         "main_bare.c (board stub, anchors)" "libc, libgcc, start-up")
  ta=0 tap=0 tl=0 tlp=0
  for i in 0 1 2 3 4 5 6; do
    printf '  %-34s %10s %10s %10s %10s\n' "${names[$i]}" "${arm[$i]}" "${armp[$i]}" "${lx[$i]}" "${lxp[$i]}"
    ta=$((ta + arm[i])) tap=$((tap + armp[i])) tl=$((tl + lx[i])) tlp=$((tlp + lxp[i]))
  done
  printf '  %-34s %10s %10s %10s %10s\n' "total" "$ta" "$tap" "$tl" "$tlp"
fi

# RAM: the static objects of device.o, with the sizes each target's compiler gives them.
sym() { # NM OBJECT NAME: the size of NAME in OBJECT (decimal)
  local v
  v=$("$1" -S "$2" | awk -v n="$3" '$4 == n { print $2; exit }')
  echo $((16#${v:-0}))
}
verdict() { [ "$1" -le "$2" ] && echo "met" || echo "NOT met"; }
ram_report() { # TARGET: sets session, parts, st, pinned_note for build/seed-TARGET
  local nm=arm-none-eabi-nm d=build/seed-$1
  [ "$1" = lx106 ] && nm=xtensa-lx106-elf-nm
  local tls iobuf client rx tx store slots slot minimal known union align slim
  tls=$(sym $nm $d/device.o tls) iobuf=$(sym $nm $d/device.o iobuf)
  client=$(sym $nm $d/device.o client) rx=$(sym $nm $d/device.o rx) tx=$(sym $nm $d/device.o tx)
  store=$(sym $nm $d/device.o store) slots=$(sym $nm $d/device.o slots)
  st=$(sym $nm $d/device.o st) slot=$(sym $nm $d/size_probe.o probe_mote_inflight)
  minimal=$(sym $nm $d/size_probe.o probe_x509_minimal_context)
  known=$(sym $nm $d/size_probe.o probe_x509_knownkey_context)
  union=$(sym $nm $d/size_probe.o probe_x509_union)
  align=$(sym $nm $d/size_probe.o probe_align_mote_tls)
  session=$((tls + iobuf + client + rx + tx + store + slots))
  parts="struct mote_tls $tls + TLS record buffer $iobuf + struct mote_client $client + rx $rx + tx $tx + store $store + slots $((slots / slot)) x $slot"
  # Built with MOTE_TLS_PIN_ONLY, struct mote_tls has only the pinned-key checker in its union:
  # its size is the same layout less the validator (4128 on Cortex-M3, as a build with the
  # define gives; tests/tls/test_pin_only.c runs that build).
  slim=$(((tls - union + known + align - 1) / align * align))
  pinned_slim=$((session - tls + slim))
  pinned_note="with MOTE_TLS_PIN_ONLY (lib/tls and the device compiled with it): struct mote_tls $slim instead of $tls, BearSSL's chain validator ($minimal bytes) left out; without the define a pinned device still reserves it ($session bytes)"
}
ram_report cortex-m3
arm_ram=$session arm_line="$parts" arm_note="$pinned_note" arm_st=$st
ram_report lx106
if [ "$arm_ram $arm_line $arm_note" = "$session $parts $pinned_note" ]; then
  where="Cortex-M3 and ESP8266 alike"
else
  where="Cortex-M3 (ESP8266: $session, $parts)"
fi
say
say "seed-device RAM: $arm_ram bytes, verified TLS (CA, full chain) + MQTT at 512-byte records, $where (target <= 9728: $(verdict "$arm_ram" 9728))"
say "  $arm_line; the device's own state (topics, counters): $arm_st more"
say "seed-device RAM (pinned key): $pinned_slim bytes, $where (target <= 6144: $(verdict "$pinned_slim" 6144))"
say "  $arm_note"

# Stack: the device on its own painted stack, on the emulated Cortex-M3, against an in-memory broker.
if [ -n "$full" ]; then
  qlog=build/seed-cortex-m3/mps2.log
  if timeout 300 qemu-system-arm -M mps2-an385 -nographic -monitor none -serial null \
       -semihosting-config enable=on,target=native \
       -kernel build/seed-cortex-m3/seed-device-mps2.elf >"$qlog" 2>&1; then
    qrc=0
  else
    qrc=$?
  fi
  stack() { awk -v n="$1" '$1 == "stack" && $2 == n { print $3 " " $4 }' "$qlog"; }
  read -r sv okv < <(stack verified || true)
  read -r sp okp < <(stack pinned || true)
  read -r su oku < <(stack untrusted || true)
  if [ "$qrc" = 0 ] && [ "${okv:-} ${okp:-} ${oku:-}" = "ok ok ok" ]; then
    say "seed-device stack: $sv bytes peak, Cortex-M3 (qemu mps2-an385, -Os): verified handshake (ECDSA P-256 chain) + CONNECT, online, 3 pings, offline, DISCONNECT (target <= 6144: $([ "$sv" -le 6144 ] && echo met || echo "NOT met"))"
    say "  pinned key: $sp; unknown CA, explained: $su (broker on its own stack; log: $qlog)"
  else
    say "seed-device stack: not measured: the emulated run failed (exit $qrc; log: $qlog)"
    tail -n 15 "$qlog"
    exit 1
  fi
else
  say "seed-device stack: not measured (needs BearSSL's source and the mote command, see the NOTE above)"
fi
