#!/usr/bin/env bash
# Benchmark: GET /dir/?tar, the folder archive made while it is sent.
#
# 1. Speed: the same tree (one SIZE file and SMALL files of 4 KiB) archived
#    by ferry over loopback (curl ?tar into a pipe) and by GNU tar on this
#    machine into a pipe (`tar -cf - | cat`: the local floor, no network);
#    best of RUNS each, and the ratio. Both pipe into cat, because GNU tar
#    skips reading file data when it writes straight to /dev/null.
# 2. Memory: ferry's VmRSS before and while CONC downloads are held in
#    flight (curl --limit-rate 1M), per download: the bounded page, the
#    walk's per-level buffers and the kernel's socket buffers do not show
#    in RSS except the first two.
#
# Usage: bash bench/tar.sh   (after make; prints a markdown section)
# Env: SIZE=256M SMALL=2000 RUNS=3 CONC=10
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_tools curl tar
SIZE=${SIZE:-256M}
SMALL=${SMALL:-2000}
RUNS=${RUNS:-3}
CONC=${CONC:-10}

bench_tmp tar
T="$BENCH_TMP/www/tree"
mkdir -p "$T/small"
head -c "$SIZE" /dev/urandom >"$T/big.bin"
for i in $(seq "$SMALL"); do head -c 4096 /dev/urandom >"$T/small/f$i"; done
sync

start_ferry "$BENCH_TMP/www"
URL="http://127.0.0.1:$SRV_PORT/tree/?tar"

best() { sort -n | head -1; }
t_ferry=$(for _ in $(seq "$RUNS"); do
  s=$(date +%s.%N); timeout 300 curl -s "$URL" | cat >/dev/null; e=$(date +%s.%N)
  calc "$e - $s" 3; echo; done | best)
t_tar=$(for _ in $(seq "$RUNS"); do
  s=$(date +%s.%N); timeout 300 tar -cf - -C "$BENCH_TMP/www" tree | cat >/dev/null; e=$(date +%s.%N)
  calc "$e - $s" 3; echo; done | best)
bytes=$(curl -s "$URL" | wc -c)

read -r rss0 _ <<<"$(mem_kib "$SRV_PID")"
pids=()
for _ in $(seq "$CONC"); do
  timeout 120 curl -s --limit-rate 1M "$URL" -o /dev/null &
  pids+=($!)
  BENCH_PIDS+=($!)
done
sleep 3
read -r rss1 _ <<<"$(mem_kib "$SRV_PID")"
for p in "${pids[@]}"; do stop_pid "$p"; done

mib=$(calc "$bytes / 1048576" 1)
echo "### Folder archives (?tar)"
echo
echo "Tree: one $SIZE file and $SMALL files of 4 KiB ($mib MiB of tar). Best of $RUNS."
echo
echo "| | seconds | MiB/s |"
echo "| --- | --- | --- |"
echo "| ferry \`?tar\` over loopback (curl) | $t_ferry | $(calc "$mib / $t_ferry" 0) |"
echo "| GNU tar into a pipe, no network | $t_tar | $(calc "$mib / $t_tar" 0) |"
echo
echo "ferry / GNU tar time: $(calc "$t_ferry / $t_tar" 2)x."
echo
echo "Memory: ferry VmRSS $rss0 KiB idle, $rss1 KiB with $CONC downloads in flight:" \
     "$(calc "($rss1 - $rss0) / $CONC" 0) KiB per download."
echo
echo "Machine: $(nproc) cores, Linux $(uname -r), $(tar --version | head -1), $(curl --version | head -1 | cut -d' ' -f1-2), $(date -u '+%Y-%m-%d %H:%M UTC')"
