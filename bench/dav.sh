#!/usr/bin/env bash
# WebDAV: ferry serve --upload against Apache 2.4 with mod_dav (Debian
# apache2, started here on loopback with its own small config), same run.
#   propfind: PROPFIND Depth 1 of a folder of N files (default 10000),
#             ROUNDS times each (curl), median wall time; the server's peak
#             memory (VmHWM; for Apache the sum over its processes).
#   rclone up / down: `rclone copy` of M small files (default 1000, 4 KiB)
#             to the server and back into a new local folder (webdav remote,
#             vendor other), ROUNDS times each, median wall time; the copy
#             back is compared with the original byte for byte. Also the
#             server's CPU seconds over each (rclone paces its calls, so
#             its wall time is mostly its own; the CPU is the server's).
#   curl up / down: the same files by curl, 4 connections, each PUTting
#             (GETting) a quarter of the files in turn (rclone paces its calls
#             10 ms apart, so its rows say little of the server).
# Prints one row per measure with ferry's time over Apache's (goal: at most
# 0.5).
# Usage: N=10000 M=1000 ROUNDS=3 bash bench/dav.sh   (repository root, after make;
#        RCLONE_ROUNDS=0 leaves rclone out)
# Loopback only; every command is bounded by `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."
FERRY=${FERRY:-$PWD/build/ferry}
N=${N:-10000}
M=${M:-1000}
ROUNDS=${ROUNDS:-3}
RCLONE_ROUNDS=${RCLONE_ROUNDS:-$ROUNDS} # 0: no rclone rows (they take minutes)
for t in curl rclone; do
  command -v "$t" >/dev/null || { echo "bench: $t missing (make deps-bench)" >&2; exit 1; }
done
[ -x /usr/sbin/apache2 ] || { echo "bench: apache2 missing (make deps-bench)" >&2; exit 1; }
[ -x "$FERRY" ] || { echo "bench: no $FERRY (run make first)" >&2; exit 1; }
MODS=/usr/lib/apache2/modules
WORK=$(mktemp -d /tmp/ferry-bench-dav.XXXXXX)
chmod 755 "$WORK"
FSRV="" ; APID=""
cleanup() {
  [ -n "$FSRV" ] && kill "$FSRV" 2>/dev/null
  [ -f "$WORK/httpd.pid" ] && kill "$(cat "$WORK/httpd.pid")" 2>/dev/null
  sleep 0.2
  rm -rf "$WORK"
}
trap cleanup EXIT

# The same trees under both servers' roots.
mkdir -p "$WORK/ferry/big" "$WORK/apache/big" "$WORK/src" "$WORK/lock"
for i in $(seq 1 "$N"); do : > "$WORK/ferry/big/f$i.txt"; done
cp -a "$WORK/ferry/big/." "$WORK/apache/big/"
for i in $(seq 1 "$M"); do
  d="$WORK/src/d$(( i % 10 ))"
  mkdir -p "$d"
  head -c 4096 /dev/urandom > "$d/f$i.bin"
done

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Apache: mod_dav with mod_dav_fs, the event MPM, as unprivileged as it can
# be (User nobody when run as root).
APORT=$(free_port)
if [ "$(id -u)" = 0 ]; then
  chown -R nobody:nogroup "$WORK/apache" "$WORK/lock"
  USERLINES=$'User nobody\nGroup nogroup'
else
  USERLINES=""
fi
cat > "$WORK/httpd.conf" <<EOF
ServerRoot "$WORK"
ServerName 127.0.0.1
Listen 127.0.0.1:$APORT
PidFile $WORK/httpd.pid
ErrorLog $WORK/apache-error.log
TypesConfig /etc/mime.types
LoadModule mpm_event_module $MODS/mod_mpm_event.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule dav_module $MODS/mod_dav.so
LoadModule dav_fs_module $MODS/mod_dav_fs.so
LoadModule mime_module $MODS/mod_mime.so
$USERLINES
DavLockDB $WORK/lock/DavLock
DocumentRoot $WORK/apache
<Directory $WORK/apache>
  Dav On
  Require all granted
</Directory>
EOF
timeout 10 /usr/sbin/apache2 -f "$WORK/httpd.conf" -k start
for _ in $(seq 50); do [ -f "$WORK/httpd.pid" ] && break; sleep 0.1; done
AURL="http://127.0.0.1:$APORT/"

"$FERRY" serve -q --upload -p 0 -b 127.0.0.1 "$WORK/ferry" > "$WORK/serve.log" 2>&1 &
FSRV=$!
for _ in $(seq 50); do grep -q serving "$WORK/serve.log" 2>/dev/null && break; sleep 0.1; done
FURL=$(grep -m1 serving "$WORK/serve.log" | awk '{print $NF}')

median() { sort -n | awk '{a[NR]=$1} END{print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
# Peak resident memory in KiB of a process (ferry) or of every process of
# Apache's process group.
hwm() {
  local total=0 p
  for p in "$@"; do
    v=$(awk '/VmHWM/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    total=$(( total + ${v:-0} ))
  done
  echo "$total"
}
apache_pids() { pgrep -f "apache2 -f $WORK/httpd.conf" | tr '\n' ' '; }

# prints wall seconds of the command (a shell function: each bounds its own
# time, since timeout(1) cannot run a function); its output goes to $WORK/last.log
timed() {
  local TIMEFORMAT='%R' t
  t=$( { time ("$@" > "$WORK/last.log" 2>&1); } 2>&1 ) || true
  echo "$t"
}

propfind() { curl -sf --max-time 600 -X PROPFIND -H 'Depth: 1' -o /dev/null "$1big/"; }
# A check that both answer a PROPFIND with 207 and every file.
for u in "$FURL" "$AURL"; do
  got=$(curl -s -X PROPFIND -H 'Depth: 1' "${u}big/" | grep -o '<[^>]*href>' | grep -vc '/href>' || true)
  [ "$got" -ge "$N" ] || { echo "bench: PROPFIND on $u listed $got of $N" >&2; exit 1; }
done

declare -A T
for r in $(seq 1 "$ROUNDS"); do
  T[pf_ferry]+="$(timed propfind "$FURL") "
  T[pf_apache]+="$(timed propfind "$AURL") "
done
MEM_F=$(hwm "$FSRV")
MEM_A=$(hwm $(apache_pids))

rc() { # rclone with a webdav remote for the URL in $1; then its args
  local url=$1; shift
  timeout 600 env RCLONE_CONFIG_B_TYPE=webdav RCLONE_CONFIG_B_URL="$url" RCLONE_CONFIG_B_VENDOR=other \
    rclone --config /dev/null --transfers 4 --checkers 4 "$@"
}
# CPU seconds (user + system) the server's processes used so far: ferry's
# one, Apache's all (those that came and went meanwhile are not counted).
cpu_of() {
  local p total=0 hz
  hz=$(getconf CLK_TCK)
  for p in "$@"; do
    total=$(( total + $(awk '{print $14 + $15 + $16 + $17}' "/proc/$p/stat" 2>/dev/null || echo 0) ))
  done
  echo "scale=3; $total / $hz" | bc -l
}
server_cpu() { if [ "$1" = ferry ]; then cpu_of "$FSRV"; else cpu_of $(apache_pids); fi; }
declare -A C
for r in $(seq 1 "$RCLONE_ROUNDS"); do
  for s in ferry apache; do
    url=$FURL; [ $s = apache ] && url=$AURL
    c0=$(server_cpu $s)
    T[up_$s]+="$(timed rc "$url" copy "$WORK/src" "b:up$r") "
    c1=$(server_cpu $s)
    T[down_$s]+="$(timed rc "$url" copy "b:up$r" "$WORK/back-$s-$r") "
    c2=$(server_cpu $s)
    C[up_$s]+="$(echo "$c1 - $c0" | bc -l) "
    C[down_$s]+="$(echo "$c2 - $c1" | bc -l) "
    diff -r "$WORK/src" "$WORK/back-$s-$r" > /dev/null || {
      echo "bench: $s round $r: the copy back differs" >&2; tail -20 "$WORK/last.log" >&2; exit 1; }
  done
done

# The same transfers without rclone: rclone's WebDAV backend paces its
# calls (at least 10 ms apart, all transfers together; not settable in
# Debian's 1.60), so the rows above measure mostly that pace. Here curl
# makes them: MKCOL of each folder, then four curls at once, each PUTting
# (or GETting) its share of the files in turn on one kept-alive connection.
curl_cfg() { # up|down url dest [back]: four curl configs (the folders dealt out), $WORK/cfg-*
  local mode=$1 url=$2 dest=$3 d f k=0
  rm -f "$WORK"/cfg-*
  for d in "$WORK/src"/*/; do
    d=$(basename "$d")
    k=$(( (k + 1) % 4 ))
    for f in "$WORK/src/$d"/*; do
      f=$(basename "$f")
      if [ "$mode" = up ]; then
        printf 'upload-file = "%s"\nurl = "%s%s/%s/%s"\n' "$WORK/src/$d/$f" "$url" "$dest" "$d" "$f"
      else
        printf 'output = "%s/%s/%s"\nurl = "%s%s/%s/%s"\n' "$WORK/$4" "$d" "$f" "$url" "$dest" "$d" "$f"
      fi
    done >> "$WORK/cfg-$k"
  done
}
curl_up() { # url dest
  local d
  curl -sf --max-time 60 -X MKCOL -o /dev/null "$1$2/" || return 1
  for d in "$WORK/src"/*/; do
    curl -sf --max-time 60 -X MKCOL -o /dev/null "$1$2/$(basename "$d")/" || return 1
  done
  ls "$WORK"/cfg-* | timeout 600 xargs -P 4 -n 1 curl -sf --max-time 600 -o /dev/null -K
}
curl_down() { ls "$WORK"/cfg-* | timeout 600 xargs -P 4 -n 1 curl -sf --max-time 600 --create-dirs -K; }
for r in $(seq 1 "$ROUNDS"); do
  for s in ferry apache; do
    url=$FURL; [ $s = apache ] && url=$AURL
    curl_cfg up "$url" "cu$r"
    T[cup_$s]+="$(timed curl_up "$url" "cu$r") "
    curl_cfg down "$url" "cu$r" "cback-$s-$r"
    T[cdown_$s]+="$(timed curl_down) "
    diff -r "$WORK/src" "$WORK/cback-$s-$r" > /dev/null || {
      echo "bench: $s round $r: the curl copy back differs" >&2; tail -20 "$WORK/last.log" >&2; exit 1; }
  done
done

row() { # name key
  local f a
  f=$(echo ${T[$2_ferry]} | tr ' ' '\n' | median)
  a=$(echo ${T[$2_apache]} | tr ' ' '\n' | median)
  printf '%-34s ferry %7.3f s   apache %7.3f s   ratio %.2f\n' "$1" "$f" "$a" "$(echo "$f / $a" | bc -l)"
}
cpurow() { # name key: the servers' CPU seconds over the runs of row key
  local f a
  f=$(echo ${C[$2_ferry]} | tr ' ' '\n' | median)
  a=$(echo ${C[$2_apache]} | tr ' ' '\n' | median)
  printf '%-34s ferry %7.3f s   apache %7.3f s   ratio %.2f\n' "$1" "$f" "$a" "$(echo "$f / $a" | bc -l)"
}
echo "# bench/dav.sh N=$N M=$M ROUNDS=$ROUNDS ($(date -u +%F), $(nproc) cores)"
row "PROPFIND Depth 1, $N files" pf
first() { echo ${T[$1]} | awk '{print $1}'; }
printf '%-34s ferry %7.3f s   apache %7.3f s   ratio %.2f\n' "... the first round alone (cold)" \
  "$(first pf_ferry)" "$(first pf_apache)" "$(echo "$(first pf_ferry) / $(first pf_apache)" | bc -l)"
if [ "$RCLONE_ROUNDS" -gt 0 ]; then
  row "rclone copy up, $M files" up
  row "rclone copy down, $M files" down
  cpurow "server CPU in rclone copy up" up
  cpurow "server CPU in rclone copy down" down
fi
row "curl PUT (MKCOL first), $M files" cup
row "curl GET, $M files" cdown
printf '%-34s ferry %7d KiB apache %7d KiB (all processes)\n' "server peak memory (VmHWM)" "$MEM_F" "$MEM_A"
