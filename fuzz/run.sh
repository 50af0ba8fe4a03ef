#!/usr/bin/env bash
# fuzz/run.sh - builds the libFuzzer harnesses with clang into build/libfuzzer and runs each one for
# FUZZ_SECONDS, then prints per harness: executions, coverage, corpus size, crash or not.
# Exits non-zero when any harness crashed. See fuzz/README.md.
#
#   FUZZ_SECONDS=60        time per harness
#   FUZZ_JOBS=2            harnesses run at once (one libFuzzer process each)
#   FUZZ_HARNESSES="frame decode topic broker tls_record"
#   FUZZ_MERGE=1           afterwards, merge inputs that add coverage into fuzz/corpus/<name>
#   FUZZ_ARGS="..."        extra libFuzzer flags, e.g. "-use_value_profile=1"
#   FUZZ_CFLAGS="..."      extra compiler flags, e.g. "-fno-sanitize=nonnull-attribute"
#   FUZZ_OUT=build/libfuzzer  where builds, logs, new inputs and crashes go
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-2}
harnesses=${FUZZ_HARNESSES:-frame decode topic broker tls_record}
merge=${FUZZ_MERGE:-0}
out=${FUZZ_OUT:-build/libfuzzer}
cc=${FUZZ_CC:-clang}

if ! command -v "$cc" >/dev/null; then
    echo "fuzz: $cc not found: run scripts/deps.sh (clang, libclang-rt-14-dev)" >&2
    exit 1
fi
mkdir -p "$out"

# --- build ----------------------------------------------------------------------------------------
# The codec's sources come from lib/mote_files.mk, the list firmware projects use too.
codec_sources=$(printf 'include lib/mote_files.mk\nall:\n\t@echo $(MOTE_CODEC_SOURCES)\n' | make -s -f -)
# shellcheck disable=SC2206 # FUZZ_CFLAGS splits into words
common=(-std=c11 -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror -Iinclude -Ilib/codec
        -fno-sanitize-recover=all ${FUZZ_CFLAGS:-})
objs=()
for src in $codec_sources; do
    obj=$out/obj/$(basename "${src%.c}").o
    mkdir -p "$out/obj"
    # Coverage instrumentation for the library, libFuzzer's main only in the harness.
    "$cc" "${common[@]}" -fsanitize=fuzzer-no-link,address,undefined -c "$src" -o "$obj"
    objs+=("$obj")
done
# The broker harness also links moted's parts: broker/*.c but main.c, in GNU C as CMake builds them.
broker_objs=()
if [[ " $harnesses " == *" broker "* || " $harnesses " == *" tls_record "* ]]; then
    mkdir -p "$out/obj/broker"
    for src in broker/*.c; do
        [ "$src" = broker/main.c ] && continue
        obj=$out/obj/broker/$(basename "${src%.c}").o
        "$cc" "${common[@]}" -std=gnu11 -Ibroker -fsanitize=fuzzer-no-link,address,undefined \
            -c "$src" -o "$obj"
        broker_objs+=("$obj")
    done
fi
# moted links OpenSSL (broker/tls.c) and SQLite (broker/store.c).
broker_libs=(-pthread)
if grep -qs '#include <openssl/' broker/*.c; then
    read -ra ssl <<<"$(pkg-config --libs openssl 2>/dev/null || echo -lssl -lcrypto)"
    broker_libs+=("${ssl[@]}")
fi
if grep -qs '#include <sqlite3.h>' broker/*.c; then
    broker_libs+=(-lsqlite3)
fi
for name in $harnesses; do
    extra=()
    [ "$name" = broker ] || [ "$name" = tls_record ] &&
        extra=(-Ibroker "${broker_objs[@]}" "${broker_libs[@]}")
    "$cc" "${common[@]}" -fsanitize=fuzzer,address,undefined "fuzz/fuzz_$name.c" "${objs[@]}" \
        "${extra[@]}" -o "$out/fuzz_$name"
done
echo "fuzz: built $(for n in $harnesses; do printf '%s ' "$out/fuzz_$n"; done)"

# --- run ------------------------------------------------------------------------------------------
# New inputs go to build/libfuzzer/corpus-<name> (the first corpus directory is the only one libFuzzer
# writes to); fuzz/corpus/<name> is read only, unless FUZZ_MERGE=1.
run_one() {
    local name=$1
    local scratch=$out/corpus-$name artifacts=$out/artifacts-$name/
    mkdir -p "$scratch" "$artifacts"
    local dict=()
    [ -f "fuzz/$name.dict" ] && dict=("-dict=fuzz/$name.dict")
    local start=$SECONDS rc=0
    # shellcheck disable=SC2086
    "$out/fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
        -print_final_stats=1 -artifact_prefix="$artifacts" "${dict[@]}" ${FUZZ_ARGS:-} \
        "$scratch" "fuzz/corpus/$name" >"$out/$name.log" 2>&1 || rc=$?
    echo "$rc $((SECONDS - start))" >"$out/$name.status"
}

running=0
for name in $harnesses; do
    echo "fuzz: $name for ${seconds}s (log: $out/$name.log)"
    run_one "$name" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait || true

# --- report ---------------------------------------------------------------------------------------
crashed=0
printf '\n%-8s %12s %9s %7s %7s %8s %6s  %s\n' harness execs exec/s cov ft corpus time result
for name in $harnesses; do
    log=$out/$name.log
    read -r rc took <"$out/$name.status"
    final_stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9A-Za-z]*\).*/\1/p' <<<"$last")
    if [ "$rc" -eq 0 ]; then
        result="no crash"
    else
        crashed=1
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        result="CRASH (exit $rc) ${artifact:-see $log}"
    fi
    printf '%-8s %12s %9s %7s %7s %8s %5ss  %s\n' "$name" "$(final_stat number_of_executed_units)" \
        "$(final_stat average_exec_per_sec)" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$took" "$result"
done

if [ "$crashed" -ne 0 ]; then
    echo
    for name in $harnesses; do
        read -r rc _ <"$out/$name.status"
        [ "$rc" -eq 0 ] && continue
        echo "--- $name: first report in $out/$name.log"
        grep -m1 -A12 -E '^fuzz: |ERROR: |runtime error|deadly signal' "$out/$name.log" || true
        echo "reproduce: $out/fuzz_$name <artifact>   or build/fuzz/replay_$name <artifact> (gcc, no libFuzzer)"
    done
fi

if [ "$merge" = 1 ]; then
    for name in $harnesses; do
        "$out/fuzz_$name" -merge=1 "fuzz/corpus/$name" "$out/corpus-$name" >"$out/$name.merge.log" 2>&1
        echo "fuzz: merged into fuzz/corpus/$name: $(grep -o 'MERGE-OUTER: [0-9]* new files' "$out/$name.merge.log" || echo '?')"
    done
fi
exit "$crashed"
