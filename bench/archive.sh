#!/usr/bin/env bash
# Benchmark: GET /dir/?tar and /dir/?zip against bsdtar (libarchive), the
# stand-in for what writing the archives with libarchive would cost.
#
# The same tree (one BIG file and SMALL files of 4 KiB) archived
#   - by ferry over loopback: curl ?tar / ?zip into a pipe;
#   - by bsdtar on this machine into a pipe, no network at all: pax tar
#     (`bsdtar -cf -`) and stored zip (`bsdtar --format zip --options
#     zip:compression=store -cf -`, which writes data descriptors on a
#     pipe, as ferry does).
# Every writer pipes into `cat >/dev/null`: an archiver writing straight
# to /dev/null may skip reading the files. Best of RUNS by wall seconds,
# with the CPU seconds of all the processes (curl or bsdtar, cat, the
# server) and of the archive writer alone (ferry's server, bsdtar); then
# ferry over bsdtar for each format. ferry's wall time includes the HTTP
# and loopback costs bsdtar does not pay; the writer's CPU compares the
# archive writers themselves.
#
# Usage: bash bench/archive.sh   (after make; prints a markdown section)
# Env: BIG=1G SMALL=1000 RUNS=3
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_tools curl bsdtar
BIG=${BIG:-1G}
SMALL=${SMALL:-1000}
RUNS=${RUNS:-3}

bench_tmp archive
T="$BENCH_TMP/www/tree"
mkdir -p "$T/small"
head -c "$BIG" /dev/urandom >"$T/big.bin"
for i in $(seq "$SMALL"); do head -c 4096 /dev/urandom >"$T/small/f$i"; done
sync

start_ferry "$BENCH_TMP/www"
BASE="http://127.0.0.1:$SRV_PORT/tree/"

# One timed run of "$@" | cat: prints "wall cpu writer": cpu is the user +
# system seconds of the whole pipeline (curl or bsdtar, and cat) plus the
# server's meanwhile; writer is the server's alone for curl, bsdtar's own
# for bsdtar.
one() {
  local TIMEFORMAT='%R %U %S' t w c0 c1
  c0=$(cpu_s "$SRV_PID")
  t=$( { time ( { time timeout 300 "$@"; } 2>"$BENCH_TMP/own" | cat >/dev/null); } 2>&1 )
  c1=$(cpu_s "$SRV_PID")
  if [ "$1" = curl ]; then w=$(calc "$c1 - $c0" 2); else w=$(awk '{printf "%.2f", $2 + $3}' "$BENCH_TMP/own"); fi
  echo "$t" | awk -v c="$(calc "$c1 - $c0" 2)" -v w="$w" '{printf "%.3f %.2f %s\n", $1, $2 + $3 + c, w}'
}
best() { sort -n -k1,1 | head -1; }
run() { for _ in $(seq "$RUNS"); do one "$@"; done | best; }

read -r w_ft c_ft x_ft <<<"$(run curl -s "${BASE}?tar")"
read -r w_fz c_fz x_fz <<<"$(run curl -s "${BASE}?zip")"
read -r w_bt c_bt x_bt <<<"$(run bsdtar -cf - -C "$BENCH_TMP/www" tree)"
read -r w_bz c_bz x_bz <<<"$(run bsdtar --format zip --options zip:compression=store -cf - -C "$BENCH_TMP/www" tree)"
b_tar=$(curl -s "${BASE}?tar" | wc -c)
b_zip=$(curl -s "${BASE}?zip" | wc -c)
curl -s "${BASE}?zip" >"$BENCH_TMP/check.zip"
ok=$(unzip -tq "$BENCH_TMP/check.zip" >/dev/null 2>&1 && echo "unzip -t: no errors" || echo "unzip -t FAILED")

mib() { calc "$1 / 1048576" 1; }
rate() { calc "$1 / 1048576 / $2" 0; }
echo "### Folder archives: ferry ?tar / ?zip against bsdtar (libarchive)"
echo
echo "Tree: one $BIG file and $SMALL files of 4 KiB ($(mib "$b_tar") MiB of tar, $(mib "$b_zip") MiB of zip; $ok). Best of $RUNS; $(nproc) cores, $(bsdtar --version | head -1), $(date -u '+%Y-%m-%d %H:%M UTC')."
echo
echo "| | wall s | MiB/s | CPU s, all | CPU s, the writer |"
echo "| --- | --- | --- | --- | --- |"
echo "| ferry \`?tar\` over loopback (curl) | $w_ft | $(rate "$b_tar" "$w_ft") | $c_ft | $x_ft |"
echo "| bsdtar tar into a pipe, no network | $w_bt | $(rate "$b_tar" "$w_bt") | $c_bt | $x_bt |"
echo "| ferry \`?zip\` over loopback (curl) | $w_fz | $(rate "$b_zip" "$w_fz") | $c_fz | $x_fz |"
echo "| bsdtar zip (stored) into a pipe, no network | $w_bz | $(rate "$b_zip" "$w_bz") | $c_bz | $x_bz |"
echo
echo "ferry / bsdtar wall time: tar **$(calc "$w_ft / $w_bt" 2)x**, zip **$(calc "$w_fz / $w_bz" 2)x**; writer CPU: ferry tar $x_ft s against bsdtar $x_bt s, zip $x_fz s against $x_bz s."
