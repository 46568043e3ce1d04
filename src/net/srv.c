#include "net/srv.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/sock.h"
#include "proto/cidr.h"
#include "proto/proxy.h"

#define ACCEPTS_PER_WAKEUP 64
#define ACCEPT_BACKOFF_MS 250
#define SWEEP_MS_DEFAULT 250

/* Whether w may take another connection: the server is under its cap and
 * w's PROXY waiting list has room for one more. */
static bool may_accept(const struct srv_worker *w)
{
    return atomic_load(&w->srv->nconns) < w->srv->opt.max_conns &&
           w->npending < (size_t)w->srv->opt.proxy_wait;
}

static void accept_pause(struct srv_worker *w, int64_t until)
{
    if (w->accepting) {
        ev_io_stop(&w->loop, &w->listen_io);
        w->accepting = false;
    }
    w->accept_resume = until;
}

/* ---- the PROXY header stage ---------------------------------------------- */

/* A connection from a proxy_from address, before its header is complete.
 * Its bytes stay in the socket: each wakeup peeks at all of them, and
 * SO_RCVLOWAT (one byte more than was seen) keeps epoll quiet until more
 * arrive, so a header that trickles in costs no busy loop. */
struct srv_pending {
    struct ev_io io;
    struct srv_pending *prev, *next;
    int64_t deadline;
    int lowat; /* SO_RCVLOWAT as set now */
    struct sockaddr_storage peer;
};

static void pending_unlink(struct srv_worker *w, struct srv_pending *p)
{
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        w->pending = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    w->npending--;
    atomic_fetch_sub(&w->srv->nconns, 1);
}

/* No valid header in time: close without a word (the peer is a proxy that
 * will log its own failure). */
static void pending_drop(struct srv_worker *w, struct srv_pending *p)
{
    ev_io_stop(&w->loop, &p->io);
    close(p->io.fd);
    pending_unlink(w, p);
    free(p);
}

static void pending_drop_all(struct srv_worker *w)
{
    while (w->pending != NULL)
        pending_drop(w, w->pending);
}

static int set_lowat(int fd, int v)
{
    return setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v) < 0 ? -errno : 0;
}

/* What one look at a connection's first bytes decided. */
enum pend {
    PEND_OK,   /* the header is off the socket; *client is set */
    PEND_WAIT, /* a beginning of one: wait for more (SO_RCVLOWAT set to *lowat) */
    PEND_DROP, /* no header will come: close */
};

/* Peeks at what fd has (events: what epoll said, 0 when it said nothing)
 * and, once a whole header is there, takes exactly its bytes off the
 * socket and puts the client it names, or real for LOCAL and UNKNOWN, into
 * *client. *lowat is the SO_RCVLOWAT now set. */
static enum pend header_step(int fd, uint32_t events, int *lowat,
                             const struct sockaddr_storage *real, struct sockaddr_storage *client)
{
    char buf[SRV_PROXY_MAX];
    struct proxy_header h;
    ssize_t n;

    do
        n = recv(fd, buf, sizeof buf, MSG_PEEK);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return PEND_WAIT;
    if (n <= 0)
        return PEND_DROP;
    enum proxy_result r = proxy_parse(buf, (size_t)n, &h);
    if (r == PROXY_MORE) {
        /* Incomplete for good when the buffer is full or the peer has
         * finished sending. */
        if ((size_t)n == sizeof buf || (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ||
            set_lowat(fd, (int)n + 1) < 0)
            return PEND_DROP;
        *lowat = (int)n + 1;
        return PEND_WAIT;
    }
    if (r == PROXY_BAD)
        return PEND_DROP;
    do
        n = recv(fd, buf, h.len, 0);
    while (n < 0 && errno == EINTR);
    /* The kernel had them a moment ago, so the read takes them all. */
    if (n < 0 || (size_t)n != h.len || (*lowat != 1 && set_lowat(fd, 1) < 0))
        return PEND_DROP;
    *client = h.local ? *real : h.src;
    return PEND_OK;
}

static void on_pending(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    struct srv_pending *p = container_of(io, struct srv_pending, io);
    struct srv_worker *w = loop->data;
    struct sockaddr_storage client;

    enum pend r = header_step(io->fd, events, &p->lowat, &p->peer, &client);
    if (r == PEND_WAIT)
        return;
    if (r == PEND_DROP) {
        pending_drop(w, p);
        return;
    }
    int fd = io->fd;
    ev_io_stop(loop, io);
    pending_unlink(w, p);
    free(p);
    w->srv->ops->accepted(w, fd, &client);
}

/* fd comes from a proxy_from address. The header is usually there by the
 * time the connection is accepted (the proxy sends it at once): then the
 * connection goes on without a watcher of its own; else it waits. */
static void pending_start(struct srv_worker *w, int fd, const struct sockaddr_storage *peer)
{
    struct sockaddr_storage client;
    struct srv_pending *p = NULL;
    int lowat = 1;

    enum pend r = header_step(fd, 0, &lowat, peer, &client);
    if (r == PEND_OK) {
        w->srv->ops->accepted(w, fd, &client);
        return;
    }
    /* on_listen accepts only while the list has room */
    assert(w->npending < (size_t)w->srv->opt.proxy_wait);
    if (r == PEND_WAIT)
        p = calloc(1, sizeof *p);
    if (p == NULL) {
        close(fd);
        return;
    }
    p->peer = *peer;
    p->lowat = lowat;
    p->deadline = w->loop.now + w->srv->opt.proxy_timeout_ms;
    if (ev_io_start(&w->loop, &p->io, fd, EPOLLIN | EPOLLRDHUP, on_pending) < 0) {
        close(fd);
        free(p);
        return;
    }
    p->prev = NULL;
    p->next = w->pending;
    if (w->pending != NULL)
        w->pending->prev = p;
    w->pending = p;
    w->npending++;
    atomic_fetch_add(&w->srv->nconns, 1); /* waiting counts toward the cap */
}

static void pending_sweep(struct srv_worker *w)
{
    struct srv_pending *p = w->pending, *next;

    for (; p != NULL; p = next) {
        next = p->next;
        if (w->loop.now >= p->deadline)
            pending_drop(w, p);
    }
}

/* ---- accepting ------------------------------------------------------------ */

static void on_listen(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    struct srv_worker *w = container_of(io, struct srv_worker, listen_io);
    struct srv *s = w->srv;
    (void)events;

    for (int i = 0; i < ACCEPTS_PER_WAKEUP && w->accepting; i++) {
        if (!may_accept(w)) {
            /* Full: leave new connections in the backlog until one closes
             * (or, for a full PROXY waiting list, until a header is done
             * with: the tick looks at once), rather than accepting and
             * dropping them. */
            bool waiting_full = w->npending >= (size_t)s->opt.proxy_wait;
            accept_pause(w, waiting_full ? loop->now : loop->now + ACCEPT_BACKOFF_MS);
            return;
        }
        struct sockaddr_storage peer;
        int fd = sock_accept(s->lfd, &peer);
        if (fd == -EAGAIN)
            return;
        if (fd < 0) {
            /* EMFILE, ENFILE, ENOBUFS, ENOMEM: the connection stays in the
             * backlog and would wake us at once; wait instead of spinning. */
            accept_pause(w, loop->now + ACCEPT_BACKOFF_MS);
            return;
        }
        if (s->opt.proxy_from != NULL &&
            cidr_list_match(s->opt.proxy_from, (const struct sockaddr *)&peer))
            pending_start(w, fd, &peer);
        else
            s->ops->accepted(w, fd, &peer);
    }
}

static void on_wake(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    struct srv_worker *w = container_of(io, struct srv_worker, wake_io);
    uint64_t v;
    (void)events;

    if (read(w->wakefd, &v, sizeof v) != (ssize_t)sizeof v || w->stopping)
        return;
    w->stopping = true;
    w->stop_deadline = loop->now + w->srv->opt.grace_ms;
    accept_pause(w, INT64_MAX);
    pending_drop_all(w); /* no client of theirs has been served yet */
    w->srv->ops->stopping(w);
}

/* Calls ops->expired for every connection past its deadline. The cursor
 * lives in the worker so that srv_conn_remove can move it on when the
 * callee closes the next connection too (a close may close others). */
static void sweep(struct srv_worker *w)
{
    int64_t now = w->loop.now;

    for (struct srv_conn *c = w->conns; c != NULL; c = w->sweep_next) {
        w->sweep_next = c->next;
        if (now >= c->deadline)
            w->srv->ops->expired(w, c);
    }
    w->sweep_next = NULL;
}

static void on_tick(struct ev_loop *loop)
{
    struct srv_worker *w = loop->data;
    struct srv *s = w->srv;

    s->ops->tick(w);
    if (w->pending != NULL)
        pending_sweep(w);
    if (s->ops->expired != NULL && loop->now >= w->next_sweep) {
        sweep(w);
        w->next_sweep = loop->now + s->opt.sweep_ms;
    }
    if (!w->accepting && !w->stopping && loop->now >= w->accept_resume && may_accept(w) &&
        ev_io_start(loop, &w->listen_io, s->lfd, EPOLLIN | EPOLLEXCLUSIVE, on_listen) == 0)
        w->accepting = true;
    if (w->stopping && (w->nconns == 0 || loop->now >= w->stop_deadline)) {
        if (w->nconns > 0)
            s->ops->close_all(w);
        loop->stop = true;
    }
}

static void *worker_main(void *arg)
{
    struct srv_worker *w = arg;

    if (w->srv->ops->started != NULL)
        w->srv->ops->started(w);
    ev_run(&w->loop);
    pending_drop_all(w);
    w->srv->ops->tick(w); /* a last chance to flush */
    return NULL;
}

void srv_conn_add(struct srv_worker *w, struct srv_conn *c)
{
    c->prev = NULL;
    c->next = w->conns;
    if (w->conns != NULL)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    atomic_fetch_add(&w->srv->nconns, 1);
}

void srv_conn_remove(struct srv_worker *w, struct srv_conn *c)
{
    assert(w->nconns > 0);
    if (w->sweep_next == c)
        w->sweep_next = c->next;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    w->nconns--;
    atomic_fetch_sub(&w->srv->nconns, 1);
}

void srv_free(struct srv *s)
{
    for (int i = 0; i < s->nworkers; i++) {
        struct srv_worker *w = &s->workers[i];
        if (w->wakefd >= 0)
            close(w->wakefd);
        ev_loop_close(&w->loop);
    }
    free(s->workers);
    s->workers = NULL;
    s->nworkers = 0;
    if (s->lfd >= 0)
        close(s->lfd);
    s->lfd = -1;
}

int srv_init(struct srv *s, const struct srv_options *o, const struct srv_ops *ops, void **apps,
             const char **what)
{
    int rc = 0;

    memset(s, 0, sizeof *s);
    s->lfd = -1;
    if (o->threads < 1) {
        *what = "bad options";
        return -EINVAL;
    }
    s->opt = *o;
    if (s->opt.sweep_ms <= 0)
        s->opt.sweep_ms = SWEEP_MS_DEFAULT;
    if (s->opt.proxy_timeout_ms <= 0)
        s->opt.proxy_timeout_ms = SRV_PROXY_TIMEOUT_MS;
    if (s->opt.proxy_wait <= 0)
        s->opt.proxy_wait = SRV_PROXY_PENDING_MAX;
    s->ops = ops;
    s->lfd = sock_listen_tcp(o->bind, o->port, SRV_BACKLOG, &s->bound);
    if (s->lfd < 0) {
        *what = SOCK_WHAT_LISTEN;
        return s->lfd;
    }
    s->workers = calloc((size_t)o->threads, sizeof *s->workers);
    if (s->workers == NULL) {
        *what = "cannot start";
        srv_free(s);
        return -ENOMEM;
    }
    for (int i = 0; i < o->threads && rc == 0; i++) {
        struct srv_worker *w = &s->workers[i];
        w->srv = s;
        w->app = apps[i];
        w->wakefd = -1;
        w->loop.epfd = -1;
        s->nworkers = i + 1;
        rc = ev_loop_init(&w->loop, o->tick_ms, on_tick, w);
        if (rc < 0)
            break;
        w->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->wakefd < 0) {
            rc = -errno;
            break;
        }
        rc = ev_io_start(&w->loop, &w->wake_io, w->wakefd, EPOLLIN, on_wake);
        if (rc == 0)
            rc = ev_io_start(&w->loop, &w->listen_io, s->lfd, EPOLLIN | EPOLLEXCLUSIVE, on_listen);
        w->accepting = rc == 0;
    }
    if (rc < 0) {
        *what = "cannot set up the event loops";
        srv_free(s);
    }
    return rc;
}

int srv_run(struct srv *s)
{
    for (int i = 0; i < s->nworkers; i++) {
        int rc = pthread_create(&s->workers[i].tid, NULL, worker_main, &s->workers[i]);
        if (rc != 0) {
            /* Stop and join the threads already running. */
            for (int k = 0; k < i; k++) {
                uint64_t one = 1;
                if (write(s->workers[k].wakefd, &one, sizeof one) < 0) {
                    /* an eventfd write of 1 cannot fail here */
                }
            }
            for (int k = 0; k < i; k++)
                pthread_join(s->workers[k].tid, NULL);
            return -rc;
        }
    }
    return 0;
}

int srv_start(struct srv *s, const struct srv_options *o, const struct srv_ops *ops, void **apps,
              char *name, size_t namesz, const char **what)
{
    int rc = srv_init(s, o, ops, apps, what);

    if (rc < 0)
        return rc;
    if (name != NULL)
        srv_local_name(s, name, namesz);
    rc = srv_run(s);
    if (rc < 0) {
        *what = "cannot start threads";
        srv_free(s);
    }
    return rc;
}

void srv_stop(struct srv *s)
{
    uint64_t one = 1;

    for (int i = 0; i < s->nworkers; i++)
        if (write(s->workers[i].wakefd, &one, sizeof one) < 0) {
            /* an eventfd write of 1 cannot fail here */
        }
}

void srv_wait(struct srv *s)
{
    for (int i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i].tid, NULL);
    srv_free(s);
}

void srv_local_name(const struct srv *s, char *out, size_t outsz)
{
    const struct sockaddr *sa = (const struct sockaddr *)&s->bound;

    if (sock_addr_is_any(sa)) {
        /* Every interface: name the loopback address that reaches it. The
         * default listener is dual-stack, so IPv4 loopback reaches it too. */
        bool v6only = s->opt.bind != NULL && s->opt.bind[0] != '\0' && sa->sa_family == AF_INET6;
        snprintf(out, outsz, "%s:%u", v6only ? "[::1]" : "127.0.0.1", sock_addr_port(sa));
        return;
    }
    sock_addr_format(sa, true, out, outsz);
}
