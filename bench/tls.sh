#!/usr/bin/env bash
# Benchmark: HTTPS (issue 10). ferry serve --tls-cert/--tls-key against nginx
# with ssl, the same EC P-256 certificate, the same run, taking turns:
#
#   1 GiB file:  curl -k -o /dev/null https://127.0.0.1:PORT/big.bin  (best of RUNS)
#   1 KiB file:  wrk -t2 -c100 -d10s https://127.0.0.1:PORT/1k.bin    (keep-alive, ROUNDS each)
#
# Both servers: 2 threads / 2 worker processes, TLS 1.2 and 1.3, the
# ciphers OpenSSL picks (TLS 1.3: AES-256-GCM on this CPU for both). curl
# and wrk share the 2 cores with the server, the same for both. Also says
# whether the kernel offers kTLS (the tls ULP), which decides whether
# SSL_sendfile could be used at all.
#
# Usage: bash bench/tls.sh   (after make; prints a markdown section)
# Env: RUNS=3, SIZE=1G, DURATION=10, ROUNDS=2, CONNS=100
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_tools "$NGINX" "$WRK" openssl curl
RUNS=${RUNS:-3}
SIZE=${SIZE:-1G}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
CONNS=${CONNS:-100}

bench_tmp tls
W="$BENCH_TMP/www"
mkdir -p "$W"
chmod 755 "$W"
log "tls: writing $SIZE of random data"
head -c "$SIZE" /dev/urandom >"$W/big.bin"
head -c 1024 /dev/urandom >"$W/1k.bin"
chmod 644 "$W"/*.bin
BYTES=$(stat -c %s "$W/big.bin")
cat "$W/big.bin" >/dev/null # warm the page cache
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$BENCH_TMP/key.pem" -out "$BENCH_TMP/cert.pem" 2>/dev/null
chmod 644 "$BENCH_TMP/key.pem" "$BENCH_TMP/cert.pem"

declare -A PORT PID BEST ALL CPU LEAST RPS RCPU
start_ferry "$W" --tls-cert "$BENCH_TMP/cert.pem" --tls-key "$BENCH_TMP/key.pem"
PORT[ferry]=$SRV_PORT; PID[ferry]=$SRV_PID
start_nginx "$W" 120s ssl "ssl_certificate $BENCH_TMP/cert.pem; ssl_certificate_key $BENCH_TMP/key.pem; ssl_protocols TLSv1.2 TLSv1.3;"
PORT[nginx]=$SRV_PORT; PID[nginx]=$SRV_PID

for n in ferry nginx; do
  got=$(timeout 10 curl -s --cacert "$BENCH_TMP/cert.pem" -o /dev/null -w '%{http_code} %{size_download}' \
    "https://127.0.0.1:${PORT[$n]}/1k.bin" || true)
  [ "$got" = "200 1024" ] || die "$n: GET https /1k.bin gave '$got'"
done

one_big() {
  local n=$1 out bytes secs c0 c1
  c0=$(cpu_s "${PID[$n]}")
  out=$(timeout 300 curl -s -k -o /dev/null -w '%{size_download} %{time_total}' \
    "https://127.0.0.1:${PORT[$n]}/big.bin") || die "$n: download failed"
  c1=$(cpu_s "${PID[$n]}")
  read -r bytes secs <<<"$out"
  [ "$bytes" = "$BYTES" ] || die "$n: got $bytes bytes, expected $BYTES"
  echo "$secs $(calc "$c1 - $c0")"
}

for r in $(seq "$RUNS"); do
  for n in ferry nginx; do
    read -r t c <<<"$(one_big "$n")"
    log "tls: 1 GiB round $r $n ${t}s, server CPU ${c}s"
    ALL[$n]="${ALL[$n]:+${ALL[$n]} }$(calc "$t" 2)"
    if [ -z "${LEAST[$n]:-}" ] || awk -v a="$c" -v b="${LEAST[$n]}" 'BEGIN { exit !(a < b) }'; then
      LEAST[$n]=$c
    fi
    if [ -z "${BEST[$n]:-}" ] || awk -v a="$t" -v b="${BEST[$n]}" 'BEGIN { exit !(a < b) }'; then
      BEST[$n]=$t
      CPU[$n]=$c
    fi
  done
done

run_wrk() {
  local n=$1 k=$2 out c0 c1 reqs rps
  c0=$(cpu_s "${PID[$n]}")
  out=$(timeout $((DURATION + 30)) "$WRK" -t2 -c"$CONNS" -d"${DURATION}s" "https://127.0.0.1:${PORT[$n]}/1k.bin" 2>&1) ||
    die "$n: wrk failed: $out"
  c1=$(cpu_s "${PID[$n]}")
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  [ -n "$rps" ] || die "$n: no Requests/sec in: $out"
  grep -q "Non-2xx\|Socket errors" <<<"$out" && log "tls: $n: $(grep 'Non-2xx\|Socket errors' <<<"$out")"
  RPS[$n#$k]=$rps
  RCPU[$n#$k]=$(calc "($c1 - $c0) * 1e6 / $reqs" 1)
  log "tls: 1 KiB round $k $n $rps req/s, ${RCPU[$n#$k]} µs server CPU per request"
}
sleep 1
for r in $(seq "$ROUNDS"); do
  run_wrk ferry "$r"
  run_wrk nginx "$r"
done

ulp=$(cat /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null || echo "?")
echo "### HTTPS (bench/tls.sh)"
echo
echo "Same EC P-256 certificate, TLS 1.3 (curl and wrk pick it), $SERVER_THREADS threads / workers each."
echo
echo "| 1 GiB file, curl -k -o /dev/null | best (s) | GB/s | all runs (s) | server CPU in the best run (s) | least server CPU of the runs (s) |"
echo "| --- | --- | --- | --- | --- | --- |"
for n in ferry nginx; do
  echo "| $n | $(calc "${BEST[$n]}" 2) | $(calc "$BYTES / ${BEST[$n]} / 1e9" 2) | ${ALL[$n]} | ${CPU[$n]} | ${LEAST[$n]} |"
done
echo
echo "1 GiB ferry/nginx: best time **$(calc "${BEST[ferry]} / ${BEST[nginx]}")**, least server CPU" \
  "**$(calc "${LEAST[ferry]} / ${LEAST[nginx]}")** (below 1.00 favours ferry)."
echo
echo "| 1 KiB file, wrk -t2 -c$CONNS -d${DURATION}s | ferry (req/s) | nginx (req/s) | ferry/nginx | ferry CPU (µs/req) | nginx CPU (µs/req) |"
echo "| --- | --- | --- | --- | --- | --- |"
sf=0; sn=0; cf=0; cn=0
for r in $(seq "$ROUNDS"); do
  f=${RPS[ferry#$r]}; g=${RPS[nginx#$r]}
  sf=$(calc "$sf + $f"); sn=$(calc "$sn + $g")
  cf=$(calc "$cf + ${RCPU[ferry#$r]}" 3); cn=$(calc "$cn + ${RCPU[nginx#$r]}" 3)
  echo "| run $r | $f | $g | **$(calc "$f / $g")** | ${RCPU[ferry#$r]} | ${RCPU[nginx#$r]} |"
done
echo "| mean | $(calc "$sf / $ROUNDS" 0) | $(calc "$sn / $ROUNDS" 0) | **$(calc "$sf / $sn")** | $(calc "$cf / $ROUNDS" 1) | $(calc "$cn / $ROUNDS" 1) |"
echo
echo "1 KiB server CPU per request ferry/nginx: **$(calc "$cf / $cn")** (below 1.00: ferry spends less)."
echo
echo "kTLS: tcp_available_ulp is \"$ulp\"$(grep -qw tls <<<"$ulp" && echo "" || echo " (no tls ULP: the kernel cannot take TLS records, so SSL_sendfile has nothing to run on)")."
echo
echo "($(machine_line))"
