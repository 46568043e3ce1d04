#!/usr/bin/env bash
# Benchmark 3: server memory held by 10,000 idle keep-alive connections.
#
# bench/idle (C; raises its RLIMIT_NOFILE to the hard limit) opens 10,000
# connections to the server, sends one keep-alive GET for a 1 KiB file on
# each, reads every full response, then holds them all open and idle. We
# read the server's memory before connecting and while the 10,000 are held:
# the sum of VmRSS (/proc/PID/status) and of Pss (/proc/PID/smaps_rollup)
# over the server's processes (ferry: one; nginx: master and 2 workers),
# and report the difference per connection. Servers: ferry serve --threads
# 2 --idle 300 --max-conns 20000; nginx worker_processes 2,
# keepalive_timeout 300s. One server at a time.
#
# User-space memory only: the kernel's socket memory (struct sock, buffers,
# epoll items) is not in RSS/Pss; the system-wide Slab change (/proc/meminfo,
# client and server sockets together) is shown separately for scale.
#
# A warm-up of 200 connections (opened, answered, closed) comes before the
# "before" reading, so one-time allocations (buffer pools, per-thread
# buffers) do not count as per-connection memory.
#
# Usage: bash bench/idle_mem.sh   (after make; prints a markdown section)
# Env: CONNS=10000
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_tools "$NGINX" "$CC"
CONNS=${CONNS:-10000}

bench_tmp idle_mem
IDLE=$(build_tool idle)
mkdir -p "$BENCH_TMP/www"
chmod 755 "$BENCH_TMP/www"
head -c 1024 /dev/urandom >"$BENCH_TMP/www/1k.bin"
chmod 644 "$BENCH_TMP/www/1k.bin"

hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge $((CONNS + 64)) ] ||
  die "the hard RLIMIT_NOFILE ($hard) is below $CONNS connections"

slab_kib() { awk '/^Slab:/ {print $2}' /proc/meminfo; }
fd_count() {
  local n=0 p
  for p in $(server_pids "$1"); do n=$((n + $(ls "/proc/$p/fd" 2>/dev/null | wc -l))); done
  echo "$n"
}

declare -A R
measure() {
  local name=$1 pid=$SRV_PID port=$SRV_PORT out rss0 pss0 rss1 pss1 cpid line
  # warm-up: 200 connections, answered, held 1 s, closed
  timeout 60 "$IDLE" 127.0.0.1 "$port" /1k.bin 200 1 >"$BENCH_TMP/$name.warm" ||
    die "$name: warm-up failed: $(cat "$BENCH_TMP/$name.warm")"
  sleep 1.5
  read -r rss0 pss0 <<<"$(mem_kib "$pid")"
  local sl0 fd0
  sl0=$(slab_kib); fd0=$(fd_count "$pid")

  out="$BENCH_TMP/$name.idle"
  timeout 900 "$IDLE" 127.0.0.1 "$port" /1k.bin "$CONNS" 600 >"$out" 2>"$out.err" &
  cpid=$!
  BENCH_PIDS+=("$cpid")
  for _ in $(seq 1500); do
    grep -q '^READY' "$out" 2>/dev/null && break
    kill -0 "$cpid" 2>/dev/null || break
    sleep 0.1
  done
  line=$(grep '^READY' "$out" || true)
  [ -n "$line" ] || { cat "$out.err" >&2; die "$name: the idle client did not get ready"; }
  sleep 2 # let the server settle
  read -r rss1 pss1 <<<"$(mem_kib "$pid")"
  local sl1 fd1
  sl1=$(slab_kib); fd1=$(fd_count "$pid")
  stop_pid "$cpid" # SIGTERM: the client prints its HELD line and exits
  local held
  held=$(grep '^HELD' "$out" || echo "HELD ?")
  [ -s "$out.err" ] && log "$name client: $(head -3 "$out.err")"
  R[$name.ok]=$(sed -n 's/.*ok=\([0-9]*\).*/\1/p' <<<"$line")
  R[$name.failed]=$(sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$line")
  R[$name.connect_s]=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$line")
  R[$name.open]=$(sed -n 's/.*open=\([0-9]*\).*/\1/p' <<<"$held")
  R[$name.closed]=$(sed -n 's/.*closed_by_server=\([0-9]*\).*/\1/p' <<<"$held")
  R[$name.rss0]=$rss0; R[$name.rss1]=$rss1; R[$name.pss0]=$pss0; R[$name.pss1]=$pss1
  R[$name.fd0]=$fd0; R[$name.fd1]=$fd1
  R[$name.slab_kib]=$((sl1 - sl0))
  local ok=${R[$name.ok]}
  [ "${ok:-0}" -gt 0 ] || die "$name: no connection succeeded"
  R[$name.rss_per]=$(calc "($rss1 - $rss0) * 1024 / $ok" 0)
  R[$name.pss_per]=$(calc "($pss1 - $pss0) * 1024 / $ok" 0)
  R[$name.slab_per]=$(calc "($sl1 - $sl0) * 1024 / $ok" 0)
  log "idle_mem: $name $line; $held; RSS ${rss0} -> ${rss1} KiB, Pss ${pss0} -> ${pss1} KiB, fds $fd0 -> $fd1"
}

start_ferry "$BENCH_TMP/www" --idle 300 --max-conns 20000
measure ferry
stop_pid "$SRV_PID"
sleep 1
start_nginx "$BENCH_TMP/www" 300s
measure nginx
stop_pid "$SRV_PID"

echo "### 3. Memory for $CONNS idle keep-alive connections (bench/idle_mem.sh)"
echo
echo "| | ferry serve | nginx |"
echo "| --- | --- | --- |"
echo "| connections answered (200, keep-alive) / failed | ${R[ferry.ok]} / ${R[ferry.failed]} | ${R[nginx.ok]} / ${R[nginx.failed]} |"
echo "| still open after the reading / closed by the server | ${R[ferry.open]} / ${R[ferry.closed]} | ${R[nginx.open]} / ${R[nginx.closed]} |"
echo "| server descriptors before / while held | ${R[ferry.fd0]} / ${R[ferry.fd1]} | ${R[nginx.fd0]} / ${R[nginx.fd1]} |"
echo "| RSS before / while held (KiB) | ${R[ferry.rss0]} / ${R[ferry.rss1]} | ${R[nginx.rss0]} / ${R[nginx.rss1]} |"
echo "| Pss before / while held (KiB) | ${R[ferry.pss0]} / ${R[ferry.pss1]} | ${R[nginx.pss0]} / ${R[nginx.pss1]} |"
echo "| **RSS per connection (bytes)** | **${R[ferry.rss_per]}** | **${R[nginx.rss_per]}** |"
echo "| **Pss per connection (bytes)** | **${R[ferry.pss_per]}** | **${R[nginx.pss_per]}** |"
echo "| not counted above: kernel Slab change, system-wide, both ends (KiB; bytes per connection) | ${R[ferry.slab_kib]}; ${R[ferry.slab_per]} | ${R[nginx.slab_kib]}; ${R[nginx.slab_per]} |"
echo
ratio() {
  awk -v f="$1" -v n="$2" 'BEGIN { if (n <= 0) print "n/a (nginx grew by " n ")"; else printf "%.2f", f / n }'
}
echo "Ratio ferry/nginx per connection (below 1.00: ferry uses less): RSS **$(ratio "${R[ferry.rss_per]}" "${R[nginx.rss_per]}")**," \
  "Pss **$(ratio "${R[ferry.pss_per]}" "${R[nginx.pss_per]}")**." \
  "Whole server while held: RSS $(calc "${R[ferry.rss1]} / ${R[nginx.rss1]}"), Pss $(calc "${R[ferry.pss1]} / ${R[nginx.pss1]}")."
summary_row "$CONNS idle connections, RSS bytes per connection (lower is better)" "${R[ferry.rss_per]}" \
  "${R[nginx.rss_per]}" "-" "$(ratio "${R[ferry.rss_per]}" "${R[nginx.rss_per]}")" "-"
summary_row "$CONNS idle connections, server RSS while held, KiB (lower is better)" "${R[ferry.rss1]}" \
  "${R[nginx.rss1]}" "-" "$(calc "${R[ferry.rss1]} / ${R[nginx.rss1]}")" "-"
echo
echo "User-space memory only (RSS/Pss of the server processes); the kernel's socket memory is not counted." \
  "nginx allocates its connection and event arrays for worker_connections (20000) when a worker starts, so they are in its \"before\"."
echo
echo "($(machine_line))"
