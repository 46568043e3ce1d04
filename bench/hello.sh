#!/usr/bin/env bash
# ferry hello against a Python thread-per-client server (bench/hello_py.py).
#   1. closed loop: N clients (100, 1000, 10000) each send "ping-<n>\n" and
#      wait for "Hello, ping-<n>!\n", D seconds per server and N
#   2. memory per idle client: 10,000 idle clients on ferry; on Python at the
#      largest N it served in step 1
# Usage: bash bench/hello.sh   (from anywhere; builds bench/out/hello_load)
# Env: D (seconds per run, default 5), NS ("100 1000 10000"), IDLE_N (10000),
#      LG_THREADS (load generator threads, default 2), FERRY, PYTHON.
# Loopback only. Every client run is bounded (load generator connect bound
# -C, run D, its own alarm, and `timeout`); servers are started fresh for
# each run and killed by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
D=${D:-5}
NS=${NS:-"100 1000 10000"}
IDLE_N=${IDLE_N:-10000}
LG_THREADS=${LG_THREADS:-2}
CONNECT_S=${CONNECT_S:-60}   # bound on the connect phase of one run
PYTHON=${PYTHON:-/usr/bin/python3}
FERRY=${FERRY:-$ROOT/build/ferry}
LG=$ROOT/bench/out/hello_load

if [ -z "${SKIP_MAKE:-}" ] && [ "$FERRY" = "$ROOT/build/ferry" ]; then
  make -s >/dev/null || { echo "hello.sh: make failed" >&2; exit 1; }
fi
mkdir -p bench/out
cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -pthread -o "$LG" bench/hello_load.c

WORK=$(mktemp -d /tmp/ferry-bench-hello.XXXXXX)
SRV=""
LGP=""
cleanup() {
  [ -n "$LGP" ] && kill "$LGP" 2>/dev/null || true
  [ -n "$SRV" ] && kill -9 "$SRV" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# start_server ferry|python: sets SRV (pid) and PORT
start_server() {
  local log=$WORK/$1.srv.log
  : > "$log"
  case $1 in
    ferry)  "$FERRY" hello -p 0 -b 127.0.0.1 -q --threads 2 --max-clients 20000 > "$log" 2>&1 & ;;
    python) "$PYTHON" "$ROOT/bench/hello_py.py" 0 > "$log" 2>&1 & ;;
  esac
  SRV=$!
  PORT=""
  for _ in $(seq 100); do
    PORT=$(head -1 "$log" | sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p')
    [ -n "$PORT" ] && break
    sleep 0.05
  done
  if [ -z "$PORT" ]; then echo "hello.sh: $1 did not start:" >&2; cat "$log" >&2; exit 1; fi
}

# stop_server: SIGTERM, up to 10 s, then SIGKILL (a Python server with
# thousands of threads can take a while)
stop_server() {
  kill "$SRV" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$SRV" 2>/dev/null || true
  wait "$SRV" 2>/dev/null || true
  SRV=""
}

# get FILE KEY: value of "KEY value" in a load generator report
get() { awk -v k="$2" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "$1"; }

# mem PID: "rss_kB pss_kB vmsize_kB threads rssanon_kB"
mem() {
  local rss pss vsz thr anon
  anon=$(awk '/^RssAnon:/ {print $2}' "/proc/$1/status")
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status")
  vsz=$(awk '/^VmSize:/ {print $2}' "/proc/$1/status")
  thr=$(awk '/^Threads:/ {print $2}' "/proc/$1/status")
  pss=$(awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup")
  echo "$rss $pss $vsz $thr $anon"
}

echo "hello.sh: $(nproc) cores, $(uname -r), $("$PYTHON" --version 2>&1), D=${D}s, $(date -u '+%Y-%m-%d %H:%M UTC')" >&2

declare -A R
for n in $NS; do
  for s in ferry python; do
    start_server "$s"
    sleep 0.3
    out=$WORK/$s.$n.txt
    rc=0
    timeout -k 5 $((CONNECT_S + ${D%.*} + 60)) \
      "$LG" -c "$n" -d "$D" -t "$LG_THREADS" -C "$CONNECT_S" -P "$SRV" 127.0.0.1 "$PORT" > "$out" 2>&1 || rc=$?
    alive=yes; kill -0 "$SRV" 2>/dev/null || alive=no
    stop_server
    echo "--- $s N=$n (exit $rc, server alive after run: $alive)" >&2
    sed 's/^/    /' "$out" >&2
    if [ "$(wc -l < "$WORK/$s.srv.log")" -gt 1 ]; then
      echo "    server stderr/stdout tail:" >&2; tail -3 "$WORK/$s.srv.log" | sed 's/^/      /' >&2
    fi
    for k in clients_connected round_trips rt_per_s p50_us p99_us errors server_cpu_us_per_rt loadgen_cpu_s connect_seconds; do
      v=$(get "$out" $k); R[$s.$n.$k]=${v:--}
    done
    R[$s.$n.rc]=$rc
  done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.1f", a / b }'; }
fmt() { awk -v a="$1" 'BEGIN { if (a == "-") print "-"; else printf "%.0f", a }'; }

echo
echo "### Closed loop: ${D} s per run, load generator with ${LG_THREADS} threads"
echo
echo "| clients | ferry rt/s | ferry p50 µs | ferry p99 µs | python rt/s | python p50 µs | python p99 µs | rt/s ferry/python |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in $NS; do
  echo "| $n | $(fmt "${R[ferry.$n.rt_per_s]}") | $(fmt "${R[ferry.$n.p50_us]}") | $(fmt "${R[ferry.$n.p99_us]}") | $(fmt "${R[python.$n.rt_per_s]}") | $(fmt "${R[python.$n.p50_us]}") | $(fmt "${R[python.$n.p99_us]}") | $(ratio "${R[ferry.$n.rt_per_s]}" "${R[python.$n.rt_per_s]}") |"
done
echo
echo "| clients | connected ferry / python | errors ferry / python | connect s ferry / python | server CPU µs per rt ferry / python | load gen CPU s ferry run / python run |"
echo "|---:|---:|---:|---:|---:|---:|"
for n in $NS; do
  echo "| $n | ${R[ferry.$n.clients_connected]} / ${R[python.$n.clients_connected]} | ${R[ferry.$n.errors]} / ${R[python.$n.errors]} | ${R[ferry.$n.connect_seconds]} / ${R[python.$n.connect_seconds]} | ${R[ferry.$n.server_cpu_us_per_rt]} / ${R[python.$n.server_cpu_us_per_rt]} | ${R[ferry.$n.loadgen_cpu_s]} / ${R[python.$n.loadgen_cpu_s]} |"
done

# Largest N Python served completely (all connected, no errors).
PY_N=""
for n in $NS; do
  if [ "${R[python.$n.clients_connected]}" = "$n" ] && [ "${R[python.$n.errors]}" = "0" ]; then PY_N=$n; fi
done

# idle_mem SERVER N: hold N idle clients; prints a table row
idle_mem() {
  local s=$1 n=$2 before during after held
  start_server "$s"
  sleep 1
  before=$(mem "$SRV")
  out=$WORK/$s.idle.txt
  timeout -k 5 $((CONNECT_S + 120)) "$LG" -c "$n" -i 90 -t "$LG_THREADS" -C "$CONNECT_S" 127.0.0.1 "$PORT" > "$out" 2>&1 &
  LGP=$!
  for _ in $(seq $(((CONNECT_S + 10) * 10))); do grep -q '^held ' "$out" && break; kill -0 "$LGP" 2>/dev/null || break; sleep 0.1; done
  sleep 2 # let the server finish its side (Python: threads reach recv)
  during=$(mem "$SRV")
  kill "$LGP" 2>/dev/null || true
  wait "$LGP" 2>/dev/null || true
  LGP=""
  sleep 1
  after=$(mem "$SRV")
  stop_server
  held=$(get "$out" clients_connected)
  echo "--- idle $s N=$n" >&2; sed 's/^/    /' "$out" >&2
  echo "    before: $before  during: $during  after: $after (rss pss vmsize kB, threads, rssanon kB)" >&2
  set -- $before; local r0=$1 p0=$2 v0=$3 t0=$4 a0=$5
  set -- $during; local r1=$1 p1=$2 v1=$3 t1=$4 a1=$5
  set -- $after; local r2=$1
  awk -v s="$s" -v n="$held" -v r0="$r0" -v p0="$p0" -v v0="$v0" -v t0="$t0" -v r1="$r1" -v p1="$p1" -v v1="$v1" -v t1="$t1" -v r2="$r2" -v a0="$a0" -v a1="$a1" 'BEGIN {
    printf "| %s | %d | %d / %d | %d / %d | %.0f | %.0f | %.0f | %.1f / %.1f | %d / %d | %d |\n",
      s, n, r0, r1, p0, p1, n ? (r1 - r0) * 1024 / n : 0, n ? (p1 - p0) * 1024 / n : 0,
      n ? (a1 - a0) * 1024 / n : 0, v0 / 1024, v1 / 1024, t0, t1, r2 }'
}

echo
echo "### Memory per idle client (after Welcome!), user space only"
echo
echo "| server | clients held | RSS kB before / held | Pss kB before / held | RSS B per client | Pss B per client | RssAnon B per client | VmSize MiB before / held | threads before / held | RSS kB after they left |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
idle_mem ferry "$IDLE_N"
if [ -n "$PY_N" ]; then
  idle_mem python "$PY_N"
else
  echo "| python | (served no N completely) | | | | | | | | |"
fi
