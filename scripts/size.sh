#!/usr/bin/env bash
# scripts/size.sh - cross-builds the codec and the client engine at -Os -ffreestanding for each
# device target and prints text/data/bss of the codec, of the client engine, and of both together
# (the TOTALS of `size -t` over libmote_codec.a and libmote_client.a). Trees: build/size-<target>.
# -v also prints the per-file breakdown.
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
