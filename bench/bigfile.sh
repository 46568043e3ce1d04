#!/usr/bin/env bash
# Benchmark 1: one 1 GiB file over loopback, ferry serve vs nginx vs python.
#
# bench/sink (one GET, a 256 KiB read buffer, bytes only counted) downloads
# the file from each server; servers take turns, best of 3 runs each
# (python once more only if its first run took under 20 s). The file is
# random data read once before timing, so it is in the page cache.
# Extra rows: ferry with each --send-mode forced, to show what "auto" picks.
#
# Usage: bash bench/bigfile.sh   (after make; prints a markdown section)
# Env: RUNS=3, SIZE=1G (head -c size), MODES=1 (0: skip the send-mode rows)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_tools "$NGINX" "$PY" "$CC"
RUNS=${RUNS:-3}
SIZE=${SIZE:-1G}
MODES=${MODES:-1}

bench_tmp bigfile
SINK=$(build_tool sink)
mkdir -p "$BENCH_TMP/www"
chmod 755 "$BENCH_TMP/www"
log "bigfile: writing $SIZE of random data"
head -c "$SIZE" /dev/urandom >"$BENCH_TMP/www/big.bin"
chmod 644 "$BENCH_TMP/www/big.bin"
BYTES=$(stat -c %s "$BENCH_TMP/www/big.bin")
cat "$BENCH_TMP/www/big.bin" >/dev/null # warm the page cache

declare -A PORT PID BEST ALL CPU
names=(ferry nginx python)
start_ferry "$BENCH_TMP/www"; PORT[ferry]=$SRV_PORT; PID[ferry]=$SRV_PID
start_nginx "$BENCH_TMP/www" 120s; PORT[nginx]=$SRV_PORT; PID[nginx]=$SRV_PID
start_python "$BENCH_TMP/www"; PORT[python]=$SRV_PORT; PID[python]=$SRV_PID
if [ "$MODES" = 1 ]; then
  for m in sendfile readwrite splice; do
    start_ferry "$BENCH_TMP/www" --send-mode "$m"; PORT[ferry-$m]=$SRV_PORT; PID[ferry-$m]=$SRV_PID
    names+=("ferry-$m")
  done
fi

# one download; prints seconds and the server's CPU seconds
one() {
  local name=$1 out bytes secs c0 c1
  c0=$(cpu_s "${PID[$name]}")
  out=$(timeout 300 "$SINK" 127.0.0.1 "${PORT[$name]}" /big.bin) || die "$name: download failed"
  c1=$(cpu_s "${PID[$name]}")
  read -r bytes secs <<<"$out"
  [ "$bytes" = "$BYTES" ] || die "$name: got $bytes bytes, expected $BYTES"
  echo "$secs $(calc "$c1 - $c0")"
}

for r in $(seq "$RUNS"); do
  for n in "${names[@]}"; do
    if [ "$n" = python ] && [ "$r" -gt 1 ] && awk -v t="${BEST[python]}" 'BEGIN { exit !(t >= 20) }'; then
      continue
    fi
    read -r t c <<<"$(one "$n")"
    log "bigfile: round $r $n ${t}s, server CPU ${c}s"
    if [ -z "${CPU[$n]:-}" ] || awk -v a="$c" -v b="${CPU[$n]}" 'BEGIN { exit !(a < b) }'; then
      CPU[$n]=$c
    fi
    ALL[$n]="${ALL[$n]:+${ALL[$n]} }$(calc "$t" 3)"
    if [ -z "${BEST[$n]:-}" ] || awk -v a="$t" -v b="${BEST[$n]}" 'BEGIN { exit !(a < b) }'; then
      BEST[$n]=$t
    fi
  done
done

gbps() { calc "$BYTES / $1 / 1e9" 2; }
echo "### 1. One $(calc "$BYTES / 1073741824" 0) GiB file (bench/bigfile.sh)"
echo
echo "| server | best (s) | GB/s | all runs (s) | server CPU, least of the runs (s) |"
echo "| --- | --- | --- | --- | --- |"
for n in "${names[@]}"; do
  label=$n
  case $n in
    ferry) label="ferry serve (auto send mode)";;
    nginx) label="nginx (sendfile on)";;
    python) label="python http.server";;
    ferry-*) label="ferry serve --send-mode ${n#ferry-}";;
  esac
  echo "| $label | $(calc "${BEST[$n]}" 3) | $(gbps "${BEST[$n]}") | ${ALL[$n]} | ${CPU[$n]} |"
done
echo
fastest_other=$(awk -v a="${BEST[nginx]}" -v b="${BEST[python]}" 'BEGIN { print (a < b) ? "nginx" : "python" }')
echo "Time ratios (below 1.00: ferry faster): ferry/nginx **$(calc "${BEST[ferry]} / ${BEST[nginx]}")**," \
  "ferry/python **$(calc "${BEST[ferry]} / ${BEST[python]}")**." \
  "$(awk -v f="${BEST[ferry]}" -v o="${BEST[$fastest_other]}" -v n="$fastest_other" \
    'BEGIN { if (f <= o) print "ferry is the fastest."; else printf "ferry is SLOWER than %s by %.0f%%.", n, (f / o - 1) * 100 }')"
summary_row "1 GiB download, best of $RUNS (s; lower is better)" "$(calc "${BEST[ferry]}" 3)" "$(calc "${BEST[nginx]}" 3)" \
  "$(calc "${BEST[python]}" 3)" "$(calc "${BEST[ferry]} / ${BEST[nginx]}")" "$(calc "${BEST[ferry]} / ${BEST[python]}")"
echo
echo "Server CPU for the whole download (user + system, from /proc/PID/stat, 10 ms ticks) is steadier than" \
  "wall time on a shared machine: ferry/nginx **$(calc "${CPU[ferry]} / ${CPU[nginx]}")**."
echo
echo "(1 GB = 10^9 bytes; file in the page cache; sink times connect to last byte; $(machine_line))"
