#!/usr/bin/env bash
# Benchmark 2: requests per second for a 1 KiB file with keep-alive.
#
#   wrk -t2 -c100 -d10s http://127.0.0.1:PORT/1k.bin
#
# against ferry serve (-q --threads 2), nginx (worker_processes 2, access_log
# off) and python http.server (5 s; it speaks HTTP/1.0 and closes every
# connection, so wrk reconnects for each request). ferry and nginx take
# turns twice: ferry, nginx, ferry, nginx. wrk and the server share the 2
# cores, the same for every server.
#
# Usage: bash bench/rps.sh   (after make; prints a markdown section)
# Env: DURATION=10 (seconds), PY_DURATION=5, ROUNDS=2, CONNS=100
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_tools "$NGINX" "$WRK" "$PY" curl
DURATION=${DURATION:-10}
PY_DURATION=${PY_DURATION:-5}
ROUNDS=${ROUNDS:-2}
CONNS=${CONNS:-100}

bench_tmp rps
mkdir -p "$BENCH_TMP/www"
chmod 755 "$BENCH_TMP/www"
head -c 1024 /dev/urandom >"$BENCH_TMP/www/1k.bin"
chmod 644 "$BENCH_TMP/www/1k.bin"

declare -A PORT PID RPS ERR CPU
start_ferry "$BENCH_TMP/www"; PORT[ferry]=$SRV_PORT; PID[ferry]=$SRV_PID
start_nginx "$BENCH_TMP/www" 120s; PORT[nginx]=$SRV_PORT; PID[nginx]=$SRV_PID
start_python "$BENCH_TMP/www"; PORT[python]=$SRV_PORT; PID[python]=$SRV_PID

# Every server must answer 200 with the 1 KiB body before we measure.
for n in ferry nginx python; do
  got=$(timeout 10 curl -s -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:${PORT[$n]}/1k.bin" || true)
  [ "$got" = "200 1024" ] || die "$n: GET /1k.bin gave '$got'"
done

# run_wrk NAME SECONDS: sets RPS[NAME#k] and ERR[NAME#k] for the k-th run.
declare -A RUNS_OF
run_wrk() {
  local n=$1 secs=$2 out k rps errs non2xx c0 c1 reqs
  k=$(( ${RUNS_OF[$n]:-0} + 1 )); RUNS_OF[$n]=$k
  c0=$(cpu_s "${PID[$n]}")
  out=$(timeout $((secs + 30)) "$WRK" -t2 -c"$CONNS" -d"${secs}s" "http://127.0.0.1:${PORT[$n]}/1k.bin" 2>&1) ||
    die "$n: wrk failed: $out"
  c1=$(cpu_s "${PID[$n]}")
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  CPU[$n#$k]=$(calc "($c1 - $c0) * 1e6 / $reqs" 1)
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  [ -n "$rps" ] || die "$n: no Requests/sec in: $out"
  errs=$(awk '/Socket errors:/ {gsub(",", ""); print "connect " $4 ", read " $6 ", write " $8 ", timeout " $10}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  RPS[$n#$k]=$rps
  ERR[$n#$k]="${errs:-none}${non2xx:+; non-2xx $non2xx}"
  log "rps: $n run $k: $rps req/s, $reqs requests, server CPU $(calc "$c1 - $c0") s (errors: ${ERR[$n#$k]})"
}

sleep 1
for r in $(seq "$ROUNDS"); do
  run_wrk ferry "$DURATION"
  run_wrk nginx "$DURATION"
done
run_wrk python "$PY_DURATION"

echo "### 2. Requests per second, 1 KiB file, keep-alive (bench/rps.sh)"
echo
echo "\`wrk -t2 -c$CONNS -d${DURATION}s\` (python: ${PY_DURATION}s); ferry and nginx alternate."
echo
echo "| run | ferry (req/s) | nginx (req/s) | ferry/nginx | ferry server CPU (µs/request) | nginx server CPU (µs/request) |"
echo "| --- | --- | --- | --- | --- | --- |"
sf=0; sn=0; cf=0; cn=0
for r in $(seq "$ROUNDS"); do
  f=${RPS[ferry#$r]}; g=${RPS[nginx#$r]}
  sf=$(calc "$sf + $f"); sn=$(calc "$sn + $g")
  cf=$(calc "$cf + ${CPU[ferry#$r]}" 3); cn=$(calc "$cn + ${CPU[nginx#$r]}" 3)
  echo "| $r | $f | $g | **$(calc "$f / $g")** | ${CPU[ferry#$r]} | ${CPU[nginx#$r]} |"
done
echo "| mean | $(calc "$sf / $ROUNDS" 0) | $(calc "$sn / $ROUNDS" 0) | **$(calc "$sf / $sn")** | $(calc "$cf / $ROUNDS" 1) | $(calc "$cn / $ROUNDS" 1) |"
echo
echo "Server CPU per request (user + system of the server's processes / requests) ferry/nginx: **$(calc "$cf / $cn")**" \
  "(below 1.00: ferry spends less CPU per request)."
echo
echo "python http.server: ${RPS[python#1]} req/s, ${CPU[python#1]} µs server CPU per request (ferry mean / python = $(calc "$sf / $ROUNDS / ${RPS[python#1]}" 1)x)."
echo
echo "wrk socket errors: ferry ${ERR[ferry#1]} / ${ERR[ferry#$ROUNDS]}; nginx ${ERR[nginx#1]} / ${ERR[nginx#$ROUNDS]}; python ${ERR[python#1]}."
summary_row "1 KiB file, wrk -c$CONNS, req/s (mean of $ROUNDS; higher is better)" "$(calc "$sf / $ROUNDS" 0)" \
  "$(calc "$sn / $ROUNDS" 0)" "${RPS[python#1]}" "$(calc "$sf / $sn")" "$(calc "$sf / $ROUNDS / ${RPS[python#1]}" 1)"
echo
echo "(ratio above 1.00: ferry served more requests; $(machine_line))"
