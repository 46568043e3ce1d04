/* The file server. Each connection is a state machine:
 *
 *   ST_HEAD   waiting for a request head (or, on a new connection, for the
 *             first bytes that tell HTTP from the raw protocol)
 *   ST_BODY   receiving a PUT body into a temporary file (app/upload.c)
 *   ST_SEND   sending a response: head and small body from c->out, a page
 *             from c->body, then file bytes with sendfile
 *   ST_LINGER our side is shut down; reading what the peer still sends so
 *             that closing does not reset the connection under our reply
 *
 * An idle connection holds only struct conn: its input and output buffers
 * come from a per-thread pool while a request is under way and go back
 * afterwards. Deadlines are checked by a sweep a few times a second. */
#include "app/fileserver.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "app/listing.h"
#include "app/upload.h"
#include "core/buf.h"
#include "core/charset.h"
#include "core/clock.h"
#include "core/fsx.h"
#include "net/ev.h"
#include "net/sock.h"
#include "net/srv.h"
#include "proto/html.h"
#include "proto/http.h"
#include "proto/httpdate.h"
#include "proto/mime.h"
#include "proto/path.h"
#include "proto/range.h"
#include "proto/raw.h"

#define IO_BUF_SIZE 16384           /* pooled input and output buffers */
#define POOL_KEEP 256               /* pooled buffers kept per thread */
#define SEND_BUDGET (8u << 20)      /* bytes for one connection per wakeup */
#define SENDFILE_CHUNK (4u << 20)
#define RW_BUF_SIZE (256u << 10)    /* FS_SEND_READWRITE's per-thread buffer */
#define DISCARD_MAX (1u << 20)      /* request body we read and drop */
#define LISTING_MAX (64u << 20)
#define LOG_FLUSH_AT 65536
#define TICK_MS 100
#define SWEEP_MS 250
#define PROBE_MS 300                /* wait for "GE" to become "GET " */
#define LINGER_MS 2000

enum conn_state { ST_HEAD, ST_BODY, ST_SEND, ST_LINGER };

#define FL_FIRST 0x01     /* nothing has been read yet on this connection */
#define FL_KEEP 0x02      /* serve another request after this response */
#define FL_RAW 0x04       /* this is a raw-protocol connection */
#define FL_HEAD_TIMER 0x08 /* a request head is partly here: its deadline runs */
#define FL_PROBE 0x10     /* first bytes might still become an HTTP method */
#define FL_LOOPBACK 0x20  /* the peer is on this host */

union peer_addr {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
};

struct worker;

struct conn {
    struct ev_io io;
    struct worker *w;
    struct conn *prev, *next;
    uint8_t state;
    uint8_t flags;
    int file_fd;
    int pipe_fd[2]; /* FS_SEND_SPLICE only; -1 otherwise */
    uint32_t piped; /* file bytes in the pipe, not yet in the socket */
    int64_t deadline;
    off_t file_off, file_end;
    uint64_t discard; /* request body bytes still to drop */
    struct buf *in;   /* pooled; NULL while idle */
    struct buf *out;  /* pooled; NULL while idle */
    struct buf *body; /* a generated page; NULL unless one is being sent */
    struct put *put;  /* a PUT under way; NULL otherwise */
    union peer_addr peer;
};

struct fs_server;

struct worker {
    struct srv_worker *sw;
    struct ev_loop *loop; /* &sw->loop */
    struct fs_server *srv;
    struct conn *conns;
    struct buf *pool[POOL_KEEP];
    size_t npool;
    struct buf log;
    time_t date_t;
    char date[HTTPDATE_LEN + 1];
    char log_date[32];
    int64_t next_sweep;
    char scratch[4096];
    char *rwbuf; /* FS_SEND_READWRITE only */
};

struct fs_server {
    struct fs_options opt;
    int rootfd;
    struct mime_table mime;
    struct srv srv;
    struct worker *workers;
};

/* A PUT body being received. */
struct put {
    struct upload *up;
    bool chunked;
    uint64_t left; /* Content-Length bytes still to come */
    struct http_chunked ch;
    const char *version;
    char target[256]; /* for the log line */
};

/* What a response says about itself, collected before its head is written. */
struct reply {
    int status;
    const char *type;
    bool has_length;
    uint64_t length;
    const struct stat *st; /* file validators */
    const char *etag;
    const char *content_range;
    const char *location;
    const char *allow;
};

static int conn_send(struct conn *c);
static int conn_process(struct conn *c);
static int put_finish(struct conn *c, int err);

/* ---- buffers ---------------------------------------------------------- */

static struct buf *pool_get(struct worker *w)
{
    if (w->npool > 0)
        return w->pool[--w->npool];
    struct buf *b = malloc(sizeof *b + IO_BUF_SIZE);
    if (b == NULL)
        return NULL;
    b->data = (char *)(b + 1);
    b->cap = b->max = IO_BUF_SIZE;
    b->rpos = b->wpos = 0;
    return b;
}

static void pool_put(struct worker *w, struct buf **bp)
{
    struct buf *b = *bp;

    if (b == NULL)
        return;
    *bp = NULL;
    b->rpos = b->wpos = 0;
    if (w->npool < POOL_KEEP)
        w->pool[w->npool++] = b;
    else
        free(b);
}

static void body_free(struct conn *c)
{
    if (c->body != NULL) {
        buf_free(c->body);
        free(c->body);
        c->body = NULL;
    }
}

static void put_free(struct conn *c, bool abort)
{
    if (c->put == NULL)
        return;
    if (abort && c->put->up != NULL)
        upload_abort(c->put->up);
    free(c->put);
    c->put = NULL;
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

static void log_flush(struct worker *w)
{
    /* A log that cannot be written must not stop serving: errors dropped. */
    fsx_write_all(w->srv->opt.log_fd, buf_rptr(&w->log), buf_len(&w->log));
    buf_consume(&w->log, buf_len(&w->log));
}

/* Appends bytes for a log line, with quotes, backslashes and control bytes
 * written as \xHH so a hostile name cannot forge lines. */
static void log_escaped(struct buf *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\')
            buf_printf(b, "\\x%02x", ch);
        else
            buf_append(b, &s[i], 1);
    }
}

/* One line in the common log format. */
static void log_request(struct conn *c, const char *method, size_t mlen, const char *target,
                        size_t tlen, const char *version, int status, uint64_t bytes)
{
    struct worker *w = c->w;
    char addr[SOCK_ADDRSTRLEN];

    if (w->srv->opt.quiet)
        return;
    sock_addr_format(&c->peer.sa, false, addr, sizeof addr);
    buf_printf(&w->log, "%s - - [%s] \"", addr, w->log_date);
    log_escaped(&w->log, method, mlen);
    buf_puts(&w->log, " ");
    log_escaped(&w->log, target, tlen);
    buf_printf(&w->log, "%s%s\" %d %" PRIu64 "\n", version[0] ? " " : "", version, status, bytes);
    if (buf_len(&w->log) >= LOG_FLUSH_AT)
        log_flush(w);
}

/* ---- connection lifetime ---------------------------------------------- */

static void close_pipe(struct conn *c)
{
    if (c->pipe_fd[0] >= 0) {
        close(c->pipe_fd[0]);
        close(c->pipe_fd[1]);
        c->pipe_fd[0] = c->pipe_fd[1] = -1;
    }
    c->piped = 0;
}

static void conn_close(struct conn *c)
{
    struct worker *w = c->w;

    ev_io_stop(w->loop, &c->io);
    close(c->io.fd);
    if (c->file_fd >= 0)
        close(c->file_fd);
    close_pipe(c);
    pool_put(w, &c->in);
    pool_put(w, &c->out);
    body_free(c);
    put_free(c, true);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv_conn_closed(w->sw);
    free(c);
}

static void on_conn(struct ev_loop *loop, struct ev_io *io, uint32_t events);

static void fs_accepted(struct srv_worker *sw, int fd, const struct sockaddr_storage *ss)
{
    struct worker *w = sw->app;
    struct conn *c = calloc(1, sizeof *c);

    if (c == NULL) {
        close(fd);
        return;
    }
    c->w = w;
    c->file_fd = -1;
    c->pipe_fd[0] = c->pipe_fd[1] = -1;
    c->state = ST_HEAD;
    c->flags = FL_FIRST;
    memcpy(&c->peer, ss, sizeof c->peer);
    if (sock_addr_is_loopback(&c->peer.sa))
        c->flags |= FL_LOOPBACK;
    c->deadline = w->loop->now + w->srv->opt.head_timeout_ms;
    if (ev_io_start(w->loop, &c->io, fd, EPOLLIN, on_conn) < 0) {
        close(fd);
        free(c);
        return;
    }
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    srv_conn_opened(sw);
}

/* Our reply is complete, or the connection is finished: stop sending,
 * keep reading until the peer closes or the linger deadline. */
static int conn_linger(struct conn *c)
{
    c->state = ST_LINGER;
    c->deadline = c->w->loop->now + LINGER_MS;
    pool_put(c->w, &c->in);
    shutdown(c->io.fd, SHUT_WR);
    if (ev_io_set(c->w->loop, &c->io, EPOLLIN) < 0) {
        conn_close(c);
        return -1;
    }
    return 0;
}

static int linger_read(struct conn *c)
{
    assert(c->state == ST_LINGER);
    for (int i = 0; i < 16; i++) {
        ssize_t n = sock_recv(c->io.fd, c->w->scratch, sizeof c->w->scratch);
        if (n == -EAGAIN)
            return 0;
        if (n <= 0)
            break;
    }
    conn_close(c);
    return -1;
}

/* ---- responses -------------------------------------------------------- */

/* Writes the status line and headers of r into c->out. */
static int put_head(struct conn *c, const struct reply *r, int minor)
{
    struct buf *b = c->out;
    char lm[HTTPDATE_LEN + 1];
    int rc;

    rc = buf_printf(b, "HTTP/1.1 %d %s\r\nServer: ferry\r\nDate: %s\r\n", r->status,
                    http_reason(r->status), c->w->date);
    if (rc == 0 && r->type)
        rc = buf_printf(b, "Content-Type: %s\r\n", r->type);
    if (rc == 0 && r->has_length)
        rc = buf_printf(b, "Content-Length: %" PRIu64 "\r\n", r->length);
    if (rc == 0 && r->st) {
        httpdate_format(r->st->st_mtime, lm);
        rc = buf_printf(b, "Last-Modified: %s\r\nETag: %s\r\nAccept-Ranges: bytes\r\n", lm, r->etag);
    }
    if (rc == 0 && r->content_range)
        rc = buf_printf(b, "Content-Range: %s\r\n", r->content_range);
    if (rc == 0 && r->location)
        rc = buf_printf(b, "Location: %s\r\n", r->location);
    if (rc == 0 && r->allow)
        rc = buf_printf(b, "Allow: %s\r\n", r->allow);
    if (rc == 0 && !(c->flags & FL_KEEP))
        rc = buf_puts(b, "Connection: close\r\n");
    else if (rc == 0 && minor == 0)
        rc = buf_puts(b, "Connection: keep-alive\r\n");
    if (rc == 0)
        rc = buf_puts(b, "\r\n");
    return rc;
}

/* Starts sending whatever has been queued in c->out, c->body and the file
 * range. Returns 0, or -1 when the connection was closed. */
static int start_send(struct conn *c)
{
    c->state = ST_SEND;
    return conn_send(c);
}

/* A short HTML error page; only the head for HEAD requests. */
static int send_error(struct conn *c, const struct http_request *req, int status,
                      const char *allow)
{
    char body[160];
    bool head = req != NULL && req->method == HTTP_HEAD;
    int n = snprintf(body, sizeof body,
                     "<!DOCTYPE html>\n<title>%d %s</title>\n<h1>%d %s</h1>\n", status,
                     http_reason(status), status, http_reason(status));
    struct reply r = {.status = status,
                      .type = "text/html; charset=utf-8",
                      .has_length = true,
                      .length = (uint64_t)n,
                      .allow = allow};

    if (c->out == NULL)
        c->out = pool_get(c->w);
    if (c->out == NULL || put_head(c, &r, req ? req->minor : 1) < 0 ||
        (!head && buf_append(c->out, body, (size_t)n) < 0)) {
        conn_close(c);
        return -1;
    }
    if (req != NULL)
        log_request(c, req->method_str.p, req->method_str.len, req->target.p, req->target.len,
                    req->minor ? "HTTP/1.1" : "HTTP/1.0", status, head ? 0 : (uint64_t)n);
    else
        log_request(c, "-", 1, "-", 1, "", status, (uint64_t)n);
    return start_send(c);
}

/* True when the If-None-Match list holds etag, by the weak comparison. */
static bool etag_listed(struct http_str list, const char *etag)
{
    size_t elen = strlen(etag), i = 0;

    while (i < list.len) {
        while (i < list.len && (list.p[i] == ' ' || list.p[i] == '\t' || list.p[i] == ','))
            i++;
        if (i < list.len && list.p[i] == '*')
            return true;
        if (i + 2 <= list.len && list.p[i] == 'W' && list.p[i + 1] == '/')
            i += 2;
        size_t start = i;
        while (i < list.len && list.p[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (list.p[end - 1] == ' ' || list.p[end - 1] == '\t'))
            end--;
        if (end - start == elen && memcmp(list.p + start, etag, elen) == 0)
            return true;
    }
    return false;
}

/* If-Range holds: a strong validator equal to ours, or our exact date. */
static bool if_range_holds(struct http_str v, const char *etag, time_t mtime)
{
    time_t t;

    if (v.len > 0 && v.p[0] == '"')
        return v.len == strlen(etag) && memcmp(v.p, etag, v.len) == 0;
    return httpdate_parse(v.p, v.len, &t) == 0 && t == mtime;
}

static int send_not_modified(struct conn *c, const struct http_request *req,
                             const struct stat *st, const char *etag)
{
    struct reply r = {.status = 304, .st = st, .etag = etag};

    if (put_head(c, &r, req->minor) < 0) {
        conn_close(c);
        return -1;
    }
    log_request(c, req->method_str.p, req->method_str.len, req->target.p, req->target.len,
                req->minor ? "HTTP/1.1" : "HTTP/1.0", 304, 0);
    return start_send(c);
}

/* Serves the regular file open at fd (which this takes over). */
static int serve_file(struct conn *c, const struct http_request *req, const struct http_info *info,
                      int fd, const struct stat *st, const char *name)
{
    struct fs_server *s = c->w->srv;
    char etag[80], crange[96];
    uint64_t size = (uint64_t)st->st_size, first = 0, last = size ? size - 1 : 0;
    bool head = req->method == HTTP_HEAD;
    time_t ims;
    struct reply r = {.status = 200, .has_length = true, .st = st, .etag = etag};

    snprintf(etag, sizeof etag, "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"", (uint64_t)st->st_ino,
             size, (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec);
    if (info->if_none_match.p != NULL ? etag_listed(info->if_none_match, etag)
                                      : (info->if_modified_since.p != NULL &&
                                         httpdate_parse(info->if_modified_since.p,
                                                        info->if_modified_since.len, &ims) == 0 &&
                                         st->st_mtime <= ims)) {
        close(fd);
        return send_not_modified(c, req, st, etag);
    }
    r.type = mime_lookup(&s->mime, name, strlen(name));
    if (info->range.p != NULL &&
        (info->if_range.p == NULL || if_range_holds(info->if_range, etag, st->st_mtime))) {
        struct range rg;
        switch (range_parse(info->range.p, info->range.len, size, &rg)) {
        case RANGE_ONE:
            first = rg.first;
            last = rg.last;
            r.status = 206;
            snprintf(crange, sizeof crange, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last,
                     size);
            r.content_range = crange;
            break;
        case RANGE_UNSATISFIABLE:
            close(fd);
            snprintf(crange, sizeof crange, "bytes */%" PRIu64, size);
            r = (struct reply){.status = 416, .has_length = true, .content_range = crange};
            if (put_head(c, &r, req->minor) < 0) {
                conn_close(c);
                return -1;
            }
            log_request(c, req->method_str.p, req->method_str.len, req->target.p, req->target.len,
                        req->minor ? "HTTP/1.1" : "HTTP/1.0", 416, 0);
            return start_send(c);
        case RANGE_NONE:
        case RANGE_MANY:
            /* Several ranges get the whole file: never more work than its size. */
            break;
        }
    }
    r.length = size ? last - first + 1 : 0;
    if (put_head(c, &r, req->minor) < 0) {
        close(fd);
        conn_close(c);
        return -1;
    }
    log_request(c, req->method_str.p, req->method_str.len, req->target.p, req->target.len,
                req->minor ? "HTTP/1.1" : "HTTP/1.0", r.status, head ? 0 : r.length);
    if (head || r.length == 0) {
        close(fd);
        return start_send(c);
    }
    if (s->opt.send_mode == FS_SEND_AUTO && r.length <= buf_room(c->out)) {
        /* A small body rides in the same write as the head. */
        ssize_t n = pread(fd, c->out->data + c->out->wpos, (size_t)r.length, (off_t)first);
        close(fd);
        if (n != (ssize_t)r.length) { /* the file shrank under us */
            conn_close(c);
            return -1;
        }
        buf_commit(c->out, (size_t)n);
        return start_send(c);
    }
    c->file_fd = fd;
    c->file_off = (off_t)first;
    c->file_end = (off_t)(last + 1);
    return start_send(c);
}

static int serve_listing(struct conn *c, const struct http_request *req, int dirfd, const char *rel)
{
    struct fs_server *s = c->w->srv;
    bool head = req->method == HTTP_HEAD;

    c->body = malloc(sizeof *c->body);
    if (c->body == NULL) {
        close(dirfd);
        return send_error(c, req, 500, NULL);
    }
    buf_init(c->body, LISTING_MAX);
    int rc = listing_build(s->rootfd, dirfd, rel, s->opt.hidden, c->body);
    close(dirfd);
    if (rc < 0) {
        body_free(c);
        return send_error(c, req, rc == -EACCES ? 403 : 500, NULL);
    }
    struct reply r = {.status = 200,
                      .type = "text/html; charset=utf-8",
                      .has_length = true,
                      .length = buf_len(c->body)};
    if (put_head(c, &r, req->minor) < 0) {
        conn_close(c);
        return -1;
    }
    log_request(c, req->method_str.p, req->method_str.len, req->target.p, req->target.len,
                req->minor ? "HTTP/1.1" : "HTTP/1.0", 200, head ? 0 : r.length);
    if (head)
        body_free(c);
    return start_send(c);
}

static int send_redirect(struct conn *c, const struct http_request *req, const char *rel)
{
    struct buf loc;
    int rc;

    /* Built from the normalised path, so it always starts with exactly
     * one slash and can never name another host. */
    buf_init(&loc, PATH_MAX_LEN * 3 + 8);
    rc = buf_puts(&loc, "/");
    if (rc == 0)
        rc = url_encode(&loc, rel, strlen(rel), 1);
    if (rc == 0)
        rc = buf_append(&loc, "/", 2);
    if (rc < 0) {
        buf_free(&loc);
        return send_error(c, req, 414, NULL);
    }
    struct reply r = {.status = 301, .has_length = true, .location = loc.data};
    rc = put_head(c, &r, req->minor);
    buf_free(&loc);
    if (rc < 0) {
        conn_close(c);
        return -1;
    }
    log_request(c, req->method_str.p, req->method_str.len, req->target.p, req->target.len,
                req->minor ? "HTTP/1.1" : "HTTP/1.0", 301, 0);
    return start_send(c);
}

static int status_for_open_error(int err)
{
    switch (err) {
    case -EACCES:
    case -EPERM:
        return 403;
    case -EMFILE:
    case -ENFILE:
    case -ENOMEM:
        return 503;
    default: /* ENOENT, ENOTDIR, and EXDEV/ELOOP for links leading outside */
        return 404;
    }
}

/* Answers one parsed GET or HEAD. */
static int serve_path(struct conn *c, const struct http_request *req, const struct http_info *info)
{
    struct fs_server *s = c->w->srv;
    struct http_str path;
    char rel[PATH_MAX_LEN + 16];
    unsigned flags;
    struct stat st;

    if (!http_target_path(req->target, &path))
        return send_error(c, req, 400, NULL);
    long len = path_from_target(path.p, path.len, rel, PATH_MAX_LEN, &flags);
    if (len == -ENAMETOOLONG)
        return send_error(c, req, 414, NULL);
    if (len == -EACCES)
        return send_error(c, req, 403, NULL);
    if (len < 0)
        return send_error(c, req, 400, NULL);
    if ((flags & PATH_HIDDEN) && !s->opt.hidden)
        return send_error(c, req, 404, NULL);
    int fd = fsx_open_beneath(s->rootfd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return send_error(c, req, status_for_open_error(fd), NULL);
    if (fstat(fd, &st) < 0) {
        close(fd);
        return send_error(c, req, 500, NULL);
    }
    if (S_ISREG(st.st_mode) && (flags & PATH_TRAILING_SLASH)) {
        close(fd);
        return send_error(c, req, 404, NULL); /* "file/" names nothing */
    }
    if (S_ISREG(st.st_mode))
        return serve_file(c, req, info, fd, &st, rel);
    if (!S_ISDIR(st.st_mode)) {
        close(fd);
        return send_error(c, req, 404, NULL);
    }
    if (!(flags & PATH_TRAILING_SLASH) && strcmp(rel, ".") != 0) {
        close(fd);
        return send_redirect(c, req, rel);
    }
    char index[PATH_MAX_LEN + 16];
    snprintf(index, sizeof index, "%s/index.html", rel);
    int ifd = fsx_open_beneath(s->rootfd, index, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (ifd >= 0) {
        if (fstat(ifd, &st) == 0 && S_ISREG(st.st_mode)) {
            close(fd);
            return serve_file(c, req, info, ifd, &st, index);
        }
        close(ifd);
    }
    return serve_listing(c, req, fd, rel);
}

/* A reply with no body: 201, 204, or 100 Continue's final answers. */
static int send_empty(struct conn *c, const char *method, const char *target, const char *version,
                      int status)
{
    struct reply r = {.status = status, .has_length = status != 204};

    if (c->out == NULL)
        c->out = pool_get(c->w);
    if (c->out == NULL || put_head(c, &r, 1) < 0) {
        conn_close(c);
        return -1;
    }
    log_request(c, method, strlen(method), target, strlen(target), version, status, 0);
    return start_send(c);
}

static int put_status_for(int err)
{
    switch (err) {
    case -ENOENT:
    case -ENOTDIR:
    case -EISDIR:
        return 409;
    case -EXDEV:
    case -ELOOP:
    case -EACCES:
    case -EPERM:
    case -EROFS:
        return 403;
    case -ENOSPC:
    case -EDQUOT:
        return 507;
    case -ENAMETOOLONG:
        return 414;
    default:
        return 500;
    }
}

/* Starts receiving a PUT body (--upload). */
static int serve_put(struct conn *c, const struct http_request *req, const struct http_info *info)
{
    struct fs_server *s = c->w->srv;
    struct http_str path;
    char rel[PATH_MAX_LEN + 16];
    unsigned flags;
    int rc;

    if (!info->chunked && info->content_length < 0) {
        c->flags &= (uint8_t)~FL_KEEP;
        return send_error(c, req, 411, NULL);
    }
    if (info->content_length > 0 && (uint64_t)info->content_length > s->opt.max_upload) {
        c->flags &= (uint8_t)~FL_KEEP; /* the body is not read */
        return send_error(c, req, 413, NULL);
    }
    if (!http_target_path(req->target, &path))
        return send_error(c, req, 400, NULL);
    long len = path_from_target(path.p, path.len, rel, PATH_MAX_LEN, &flags);
    if (len < 0 || ((flags & PATH_HIDDEN) && !s->opt.hidden) || (flags & PATH_TRAILING_SLASH)) {
        c->flags &= (uint8_t)~FL_KEEP;
        return send_error(c, req, len == -EINVAL ? 400 : len == -ENAMETOOLONG ? 414 : 403, NULL);
    }
    struct put *p = calloc(1, sizeof *p);
    if (p == NULL) {
        c->flags &= (uint8_t)~FL_KEEP;
        return send_error(c, req, 500, NULL);
    }
    rc = upload_begin(s->rootfd, rel, &p->up);
    if (rc < 0) {
        free(p);
        c->flags &= (uint8_t)~FL_KEEP;
        return send_error(c, req, put_status_for(rc), NULL);
    }
    p->chunked = info->chunked;
    p->left = info->chunked ? 0 : (uint64_t)info->content_length;
    p->version = req->minor ? "HTTP/1.1" : "HTTP/1.0";
    snprintf(p->target, sizeof p->target, "%.*s", (int)(req->target.len < 255 ? req->target.len : 255),
             req->target.p);
    c->put = p;
    c->state = ST_BODY;
    if (!p->chunked && p->left == 0)
        return put_finish(c, 0); /* an empty file */
    c->deadline = c->w->loop->now + s->opt.send_timeout_ms;
    pool_put(c->w, &c->out);
    if (info->expect_continue) {
        /* Tiny and first on the connection: if the socket cannot take it
         * now the client sends the body after its own short wait anyway. */
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        sock_send(c->io.fd, cont, sizeof cont - 1, 0);
    }
    return 0;
}

/* Ends a PUT: puts the file in place and answers, or answers the error. */
static int put_finish(struct conn *c, int err)
{
    struct put *p = c->put;
    char target[256];
    const char *version = p->version;
    bool created = false;
    int status;

    snprintf(target, sizeof target, "%s", p->target);
    if (err == 0) {
        err = upload_commit(p->up, &created);
        p->up = NULL;
    }
    put_free(c, true);
    c->state = ST_SEND;
    if (err == 0) {
        status = created ? 201 : 204;
    } else {
        status = err == -EFBIG ? 413 : err == -EBADMSG ? 400 : put_status_for(err);
        c->flags &= (uint8_t)~FL_KEEP; /* the rest of the body is not read */
    }
    if (err != 0) {
        struct http_request fake;
        memset(&fake, 0, sizeof fake);
        fake.method = HTTP_PUT;
        fake.method_str = (struct http_str){"PUT", 3};
        fake.target = (struct http_str){target, strlen(target)};
        fake.minor = version[7] - '0';
        return send_error(c, &fake, status, NULL);
    }
    return send_empty(c, "PUT", target, version, status);
}

/* Moves PUT body bytes from c->in to the upload. Returns 0 (maybe still
 * in ST_BODY, waiting for more) or -1 when the connection was closed. */
static int put_process(struct conn *c)
{
    struct put *p = c->put;
    struct buf *in = c->in;
    size_t len = in ? buf_len(in) : 0;
    ssize_t end = HTTP_PARSE_INCOMPLETE;

    assert(c->state == ST_BODY);
    if (len == 0)
        return 0;
    c->deadline = c->w->loop->now + c->w->srv->opt.send_timeout_ms;
    char *data = in->data + in->rpos;
    size_t take = len;
    if (p->chunked) {
        end = http_chunked_decode(&p->ch, data, &take);
        if (end == HTTP_PARSE_INVALID) {
            buf_consume(in, len);
            return put_finish(c, -EBADMSG);
        }
        if (end > 0)
            c->flags &= (uint8_t)~FL_KEEP; /* pipelining after a chunked PUT: not worth it */
    } else {
        if (take > p->left)
            take = (size_t)p->left;
        p->left -= take;
        len = take;
        if (p->left == 0)
            end = 0;
    }
    if (upload_size(p->up) + take > c->w->srv->opt.max_upload) {
        buf_consume(in, len);
        return put_finish(c, -EFBIG);
    }
    int rc = upload_write(p->up, data, take);
    buf_consume(in, len);
    if (rc < 0)
        return put_finish(c, rc);
    if (end >= 0)
        return put_finish(c, 0);
    return 0;
}

/* Handles the complete request head at the start of c->in (head_len
 * bytes), then consumes it. */
static int handle_request(struct conn *c, const struct http_request *req, size_t head_len)
{
    struct http_info info;
    int status = http_analyse(req, &info);
    int rc;

    c->flags &= (uint8_t) ~(FL_HEAD_TIMER | FL_KEEP);
    if (c->out == NULL)
        c->out = pool_get(c->w);
    if (c->out == NULL) {
        conn_close(c);
        return -1;
    }
    /* The head is consumed only after the reply is built: req points into
     * c->in until then. */
    if (status != 0) {
        rc = send_error(c, req, status, NULL);
    } else {
        if (info.keep_alive && !c->w->sw->stopping)
            c->flags |= FL_KEEP;
        if (req->method == HTTP_PUT && c->w->srv->opt.upload) {
            rc = serve_put(c, req, &info);
            if (rc == 0 && c->in != NULL)
                buf_consume(c->in, head_len);
            return rc;
        }
        if (info.chunked || (info.content_length > (int64_t)DISCARD_MAX))
            c->flags &= (uint8_t)~FL_KEEP; /* a body we will not read */
        else if (info.content_length > 0)
            c->discard = (uint64_t)info.content_length;
        if (req->method == HTTP_GET || req->method == HTTP_HEAD)
            rc = serve_path(c, req, &info);
        else
            rc = send_error(c, req, 405, c->w->srv->opt.upload ? "GET, HEAD, PUT" : "GET, HEAD");
    }
    if (rc == 0 && c->in != NULL)
        buf_consume(c->in, head_len);
    return rc;
}

/* The raw protocol: the bytes read so far are a file name. */
static int serve_raw(struct conn *c)
{
    struct fs_server *s = c->w->srv;
    const char *name = buf_rptr(c->in);
    long len = raw_name_len(name, buf_len(c->in));
    char utf8[RAW_MAX_NAME * 2 + 1], rel[PATH_MAX_LEN + 16];
    unsigned flags = 0;
    int fd = -1;
    struct stat st;

    c->flags = (uint8_t)((c->flags | FL_RAW) & ~(FL_KEEP | FL_PROBE | FL_FIRST));
    if (len > 0 && !utf8_valid(name, (size_t)len)) {
        /* The classic clients send GBK; GB18030 decodes all of it. */
        long n = gb18030_to_utf8(name, (size_t)len, utf8, sizeof utf8);
        if (n > 0) {
            name = utf8;
            len = n;
        } else {
            len = -EILSEQ;
        }
    }
    if (len > 0 && path_normalise(name, (size_t)len, rel, PATH_MAX_LEN, &flags) > 0 &&
        (!(flags & PATH_HIDDEN) || s->opt.hidden)) {
        fd = fsx_open_beneath(s->rootfd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY);
        if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
            close(fd);
            fd = -1;
        }
    }
    if (len > 0)
        log_request(c, "RAW", 3, name, (size_t)len, "", fd >= 0 ? 200 : 404,
                    fd >= 0 ? (uint64_t)st.st_size : 0);
    else
        log_request(c, "RAW", 3, "-", 1, "", 400, 0);
    buf_consume(c->in, buf_len(c->in));
    if (fd < 0)
        return conn_linger(c); /* the empty reply: "no such file" */
    c->file_fd = fd;
    c->file_off = 0;
    c->file_end = st.st_size;
    return start_send(c);
}

/* The response is out: free its resources, then close, linger or wait for
 * the next request. Returns 0, or -1 when the connection was closed. */
static int finish_response(struct conn *c)
{
    struct worker *w = c->w;

    if (c->file_fd >= 0) {
        close(c->file_fd);
        c->file_fd = -1;
    }
    close_pipe(c);
    pool_put(w, &c->out);
    body_free(c);
    if (!(c->flags & FL_KEEP))
        return conn_linger(c);
    c->state = ST_HEAD;
    c->deadline = w->loop->now + w->srv->opt.idle_timeout_ms;
    if (ev_io_set(w->loop, &c->io, EPOLLIN) < 0) {
        conn_close(c);
        return -1;
    }
    return 0;
}

static int arm_output(struct conn *c)
{
    c->deadline = c->w->loop->now + c->w->srv->opt.send_timeout_ms;
    if (ev_io_set(c->w->loop, &c->io, EPOLLOUT) < 0) {
        conn_close(c);
        return -1;
    }
    return 0;
}

/* Sends the next part of the file range the way the options say. Returns
 * bytes sent, 0 when the file ended early, or -errno (-EAGAIN when full). */
static ssize_t send_file_part(struct conn *c)
{
    struct worker *w = c->w;
    size_t want = (size_t)(c->file_end - c->file_off);
    ssize_t n;

    if (want > SENDFILE_CHUNK)
        want = SENDFILE_CHUNK;
    enum fs_send_mode mode = w->srv->opt.send_mode;
    if (mode == FS_SEND_AUTO)
        /* Measured (docs/BENCHMARKS.md): over loopback, copying through a
         * cache-warm buffer beat our (uncorked) sendfile 1.3-1.6x for large files; over a
         * NIC, sendfile saves the copy. */
        mode = (c->flags & FL_LOOPBACK) ? FS_SEND_READWRITE : FS_SEND_SENDFILE;
    switch (mode) {
    case FS_SEND_READWRITE:
        if (w->rwbuf == NULL && (w->rwbuf = malloc(RW_BUF_SIZE)) == NULL)
            return -ENOMEM;
        if (want > RW_BUF_SIZE)
            want = RW_BUF_SIZE;
        n = pread(c->file_fd, w->rwbuf, want, c->file_off);
        if (n <= 0)
            return n < 0 ? -errno : 0;
        /* Bytes the socket does not take are read again next time: the
         * buffer belongs to the thread, not the connection. */
        n = sock_send(c->io.fd, w->rwbuf, (size_t)n, 0);
        if (n > 0)
            c->file_off += n;
        return n;
    case FS_SEND_SPLICE:
        if (c->pipe_fd[0] < 0 && pipe2(c->pipe_fd, O_NONBLOCK | O_CLOEXEC) < 0) {
            c->pipe_fd[0] = c->pipe_fd[1] = -1;
            return -errno;
        }
        if (c->piped == 0) {
            n = splice(c->file_fd, &c->file_off, c->pipe_fd[1], NULL, want, SPLICE_F_MOVE);
            if (n <= 0)
                return n < 0 ? -errno : 0;
            c->piped = (uint32_t)n;
        }
        n = splice(c->pipe_fd[0], NULL, c->io.fd, NULL, c->piped,
                   SPLICE_F_MOVE | SPLICE_F_NONBLOCK |
                       (c->file_off < c->file_end ? SPLICE_F_MORE : 0));
        if (n < 0)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        c->piped -= (uint32_t)n;
        return n > 0 ? n : -EAGAIN;
    case FS_SEND_AUTO:
    case FS_SEND_SENDFILE:
        break;
    }
    return sock_sendfile(c->io.fd, c->file_fd, &c->file_off, want);
}

/* Sends from c->out, c->body and the file, in that order, until all is
 * out, the socket is full or this wakeup's budget is spent. */
static int conn_send(struct conn *c)
{
    size_t budget = SEND_BUDGET;

    assert(c->state == ST_SEND);
    for (;;) {
        size_t outlen = c->out ? buf_len(c->out) : 0;
        size_t bodylen = c->body ? buf_len(c->body) : 0;
        bool file_left = c->file_off < c->file_end || c->piped > 0;
        ssize_t n;

        if (outlen > 0 || bodylen > 0) {
            struct iovec iov[2];
            int cnt = 0;
            if (outlen > 0)
                iov[cnt++] = (struct iovec){(void *)buf_rptr(c->out), outlen};
            if (bodylen > 0)
                iov[cnt++] = (struct iovec){(void *)buf_rptr(c->body), bodylen};
            n = sock_sendv(c->io.fd, iov, cnt, file_left ? MSG_MORE : 0);
            if (n > 0) {
                size_t from_out = (size_t)n < outlen ? (size_t)n : outlen;
                if (from_out > 0)
                    buf_consume(c->out, from_out);
                if ((size_t)n > from_out)
                    buf_consume(c->body, (size_t)n - from_out);
            }
        } else if (file_left) {
            n = send_file_part(c);
            if (n == 0) { /* the file shrank: we cannot keep our promise */
                conn_close(c);
                return -1;
            }
        } else {
            return finish_response(c);
        }
        if (n == -EAGAIN)
            return arm_output(c);
        if (n < 0) {
            conn_close(c);
            return -1;
        }
        if ((size_t)n >= budget)
            return arm_output(c); /* let other connections have a turn */
        budget -= (size_t)n;
    }
}

/* Works through the bytes in c->in: drops a request body being discarded,
 * tells HTTP from raw on a new connection, parses and answers requests
 * (several when pipelined) while the connection waits for a head. */
static int conn_process(struct conn *c)
{
    struct worker *w = c->w;
    struct http_request req;

    while (c->state == ST_HEAD || c->state == ST_BODY) {
        struct buf *in = c->in;
        size_t len = in ? buf_len(in) : 0;

        if (c->state == ST_BODY) {
            if (put_process(c) < 0)
                return -1;
            if (c->state == ST_BODY) {
                if (c->in != NULL && buf_len(c->in) == 0)
                    pool_put(w, &c->in);
                return 0;
            }
            continue;
        }

        if (c->discard > 0 && len > 0) {
            size_t take = c->discard < len ? (size_t)c->discard : len;
            buf_consume(in, take);
            c->discard -= take;
            len -= take;
        }
        if (len == 0) {
            pool_put(w, &c->in);
            return 0;
        }
        if ((c->flags & FL_FIRST) && w->srv->opt.raw) {
            enum raw_detect d = raw_detect(buf_rptr(in), len);
            if (d == RAW_IS_RAW)
                return serve_raw(c);
            if (d == RAW_IS_MAYBE) {
                if (!(c->flags & FL_PROBE)) {
                    c->flags |= FL_PROBE;
                    c->deadline = w->loop->now + PROBE_MS;
                }
                return 0;
            }
        }
        c->flags &= (uint8_t) ~(FL_FIRST | FL_PROBE);
        int status = 0;
        size_t plen = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
        ssize_t r = http_parse_request(buf_rptr(in), plen, &req, &status);
        if (r == HTTP_PARSE_INCOMPLETE) {
            if (len >= HTTP_MAX_HEAD) {
                c->flags &= (uint8_t)~FL_KEEP;
                return send_error(c, NULL, http_head_overflow_status(buf_rptr(in), plen), NULL);
            }
            if (!(c->flags & FL_HEAD_TIMER)) {
                /* One deadline for the whole head, however it trickles in. */
                c->flags |= FL_HEAD_TIMER;
                c->deadline = w->loop->now + w->srv->opt.head_timeout_ms;
            }
            return 0;
        }
        if (r == HTTP_PARSE_INVALID) {
            c->flags &= (uint8_t)~FL_KEEP;
            return send_error(c, NULL, status, NULL);
        }
        if (handle_request(c, &req, (size_t)r) < 0)
            return -1;
    }
    return 0;
}

static int conn_read(struct conn *c)
{
    assert(c->state == ST_HEAD || c->state == ST_BODY);
    if (c->in == NULL)
        c->in = pool_get(c->w);
    if (c->in == NULL) {
        conn_close(c);
        return -1;
    }
    char *p = buf_reserve(c->in, 1);
    if (p == NULL) /* full: conn_process answers 414/431 before this */
        return conn_process(c);
    ssize_t n = sock_recv(c->io.fd, p, buf_room(c->in));
    if (n == -EAGAIN)
        return conn_process(c);
    if (n == 0 && (c->flags & FL_PROBE) && buf_len(c->in) > 0)
        return serve_raw(c); /* the peer is done sending: the bytes are the whole name */
    if (n <= 0) {
        conn_close(c);
        return -1;
    }
    buf_commit(c->in, (size_t)n);
    return conn_process(c);
}

static void on_conn(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    struct conn *c = container_of(io, struct conn, io);
    (void)loop;
    (void)events;

    switch (c->state) {
    case ST_HEAD:
    case ST_BODY:
        conn_read(c);
        break;
    case ST_SEND:
        if (conn_send(c) == 0 && c->state == ST_HEAD)
            conn_process(c);
        break;
    case ST_LINGER:
        linger_read(c);
        break;
    }
}

/* ---- timers, stopping, threads ---------------------------------------- */

static void on_deadline(struct conn *c)
{
    if (c->state == ST_HEAD && (c->flags & FL_PROBE) && c->in != NULL) {
        serve_raw(c); /* "GE" and nothing more: a raw name after all */
        return;
    }
    conn_close(c); /* slow head, idle keep-alive, stalled send, linger over */
}

static void sweep(struct worker *w)
{
    struct conn *c = w->conns, *next;

    for (; c != NULL; c = next) {
        next = c->next;
        if (w->loop->now >= c->deadline)
            on_deadline(c);
    }
}

static void fs_stopping(struct srv_worker *sw)
{
    struct worker *w = sw->app;
    struct conn *c = w->conns, *next;

    for (; c != NULL; c = next) {
        next = c->next;
        c->flags &= (uint8_t)~FL_KEEP;
        if (c->state == ST_HEAD && (c->in == NULL || buf_len(c->in) == 0))
            conn_close(c);
    }
}

static void fs_close_all(struct srv_worker *sw)
{
    struct worker *w = sw->app;

    while (w->conns != NULL)
        conn_close(w->conns);
}

static void fs_tick(struct srv_worker *sw)
{
    struct worker *w = sw->app;

    worker_clock(w);
    if (w->loop->now >= w->next_sweep) {
        sweep(w);
        w->next_sweep = w->loop->now + SWEEP_MS;
    }
    if (buf_len(&w->log) > 0)
        log_flush(w);
}

static const struct srv_ops fs_ops = {
    .accepted = fs_accepted,
    .tick = fs_tick,
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
    o->mime_types = "/etc/mime.types";
}

static void server_free(struct fs_server *s)
{
    for (int i = 0; s->workers != NULL && i < s->opt.threads; i++) {
        struct worker *w = &s->workers[i];
        while (w->npool > 0)
            free(w->pool[--w->npool]);
        free(w->rwbuf);
        buf_free(&w->log);
    }
    free(s->workers);
    if (s->rootfd >= 0)
        close(s->rootfd);
    mime_table_free(&s->mime);
    free(s);
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
    if (o->threads < 1 || o->threads > 256) {
        rc = -EINVAL;
        *what = "bad thread count";
        goto fail;
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
    struct srv_options so = {.bind = o->bind,
                             .port = o->port,
                             .threads = o->threads,
                             .max_conns = o->max_conns,
                             .tick_ms = TICK_MS,
                             .grace_ms = o->grace_ms};
    rc = srv_init(&s->srv, &so, &fs_ops, apps, what);
    if (rc < 0)
        goto fail;
    for (int i = 0; i < o->threads; i++) {
        s->workers[i].sw = &s->srv.workers[i];
        s->workers[i].loop = &s->srv.workers[i].loop;
    }
    srv_local_name(&s->srv, name, sizeof name);
    snprintf(url, urlsz, "http://%s/", name);
    rc = srv_run(&s->srv);
    if (rc < 0) {
        *what = "cannot start threads";
        srv_free(&s->srv);
        goto fail;
    }
    *out = s;
    return 0;

fail:
    server_free(s);
    return rc;
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
