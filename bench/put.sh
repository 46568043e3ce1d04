#!/usr/bin/env bash
# Uploads, same run: ferry put and curl -T, to ferry serve --upload and to
# nginx (dav_methods PUT), and resuming a cut upload.
#
#   1. one SIZE file (default 512M, random, in the page cache) uploaded by
#      each client to each server; ROUNDS rounds (default 3), tools taking
#      turns; median wall time and the client's CPU (user + system).
#   2. the same file after an upload was cut at half: `ferry put -c` sends
#      the second half (the server asks for the offset), where curl, which
#      has no standard way to resume an HTTP upload, sends it all again.
#
# ferry put also hashes the file first (Repr-Digest) and the server checks
# it, so row 1 includes that work; curl sends no digest.
# Usage: bash bench/put.sh   (after make; prints a markdown section)
# Env: SIZE=512M, ROUNDS=3, STORE=disk (the servers write under /tmp; ferry
# syncs an upload before it renames it, nginx does not) or STORE=shm (under
# /dev/shm, where a sync costs nothing: the HTTP and copying work alone).
# Loopback only; every command is bounded.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need_tools "$NGINX" curl openssl "$PY"
SIZE=${SIZE:-512M}
ROUNDS=${ROUNDS:-3}

bench_tmp put
head -c "$SIZE" /dev/urandom >"$BENCH_TMP/up.bin"
BYTES=$(stat -c %s "$BENCH_TMP/up.bin")
HALF=$((BYTES / 2))
head -c "$HALF" "$BENCH_TMP/up.bin" >"$BENCH_TMP/half.bin"
cat "$BENCH_TMP/up.bin" "$BENCH_TMP/half.bin" >/dev/null # warm the page cache
# The digest ferry put sends, computed once here for curl (not timed), so
# that a row shows the server's check alone.
DIGEST="sha-256=:$(openssl dgst -sha256 -binary "$BENCH_TMP/up.bin" | base64 -w0):"
STORE=${STORE:-disk}
ROOTS=$BENCH_TMP
if [ "$STORE" = shm ]; then
  ROOTS=$(mktemp -d /dev/shm/ferry-bench-put.XXXXXX) || die "no /dev/shm"
  trap 'bench_cleanup; rm -rf "$ROOTS"' EXIT
fi
mkdir -p "$ROOTS/ferry-root" "$ROOTS/nginx-root" "$ROOTS/nginx-body"
chmod 755 "$ROOTS"
chmod 777 "$ROOTS/nginx-root" "$ROOTS/nginx-body" # nginx's workers write there

start_ferry "$ROOTS/ferry-root" --upload --max-upload 4G
FPORT=$SRV_PORT
# nginx keeps its body files on the same file system as the target, so its
# last step is a rename too, as ferry's is.
start_nginx "$ROOTS/nginx-root" 60s "" "dav_methods PUT; client_max_body_size 4g; client_body_buffer_size 1m; client_body_temp_path $ROOTS/nginx-body;"
NPORT=$SRV_PORT
chmod -R 777 "$BENCH_TMP"/nginx.*/tmp 2>/dev/null || true

# run NAME CMD...: the wall and CPU seconds of one command, as "wall cpu".
run() {
  /usr/bin/time -o "$BENCH_TMP/time" -f '%e %U %S' timeout 300 "$@" >/dev/null 2>"$BENCH_TMP/cmd.err" ||
    { cat "$BENCH_TMP/cmd.err" >&2; die "failed: $*"; }
  awk '{ printf "%.3f %.2f\n", $1, $2 + $3 }' "$BENCH_TMP/time"
}

check() { # check FILE: the upload arrived whole
  cmp -s "$1" "$BENCH_TMP/up.bin" || die "$1 is not the file uploaded"
}

declare -A WALL CPU
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
add() { WALL[$1]="${WALL[$1]:-} $2"; CPU[$1]="${CPU[$1]:-} $3"; }

for r in $(seq "$ROUNDS"); do
  read -r w c <<<"$(run "$FERRY" put -q "$BENCH_TMP/up.bin" "http://127.0.0.1:$FPORT/a.bin")"
  check "$ROOTS/ferry-root/a.bin"; add ferry-ferry "$w" "$c"
  read -r w c <<<"$(run curl -sf -T "$BENCH_TMP/up.bin" "http://127.0.0.1:$FPORT/b.bin")"
  check "$ROOTS/ferry-root/b.bin"; add curl-ferry "$w" "$c"
  read -r w c <<<"$(run curl -sf -T "$BENCH_TMP/up.bin" -H "Repr-Digest: $DIGEST" "http://127.0.0.1:$FPORT/e.bin")"
  check "$ROOTS/ferry-root/e.bin"; add curl+digest-ferry "$w" "$c"
  read -r w c <<<"$(run curl -sf -T "$BENCH_TMP/up.bin" "http://127.0.0.1:$NPORT/c.bin")"
  check "$ROOTS/nginx-root/c.bin"; add curl-nginx "$w" "$c"
  read -r w c <<<"$(run "$FERRY" put -q "$BENCH_TMP/up.bin" "http://127.0.0.1:$NPORT/d.bin")"
  check "$ROOTS/nginx-root/d.bin"; add ferry-nginx "$w" "$c"
  # The cut upload: its first half, then the rest with -c.
  loc=$(curl -sf -o /dev/null -D - -X POST -H 'Upload-Complete: ?0' -H "Upload-Length: $BYTES" \
    --data-binary @"$BENCH_TMP/half.bin" "http://127.0.0.1:$FPORT/r.bin" |
    tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }' | tail -1)
  [ -n "$loc" ] || die "no upload created"
  read -r w c <<<"$(run "$FERRY" put -q -c "$BENCH_TMP/up.bin" "http://127.0.0.1:$FPORT$loc")"
  check "$ROOTS/ferry-root/r.bin"; add resume "$w" "$c"
  rm -f "$ROOTS"/ferry-root/*.bin "$ROOTS"/nginx-root/*.bin
  log "put: round $r done"
done

m() { median "${WALL[$1]}"; }
mc() { median "${CPU[$1]}"; }
mib() { calc "$BYTES / 1048576 / $1" 0; }
echo "### Uploads: ferry put and curl -T, ferry serve --upload and nginx dav (bench/put.sh)"
echo
echo "$(calc "$BYTES / 1048576" 0) MiB, stored on $STORE, median of $ROUNDS rounds (wall seconds; MiB/s; client CPU seconds)."
echo
echo "| client -> server | wall (s) | MiB/s | client CPU (s) |"
echo "| --- | --- | --- | --- |"
for k in ferry-ferry curl-ferry curl+digest-ferry ferry-nginx curl-nginx; do
  label="${k%-*} -> ${k##*-}"
  [ "$k" = curl+digest-ferry ] && label="curl -T with Repr-Digest (the server checks it) -> ferry"
  echo "| $label | $(m "$k") | $(mib "$(m "$k")") | $(mc "$k") |"
done
echo "| ferry put -c after a cut at half -> ferry | $(m resume) | - | $(mc resume) |"
echo
echo "Ratios: ferry serve/nginx with curl $(calc "$(m curl-ferry) / $(m curl-nginx)") (wall; under 1 is faster);"
echo "ferry put/curl to ferry serve $(calc "$(m ferry-ferry) / $(m curl-ferry)"), and against curl sending the same"
echo "Repr-Digest (so the server checks it too) $(calc "$(m ferry-ferry) / $(m curl+digest-ferry)");"
echo "resuming the second half with ferry put -c / sending it all again with curl -T $(calc "$(m resume) / $(m curl-ferry)")."
summary_row "upload $(calc "$BYTES / 1048576" 0) MiB to $STORE, curl -T (s)" "$(m curl-ferry)" "$(m curl-nginx)" "-" \
  "$(calc "$(m curl-ferry) / $(m curl-nginx)")" "-"
