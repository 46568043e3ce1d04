/* The client. Blocking logic over non-blocking sockets: every wait is a
 * poll with the --timeout deadline, so a stalled server cannot hang us.
 *
 * One download (fetch_http): plan the job once (output name, NAME.part,
 * its validator, where a resume starts), run the exchange (send the
 * request or take the one sent ahead, read the head, follow redirects,
 * decide what the status means for the part), move the body (get/body),
 * verify the length, fsync, rename. The connection is a net/xport, the
 * same whether it is plain TCP or TLS; the requests sent ahead are an
 * get/pipeq. */
#include "get/fetch.h"

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

#include "core/charset.h"
#include "core/clock.h"
#include "core/fmt.h"
#include "core/fsx.h"
#include "core/hash.h"
#include "get/body.h"
#include "get/pipeq.h"
#include "net/sock.h"
#include "net/xport.h"
#include "proto/auth.h"
#include "proto/digest.h"
#include "proto/hostport.h"
#include "proto/http.h"
#include "proto/lex.h"
#include "proto/netrc.h"
#include "proto/page.h"
#include "proto/rup.h"
#include "proto/sf.h"
#include "proto/url.h"

#define DRAIN_MAX (1u << 20) /* error or redirect bodies read to keep the connection */
#define PROGRESS_MS 200

/* The connection: its transport and what it may still be used for. */
struct fconn {
    struct xport x; /* x.fd < 0 when none */
    enum url_scheme scheme;
    char host[256];
    uint16_t port;
    bool reusable;
    bool proven; /* answered an HTTP/1.1 request and stayed open: may pipeline */
    bool peer_loopback; /* the address connected to is 127.0.0.0/8 or ::1 */
};

/* Credentials and the one origin (scheme, host, port) they were given for:
 * they go nowhere else, whatever a redirect says. */
struct cred {
    bool set;
    enum url_scheme scheme;
    char host[256];
    uint16_t port;
    char value[LEX_B64_LEN(AUTH_CRED_MAX) + 8]; /* "Basic ..." */
};

/* One request of an upload: a PUT that creates it (and that a server with
 * resumable uploads, draft-ietf-httpbis-resumable-upload interop version
 * 8, may make resumable), or a PATCH that sends the rest of one. */
struct put_job {
    const char *url_str; /* as the user gave it (the password hidden) */
    char shown[4608];    /* the user's URL with its password hidden */
    struct url u;        /* where the request goes */
    int fd;
    int64_t size;        /* of the file */
    int64_t offset;      /* where this request's body starts in the file */
    unsigned char sha[DIGEST_SHA256_LEN];
    struct cred cred;    /* for the URL given */
    bool body_sent;      /* all of it went (else a final answer came first) */
    char resume_url[4608]; /* from 104's Location: where the upload resumes */
};

struct fetch {
    const struct fetch_options *o;
    bool resume;          /* -c, or a retry after a transient failure */
    bool expect_continue; /* a PUT waits for "100 Continue" */
    int read_ms;          /* how long a read waits: --timeout, or less */
    struct fconn c;
    struct pq q;          /* requests sent ahead on c */
    struct body_mover m;
    struct put_job put;   /* ferry put: the upload, kept across retries */
    int64_t known_size;   /* the size an earlier answer for this URL gave; -1 none */
    struct cred asked;    /* the origin whose 401 asked for Basic: credentials
                           * for it go with every request to it from then on */
    /* The whole transfer of one URL, across --retry attempts, for its report. */
    int attempt;          /* 0 for the first */
    int64_t t_start;      /* clock_ms() when the first attempt began */
    int64_t moved_before; /* bytes the earlier attempts moved */
    int64_t moved_now;    /* bytes the attempt under way moved */
};

/* One URL's download, worked out once by job_plan and job_name. */
struct job {
    int index;            /* into o->urls */
    const char *url_str;  /* o->urls[index] with its password hidden: shown */
    char shown[4608];
    struct url url;       /* as given (redirects do not change it) */
    struct cred cred;     /* for url's origin */
    bool named;           /* the names are set (with -J only after the answer) */
    char path[4096];      /* the final name */
    char part[4200];      /* path + ".part" */
    char meta[4300];      /* part + ".validator" */
    bool direct;          /* stdout or a device: no .part, no rename */
    bool follow;          /* direct through a link the user named with -o */
    bool discard;         /* /dev/null: bytes are counted, not copied */
    int fd;
    int64_t have;         /* bytes already in the part file: the Range start */
    char validator[512];  /* from the meta file */
    bool meta_exists;     /* the meta file may exist: remove it once done */
    bool adopt;           /* -c found NAME itself and no NAME.part (a partial left by
                           * curl, wget or a browser): have is its size; it is
                           * continued only when a digest proves the whole */
    bool check;           /* the whole file must have digest sha (Repr-Digest) */
    bool trailer;         /* Repr-Digest is announced as a trailer field */
    unsigned char sha[32];
    struct hash_follow *hf; /* hashing the part as it is written; NULL if not */
};

struct progress {
    struct fetch *f;
    struct hash_follow *hf; /* told how far the file is written; NULL if none */
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

/* The result for a read or write failure: a record that does not verify
 * is FETCH_TLS, anything else FETCH_NETWORK. */
static enum fetch_result io_result(int err)
{
    return err == -EPROTO ? FETCH_TLS : FETCH_NETWORK;
}

/* ---- connection -------------------------------------------------------- */

static void conn_close(struct fetch *f, bool we_close)
{
    struct fconn *c = &f->c;

    if (c->x.fd < 0)
        return;
    if (f->o->verbose) {
        struct tcp_info ti;
        socklen_t tl = sizeof ti;
        verbose(f, "sent %llu bytes, received %llu bytes; %s", (unsigned long long)c->x.sent,
                (unsigned long long)c->x.received,
                c->x.ended ? "the server closed first" : we_close ? "we closed" : "closing");
        if (getsockopt(c->x.fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0)
            verbose(f, "TCP: rtt %.3f ms (var %.3f ms), %u retransmissions", ti.tcpi_rtt / 1000.0,
                    ti.tcpi_rttvar / 1000.0, ti.tcpi_total_retrans);
    }
    int lost = pq_break(&f->q); /* their answers die with the connection */
    if (lost > 0)
        verbose(f, "%d requests sent ahead go again on the next connection", lost);
    xp_close(&c->x);
    memset(c, 0, sizeof *c);
    xp_init(&c->x);
}

/* True when c is open and may carry a new request to u's scheme, host and
 * port. */
static bool conn_serves(const struct fconn *c, const struct url *u)
{
    return c->x.fd >= 0 && c->reusable && !c->x.broken && !c->x.ended && c->scheme == u->scheme &&
           c->port == u->port && strcmp(c->host, u->host) == 0;
}

/* True when c is open and its requests sent ahead will be answered: the
 * server neither said nor showed that it stops (a failed write of a later
 * request does not lose the earlier ones). */
static bool conn_answers(const struct fconn *c)
{
    return c->x.fd >= 0 && c->reusable && !c->x.ended;
}

/* The transport set-up: TCP, and TLS for https. */
static enum fetch_result conn_open(struct fetch *f, const struct url *u)
{
    struct fconn *c = &f->c;
    struct sockaddr_storage peer;
    char addr[SOCK_ADDRSTRLEN], err[256];
    const char *version, *cipher;
    int64_t t0 = clock_ms();

    if (conn_serves(c, u)) {
        verbose(f, "reusing the connection to %s:%u", u->host, u->port);
        return FETCH_OK;
    }
    conn_close(f, true);
    int rc = xp_connect(&c->x, u->host, u->port, f->o->timeout_ms, &peer);
    if (rc == -ENOMEM)
        return FETCH_LOCAL;
    if (rc < 0) {
        char at[sizeof u->host + 8];
        hostport_format(u->host, u->port, at, sizeof at);
        say(f, "cannot connect to %s: %s", at,
            rc == -EADDRNOTAVAIL ? "no such host" : strerror(-rc));
        return FETCH_NETWORK;
    }
    sock_addr_format((struct sockaddr *)&peer, true, addr, sizeof addr);
    verbose(f, "connected to %s (%s) in %.1f ms", u->host, addr, (double)(clock_ms() - t0));
    c->scheme = u->scheme;
    c->port = u->port;
    c->peer_loopback = sock_addr_is_loopback((struct sockaddr *)&peer);
    snprintf(c->host, sizeof c->host, "%s", u->host);
    if (u->scheme == URL_HTTPS) {
        if (f->o->insecure)
            say(f, "warning: -k: the server's certificate is not verified");
        int64_t t1 = clock_ms();
        rc = xp_start_tls(&c->x, u->host, f->o->cacert, f->o->insecure,
                          f->o->has_pin ? f->o->pin : NULL, f->o->timeout_ms, err, sizeof err);
        if (rc == -EKEYREJECTED) {
            say(f, "%s: %s", u->host, err);
            say(f,
                "the server's certificate has SHA-256 %s; if it is the one you expect, "
                "add --pin %s (or -k to skip the check: unsafe)",
                c->x.refused_fp, c->x.refused_fp);
            conn_close(f, true);
            return FETCH_TLS;
        }
        if (rc < 0) {
            say(f, "%s: %s", u->host, rc == -EPROTO ? err : strerror(-rc));
            conn_close(f, true);
            return rc == -EPROTO ? FETCH_TLS : FETCH_NETWORK;
        }
        if (xp_tls_info(&c->x, &version, &cipher))
            verbose(f, "%s %s, handshake %.1f ms", version, cipher, (double)(clock_ms() - t1));
    }
    return FETCH_OK;
}

/* Reads a response head at c->x.buf + c->x.pos (bytes left from the last
 * answer begin it). Returns its length, 0 when the server closed before
 * sending anything, or -errno / -EBADMSG. The caller consumes it. */
static ssize_t read_head(struct fetch *f, struct http_response *res)
{
    struct xport *x = &f->c.x;

    for (;;) {
        if (x->pos < x->len) {
            ssize_t h = http_parse_response(x->buf + x->pos, x->len - x->pos, res);
            if (h > 0 && res->status >= 100 && res->status < 200 && res->status != 101 &&
                !f->expect_continue) {
                /* An interim response (103 Early Hints...): the final one follows. */
                x->pos += (size_t)h;
                continue;
            }
            if (h > 0)
                return h;
            if (h == HTTP_PARSE_INVALID)
                return -EBADMSG;
        }
        ssize_t r = xp_fill(x, f->read_ms);
        if (r == -ENOBUFS)
            return -EBADMSG;
        if (r < 0)
            return r;
        if (r == 0)
            return x->pos == x->len ? 0 : -EBADMSG;
    }
}

/* Consumes the head read_head found (hl bytes), showing it with -i. */
static void take_head(struct fetch *f, ssize_t hl)
{
    struct xport *x = &f->c.x;

    if (f->o->show_head)
        fsx_write_all(f->o->err_fd, x->buf + x->pos, (size_t)hl);
    x->pos += (size_t)hl;
}

/* ---- files -------------------------------------------------------------- */

/* The extension of the archive u asks for: ".tar" or ".zip" for a folder
 * as an archive (ferry serve's "dir/?tar", "dir/?zip"), else NULL. */
static const char *archive_ext(const struct url *u)
{
    const char *q = strchr(u->path, '?');

    if (u->scheme == URL_RAW || q == NULL || q == u->path || q[-1] != '/')
        return NULL;
    if (strcmp(q, "?tar") == 0)
        return ".tar";
    return strcmp(q, "?zip") == 0 ? ".zip" : NULL;
}

/* The name for an archive of the folder u names when the answer gives
 * none: the folder's last segment and ext ("download.tar" for the root). */
static void archive_name(const struct url *u, const char *ext, char *out, size_t outsz)
{
    struct url dir = *u;
    char *q = strchr(dir.path, '?');
    size_t n = (size_t)(q - dir.path);

    while (n > 0 && dir.path[n - 1] == '/')
        n--;
    dir.path[n] = '\0';
    url_basename(&dir, out, outsz);
    if (out[0] == '\0')
        snprintf(out, outsz, "download");
    size_t len = strlen(out), elen = strlen(ext);
    if (len + elen + 1 <= outsz)
        memcpy(out + len, ext, elen + 1);
}

/* Whether the answer names j's file: with -J, and for a folder's archive
 * (?tar, ?zip), whose URL has no name of its own (unless -o names it). */
static bool name_from_answer(const struct fetch *f, const struct job *j)
{
    if (j->url.scheme == URL_RAW || f->o->output != NULL || f->o->outputs != NULL)
        return false;
    return f->o->disposition || archive_ext(&j->url) != NULL;
}

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

/* Draws the bar (stderr a terminal), or with last the summary line. Both
 * count the whole transfer of the URL: its time since the first attempt
 * and the bytes every --retry attempt moved. */
static void progress_draw(struct progress *p, bool last)
{
    struct fetch *f = p->f;
    int64_t now = clock_ms();
    char done[32], total[32], rate[32], tries[32] = "";

    f->moved_now = p->done - p->start_at;
    if (f->o->quiet || (!last && (!f->o->progress || now - p->last_draw < PROGRESS_MS)))
        return;
    p->last_draw = now;
    int64_t t0 = f->t_start > 0 && f->t_start < p->t0 ? f->t_start : p->t0;
    int64_t moved = f->moved_before + f->moved_now;
    double secs = (double)(now - t0) / 1000.0;
    /* Under a millisecond there is no rate worth showing. */
    double bps = secs > 0 ? (double)moved / secs : (double)moved * 1000;
    if (f->attempt > 0)
        snprintf(tries, sizeof tries, ", %d attempts", f->attempt + 1);
    fmt_size((unsigned long long)p->done, done, sizeof done);
    fmt_size((unsigned long long)(bps > 0 ? bps : 0), rate, sizeof rate);
    if (f->o->progress) {
        char pct[16] = "", eta[32] = "";
        if (p->total > 0) {
            fmt_size((unsigned long long)p->total, total, sizeof total);
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
        dprintf(f->o->err_fd, "ferry: %s: %s in %.2f s (%s/s)%s\n", p->name, done, secs, rate,
                tries);
    }
}

/* body_progress_cb for a struct progress: moved counts from its start. */
static void progress_moved(void *arg, int64_t moved)
{
    struct progress *p = arg;

    p->done = p->start_at + moved;
    p->f->moved_now = moved;
    if (p->hf != NULL)
        hash_follow_advance(p->hf, (uint64_t)p->done);
    progress_draw(p, false);
}

/* ---- credentials ------------------------------------------------------------ */

/* True when c's origin is u's. */
static bool cred_origin(const struct cred *c, const struct url *u)
{
    return c->set && c->scheme == u->scheme && c->port == u->port && strcmp(c->host, u->host) == 0;
}

/* The credentials for u, the URL the user gave: -u first, then the URL's
 * own user (its password, else the one --netrc has for that login, else
 * empty), then --netrc's entry for the host. Says why and returns -EINVAL
 * when they cannot be sent (a ':' in the user, too long, a bad netrc). */
static int cred_for(const struct fetch *f, const struct url *u, struct cred *c, bool quiet)
{
    const struct fetch_options *o = f->o;
    struct netrc_entry ne;
    const char *user = NULL, *pass = "";
    size_t ulen = 0, plen = 0;
    long n;

    memset(c, 0, sizeof *c);
    if (u->scheme == URL_RAW)
        return 0;
    if (o->user != NULL) {
        const char *colon = strchr(o->user, ':');
        user = o->user;
        ulen = colon != NULL ? (size_t)(colon - user) : strlen(user);
        pass = colon != NULL ? colon + 1 : "";
    } else if (u->has_user) {
        user = u->user;
        ulen = strlen(user);
        pass = u->pass;
        if (!u->has_pass && o->netrc != NULL &&
            netrc_lookup(o->netrc, o->netrc_len, u->host, u->user, &ne) == 1 && ne.has_password)
            pass = ne.password;
    } else if (o->netrc != NULL) {
        int rc = netrc_lookup(o->netrc, o->netrc_len, u->host, NULL, &ne);
        if (rc < 0) {
            if (!quiet)
                say(f, "~/.netrc: %s",
                    rc == -EINVAL ? "a keyword without its value, or an "
                                    "unterminated quote"
                                  : "a word longer than 255 bytes");
            return -EINVAL;
        }
        if (rc == 0 || !ne.has_login)
            return 0;
        user = ne.login;
        ulen = strlen(user);
        pass = ne.password;
    }
    if (user == NULL)
        return 0;
    plen = strlen(pass);
    n = auth_basic_format(user, ulen, pass, plen, c->value, sizeof c->value);
    if (n < 0) {
        if (!quiet)
            say(f, n == -EINVAL ? "a user name cannot hold ':', nor credentials control bytes"
                                : "the user name and password are too long");
        return -EINVAL;
    }
    c->set = true;
    c->scheme = u->scheme;
    c->port = u->port;
    snprintf(c->host, sizeof c->host, "%s", u->host);
    return 0;
}

/* True when a password may go to u on the connection open now: over TLS,
 * to a loopback address, or with --allow-plain-auth. Checked again for
 * every request, since a new connection to the same name may reach
 * another address. */
static bool cred_may_go(const struct fetch *f, const struct url *u)
{
    return u->scheme == URL_HTTPS || f->c.peer_loopback || f->o->allow_plain_auth;
}

/* The Authorization line for a request to u: only c's own origin, only
 * once that origin asked for Basic, and only as cred_may_go allows.
 * Writes "" when none goes. */
static void cred_line(const struct fetch *f, const struct cred *c, const struct url *u, char *out,
                      size_t outsz)
{
    out[0] = '\0';
    if (cred_origin(c, u) && cred_origin(&f->asked, u) && cred_may_go(f, u))
        snprintf(out, outsz, "Authorization: %s\r\n", c->value);
}

/* After a 401 from u: whether to ask again with c. 1: yes (the origin is
 * remembered, the caller sends again); 0: no (no credentials for u, no
 * Basic offered, or they were sent and refused: the 401 stands); -1:
 * refused here (plain http to another host without --allow-plain-auth),
 * said. */
static int cred_answer(struct fetch *f, const struct cred *c, const struct url *u,
                       const struct http_response *res)
{
    bool basic = false;

    for (size_t i = 0; i < res->nheaders && !basic; i++)
        basic =
            http_str_ieq(res->headers[i].name.p, res->headers[i].name.len, "www-authenticate") &&
            auth_challenge_basic(res->headers[i].value.p, res->headers[i].value.len);
    if (!basic || !cred_origin(c, u) || cred_origin(&f->asked, u))
        return 0;
    if (!cred_may_go(f, u)) {
        say(f,
            "%s asks for a password, which would cross the network unencrypted over http://; "
            "use https://, or --allow-plain-auth to send it anyway",
            u->host);
        return -1;
    }
    f->asked = *c;
    verbose(f, "%s asks for a password (Basic): sending the request again with it", u->host);
    return 1;
}

/* The advice after a 401 that stands. */
static const char *cred_hint(const struct fetch *f, const struct cred *c, const struct url *u)
{
    if (cred_origin(c, u) && cred_origin(&f->asked, u))
        return " (the server refused the user name and password)";
    if (!cred_origin(c, u))
        return " (log in with -u USER, http://USER@host/ or --netrc)";
    return "";
}

/* ---- the job: names, resume point, the part file ------------------------ */

/* True when st is a regular file with no other name: what ferry may write
 * into, truncate or rename. A symbolic link (lstat) or a hard link to some
 * other file is not. */
static bool own_file(const struct stat *st)
{
    return S_ISREG(st->st_mode) && st->st_nlink == 1;
}

/* 0 when name does not exist, 1 when it is a file of its own, else -ELOOP
 * after saying so (unless quiet). */
static int refuse_foreign(struct fetch *f, const char *name, bool quiet)
{
    struct stat st;

    if (lstat(name, &st) < 0)
        return 0;
    if (own_file(&st))
        return 1;
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

/* Names j's output, the one place that does: name (from
 * Content-Disposition, already a safe base name), else the URL's last
 * segment; in -O DIR; or -o. Then stdout or a device directly, else
 * NAME.part with the resume point and validator of an earlier part when
 * resuming is allowed (not with -J, whose request had no Range, nor for
 * the raw protocol). -EEXIST when NAME exists (a symbolic link there
 * counts) and -f was not given; -ELOOP when NAME.part or its validator is
 * there but is not a file of its own. quiet: say nothing (a look ahead;
 * the URL's own turn reports). */
static int job_name(struct fetch *f, struct job *j, const char *name, bool quiet)
{
    const struct fetch_options *o = f->o;
    char base[1024];
    struct stat st, to;

    if (name != NULL)
        snprintf(base, sizeof base, "%s", name);
    else if (archive_ext(&j->url) != NULL)
        archive_name(&j->url, archive_ext(&j->url), base, sizeof base);
    else
        url_basename(&j->url, base, sizeof base);
    safe_name(base, base, sizeof base, j->url.scheme == URL_RAW ? "download" : "index.html");
    if (o->outputs != NULL)
        snprintf(j->path, sizeof j->path, "%s", o->outputs[j->index]);
    else if (o->output != NULL)
        snprintf(j->path, sizeof j->path, "%s", o->output);
    else if (o->outdir != NULL)
        snprintf(j->path, sizeof j->path, "%s/%s", o->outdir, base);
    else
        snprintf(j->path, sizeof j->path, "%s", base);
    j->named = true;
    j->part[0] = j->meta[0] = j->validator[0] = '\0';
    j->direct = j->follow = j->discard = j->meta_exists = j->check = false;
    j->have = 0;
    if (strcmp(j->path, "-") == 0) {
        j->direct = true;
        return 0;
    }
    bool exists = lstat(j->path, &st) == 0;
    /* A link the user named with -o to a device or a pipe (/dev/stdout) is
     * where they want the bytes; any other link is never written through. */
    if (exists && S_ISLNK(st.st_mode) && o->output != NULL && stat(j->path, &to) == 0 &&
        (S_ISCHR(to.st_mode) || S_ISFIFO(to.st_mode))) {
        st = to;
        j->follow = true;
    }
    if (exists && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
        j->direct = true;
        j->discard = S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
        return 0;
    }
    snprintf(j->part, sizeof j->part, "%s.part", j->path);
    snprintf(j->meta, sizeof j->meta, "%s.validator", j->part);
    bool may_resume = f->resume && !name_from_answer(f, j) && j->url.scheme != URL_RAW;
    struct stat pst;
    bool has_part = lstat(j->part, &pst) == 0;
    if (exists && !o->force && may_resume && own_file(&st) && !has_part) {
        /* -c on NAME itself, a partial left by curl, wget or a browser:
         * ask for the rest; exchange and fetch_http decide whether it can
         * be trusted. NAME is replaced only by a verified whole. */
        int meta = refuse_foreign(f, j->meta, quiet);
        if (meta < 0)
            return -ELOOP;
        j->meta_exists = meta > 0;
        j->adopt = true;
        j->have = st.st_size;
        return 0;
    }
    if (exists && !o->force) {
        if (!quiet)
            say(f, "%s exists%s; -f overwrites it%s", j->path,
                S_ISLNK(st.st_mode) ? " (a symbolic link: -f replaces the link, never its target)"
                                    : "",
                has_part ? (f->resume ? " and so does its .part: -c -f resumes the .part over it"
                                      : ", -c resumes its .part")
                : may_resume || (j->url.scheme != URL_RAW && !name_from_answer(f, j)) ? ", -c continues it"
                                                                              : "");
        return -EEXIST;
    }
    int meta = 0;
    if (refuse_foreign(f, j->part, quiet) < 0 || (meta = refuse_foreign(f, j->meta, quiet)) < 0)
        return -ELOOP;
    j->meta_exists = meta > 0;
    if (!f->resume && !o->force && !name_from_answer(f, j) && j->url.scheme != URL_RAW && has_part &&
        pst.st_size > 0) {
        /* A plain get does not throw away what an earlier one fetched. */
        if (!quiet)
            say(f,
                "%s holds %lld bytes of an earlier download: -c resumes it, -f starts again "
                "from zero",
                j->part, (long long)pst.st_size);
        return -EEXIST;
    }
    if (may_resume && lstat(j->part, &st) == 0 && S_ISREG(st.st_mode)) {
        int mfd = open_own(j->meta, O_RDONLY);
        ssize_t n = mfd >= 0 ? read(mfd, j->validator, sizeof j->validator - 1) : -1;
        if (mfd >= 0)
            close(mfd);
        if (n > 0 && memchr(j->validator, '\n', (size_t)n) == NULL) {
            j->validator[n] = '\0';
            j->have = st.st_size;
            j->meta_exists = true;
        } else {
            j->validator[0] = '\0';
            if (!quiet)
                say(f, "%s has no validator: starting again from zero", j->part);
        }
    }
    return 0;
}

/* Plans URL index: parses it and, unless -J leaves the name to the answer,
 * names the output (job_name). Returns 0, -EINVAL for a bad URL (nothing
 * else is set), or job_name's error (j->url is set). */
static int job_plan(struct fetch *f, struct job *j, int index, bool quiet)
{
    memset(j, 0, sizeof *j);
    j->index = index;
    url_hide_password(f->o->urls[index], j->shown, sizeof j->shown);
    j->url_str = j->shown;
    j->fd = -1;
    if (url_parse(f->o->urls[index], &j->url) < 0)
        return -EINVAL;
    if (cred_for(f, &j->url, &j->cred, quiet) < 0)
        return -EPERM;
    if (name_from_answer(f, j))
        return 0;
    return job_name(f, j, NULL, quiet);
}

/* Keeps the validator beside the part file for a later --continue. The
 * part was just created or emptied and the old validator removed; the new
 * one is created, never opened through a link. */
static void job_keep_validator(struct job *j, struct http_str validator)
{
    if (validator.len == 0 || validator.len >= sizeof j->validator)
        return;
    int mfd = open(j->meta, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (mfd >= 0) {
        fsx_write_all(mfd, validator.p, validator.len);
        close(mfd);
        j->meta_exists = true;
    }
}

/* Opens where the body goes: appending after j->have, or from zero. A new
 * part gets the validator beside it, unless the whole body is already in
 * memory (whole): then nothing can interrupt it but a kill, after which
 * --continue starts again from zero, so the extra file is not worth its
 * creation. A part is only ever a file of its own that ferry created, or
 * checked after opening (never through a link). */
static int job_open(struct fetch *f, struct job *j, bool append, struct http_str validator,
                    bool whole)
{
    if (j->direct) {
        j->fd = strcmp(j->path, "-") == 0
                    ? 1
                    : open(j->path, O_WRONLY | O_CLOEXEC | (j->follow ? 0 : O_NOFOLLOW));
    } else if (append) {
        /* Not O_APPEND: splice(2) refuses such outputs. */
        j->fd = open_own(j->part, O_RDWR);
        if (j->fd >= 0 && lseek(j->fd, 0, SEEK_END) < 0) {
            int e = errno;
            close(j->fd);
            j->fd = -1;
            errno = e;
        }
    } else {
        j->have = 0;
        j->fd = open(j->part, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (j->fd < 0 && errno == EEXIST) {
            /* An old part: emptied only once it proved to be a file of its own. */
            j->fd = open_own(j->part, O_RDWR);
            if (j->fd >= 0 && ftruncate(j->fd, 0) < 0) {
                int e = errno;
                close(j->fd);
                j->fd = -1;
                errno = e;
            }
        }
        if (j->fd >= 0) {
            /* An old validator no longer applies. */
            if (j->meta_exists)
                unlink(j->meta);
            j->meta_exists = false;
            if (!whole)
                job_keep_validator(j, validator);
        }
    }
    if (j->fd < 0) {
        say(f, "cannot write %s: %s", j->direct ? j->path : j->part,
            errno == ELOOP ? "not a regular file of its own (a link?)" : strerror(errno));
        return -errno;
    }
    /* A file with a digest to meet is hashed as it is written (a prefix
     * kept from before at once); a body already all in memory is hashed
     * when it is written, without a thread, as is everything when no
     * thread starts. */
    if ((j->check || j->trailer || f->o->has_sha256) && !j->direct && !whole &&
        hash_follow_start(j->fd, &j->hf) == 0 && j->have > 0)
        hash_follow_advance(j->hf, (uint64_t)j->have);
    return 0;
}

/* The body did not complete: the part stays for -c, never renamed. */
static void job_abandon(struct job *j)
{
    hash_follow_cancel(j->hf);
    j->hf = NULL;
    if (j->fd > 1)
        close(j->fd);
    j->fd = -1;
}

/* Checks the part file against the digests it must have: the server's
 * Repr-Digest and the user's --sha256; the part is size bytes. The thread
 * that followed the writing has hashed nearly all of it by now (else it is
 * read back here).
 * 0, -EBADMSG on a mismatch (said, naming both digests), -EIO when it
 * cannot be read back. */
static int job_verify(struct fetch *f, struct job *j, uint64_t size)
{
    unsigned char got[32];
    char hg[DIGEST_HEX_LEN + 1], hw[DIGEST_HEX_LEN + 1];
    int rc = j->hf != NULL ? hash_follow_finish(j->hf, size, got)
                           : hash_sha256_fd(j->fd, got, NULL, NULL);

    j->hf = NULL;
    if (rc < 0) {
        say(f, "cannot read %s back to check it: %s", j->part, strerror(-rc));
        return -EIO;
    }
    digest_hex_format(got, hg);
    const unsigned char *want[2] = {j->check ? j->sha : NULL, f->o->has_sha256 ? f->o->sha256 : NULL};
    const char *from[2] = {"the server's Repr-Digest", "the digest given"};
    for (int i = 0; i < 2; i++) {
        if (want[i] == NULL || memcmp(got, want[i], sizeof got) == 0)
            continue;
        digest_hex_format(want[i], hw);
        say(f, "%s does not match %s: its sha-256 is %s, expected %s; kept it, not renamed "
               "(the next run downloads it again from zero)",
            j->part, from[i], hg, hw);
        /* Never a prefix to resume: -c would only fetch what is missing. */
        if (j->meta_exists)
            unlink(j->meta);
        j->meta_exists = false;
        return -EBADMSG;
    }
    verbose(f, "sha-256 %s verified", hg);
    return 0;
}

/* The body is complete: make it the file. Only the file written through
 * j->fd is renamed, and only while NAME.part still is that file. */
static int job_finish(struct fetch *f, struct job *j)
{
    struct stat mine, named;

    if (j->direct) {
        if (j->fd > 1)
            close(j->fd);
        j->fd = -1;
        if (f->o->has_sha256)
            say(f, "%s is not a file that can be read back: its sha-256 was not checked", j->path);
        return 0;
    }
    if (fstat(j->fd, &mine) < 0 || lstat(j->part, &named) < 0 || !own_file(&named) ||
        mine.st_dev != named.st_dev || mine.st_ino != named.st_ino) {
        job_abandon(j);
        say(f, "%s is no longer the file ferry wrote: not renaming it", j->part);
        return -ELOOP;
    }
    /* A digest covers the whole representation, so a prefix kept from an
     * earlier run (-c) is checked too, not just the bytes that came now. */
    if (j->check || f->o->has_sha256) {
        int rc = job_verify(f, j, (uint64_t)mine.st_size);
        if (rc < 0) {
            job_abandon(j);
            return rc;
        }
    } else {
        hash_follow_cancel(j->hf); /* an announced trailer that never came */
        j->hf = NULL;
    }
    /* With --sync the data reaches the disk before the rename, so not even
     * a power cut leaves a short file under the final name. Without it
     * (like curl and wget) the rename still happens only after the last
     * byte was written. */
    if ((f->o->sync && fsync(j->fd) < 0) || close(j->fd) < 0) {
        j->fd = -1;
        say(f, "cannot write %s: %s", j->part, strerror(errno));
        return -EIO;
    }
    j->fd = -1;
    if (rename(j->part, j->path) < 0) {
        say(f, "cannot rename %s to %s: %s", j->part, j->path, strerror(errno));
        return -errno;
    }
    if (j->meta_exists)
        unlink(j->meta);
    return 0;
}

/* job_finish as an exit status: a digest that does not match has its own. */
static enum fetch_result job_done(struct fetch *f, struct job *j)
{
    int rc = job_finish(f, j);

    return rc == 0 ? FETCH_OK : rc == -EBADMSG ? FETCH_DIGEST : FETCH_LOCAL;
}

/* ---- bodies --------------------------------------------------------------- */

/* Takes the sha-256 of a Repr-Digest trailer field of the chunked body
 * ch decoded, if it has one, for job_finish to check as one in the head.
 * 0, or -EINVAL when it is malformed or contradicts the head's. */
static int take_trailer_digest(struct fetch *f, struct job *j, const struct http_chunked *ch)
{
    struct http_str v = http_chunked_trailer(ch, "repr-digest");
    unsigned char sha[DIGEST_SHA256_LEN];

    if (v.p == NULL)
        return 0;
    int rc = digest_field_sha256(v.p, v.len, sha);
    if (rc < 0 || (rc == 1 && j->check && memcmp(sha, j->sha, sizeof sha) != 0)) {
        say(f, "%s: malformed Repr-Digest trailer: %.*s", j->url_str, (int)v.len, v.p);
        return -EINVAL;
    }
    if (rc == 1 && !j->direct) {
        memcpy(j->sha, sha, sizeof sha);
        j->check = true;
    }
    return 0;
}

/* Moves the body (framing, length) into j's output with progress, and
 * says what went wrong; a Repr-Digest trailer is taken for j. FETCH_OK or
 * the failure; *transient for a cut. */
static enum fetch_result move_body(struct fetch *f, enum body_framing framing, int64_t length,
                                   struct job *j, struct progress *pg, bool *transient)
{
    struct http_chunked ch;
    struct body_job b = {
        .framing = framing,
        .length = length,
        .fd = j->fd,
        .discard = j->discard,
        .timeout_ms = f->read_ms,
        .progress = progress_moved,
        .arg = pg,
        .chunked = &ch,
    };
    const char *resumes = j->direct ? "" : "; -c resumes";

    enum body_result br = body_move(&f->m, &f->c.x, &b);
    pg->done = pg->start_at + b.moved;
    f->moved_now = b.moved;
    switch (br) {
    case BODY_DONE:
        if (framing == BODY_CHUNKED && take_trailer_digest(f, j, &ch) < 0)
            return FETCH_PROTOCOL;
        return FETCH_OK;
    case BODY_CUT:
        *transient = true;
        if (b.err == 0) {
            say(f, "%s: the server closed the connection after %lld bytes%s", pg->name,
                (long long)pg->done, resumes);
            return FETCH_NETWORK;
        }
        say(f, "%s: %s after %lld bytes%s", pg->name, xp_strerror(b.err), (long long)pg->done,
            resumes);
        return io_result(b.err);
    case BODY_MALFORMED:
        say(f, "%s: malformed chunked body", pg->name);
        return FETCH_PROTOCOL;
    case BODY_LOCAL:
        say(f, "cannot write %s: %s", j->direct ? j->path : j->part, strerror(-b.err));
        return FETCH_LOCAL;
    }
    return FETCH_PROTOCOL;
}

/* Reads and drops a small body so the connection can be reused; anything
 * that cannot be drained (chunked, until close, large) ends its reuse. */
static void drain_body(struct fetch *f, const struct http_resp_info *ri, bool no_body)
{
    if (no_body)
        return;
    if (ri->chunked || ri->content_length < 0 || ri->content_length > (int64_t)DRAIN_MAX) {
        f->c.reusable = false;
        return;
    }
    struct body_job b = {
        .framing = BODY_LENGTH,
        .length = ri->content_length,
        .discard = true,
        .timeout_ms = f->read_ms,
    };
    if (body_move(&f->m, &f->c.x, &b) != BODY_DONE)
        f->c.reusable = false;
}

/* True when the body about to go to j's output would put binary bytes on
 * a terminal (a NUL among its first 2 KiB, as curl judges) and -f was not
 * given: then it is refused, said. The first bytes are read into the
 * transport when none wait there yet. */
static bool binary_to_tty(struct fetch *f, const struct job *j, bool empty)
{
    struct xport *x = &f->c.x;

    if (!j->direct || f->o->force || empty || j->fd < 0 || !isatty(j->fd))
        return false;
    if (x->pos == x->len && xp_fill(x, f->read_ms) <= 0)
        return false; /* nothing to judge: the body's own reading reports */
    size_t n = x->len - x->pos < 2048 ? x->len - x->pos : 2048;
    if (memchr(x->buf + x->pos, '\0', n) == NULL)
        return false;
    say(f,
        "%s: binary data would go to the terminal; save it with -o FILE, or give -f to "
        "write it there anyway",
        j->url_str);
    return true;
}

/* ---- the exchange ---------------------------------------------------------- */

/* Sends GET for u, with Range and If-Range when j resumes, and j's
 * credentials when u is their origin and it asked for them. */
static enum fetch_result send_request(struct fetch *f, const struct url *u, const struct job *j)
{
    char auth[300], req[8192], cred[sizeof j->cred.value + 32];
    int n = 0;

    url_authority(u, auth, sizeof auth);
    cred_line(f, &j->cred, u, cred, sizeof cred);
    n = snprintf(req, sizeof req,
                 "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ferry/0.1\r\nAccept: %s\r\n"
                 "Want-Repr-Digest: sha-256=10\r\nTE: trailers\r\nConnection: TE\r\n%s",
                 u->path, auth, f->o->accept != NULL ? f->o->accept : "*/*", cred);
    if (j->have > 0)
        n +=
            snprintf(req + n, sizeof req - (size_t)n, "Range: bytes=%lld-\r\n", (long long)j->have);
    if (j->have > 0 && j->validator[0] != '\0')
        n += snprintf(req + n, sizeof req - (size_t)n, "If-Range: %s\r\n", j->validator);
    n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
    if (n >= (int)sizeof req)
        return FETCH_USAGE;
    int rc = xp_write(&f->c.x, req, (size_t)n, f->o->timeout_ms);
    return rc < 0 ? FETCH_NETWORK : FETCH_OK;
}

/* Pipelining: sends the requests of the URLs after index ahead on the
 * connection (just used for cur), up to PQ_MAX in flight, while they go to
 * the same server, so the server never waits for our next request. Only
 * on a connection that has already kept an HTTP/1.1 exchange alive, and
 * never with --no-pipeline. A URL whose output cannot be written is
 * passed over (its own turn fails before any request); a raw URL or
 * another server ends the look ahead. Answers are matched in order by
 * exchange (pq_turn); when anything goes wrong the connection is closed
 * and the requests go again. */
static void send_ahead(struct fetch *f, int index, const struct url *cur)
{
    const struct fetch_options *o = f->o;

    if (o->no_pipeline || o->upload != NULL || !f->c.proven || !conn_serves(&f->c, cur))
        return;
    int next = pq_next(&f->q, index);
    for (; !pq_full(&f->q) && next < o->nurls; next++) {
        struct job j;

        if (strncasecmp(o->urls[next], "raw://", 6) == 0)
            break;
        int rc = job_plan(f, &j, next, true);
        if (rc == -EINVAL || !conn_serves(&f->c, &j.url))
            break;
        if (rc < 0)
            continue;
        if (send_request(f, &j.url, &j) != FETCH_OK)
            break;
        if (pq_len(&f->q) == 0)
            verbose(f, "sending requests ahead (at most %d in flight)", PQ_MAX);
        pq_push(&f->q, next, j.have);
    }
    pq_considered(&f->q, next);
}

/* Takes the sha-256 of the server's Repr-Digest, if it sent one, for
 * job_finish to check (not for stdout or a device: they cannot be read
 * back). Read before any body is drained, while the head is in place. */
static int take_digest(struct fetch *f, struct job *j, const struct http_response *res)
{
    for (size_t i = 0; i < res->nheaders; i++) {
        const struct http_header *h = &res->headers[i];
        if (http_str_ieq(h->name.p, h->name.len, "trailer") &&
            http_list_has(h->value, "repr-digest"))
            j->trailer = !j->direct;
        if (!http_str_ieq(h->name.p, h->name.len, "repr-digest"))
            continue;
        int rc = digest_field_sha256(h->value.p, h->value.len, j->sha);
        if (rc < 0) {
            say(f, "%s: malformed Repr-Digest: %.*s", j->url_str, (int)h->value.len, h->value.p);
            return -EINVAL;
        }
        if (rc == 1)
            j->check = !j->direct;
    }
    return 0;
}

/* What an exchange left to do with the body. */
enum exch {
    EX_BODY,     /* 2xx: the body is the file, from byte zero */
    EX_RESUME,   /* 206 for the rest of the file: append it to the part */
    EX_COMPLETE, /* 416 and the part already holds the whole file */
    EX_RESTART,  /* NAME (j->adopt) cannot be continued: ask again from zero */
    EX_FAILED,   /* *r says why */
};

/* Gets the final answer for j: takes the request sent ahead when its
 * answer is the next on the wire, else sends it (on a kept connection when
 * one serves, reconnecting once if the server had closed it), reads the
 * head, follows redirects (at most --max-redirs, no loops), then applies
 * the status policy: 416 completes a part that holds it all, any other
 * non-2xx fails, a 206 is taken only for the range asked to the end of
 * a file whose size it states (http_resume_size; *size is set). The head
 * is consumed; the body waits in the transport. */
static enum exch exchange(struct fetch *f, struct job *j, struct http_response *res,
                          struct http_resp_info *ri, int64_t *size, enum fetch_result *r,
                          bool *transient)
{
    struct fconn *c = &f->c;
    struct url u = j->url, seen[32];
    int nseen = 0, redirs = 0;
    enum pq_turn turn = pq_turn(&f->q, j->index, j->have);
    bool no_body = false;

    for (;;) {
        bool fresh = c->x.fd < 0 || !c->reusable || c->x.ended;
        if (turn == PQ_TAKE && conn_answers(c)) {
            verbose(f, "reusing the connection to %s:%u (request sent ahead)", u.host, u.port);
            *r = FETCH_OK;
        } else {
            /* Answers to requests sent ahead would come before ours. */
            if (turn != PQ_SEND || pq_len(&f->q) > 0)
                conn_close(f, true);
            *r = conn_open(f, &u);
            if (*r != FETCH_OK) {
                *transient = *r == FETCH_NETWORK;
                return EX_FAILED;
            }
            *r = send_request(f, &u, j);
        }
        turn = PQ_SEND;
        if (*r == FETCH_OK)
            send_ahead(f, j->index, &u);
        ssize_t hl = *r == FETCH_OK ? read_head(f, res) : -EPIPE;
        if (hl <= 0 && !fresh && hl != -EBADMSG) {
            /* A kept-alive connection the server had closed: once more on a
             * new one. */
            verbose(f, "the kept connection was closed; reconnecting");
            conn_close(f, true);
            *r = conn_open(f, &u);
            if (*r == FETCH_OK)
                *r = send_request(f, &u, j);
            hl = *r == FETCH_OK ? read_head(f, res) : -EPIPE;
        }
        if (hl <= 0) {
            say(f, "%s: %s", j->url_str,
                hl == 0 ? "the server closed the connection without answering"
                : hl == -EBADMSG ? "malformed response head"
                                 : xp_strerror((int)hl));
            conn_close(f, true);
            *transient = hl != -EBADMSG;
            *r = hl == -EBADMSG ? FETCH_PROTOCOL : io_result((int)hl);
            return EX_FAILED;
        }
        take_head(f, hl);
        if (http_analyse_response(res, ri) < 0) {
            say(f, "%s: the response's framing cannot be trusted", j->url_str);
            conn_close(f, true);
            *r = FETCH_PROTOCOL;
            return EX_FAILED;
        }
        c->reusable = !ri->close;
        if (!ri->close && res->minor >= 1)
            c->proven = true;
        no_body = res->status == 204 || res->status == 304 ||
                  (res->status >= 100 && res->status < 200);
        if (res->status == 401) {
            int again = cred_answer(f, &j->cred, &u, res);
            drain_body(f, ri, no_body);
            if (again < 0) {
                *r = FETCH_USAGE;
                return EX_FAILED;
            }
            if (again > 0)
                continue;
        }
        if (res->status < 300 || res->status >= 400 || res->status == 304 || ri->location.p == NULL)
            break;
        drain_body(f, ri, no_body);
        if (redirs >= f->o->max_redirs) {
            say(f, "%s: more than %d redirects", j->url_str, f->o->max_redirs);
            *r = FETCH_HTTP;
            return EX_FAILED;
        }
        struct url next;
        if (url_resolve(&u, ri->location.p, ri->location.len, &next) < 0) {
            say(f, "%s: cannot follow the redirect to %.*s", j->url_str, (int)ri->location.len,
                ri->location.p);
            *r = FETCH_PROTOCOL;
            return EX_FAILED;
        }
        if (nseen < (int)(sizeof seen / sizeof seen[0]))
            seen[nseen++] = u;
        for (int i = 0; i < nseen; i++)
            if (seen[i].scheme == next.scheme && seen[i].port == next.port &&
                strcmp(seen[i].host, next.host) == 0 && strcmp(seen[i].path, next.path) == 0) {
                say(f, "%s: redirect loop at %.*s", j->url_str, (int)ri->location.len,
                    ri->location.p);
                *r = FETCH_HTTP;
                return EX_FAILED;
            }
        verbose(f, "redirected (%d) to %.*s", res->status, (int)ri->location.len, ri->location.p);
        u = next;
        redirs++;
    }
    if (take_digest(f, j, res) < 0) {
        conn_close(f, true);
        *r = FETCH_PROTOCOL;
        return EX_FAILED;
    }
    int64_t a, b;
    if (res->status == 416 && j->have > 0) {
        drain_body(f, ri, false);
        if (ri->content_range.p != NULL &&
            http_content_range(ri->content_range, &a, &b, size) == 0 && a < 0 && *size == j->have &&
            (f->known_size < 0 || *size == f->known_size))
            return EX_COMPLETE;
        if (j->adopt && ri->content_range.p != NULL &&
            http_content_range(ri->content_range, &a, &b, size) == 0 && a < 0 && *size >= 0) {
            say(f,
                "%s has %lld bytes, more than the server's %lld-byte file: it is not a part of "
                "it; downloading it again from zero",
                j->path, (long long)j->have, (long long)*size);
            return EX_RESTART;
        }
    }
    if (res->status < 200 || res->status >= 300) {
        say(f, "%s: HTTP/1.%d %d %.*s%s", j->url_str, res->minor, res->status, (int)res->reason.len,
            res->reason.p, res->status == 401 ? cred_hint(f, &j->cred, &u) : "");
        if (res->status != 416 && res->status != 401)
            drain_body(f, ri, no_body); /* not twice for a 416 or a 401 */
        else if (res->status == 416 && j->have == 0)
            drain_body(f, ri, no_body);
        *transient = res->status >= 500;
        *r = FETCH_HTTP;
        return EX_FAILED;
    }
    if (res->status == 206) {
        *size = http_resume_size(ri->content_range, ri->content_length, j->have, f->known_size);
        if (*size < 0) {
            say(f, "%s: the server sent a range we did not ask for, or not to a stated end",
                j->url_str);
            conn_close(f, true);
            *r = FETCH_PROTOCOL;
            return EX_FAILED;
        }
        verbose(f, "resuming at byte %lld", (long long)j->have);
        return EX_RESUME;
    }
    if (j->adopt && j->have > 0)
        say(f, "%s: the server sends the whole file, not the rest: downloading it again from zero",
            j->path);
    else if (j->have > 0)
        verbose(f, "the file changed or ranges are not supported: starting from zero");
    return EX_BODY;
}

/* ---- what resumes a transfer ---------------------------------------------- */

/* Appends arg to out (*len bytes used of outsz) as one shell word: as it
 * is when it holds only characters a shell takes literally, else in
 * single quotes (a quote inside as '\''). Stops quietly at outsz. */
static void shell_word(char *out, size_t outsz, size_t *len, const char *arg)
{
    bool plain = arg[0] != '\0';

    for (const char *p = arg; *p && plain; p++)
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/:@%+=,",
                       *p) != NULL;
    int n = snprintf(out + *len, outsz - *len, " %s", plain ? arg : "'");
    *len += n > 0 && (size_t)n < outsz - *len ? (size_t)n : 0;
    for (const char *p = arg; !plain && *p; p++) {
        n = snprintf(out + *len, outsz - *len, "%s", *p == '\'' ? "'\\''" : (char[2]){*p, '\0'});
        *len += n > 0 && (size_t)n < outsz - *len ? (size_t)n : 0;
    }
    if (!plain && *len + 1 < outsz) {
        out[(*len)++] = '\'';
        out[*len] = '\0';
    }
}

/* Tells o->resumable what a Ctrl-C now would leave and how to go on:
 * line, or NULL for nothing. */
static void tell_resumable(const struct fetch *f, const char *line)
{
    if (f->o->resumable != NULL)
        f->o->resumable(f->o->resumable_arg, line);
}

/* The options a command that resumes needs again: the login (its
 * password is asked again, never printed), -k. */
static void resume_options(const struct fetch *f, char *out, size_t outsz, size_t *len)
{
    char user[AUTH_CRED_MAX + 1];

    if (f->o->insecure)
        shell_word(out, outsz, len, "-k");
    if (f->o->user != NULL) {
        snprintf(user, sizeof user, "%.*s", (int)strcspn(f->o->user, ":"), f->o->user);
        shell_word(out, outsz, len, "-u");
        shell_word(out, outsz, len, user);
    }
    if (f->o->netrc != NULL)
        shell_word(out, outsz, len, "--netrc");
}

/* j's part is on disk: a Ctrl-C from now on says the command that resumes
 * it, with the URLs after it in the same run. */
static void tell_get_resumable(const struct fetch *f, const struct job *j)
{
    char line[8192], shown[4608];
    size_t len = 0;

    int n = snprintf(line, sizeof line, "%s is kept; resume with: ferry get -c", j->part);
    len = n > 0 && (size_t)n < sizeof line ? (size_t)n : 0;
    resume_options(f, line, sizeof line, &len);
    if (f->o->output != NULL) {
        shell_word(line, sizeof line, &len, "-o");
        shell_word(line, sizeof line, &len, f->o->output);
    } else if (f->o->outdir != NULL) {
        shell_word(line, sizeof line, &len, "-O");
        shell_word(line, sizeof line, &len, f->o->outdir);
    }
    for (int i = j->index; i < f->o->nurls; i++) {
        url_hide_password(f->o->urls[i], shown, sizeof shown);
        if (len + strlen(shown) + 8 >= sizeof line)
            break;
        shell_word(line, sizeof line, &len, shown);
    }
    tell_resumable(f, line);
}

/* Asks u for the digest of j's file with a HEAD (a 416 carries none) and
 * takes it into j->sha / j->check. Any failure just leaves j->check
 * false: the caller says there was nothing to check by. */
static void head_digest(struct fetch *f, struct job *j)
{
    char auth[300], req[8192], cred[sizeof j->cred.value + 32];
    struct http_response res;
    struct http_resp_info ri;

    if (pq_len(&f->q) > 0)
        conn_close(f, true); /* the answers to requests sent ahead come first */
    if (conn_open(f, &j->url) != FETCH_OK)
        return;
    url_authority(&j->url, auth, sizeof auth);
    cred_line(f, &j->cred, &j->url, cred, sizeof cred);
    int n = snprintf(req, sizeof req,
                     "HEAD %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ferry/0.1\r\n"
                     "Want-Repr-Digest: sha-256=10\r\n%s\r\n",
                     j->url.path, auth, cred);
    ssize_t hl = n < (int)sizeof req && xp_write(&f->c.x, req, (size_t)n, f->o->timeout_ms) == 0
                     ? read_head(f, &res)
                     : -EPIPE;
    if (hl <= 0) {
        conn_close(f, true);
        return;
    }
    take_head(f, hl);
    if (http_analyse_response(&res, &ri) < 0 || ri.close)
        f->c.reusable = false;
    if (res.status == 200 && take_digest(f, j, &res) < 0)
        j->check = false;
}

/* -c found NAME complete by its size (a 416 for the rest): checks it
 * against the server's Repr-Digest and --sha256 when there are any, and
 * says so. Never changes NAME. */
static enum fetch_result adopt_complete(struct fetch *f, struct job *j)
{
    unsigned char got[32];
    char hg[DIGEST_HEX_LEN + 1], hw[DIGEST_HEX_LEN + 1];

    if (!j->check)
        head_digest(f, j);
    if (!j->check && !f->o->has_sha256) {
        if (!f->o->quiet)
            say(f, "%s: already complete (its size is the server's; no digest to check it by)",
                j->path);
        return FETCH_OK;
    }
    int fd = open_own(j->path, O_RDONLY);
    int rc = fd < 0 ? -errno : hash_sha256_fd(fd, got, NULL, NULL);
    if (fd >= 0)
        close(fd);
    if (rc < 0) {
        say(f, "cannot read %s to check it: %s", j->path, strerror(-rc));
        return FETCH_LOCAL;
    }
    digest_hex_format(got, hg);
    const unsigned char *want = j->check && memcmp(got, j->sha, sizeof got) != 0 ? j->sha
                                : f->o->has_sha256 && memcmp(got, f->o->sha256, sizeof got) != 0
                                    ? f->o->sha256
                                    : NULL;
    if (want != NULL) {
        digest_hex_format(want, hw);
        say(f,
            "%s has the server's size but not the digest it must have: its sha-256 is %s, "
            "expected %s; left as it is (-f downloads it again)",
            j->path, hg, hw);
        return FETCH_DIGEST;
    }
    if (!f->o->quiet)
        say(f, "%s: already complete (sha-256 verified)", j->path);
    return FETCH_OK;
}

/* ---- one HTTP download --------------------------------------------------- */

static enum fetch_result fetch_http(struct fetch *f, int index, bool *transient)
{
    struct job j;
    struct http_response res;
    struct http_resp_info ri;
    enum fetch_result r;
    int64_t size = -1;

    int rc = job_plan(f, &j, index, false);
    if (rc < 0) {
        if (rc == -EINVAL)
            say(f, "bad URL: %s", j.url_str);
        if (pq_drop(&f->q, index))
            conn_close(f, true); /* nobody will read its answer */
        return rc == -EINVAL || rc == -EPERM ? FETCH_USAGE : FETCH_LOCAL;
    }
    enum exch ex = exchange(f, &j, &res, &ri, &size, &r, transient);
    if (ex == EX_RESUME && j.adopt && !j.check && !f->o->has_sha256) {
        /* Nothing could tell a wrong prefix (curl, wget and aria2 cannot
         * either): the whole file comes again, and NAME stays until it has. */
        say(f,
            "%s: the server gives no Repr-Digest to prove its %lld bytes the start of this "
            "file: downloading it again from zero",
            j.path, (long long)j.have);
        conn_close(f, true);
        ex = EX_RESTART;
    }
    if (ex == EX_RESTART) {
        j.have = 0;
        j.check = false;
        ex = exchange(f, &j, &res, &ri, &size, &r, transient);
    }
    if (ex == EX_FAILED)
        return r;
    if (ex == EX_COMPLETE && j.adopt)
        return adopt_complete(f, &j);
    bool adopted = ex == EX_RESUME && j.adopt;
    if (adopted) {
        /* The rest goes after NAME's bytes in NAME.part, which replaces
         * NAME only once the whole file matches its digest. */
        if (j.meta_exists)
            unlink(j.meta);
        j.meta_exists = false;
        if (rename(j.path, j.part) < 0) {
            say(f, "cannot rename %s to %s: %s", j.path, j.part, strerror(errno));
            conn_close(f, true);
            return FETCH_LOCAL;
        }
        verbose(f, "continuing %s (%lld bytes) in %s; the server's digest will check the whole",
                j.path, (long long)j.have, j.part);
    }
    /* What a retry after a cut must find again: a body from zero states
     * its size only by its Content-Length. */
    if (ex == EX_RESUME)
        f->known_size = size;
    else if (ex == EX_BODY)
        f->known_size = res.status == 200 && !ri.chunked ? ri.content_length : -1;
    if (ex == EX_COMPLETE) {
        if (job_open(f, &j, true, (struct http_str){NULL, 0}, false) < 0)
            return FETCH_LOCAL;
        r = job_done(f, &j);
        if (r != FETCH_OK)
            return r;
        if (!f->o->quiet)
            say(f, "%s: already complete", j.path);
        return FETCH_OK;
    }
    if (!j.named) {
        /* -J: the answer names the file. */
        char dn[1024];
        bool has = ri.content_disposition.p != NULL &&
                   http_disposition_filename(ri.content_disposition, dn, sizeof dn) > 0;
        if (job_name(f, &j, has ? dn : NULL, false) < 0) {
            drain_body(f, &ri, false);
            return FETCH_LOCAL;
        }
    }
    struct http_str validator = ri.etag.p && ri.etag.len > 0 && ri.etag.p[0] == '"' ? ri.etag
                                                                                     : ri.last_modified;
    bool whole = !ri.chunked && ri.content_length >= 0 &&
                 (int64_t)(f->c.x.len - f->c.x.pos) >= ri.content_length;
    bool append = ex == EX_RESUME;
    if (job_open(f, &j, append, validator, whole) < 0) {
        conn_close(f, true);
        return FETCH_LOCAL;
    }
    if (adopted && !whole)
        job_keep_validator(&j, validator); /* a cut from here on resumes the part */
    if (!j.direct)
        tell_get_resumable(f, &j);
    if (binary_to_tty(f, &j, res.status == 204 || ri.content_length == 0)) {
        job_abandon(&j);
        conn_close(f, true);
        return FETCH_LOCAL;
    }
    struct progress pg = {.f = f, .hf = j.hf, .name = j.path, .total = -1, .t0 = clock_ms()};
    pg.done = pg.start_at = append ? j.have : 0;
    if (append)
        pg.total = size;
    else if (ri.content_length >= 0)
        pg.total = ri.content_length;
    enum body_framing framing = ri.chunked                ? BODY_CHUNKED
                                : ri.content_length >= 0 ? BODY_LENGTH
                                                         : BODY_UNTIL_CLOSE;
    r = res.status == 204 ? FETCH_OK : move_body(f, framing, ri.content_length, &j, &pg, transient);
    if (r != FETCH_OK) {
        job_abandon(&j);
        conn_close(f, true);
        return r;
    }
    if (append && pg.done != size) {
        /* A chunked or until-close range that ended early or ran on. */
        say(f,
            "%s: the server's range ended at byte %lld, not at the end of the %lld-byte file; "
            "kept %s, not renamed",
            j.url_str, (long long)pg.done, (long long)size, j.part);
        if (pg.done > size && j.meta_exists) {
            unlink(j.meta); /* never a prefix to resume */
            j.meta_exists = false;
        }
        job_abandon(&j);
        conn_close(f, true);
        return FETCH_PROTOCOL;
    }
    if (append && !j.check && !j.direct && !f->o->has_sha256 && !f->o->quiet)
        say(f, "%s: the server gave no digest of the whole file: the resumed file is not checked",
            j.path);
    r = job_done(f, &j);
    if (r == FETCH_DIGEST && adopted)
        say(f, "so the %lld bytes %s held were not the start of this file", (long long)j.have,
            j.path);
    if (r != FETCH_OK)
        return r;
    tell_resumable(f, NULL);
    progress_draw(&pg, true);
    if (!f->c.reusable)
        conn_close(f, false);
    return FETCH_OK;
}

/* ---- raw protocol --------------------------------------------------------- */

static enum fetch_result fetch_raw(struct fetch *f, int index, bool *transient)
{
    const char *url_str = f->o->urls[index];
    char name[4096], wire[8192];
    struct job j;

    int rc = job_plan(f, &j, index, false);
    if (rc == -EINVAL) {
        say(f, "bad URL: %s", url_str);
        return FETCH_USAGE;
    }
    /* The name is the path without its leading slash (and query), decoded. */
    if (url_decode(j.url.path + 1, strcspn(j.url.path + 1, "?"), name, sizeof name) == 0) {
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
    if (rc < 0)
        return FETCH_LOCAL;
    conn_close(f, true);
    enum fetch_result r = conn_open(f, &j.url);
    if (r != FETCH_OK) {
        *transient = r == FETCH_NETWORK;
        return r;
    }
    f->c.reusable = false;
    if (xp_write(&f->c.x, send_p, send_n, f->o->timeout_ms) < 0) {
        say(f, "%s: cannot send the name", url_str);
        conn_close(f, true);
        *transient = true;
        return FETCH_NETWORK;
    }
    /* The first bytes decide between a file and "no such file"; they wait
     * in the transport's buffer for the body. */
    ssize_t n = xp_fill(&f->c.x, f->read_ms);
    if (n <= 0) {
        conn_close(f, n != 0);
        if (n == 0) {
            say(f, "%s: no such file on the server (empty reply)", url_str);
            return FETCH_NOT_FOUND;
        }
        say(f, "%s: %s", url_str, xp_strerror((int)n));
        *transient = true;
        return FETCH_NETWORK;
    }
    if (job_open(f, &j, false, (struct http_str){NULL, 0}, false) < 0) {
        conn_close(f, true);
        return FETCH_LOCAL;
    }
    if (binary_to_tty(f, &j, false)) {
        job_abandon(&j);
        conn_close(f, true);
        return FETCH_LOCAL;
    }
    struct progress pg = {.f = f, .hf = j.hf, .name = j.path, .total = -1, .t0 = clock_ms()};
    r = move_body(f, BODY_UNTIL_CLOSE, -1, &j, &pg, transient);
    conn_close(f, r != FETCH_OK);
    if (r != FETCH_OK) {
        job_abandon(&j);
        return r;
    }
    r = job_done(f, &j);
    if (r != FETCH_OK)
        return r;
    progress_draw(&pg, true);
    return FETCH_OK;
}

/* ---- upload -------------------------------------------------------------- */

static void url_string(const struct url *u, char *out, size_t outsz)
{
    char auth[300];

    url_authority(u, auth, sizeof auth);
    snprintf(out, outsz, "%s://%s%s", u->scheme == URL_HTTPS ? "https" : "http", auth, u->path);
}

/* The value of header name in res, or p == NULL. */
static struct http_str res_header(const struct http_response *res, const char *name)
{
    return http_header_get(res->headers, res->nheaders, name);
}

/* The line that says how to go on with j's upload, into line (sz bytes):
 * "" when the server named no upload. */
static void put_resume_line(const struct fetch *f, const struct put_job *j, char *line, size_t sz)
{
    size_t len = 0;

    line[0] = '\0';
    if (j->resume_url[0] == '\0')
        return;
    int n = snprintf(line, sz, "the upload can go on from where it stopped: ferry put -c");
    len = n > 0 && (size_t)n < sz ? (size_t)n : 0;
    resume_options(f, line, sz, &len);
    shell_word(line, sz, &len, f->o->upload);
    shell_word(line, sz, &len, j->resume_url);
}

/* Tells o->resumable how j's upload goes on, now that the server named it. */
static void tell_put_resumable(const struct fetch *f, const struct put_job *j)
{
    char line[9300];

    put_resume_line(f, j, line, sizeof line);
    tell_resumable(f, line[0] != '\0' ? line : NULL);
}

/* A 104's Location, resolved against the request's URL, is where a cut
 * upload resumes. */
static void take_resume_url(struct fetch *f, struct put_job *j, const struct http_response *res)
{
    struct http_str loc = res_header(res, "location");
    struct url next;

    if (loc.p != NULL && url_resolve(&j->u, loc.p, loc.len, &next) == 0 &&
        next.scheme == j->u.scheme) {
        url_string(&next, j->resume_url, sizeof j->resume_url);
        tell_put_resumable(f, j);
    }
}

/* Sends what j->fd (standard input) gives until its end as a chunked
 * body: a chunk for each read, the last chunk at the end. Each wait for
 * input has the --timeout deadline. FETCH_OK or the failure, said. */
static enum fetch_result put_stream(struct fetch *f, struct put_job *j)
{
    const struct fetch_options *o = f->o;
    struct progress pg = {.f = f, .name = "standard input", .total = -1, .t0 = clock_ms()};
    char head[32];

    for (;;) {
        struct pollfd p = {.fd = j->fd, .events = POLLIN};
        int pr = poll(&p, 1, o->timeout_ms);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0) {
            say(f, "nothing came on standard input for %d s", o->timeout_ms / 1000);
            return FETCH_LOCAL;
        }
        ssize_t k = pr < 0 ? -1 : read(j->fd, f->m.io, BODY_IOBUF);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            say(f, "cannot read standard input: %s", strerror(errno));
            return FETCH_LOCAL;
        }
        int n = snprintf(head, sizeof head, "%zx\r\n", (size_t)k);
        if (xp_write(&f->c.x, head, (size_t)n, o->timeout_ms) < 0 ||
            (k > 0 && (xp_write(&f->c.x, f->m.io, (size_t)k, o->timeout_ms) < 0 ||
                       xp_write(&f->c.x, "\r\n", 2, o->timeout_ms) < 0)) ||
            (k == 0 && xp_write(&f->c.x, "\r\n", 2, o->timeout_ms) < 0)) {
            say(f, "%s: the connection failed after %lld bytes", j->url_str, (long long)pg.done);
            return FETCH_NETWORK;
        }
        if (k == 0)
            break;
        pg.done += k;
        progress_draw(&pg, false);
    }
    progress_draw(&pg, true);
    return FETCH_OK;
}

/* Sends head, waits a moment for 100 Continue (taking a 104's upload URL
 * on the way; servers that ignore Expect get the body anyway), sends the
 * file from j->offset and reads the final answer into res (*hl: its head
 * length). FETCH_OK, or the failure, said. */
static enum fetch_result put_send(struct fetch *f, struct put_job *j, const char *head, size_t n,
                                  struct http_response *res, ssize_t *hl)
{
    const struct fetch_options *o = f->o;
    int64_t t0 = clock_ms();

    if (xp_write(&f->c.x, head, n, o->timeout_ms) < 0) {
        say(f, "%s: cannot send the request", j->url_str);
        return FETCH_NETWORK;
    }
    /* (A TLS socket turns readable for session tickets too, so this reads
     * rather than polls.) */
    f->expect_continue = true;
    for (;;) {
        int64_t left = 1000 - (clock_ms() - t0);
        f->read_ms = left > 0 ? (int)left : 1;
        *hl = read_head(f, res);
        if (*hl == -ETIMEDOUT && f->c.x.pos == f->c.x.len)
            break; /* no word yet: the body goes anyway */
        if (*hl <= 0) {
            f->expect_continue = false;
            f->read_ms = o->timeout_ms;
            say(f, "%s: no answer to the request", j->url_str);
            return *hl == -EBADMSG ? FETCH_PROTOCOL : FETCH_NETWORK;
        }
        if (res->status >= 200 || res->status == 101) {
            f->expect_continue = false;
            f->read_ms = o->timeout_ms;
            return FETCH_OK; /* answered before the body: a refusal, or an empty file */
        }
        if (res->status == 104)
            take_resume_url(f, j, res);
        take_head(f, *hl);
        if (res->status == 100)
            break;
    }
    f->expect_continue = false;
    f->read_ms = o->timeout_ms;
    if (j->size < 0) {
        enum fetch_result r = put_stream(f, j);
        if (r != FETCH_OK)
            return r;
        goto answer;
    }
    struct progress pg = {.f = f, .name = o->upload, .total = j->size, .t0 = clock_ms()};
    pg.done = pg.start_at = j->offset;
    /* Over plain TCP the file goes to the socket with sendfile(2), never
     * past the size it had (a file that grew is caught below); else, or
     * where sendfile is refused, through a buffer. */
    bool copy = false;
    for (off_t at = (off_t)j->offset; pg.done < j->size;) {
        size_t want = (uint64_t)(j->size - pg.done) < (1u << 20) ? (size_t)(j->size - pg.done) : 1u << 20;
        ssize_t k = copy ? -EINVAL : xp_send_file(&f->c.x, j->fd, &at, want, o->timeout_ms);
        if (k == -EINVAL && !f->c.x.broken) {
            copy = true;
            k = pread(j->fd, f->m.io, want < BODY_IOBUF ? want : BODY_IOBUF, at);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0) {
                say(f, "cannot read %s: %s", o->upload, strerror(errno));
                return FETCH_LOCAL;
            }
            if (k > 0 && xp_write(&f->c.x, f->m.io, (size_t)k, o->timeout_ms) < 0)
                k = -EPIPE;
            else
                at += k;
        }
        if (k == 0)
            break; /* the file is shorter than it was */
        if (k < 0) {
            say(f, "%s: the connection failed after %lld of %lld bytes", j->url_str,
                (long long)pg.done, (long long)j->size);
            return FETCH_NETWORK;
        }
        pg.done += k;
        progress_draw(&pg, false);
    }
    if (pg.done != j->size) {
        say(f, "%s changed size while it was sent (the server keeps its old file)", o->upload);
        return FETCH_LOCAL;
    }
    progress_draw(&pg, true);
answer:
    j->body_sent = true;
    *hl = read_head(f, res);
    if (*hl <= 0) {
        say(f, "%s: no answer after the upload", j->url_str);
        return *hl == -EBADMSG ? FETCH_PROTOCOL : FETCH_NETWORK;
    }
    return FETCH_OK;
}

/* Reports the final answer (its reason phrase lives in the connection's
 * buffer) and closes. */
static enum fetch_result put_answered(struct fetch *f, const struct put_job *j,
                                      const struct http_response *res, ssize_t hl, bool *transient)
{
    bool ok = res->status >= 200 && res->status < 300;

    take_head(f, hl);
    if (!ok) {
        char why[256];
        say(f, "%s: HTTP/1.%d %d %.*s%s", j->url_str, res->minor, res->status, (int)res->reason.len,
            res->reason.p, res->status == 401 ? cred_hint(f, &j->cred, &j->u) : "");
        /* The page's sentence, when it came with the head (ferry serve
         * says why it refused in one). */
        if (page_reason(f->c.x.buf + f->c.x.pos, f->c.x.len - f->c.x.pos, why, sizeof why) > 0)
            say(f, "the server says: %s", why);
    } else if (!f->o->quiet)
        say(f, "%s: %d %.*s", j->url_str, res->status, (int)res->reason.len, res->reason.p);
    if (ok)
        tell_resumable(f, NULL);
    conn_close(f, true);
    *transient = res->status >= 500;
    return ok ? FETCH_OK : FETCH_HTTP;
}

/* The offset of the upload at j->u (HEAD): FETCH_OK with j->offset set,
 * *complete when it is finished. */
static enum fetch_result put_offset(struct fetch *f, struct put_job *j, bool *complete,
                                    bool *transient)
{
    char auth[300], req[8192], cred[sizeof j->cred.value + 32];
    struct http_response res;
    struct sf_item it;
    ssize_t hl;

    url_authority(&j->u, auth, sizeof auth);
    for (;;) {
        enum fetch_result r = conn_open(f, &j->u);
        if (r != FETCH_OK) {
            *transient = r == FETCH_NETWORK;
            return r;
        }
        cred_line(f, &j->cred, &j->u, cred, sizeof cred);
        int n = snprintf(req, sizeof req,
                         "HEAD %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ferry/0.1\r\n%s"
                         "Upload-Draft-Interop-Version: %d\r\n\r\n",
                         j->u.path, auth, cred, RUP_INTEROP);
        hl = xp_write(&f->c.x, req, (size_t)n, f->o->timeout_ms) < 0 ? -EPIPE : read_head(f, &res);
        if (hl <= 0) {
            say(f, "%s: no answer to the offset request", j->url_str);
            conn_close(f, true);
            *transient = true;
            return hl == -EBADMSG ? FETCH_PROTOCOL : FETCH_NETWORK;
        }
        int again = res.status == 401 ? cred_answer(f, &j->cred, &j->u, &res) : 0;
        if (again < 0) {
            conn_close(f, true);
            return FETCH_USAGE;
        }
        if (again == 0)
            break;
        take_head(f, hl);
        conn_close(f, true); /* a HEAD's answer has no body, but it may say how long one is */
    }
    if (res.status == 404 || res.status == 410) {
        take_head(f, hl);
        conn_close(f, true);
        say(f, "%s: the server no longer has this upload (finished long ago, cancelled or "
               "expired); upload again without -c",
            j->url_str);
        return FETCH_HTTP;
    }
    struct http_str off = res_header(&res, "upload-offset");
    struct http_str done = res_header(&res, "upload-complete");
    struct http_str len = res_header(&res, "upload-length");
    if (res.status < 200 || res.status >= 300)
        return put_answered(f, j, &res, hl, transient);
    if (off.p == NULL || sf_item_parse(off.p, off.len, &it) < 0 || it.kind != SF_INTEGER ||
        it.integer < 0) {
        take_head(f, hl);
        conn_close(f, true);
        say(f, "%s: not an upload this server can resume (no Upload-Offset)", j->url_str);
        return FETCH_PROTOCOL;
    }
    j->offset = it.integer;
    *complete = done.p != NULL && sf_item_parse(done.p, done.len, &it) == 0 &&
                it.kind == SF_BOOLEAN && it.boolean;
    int64_t want = -1;
    if (len.p != NULL && sf_item_parse(len.p, len.len, &it) == 0 && it.kind == SF_INTEGER)
        want = it.integer;
    take_head(f, hl);
    if ((want >= 0 && want != j->size) || j->offset > j->size) {
        conn_close(f, true);
        say(f, "%s is not the file this upload was for: it has %lld bytes, the upload %lld",
            f->o->upload, (long long)j->size, (long long)(want >= 0 ? want : j->offset));
        return FETCH_LOCAL;
    }
    return FETCH_OK;
}

/* The rest of the upload at j->u, from the offset the server has. */
static enum fetch_result put_resume(struct fetch *f, struct put_job *j, bool *transient)
{
    char auth[300], req[8192], cred[sizeof j->cred.value + 32];
    struct http_response res;
    ssize_t hl = 0;
    bool complete = false;

    enum fetch_result r = put_offset(f, j, &complete, transient);
    if (r != FETCH_OK)
        return r;
    if (complete) {
        if (!f->o->quiet)
            say(f, "%s: the upload is already complete", j->url_str);
        conn_close(f, true);
        return FETCH_OK;
    }
    verbose(f, "resuming at byte %lld of %lld", (long long)j->offset, (long long)j->size);
    url_authority(&j->u, auth, sizeof auth);
    cred_line(f, &j->cred, &j->u, cred, sizeof cred);
    int n = snprintf(req, sizeof req,
                     "PATCH %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ferry/0.1\r\n%s"
                     "Content-Type: application/partial-upload\r\nUpload-Offset: %lld\r\n"
                     "Upload-Complete: ?1\r\nUpload-Draft-Interop-Version: %d\r\n"
                     "Content-Length: %lld\r\nExpect: 100-continue\r\n\r\n",
                     j->u.path, auth, cred, (long long)j->offset, RUP_INTEROP,
                     (long long)(j->size - j->offset));
    url_string(&j->u, j->resume_url, sizeof j->resume_url);
    tell_put_resumable(f, j);
    r = put_send(f, j, req, (size_t)n, &res, &hl);
    if (r != FETCH_OK) {
        conn_close(f, true);
        *transient = r == FETCH_NETWORK;
        return r;
    }
    return put_answered(f, j, &res, hl, transient);
}

/* Tells how to go on after a cut, when the server said where. */
static void put_tell_resume(struct fetch *f, const struct put_job *j)
{
    char line[9300];

    put_resume_line(f, j, line, sizeof line);
    if (line[0] != '\0')
        say(f, "%s", line);
}

/* ferry put - URL: standard input, chunked, as it comes (no digest ahead,
 * not resumable). A 401 before the body went asks again with the
 * credentials; after it, the bytes are gone and the 401 stands. */
static enum fetch_result put_stdin(struct fetch *f, struct put_job *j)
{
    char auth[300], req[8192], cred[sizeof j->cred.value + 32];
    struct http_response res;
    ssize_t hl = 0;
    enum fetch_result r;
    bool transient;

    j->fd = 0;
    j->size = -1;
    j->offset = 0;
    j->resume_url[0] = '\0';
    url_authority(&j->u, auth, sizeof auth);
    for (;;) {
        r = conn_open(f, &j->u);
        if (r != FETCH_OK)
            return r;
        j->body_sent = false;
        cred_line(f, &j->cred, &j->u, cred, sizeof cred);
        int n = snprintf(req, sizeof req,
                         "PUT %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ferry/0.1\r\n%s"
                         "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
                         j->u.path, auth, cred);
        r = put_send(f, j, req, (size_t)n, &res, &hl);
        int again = r == FETCH_OK && res.status == 401 && !j->body_sent
                        ? cred_answer(f, &j->cred, &j->u, &res)
                        : 0;
        if (again == 0)
            break;
        take_head(f, hl);
        conn_close(f, true);
        if (again < 0)
            return FETCH_USAGE;
    }
    if (r != FETCH_OK) {
        conn_close(f, true);
        return r;
    }
    return put_answered(f, j, &res, hl, &transient);
}

static enum fetch_result fetch_put(struct fetch *f, const char *url_str, bool *transient)
{
    const struct fetch_options *o = f->o;
    struct put_job *j = &f->put;
    struct stat st;
    struct http_response res;
    char auth[300], req[8192], cred[sizeof j->cred.value + 32];
    ssize_t hl = 0;

    url_hide_password(url_str, j->shown, sizeof j->shown);
    if (url_parse(url_str, &j->u) < 0 || j->u.scheme == URL_RAW) {
        say(f, "bad URL for put: %s", j->shown);
        return FETCH_USAGE;
    }
    if (cred_for(f, &j->u, &j->cred, false) < 0)
        return FETCH_USAGE;
    bool names_upload = strstr(j->u.path, "?upload=") != NULL;
    if (o->resume != names_upload) {
        say(f,
            o->resume ? "-c resumes an upload from its URL, the one printed when it was cut "
                        "off (.../NAME?upload=...)"
                      : "%s names an upload under way: -c resumes it",
            j->shown);
        return FETCH_USAGE;
    }
    /* "ferry put FILE http://host/dir/" puts dir/FILE, as curl -T does. */
    const char *base = strrchr(o->upload, '/') != NULL ? strrchr(o->upload, '/') + 1 : o->upload;
    bool from_stdin = strcmp(o->upload, "-") == 0;
    int arc = names_upload ? 0 : url_append_name(&j->u, from_stdin ? "" : base);
    if (arc < 0) {
        say(f,
            from_stdin ? "%s: standard input has no name: give the URL of the file to make"
                       : "%s: no file name to add to the folder's URL",
            j->shown);
        return FETCH_USAGE;
    }
    if (arc > 0)
        url_string(&j->u, j->shown, sizeof j->shown);
    if (from_stdin && o->resume) {
        say(f, "-c resumes the upload of a file: standard input cannot be read again");
        return FETCH_USAGE;
    }
    if (from_stdin) {
        j->url_str = j->shown;
        *transient = false; /* what was read from a pipe cannot be read again */
        return put_stdin(f, j);
    }
    int fd = open(o->upload, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        say(f, "cannot read %s: %s", o->upload, fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        return FETCH_LOCAL;
    }
    j->url_str = j->shown;
    j->fd = fd;
    j->size = st.st_size;
    j->offset = 0;
    j->body_sent = false;
    /* A retry after a cut goes on where the server says it stopped. */
    if ((o->resume || f->resume) && (names_upload || j->resume_url[0] != '\0')) {
        if (!names_upload && url_parse(j->resume_url, &j->u) < 0) {
            close(fd);
            return FETCH_PROTOCOL;
        }
        if (!names_upload)
            j->url_str = j->resume_url;
        enum fetch_result r = put_resume(f, j, transient);
        close(fd);
        if (r == FETCH_NETWORK)
            put_tell_resume(f, j);
        return r;
    }
    /* The digest goes ahead of the body, so the file is read twice: once
     * here, once as it is sent; whether it changed in between, its times
     * tell. */
    int hr = hash_sha256_fd(fd, j->sha, NULL, NULL);
    if (hr < 0) {
        say(f, "cannot read %s: %s", o->upload, strerror(-hr));
        close(fd);
        return FETCH_LOCAL;
    }
    char field[DIGEST_FIELD_LEN + 1];
    digest_field_format(j->sha, field);
    enum fetch_result r;
    url_authority(&j->u, auth, sizeof auth);
    for (;;) {
        r = conn_open(f, &j->u);
        if (r != FETCH_OK) {
            close(fd);
            *transient = r == FETCH_NETWORK;
            return r;
        }
        j->resume_url[0] = '\0';
        tell_resumable(f, NULL);
        j->body_sent = false;
        cred_line(f, &j->cred, &j->u, cred, sizeof cred);
        int n = snprintf(req, sizeof req,
                         "PUT %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ferry/0.1\r\n%s"
                         "Content-Length: %lld\r\nRepr-Digest: %s\r\n"
                         "Upload-Draft-Interop-Version: %d\r\nUpload-Complete: ?1\r\n"
                         "Upload-Length: %lld\r\nExpect: 100-continue\r\n\r\n",
                         j->u.path, auth, cred, (long long)j->size, field, RUP_INTEROP,
                         (long long)j->size);
        r = put_send(f, j, req, (size_t)n, &res, &hl);
        int again = r == FETCH_OK && res.status == 401 ? cred_answer(f, &j->cred, &j->u, &res) : 0;
        if (again == 0)
            break;
        /* The refusal may have come before the body: this connection's
         * state is not worth working out, the next request takes a new one. */
        take_head(f, hl);
        conn_close(f, true);
        if (again < 0) {
            close(fd);
            return FETCH_USAGE;
        }
    }
    struct stat after;
    if (r == FETCH_OK && j->body_sent && res.status >= 200 && res.status < 300 &&
        (fstat(fd, &after) < 0 || after.st_size != st.st_size ||
         after.st_mtim.tv_sec != st.st_mtim.tv_sec || after.st_mtim.tv_nsec != st.st_mtim.tv_nsec ||
         after.st_ctim.tv_sec != st.st_ctim.tv_sec || after.st_ctim.tv_nsec != st.st_ctim.tv_nsec)) {
        /* A file written to since it was hashed is not called uploaded
         * (as tar says "file changed as we read it"); a server that checks
         * Repr-Digest refuses it too. */
        say(f, "%s changed while it was sent", o->upload);
        r = FETCH_LOCAL;
    }
    close(fd);
    if (r != FETCH_OK) {
        conn_close(f, true);
        *transient = r == FETCH_NETWORK;
        if (r == FETCH_NETWORK)
            put_tell_resume(f, j);
        return r;
    }
    return put_answered(f, j, &res, hl, transient);
}

enum fetch_result fetch_run(const struct fetch_options *o)
{
    struct fetch f;
    enum fetch_result first_failure = FETCH_OK;

    memset(&f, 0, sizeof f);
    f.o = o;
    f.read_ms = o->timeout_ms;
    xp_init(&f.c.x);
    pq_clear(&f.q);
    if (body_mover_init(&f.m) < 0)
        return FETCH_LOCAL;
    for (int i = 0; i < o->nurls; i++) {
        enum fetch_result r = FETCH_OK;
        f.known_size = -1;
        f.t_start = clock_ms();
        f.moved_before = 0;
        for (int attempt = 0;; attempt++) {
            bool transient = false;
            f.resume = o->resume || attempt > 0;
            f.attempt = attempt;
            f.moved_before += f.moved_now;
            f.moved_now = 0;
            if (o->upload != NULL)
                r = fetch_put(&f, o->urls[i], &transient);
            else if (strncasecmp(o->urls[i], "raw://", 6) == 0)
                r = fetch_raw(&f, i, &transient);
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
        f.moved_now = 0;
    }
    tell_resumable(&f, NULL);
    conn_close(&f, true);
    body_mover_free(&f.m);
    return first_failure;
}
