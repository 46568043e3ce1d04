#!/usr/bin/env bash
# The chat broker's fan-out: ferry chat -l against ncat --chat, same run.
#   1. one sender, 64-byte lines, 90 readers x 2,000 lines and 500 readers
#      x 200 lines (ncat's broker gives up beyond that): deliveries per second
#      (readers x lines / time from the first payload byte sent to the last
#      reader done), the ratio, and whether every reader got every line in
#      order; RUNS runs each, the median reported, a fresh broker every run
#   2. ferry alone at 10,000 readers x 200 lines
#   3. ferry's RSS per idle client, 10,000 clients held after their welcome
# Usage: bash bench/chat.sh   (from anywhere; builds bench/out/chat_load)
# Env: RUNS (default 5), BIG_N (10000), FERRY.
# Fair terms: ferry runs with --rate 1000000 --queue 4194304 (ncat has no
# flood control and no output cap), both log nothing, the same load client
# connects the same way and waits until every reader has seen the start
# line (joins over) before the clock starts. ferry's sender takes the nick
# "user1" so its prefix "user1: " (7 bytes) is the length of ncat's
# "<userN> " (8 to 10 bytes, N its descriptor); bytes_per_line says what
# each delivered line really cost.
# Loopback only; every run is bounded (connect -C, the load client's alarm
# -T, `timeout`); brokers are stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
RUNS=${RUNS:-5}
BIG_N=${BIG_N:-10000}
need_tools ncat
LOAD=$(build_tool chat_load)
bench_tmp chat
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -gt $((BIG_N + 100)) ] || die "RLIMIT_NOFILE $(ulimit -n) is too small for $BIG_N clients"

SRV=""
# start_broker ferry|ncat: sets SRV and PORT
start_broker() {
  local log=$BENCH_TMP/$1.log
  PORT=$(free_port)
  case $1 in
    ferry) "$FERRY" chat -l -b 127.0.0.1 -p "$PORT" -q --rate 1000000 --queue 4194304 \
             --max-clients $((BIG_N + 100)) < /dev/null > "$log" 2>&1 & ;;
    ncat)  ncat --chat -l 127.0.0.1 "$PORT" -m 1000 < /dev/null > "$log" 2>&1 & ;;
  esac
  SRV=$!
  BENCH_PIDS+=("$SRV")
  wait_port "$PORT" "$SRV" || { cat "$log" >&2; die "$1 did not start"; }
}
stop_broker() { stop_pid "$SRV"; SRV=""; }

get() { awk -v k="$2" '$1 == k { print $2; exit }' "$1"; }

# run_one BROKER READERS LINES OUT: one fresh broker, one load run
run_one() {
  local b=$1 r=$2 l=$3 out=$4 nick=()
  [ "$b" = ferry ] && nick=(-n user1)
  start_broker "$b"
  timeout -k 5 200 "$LOAD" -p "$PORT" -r "$r" -l "$l" "${nick[@]}" -C 60 -T 180 > "$out" 2>&1 || true
  stop_broker
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else print v[int((NR + 1) / 2)] }'; }

log "$(nproc) cores, $(uname -r), $(ncat --version 2>&1 | head -1), RUNS=$RUNS, $(date -u '+%Y-%m-%d %H:%M UTC')"
declare -A R
for cfg in "90 2000" "500 200"; do
  set -- $cfg
  for b in ferry ncat; do
    rates=() ok=0 bpl=""
    for i in $(seq "$RUNS"); do
      out=$BENCH_TMP/$b.$1.$i.txt
      run_one "$b" "$1" "$2" "$out"
      rates+=("$(get "$out" deliveries_per_s)")
      if [ "$(get "$out" readers_complete)" = "$1" ] && [ "$(get "$out" order_errors)" = 0 ]; then
        ok=$((ok + 1))
      else
        log "$b $1x$2 run $i incomplete:"; sed 's/^/    /' "$out" >&2
      fi
      bpl=$(get "$out" bytes_per_delivered_line)
    done
    R[$b.$1.rate]=$(printf '%s\n' "${rates[@]}" | grep -v '^$' | median)
    R[$b.$1.all]=$(printf '%s ' "${rates[@]}")
    R[$b.$1.ok]="$ok/$RUNS"
    R[$b.$1.bpl]=${bpl:--}
    log "$b $1 readers x $2 lines: ${R[$b.$1.all]}(complete and in order: $ok/$RUNS)"
  done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
fmt() { awk -v a="$1" 'BEGIN { if (a == "-" || a == "") print "-"; else printf "%.2fM", a / 1e6 }'; }

echo "### Fan-out: one sender, 64-byte lines; median of $RUNS runs, deliveries per second"
echo
echo "| readers x lines | ferry | ncat --chat | ferry / ncat | every line to every reader, ferry / ncat | bytes per delivered line ferry / ncat |"
echo "|---|---:|---:|---:|---:|---:|"
for r in 90 500; do
  l=2000; [ "$r" = 500 ] && l=200
  echo "| $r x $l | $(fmt "${R[ferry.$r.rate]}") | $(fmt "${R[ncat.$r.rate]}") | $(ratio "${R[ferry.$r.rate]}" "${R[ncat.$r.rate]}") | ${R[ferry.$r.ok]} / ${R[ncat.$r.ok]} | ${R[ferry.$r.bpl]} / ${R[ncat.$r.bpl]} |"
done

# 2. ferry alone at BIG_N readers
rates=() ok=0 cs=""
for i in $(seq "$RUNS"); do
  out=$BENCH_TMP/ferry.big.$i.txt
  run_one ferry "$BIG_N" 200 "$out"
  rates+=("$(get "$out" deliveries_per_s)")
  cs=$(get "$out" connect_seconds)
  if [ "$(get "$out" readers_complete)" = "$BIG_N" ] && [ "$(get "$out" order_errors)" = 0 ]; then
    ok=$((ok + 1))
  else
    log "ferry ${BIG_N}x200 run $i incomplete:"; sed 's/^/    /' "$out" >&2
  fi
done
log "ferry $BIG_N readers x 200 lines: ${rates[*]} (complete: $ok/$RUNS, connect ${cs}s)"
echo
echo "| readers x lines | ferry deliveries/s (median of $RUNS) | every line to every reader |"
echo "|---|---:|---:|"
echo "| $BIG_N x 200 | $(fmt "$(printf '%s\n' "${rates[@]}" | grep -v '^$' | median)") | $ok/$RUNS |"

# 3. RSS per idle client
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
start_broker ferry
sleep 0.5
before=$(rss "$SRV")
out=$BENCH_TMP/idle.txt
timeout -k 5 200 "$LOAD" -p "$PORT" -r "$BIG_N" -i 30 -C 60 -T 180 > "$out" 2>&1 &
LP=$!
for _ in $(seq 1200); do grep -q '^held ' "$out" && break; kill -0 "$LP" 2>/dev/null || break; sleep 0.1; done
sleep 1
during=$(rss "$SRV")
held=$(get "$out" held)
stop_pid "$LP" || true
stop_broker
log "idle: $held clients, broker RSS ${before} kB before, ${during} kB held"
echo
echo "| clients held | broker RSS kB before / held | RSS bytes per idle client |"
echo "|---:|---:|---:|"
awk -v n="${held:-0}" -v a="$before" -v b="$during" 'BEGIN { printf "| %d | %d / %d | %.0f |\n", n, a, b, n ? (b - a) * 1024 / n : 0 }'
