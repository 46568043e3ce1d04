/* LOCK and UNLOCK (RFC 4918 §9.10, §9.11), the If header (§10.4) on every
 * method that changes something, and the lock table they share.
 *
 * The table (proto/davlock) is one per server, under a mutex: every worker
 * sees the same locks. Each change is written whole to
 * ROOT/.ferry-uploads/.dav-locks (a temporary file synced, then renamed
 * over it, then the directory synced), the state directory resumable
 * uploads use, which no request can read or write (PATH_RESERVED); it is
 * read at start, expired locks dropped. The clock is the wall clock, so
 * a lock's expiry means the same after a restart.
 *
 * A lock belongs to the user who took it (--auth; everyone is the one
 * anonymous user without it): its token, submitted by anybody else, does
 * not count, and only its user may UNLOCK it. LOCK on an unmapped URL makes
 * an empty file (§9.10.4). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsx.h"
#include "proto/cond.h"
#include "proto/davif.h"
#include "proto/davlock.h"
#include "proto/davxml.h"
#include "proto/html.h"
#include "proto/path.h"
#include "serve/fs.h"
#include "serve/fs_auth.h"
#include "serve/fs_rup.h"

#define LOCKS_MAX 4096         /* locks on the server, all users together */
#define LOCKS_PER_USER 256     /* locks one user may hold */
#define LOCK_TIMEOUT_DFLT 3600 /* seconds, when the client names none */
#define LOCK_TIMEOUT_MAX 86400 /* seconds at most; a refresh extends it */
#define LOCK_FILE ".dav-locks" /* in FS_RUP_DIR; a dot name, which its sweep leaves alone */
#define LOCK_FILE_NEW ".dav-locks.new"
#define LOCK_FILE_MAX (64u << 20) /* bytes of the file read at start */
#define LOCK_LINE_MAX (PATH_MAX_LEN * 3 + DAVLOCK_OWNER_MAX * 3 + 256)
#define XML_HEAD "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"

struct fs_davlocks {
    pthread_mutex_t mu; /* the table and the file */
    struct davlock_table t;
    int rootfd;
    int dirfd; /* FS_RUP_DIR; -1 until a lock is saved or the file was there */
};

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* ---- the file ------------------------------------------------------------------- */

/* Writes the table whole (under mu): synced, renamed into place, the
 * directory synced. 0 or -errno; the locks stay in memory either way. */
static int save_locked(struct fs_davlocks *L)
{
    if (L->dirfd < 0) {
        if (mkdirat(L->rootfd, FS_RUP_DIR, 0700) < 0 && errno != EEXIST)
            return -errno;
        L->dirfd = openat(L->rootfd, FS_RUP_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (L->dirfd < 0)
            return -errno;
    }
    char *line = malloc(LOCK_LINE_MAX);
    if (line == NULL)
        return -ENOMEM;
    int fd = openat(L->dirfd, LOCK_FILE_NEW, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                    0600);
    int rc = fd < 0 ? -errno : 0;
    for (size_t i = 0; rc == 0 && i < L->t.n; i++) {
        size_t n = davlock_format(&L->t.locks[i], line, LOCK_LINE_MAX);
        if (n > 0) /* the bounds on path and owner make every line fit */
            rc = fsx_write_all(fd, line, n);
    }
    free(line);
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    if (fd >= 0 && close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && renameat(L->dirfd, LOCK_FILE_NEW, L->dirfd, LOCK_FILE) < 0)
        rc = -errno;
    if (rc < 0)
        unlinkat(L->dirfd, LOCK_FILE_NEW, 0);
    else
        fsync(L->dirfd);
    return rc;
}

/* Reads the file at start: every lock not expired and not in conflict
 * with one read before it. */
static void load(struct fs_davlocks *L)
{
    int fd = openat(L->dirfd, LOCK_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;

    if (fd < 0)
        return;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        (uint64_t)st.st_size > LOCK_FILE_MAX) {
        close(fd);
        return;
    }
    size_t size = (size_t)st.st_size, have = 0;
    char *text = malloc(size);
    while (text != NULL && have < size) {
        ssize_t n = read(fd, text + have, size - have);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    close(fd);
    int64_t now = now_s();
    for (size_t at = 0; text != NULL && at < have;) {
        char *nl = memchr(text + at, '\n', have - at);
        if (nl == NULL)
            break; /* a cut last line: the file is renamed whole, so not ours */
        struct davlock l;
        if (davlock_parse(text + at, (size_t)(nl - (text + at)), &l) == 0) {
            if (l.expires > now && l.expires - now <= (int64_t)LOCK_TIMEOUT_MAX)
                davlock_add(&L->t, &l); /* a conflict or a bound: dropped */
            davlock_release(&l);
        }
        at = (size_t)(nl - text) + 1;
    }
    free(text);
}

int fs_davlock_open(int rootfd, struct fs_davlocks **out)
{
    struct fs_davlocks *L = calloc(1, sizeof *L);

    if (L == NULL)
        return -ENOMEM;
    L->rootfd = rootfd;
    davlock_init(&L->t, LOCKS_MAX, LOCKS_PER_USER);
    pthread_mutex_init(&L->mu, NULL);
    L->dirfd = openat(rootfd, FS_RUP_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (L->dirfd >= 0)
        load(L);
    *out = L;
    return 0;
}

void fs_davlock_close(struct fs_davlocks *L)
{
    if (L == NULL)
        return;
    davlock_free(&L->t);
    pthread_mutex_destroy(&L->mu);
    if (L->dirfd >= 0)
        close(L->dirfd);
    free(L);
}

/* ---- answers ------------------------------------------------------------------------ */

static const char *user_of(const struct conn *c)
{
    return c->x->user;
}

/* Sends body (XML) with status and the header lines extra (or NULL). */
static void respond_xml(struct conn *c, int status, const char *extra, struct buf *body)
{
    struct reply r = {.status = status,
                      .type = "application/xml; charset=utf-8",
                      .has_length = true,
                      .length = buf_len(body),
                      .extra = extra};

    fs_respond(c, &r);
    if (c->state == CS_SEND && !c->x->head_only &&
        buf_append(&c->x->out, body->data, buf_len(body)) < 0)
        fs_conn_set_state(c, CS_CLOSE);
}

/* An error with its precondition element (RFC 4918 §16): <D:name>, with
 * the href of rel inside when rel is not NULL. */
static void respond_condition(struct conn *c, int status, const char *name, const char *rel)
{
    struct buf b;

    buf_init(&b, 3 * PATH_MAX_LEN + 512);
    int rc = buf_printf(&b, XML_HEAD "<D:error xmlns:D=\"DAV:\"><D:%s>", name);
    if (rc == 0 && rel != NULL)
        rc = buf_puts(&b, "<D:href>/");
    if (rc == 0 && rel != NULL && strcmp(rel, ".") != 0)
        rc = url_encode(&b, rel, strlen(rel), 1);
    if (rc == 0 && rel != NULL)
        rc = buf_puts(&b, "</D:href>");
    if (rc == 0)
        rc = buf_printf(&b, "</D:%s></D:error>\n", name);
    if (rc == 0)
        respond_xml(c, status, NULL, &b);
    else
        fs_respond_error(c, 500, NULL);
    buf_free(&b);
}

void fs_davlock_refuse(struct conn *c, int status, const char *rel)
{
    struct fs_davlocks *L = c->w->srv->locks;
    char root[PATH_MAX_LEN + 16];

    if (status == 423) {
        snprintf(root, sizeof root, "%s", rel);
        if (L != NULL) { /* the locked resource in the way, which may be rel's folder */
            pthread_mutex_lock(&L->mu);
            const struct davlock *l = davlock_in_way(&L->t, rel);
            if (l != NULL)
                snprintf(root, sizeof root, "%s", l->path);
            pthread_mutex_unlock(&L->mu);
        }
        respond_condition(c, 423, "lock-token-submitted", root);
    } else if (status == 400)
        fs_respond_page(c, 400, NULL, NULL, "The If header does not parse (RFC 4918 §10.4).");
    else if (status == 412)
        fs_respond_page(c, 412, NULL, NULL, "The If header's conditions do not hold here.");
    else
        fs_respond_error(c, status, NULL);
}

/* Appends one activelock element for l. */
static int put_activelock(struct buf *b, const struct davlock *l)
{
    int rc = buf_printf(b,
                        "<D:activelock><D:locktype><D:write/></D:locktype>"
                        "<D:lockscope><D:%s/></D:lockscope><D:depth>%s</D:depth>",
                        l->exclusive ? "exclusive" : "shared", l->infinite ? "infinity" : "0");
    if (rc == 0 && l->owner[0] != '\0')
        rc = buf_printf(b, "<D:owner>%s</D:owner>", l->owner); /* XML text davxml made */
    if (rc == 0)
        rc = buf_printf(b,
                        "<D:timeout>Second-%" PRIu32 "</D:timeout>"
                        "<D:locktoken><D:href>%s</D:href></D:locktoken><D:lockroot><D:href>/",
                        l->timeout, l->token);
    if (rc == 0 && strcmp(l->path, ".") != 0)
        rc = url_encode(b, l->path, strlen(l->path), 1);
    if (rc == 0)
        rc = buf_puts(b, "</D:href></D:lockroot></D:activelock>");
    return rc;
}

int fs_davlock_discovery(struct conn *c, const char *rel, struct buf *out)
{
    struct fs_davlocks *L = c->w->srv->locks;
    int rc = 0;

    if (L == NULL)
        return 0;
    pthread_mutex_lock(&L->mu);
    davlock_expire(&L->t, now_s());
    for (size_t i = 0; rc == 0 && i < L->t.n; i++)
        if (davlock_covers(&L->t.locks[i], rel))
            rc = put_activelock(out, &L->t.locks[i]);
    pthread_mutex_unlock(&L->mu);
    return rc;
}

void fs_davlock_forget(struct conn *c, const char *rel)
{
    fs_davlock_forget_at(c->w->srv, rel);
}

void fs_davlock_forget_at(const struct fs_server *s, const char *rel)
{
    struct fs_davlocks *L = s->locks;
    size_t before;

    if (L == NULL)
        return;
    pthread_mutex_lock(&L->mu);
    before = L->t.n;
    davlock_forget(&L->t, rel);
    if (L->t.n != before && save_locked(L) < 0)
        fprintf(stderr, "ferry serve: cannot save the WebDAV locks\n");
    pthread_mutex_unlock(&L->mu);
}

/* The answer to a granted or refreshed lock: 200 or 201 with the
 * lockdiscovery of l (a copy taken under the mutex), and Lock-Token for a
 * new one. */
static void respond_lock(struct conn *c, int status, const struct davlock *l, bool token)
{
    struct buf b;
    char extra[DAVLOCK_TOKEN_LEN + 32];

    buf_init(&b, 3 * PATH_MAX_LEN + 3 * DAVLOCK_OWNER_MAX + 1024);
    int rc = buf_puts(&b, XML_HEAD "<D:prop xmlns:D=\"DAV:\"><D:lockdiscovery>");
    if (rc == 0)
        rc = put_activelock(&b, l);
    if (rc == 0)
        rc = buf_puts(&b, "</D:lockdiscovery></D:prop>\n");
    snprintf(extra, sizeof extra, "Lock-Token: <%s>\r\n", l->token);
    if (rc == 0)
        respond_xml(c, status, token ? extra : NULL, &b);
    else
        fs_respond_error(c, 500, NULL);
    buf_free(&b);
}

/* ---- the If header ----------------------------------------------------------------- */

struct if_ctx {
    struct conn *c;
    const char *rel; /* the request's resource */
    struct fs_davlocks *L;
    const struct davif *h;
};

/* The resource a list's tag names (absolute URI or path), normalised into
 * out; false when it names none here or the user may not read it (so an
 * If header tells nobody about what they cannot see). */
static bool tag_rel(const struct if_ctx *x, struct http_str tag, char *out, size_t outsz)
{
    struct http_str path;
    unsigned flags = 0;

    if (tag.p == NULL) {
        snprintf(out, outsz, "%s", x->rel);
        return true;
    }
    if (!http_target_path(tag, &path) || path_from_target(path.p, path.len, out, outsz, &flags) < 0)
        return false;
    const struct fs_options *o = &x->c->w->srv->opt;
    if (path_refused(flags, o->hidden, !o->no_mac_files))
        return false;
    return fs_auth_may(x->c->w->srv, user_of(x->c), out, NULL, AUTH_READ);
}

static bool if_has_token(void *arg, struct http_str tag, struct http_str token)
{
    struct if_ctx *x = arg;
    char rel[PATH_MAX_LEN + 16];

    if (x->L == NULL || !tag_rel(x, tag, rel, sizeof rel))
        return false;
    struct davlock *l = davlock_find(&x->L->t, token.p, token.len);
    return l != NULL && davlock_covers(l, rel);
}

static bool if_etag(void *arg, struct http_str tag, char *out, size_t outsz)
{
    struct if_ctx *x = arg;
    char rel[PATH_MAX_LEN + 16];
    struct stat st;

    if (!tag_rel(x, tag, rel, sizeof rel))
        return false;
    int fd = fsx_open_beneath(x->c->w->srv->rootfd, rel, O_PATH | O_NOFOLLOW);
    if (fd < 0)
        return false;
    int rc = fstat(fd, &st);
    close(fd);
    if (rc < 0 || !S_ISREG(st.st_mode))
        return false;
    /* As GET gives it (fs_route.c serve_file). */
    cond_etag((uint64_t)st.st_ino, (uint64_t)st.st_size,
              (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec, out, outsz);
    return true;
}

static bool if_submits(void *arg, const char *token, size_t len)
{
    const struct if_ctx *x = arg;

    return x->h != NULL && davif_submits(x->h, token, len);
}

static const struct davif_ops if_ops = {.has_token = if_has_token, .etag = if_etag};

/* The request's If header parsed into h: 1, 0 when there is none, or
 * -EINVAL (400). */
static int if_header(const struct http_request *req, struct davif *h)
{
    struct http_str v = http_header_get(req->headers, req->nheaders, "if");

    if (v.p == NULL)
        return 0;
    return davif_parse(v.p, v.len, h) < 0 ? -EINVAL : 1;
}

/* The If header's verdict (under L->mu when L is not NULL): 0, 400 or 412. */
static int if_verdict(struct if_ctx *x, int have)
{
    if (have < 0)
        return 400;
    if (have == 1 && !davif_eval(x->h, &if_ops, x))
        return 412;
    return 0;
}

/* Whether rel names something (a link counts; nothing is followed). */
static bool exists(const struct conn *c, const char *rel)
{
    int fd = fsx_open_beneath(c->w->srv->rootfd, rel, O_PATH | O_NOFOLLOW);

    if (fd >= 0)
        close(fd);
    return fd >= 0 || (fd != -ENOENT && fd != -ENOTDIR);
}

/* Whether the request adds rel to its folder or takes it out (RFC 4918
 * §7.5: a depth-0 lock on the folder guards that): DELETE and MOVE take
 * it out, anything that makes it where it is not adds it. */
static bool membership(const struct conn *c, const struct http_request *req, const char *rel)
{
    if (strcmp(rel, ".") == 0)
        return false;
    return req->method == HTTP_DELETE || req->method == HTTP_MOVE || !exists(c, rel);
}

/* The request-URI's path beneath the root (the resource an If header's
 * untagged lists are about, RFC 4918 §10.4.3), or fallback when the target
 * does not resolve. */
static const char *request_rel(const struct http_request *req, char *out, size_t outsz,
                               const char *fallback)
{
    struct http_str path;
    unsigned flags = 0;

    if (!http_target_path(req->target, &path) ||
        path_from_target(path.p, path.len, out, outsz, &flags) < 0)
        return fallback;
    return out;
}

int fs_davlock_check(struct conn *c, const struct http_request *req, const char *rel,
                     bool depth_infinity)
{
    struct fs_davlocks *L = c->w->srv->locks;
    struct davif h;
    int have = if_header(req, &h);
    char self[PATH_MAX_LEN + 16];
    /* rel may be a COPY's or MOVE's Destination: untagged lists still
     * speak of the request-URI. */
    struct if_ctx x = {.c = c, .rel = request_rel(req, self, sizeof self, rel), .L = L,
                       .h = have == 1 ? &h : NULL};

    if (have < 0)
        return 400;
    if (L == NULL)
        return if_verdict(&x, have);
    pthread_mutex_lock(&L->mu);
    davlock_expire(&L->t, now_s());
    int status = if_verdict(&x, have);
    unsigned how = depth_infinity ? DAVLOCK_DEEP : 0;
    if (L->t.n > 0 && membership(c, req, rel)) /* no look at the disk while nothing is locked */
        how |= DAVLOCK_MEMBER;
    if (status == 0 && davlock_may_change(&L->t, rel, how, user_of(c), if_submits, &x, NULL) < 0)
        status = 423;
    pthread_mutex_unlock(&L->mu);
    return status;
}

/* ---- LOCK -------------------------------------------------------------------------- */

/* What a LOCK request asks, kept while its body is read. */
struct lock_req {
    char rel[PATH_MAX_LEN + 16];
    bool infinite;
    bool dir_slash; /* the URL ended in "/" */
    uint32_t timeout;
};

/* A refresh: LOCK without a body, the lock named in the If header (§9.10.2). */
static void lock_refresh(struct conn *c, const struct http_request *req, const struct lock_req *q)
{
    struct fs_davlocks *L = c->w->srv->locks;
    struct davif h;
    int have = if_header(req, &h);
    struct if_ctx x = {.c = c, .rel = q->rel, .L = L, .h = have == 1 ? &h : NULL};
    struct davlock copy = {0};
    bool found = false;

    if (have <= 0) {
        fs_respond_page(c, 400, NULL, NULL,
                        "A LOCK without a body refreshes a lock, named in an If header.");
        return;
    }
    pthread_mutex_lock(&L->mu);
    int64_t now = now_s();
    davlock_expire(&L->t, now);
    int status = if_verdict(&x, have);
    for (size_t i = 0; status == 0 && i < L->t.n; i++) {
        struct davlock *l = &L->t.locks[i];
        if (!davlock_covers(l, q->rel) || strcmp(l->user, user_of(c)) != 0 ||
            !davif_submits(&h, l->token, strlen(l->token)))
            continue;
        l->expires = now + q->timeout;
        l->timeout = q->timeout;
        if (!found) {
            copy = *l;
            copy.path = strdup(l->path);
            copy.owner = strdup(l->owner);
        }
        found = true;
    }
    if (found && save_locked(L) < 0)
        fprintf(stderr, "ferry serve: cannot save the WebDAV locks\n");
    pthread_mutex_unlock(&L->mu);
    if (status != 0)
        fs_davlock_refuse(c, status, q->rel);
    else if (!found)
        respond_condition(c, 412, "lock-token-matches-request-uri", NULL);
    else if (copy.path == NULL || copy.owner == NULL)
        fs_respond_error(c, 500, NULL);
    else
        respond_lock(c, 200, &copy, false);
    davlock_release(&copy);
}

/* Makes the empty file a LOCK of an unmapped URL locks (§9.10.4), through
 * the rights gate on its real parent: 1 made, 0 it was there, -errno. */
static int lock_target(struct conn *c, const char *rel, bool dir_slash)
{
    const char *name;
    struct stat st;

    if (strcmp(rel, ".") == 0)
        return 0;
    int dirfd = fs_auth_open_parent(c->w->srv, user_of(c), rel, AUTH_WRITE, &name);
    if (dirfd < 0)
        return dirfd;
    if (dir_slash) { /* "name/" names a folder: one that is there, or none */
        int rc = fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
        close(dirfd);
        return rc ? 0 : -ENOENT;
    }
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    int rc = fd >= 0 ? 1 : errno == EEXIST ? 0 : -errno;
    if (fd >= 0)
        close(fd);
    close(dirfd);
    return rc;
}

/* A new lock of scope exclusive on q->rel with the owner XML given. */
static void lock_new(struct conn *c, const struct lock_req *q, bool exclusive, const char *owner,
                     size_t owner_len)
{
    struct fs_davlocks *L = c->w->srv->locks;
    unsigned char raw[16];
    struct davlock l = {.exclusive = exclusive, .infinite = q->infinite, .timeout = q->timeout};

    if (owner_len > DAVLOCK_OWNER_MAX) {
        fs_respond_page(c, 413, NULL, NULL, "The lock's owner is longer than this server keeps.");
        return;
    }
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        fs_respond_error(c, 503, NULL);
        return;
    }
    davlock_token_format(raw, l.token);
    snprintf(l.user, sizeof l.user, "%s", user_of(c));
    l.path = (char *)q->rel;
    char *own = strndup(owner != NULL ? owner : "", owner != NULL ? owner_len : 0);
    if (own == NULL) {
        fs_respond_error(c, 500, NULL);
        return;
    }
    l.owner = own;
    pthread_mutex_lock(&L->mu);
    int64_t now = now_s();
    davlock_expire(&L->t, now);
    l.expires = now + q->timeout;
    int rc = davlock_may_grant(&L->t, q->rel, exclusive, q->infinite);
    int made = 0;
    if (rc == 0) {
        made = lock_target(c, q->rel, q->dir_slash);
        rc = made < 0 ? made : davlock_add(&L->t, &l);
        if (rc < 0 && made == 1) {
            const char *name;
            int dirfd = fsx_open_parent(c->w->srv->rootfd, q->rel, &name);
            if (dirfd >= 0) { /* not locked after all: the empty file goes again */
                unlinkat(dirfd, name, 0);
                close(dirfd);
            }
        }
    }
    if (rc == 0 && save_locked(L) < 0)
        fprintf(stderr, "ferry serve: cannot save the WebDAV locks\n");
    pthread_mutex_unlock(&L->mu);
    if (rc == -EBUSY)
        respond_condition(c, 423, "no-conflicting-lock", q->rel);
    else if (rc == -EUSERS)
        fs_respond_page(c, 503, NULL, NULL, "This server holds all the locks it may.");
    else if (rc < 0)
        fs_respond_change_error(c, rc);
    else
        respond_lock(c, made == 1 ? 201 : 200, &l, true);
    free(own);
}

/* The LOCK body is here: a lockinfo (a new lock) or nothing (a refresh,
 * handled before the body was read). */
static void lock_body(struct conn *c, void *arg, char *data, size_t len)
{
    const struct lock_req *q = arg;
    struct davxml_req *x = malloc(sizeof *x);

    if (x == NULL) {
        fs_respond_error(c, 500, NULL);
        return;
    }
    int rc = davxml_parse(DAVXML_LOCKINFO, data, len, x);
    if (rc == -ENOMEM)
        fs_respond_error(c, 500, NULL);
    else if (rc == -E2BIG)
        fs_respond_error(c, 413, NULL);
    else if (rc < 0 || x->empty || !x->write || x->scope == DAVXML_SCOPE_NONE)
        fs_respond_page(c, 400, NULL, NULL, "The LOCK body is not a write lockinfo.");
    else
        lock_new(c, q, x->scope == DAVXML_EXCLUSIVE, x->owner, x->owner != NULL ? x->owner_len : 0);
    free(x);
}

void fs_dav_lock(struct conn *c, const struct http_request *req, const struct http_info *info,
                 const struct fs_dav_target *t)
{
    struct fs_davlocks *L = c->w->srv->locks;
    struct http_str depth = http_header_get(req->headers, req->nheaders, "depth");
    struct http_str timeout = http_header_get(req->headers, req->nheaders, "timeout");
    (void)info;

    if (L == NULL) {
        fs_respond_page(c, 503, NULL, NULL, "This server keeps no locks.");
        return;
    }
    struct lock_req *q = calloc(1, sizeof *q);
    if (q == NULL) {
        fs_respond_error(c, 500, NULL);
        return;
    }
    snprintf(q->rel, sizeof q->rel, "%s", t->rel);
    q->dir_slash = (t->flags & PATH_TRAILING_SLASH) != 0;
    q->timeout = davlock_timeout(timeout, LOCK_TIMEOUT_DFLT, LOCK_TIMEOUT_MAX);
    /* §9.10.3: 0 or infinity (the default); 1 means nothing for a lock. */
    q->infinite = depth.p == NULL || http_str_ieq(depth.p, depth.len, "infinity");
    if (depth.p != NULL && !q->infinite && !http_str_ieq(depth.p, depth.len, "0")) {
        free(q);
        fs_respond_page(c, 400, NULL, NULL, "A lock's Depth is 0 or infinity.");
        return;
    }
    if (c->x->body.framing == FATE_NO_BODY) {
        lock_refresh(c, req, q);
        free(q);
        return;
    }
    /* A new lock: the If header holds first (it may name ETags), then the
     * body says what lock. */
    int status = fs_davlock_check(c, req, q->rel, false);
    /* A 423 here is about the folder of a file the lock would make; a lock
     * on the target itself is the grant's to judge (shared beside shared). */
    if (status == 400 || status == 412 || (status == 423 && !exists(c, q->rel))) {
        free(q);
        fs_davlock_refuse(c, status, t->rel);
        return;
    }
    fs_xbody_begin(c, DAVXML_BODY_MAX, lock_body, q, free);
}

void fs_dav_unlock(struct conn *c, const struct http_request *req, const struct http_info *info,
                   const struct fs_dav_target *t)
{
    struct fs_davlocks *L = c->w->srv->locks;
    struct http_str v = http_header_get(req->headers, req->nheaders, "lock-token");
    (void)info;

    if (L == NULL) {
        fs_respond_page(c, 503, NULL, NULL, "This server keeps no locks.");
        return;
    }
    /* §10.5: Lock-Token = Coded-URL. */
    if (v.p == NULL || v.len < 3 || v.p[0] != '<' || v.p[v.len - 1] != '>') {
        fs_respond_page(c, 400, NULL, NULL,
                        "UNLOCK names its lock in a Lock-Token header: <token>.");
        return;
    }
    const char *token = v.p + 1;
    size_t len = v.len - 2;
    int status = 204;
    pthread_mutex_lock(&L->mu);
    davlock_expire(&L->t, now_s());
    struct davlock *l = davlock_find(&L->t, token, len);
    if (l == NULL || !davlock_covers(l, t->rel))
        status = 409;
    else if (strcmp(l->user, user_of(c)) != 0)
        status = 403; /* another user's lock: never theirs to remove */
    else if (davlock_remove(&L->t, token, len) && save_locked(L) < 0)
        fprintf(stderr, "ferry serve: cannot save the WebDAV locks\n");
    pthread_mutex_unlock(&L->mu);
    if (status == 409)
        respond_condition(c, 409, "lock-token-matches-request-uri", NULL);
    else if (status == 403)
        fs_respond_page(c, 403, NULL, NULL, "This lock belongs to another account.");
    else
        fs_respond(c, &(struct reply){.status = 204});
}
