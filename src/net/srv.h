/* srv: the skeleton every ferry TCP server shares.
 *
 * One listening socket, N worker threads, each with its own epoll loop that
 * registers the socket with EPOLLEXCLUSIVE, so a new connection wakes one
 * worker, which owns it from then on. srv handles accepting with back-off
 * (at the connection cap, or when accept fails for lack of descriptors or
 * memory, a worker stops accepting for a moment instead of spinning), the
 * tick, the connection list with its idle sweep, and stopping with a
 * grace period. The application embeds a struct srv_conn in each of its
 * connections and is called through struct srv_ops.
 *
 * With srv_options.proxy_from, a connection from one of those addresses
 * must begin with a PROXY protocol header (proto/proxy.h): srv holds it
 * until the header is complete (a deadline, a cap on how many wait), takes
 * exactly the header's bytes off the socket and hands the connection to
 * ops->accepted with the client the header names. A peer there that sends
 * anything else, or nothing in time, is closed. While a worker's waiting
 * list is full it accepts nothing (as at the connection cap): new
 * connections wait in the kernel's backlog until a header completes, fails
 * or times out, so a burst from a proxy is slowed, never refused. Connections from other
 * addresses go to ops->accepted at once; turning away a header from them is
 * the application's, on its first bytes (proxy_sniff), so that a server
 * that speaks first is not held up. */
#ifndef FERRY_NET_SRV_H
#define FERRY_NET_SRV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/ev.h"

struct srv;
struct srv_worker;
struct srv_pending;
struct cidr_list;

/* Embedded in each application connection; srv keeps them on the owning
 * worker's list (srv_conn_add) and sweeps their deadlines. */
struct srv_conn {
    struct srv_conn *prev, *next;
    int64_t deadline; /* loop time in ms when ops->expired is called; INT64_MAX: none */
};

struct srv_worker {
    struct ev_loop loop;
    struct srv *srv;
    void *app;        /* the application's per-worker state */
    size_t nconns;    /* connections this worker owns */
    bool stopping;    /* no new connections; finish what is under way */
    /* srv's own */
    struct srv_conn *conns;      /* srv_conn_add'ed connections, newest first */
    struct srv_conn *sweep_next; /* the sweep's cursor, kept right by srv_conn_remove */
    int64_t next_sweep;
    struct ev_io listen_io;
    struct ev_io wake_io;
    int wakefd;
    pthread_t tid;
    bool accepting;
    int64_t accept_resume;
    int64_t stop_deadline;
    struct srv_pending *pending; /* trusted connections waiting for their PROXY header */
    size_t npending;
};

struct srv_ops {
    /* A connection was accepted (non-blocking, TCP_NODELAY). The callee owns
     * fd and calls srv_conn_add once it keeps it, srv_conn_remove when it
     * closes it. peer is the client: the one a PROXY header named, when the
     * connection came from a proxy_from address (and the header was not a
     * LOCAL one), else the socket's peer. */
    void (*accepted)(struct srv_worker *w, int fd, const struct sockaddr_storage *peer);
    /* Called after every batch of events (at least every tick_ms). */
    void (*tick)(struct srv_worker *w);
    /* c's deadline has passed (checked every sweep_ms, after the tick). The
     * callee closes c (srv_conn_remove) or sets a new deadline. It may
     * remove c and any other connection. NULL: deadlines are not swept. */
    void (*expired)(struct srv_worker *w, struct srv_conn *c);
    /* The server is stopping: close idle connections, let the others end. */
    void (*stopping)(struct srv_worker *w);
    /* The grace period is over: close every connection now. */
    void (*close_all)(struct srv_worker *w);
    /* Optional: runs on the worker's own thread before its loop, e.g. to add
     * watchers of the application's own to w->loop. */
    void (*started)(struct srv_worker *w);
};

struct srv_options {
    const char *bind; /* NULL: every interface, dual-stack */
    uint16_t port;
    int threads;
    long max_conns; /* all workers together */
    int tick_ms;
    int grace_ms;
    int sweep_ms; /* how often deadlines are checked; 0: 250 */
    /* Peers that must send a PROXY header first (the caller's, it outlives
     * the server); NULL: no PROXY protocol. */
    const struct cidr_list *proxy_from;
    int proxy_timeout_ms; /* for that header to arrive; 0: SRV_PROXY_TIMEOUT_MS */
    int proxy_wait;       /* how many may wait for one, per worker; 0: SRV_PROXY_PENDING_MAX */
};

#define SRV_PROXY_TIMEOUT_MS 5000  /* the spec asks for at least 3 s (a TCP retransmit) */
#define SRV_PROXY_MAX 2048         /* the longest PROXY header srv waits for */
#define SRV_PROXY_PENDING_MAX 1024 /* connections waiting for one, per worker */
/* The listen backlog asked for; the kernel caps it at net.core.somaxconn
 * (4096 by default since Linux 5.4). It holds what a worker at its
 * connection cap or with a full PROXY waiting list has not accepted. */
#define SRV_BACKLOG 65535

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

/* One start-up for every server: srv_init, then the bound address into
 * name (when name is not NULL; see srv_local_name), then srv_run. On
 * failure everything srv made is freed (apps stay the caller's) and *what
 * names the failed step. Returns 0 or -errno. */
int srv_start(struct srv *s, const struct srv_options *o, const struct srv_ops *ops, void **apps,
              char *name, size_t namesz, const char **what);

/* Asks every worker to stop. Safe from any thread. */
void srv_stop(struct srv *s);

/* Waits for the workers after srv_run, then frees what srv_init made. */
void srv_wait(struct srv *s);

/* Frees what srv_init made, when srv_run never ran or failed. */
void srv_free(struct srv *s);

/* Links c into w's list and counts it toward the connection cap; call from
 * the owning worker. c->deadline is the caller's to set (before or after). */
void srv_conn_add(struct srv_worker *w, struct srv_conn *c);

/* Unlinks c and uncounts it; call from the owning worker, once per add. */
void srv_conn_remove(struct srv_worker *w, struct srv_conn *c);

/* The head of w's connection list; follow ->next. Closing a connection
 * unlinks it, so save next first, or close srv_conns(w) until it is NULL
 * when closing one may close others. */
static inline struct srv_conn *srv_conns(struct srv_worker *w) { return w->conns; }


/* A URL-style name for the bound address, "127.0.0.1:8000" or "[::1]:8000";
 * for the unspecified address, the loopback address that reaches it. */
void srv_local_name(const struct srv *s, char *out, size_t outsz);

#endif
