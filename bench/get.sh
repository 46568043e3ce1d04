#!/usr/bin/env bash
# ferry get against curl and wget, same server (ferry serve), same run.
#   1. one 1 GiB file to /dev/null and to a file
#   2. 1,000 files of 4 KiB, all URLs in one call, saved on disk and on tmpfs
# The tools take turns, ROUNDS rounds (default 5); each cell is the median
# wall time, with the best in brackets, and the client's own CPU time
# (user + system, median). Ratios are of the medians.
# Usage: bash bench/get.sh   (from the repository root, after make)
# Loopback only; every command is bounded by `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."
FERRY=${FERRY:-$PWD/build/ferry}
ROUNDS=${ROUNDS:-5}
WORK=$(mktemp -d /tmp/ferry-bench-get.XXXXXX)
SHM=""
if [ -d /dev/shm ] && [ -w /dev/shm ]; then SHM=$(mktemp -d /dev/shm/ferry-bench-get.XXXXXX); fi
trap 'kill $SRV 2>/dev/null || true; rm -rf "$WORK" ${SHM:+"$SHM"}' EXIT
mkdir -p "$WORK/www/small" "$WORK/out"
head -c 1G /dev/urandom > "$WORK/www/big.bin"
for i in $(seq 1 1000); do head -c 4096 /dev/urandom > "$WORK/www/small/f$i.bin"; done
cat "$WORK/www/big.bin" > /dev/null # warm the page cache

"$FERRY" serve -q -p 0 -b 127.0.0.1 "$WORK/www" > "$WORK/serve.log" 2>&1 &
SRV=$!
for _ in $(seq 50); do grep -q serving "$WORK/serve.log" 2>/dev/null && break; sleep 0.1; done
BASE=$(grep -m1 serving "$WORK/serve.log" | awk '{print $NF}')
# The server's first pass hashes the fresh tree at nice 19 (about 4 s of a
# core for the 1 GiB file): measuring while it runs takes a core from every
# tool on a small machine, and ferry get's first downloads of big.bin would
# get its digest in a trailer (hashed beside the send) rather than in the
# head. The clients are compared once it is done (at most 120 s).
for _ in $(seq 1200); do grep -q "first pass done" "$WORK/serve.log" 2>/dev/null && break; sleep 0.1; done
grep -q "first pass done" "$WORK/serve.log" || echo "bench: the server's first digest pass did not end in 120 s" >&2

urls=()
for i in $(seq 1 1000); do urls+=("${BASE}small/f$i.bin"); done
printf '%s\n' "${urls[@]}" > "$WORK/urls.txt"

# The command for tool $1 in test $2, output directory $3.
cmd_for() {
  local tool=$1 test=$2 dir=$3
  case $tool.$test in
    ferry.null) echo "$FERRY" get -q -o /dev/null "${BASE}big.bin";;
    ferry.file) echo "$FERRY" get -q -f -o "$dir/big.bin" "${BASE}big.bin";;
    ferry.many|ferry.shm) echo "$FERRY" get -q -O "$dir" "${urls[@]}";;
    ferry-nopipe.many|ferry-nopipe.shm) echo "$FERRY" get -q --no-pipeline -O "$dir" "${urls[@]}";;
    curl.null) echo curl -s -o /dev/null "${BASE}big.bin";;
    curl.file) echo curl -s -o "$dir/big.bin" "${BASE}big.bin";;
    curl.many|curl.shm) echo curl -s --remote-name-all --output-dir "$dir" "${urls[@]}";;
    wget.null) echo wget -q -O /dev/null "${BASE}big.bin";;
    wget.file) echo wget -q -O "$dir/big.bin" "${BASE}big.bin";;
    wget.many|wget.shm) echo wget -q -P "$dir" -i "$WORK/urls.txt";;
  esac
}

# One timed run: prints "wall cpu" in seconds (cpu = the child's user + sys).
# The output directory $1 is new and left in place: deleting files on this
# machine's ext4 (mounted with discard) makes the next thousand file
# creations 20 to 30 times slower, which would measure the disk, not the
# tools. With KEEP=0 it is removed after the run (the 1 GiB file).
one_run() {
  local dir=$1 keep=$2; shift 2
  mkdir -p "$dir"
  sync; sleep 0.3 # the last run's writeback out of the way
  local TIMEFORMAT='%R %U %S' t
  t=$( { time timeout 120 "$@" > /dev/null 2>&1; } 2>&1 ) || true
  [ "$keep" = 1 ] || rm -rf "$dir"
  echo "$t" | awk '{printf "%.3f %.3f\n", $1, $2 + $3}'
}

median() { sort -n | awk '{a[NR]=$1} END{print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
best() { sort -n | head -1; }

declare -A WALL CPU
TESTS="many"
[ -n "$SHM" ] && TESTS="$TESTS shm"
TESTS="$TESTS null file"
# The small-file tests first, before any file is deleted (see one_run).
for phase in small big; do
  for round in $(seq "$ROUNDS"); do
    for test in $TESTS; do
      case $phase.$test in small.many|small.shm|big.null|big.file) ;; *) continue;; esac
      tools="ferry curl wget"
      keep=0
      case $test in many|shm) tools="ferry ferry-nopipe curl wget"; keep=1;; esac
      for tool in $tools; do
        dir="$WORK/out/$test.$tool.$round"
        [ "$test" = shm ] && dir="$SHM/$tool.$round"
        # shellcheck disable=SC2046
        read -r w c < <(one_run "$dir" "$keep" $(cmd_for "$tool" "$test" "$dir"))
        WALL[$tool.$test]+="$w "
        CPU[$tool.$test]+="$c "
      done
    done
    echo "$phase round $round done" >&2
  done
done

cell() { # median wall (best) and median CPU of $1
  local m b c
  m=$(echo "${WALL[$1]}" | tr ' ' '\n' | grep . | median)
  b=$(echo "${WALL[$1]}" | tr ' ' '\n' | grep . | best)
  c=$(echo "${CPU[$1]}" | tr ' ' '\n' | grep . | median)
  printf '%.3f (%.3f) / %.2f' "$m" "$b" "$c"
}
med() { echo "${WALL[$1]}" | tr ' ' '\n' | grep . | median; }
cmed() { echo "${CPU[$1]}" | tr ' ' '\n' | grep . | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "-" }'; }

echo "| test | ferry get | curl | wget | ferry/curl wall | ferry/wget wall | ferry/curl CPU |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for k in null file many ${SHM:+shm}; do
  case $k in
    null) name="1 GiB to /dev/null";;
    file) name="1 GiB to a file (disk)";;
    many) name="1,000 x 4 KiB, one call (disk)";;
    shm) name="1,000 x 4 KiB, one call (tmpfs)";;
  esac
  echo "| $name | $(cell ferry.$k) | $(cell curl.$k) | $(cell wget.$k) | $(ratio "$(med ferry.$k)" "$(med curl.$k)") | $(ratio "$(med ferry.$k)" "$(med wget.$k)") | $(ratio "$(cmed ferry.$k)" "$(cmed curl.$k)") |"
  case $k in many|shm)
    echo "| ... ferry get --no-pipeline | $(cell ferry-nopipe.$k) | | | $(ratio "$(med ferry-nopipe.$k)" "$(med curl.$k)") | $(ratio "$(med ferry-nopipe.$k)" "$(med wget.$k)") | $(ratio "$(cmed ferry-nopipe.$k)" "$(cmed curl.$k)") |";;
  esac
done
echo
echo "(cells: median wall seconds (best) / median client CPU seconds, $ROUNDS rounds, tools alternating;"
echo "ratios of medians, below 1.00 means ferry get was faster or used less CPU; $(date -u +%F), $(nproc) cores, $(uname -r))"

# Memory: the client's peak RSS (GNU time's %M, KiB) for a small and a large
# file; it should not grow with the file.
if [ -x /usr/bin/time ]; then
  peak() { /usr/bin/time -f %M timeout 120 "$@" 2>&1 >/dev/null | tail -1; }
  echo
  echo "| peak RSS (KiB) | one 4 KiB file | 1 GiB to /dev/null | 1 GiB to a file |"
  echo "| --- | --- | --- | --- |"
  for tool in ferry curl wget; do
    d="$WORK/out/rss.$tool"; mkdir -p "$d"
    # shellcheck disable=SC2046
    small=$(peak $(cmd_for "$tool" file "$d" | sed "s|${BASE}big.bin|${BASE}small/f1.bin|"))
    # shellcheck disable=SC2046
    null=$(peak $(cmd_for "$tool" null "$d"))
    # shellcheck disable=SC2046
    file=$(peak $(cmd_for "$tool" file "$d"))
    rm -rf "$d"
    echo "| $tool | $small | $null | $file |"
  done
fi
