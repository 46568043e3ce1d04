#!/usr/bin/env bash
# Runs the benchmarks and prints one markdown report on stdout (progress on
# stderr): a summary table of ratios, then each benchmark's own section.
#
#   bash bench/run.sh                     bigfile, rps, idle_mem, get
#   bash bench/run.sh rps idle_mem        only those
#
#   bigfile   bench/bigfile.sh   1 GiB download: ferry serve, nginx, python
#   rps       bench/rps.sh       1 KiB file, wrk keep-alive req/s
#   idle_mem  bench/idle_mem.sh  server memory for 10,000 idle connections
#   get       bench/get.sh       the client side: ferry get vs curl and wget
#   syscalls  bench/syscalls.sh  (not by default; needs strace) system calls
#                                per request, ferry vs nginx
#   proxy     bench/proxy.sh     (not by default; needs haproxy) ferry and
#                                nginx behind HAProxy with the PROXY protocol
#
# Servers listen on 127.0.0.1 only, on free ports, and are stopped at the
# end of each script. ferry runs with --threads 2 and nginx with
# worker_processes 2 (the machine's 2 cores). Needs build/ferry (make),
# nginx-light, wrk, curl, wget, bc, cc; `make bench` installs them.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
source bench/lib.sh

if [ $# -eq 0 ]; then set -- bigfile rps idle_mem get; fi
for b in "$@"; do
  [ -f "bench/$b.sh" ] || { echo "bench/run.sh: no benchmark '$b'" >&2; exit 2; }
done

SUM=$(mktemp /tmp/ferry-bench-summary.XXXXXX)
SECTIONS=$(mktemp /tmp/ferry-bench-sections.XXXXXX)
trap 'rm -f "$SUM" "$SECTIONS"' EXIT
failed=()
for b in "$@"; do
  echo "bench: === $b ===" >&2
  start=$(date +%s)
  out=$(BENCH_SUMMARY=$SUM timeout 1800 bash "bench/$b.sh")
  rc=$?
  # a heading for scripts that print only a table (bench/get.sh)
  case $out in "###"*) ;; *) printf '### bench/%s.sh\n\n' "$b" >>"$SECTIONS";; esac
  printf '%s\n' "$out" >>"$SECTIONS"
  if [ $rc -eq 0 ]; then
    echo "bench: $b done in $(($(date +%s) - start)) s" >&2
  else
    failed+=("$b")
    printf '\n**%s FAILED** (exit %s; see the messages on stderr)\n' "$b" "$rc" >>"$SECTIONS"
  fi
  printf '\n' >>"$SECTIONS"
done

echo "## ferry benchmarks, $(date -u '+%Y-%m-%d')"
echo
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- src 2>/dev/null || rev="$rev with uncommitted changes in src/"
echo "Machine: $(machine_line). ferry at $rev, serve --threads $SERVER_THREADS; nginx worker_processes $SERVER_THREADS."
echo
if [ -s "$SUM" ]; then
  echo "| benchmark | ferry | nginx | python | ferry/nginx | ferry/python |"
  echo "| --- | --- | --- | --- | --- | --- |"
  cat "$SUM"
  echo
  echo "Ratios are ferry's number over the other's: for times and memory below 1.00 favours ferry," \
    "for requests per second above 1.00 does."
  echo
fi
cat "$SECTIONS"
if [ ${#failed[@]} -gt 0 ]; then
  echo "bench: failed: ${failed[*]}" >&2
  exit 1
fi
