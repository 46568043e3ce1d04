#!/usr/bin/env bash
# bench/chat_fed.sh: chat throughput through two brokers federated over
# Redis against one broker, in the same run (issue 9).
#   single:    one sender and R readers on one broker
#   federated: the sender on broker A, the R readers on broker B, both
#              `--redis` on one redis-server (lines go A -> Redis -> B)
# 64-byte lines (SIZE), L lines each; lines/s = lines delivered to all
# readers / seconds from the first byte sent to the last line read; the
# median of RUNS runs. Every reader must get every line (else the run says
# "incomplete"). Brokers run with --rate 1000000 --queue 64 MiB --history 0
# so that neither rate limit nor drops nor history enter the measurement.
# Usage: bash bench/chat_fed.sh   Env: CASES ("90:2000 10:20000"), SIZE (64),
#        RUNS (3), TIMEOUT_S (60 per run), FERRY, REDIS_SERVER.
# Loopback only; every server is started here on a free port and stopped by
# its PID; every run is bounded by TIMEOUT_S.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

CASES=${CASES:-"90:2000 10:20000"}
SIZE=${SIZE:-64}
RUNS=${RUNS:-3}
TIMEOUT_S=${TIMEOUT_S:-60}
REDIS_SERVER=${REDIS_SERVER:-redis-server}

need_tools "$REDIS_SERVER"
bench_tmp chatfed
mkdir -p "$OUT_DIR"
LOAD=$OUT_DIR/fedload
"$CC" -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -pthread -o "$LOAD" "$BENCH_DIR/fedload.c" ||
  die "could not compile bench/fedload.c"

REDIS_PORT=$(free_port)
"$REDIS_SERVER" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
  >"$BENCH_TMP/redis.log" 2>&1 &
REDIS_PID=$!
BENCH_PIDS+=("$REDIS_PID")
wait_port "$REDIS_PORT" "$REDIS_PID" || die "redis-server did not start"

# start_broker NAME [--redis URL]: sets BROKER_PID and BROKER_PORT.
start_broker() {
  local name=$1; shift
  local out="$BENCH_TMP/$name.out" err="$BENCH_TMP/$name.err"
  "$FERRY" chat -l -q -b 127.0.0.1 -p 0 --rate 1000000 --queue 67108864 --history 0 "$@" \
    >"$out" 2>"$err" </dev/null &
  BROKER_PID=$!
  BENCH_PIDS+=("$BROKER_PID")
  BROKER_PORT=
  for _ in $(seq 100); do
    BROKER_PORT=$(head -1 "$out" 2>/dev/null | sed -n 's/^ferry: chat listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p')
    [ -n "$BROKER_PORT" ] && break
    sleep 0.1
  done
  [ -n "$BROKER_PORT" ] || { cat "$err" >&2; die "broker $name did not start"; }
  if [ $# -gt 0 ]; then
    for _ in $(seq 100); do
      grep -q connected "$err" && return 0
      sleep 0.1
    done
    cat "$err" >&2
    die "broker $name did not connect to Redis"
  fi
}

# one_run SEND_PORT READ_PORT R L: prints lines/s, or "incomplete".
one_run() {
  local res
  if res=$(timeout $((TIMEOUT_S + 30)) "$LOAD" "$1" "$2" "$3" "$4" "$SIZE" "$TIMEOUT_S"); then
    echo "$res" | sed -n 's/.*lines_per_s=\([0-9]*\).*/\1/p'
  else
    log "incomplete: $res"
    echo incomplete
  fi
}

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : "-")}'; }

printf '| readers x lines | one broker (lines/s) | two brokers via Redis (lines/s) | federated / one |\n'
printf '| --- | --- | --- | --- |\n'
for c in $CASES; do
  R=${c%%:*}
  L=${c##*:}
  single=() fed=()
  for _ in $(seq "$RUNS"); do
    start_broker one
    s_port=$BROKER_PORT s_pid=$BROKER_PID
    single+=("$(one_run "$s_port" "$s_port" "$R" "$L")")
    stop_pid "$s_pid"
    room=bench$RANDOM
    start_broker a --redis "redis://127.0.0.1:$REDIS_PORT/$room"
    a_port=$BROKER_PORT a_pid=$BROKER_PID
    start_broker b --redis "redis://127.0.0.1:$REDIS_PORT/$room"
    b_port=$BROKER_PORT b_pid=$BROKER_PID
    fed+=("$(one_run "$a_port" "$b_port" "$R" "$L")")
    stop_pid "$a_pid"
    stop_pid "$b_pid"
  done
  case " ${single[*]} ${fed[*]} " in
    *incomplete*) ms="${single[*]}"; mf="${fed[*]}"; ratio="-" ;;
    *) ms=$(echo "${single[*]}" | median); mf=$(echo "${fed[*]}" | median)
       ratio=$(awk -v a="$mf" -v b="$ms" 'BEGIN {printf "%.2f", a / b}') ;;
  esac
  printf '| %s x %s | %s | %s | %s |\n' "$R" "$L" "$ms" "$mf" "$ratio"
  log "runs: one broker ${single[*]}; federated ${fed[*]}"
done
