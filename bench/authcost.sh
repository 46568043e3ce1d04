#!/bin/sh
# The cost of one password check as ferry serve --auth runs it: crypt(3)
# from libxcrypt on a hash that `ferry passwd` made (yescrypt, default
# cost), and for comparison bcrypt cost 12 and sha512crypt. Prints the
# median milliseconds of N checks of each.
#   FERRY=build/ferry sh bench/authcost.sh [N]
set -eu
FERRY=${FERRY:-build/ferry}
N=${1:-20}
YES=$(printf 'bench-password\n' | "$FERRY" passwd bench | cut -d: -f2)
/usr/bin/python3 -W ignore - "$YES" "$N" <<'PY'
import crypt, statistics, sys, time
yes, n = sys.argv[1], int(sys.argv[2])
hashes = [("yescrypt (ferry passwd)", yes),
          ("bcrypt cost 12", crypt.crypt("bench-password", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 12))),
          ("sha512crypt (5000 rounds)", crypt.crypt("bench-password", crypt.mksalt(crypt.METHOD_SHA512)))]
for name, h in hashes:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        ok = crypt.crypt("bench-password", h) == h
        times.append((time.perf_counter() - t) * 1000)
        assert ok
    print(f"{name:28s} {h[:10]}...  median {statistics.median(times):6.1f} ms  min {min(times):6.1f} ms  ({n} checks)")
PY
