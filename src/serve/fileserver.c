/* The file server's workers: one epoll loop per thread (net/srv), each with
 * its connections, pools of input buffers and exchanges, the access log
 * buffer and the deadline sweep. The connection itself is fs_conn.c; the
 * map of the other parts is in serve/fs.h. */
#include "serve/fileserver.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "serve/fs.h"
#include "serve/fs_auth.h"
#include "serve/fs_digest.h"
#include "serve/fs_follow.h"
#include "serve/fs_rup.h"
#include "serve/listing.h"
#include "core/fsx.h"
#include "net/sock.h"
#include "net/tls.h"

#define TICK_MS 100
#define GAP_TICK_MS 5     /* while a raw name may be arriving */
#define SWEEP_MS 250     /* deadlines other than the raw gap */

/* ---- pools ------------------------------------------------------------ */


struct buf *fs_in_get(struct worker *w)
{
    if (w->npool > 0)
        return w->pool[--w->npool];
    struct buf *b = malloc(sizeof *b + FS_IO_BUF);
    if (b == NULL)
        return NULL;
    buf_init_fixed(b, b + 1, FS_IO_BUF);
    return b;
}

void fs_in_put(struct worker *w, struct buf **bp)
{
    struct buf *b = *bp;

    if (b == NULL)
        return;
    *bp = NULL;
    b->rpos = b->wpos = 0;
    if (w->npool < sizeof w->pool / sizeof w->pool[0])
        w->pool[w->npool++] = b;
    else
        free(b);
}

struct xchg *fs_xchg_get(struct worker *w)
{
    struct xchg *x = w->nxpool > 0 ? w->xpool[--w->nxpool] : malloc(sizeof *x);

    if (x == NULL)
        return NULL;
    /* Everything before the output storage; the storage needs no zeroing. */
    memset(x, 0, offsetof(struct xchg, outmem));
    buf_init_fixed(&x->out, x->outmem, sizeof x->outmem);
    x->src.fd = -1;
    x->src.pipe_fd[0] = x->src.pipe_fd[1] = -1;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    x->start_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    return x;
}

void fs_xchg_put(struct worker *w, struct xchg **xp)
{
    struct xchg *x = *xp;

    if (x == NULL)
        return;
    *xp = NULL;
    fs_body_free(&x->src);
    fs_put_free(&x->put);
    fs_xbody_free(&x->xb);
    if (w->nxpool < sizeof w->xpool / sizeof w->xpool[0])
        w->xpool[w->nxpool++] = x;
    else
        free(x);
}

/* ---- the probe list ---------------------------------------------------- */

/* Connections whose raw name may still be arriving are checked every tick,
 * which runs often while there are any: the quiet gap is short. */
void fs_probe_list(struct conn *c, bool on)
{
    struct worker *w = c->w;

    if (on) {
        c->flags |= FL_GAP;
        c->gprev = NULL;
        c->gnext = w->probing;
        if (w->probing)
            w->probing->gprev = c;
        w->probing = c;
        w->loop->tick_ms = GAP_TICK_MS;
        return;
    }
    c->flags &= (uint8_t)~FL_GAP;
    if (c->gprev)
        c->gprev->gnext = c->gnext;
    else
        w->probing = c->gnext;
    if (c->gnext)
        c->gnext->gprev = c->gprev;
    c->gprev = c->gnext = NULL;
    if (w->probing == NULL)
        w->loop->tick_ms = TICK_MS;
}

static void probe_sweep(struct worker *w)
{
    struct conn *c = w->probing, *next;

    for (; c != NULL; c = next) {
        next = c->gnext;
        if (w->loop->now >= c->gap_at)
            fs_conn_expired(c);
    }
}

/* ---- time and logging ------------------------------------------------- */

static void worker_clock(struct worker *w)
{
    time_t now = time(NULL);
    struct tm tm;

    if (now == w->date_t)
        return;
    w->date_t = now;
    httpdate_format(now, w->date);
    gmtime_r(&now, &tm);
    strftime(w->log_date, sizeof w->log_date, "%d/%b/%Y:%H:%M:%S +0000", &tm);
}

void fs_log_flush(struct worker *w)
{
    /* A log that cannot be written must not stop serving: errors dropped. */
    fsx_write_all(w->srv->opt.log_fd, buf_rptr(&w->log), buf_len(&w->log));
    buf_consume(&w->log, buf_len(&w->log));
}

/* ---- connections -------------------------------------------------------- */

static void fs_accepted(struct srv_worker *sw, int fd, const struct sockaddr_storage *ss)
{
    fs_conn_open(sw->app, fd, ss);
}

static void fs_expired(struct srv_worker *sw, struct srv_conn *sc)
{
    fs_conn_expired(container_of(sc, struct conn, sc));
}

static void fs_stopping(struct srv_worker *sw)
{
    struct srv_conn *sc = srv_conns(sw), *next;

    /* Connections between requests close now; the others finish their
     * response and then close (finish_exchange sees sw->stopping). */
    for (; sc != NULL; sc = next) {
        struct conn *c = container_of(sc, struct conn, sc);
        next = sc->next;
        if (c->state == CS_TLS || ((c->state == CS_HEAD || c->state == CS_PROBE) &&
                                   (c->in == NULL || buf_len(c->in) == 0)))
            fs_conn_abort(c);
    }
}

static void fs_close_all(struct srv_worker *sw)
{
    while (srv_conns(sw) != NULL)
        fs_conn_abort(container_of(srv_conns(sw), struct conn, sc));
}

static void fs_tick(struct srv_worker *sw)
{
    struct worker *w = sw->app;

    worker_clock(w);
    if (w->probing != NULL)
        probe_sweep(w);
    if (buf_len(&w->log) > 0)
        fs_log_flush(w);
    fs_rup_tick(w->srv->rup); /* expired uploads go without anyone asking */
}

/* On the worker's own thread, before its loop runs. */
static void fs_started(struct srv_worker *sw)
{
    struct worker *w = sw->app;

    w->sw = sw;
    w->loop = &sw->loop;
    /* Without its port a worker answers password checks with 503. */
    if (w->srv->opt.auth != NULL && fs_auth_port_open(w->srv->opt.auth, w) < 0)
        fprintf(stderr, "ferry serve: cannot watch password checks: logins get 503\n");
    /* Without it, trailer digests are hashed on the worker, as the file is sent. */
    if (w->srv->follow != NULL && fs_follow_port_open(w->srv->follow, w) < 0)
        fprintf(stderr, "ferry serve: cannot watch the digest threads: trailers hashed inline\n");
}

static const struct srv_ops fs_ops = {
    .started = fs_started,
    .accepted = fs_accepted,
    .tick = fs_tick,
    .expired = fs_expired,
    .stopping = fs_stopping,
    .close_all = fs_close_all,
};

void fs_options_default(struct fs_options *o)
{
    memset(o, 0, sizeof *o);
    o->root = ".";
    o->port = 8000;
    o->threads = 1;
    o->raw = true;
    o->max_upload = 1ull << 30;
    o->log_fd = 1;
    o->max_conns = 10000;
    o->head_timeout_ms = 10000;
    o->idle_timeout_ms = 60000;
    o->send_timeout_ms = 30000;
    o->grace_ms = 3000;
    o->raw_gap_ms = FS_RAW_GAP_MS;
    o->mime_types = "/etc/mime.types";
    o->upload_max_age_s = 86400;
    o->upload_max_unfinished = 32;
    o->upload_part = 16u << 20;
    o->digest_rate_mib = 256;
    o->digest_scan = true;
    o->dav_depth_infinity = true;
}

static void server_free(struct fs_server *s)
{
    fs_jobs_free(s->jobs); /* the workers are gone: a job's thread may still run */
    fs_auth_stop(s->opt.auth); /* the workers are gone: nobody waits for a verdict */
    fs_digest_stop(s->digest);
    fs_follow_stop(s->follow); /* before the ports it hands jobs back to */
    fs_rup_close(s->rup);
    fs_davlock_close(s->locks);
    for (int i = 0; s->workers != NULL && i < s->opt.threads; i++) {
        struct worker *w = &s->workers[i];
        fs_auth_port_close(w);
        fs_follow_port_close(w);
        while (w->npool > 0)
            free(w->pool[--w->npool]);
        while (w->nxpool > 0)
            free(w->xpool[--w->nxpool]);
        free(w->rwbuf);
        ctimeset_free(&w->davbare);
        buf_free(&w->log);
    }
    free(s->workers);
    tls_server_free(s->tls);
    if (s->rootfd >= 0)
        close(s->rootfd);
    mime_table_free(&s->mime);
    free(s);
}

/* The certificate the options name, for a start or a reload. */
static struct tls_server_src tls_src(const struct fs_options *o)
{
    struct tls_server_src src = {.host = o->bind};

    if (!o->tls_self_signed) {
        src.cert_file = o->tls_cert;
        src.key_file = o->tls_key;
    }
    return src;
}

int fs_server_start(const struct fs_options *o, struct fs_server **out, char *url, size_t urlsz,
                    const char **what)
{
    struct fs_server *s = calloc(1, sizeof *s);
    char *types = NULL, name[SOCK_ADDRSTRLEN];
    size_t types_len = 0;
    void *apps[256];
    int rc;

    if (s == NULL)
        return -ENOMEM;
    s->opt = *o;
    s->jobs = fs_jobs_new();
    s->rootfd = open(o->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->rootfd < 0) {
        rc = -errno;
        *what = "cannot open the directory to serve";
        goto fail;
    }
    rc = fsx_open_beneath(s->rootfd, ".", O_RDONLY);
    if (rc < 0) {
        *what = "cannot resolve paths beneath the root (openat2 needs Linux 5.6 or later)";
        goto fail;
    }
    close(rc);
    if (o->mime_types != NULL)
        fsx_read_file(o->mime_types, 4u << 20, &types, &types_len); /* built-ins otherwise */
    rc = mime_table_init(&s->mime, types, types_len);
    free(types);
    if (rc < 0) {
        *what = "cannot build the media type table";
        goto fail;
    }
    rc = listing_csp(s->csp, sizeof s->csp);
    if (rc < 0) {
        *what = "cannot hash the listing page's script";
        goto fail;
    }
    if (o->threads < 1 || o->threads > 256) {
        rc = -EINVAL;
        *what = "bad thread count";
        goto fail;
    }
    if (o->tls_self_signed || o->tls_cert != NULL) {
        struct tls_server_src src = tls_src(o);
        rc = tls_server_new(&src, &s->tls, url, urlsz);
        if (rc < 0) {
            *what = url; /* the reason, which must outlive s */
            goto fail;
        }
    }
    s->workers = calloc((size_t)o->threads, sizeof *s->workers);
    if (s->workers == NULL) {
        rc = -ENOMEM;
        *what = "cannot start";
        goto fail;
    }
    for (int i = 0; i < o->threads; i++) {
        struct worker *w = &s->workers[i];
        w->srv = s;
        buf_init(&w->log, 1u << 20);
        worker_clock(w);
        apps[i] = w;
    }
    if (o->upload) {
        rc = fs_rup_open(s->rootfd, o, &s->rup);
        if (rc < 0) /* a read-only root, say: plain PUT only */
            fprintf(stderr, "ferry serve: no resumable uploads: cannot use %s: %s\n", FS_RUP_DIR,
                    strerror(-rc));
        rc = fs_davlock_open(s->rootfd, &s->locks);
        if (rc < 0) {
            *what = "cannot make the lock table";
            goto fail;
        }
    }
    struct fs_digest_config dc = {.rate_mib = o->digest_rate_mib,
                                  .rootfd = o->digest_scan ? s->rootfd : -1,
                                  .hidden = o->hidden};
    rc = fs_digest_start(&dc, &s->digest);
    if (rc < 0) {
        *what = "cannot start the digest thread";
        goto fail;
    }
    if (fs_follow_start(FS_FOLLOW_THREADS, &s->follow) < 0)
        s->follow = NULL; /* trailer digests are hashed inline, as the file is sent */
    if (o->auth != NULL) {
        rc = fs_auth_start(o->auth);
        if (rc < 0) {
            *what = "cannot start the password check threads";
            goto fail;
        }
    }
    struct srv_options so = {.bind = o->bind,
                             .port = o->port,
                             .threads = o->threads,
                             .max_conns = o->max_conns,
                             .tick_ms = TICK_MS,
                             .grace_ms = o->grace_ms,
                             .sweep_ms = SWEEP_MS,
                             .proxy_from = o->proxy_from,
                             .proxy_wait = o->proxy_wait};
    rc = srv_start(&s->srv, &so, &fs_ops, apps, name, sizeof name, what);
    if (rc < 0)
        goto fail;
    snprintf(url, urlsz, "%s://%s/", s->tls != NULL ? "https" : "http", name);
    *out = s;
    return 0;

fail:
    server_free(s);
    return rc;
}

int fs_server_reload(struct fs_server *s, char *err, size_t errsz)
{
    struct tls_server_src src = tls_src(&s->opt);

    if (s->tls == NULL || s->opt.tls_self_signed) {
        snprintf(err, errsz, "no certificate files to reload");
        return -ENOENT;
    }
    return tls_server_reload(s->tls, &src, err, errsz);
}

bool fs_server_fingerprint(struct fs_server *s, char *hex, size_t hexsz)
{
    char fp[TLS_FP_LEN];

    if (s->tls == NULL)
        return false;
    tls_server_fingerprint(s->tls, fp);
    snprintf(hex, hexsz, "%s", fp);
    return true;
}

void fs_server_stop(struct fs_server *s)
{
    srv_stop(&s->srv);
}

int fs_server_wait(struct fs_server *s)
{
    srv_wait(&s->srv);
    server_free(s);
    return 0;
}
