#!/usr/bin/env bash
# scripts/bearssl-cross.sh - BearSSL's source for the cross builds of `make size`: Debian packages
# BearSSL for the host only, so the device targets compile its sources (Debian's source package,
# `apt-get source bearssl`, into build/bearssl/; never committed). When the machine has no deb-src
# entries, a temporary sources list in build/bearssl/apt/ turns its own deb entries into deb-src
# ones; the system's apt configuration is not touched.
#   scripts/bearssl-cross.sh     prints the source tree's directory (it holds inc/ and src/)
#   BEARSSL_SRC=DIR              use that tree instead (e.g. one downloaded by hand)
# Exit status 1, with the reason on stderr, when it cannot be had.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
  echo "bearssl-cross: $*" >&2
  exit 1
}
is_tree() { [ -f "$1/inc/bearssl.h" ] && [ -f "$1/src/ssl/ssl_engine.c" ]; }

if [ -n "${BEARSSL_SRC:-}" ]; then
  is_tree "$BEARSSL_SRC" || fail "BEARSSL_SRC=$BEARSSL_SRC is not a BearSSL source tree (no inc/bearssl.h, src/ssl/ssl_engine.c)"
  (cd "$BEARSSL_SRC" && pwd)
  exit 0
fi

out=$PWD/build/bearssl
for d in "$out"/bearssl-*/; do
  if is_tree "$d"; then
    (cd "$d" && pwd)
    exit 0
  fi
done

command -v apt-get >/dev/null || fail "apt-get is missing: not a Debian system; set BEARSSL_SRC to a BearSSL 0.6 source tree"
command -v tar >/dev/null || fail "tar is missing"
command -v xz >/dev/null || fail "xz is missing (Debian's source tarballs are .tar.xz): apt-get install xz-utils"

apt=$out/apt
rm -rf "$apt"
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/parts"
: >"$apt/sources.list"
# One-line format: every "deb" line again as "deb-src" (deb-src lines as they are).
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [ -f "$f" ] || continue
  sed -n -e 's/^[[:space:]]*deb-src[[:space:]]/deb-src /p' -e 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >>"$apt/sources.list"
done
# deb822 format: the same entries with "Types: deb-src".
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  sed 's/^Types:.*/Types: deb-src/' "$f" >"$apt/parts/$(basename "$f")"
done
[ -s "$apt/sources.list" ] || [ -n "$(ls -A "$apt/parts")" ] ||
  fail "this machine has no apt sources to derive deb-src entries from; set BEARSSL_SRC"

opts=(-q -o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/parts"
      -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "Debug::NoLocking=1")
[ "$(id -u)" = 0 ] && opts+=(-o "APT::Sandbox::User=root") # build/ may be closed to _apt

log=$out/fetch.log
echo "bearssl-cross: fetching Debian's source package of BearSSL into build/bearssl/ (log: build/bearssl/fetch.log)" >&2
# An unreachable third-party entry must not stop the others: the result is judged by `source`.
timeout 600 apt-get "${opts[@]}" update >"$log" 2>&1 || true
if ! (cd "$out" && timeout 600 apt-get "${opts[@]}" source --download-only bearssl >>"$log" 2>&1); then
  tail -n 5 "$log" >&2
  fail "apt-get source bearssl failed (no network, or no Debian source archive reachable); see $log. Set BEARSSL_SRC to a BearSSL 0.6 source tree to go on without it"
fi
# Unpack the upstream tarball ourselves: no dpkg-dev needed, and Debian's package has no patches
# to BearSSL's sources (its debian/ holds the packaging only).
tarball=$(ls "$out"/bearssl_*.orig.tar.* 2>/dev/null | head -n 1)
[ -n "$tarball" ] || fail "apt-get source left no bearssl_*.orig.tar.* in $out"
tar -xf "$tarball" -C "$out"
for d in "$out"/bearssl-*/; do
  if is_tree "$d"; then
    (cd "$d" && pwd)
    exit 0
  fi
done
fail "$tarball did not unpack into a BearSSL source tree"
