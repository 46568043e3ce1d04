#!/usr/bin/env python3
"""How far apart do the pieces of one raw name arrive? (docs/PROTOCOLS.md)

Run by bench/rawgap.sh inside two network namespaces joined by a veth pair
whose sending side is shaped with netem (a rate and a delay). The client
sends a name in one send() and waits, as the classic clients do; the server
records when each recv() returns and prints the largest gap between two
pieces of the same name. Every wait has a timeout; nothing loops unbounded.

  rawgap.py serve ADDR PORT COUNT     (prints one line per name: pieces, max gap ms)
  rawgap.py send ADDR PORT COUNT SIZE
"""
import socket
import sys
import time


def serve(addr, port, count):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(8)
    ls.settimeout(30)
    worst = 0.0
    for _ in range(count):
        s, _ = ls.accept()
        s.settimeout(10)
        stamps, total = [], 0
        while True:
            b = s.recv(65536)
            if not b:
                break
            stamps.append(time.monotonic())
            total += len(b)
        gaps = [(b - a) * 1000 for a, b in zip(stamps, stamps[1:])]
        g = max(gaps) if gaps else 0.0
        worst = max(worst, g)
        print(f"name of {total} bytes: {len(stamps)} pieces, largest gap {g:.2f} ms", flush=True)
        s.close()
    print(f"WORST {worst:.2f}", flush=True)


def send(addr, port, count, size):
    name = b"n" * size
    for _ in range(count):
        s = socket.create_connection((addr, port), timeout=10)
        s.sendall(name)
        s.shutdown(socket.SHUT_WR)  # so the server's loop ends; the pieces are already timed
        s.recv(1)
        s.close()
        time.sleep(0.05)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
