#!/usr/bin/env bash
# Analysis, not a speed benchmark: system calls per request for ferry serve
# and nginx, counted with `strace -c -f` attached to the running servers
# (ferry: every thread; nginx: its workers).
#
#   a. keep-alive 1 KiB requests: wrk -t1 -c20 -d3s (strace slows the
#      server a lot, so only the counts per request mean anything)
#   b. one 1 GiB download with bench/sink
#
# Usage: bash bench/syscalls.sh   (after make; needs strace; prints markdown)
# Env: SIZE=1G
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_tools "$NGINX" "$WRK" "$CC" strace
SIZE=${SIZE:-1G}

bench_tmp syscalls
SINK=$(build_tool sink)
mkdir -p "$BENCH_TMP/www"
chmod 755 "$BENCH_TMP/www"
head -c 1024 /dev/urandom >"$BENCH_TMP/www/1k.bin"
head -c "$SIZE" /dev/urandom >"$BENCH_TMP/www/big.bin"
chmod 644 "$BENCH_TMP/www/"*
cat "$BENCH_TMP/www/big.bin" >/dev/null

declare -A PORT PID
start_ferry "$BENCH_TMP/www"; PORT[ferry]=$SRV_PORT; PID[ferry]=$SRV_PID
start_nginx "$BENCH_TMP/www" 120s; PORT[nginx]=$SRV_PORT; PID[nginx]=$SRV_PID

# The PIDs/TIDs to trace: ferry's threads, nginx's workers.
targets() {
  case $1 in
    ferry) ls "/proc/${PID[ferry]}/task";;
    nginx) ps -o pid= --ppid "${PID[nginx]}" | tr -d ' ';;
  esac
}

# traced NAME OUTFILE CMD...: runs CMD with NAME's server under strace -c.
traced() {
  local name=$1 outf=$2 args=() t spid; shift 2
  for t in $(targets "$name"); do args+=(-p "$t"); done
  strace -c -f -o "$outf" "${args[@]}" 2>/dev/null &
  spid=$!
  sleep 1 # attached
  "$@" || true
  kill -INT "$spid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
}

# strace -c's table to "syscall calls" lines
calls() { awk '$1 ~ /^[0-9.]+$/ && $NF != "total" { print $NF, $4 }' "$1"; }

declare -A REQS
for n in ferry nginx; do
  traced "$n" "$BENCH_TMP/$n.rps.strace" \
    bash -c "timeout 30 '$WRK' -t1 -c20 -d3s 'http://127.0.0.1:${PORT[$n]}/1k.bin' > '$BENCH_TMP/$n.wrk'"
  REQS[$n]=$(awk '/requests in/ {print $1}' "$BENCH_TMP/$n.wrk")
  log "syscalls: $n served ${REQS[$n]} requests under strace"
  traced "$n" "$BENCH_TMP/$n.big.strace" \
    bash -c "timeout 120 '$SINK' 127.0.0.1 ${PORT[$n]} /big.bin > /dev/null"
done

table() {
  local kind=$1 div_f=$2 div_n=$3 digits=$4
  calls "$BENCH_TMP/ferry.$kind.strace" | sort >"$BENCH_TMP/f.$kind"
  calls "$BENCH_TMP/nginx.$kind.strace" | sort >"$BENCH_TMP/n.$kind"
  join -a1 -a2 -e 0 -o 0,1.2,2.2 "$BENCH_TMP/f.$kind" "$BENCH_TMP/n.$kind" |
    awk -v df="$div_f" -v dn="$div_n" -v d="$digits" '
      { f = $2 / df; n = $3 / dn; tf += f; tn += n
        if (f >= 0.005 || n >= 0.005) printf "%f\t| %s | %." d "f | %." d "f |\n", f + n, $1, f, n }
      END { printf "-1\t| **total** | **%." d "f** | **%." d "f** |\n", tf, tn }' |
    sort -t$'\t' -k1,1gr | cut -f2
}

echo "### System calls (bench/syscalls.sh, strace -c -f on the server)"
echo
echo "a. Per keep-alive request for a 1 KiB file (wrk -t1 -c20 -d3s; ferry ${REQS[ferry]} requests, nginx ${REQS[nginx]}):"
echo
echo "| syscall | ferry per request | nginx per request |"
echo "| --- | --- | --- |"
table rps "${REQS[ferry]}" "${REQS[nginx]}" 2
echo
echo "b. One $SIZE download (calls for the whole download):"
echo
echo "| syscall | ferry | nginx |"
echo "| --- | --- | --- |"
table big 1 1 0
echo
echo "(Counts include each server's own timers and epoll waits over the run; $(machine_line))"
