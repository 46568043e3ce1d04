#!/usr/bin/python3
"""The comparison peer for `ferry hello`: a thread-per-client greeting server.

    /usr/bin/python3 bench/hello_py.py [PORT]      (default 0: a free port)

Listens on 127.0.0.1 and prints "hello_py listening on 127.0.0.1:PORT" as its
first stdout line. Each client gets "Welcome!" (no newline); each line X gets
"Hello, X!" followed by the line ending X came with; the line "exit" ends the
client. Line-based only: the benchmark's load generator always sends LF lines.

socketserver.ThreadingTCPServer, one daemon thread per client, default thread
stack size. The listen backlog is 4096, the same as ferry's, so the connect
storm is not decided by Python's default backlog of 5.
"""
import socketserver
import sys


class Hello(socketserver.StreamRequestHandler):
    # wbufsize 0 (the default): every answer goes out at once.

    def handle(self):
        sock = self.request
        sock.sendall(b"Welcome!")
        for line in self.rfile:
            if line.endswith(b"\r\n"):
                text, eol = line[:-2], b"\r\n"
            elif line.endswith(b"\n"):
                text, eol = line[:-1], b"\n"
            else:
                text, eol = line, b""
            if text == b"exit":
                return
            sock.sendall(b"Hello, " + text + b"!" + eol)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 4096

    def handle_error(self, request, client_address):
        pass  # a client that resets is not news


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    with Server(("127.0.0.1", port), Hello) as srv:
        print("hello_py listening on 127.0.0.1:%d" % srv.server_address[1], flush=True)
        try:
            srv.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
