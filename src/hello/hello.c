/* The greeting server. Each client is a struct client holding a stream;
 * it has one state (greeted, answering) until it says "exit", goes idle or
 * leaves, so the stream's callbacks are the whole machine. */
#include "hello/hello.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsx.h"
#include "net/sock.h"
#include "net/srv.h"
#include "net/stream.h"
#include "proto/line.h"
#include "proto/proxy.h"

#define OUT_MAX (64u << 10) /* replies queued for a client that does not read */

struct hworker;

struct client {
    struct srv_conn sc; /* on the worker's list; sc.deadline: idle timeout */
    struct stream st;
    struct hworker *w;
    struct sockaddr_storage peer;
    bool sniffed; /* its first bytes were not a PROXY header */
};

struct hworker {
    struct srv_worker *sw;
    struct hello_server *h;
    struct buf log;
};

struct hello_server {
    struct hello_options opt;
    struct srv srv;
    struct hworker *workers;
};

static const char welcome[] = "Welcome!";

void hello_options_default(struct hello_options *o)
{
    memset(o, 0, sizeof *o);
    o->port = 9000;
    o->threads = 1;
    o->max_clients = 100000;
    o->idle_ms = 300000;
    o->msg_cap = LINE_DEFAULT_CAP;
    o->log_fd = 1;
}

static void log_client(struct client *c, const char *what)
{
    struct hworker *w = c->w;
    char addr[SOCK_ADDRSTRLEN];

    if (w->h->opt.quiet)
        return;
    sock_addr_format((const struct sockaddr *)&c->peer, true, addr, sizeof addr);
    buf_printf(&w->log, "%s %s (%ld connected)\n", addr, what,
               (long)atomic_load(&w->h->srv.nconns));
}

static void log_flush(struct hworker *w)
{
    /* A log that cannot be written must not stop serving: errors dropped. */
    fsx_write_all(w->h->opt.log_fd, buf_rptr(&w->log), buf_len(&w->log));
    buf_consume(&w->log, buf_len(&w->log));
}

static void on_close(struct stream *st, int err)
{
    struct client *c = container_of(st, struct client, st);
    struct hworker *w = c->w;
    (void)err;

    srv_conn_remove(w->sw, &c->sc);
    log_client(c, "left");
    free(c);
}

/* Answers every complete message in the input. */
static void on_data(struct stream *st, bool drained)
{
    struct client *c = container_of(st, struct client, st);
    struct hworker *w = c->w;
    struct line ln;

    c->sc.deadline = w->sw->loop.now + w->h->opt.idle_ms;
    if (!c->sniffed && w->h->opt.proxy_from != NULL) {
        /* Only a proxy_from peer may send a header, and net/srv took it. */
        int r = proxy_refuse(buf_rptr(&st->in), buf_len(&st->in), &c->sniffed);
        if (r <= 0) {
            if (r < 0)
                stream_close(st, r);
            return; /* a header closes; its first bytes wait for the next */
        }
    }
    while (line_next(buf_rptr(&st->in), buf_len(&st->in), w->h->opt.msg_cap, drained, &ln)) {
        if (ln.len == 4 && memcmp(ln.text, "exit", 4) == 0) {
            buf_consume(&st->in, buf_len(&st->in));
            stream_close_after_flush(st);
            return;
        }
        /* One write per answer keeps the bytes of an answer together. */
        char reply[LINE_DEFAULT_CAP + 16];
        char *r = reply;
        size_t need = 7 + ln.len + 1 + strlen(ln.eol);
        if (need > sizeof reply && (r = malloc(need)) == NULL) {
            stream_close(st, -ENOMEM);
            return;
        }
        memcpy(r, "Hello, ", 7);
        memcpy(r + 7, ln.text, ln.len);
        r[7 + ln.len] = '!';
        memcpy(r + 8 + ln.len, ln.eol, strlen(ln.eol));
        int rc = stream_write(st, r, need);
        if (r != reply)
            free(r);
        buf_consume(&st->in, ln.consumed);
        if (rc == -ENOBUFS) { /* it sends but never reads: let it go */
            stream_close(st, rc);
            return;
        }
        if (rc < 0)
            return;
    }
}

static void hello_accepted(struct srv_worker *sw, int fd, const struct sockaddr_storage *peer)
{
    struct hworker *w = sw->app;
    struct client *c = calloc(1, sizeof *c);

    if (c == NULL) {
        close(fd);
        return;
    }
    c->w = w;
    c->peer = *peer;
    c->sc.deadline = sw->loop.now + w->h->opt.idle_ms;
    size_t in_max = w->h->opt.msg_cap + 2;
    if (stream_start(&c->st, &sw->loop, fd, in_max < 4096 ? 4096 : in_max, OUT_MAX, on_data,
                     on_close) < 0) {
        close(fd);
        free(c);
        return;
    }
    srv_conn_add(sw, &c->sc);
    log_client(c, "joined");
    stream_write(&c->st, welcome, sizeof welcome - 1);
}

static void hello_tick(struct srv_worker *sw)
{
    struct hworker *w = sw->app;

    if (buf_len(&w->log) > 0)
        log_flush(w);
}

/* Silent for idle_ms: let it go. */
static void hello_expired(struct srv_worker *sw, struct srv_conn *sc)
{
    struct client *c = container_of(sc, struct client, sc);

    stream_close(&c->st, -ETIMEDOUT);
}

static void hello_close_all(struct srv_worker *sw)
{
    while (srv_conns(sw) != NULL)
        stream_close(&container_of(srv_conns(sw), struct client, sc)->st, 0);
}

static void hello_started(struct srv_worker *sw)
{
    struct hworker *w = sw->app;

    w->sw = sw;
}

static const struct srv_ops hello_ops = {
    .accepted = hello_accepted,
    .tick = hello_tick,
    .expired = hello_expired,
    .stopping = hello_close_all, /* nothing is in flight worth waiting for */
    .close_all = hello_close_all,
    .started = hello_started,
};

static void server_free(struct hello_server *h)
{
    for (int i = 0; h->workers != NULL && i < h->opt.threads; i++)
        buf_free(&h->workers[i].log);
    free(h->workers);
    free(h);
}

int hello_start(const struct hello_options *o, struct hello_server **out, char *addr,
                size_t addrsz, const char **what)
{
    struct hello_server *h = calloc(1, sizeof *h);
    void *apps[256];
    int rc;

    if (h == NULL)
        return -ENOMEM;
    h->opt = *o;
    if (o->threads < 1 || o->threads > 256 || o->msg_cap < 1) {
        *what = "bad options";
        server_free(h);
        return -EINVAL;
    }
    h->workers = calloc((size_t)o->threads, sizeof *h->workers);
    if (h->workers == NULL) {
        *what = "cannot start";
        server_free(h);
        return -ENOMEM;
    }
    for (int i = 0; i < o->threads; i++) {
        h->workers[i].h = h;
        buf_init(&h->workers[i].log, 1u << 20);
        apps[i] = &h->workers[i];
    }
    struct srv_options so = {.bind = o->bind,
                             .port = o->port,
                             .threads = o->threads,
                             .max_conns = o->max_clients,
                             .tick_ms = 100,
                             .grace_ms = 0,
                             .proxy_from = o->proxy_from,
                             .proxy_wait = o->proxy_wait};
    rc = srv_start(&h->srv, &so, &hello_ops, apps, addr, addrsz, what);
    if (rc < 0) {
        server_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

void hello_stop(struct hello_server *h)
{
    srv_stop(&h->srv);
}

void hello_wait(struct hello_server *h)
{
    srv_wait(&h->srv);
    server_free(h);
}
