#!/bin/sh
# The cost of one password check as ferry serve --auth runs it: crypt(3)
# from libxcrypt on a hash that `ferry passwd` made (yescrypt, default
# cost), and for comparison bcrypt cost 12 and sha512crypt. Prints the
# median milliseconds of N checks of each.
#
# Then the same through a running server, for an --auth file of each
# scheme: the median time of a 401 for a wrong password of the file's
# account and for an unknown user name, and their ratio (unknown / wrong;
# near 1.0 means response times do not tell which names exist). Each
# request comes on a new connection from its own 127.0.0.x address, four
# per address, so the failure limit (five in a minute) never answers first.
#   FERRY=build/ferry sh bench/authcost.sh [N]
set -eu
FERRY=${FERRY:-build/ferry}
N=${1:-20}
YES=$(printf 'bench-password\n' | "$FERRY" passwd bench | cut -d: -f2)
/usr/bin/python3 -W ignore - "$FERRY" "$YES" "$N" <<'PY'
import crypt, http.client, os, re, statistics, subprocess, sys, tempfile, time, base64
ferry, yes, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
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

print()
print("through ferry serve --auth: a 401 for a wrong password vs for an unknown user")
sent = 0


def one_401(port, user):
    """Milliseconds for one GET with a wrong password, on a new connection."""
    global sent
    src = f"127.0.0.{2 + sent // 4}"
    sent += 1
    token = base64.b64encode(f"{user}:wrong-{sent}".encode()).decode()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(src, 0))
    t = time.perf_counter()
    c.request("GET", "/", headers={"Authorization": "Basic " + token})
    r = c.getresponse()
    r.read()
    ms = (time.perf_counter() - t) * 1000
    c.close()
    assert r.status == 401, r.status
    return ms


with tempfile.TemporaryDirectory() as d:
    for name, h in hashes:
        auth = os.path.join(d, "auth")
        with open(auth, "w") as f:
            f.write(f"bench:{h}:ro:/\n")
        p = subprocess.Popen([ferry, "serve", "-q", "-p", "0", "-b", "127.0.0.1", "--threads", "1",
                              "--auth", auth, d], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True)
        try:
            port = int(re.search(r":(\d+)/", p.stdout.readline()).group(1))
            sent = 0
            wrong, unknown = [], []
            for i in range(n):  # interleaved, so drift hits both alike
                wrong.append(one_401(port, "bench"))
                unknown.append(one_401(port, f"nobody{i}"))
            w, u = statistics.median(wrong), statistics.median(unknown)
            print(f"{name:28s} wrong password {w:6.1f} ms  unknown user {u:6.1f} ms  "
                  f"ratio {u / w:5.2f}  ({n} each)")
        finally:
            p.terminate()
            p.wait(timeout=10)
PY
