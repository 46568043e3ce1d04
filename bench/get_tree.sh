#!/usr/bin/env bash
# ferry get -r against wget -r -np: one folder tree from ferry serve on
# loopback, same server, same run.
#   N small files (default 1000, 4 KiB each) in N/100 folders of 100 (at
#   least one folder), served by `ferry serve`; each tool downloads the
#   whole tree into a new folder:
#     ferry get -q -r URL/
#     wget -q -r -np URL/                        (as people type it)
#     wget -q -r -np --reject-regex '[?]' URL/   (told to skip ?sort and ?tar)
# The tools take turns, ROUNDS rounds (default 3); each cell is the median
# wall time (best in brackets) and the client's CPU time (user + system,
# median); then the files each left and whether ferry's tree is the served
# one byte for byte.
# Usage: N=1000 ROUNDS=3 bash bench/get_tree.sh   (from the repository root, after make)
# Loopback only; every command is bounded by `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."
FERRY=${FERRY:-$PWD/build/ferry}
N=${N:-1000}
ROUNDS=${ROUNDS:-3}
command -v wget >/dev/null || { echo "bench: wget missing (apt-get install -y wget)" >&2; exit 1; }
[ -x "$FERRY" ] || { echo "bench: no $FERRY (run make first)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/ferry-bench-tree.XXXXXX)
SRV=""
trap '[ -n "$SRV" ] && kill "$SRV" 2>/dev/null; rm -rf "$WORK"' EXIT
DIRS=$(( (N + 99) / 100 ))
mkdir -p "$WORK/www/tree" "$WORK/out"
for i in $(seq 1 "$N"); do
  d="$WORK/www/tree/d$(( (i - 1) % DIRS ))"
  mkdir -p "$d"
  head -c 4096 /dev/urandom > "$d/f$i.bin"
done

"$FERRY" serve -q -p 0 -b 127.0.0.1 "$WORK/www" > "$WORK/serve.log" 2>&1 &
SRV=$!
for _ in $(seq 50); do grep -q serving "$WORK/serve.log" 2>/dev/null && break; sleep 0.1; done
BASE=$(grep -m1 serving "$WORK/serve.log" | awk '{print $NF}')
URL="${BASE}tree/"

cmd_for() {
  case $1 in
    ferry) echo "$FERRY" get -q -r "$URL";;
    wget) echo wget -q -r -np "$URL";;
    wget-noquery) echo wget -q -r -np --reject-regex '[?]' "$URL";;
  esac
}

# One timed run in the new folder $1: prints "wall cpu" (seconds).
one_run() {
  local dir=$1; shift
  mkdir -p "$dir"
  sync; sleep 0.3
  local TIMEFORMAT='%R %U %S' t
  t=$( { time (cd "$dir" && timeout 300 "$@" > /dev/null 2>&1); } 2>&1 ) || true
  echo "$t" | awk '{printf "%.3f %.3f\n", $1, $2 + $3}'
}

median() { sort -n | awk '{a[NR]=$1} END{print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
best() { sort -n | head -1; }

declare -A WALL CPU
TOOLS="ferry wget wget-noquery"
for round in $(seq "$ROUNDS"); do
  for tool in $TOOLS; do
    # shellcheck disable=SC2046
    read -r w c < <(one_run "$WORK/out/$tool.$round" $(cmd_for "$tool"))
    WALL[$tool]+="$w "
    CPU[$tool]+="$c "
  done
  echo "round $round done" >&2
done

cell() {
  local m b c
  m=$(echo "${WALL[$1]}" | tr ' ' '\n' | grep . | median)
  b=$(echo "${WALL[$1]}" | tr ' ' '\n' | grep . | best)
  c=$(echo "${CPU[$1]}" | tr ' ' '\n' | grep . | median)
  printf '%.3f (%.3f) / %.2f' "$m" "$b" "$c"
}
med() { echo "${WALL[$1]}" | tr ' ' '\n' | grep . | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "-" }'; }
files() { find "$WORK/out/$1.1" -type f | wc -l; }
bytes() { du -sb "$WORK/out/$1.1" | awk '{print $1}'; }

same="no"
diff -r "$WORK/www/tree" "$WORK/out/ferry.1/tree" > /dev/null 2>&1 && same="yes"
echo "| $N x 4 KiB in $DIRS folders | wall s (best) / CPU s | files left | bytes left | ferry/this wall |"
echo "| --- | --- | --- | --- | --- |"
for tool in $TOOLS; do
  echo "| $(cmd_for "$tool" | sed "s|$FERRY|ferry|; s|$URL|URL|") | $(cell "$tool") | $(files "$tool") | $(bytes "$tool") | $(ratio "$(med ferry)" "$(med "$tool")") |"
done
echo
echo "(medians of $ROUNDS rounds, tools alternating; ferry's tree equals the served one: $same;"
echo "$(date -u '+%F %H:%M') UTC, $(nproc) cores, $(uname -r))"
