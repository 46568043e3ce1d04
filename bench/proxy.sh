#!/usr/bin/env bash
# The PROXY protocol's cost: ferry serve and nginx behind the same HAProxy.
#
# One HAProxy (mode tcp, nbthread 1) with three frontends:
#   ferry+pp  -> ferry serve --proxy-from 127.0.0.1, server line send-proxy-v2
#   ferry     -> ferry serve, no PROXY protocol (the baseline)
#   nginx+pp  -> nginx, listen ... proxy_protocol, server line send-proxy-v2
# and wrk through it for a 1 KiB file, in two shapes: a new connection per
# request (Connection: close, so every request pays for a header) and
# keep-alive. The three take turns, ROUNDS times. ferry and nginx run with
# one thread / worker each, HAProxy with one thread and wrk with one, so
# the three share the 2 cores the same way for every row.
#
# Usage: bash bench/proxy.sh   (after make; prints a markdown section)
# Env: DURATION=5 (seconds), ROUNDS=2, CONNS=50
set -euo pipefail
source "$(dirname "$0")/lib.sh"
HAPROXY=${HAPROXY:-haproxy}
need_tools "$NGINX" "$WRK" "$PY" "$HAPROXY" curl
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-2}
CONNS=${CONNS:-50}
SERVER_THREADS=1

bench_tmp proxy
mkdir -p "$BENCH_TMP/www"
chmod 755 "$BENCH_TMP/www"
head -c 1024 /dev/urandom >"$BENCH_TMP/www/1k.bin"
chmod 644 "$BENCH_TMP/www/1k.bin"

declare -A BACK PORT RPS
start_ferry "$BENCH_TMP/www" --proxy-from 127.0.0.1; BACK[ferry+pp]=$SRV_PORT
start_ferry "$BENCH_TMP/www"; BACK[ferry]=$SRV_PORT

# nginx with proxy_protocol on its listener.
start_nginx "$BENCH_TMP/www" 120s proxy_protocol; BACK[nginx+pp]=$SRV_PORT

# HAProxy in the foreground, our child.
cfg="$BENCH_TMP/haproxy.cfg"
{
  echo "global"
  echo "    nbthread 1"
  echo "    maxconn 4096"
  echo "defaults"
  echo "    mode tcp"
  echo "    timeout connect 5s"
  echo "    timeout client 30s"
  echo "    timeout server 30s"
  for n in ferry+pp ferry nginx+pp; do
    PORT[$n]=$(free_port)
    id=${n//+/_}
    kw=""
    case $n in *+pp) kw=send-proxy-v2;; esac
    echo "frontend f_$id"
    echo "    bind 127.0.0.1:${PORT[$n]}"
    echo "    default_backend b_$id"
    echo "backend b_$id"
    echo "    server s 127.0.0.1:${BACK[$n]} $kw"
  done
} >"$cfg"
"$HAPROXY" -f "$cfg" -db >"$BENCH_TMP/haproxy.log" 2>&1 &
HAPROXY_PID=$!
BENCH_PIDS+=("$HAPROXY_PID")
for n in ferry+pp ferry nginx+pp; do
  wait_port "${PORT[$n]}" "$HAPROXY_PID" || { cat "$BENCH_TMP/haproxy.log" >&2; die "haproxy did not start"; }
done

for n in ferry+pp ferry nginx+pp; do
  got=$(timeout 10 curl -s -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:${PORT[$n]}/1k.bin" || true)
  [ "$got" = "200 1024" ] || die "$n: GET /1k.bin through haproxy gave '$got'"
done

# run_wrk NAME SHAPE ROUND: RPS[NAME#SHAPE#ROUND]
run_wrk() {
  local n=$1 shape=$2 r=$3 out rps hdr=()
  [ "$shape" = close ] && hdr=(-H "Connection: close")
  out=$(timeout $((DURATION + 30)) "$WRK" -t1 -c"$CONNS" -d"${DURATION}s" "${hdr[@]}" \
    "http://127.0.0.1:${PORT[$n]}/1k.bin" 2>&1) || die "$n: wrk failed: $out"
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  [ -n "$rps" ] || die "$n: no Requests/sec in: $out"
  if grep -q "Non-2xx" <<<"$out"; then die "$n: non-2xx answers: $out"; fi
  RPS[$n#$shape#$r]=$rps
  log "proxy: $n $shape round $r: $rps req/s"
}

sleep 1
for r in $(seq "$ROUNDS"); do
  for shape in close keepalive; do
    for n in ferry+pp ferry nginx+pp; do run_wrk "$n" "$shape" "$r"; done
  done
done

mean() { local s=0 r; for r in $(seq "$ROUNDS"); do s=$(calc "$s + ${RPS[$1#$2#$r]}"); done; calc "$s / $ROUNDS" 0; }

echo "### The PROXY protocol behind HAProxy (bench/proxy.sh)"
echo
echo "HAProxy (mode tcp, 1 thread) in front; \`wrk -t1 -c$CONNS -d${DURATION}s\` for a 1 KiB file through it;"
echo "ferry and nginx with 1 thread / worker; mean of $ROUNDS rounds, taking turns."
echo
echo "| shape | ferry + PROXY v2 (req/s) | ferry, no PROXY (req/s) | nginx + PROXY v2 (req/s) | ferry+pp / nginx+pp | ferry+pp / ferry |"
echo "| --- | --- | --- | --- | --- | --- |"
for shape in close keepalive; do
  a=$(mean ferry+pp "$shape"); b=$(mean ferry "$shape"); c=$(mean nginx+pp "$shape")
  label="new connection per request"; [ "$shape" = keepalive ] && label="keep-alive"
  echo "| $label | $a | $b | $c | **$(calc "$a / $c")** | **$(calc "$a / $b")** |"
done
echo
echo "(ratios above 1.00: more requests; $(machine_line), $("$HAPROXY" -v | head -1 | awk '{print "HAProxy " $3}'))"
