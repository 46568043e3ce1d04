#!/usr/bin/env bash
# The listing page uploading SIZE (default 1G) through headless chromium to
# ferry serve: as the page does it (a resumable upload in parts of PART,
# default 16M, each with its Content-Digest), against the same page sending
# the file in one PUT (the page before issue 19), and against curl -T; also
# the page hashing one part ahead (as before) and without digests. The
# tools take turns, ROUNDS rounds (default 3); median and best wall time.
# Usage: bash bench/upload_page.sh   (from the repository root, after make)
# Loopback only; every upload is bounded (bench/upload_page.py).
set -euo pipefail
cd "$(dirname "$0")/.."
FERRY=${FERRY:-$PWD/build/ferry}
SIZE=${SIZE:-1G}
PART=${PART:-16M}
ROUNDS=${ROUNDS:-3}
PYTHON=${PYTHON:-/usr/bin/python3}
WORK=$(mktemp -d /tmp/ferry-bench-upload-page.XXXXXX)
SRV=""
trap '[ -z "$SRV" ] || kill $SRV 2>/dev/null || true; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/www" "$WORK/src"
head -c "$SIZE" /dev/urandom > "$WORK/src/big.bin"

"$FERRY" serve -q -p 0 -b 127.0.0.1 --upload --max-upload 4G --upload-part "$PART" \
  "$WORK/www" > "$WORK/serve.log" 2>&1 &
SRV=$!
for _ in $(seq 50); do grep -q serving "$WORK/serve.log" 2>/dev/null && break; sleep 0.1; done
BASE=$(grep -m1 serving "$WORK/serve.log" | awk '{print $NF}')

echo "ferry $("$FERRY" --version 2>/dev/null | head -1); chromium $(chromium --version 2>/dev/null | awk '{print $2}'); file $SIZE, part $PART, $ROUNDS rounds; $(nproc) cores"
timeout 7200 "$PYTHON" bench/upload_page.py "$BASE" "$WORK/src/big.bin" "$WORK/www" "$ROUNDS"
