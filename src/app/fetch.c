/* The client. Blocking logic over non-blocking sockets: every wait is a
 * poll with the --timeout deadline, so a stalled server cannot hang us.
 *
 * One download: pick the output name, open or resume NAME.part, send the
 * request (Range and If-Range when resuming), read the head, follow
 * redirects, check the status, copy the body (Content-Length, chunked or
 * until close) while drawing progress, verify the length, fsync, rename. */
#include "app/fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "app/listing.h"
#include "core/charset.h"
#include "core/clock.h"
#include "core/fsx.h"
#include "net/sock.h"
#include "net/tls.h"
#include "proto/http.h"
#include "proto/url.h"

#define IOBUF (64u << 10) /* measured: bigger buffers copy out of cache (docs/BENCHMARKS.md) */
#define SPLICE_MAX (1u << 20) /* the pipe asked for; the most one splice moves */
#define LOWAT_MAX (256u << 10)
#define PIPELINE_MAX 16 /* requests in flight on one connection */
#define HEAD_MAX (64u << 10)
_Static_assert(IOBUF <= HEAD_MAX, "what a body read took too far goes back in the head buffer");
#define DRAIN_MAX (1u << 20) /* error or redirect bodies read to keep the connection */
#define PROGRESS_MS 200

struct fconn {
    int fd;
    struct tls *tls;
    enum url_scheme scheme;
    char host[256];
    uint16_t port;
    bool reusable;
    bool peer_closed;
    bool proven;    /* answered an HTTP/1.1 request and stayed open: may pipeline */
    bool broken;    /* a write failed part way: never reused */
    uint64_t sent, received;
    int lowat;      /* SO_RCVLOWAT as last set: 1 or LOWAT_MAX */
    char *buf; /* bytes read but not yet used: buf[pos..len) */
    size_t pos, len;
};

struct fetch {
    const struct fetch_options *o;
    bool resume;    /* -c, or a retry after a transient failure */
    bool expect_continue; /* a PUT waits for "100 Continue" */
    int read_ms;          /* how long a read waits: --timeout, or less */
    struct fconn c; /* fd < 0 when none */
    /* Requests sent ahead on c whose answers are not read yet, oldest first:
     * their indexes into o->urls and the Range start each asked for. */
    struct ahead {
        int index;
        int64_t have;
    } ahead[PIPELINE_MAX];
    int nahead;
    int ahead_next; /* the first URL the look ahead has not considered; 0 with
                     * the queue emptied */
    char *io;       /* body copy buffer */
    int pipe[2];    /* socket -> pipe -> file with splice; -1 until first used */
    bool no_splice; /* the pipe failed once: copy through io from then on */
};

struct progress {
    const char *name;
    int64_t total; /* -1 unknown */
    int64_t done, start_at;
    int64_t t0, last_draw;
};

void fetch_options_default(struct fetch_options *o)
{
    memset(o, 0, sizeof *o);
    o->max_redirs = 10;
    o->timeout_ms = 30000;
    o->err_fd = 2;
}

static void say(const struct fetch *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct fetch *f, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    dprintf(f->o->err_fd, "ferry: ");
    vdprintf(f->o->err_fd, fmt, ap);
    dprintf(f->o->err_fd, "\n");
    va_end(ap);
}

static void verbose(const struct fetch *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void verbose(const struct fetch *f, const char *fmt, ...)
{
    va_list ap;

    if (!f->o->verbose)
        return;
    va_start(ap, fmt);
    dprintf(f->o->err_fd, "* ");
    vdprintf(f->o->err_fd, fmt, ap);
    dprintf(f->o->err_fd, "\n");
    va_end(ap);
}

/* Text for what a read or write on the connection returned. */
static const char *io_strerror(int err)
{
    if (err == TLS_ECUT)
        return "the TLS stream ended without close_notify (cut short)";
    if (err == -EPROTO)
        return "TLS record error (garbage or forged bytes)";
    return strerror(-err);
}

/* The result for a read or write failure: a TLS record that does not
 * verify is FETCH_TLS, anything else FETCH_NETWORK. */
static enum fetch_result io_result(int err)
{
    return err == -EPROTO ? FETCH_TLS : FETCH_NETWORK;
}

/* ---- connection -------------------------------------------------------- */

static void conn_close(struct fetch *f, bool we_close)
{
    struct fconn *c = &f->c;

    if (c->fd < 0)
        return;
    if (f->o->verbose) {
        struct tcp_info ti;
        socklen_t tl = sizeof ti;
        verbose(f, "sent %llu bytes, received %llu bytes; %s", (unsigned long long)c->sent,
                (unsigned long long)c->received,
                c->peer_closed ? "the server closed first" : we_close ? "we closed" : "closing");
        if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0)
            verbose(f, "TCP: rtt %.3f ms (var %.3f ms), %u retransmissions", ti.tcpi_rtt / 1000.0,
                    ti.tcpi_rttvar / 1000.0, ti.tcpi_total_retrans);
    }
    if (f->nahead > 0)
        verbose(f, "%d requests sent ahead go again on the next connection", f->nahead);
    f->nahead = 0; /* their answers die with the connection */
    f->ahead_next = 0;
    tls_close(c->tls);
    close(c->fd);
    free(c->buf);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

/* True when c is open, kept alive and connected to u's scheme, host and
 * port. */
static bool conn_serves(const struct fconn *c, const struct url *u)
{
    return c->fd >= 0 && c->reusable && !c->broken && !c->peer_closed && c->scheme == u->scheme &&
           c->port == u->port && strcmp(c->host, u->host) == 0;
}

static enum fetch_result conn_open(struct fetch *f, const struct url *u)
{
    struct fconn *c = &f->c;
    struct sockaddr_storage peer;
    char addr[SOCK_ADDRSTRLEN], err[256];
    int64_t t0 = clock_ms();

    if (conn_serves(c, u)) {
        verbose(f, "reusing the connection to %s:%u", u->host, u->port);
        return FETCH_OK;
    }
    conn_close(f, true);
    int fd = sock_connect(u->host, u->port, SOCK_STREAM, f->o->timeout_ms, &peer);
    if (fd < 0) {
        say(f, "cannot connect to %s:%u: %s", u->host, u->port,
            fd == -EADDRNOTAVAIL ? "no such host" : strerror(-fd));
        return FETCH_NETWORK;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sock_addr_format((struct sockaddr *)&peer, true, addr, sizeof addr);
    verbose(f, "connected to %s (%s) in %.1f ms", u->host, addr, (double)(clock_ms() - t0));
    c->fd = fd;
    c->lowat = 1; /* the kernel's default */
    c->scheme = u->scheme;
    c->port = u->port;
    snprintf(c->host, sizeof c->host, "%s", u->host);
    c->buf = malloc(HEAD_MAX);
    if (c->buf == NULL) {
        conn_close(f, true);
        return FETCH_LOCAL;
    }
    if (u->scheme == URL_HTTPS) {
        if (f->o->insecure)
            say(f, "warning: -k: the server's certificate is not verified");
        int64_t t1 = clock_ms();
        int rc = tls_connect(fd, u->host, f->o->cacert, f->o->insecure, f->o->timeout_ms, &c->tls,
                             err, sizeof err);
        if (rc < 0) {
            say(f, "%s: %s", u->host, rc == -EPROTO ? err : strerror(-rc));
            conn_close(f, true);
            return rc == -EPROTO ? FETCH_TLS : FETCH_NETWORK;
        }
        verbose(f, "%s %s, handshake %.1f ms", tls_version(c->tls), tls_cipher(c->tls),
                (double)(clock_ms() - t1));
    }
    return FETCH_OK;
}

/* Waits until fd is ready. 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd pf = {.fd = fd, .events = events};

    for (;;) {
        int n = poll(&pf, 1, timeout_ms);
        if (n > 0)
            return 0;
        if (n == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

/* Sets how many bytes must be queued before the kernel wakes us
 * (SO_RCVLOWAT): LOWAT_MAX while at least that much of a bulk body is to
 * come, else 1. Each wakeup costs the sender's CPU on loopback, so fewer
 * and fuller reads are faster; only two values, so a shrinking remainder
 * costs no setsockopt per read. */
static void conn_lowat(struct fetch *f, bool bulk)
{
    struct fconn *c = &f->c;
    int v = bulk ? (int)LOWAT_MAX : 1;

    if (v != c->lowat && setsockopt(c->fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v) == 0)
        c->lowat = v;
}

/* Reads from the network (not the buffer). Bytes, 0 at the end, -errno. */
static ssize_t net_read(struct fetch *f, void *p, size_t n)
{
    struct fconn *c = &f->c;
    ssize_t r;

    if (c->tls) {
        r = tls_read(c->tls, p, n, f->read_ms);
    } else {
        for (;;) {
            r = sock_recv(c->fd, p, n);
            if (r != -EAGAIN)
                break;
            conn_lowat(f, false);
            int rc = wait_fd(c->fd, POLLIN, f->read_ms);
            if (rc < 0)
                return rc;
        }
    }
    if (r > 0)
        c->received += (uint64_t)r;
    if (r == 0)
        c->peer_closed = true;
    return r;
}

/* Reads buffered bytes first, then the network. */
static ssize_t conn_read(struct fetch *f, void *p, size_t n)
{
    struct fconn *c = &f->c;

    if (c->pos < c->len) {
        size_t take = c->len - c->pos < n ? c->len - c->pos : n;
        memcpy(p, c->buf + c->pos, take);
        c->pos += take;
        return (ssize_t)take;
    }
    return net_read(f, p, n);
}

/* Gives back the last n bytes a conn_read returned (p, in the caller's
 * copy), which follow the body being read: the next answer of a pipeline.
 * from_buf: that read was served from c->buf, where they still are. */
static void conn_unread(struct fetch *f, const char *p, size_t n, bool from_buf)
{
    struct fconn *c = &f->c;

    if (from_buf) {
        c->pos -= n;
        return;
    }
    /* The read came from the network, so the buffer was empty. */
    memcpy(c->buf, p, n);
    c->pos = 0;
    c->len = n;
}

static int conn_write(struct fetch *f, const void *p, size_t n)
{
    struct fconn *c = &f->c;
    size_t done = 0;

    if (c->tls) {
        ssize_t w = tls_write(c->tls, p, n, f->o->timeout_ms);
        if (w < 0) {
            c->broken = true;
            return (int)w;
        }
        c->sent += n;
        return 0;
    }
    while (done < n) {
        ssize_t w = sock_send(c->fd, (const char *)p + done, n - done, 0);
        if (w == -EAGAIN) {
            int rc = wait_fd(c->fd, POLLOUT, f->o->timeout_ms);
            if (rc < 0) {
                c->broken = true;
                return rc;
            }
            continue;
        }
        if (w < 0) {
            c->broken = true;
            return (int)w;
        }
        done += (size_t)w;
        c->sent += (uint64_t)w;
    }
    return 0;
}

/* Reads a response head into c->buf. Returns its length, 0 when the server
 * closed before sending anything, or -errno / -EBADMSG. */
static ssize_t read_head(struct fetch *f, struct http_response *res)
{
    struct fconn *c = &f->c;

    /* Bytes already read past the last head stay: they begin this one. */
    if (c->pos < c->len)
        memmove(c->buf, c->buf + c->pos, c->len - c->pos);
    c->len -= c->pos < c->len ? c->pos : c->len;
    c->pos = 0;
    for (;;) {
        if (c->len > 0) {
            ssize_t h = http_parse_response(c->buf, c->len, res);
            if (h > 0 && res->status >= 100 && res->status < 200 && res->status != 101 &&
                !f->expect_continue) {
                /* An interim response (103 Early Hints...): the final one follows. */
                memmove(c->buf, c->buf + h, c->len - (size_t)h);
                c->len -= (size_t)h;
                continue;
            }
            if (h > 0)
                return h;
            if (h == HTTP_PARSE_INVALID)
                return -EBADMSG;
        }
        if (c->len == HEAD_MAX)
            return -EBADMSG;
        ssize_t r = net_read(f, c->buf + c->len, HEAD_MAX - c->len);
        if (r < 0)
            return r;
        if (r == 0)
            return c->len == 0 ? 0 : -EBADMSG;
        c->len += (size_t)r;
    }
}

/* ---- files -------------------------------------------------------------- */

/* A file name from a URL segment: no path, no control bytes, not hidden. */
static void safe_name(const char *in, char *out, size_t outsz, const char *fallback)
{
    size_t o = 0;

    for (size_t i = 0; in[i] && o + 1 < outsz; i++) {
        unsigned char ch = (unsigned char)in[i];
        out[o++] = (ch == '/' || ch == '\\' || ch < 0x20 || ch == 0x7f) ? '_' : (char)ch;
    }
    out[o] = '\0';
    if (o == 0 || out[0] == '.')
        snprintf(out, outsz, "%s", fallback);
}

/* Where this URL's body goes, unless -o says otherwise. */
static void output_path(const struct fetch *f, const char *base, char *out, size_t outsz)
{
    if (f->o->output != NULL)
        snprintf(out, outsz, "%s", f->o->output);
    else if (f->o->outdir != NULL)
        snprintf(out, outsz, "%s/%s", f->o->outdir, base);
    else
        snprintf(out, outsz, "%s", base);
}

static void progress_draw(const struct fetch *f, struct progress *p, bool last)
{
    int64_t now = clock_ms();
    char done[32], total[32], rate[32];

    if (f->o->quiet || (!last && (!f->o->progress || now - p->last_draw < PROGRESS_MS)))
        return;
    p->last_draw = now;
    double secs = (double)(now - p->t0) / 1000.0;
    /* Under a millisecond there is no rate worth showing. */
    double bps = secs > 0 ? (double)(p->done - p->start_at) / secs : (double)(p->done - p->start_at) * 1000;
    listing_human_size((unsigned long long)p->done, done, sizeof done);
    listing_human_size((unsigned long long)(bps > 0 ? bps : 0), rate, sizeof rate);
    if (f->o->progress) {
        char pct[16] = "", eta[32] = "";
        if (p->total > 0) {
            listing_human_size((unsigned long long)p->total, total, sizeof total);
            snprintf(pct, sizeof pct, "%3d%%", (int)(p->done * 100 / p->total));
            if (bps > 0 && p->total > p->done) {
                long left = (long)((double)(p->total - p->done) / bps);
                snprintf(eta, sizeof eta, "%ld:%02ld left", left / 60, left % 60);
            }
        } else {
            snprintf(total, sizeof total, "?");
        }
        dprintf(f->o->err_fd, "\r%-24.24s %10s / %-10s %s %10s/s %s\033[K%s", p->name, done, total,
                pct, rate, eta, last ? "\n" : "");
    } else if (last) {
        dprintf(f->o->err_fd, "ferry: %s: %s in %.2f s (%s/s)\n", p->name, done, secs, rate);
    }
}

/* ---- one HTTP download --------------------------------------------------- */

struct target {
    char path[4096];      /* the final name */
    char part[4200];      /* path + ".part" */
    char meta[4300];      /* part + ".validator" */
    bool direct;          /* stdout or a device: no .part, no rename */
    bool follow;          /* direct through a link the user named with -o */
    bool discard;         /* /dev/null: bytes are counted, not copied */
    int fd;
    int64_t have;         /* bytes already in the part file */
    char validator[512];  /* from the meta file */
    bool meta_exists;     /* the meta file may exist: remove it once done */
};

/* True when st is a regular file with no other name: what ferry may write
 * into, truncate or rename. A symbolic link (lstat) or a hard link to some
 * other file is not. */
static bool own_file(const struct stat *st)
{
    return S_ISREG(st->st_mode) && st->st_nlink == 1;
}

/* 0 when name does not exist or is a file of its own, else -ELOOP after
 * saying so. */
static int refuse_foreign(struct fetch *f, const char *name, bool quiet)
{
    struct stat st;

    if (lstat(name, &st) < 0 || own_file(&st))
        return 0;
    if (!quiet)
        say(f, "%s is not a regular file of its own (a symbolic or hard link?): refusing to use it",
            name);
    return -ELOOP;
}

/* Opens name, which must be a file of its own (never a link to one), with
 * flags; O_NOFOLLOW and O_CLOEXEC are added. Returns the descriptor, or -1
 * with errno set (ELOOP for anything but a file of its own). */
static int open_own(const char *name, int flags)
{
    struct stat st;
    int fd = open(name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0 || !own_file(&st)) {
        close(fd);
        errno = ELOOP;
        return -1;
    }
    return fd;
}

/* Sets t up for path: stdout or a device directly, else path.part, with
 * the resume point and validator of an earlier part when resuming.
 * -EEXIST when path exists (a symbolic link there counts) and -f was not
 * given; -ELOOP when path.part or its validator is there but is not a file
 * of its own. quiet: say nothing (a look ahead; the URL's own turn
 * reports). */
static int target_prepare(struct fetch *f, struct target *t, const char *path, bool quiet)
{
    struct stat st, to;

    memset(t, 0, sizeof *t);
    t->fd = -1;
    snprintf(t->path, sizeof t->path, "%s", path);
    if (strcmp(path, "-") == 0) {
        t->direct = true;
        return 0;
    }
    bool exists = lstat(path, &st) == 0;
    /* A link the user named with -o to a device or a pipe (/dev/stdout) is
     * where they want the bytes; any other link is never written through. */
    if (exists && S_ISLNK(st.st_mode) && f->o->output != NULL && stat(path, &to) == 0 &&
        (S_ISCHR(to.st_mode) || S_ISFIFO(to.st_mode))) {
        st = to;
        t->follow = true;
    }
    if (exists && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
        t->direct = true;
        t->discard = S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
        return 0;
    }
    if (exists && !f->o->force) {
        if (!quiet)
            say(f, "%s exists%s; -f overwrites it, -c resumes its .part", path,
                S_ISLNK(st.st_mode) ? " (a symbolic link: -f replaces the link, never its target)"
                                    : "");
        return -EEXIST;
    }
    snprintf(t->part, sizeof t->part, "%s.part", path);
    snprintf(t->meta, sizeof t->meta, "%s.validator", t->part);
    if (refuse_foreign(f, t->part, quiet) < 0 || refuse_foreign(f, t->meta, quiet) < 0)
        return -ELOOP;
    if (f->resume && lstat(t->part, &st) == 0 && S_ISREG(st.st_mode)) {
        int mfd = open_own(t->meta, O_RDONLY);
        ssize_t n = mfd >= 0 ? read(mfd, t->validator, sizeof t->validator - 1) : -1;
        if (mfd >= 0)
            close(mfd);
        if (n > 0 && memchr(t->validator, '\n', (size_t)n) == NULL) {
            t->validator[n] = '\0';
            t->have = st.st_size;
            t->meta_exists = true;
        } else {
            if (!quiet)
                say(f, "%s has no validator: starting again from zero", t->part);
        }
    }
    return 0;
}

/* Keeps the validator beside the part file for a later --continue. The
 * part was just created or emptied, so an older validator goes first; the
 * new one is created, never opened through a link. */
static void target_keep_validator(struct target *t, struct http_str validator)
{
    if (validator.len == 0 || validator.len >= sizeof t->validator)
        return;
    int mfd = open(t->meta, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (mfd >= 0) {
        fsx_write_all(mfd, validator.p, validator.len);
        close(mfd);
        t->meta_exists = true;
    }
}

/* Opens where the body goes: appending after t->have, or from zero. A new
 * part gets the validator beside it, unless the whole body is already in
 * memory (whole): then nothing can interrupt it but a kill, after which
 * --continue starts again from zero, so the extra file is not worth its
 * creation. A part is only ever a file of its own that ferry created or
 * checked after opening (never through a link). */
static int target_open(struct fetch *f, struct target *t, bool append, struct http_str validator,
                       bool whole)
{
    if (t->direct) {
        t->fd = strcmp(t->path, "-") == 0
                    ? 1
                    : open(t->path, O_WRONLY | O_CLOEXEC | (t->follow ? 0 : O_NOFOLLOW));
    } else if (append) {
        /* Not O_APPEND: splice(2) refuses such outputs. */
        t->fd = open_own(t->part, O_WRONLY);
        if (t->fd >= 0 && lseek(t->fd, 0, SEEK_END) < 0) {
            int e = errno;
            close(t->fd);
            t->fd = -1;
            errno = e;
        }
    } else {
        t->have = 0;
        t->fd = open(t->part, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (t->fd < 0 && errno == EEXIST) {
            /* An old part: its validator, if any, no longer applies. It is
             * emptied only once it proved to be a file of its own. */
            t->fd = open_own(t->part, O_WRONLY);
            if (t->fd >= 0 && ftruncate(t->fd, 0) < 0) {
                int e = errno;
                close(t->fd);
                t->fd = -1;
                errno = e;
            }
        }
        if (t->fd >= 0) {
            unlink(t->meta);
            t->meta_exists = false;
            if (!whole)
                target_keep_validator(t, validator);
        }
    }
    if (t->fd < 0) {
        say(f, "cannot write %s: %s", t->direct ? t->path : t->part,
            errno == ELOOP ? "not a regular file of its own (a link?)" : strerror(errno));
        return -errno;
    }
    return 0;
}

/* The body is complete: make it the file. */
static int target_finish(struct fetch *f, struct target *t)
{
    if (t->direct) {
        if (t->fd > 1)
            close(t->fd);
        t->fd = -1;
        return 0;
    }
    /* With --sync the data reaches the disk before the rename, so not even
     * a power cut leaves a short file under the final name. Without it
     * (like curl and wget) the rename still happens only after the last
     * byte was written. */
    /* Only the file written through t->fd is renamed: the name must still
     * be that file, not something put there meanwhile. */
    struct stat mine, named;
    if (fstat(t->fd, &mine) < 0 || lstat(t->part, &named) < 0 || !own_file(&named) ||
        mine.st_dev != named.st_dev || mine.st_ino != named.st_ino) {
        close(t->fd);
        t->fd = -1;
        say(f, "%s is no longer the file ferry wrote: not renaming it", t->part);
        return -ELOOP;
    }
    if ((f->o->sync && fsync(t->fd) < 0) || close(t->fd) < 0) {
        t->fd = -1;
        say(f, "cannot write %s: %s", t->part, strerror(errno));
        return -EIO;
    }
    t->fd = -1;
    if (rename(t->part, t->path) < 0) {
        say(f, "cannot rename %s to %s: %s", t->part, t->path, strerror(errno));
        return -errno;
    }
    if (t->meta_exists)
        unlink(t->meta);
    return 0;
}

static void target_abandon(struct target *t)
{
    if (t->fd > 1)
        close(t->fd);
    t->fd = -1;
}

enum move { MOVE_OK, MOVE_EOF, MOVE_NET, MOVE_LOCAL };

/* Waits for the socket after -EAGAIN. With at least LOWAT_MAX bytes to
 * come, first until that many are there, so a fast link gives full reads;
 * after PROGRESS_MS for any byte, so a slow link still makes progress and
 * only a real stall (--timeout) is an error. MOVE_OK to try again, else
 * MOVE_NET with *err set. */
static enum move move_wait(struct fetch *f, size_t want, int *err)
{
    int rc;

    conn_lowat(f, want >= LOWAT_MAX);
    if (f->c.lowat > 1 && f->read_ms > PROGRESS_MS) {
        rc = wait_fd(f->c.fd, POLLIN, PROGRESS_MS);
        if (rc == -ETIMEDOUT) {
            conn_lowat(f, false);
            rc = wait_fd(f->c.fd, POLLIN, f->read_ms - PROGRESS_MS);
        }
    } else {
        rc = wait_fd(f->c.fd, POLLIN, f->read_ms);
    }
    if (rc < 0) {
        *err = rc;
        return MOVE_NET;
    }
    return MOVE_OK;
}

/* Empties what the pipe holds (n bytes) into fd with read and write, for
 * an output that refused splice. 0 or -errno. */
static int pipe_drain_copy(struct fetch *f, int fd, size_t n)
{
    while (n > 0) {
        ssize_t r = read(f->pipe[0], f->io, n < IOBUF ? n : IOBUF);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -errno : -EIO;
        int rc = fsx_write_all(fd, f->io, (size_t)r);
        if (rc < 0)
            return rc;
        n -= (size_t)r;
    }
    return 0;
}

/* Takes up to want bytes (at most SPLICE_MAX) off a plain socket, waiting
 * for them: into the pipe pipe_fd with splice, or dropped in the kernel
 * when pipe_fd < 0. MOVE_OK with *got bytes taken; *got 0 means splice is
 * refused here (-EINVAL). MOVE_EOF: the peer closed. MOVE_NET: *err. */
static enum move sock_take(struct fetch *f, int pipe_fd, size_t want, size_t *got, int *err)
{
    struct fconn *c = &f->c;
    size_t n_max = want < SPLICE_MAX ? want : SPLICE_MAX;
    ssize_t n;

    *got = 0;
    for (;;) {
        n = pipe_fd < 0 ? sock_discard(c->fd, n_max) : sock_splice(c->fd, pipe_fd, n_max, true);
        if (n != -EAGAIN)
            break;
        if (move_wait(f, want, err) != MOVE_OK)
            return MOVE_NET;
    }
    if (n == -EINVAL && pipe_fd >= 0)
        return MOVE_OK;
    if (n < 0) {
        *err = (int)n;
        return MOVE_NET;
    }
    if (n == 0) {
        c->peer_closed = true;
        return MOVE_EOF;
    }
    c->received += (uint64_t)n;
    *got = (size_t)n;
    return MOVE_OK;
}

/* Moves body bytes from a plain socket to fd through f->pipe with
 * splice(2), so they never cross user space. Same contract as body_move;
 * sets f->no_splice (having moved nothing) when the socket or the pipe
 * cannot, and the caller copies instead. */
static enum move splice_move(struct fetch *f, int fd, size_t want, size_t *moved, int *err)
{
    size_t inpipe;

    if (f->pipe[0] < 0) {
        if (pipe2(f->pipe, O_CLOEXEC) < 0) {
            f->pipe[0] = f->pipe[1] = -1;
            f->no_splice = true;
            return MOVE_OK;
        }
        /* Best effort: a bigger pipe means fewer calls per megabyte. */
        (void)fcntl(f->pipe[1], F_SETPIPE_SZ, (int)SPLICE_MAX);
    }
    enum move m = sock_take(f, f->pipe[1], want, &inpipe, err);
    if (m != MOVE_OK)
        return m;
    if (inpipe == 0) {
        f->no_splice = true;
        return MOVE_OK;
    }
    while (inpipe > 0) {
        ssize_t w = sock_splice(f->pipe[0], fd, inpipe, false);
        if (w == -EINVAL) {
            /* An O_APPEND file, say: no splice there. Copy from now on. */
            f->no_splice = true;
            int rc = pipe_drain_copy(f, fd, inpipe);
            if (rc < 0) {
                *err = rc;
                return MOVE_LOCAL;
            }
            *moved += inpipe;
            return MOVE_OK;
        }
        if (w <= 0) {
            *err = w < 0 ? (int)w : -EIO;
            return MOVE_LOCAL;
        }
        inpipe -= (size_t)w;
        *moved += (size_t)w;
    }
    return MOVE_OK;
}

/* Moves up to want body bytes from the connection to t: bytes already
 * buffered first; then from a plain socket without a copy through user
 * space (dropped in the kernel for /dev/null, spliced to files and pipes);
 * under TLS, or where splice is refused, through f->io. *moved gets the
 * count; on MOVE_NET or MOVE_LOCAL *err is the -errno. MOVE_EOF: the peer
 * closed. */
static enum move body_move(struct fetch *f, const struct target *t, size_t want, size_t *moved,
                           int *err)
{
    struct fconn *c = &f->c;

    *moved = 0;
    *err = 0;
    if (c->tls == NULL && c->pos == c->len) {
        if (t->discard)
            return sock_take(f, -1, want, moved, err);
        if (!f->no_splice) {
            enum move m = splice_move(f, t->fd, want, moved, err);
            if (m != MOVE_OK || *moved > 0)
                return m; /* else splice was refused: copy below */
        }
    }
    ssize_t n = conn_read(f, f->io, want < IOBUF ? want : IOBUF);
    if (n < 0) {
        *err = (int)n;
        return MOVE_NET;
    }
    if (n == 0)
        return MOVE_EOF;
    int rc = t->discard ? 0 : fsx_write_all(t->fd, f->io, (size_t)n);
    if (rc < 0) {
        *err = rc;
        return MOVE_LOCAL;
    }
    *moved = (size_t)n;
    return MOVE_OK;
}

/* Copies a chunked body to t, decoding it in f->io. */
static enum fetch_result copy_chunked(struct fetch *f, struct target *t, struct progress *pg,
                                      bool *transient)
{
    struct http_chunked ch;

    memset(&ch, 0, sizeof ch);
    for (;;) {
        bool from_buf = f->c.pos < f->c.len;
        ssize_t n = conn_read(f, f->io, IOBUF);
        if (n <= 0) {
            if (n == 0)
                say(f, "%s: the server closed the connection after %lld bytes%s", pg->name,
                    (long long)pg->done, t->direct ? "" : "; -c resumes");
            else
                say(f, "%s: %s after %lld bytes%s", pg->name, io_strerror((int)n),
                    (long long)pg->done, t->direct ? "" : "; -c resumes");
            *transient = true;
            return n == 0 ? FETCH_NETWORK : io_result((int)n);
        }
        size_t len = (size_t)n;
        ssize_t end = http_chunked_decode(&ch, f->io, &len);
        if (end == HTTP_PARSE_INVALID) {
            say(f, "%s: malformed chunked body", pg->name);
            return FETCH_PROTOCOL;
        }
        int rc = fsx_write_all(t->fd, f->io, len);
        if (rc < 0) {
            say(f, "cannot write %s: %s", t->direct ? t->path : t->part, strerror(-rc));
            return FETCH_LOCAL;
        }
        pg->done += (int64_t)len;
        progress_draw(f, pg, false);
        if (end > 0)
            conn_unread(f, f->io + n - end, (size_t)end, from_buf);
        if (end >= 0)
            return FETCH_OK;
    }
}

/* Copies the body to t: chunked, Content-Length, or until the server
 * closes (raw, or no length). Returns FETCH_OK or the failure. */
static enum fetch_result copy_body(struct fetch *f, const struct http_resp_info *ri, struct target *t,
                                   struct progress *pg, bool *transient)
{
    if (ri->chunked)
        return copy_chunked(f, t, pg, transient);
    int64_t left = ri->content_length; /* -1: until close */
    while (left != 0) {
        size_t moved;
        int err;
        enum move m = body_move(f, t, left < 0 ? SIZE_MAX : (size_t)left, &moved, &err);
        pg->done += (int64_t)moved;
        if (left > 0)
            left -= (int64_t)moved;
        switch (m) {
        case MOVE_OK:
            progress_draw(f, pg, false);
            continue;
        case MOVE_EOF:
            if (left < 0)
                return FETCH_OK; /* the body ends with the connection */
            say(f, "%s: the server closed the connection after %lld bytes%s", pg->name,
                (long long)pg->done, t->direct ? "" : "; -c resumes");
            *transient = true;
            return FETCH_NETWORK;
        case MOVE_NET:
            say(f, "%s: %s after %lld bytes%s", pg->name, io_strerror(err), (long long)pg->done,
                t->direct ? "" : "; -c resumes");
            *transient = true;
            return io_result(err);
        case MOVE_LOCAL:
            say(f, "cannot write %s: %s", t->direct ? t->path : t->part, strerror(-err));
            return FETCH_LOCAL;
        }
    }
    return FETCH_OK;
}

/* Reads and drops a small body so the connection can be reused. */
static void drain_body(struct fetch *f, const struct http_resp_info *ri, bool head_only)
{
    if (head_only)
        return;
    if (ri->chunked || ri->content_length < 0 || ri->content_length > (int64_t)DRAIN_MAX) {
        f->c.reusable = false;
        return;
    }
    int64_t left = ri->content_length;
    while (left > 0) {
        ssize_t n = conn_read(f, f->io, left < (int64_t)IOBUF ? (size_t)left : IOBUF);
        if (n <= 0) {
            f->c.reusable = false;
            return;
        }
        left -= n;
    }
}

static enum fetch_result send_request(struct fetch *f, const struct url *u, const struct target *t)
{
    char auth[300], req[8192];
    int n = 0;

    url_authority(u, auth, sizeof auth);
    n = snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ferry/0.1\r\nAccept: */*\r\n", u->path,
                 auth);
    if (t->have > 0)
        n += snprintf(req + n, sizeof req - (size_t)n, "Range: bytes=%lld-\r\nIf-Range: %s\r\n",
                      (long long)t->have, t->validator);
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    if (n >= (int)sizeof req)
        return FETCH_USAGE;
    int rc = conn_write(f, req, (size_t)n);
    return rc < 0 ? FETCH_NETWORK : FETCH_OK;
}

static void print_head(const struct fetch *f, const char *head, size_t len)
{
    if (f->o->show_head)
        fsx_write_all(f->o->err_fd, head, len);
}

/* Parses url_str and works out where its body goes: -o, else the URL's
 * last segment (in -O DIR). 0 or -EINVAL for a bad URL. */
static int url_output(const struct fetch *f, const char *url_str, struct url *u, char *path,
                      size_t pathsz)
{
    char base[1024];

    if (url_parse(url_str, u) < 0)
        return -EINVAL;
    url_basename(u, base, sizeof base);
    safe_name(base, base, sizeof base, "index.html");
    output_path(f, base, path, pathsz);
    return 0;
}

/* Pipelining: sends the requests of the URLs after index ahead on the
 * connection (just used for cur), up to PIPELINE_MAX in flight, while they
 * go to the same server, so the server never waits for our next request.
 * Only on a connection that has already kept an HTTP/1.1 exchange alive,
 * and never with --no-pipeline. A URL whose output exists is passed over
 * (its own turn fails before any request); a raw URL or another server
 * ends the look ahead. Answers are matched in order by fetch_http; when
 * anything goes wrong the connection is closed and the requests go again. */
static void send_ahead(struct fetch *f, int index, const struct url *cur)
{
    const struct fetch_options *o = f->o;

    if (o->no_pipeline || o->upload != NULL || !f->c.proven || !conn_serves(&f->c, cur))
        return;
    int next = f->ahead_next > index ? f->ahead_next : index + 1;
    for (; f->nahead < PIPELINE_MAX && next < o->nurls; next++) {
        struct url u;
        struct target t;
        char path[4096];

        if (strncasecmp(o->urls[next], "raw://", 6) == 0 ||
            url_output(f, o->urls[next], &u, path, sizeof path) < 0 || !conn_serves(&f->c, &u))
            break;
        if (o->disposition)
            memset(&t, 0, sizeof t); /* the name comes with the answer */
        else if (target_prepare(f, &t, path, true) < 0)
            continue;
        if (send_request(f, &u, &t) != FETCH_OK)
            break;
        if (f->nahead == 0)
            verbose(f, "sending requests ahead (at most %d in flight)", PIPELINE_MAX);
        f->ahead[f->nahead++] = (struct ahead){.index = next, .have = t.have};
    }
    f->ahead_next = next;
}

static enum fetch_result fetch_http(struct fetch *f, int index, bool *transient)
{
    const char *url_str = f->o->urls[index];
    struct url u, seen[32];
    int nseen = 0, redirs = 0;
    struct target t;
    struct http_response res;
    struct http_resp_info ri;
    char path[4096];
    enum fetch_result r;

    /* Was this request sent ahead? Its answer is the next on the wire. */
    bool queued = f->nahead > 0 && f->ahead[0].index == index;
    int64_t queued_have = queued ? f->ahead[0].have : 0;
    if (queued)
        memmove(f->ahead, f->ahead + 1, (size_t)--f->nahead * sizeof f->ahead[0]);
    if (url_output(f, url_str, &u, path, sizeof path) < 0) {
        say(f, "bad URL: %s", url_str);
        return FETCH_USAGE;
    }
    if (f->o->disposition) {
        memset(&t, 0, sizeof t);
    } else if (target_prepare(f, &t, path, false) < 0) {
        if (queued)
            conn_close(f, true); /* nobody will read its answer */
        return FETCH_LOCAL;
    }
    for (;;) {
        bool fresh = f->c.fd < 0 || !f->c.reusable || f->c.peer_closed;
        /* A request sent ahead is answered even if a later write failed
         * (broken): only a server that said or showed it stops (close,
         * EOF) loses it. */
        if (queued && t.have == queued_have && f->c.fd >= 0 && f->c.reusable &&
            !f->c.peer_closed) {
            verbose(f, "reusing the connection to %s:%u (request sent ahead)", u.host, u.port);
            r = FETCH_OK;
        } else {
            /* Answers to requests sent ahead would come before ours. */
            if (queued || f->nahead > 0)
                conn_close(f, true);
            r = conn_open(f, &u);
            if (r != FETCH_OK) {
                *transient = r == FETCH_NETWORK;
                return r;
            }
            r = send_request(f, &u, &t);
        }
        queued = false;
        if (r == FETCH_OK)
            send_ahead(f, index, &u);
        ssize_t hl = r == FETCH_OK ? read_head(f, &res) : -EPIPE;
        if (hl <= 0 && !fresh && hl != -EBADMSG) {
            /* A kept-alive connection the server had closed: once more on a
             * new one. */
            verbose(f, "the kept connection was closed; reconnecting");
            conn_close(f, true);
            r = conn_open(f, &u);
            if (r == FETCH_OK)
                r = send_request(f, &u, &t);
            hl = r == FETCH_OK ? read_head(f, &res) : -EPIPE;
        }
        if (hl <= 0) {
            say(f, "%s: %s", url_str,
                hl == 0 ? "the server closed the connection without answering"
                : hl == -EBADMSG ? "malformed response head"
                                 : io_strerror((int)hl));
            conn_close(f, true);
            *transient = hl != -EBADMSG;
            return hl == -EBADMSG ? FETCH_PROTOCOL : FETCH_NETWORK;
        }
        print_head(f, f->c.buf, (size_t)hl);
        f->c.pos = (size_t)hl;
        if (http_analyse_response(&res, &ri) < 0) {
            say(f, "%s: the response's framing cannot be trusted", url_str);
            conn_close(f, true);
            return FETCH_PROTOCOL;
        }
        f->c.reusable = !ri.close;
        if (!ri.close && res.minor >= 1)
            f->c.proven = true;
        bool no_body = res.status == 204 || res.status == 304 || (res.status >= 100 && res.status < 200);
        if (res.status >= 300 && res.status < 400 && res.status != 304 && ri.location.p != NULL) {
            drain_body(f, &ri, no_body);
            if (redirs >= f->o->max_redirs) {
                say(f, "%s: more than %d redirects", url_str, f->o->max_redirs);
                return FETCH_HTTP;
            }
            struct url next;
            if (url_resolve(&u, ri.location.p, ri.location.len, &next) < 0) {
                say(f, "%s: cannot follow the redirect to %.*s", url_str, (int)ri.location.len,
                    ri.location.p);
                return FETCH_PROTOCOL;
            }
            if (nseen < (int)(sizeof seen / sizeof seen[0]))
                seen[nseen++] = u;
            for (int i = 0; i < nseen; i++)
                if (seen[i].scheme == next.scheme && seen[i].port == next.port &&
                    strcmp(seen[i].host, next.host) == 0 && strcmp(seen[i].path, next.path) == 0) {
                    say(f, "%s: redirect loop at %.*s", url_str, (int)ri.location.len, ri.location.p);
                    return FETCH_HTTP;
                }
            verbose(f, "redirected (%d) to %.*s", res.status, (int)ri.location.len, ri.location.p);
            u = next;
            redirs++;
            continue;
        }
        break;
    }
    if (res.status == 416 && t.have > 0) {
        int64_t a, b, size;
        drain_body(f, &ri, false);
        if (ri.content_range.p != NULL && http_content_range(ri.content_range, &a, &b, &size) == 0 &&
            a < 0 && size == t.have) {
            /* The part already holds the whole file. */
            if (target_open(f, &t, true, (struct http_str){NULL, 0}, false) < 0)
                return FETCH_LOCAL;
            if (target_finish(f, &t) < 0)
                return FETCH_LOCAL;
            if (!f->o->quiet)
                say(f, "%s: already complete", t.path);
            return FETCH_OK;
        }
    }
    if (res.status < 200 || res.status >= 300) {
        say(f, "%s: HTTP/1.%d %d %.*s", url_str, res.minor, res.status, (int)res.reason.len,
            res.reason.p);
        drain_body(f, &ri, false);
        *transient = res.status >= 500;
        return FETCH_HTTP;
    }
    if (f->o->disposition) {
        char dn[1024];
        if (ri.content_disposition.p != NULL &&
            http_disposition_filename(ri.content_disposition, dn, sizeof dn) > 0) {
            output_path(f, dn, path, sizeof path);
        }
        if (target_prepare(f, &t, path, false) < 0) {
            drain_body(f, &ri, false);
            return FETCH_LOCAL;
        }
        t.have = 0; /* no validator was sent with this request */
    }
    bool append = false;
    if (res.status == 206) {
        int64_t a, b, size;
        /* Only the range we asked for, to the end of the file. */
        if (t.have == 0 || ri.content_range.p == NULL ||
            http_content_range(ri.content_range, &a, &b, &size) < 0 || a != t.have ||
            (size >= 0 && b != size - 1) ||
            (ri.content_length >= 0 && ri.content_length != b - a + 1)) {
            say(f, "%s: the server sent a range we did not ask for", url_str);
            conn_close(f, true);
            return FETCH_PROTOCOL;
        }
        append = true;
        verbose(f, "resuming at byte %lld", (long long)t.have);
    } else if (t.have > 0) {
        verbose(f, "the file changed or ranges are not supported: starting from zero");
    }
    struct http_str validator = ri.etag.p && ri.etag.len > 0 && ri.etag.p[0] == '"' ? ri.etag
                                                                                     : ri.last_modified;
    bool whole = !ri.chunked && ri.content_length >= 0 &&
                 (int64_t)(f->c.len - f->c.pos) >= ri.content_length;
    if (target_open(f, &t, append, validator, whole) < 0) {
        conn_close(f, true);
        return FETCH_LOCAL;
    }
    struct progress pg = {.name = t.path, .total = -1, .t0 = clock_ms()};
    pg.done = pg.start_at = append ? t.have : 0;
    if (ri.content_length >= 0)
        pg.total = pg.done + ri.content_length;
    r = res.status == 204 ? FETCH_OK : copy_body(f, &ri, &t, &pg, transient);
    if (r != FETCH_OK) {
        target_abandon(&t);
        conn_close(f, true);
        return r;
    }
    if (target_finish(f, &t) < 0)
        return FETCH_LOCAL;
    progress_draw(f, &pg, true);
    if (!f->c.reusable)
        conn_close(f, false);
    return FETCH_OK;
}

/* ---- raw protocol --------------------------------------------------------- */

static enum fetch_result fetch_raw(struct fetch *f, const char *url_str, bool *transient)
{
    struct url u;
    char name[4096], wire[8192], base[1024], path[4096];
    struct target t;

    if (url_parse(url_str, &u) < 0) {
        say(f, "bad URL: %s", url_str);
        return FETCH_USAGE;
    }
    /* The name is the path without its leading slash (and query), decoded. */
    url_basename(&u, base, sizeof base);
    if (url_decode(u.path + 1, strcspn(u.path + 1, "?"), name, sizeof name) == 0) {
        say(f, "%s: a raw URL names a file: raw://HOST:PORT/NAME", url_str);
        return FETCH_USAGE;
    }
    const char *send_p = name;
    size_t send_n = strlen(name);
    if (f->o->raw_charset != NULL) {
        long n = charset_convert(f->o->raw_charset, "UTF-8", name, send_n, wire, sizeof wire);
        if (n < 0) {
            say(f, "%s: the name cannot be written in %s", url_str, f->o->raw_charset);
            return FETCH_USAGE;
        }
        send_p = wire;
        send_n = (size_t)n;
    }
    safe_name(base, base, sizeof base, "download");
    output_path(f, base, path, sizeof path);
    if (target_prepare(f, &t, path, false) < 0)
        return FETCH_LOCAL;
    t.have = 0; /* the raw protocol cannot resume */
    conn_close(f, true);
    enum fetch_result r = conn_open(f, &u);
    if (r != FETCH_OK) {
        *transient = r == FETCH_NETWORK;
        return r;
    }
    f->c.reusable = false;
    if (conn_write(f, send_p, send_n) < 0) {
        say(f, "%s: cannot send the name", url_str);
        conn_close(f, true);
        *transient = true;
        return FETCH_NETWORK;
    }
    /* The first bytes decide between a file and "no such file"; they wait
     * in the connection's buffer for copy_body. */
    struct fconn *c = &f->c;
    ssize_t n = net_read(f, c->buf, HEAD_MAX);
    if (n <= 0) {
        conn_close(f, n != 0);
        if (n == 0) {
            say(f, "%s: no such file on the server (empty reply)", url_str);
            return FETCH_NOT_FOUND;
        }
        say(f, "%s: %s", url_str, strerror((int)-n));
        *transient = true;
        return FETCH_NETWORK;
    }
    c->pos = 0;
    c->len = (size_t)n;
    if (target_open(f, &t, false, (struct http_str){NULL, 0}, false) < 0) {
        conn_close(f, true);
        return FETCH_LOCAL;
    }
    struct progress pg = {.name = t.path, .total = -1, .t0 = clock_ms()};
    const struct http_resp_info until_close = {.content_length = -1};
    r = copy_body(f, &until_close, &t, &pg, transient);
    conn_close(f, r != FETCH_OK);
    if (r != FETCH_OK) {
        target_abandon(&t);
        return r;
    }
    if (target_finish(f, &t) < 0)
        return FETCH_LOCAL;
    progress_draw(f, &pg, true);
    return FETCH_OK;
}

/* ---- upload -------------------------------------------------------------- */

static enum fetch_result fetch_put(struct fetch *f, const char *url_str, bool *transient)
{
    const struct fetch_options *o = f->o;
    struct url u;
    struct stat st;
    struct http_response res;
    char auth[300], req[8192];

    if (url_parse(url_str, &u) < 0 || u.scheme == URL_RAW) {
        say(f, "bad URL for put: %s", url_str);
        return FETCH_USAGE;
    }
    int fd = open(o->upload, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        say(f, "cannot read %s: %s", o->upload, fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        return FETCH_LOCAL;
    }
    enum fetch_result r = conn_open(f, &u);
    if (r != FETCH_OK) {
        close(fd);
        *transient = r == FETCH_NETWORK;
        return r;
    }
    url_authority(&u, auth, sizeof auth);
    int n = snprintf(req, sizeof req,
                     "PUT %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ferry/0.1\r\n"
                     "Content-Length: %lld\r\nExpect: 100-continue\r\n\r\n",
                     u.path, auth, (long long)st.st_size);
    ssize_t hl = 0;
    if (conn_write(f, req, (size_t)n) < 0) {
        say(f, "%s: cannot send the request", url_str);
        r = FETCH_NETWORK;
        goto fail;
    }
    /* Wait a moment for "100 Continue" (or an early refusal); servers that
     * ignore Expect get the body anyway. */
    /* (A TLS socket turns readable for session tickets too, so this reads
     * rather than polls.) */
    f->expect_continue = true;
    f->read_ms = 1000;
    hl = read_head(f, &res);
    f->expect_continue = false;
    f->read_ms = o->timeout_ms;
    if (hl != -ETIMEDOUT || f->c.len > 0) {
        if (hl <= 0) {
            say(f, "%s: no answer to the request", url_str);
            r = hl == -EBADMSG ? FETCH_PROTOCOL : FETCH_NETWORK;
            goto fail;
        }
        if (res.status != 100)
            goto answered;
        f->c.pos = (size_t)hl;
    }
    struct progress pg = {.name = o->upload, .total = st.st_size, .t0 = clock_ms()};
    for (;;) {
        ssize_t k = read(fd, f->io, IOBUF);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            say(f, "cannot read %s: %s", o->upload, strerror(errno));
            r = FETCH_LOCAL;
            goto fail;
        }
        if (k == 0)
            break;
        if (conn_write(f, f->io, (size_t)k) < 0) {
            say(f, "%s: the connection failed after %lld bytes", url_str, (long long)pg.done);
            r = FETCH_NETWORK;
            goto fail;
        }
        pg.done += k;
        progress_draw(f, &pg, false);
    }
    if (pg.done != st.st_size) {
        say(f, "%s changed size while it was sent", o->upload);
        r = FETCH_LOCAL;
        goto fail;
    }
    progress_draw(f, &pg, true);
    hl = read_head(f, &res);
    if (hl <= 0) {
        say(f, "%s: no answer after the upload", url_str);
        r = hl == -EBADMSG ? FETCH_PROTOCOL : FETCH_NETWORK;
        goto fail;
    }
answered:
    print_head(f, f->c.buf, (size_t)hl);
    f->c.pos = (size_t)hl;
    close(fd);
    /* The reason phrase lives in the connection's buffer: report first. */
    bool ok = res.status >= 200 && res.status < 300;
    if (!ok)
        say(f, "%s: HTTP/1.%d %d %.*s", url_str, res.minor, res.status, (int)res.reason.len,
            res.reason.p);
    else if (!o->quiet)
        say(f, "%s: %d %.*s", url_str, res.status, (int)res.reason.len, res.reason.p);
    conn_close(f, true);
    *transient = res.status >= 500;
    return ok ? FETCH_OK : FETCH_HTTP;

fail:
    close(fd);
    conn_close(f, true);
    *transient = r == FETCH_NETWORK;
    return r;
}

enum fetch_result fetch_run(const struct fetch_options *o)
{
    struct fetch f;
    enum fetch_result first_failure = FETCH_OK;

    memset(&f, 0, sizeof f);
    f.o = o;
    f.read_ms = o->timeout_ms;
    f.c.fd = -1;
    f.pipe[0] = f.pipe[1] = -1;
    f.io = malloc(IOBUF);
    if (f.io == NULL)
        return FETCH_LOCAL;
    for (int i = 0; i < o->nurls; i++) {
        enum fetch_result r = FETCH_OK;
        for (int attempt = 0;; attempt++) {
            bool transient = false;
            f.resume = o->resume || attempt > 0;
            if (o->upload != NULL)
                r = fetch_put(&f, o->urls[i], &transient);
            else if (strncasecmp(o->urls[i], "raw://", 6) == 0)
                r = fetch_raw(&f, o->urls[i], &transient);
            else
                r = fetch_http(&f, i, &transient);
            if (r == FETCH_OK || !transient || attempt >= o->retries)
                break;
            int wait_s = attempt < 5 ? 1 << attempt : 30;
            say(&f, "retrying in %d s (%d of %d)", wait_s, attempt + 1, o->retries);
            sleep((unsigned)wait_s);
        }
        if (r != FETCH_OK && first_failure == FETCH_OK)
            first_failure = r;
    }
    conn_close(&f, true);
    if (f.pipe[0] >= 0) {
        close(f.pipe[0]);
        close(f.pipe[1]);
    }
    free(f.io);
    return first_failure;
}
