#!/usr/bin/env bash
# The quiet gap that ends a raw name without CR/LF/NUL (ferry serve --raw-gap):
#  1. how far apart the pieces of one name arrive, over a veth pair between
#     two network namespaces made here, shaped with tbf to a few link rates
#     (needs root, iproute2; removed at the end). A link's delay does not
#     space the pieces of one send: 4 KiB fit the initial congestion window,
#     so they leave in one flight and only the link rate spreads them (this
#     kernel has no netem anyway);
#  2. what the gap costs a classic client on loopback: the time from sending
#     an unterminated name to the first byte of the file, with ferry's default
#     gap, against a name sent with a LF (no wait).
# Usage: bash bench/rawgap.sh   (FERRY=build/ferry, COUNT=5 names per rate)
set -euo pipefail
cd "$(dirname "$0")/.."
FERRY=${FERRY:-build/ferry}
COUNT=${COUNT:-5}
PY=/usr/bin/python3
A=ferrygapa$$ B=ferrygapb$$

cleanup() { ip netns del "$A" 2>/dev/null || true; ip netns del "$B" 2>/dev/null || true; }
trap cleanup EXIT

echo "== 1. pieces of a 4096-byte name sent in one send(), MTU 1500"
ip netns add "$A"; ip netns add "$B"
ip link add va netns "$A" type veth peer name vb netns "$B"
ip -n "$A" addr add 10.77.0.1/24 dev va; ip -n "$B" addr add 10.77.0.2/24 dev vb
ip -n "$A" link set va up; ip -n "$B" link set vb up
ip -n "$A" link set lo up; ip -n "$B" link set lo up
printf '%-12s %s\n' rate "largest gap between pieces (ms, worst of $COUNT)"
for rate in 100mbit 10mbit 2mbit 1mbit 512kbit 256kbit 128kbit; do
  for mtu in 1500; do
    ip -n "$A" link set va mtu "$mtu"
    ip netns exec "$A" tc qdisc replace dev va root tbf rate "$rate" burst 1540 latency 5s
    ip netns exec "$B" timeout 60 "$PY" bench/rawgap.py serve 10.77.0.2 9100 "$COUNT" > /tmp/rawgap.$$ &
    spid=$!
    sleep 0.3
    ip netns exec "$A" timeout 60 "$PY" bench/rawgap.py send 10.77.0.2 9100 "$COUNT" 4096
    wait "$spid"
    printf '%-12s %s\n' "$rate" "$(sed -n 's/^WORST //p' /tmp/rawgap.$$)"
  done
done
rm -f /tmp/rawgap.$$

echo "== 2. what the default gap costs on loopback (median of 20, ms to the first byte)"
dir=$(mktemp -d); printf 'x' > "$dir/f"
"$FERRY" serve -q -p 0 -b 127.0.0.1 --threads 1 "$dir" > "$dir/out" &
fpid=$!
for _ in $(seq 50); do grep -q serving "$dir/out" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/.*:\([0-9]*\)\/$/\1/p' "$dir/out" | head -1)
"$PY" - "$port" <<'PYEOF'
import socket, statistics, sys, time
port = int(sys.argv[1])
def once(name):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    t = time.monotonic(); s.sendall(name); s.recv(1); d = time.monotonic() - t
    s.close(); return d * 1000
for label, name in (("name + LF", b"f\n"), ("name alone", b"f")):
    print(f"{label:12} {statistics.median(once(name) for _ in range(20)):.2f}")
PYEOF
kill "$fpid"; wait "$fpid" 2>/dev/null || true; rm -rf "$dir"
