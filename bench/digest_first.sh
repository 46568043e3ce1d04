#!/usr/bin/env bash
# Benchmark: the first download of a large file never hashed before (issue 21).
#
# ferry serve asked for the file's digest (Want-Repr-Digest, TE: trailers)
# against nginx, which sends none, in the same run. Each download is of a
# fresh copy (a new inode and mtime, so no digest is known; the copy is in
# the page cache), made before the clock starts:
#   ferry        ferry serve as it starts by default (the background pass on:
#                inotify sees the copy and the thread starts hashing it too)
#   ferry-noscan ferry serve --no-digest-scan (only the trailer hashes it)
#   nginx        nginx, sendfile on, no digest
# curl reads each answer to /dev/null: time to the first byte and in all.
#   ferry-known  ferry serve --no-digest-scan, the same copy once more: its
#                digest is now known and goes in the head (sendfile or
#                read/write as usual)
# Last row: `ferry get` (which checks the trailer digest against the saved
# file) from ferry serve --no-digest-scan, to a file, in all.
#
# Usage: bash bench/digest_first.sh   (after make; prints a markdown section)
#        SIZES="1G 4G" bash bench/digest_first.sh   (issue 21's rows: 1 GiB and 4 GiB;
#        the 4 GiB one needs about 13 GiB free in /tmp and takes some minutes)
# Env: RUNS=3, SIZES="1G" (head -c sizes, e.g. "1G 4G")
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_tools "$NGINX" curl
RUNS=${RUNS:-3}
SIZES=${SIZES:-1G}

bench_tmp digest
mkdir -p "$BENCH_TMP/www" "$BENCH_TMP/got"
chmod 755 "$BENCH_TMP/www"

declare -A PORT PID
start_ferry "$BENCH_TMP/www"; PORT[ferry]=$SRV_PORT; PID[ferry]=$SRV_PID
start_ferry "$BENCH_TMP/www" --no-digest-scan; PORT[ferry-noscan]=$SRV_PORT; PID[ferry-noscan]=$SRV_PID
start_nginx "$BENCH_TMP/www" 120s; PORT[nginx]=$SRV_PORT; PID[nginx]=$SRV_PID
names=(ferry ferry-noscan ferry-known nginx)

# fresh NAME: a new copy of base.bin, in the page cache; prints its name.
fresh() {
  local f="fresh-$1-$RANDOM.bin"
  cp "$BENCH_TMP/base.bin" "$BENCH_TMP/www/$f"
  chmod 644 "$BENCH_TMP/www/$f"
  echo "$f"
}

# curl_get PORT FILE HEADERS...: "ttfb total" in seconds, the body to /dev/null.
curl_get() {
  local port=$1 f=$2 out code size ttfb total
  shift 2
  out=$(timeout 300 curl -s -o /dev/null "$@" -w '%{http_code} %{size_download} %{time_starttransfer} %{time_total}' \
    "http://127.0.0.1:$port/$f") || die "$f: download failed"
  read -r code size ttfb total <<<"$out"
  [ "$code" = 200 ] && [ "$size" = "$BYTES" ] || die "$f: $code, $size bytes"
  echo "$ttfb $total"
}

# curl_one NAME: "ttfb total" of a fresh copy from server NAME.
curl_one() {
  local name=$1 f hdr=(-H "Want-Repr-Digest: sha-256=10" -H "TE: trailers") port
  f=$(fresh "$name")
  [ "$name" = nginx ] && hdr=()
  port=${PORT[${name%-known}]:-${PORT[ferry-noscan]}}
  [ "$name" = ferry-known ] && curl_get "$port" "$f" "${hdr[@]}" >/dev/null # the digest is kept
  curl_get "$port" "$f" "${hdr[@]}"
  rm -f "$BENCH_TMP/www/$f"
}

# get_one: seconds for `ferry get` of a fresh file, checked (exit 0).
get_one() {
  local f t0 t1
  f=$(fresh get)
  t0=$(date +%s.%N)
  timeout 300 "$FERRY" get -q -o "$BENCH_TMP/got/$f" "http://127.0.0.1:${PORT[ferry-noscan]}/$f" ||
    die "ferry get failed"
  t1=$(date +%s.%N)
  rm -f "$BENCH_TMP/www/$f" "$BENCH_TMP/got/$f"
  calc "$t1 - $t0" 3
}

min() { awk -v a="$1" -v b="$2" 'BEGIN { print (b == "" || a < b) ? a : b }'; }
ms() { calc "$1 * 1000" 1; }

echo "### The first download of a fresh large file, with its digest (bench/digest_first.sh)"
echo
echo "$(machine_line). Best of $RUNS runs; each download of a fresh copy."
for size in $SIZES; do
  log "digest_first: writing $size of random data"
  head -c "$size" /dev/urandom >"$BENCH_TMP/base.bin"
  BYTES=$(stat -c %s "$BENCH_TMP/base.bin")
  declare -A TTFB=() TOTAL=()
  GET=
  for r in $(seq "$RUNS"); do
    for n in "${names[@]}"; do
      read -r a b <<<"$(curl_one "$n")"
      log "digest_first: $size round $r $n first byte ${a}s, total ${b}s"
      TTFB[$n]=$(min "$a" "${TTFB[$n]:-}")
      TOTAL[$n]=$(min "$b" "${TOTAL[$n]:-}")
    done
    g=$(get_one)
    log "digest_first: $size round $r ferry get ${g}s"
    GET=$(min "$g" "$GET")
  done
  rm -f "$BENCH_TMP/base.bin"
  echo
  echo "$size ($BYTES bytes):"
  echo
  echo "| server, client | digest | first byte (ms) | total (s) | total / nginx's |"
  echo "| --- | --- | --- | --- | --- |"
  echo "| ferry serve, curl | trailer | $(ms "${TTFB[ferry]}") | $(calc "${TOTAL[ferry]}" 3) | $(calc "${TOTAL[ferry]} / ${TOTAL[nginx]}" 2) |"
  echo "| ferry serve --no-digest-scan, curl | trailer | $(ms "${TTFB[ferry-noscan]}") | $(calc "${TOTAL[ferry-noscan]}" 3) | $(calc "${TOTAL[ferry-noscan]} / ${TOTAL[nginx]}" 2) |"
  echo "| ferry serve, curl, the digest known | in the head | $(ms "${TTFB[ferry-known]}") | $(calc "${TOTAL[ferry-known]}" 3) | $(calc "${TOTAL[ferry-known]} / ${TOTAL[nginx]}" 2) |"
  echo "| nginx, curl | none | $(ms "${TTFB[nginx]}") | $(calc "${TOTAL[nginx]}" 3) | 1.00 |"
  echo "| ferry serve --no-digest-scan, ferry get (checked, to a file) | trailer | | $GET | $(calc "$GET / ${TOTAL[nginx]}" 2) |"
done
