#!/usr/bin/env bash
# ferry get against curl and wget, same server (ferry serve), same run.
#   1. one 1 GiB file to /dev/null and to a file (best of 3 each, alternating)
#   2. 1,000 files of 4 KiB, all URLs in one call
# Usage: bash bench/get.sh   (from the repository root, after make)
# Loopback only; every step is bounded by `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."
FERRY=${FERRY:-$PWD/build/ferry}
WORK=$(mktemp -d /tmp/ferry-bench-get.XXXXXX)
trap 'kill $SRV 2>/dev/null || true; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/www/small" "$WORK/out"
head -c 1G /dev/urandom > "$WORK/www/big.bin"
for i in $(seq 1 1000); do head -c 4096 /dev/urandom > "$WORK/www/small/f$i.bin"; done
cat "$WORK/www/big.bin" > /dev/null # warm the page cache

"$FERRY" serve -q -p 0 -b 127.0.0.1 "$WORK/www" > "$WORK/serve.log" 2>&1 &
SRV=$!
for _ in $(seq 50); do grep -q serving "$WORK/serve.log" 2>/dev/null && break; sleep 0.1; done
BASE=$(head -1 "$WORK/serve.log" | awk '{print $NF}')

# best of N runs of a command, in seconds
best() {
  local n=$1; shift
  local b=999999
  for _ in $(seq "$n"); do
    local t0 t1
    t0=$(date +%s.%N)
    timeout 120 "$@" > /dev/null 2>&1
    t1=$(date +%s.%N)
    b=$(echo "$t1 - $t0" | bc -l | awk -v b="$b" '{print ($1 < b) ? $1 : b}')
    rm -f "$WORK/out/"* 2>/dev/null || true
  done
  printf '%.3f' "$b"
}

declare -A T
for round in 1 2 3; do
  for tool in ferry curl wget; do
    case $tool in
      ferry) null=("$FERRY" get -q -o /dev/null "${BASE}big.bin"); file=("$FERRY" get -q -f -o "$WORK/out/big.bin" "${BASE}big.bin");;
      curl)  null=(curl -s -o /dev/null "${BASE}big.bin"); file=(curl -s -o "$WORK/out/big.bin" "${BASE}big.bin");;
      wget)  null=(wget -q -O /dev/null "${BASE}big.bin"); file=(wget -q -O "$WORK/out/big.bin" "${BASE}big.bin");;
    esac
    t=$(best 1 "${null[@]}"); T[$tool.null]=$(awk -v a="${T[$tool.null]:-999999}" -v b="$t" 'BEGIN{print (b < a) ? b : a}')
    t=$(best 1 "${file[@]}"); T[$tool.file]=$(awk -v a="${T[$tool.file]:-999999}" -v b="$t" 'BEGIN{print (b < a) ? b : a}')
  done
done

urls=()
for i in $(seq 1 1000); do urls+=("${BASE}small/f$i.bin"); done
printf '%s\n' "${urls[@]}" > "$WORK/urls.txt"
for tool in ferry curl wget; do
  case $tool in
    ferry) cmd=("$FERRY" get -q -O "$WORK/out" "${urls[@]}");;
    curl)  cmd=(curl -s --remote-name-all --output-dir "$WORK/out" "${urls[@]}");;
    wget)  cmd=(wget -q -P "$WORK/out" -i "$WORK/urls.txt");;
  esac
  T[$tool.many]=$(best 3 "${cmd[@]}")
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a / b}'; }
echo "| test | ferry get (s) | curl (s) | wget (s) | ferry/curl | ferry/wget |"
echo "| --- | --- | --- | --- | --- | --- |"
for k in null file many; do
  case $k in null) name="1 GiB to /dev/null";; file) name="1 GiB to a file";; many) name="1,000 x 4 KiB, one call";; esac
  echo "| $name | ${T[ferry.$k]} | ${T[curl.$k]} | ${T[wget.$k]} | $(ratio "${T[ferry.$k]}" "${T[curl.$k]}") | $(ratio "${T[ferry.$k]}" "${T[wget.$k]}") |"
done
echo
echo "(time ratios: below 1.00 means ferry get was faster; best of 3; $(date -u +%F), $(nproc) cores, $(uname -r))"
