# shellcheck shell=bash
# bench/lib.sh: helpers the benchmark scripts source (not run on its own).
#
# Every server is started on 127.0.0.1 only, on a free port, from a scratch
# directory under /tmp, and stopped by the PID this script got when it
# started it. Every wait below is bounded.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
FERRY=${FERRY:-$REPO_DIR/build/ferry}
PY=${PY:-/usr/bin/python3}
NGINX=${NGINX:-nginx}
WRK=${WRK:-wrk}
OUT_DIR=${OUT_DIR:-$BENCH_DIR/out} # compiled helpers; git-ignored
CC=${CC:-cc}

# Threads (ferry) and worker processes (nginx): one per core on this
# 2-core machine, the same number for both.
SERVER_THREADS=${SERVER_THREADS:-2}

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

need_tools() {
  local t
  [ -x "$FERRY" ] || die "no $FERRY (run make first)"
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || die "missing '$t' (apt-get install -y nginx-light wrk)"
  done
}

# A scratch directory removed on exit, with every server we started stopped.
BENCH_PIDS=()
bench_tmp() {
  BENCH_TMP=$(mktemp -d "/tmp/ferry-bench-$1.XXXXXX")
  chmod 755 "$BENCH_TMP" # nginx workers may run as another user
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}
bench_cleanup() {
  local p
  for p in "${BENCH_PIDS[@]}"; do stop_pid "$p"; done
  BENCH_PIDS=()
  [ -n "${BENCH_TMP:-}" ] && rm -rf "$BENCH_TMP"
  return 0
}

# Compiles bench/NAME.c into $OUT_DIR/NAME when the source is newer.
build_tool() {
  local name=$1
  mkdir -p "$OUT_DIR"
  if [ ! -x "$OUT_DIR/$name" ] || [ "$BENCH_DIR/$name.c" -nt "$OUT_DIR/$name" ]; then
    "$CC" -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o "$OUT_DIR/$name" "$BENCH_DIR/$name.c" ||
      die "could not compile bench/$name.c"
  fi
  echo "$OUT_DIR/$name"
}

# A port nobody listens on right now (the kernel picks it).
free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (at most ~10 s) until something accepts on 127.0.0.1:PORT.
wait_port() {
  local port=$1 pid=$2
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 1
    if timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# Stops one process we started: SIGTERM, then SIGKILL after 5 s; reaps it
# and forgets it, so a reused PID is never signalled later.
stop_pid() {
  local pid=$1 keep=() p
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  for p in "${BENCH_PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  BENCH_PIDS=("${keep[@]}")
}

# start_ferry DIR [extra options...]: sets SRV_PID and SRV_PORT.
start_ferry() {
  local dir=$1; shift
  local logf="$BENCH_TMP/ferry.$RANDOM.log"
  "$FERRY" serve -q -b 127.0.0.1 -p 0 --threads "$SERVER_THREADS" "$@" "$dir" >"$logf" 2>&1 &
  SRV_PID=$!
  BENCH_PIDS+=("$SRV_PID")
  SRV_PORT=
  for _ in $(seq 100); do
    SRV_PORT=$(head -1 "$logf" 2>/dev/null | sed -n 's|^ferry: serving .* on https\?://127\.0\.0\.1:\([0-9]*\)/$|\1|p')
    [ -n "$SRV_PORT" ] && break
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$SRV_PORT" ] || { cat "$logf" >&2; die "ferry did not start"; }
  wait_port "$SRV_PORT" "$SRV_PID" || die "ferry does not accept on $SRV_PORT"
}

# start_nginx ROOT KEEPALIVE_TIMEOUT [LISTEN_PARAMS [SERVER_LINES]]: writes
# a config into a directory of its own under $BENCH_TMP, runs nginx in the
# foreground (daemon off) as our child; sets SRV_PID (the master) and
# SRV_PORT. LISTEN_PARAMS go after the listen address ("ssl",
# "proxy_protocol"); SERVER_LINES into the server block (certificates).
start_nginx() {
  local root=$1 ka=$2 listen=${3:-} extra=${4:-} try d
  for try in 1 2 3; do
    SRV_PORT=$(free_port)
    d="$BENCH_TMP/nginx.$SRV_PORT"
    mkdir -p "$d/tmp"
    chmod 755 "$d"
    cat >"$d/nginx.conf" <<EOF
# Written by bench/lib.sh. worker_processes 2 = ferry's --threads 2.
daemon off;
master_process on;
worker_processes $SERVER_THREADS;
worker_rlimit_nofile 40000;
pid $d/nginx.pid;
error_log $d/error.log warn;
events {
    worker_connections 20000;
    use epoll;
}
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout $ka;
    keepalive_requests 100000000;
    default_type application/octet-stream;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    server {
        listen 127.0.0.1:$SRV_PORT $listen;
        server_name localhost;
        root $root;
        $extra
    }
}
EOF
    "$NGINX" -p "$d" -e "$d/error.log" -c "$d/nginx.conf" >"$d/stdout.log" 2>&1 &
    SRV_PID=$!
    BENCH_PIDS+=("$SRV_PID")
    if wait_port "$SRV_PORT" "$SRV_PID"; then return 0; fi
    stop_pid "$SRV_PID"
    log "nginx did not start on $SRV_PORT (try $try):"; tail -5 "$d/error.log" >&2 || true
  done
  die "nginx did not start"
}

# start_python DIR: python's http.server (ThreadingHTTPServer, HTTP/1.0).
start_python() {
  local dir=$1 try
  for try in 1 2 3; do
    SRV_PORT=$(free_port)
    "$PY" -m http.server --bind 127.0.0.1 "$SRV_PORT" --directory "$dir" >/dev/null 2>&1 &
    SRV_PID=$!
    BENCH_PIDS+=("$SRV_PID")
    if wait_port "$SRV_PORT" "$SRV_PID"; then return 0; fi
    stop_pid "$SRV_PID"
  done
  die "python http.server did not start"
}

# The server's processes: the PID and its children (nginx's workers).
server_pids() {
  local pid=$1
  echo "$pid"
  ps -o pid= --ppid "$pid" 2>/dev/null | tr -d ' '
}

# mem_kib PID: "RSS PSS" in KiB summed over the PID and its children.
mem_kib() {
  local rss=0 pss=0 p r s
  for p in $(server_pids "$1"); do
    r=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    s=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
    rss=$((rss + ${r:-0}))
    pss=$((pss + ${s:-0}))
  done
  echo "$rss $pss"
}

# summary_row CELLS...: one row for run.sh's summary table, when it asked
# for one (BENCH_SUMMARY names the file).
summary_row() {
  [ -n "${BENCH_SUMMARY:-}" ] || return 0
  printf '|' >>"$BENCH_SUMMARY"
  local c
  for c in "$@"; do printf ' %s |' "$c" >>"$BENCH_SUMMARY"; done
  printf '\n' >>"$BENCH_SUMMARY"
}

# cpu_s PID: user + system CPU seconds used so far by the PID (all its
# threads) and its children (nginx's workers).
cpu_s() {
  local t=0 p v
  for p in $(server_pids "$1"); do
    v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" 2>/dev/null || echo 0)
    t=$((t + ${v:-0}))
  done
  calc "$t / $(getconf CLK_TCK)" 2
}

# Arithmetic on decimals.
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }

machine_line() {
  echo "$(nproc) cores, Linux $(uname -r), $("$NGINX" -v 2>&1 | sed 's|.*nginx/|nginx |'), $("$WRK" -v 2>&1 | head -1 | awk '{print "wrk " $2}'), $("$PY" --version 2>&1), $(date -u '+%Y-%m-%d %H:%M UTC')"
}
