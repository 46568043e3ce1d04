/* srv: the skeleton every ferry TCP server shares.
 *
 * One listening socket, N worker threads, each with its own epoll loop that
 * registers the socket with EPOLLEXCLUSIVE, so a new connection wakes one
 * worker, which owns it from then on. srv handles accepting with back-off
 * (at the connection cap, or when accept fails for lack of descriptors or
 * memory, a worker stops accepting for a moment instead of spinning), the
 * tick, and stopping with a grace period. The application keeps its
 * connections and is called through struct srv_ops. */
#ifndef FERRY_NET_SRV_H
#define FERRY_NET_SRV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/ev.h"

struct srv;

struct srv_worker {
    struct ev_loop loop;
    struct srv *srv;
    void *app;        /* the application's per-worker state */
    size_t nconns;    /* connections this worker owns */
    bool stopping;    /* no new connections; finish what is under way */
    /* srv's own */
    struct ev_io listen_io;
    struct ev_io wake_io;
    int wakefd;
    pthread_t tid;
    bool accepting;
    int64_t accept_resume;
    int64_t stop_deadline;
};

struct srv_ops {
    /* A connection was accepted (non-blocking, TCP_NODELAY). The callee owns
     * fd and calls srv_conn_opened once it keeps it, srv_conn_closed when
     * it closes it. */
    void (*accepted)(struct srv_worker *w, int fd, const struct sockaddr_storage *peer);
    /* Called after every batch of events (at least every tick_ms). */
    void (*tick)(struct srv_worker *w);
    /* The server is stopping: close idle connections, let the others end. */
    void (*stopping)(struct srv_worker *w);
    /* The grace period is over: close every connection now. */
    void (*close_all)(struct srv_worker *w);
};

struct srv_options {
    const char *bind; /* NULL: every interface, dual-stack */
    uint16_t port;
    int threads;
    long max_conns; /* all workers together */
    int tick_ms;
    int grace_ms;
};

struct srv {
    struct srv_options opt;
    const struct srv_ops *ops;
    int lfd;
    struct sockaddr_storage bound;
    atomic_long nconns;
    int nworkers;
    struct srv_worker *workers;
};

/* Listens and sets up the workers; apps[i] becomes workers[i].app. Threads
 * start with srv_run. Returns 0 or -errno; *what names the failed step. */
int srv_init(struct srv *s, const struct srv_options *o, const struct srv_ops *ops, void **apps,
             const char **what);

/* Starts the worker threads. Returns 0 or -errno (then nothing runs). */
int srv_run(struct srv *s);

/* Asks every worker to stop. Safe from any thread. */
void srv_stop(struct srv *s);

/* Waits for the workers after srv_run, then frees what srv_init made. */
void srv_wait(struct srv *s);

/* Frees what srv_init made, when srv_run never ran or failed. */
void srv_free(struct srv *s);

/* Book-keeping for the connection cap; call from the owning worker. */
void srv_conn_opened(struct srv_worker *w);
void srv_conn_closed(struct srv_worker *w);

/* A URL-style name for the bound address, "127.0.0.1:8000" or "[::1]:8000";
 * for the unspecified address, the loopback address that reaches it. */
void srv_local_name(const struct srv *s, char *out, size_t outsz);

#endif
