/* hello: `ferry hello`, the classic multi-client greeting server.
 *
 * On connect a client gets "Welcome!"; each message X (see proto/line.h)
 * gets "Hello, X!", ended with the same line ending as X (none when X had
 * none); the message "exit", or the peer closing, ends that client. */
#ifndef FERRY_HELLO_HELLO_H
#define FERRY_HELLO_HELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cidr_list;

struct hello_options {
    const char *bind; /* NULL: every interface, dual-stack */
    uint16_t port;
    int threads;
    long max_clients;
    int idle_ms;      /* a client silent this long is closed */
    size_t msg_cap;   /* longest message; longer input is cut */
    bool quiet;       /* no join/leave log */
    int log_fd;
    /* PROXY headers from these peers (the caller's; see net/srv.h); a
     * client's first bytes that begin one close it. NULL: off. */
    const struct cidr_list *proxy_from;
    int proxy_wait; /* how many may wait for their header, per thread; 0: srv's default */
};

void hello_options_default(struct hello_options *o);

struct hello_server;

/* Listens and starts the threads; addr gets "127.0.0.1:PORT". Returns 0 or
 * -errno with *what naming the failed step. */
int hello_start(const struct hello_options *o, struct hello_server **out, char *addr,
                size_t addrsz, const char **what);

/* Asks the threads to stop (any thread may call it). */
void hello_stop(struct hello_server *h);

/* Waits for the threads and frees the server. */
void hello_wait(struct hello_server *h);

#endif
