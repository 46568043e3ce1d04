/* Request routing: a parsed request to its answer. GET and HEAD of files
 * (with the conditional and range decision), index pages, listings, folder
 * archives (?tar, ?zip: fs_archive.c) and the trailing-slash redirect; PUT to fs_put.c;
 * MKCOL, DELETE and OPTIONS to fs_dav.c; every other method 405. Each
 * handler ends in fs_respond (or fs_respond_error), which decides the fate
 * of a body the handler did not read.
 *
 * Rights: fs_auth_gate asks about the request's spelling first (and asks
 * for a password); then every object is decided by the rights gate once it
 * is opened (fs_auth_may_fd on the file or folder and on an index page,
 * listing_page.keep on each entry's real path), so a symbolic link beneath
 * the root never leads a user to what its rights do not cover. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serve/fs.h"
#include "serve/fs_auth.h"
#include "serve/fs_digest.h"
#include "serve/fs_rup.h"
#include "serve/listing.h"
#include "core/fsx.h"
#include "proto/cond.h"
#include "proto/html.h"
#include "proto/json.h"
#include "proto/path.h"

/* Every file from the tree is served as a sandbox (with nosniff, which
 * fs_respond adds to any CSP): a page or SVG that a writer put there
 * renders, but runs no script and has an opaque origin, so it cannot act
 * with the credentials or storage of the user who opens it. */
#define FILE_CSP "sandbox"

/* The value of the first header called name, or p == NULL. */
static struct http_str header(const struct http_request *req, const char *name)
{
    return http_header_get(req->headers, req->nheaders, name);
}

/* Whether the answer about a file carries Repr-Digest: with --digest, or
 * when Want-Repr-Digest asks for sha-256. */
static bool wants_digest(const struct conn *c, const struct http_request *req)
{
    if (c->w->srv->opt.digest)
        return true;
    struct http_str v = header(req, "want-repr-digest");
    return v.p != NULL && digest_want_sha256(v.p, v.len) == 1;
}

/* Whether the client takes trailer fields (TE: trailers, HTTP/1.1): then
 * a body may go chunked with its Repr-Digest after it. */
static bool takes_trailers(const struct conn *c, const struct http_request *req)
{
    struct http_str te = header(req, "te");

    return c->x->minor >= 1 && te.p != NULL && http_list_has(te, "trailers");
}

void fs_etag(const struct stat *st, char out[COND_ETAG_SIZE])
{
    cond_etag((uint64_t)st->st_ino, (uint64_t)st->st_size,
              (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec, out,
              COND_ETAG_SIZE);
}

/* Serves the regular file open at fd (which this takes over): proto/cond
 * decides between 200, 206, 304, 412 and 416. Repr-Digest never holds
 * the answer back: a digest not known yet goes in a trailer of a full GET
 * for a client that takes one, and is otherwise left out (the file is
 * queued for the digest thread, for the requests to come). */
static void serve_file(struct conn *c, const struct http_request *req, const struct http_info *info,
                       int fd, const struct stat *st, const char *name)
{
    struct fs_server *s = c->w->srv;
    struct xchg *x = c->x;
    char etag[COND_ETAG_SIZE], crange[COND_CONTENT_RANGE_SIZE];
    uint64_t size = (uint64_t)st->st_size;
    struct cond_decision d;

    fs_etag(st, etag);
    struct cond_file f = {.size = size, .mtime = st->st_mtime, .etag = etag};
    struct cond_request r = {.head = x->head_only,
                             .if_match = header(req, "if-match"),
                             .if_none_match = info->if_none_match,
                             .if_modified_since = info->if_modified_since,
                             .if_unmodified_since = header(req, "if-unmodified-since"),
                             .range = info->range,
                             .if_range = info->if_range};
    cond_decide(&f, &r, &d);
    cond_content_range(&d, size, crange, sizeof crange);
    struct reply rp = {.status = (int)d.status, .content_range = crange[0] ? crange : NULL};
    rp.csp = FILE_CSP;
    /* Repr-Digest describes the whole file, so 206 and 304 carry it too
     * when it is known. */
    char dline[sizeof "Repr-Digest: \r\n" + DIGEST_FIELD_LEN], field[DIGEST_FIELD_LEN + 1];
    bool trailer = false;
    if (d.status != COND_PRECONDITION_FAILED && d.status != COND_UNSATISFIABLE && wants_digest(c, req)) {
        unsigned char sha[DIGEST_SHA256_LEN];
        if (fs_digest_known(s->digest, fd, st, sha)) {
            digest_field_format(sha, field);
            snprintf(dline, sizeof dline, "Repr-Digest: %s\r\n", field);
            rp.extra = dline;
        } else if (d.status == COND_FULL && !x->head_only && d.length > 0 &&
                   takes_trailers(c, req)) {
            trailer = true;
            rp.extra = "Trailer: Repr-Digest\r\n";
        } else {
            fs_digest_queue(s->digest, fd, st);
        }
    }
    switch (d.status) {
    case COND_NOT_MODIFIED:
        rp.st = st;
        rp.etag = etag;
        break;
    case COND_PRECONDITION_FAILED:
        close(fd);
        fs_respond_error(c, 412, NULL);
        return;
    case COND_UNSATISFIABLE:
        rp.has_length = true;
        break;
    case COND_FULL:
    case COND_PARTIAL:
        rp.has_length = !trailer;
        rp.chunked = trailer;
        rp.length = d.length;
        rp.st = st;
        rp.etag = etag;
        rp.type = mime_lookup(&s->mime, name, strlen(name));
        break;
    }
    fs_respond(c, &rp);
    if (c->state != CS_SEND || x->head_only || d.length == 0) {
        close(fd);
        return;
    }
    if (trailer) {
        x->src.fd = fd;
        x->src.off = 0;
        x->src.end = (off_t)size;
        if (fs_body_trailer_start(c, st) < 0)
            fs_conn_set_state(c, CS_CLOSE);
        return;
    }
    if (s->opt.send_mode == FS_SEND_AUTO && d.length <= buf_room(&x->out)) {
        /* A small body rides in the same write as the head. */
        ssize_t n = pread(fd, x->out.data + x->out.wpos, (size_t)d.length, (off_t)d.first);
        close(fd);
        if (n != (ssize_t)d.length) { /* the file shrank under us */
            fs_conn_set_state(c, CS_CLOSE);
            return;
        }
        buf_commit(&x->out, (size_t)n);
        return;
    }
    x->src.fd = fd;
    x->src.off = (off_t)d.first;
    x->src.end = (off_t)(d.last + 1);
}

/* The query of the request target, after "?" and before any "#". */
static struct http_str target_query(const struct http_request *req)
{
    const char *t = req->target.p, *end = t + req->target.len;
    const char *q = memchr(t, '?', req->target.len);

    if (q == NULL)
        return (struct http_str){NULL, 0};
    const char *hash = memchr(q, '#', (size_t)(end - q));
    return (struct http_str){q + 1, (size_t)((hash ? hash : end) - q - 1)};
}

/* listing_page.keep under --auth: whether c's user may read the entry
 * listed, which really is real (the rights gate's decision, on the path the
 * listing resolved). c outlives the page: the listing is part of its
 * exchange. */
static bool may_list(void *arg, const char *listed, const char *real)
{
    const struct conn *c = arg;

    return fs_auth_may(c->w->srv, c->x->user, listed, real, AUTH_READ);
}

/* Whether the request asks for the JSON listing (json_accept). */
static bool wants_json(const struct http_request *req)
{
    struct http_str a = header(req, "accept");

    return a.p != NULL && json_accept(a.p, a.len);
}

static void serve_listing(struct conn *c, const struct http_request *req, int dirfd,
                          const char *rel)
{
    struct fs_server *s = c->w->srv;
    struct http_str q = target_query(req);
    struct listing_page lp = {.rel = rel,
                              .json = wants_json(req),
                              .writable = fs_auth_may_fd(s, c->x->user, rel, dirfd, AUTH_WRITE),
                              .upload_part = s->opt.upload_part};
    if (s->opt.auth != NULL) { /* names the user may not read are not shown */
        lp.keep = may_list;
        lp.keep_arg = c;
    }
    listing_order_parse(q.p, q.len, &lp.order);
    fs_list_serve(c, dirfd, &lp);
}

static void send_redirect(struct conn *c, const char *rel)
{
    struct buf loc;

    /* Built from the normalised path, so it always starts with exactly
     * one slash and can never name another host. */
    buf_init(&loc, PATH_MAX_LEN * 3 + 8);
    int rc = buf_puts(&loc, "/");
    if (rc == 0)
        rc = url_encode(&loc, rel, strlen(rel), 1);
    if (rc == 0)
        rc = buf_append(&loc, "/", 2);
    if (rc < 0)
        fs_respond_error(c, 414, NULL);
    else
        fs_respond(c, &(struct reply){.status = 301, .has_length = true, .location = loc.data});
    buf_free(&loc);
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

/* The sentence for a status target_path gave. */
static const char *target_why(int status)
{
    return status == 403 ? "This path leads above the served folder." : NULL;
}

/* The request target as a normalised path beneath the root (rel, at least
 * PATH_MAX_LEN + 16 bytes). Returns 0, or the status to answer with. */
static int target_path(struct conn *c, const struct http_request *req, char *rel, unsigned *flags)
{
    struct http_str path;

    if (!http_target_path(req->target, &path))
        return 400;
    long len = path_from_target(path.p, path.len, rel, PATH_MAX_LEN, flags);
    if (len == -ENAMETOOLONG)
        return 414;
    if (len == -EACCES)
        return 403;
    if (len < 0)
        return 400;
    const struct fs_options *o = &c->w->srv->opt;
    if (path_refused(*flags, o->hidden, !o->no_mac_files))
        return 404; /* hidden (macOS's own files aside: path_mac_meta) or reserved */
    return 0;
}

/* Answers one GET or HEAD. */
static void serve_path(struct conn *c, const struct http_request *req, const struct http_info *info)
{
    struct fs_server *s = c->w->srv;
    char rel[PATH_MAX_LEN + 16];
    unsigned flags = 0;
    struct stat st;

    int status = target_path(c, req, rel, &flags);
    if (status != 0) {
        fs_respond_page(c, status, NULL, NULL, target_why(status));
        return;
    }
    int fd = fsx_open_beneath(s->rootfd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int st_open = status_for_open_error(fd);
        fs_respond_page(c, st_open, NULL, NULL, st_open == 403 ? FS_WHY_UNREADABLE : NULL);
        return;
    }
    if (fstat(fd, &st) < 0) {
        close(fd);
        fs_respond_error(c, 500, NULL);
        return;
    }
    if (!fs_auth_may_fd(s, c->x->user, rel, fd, AUTH_READ)) {
        close(fd);
        fs_respond_page(
            c, 403, NULL, NULL,
            "This account may not read here."); /* a link to what the rights do not cover */
        return;
    }
    if (S_ISREG(st.st_mode) && !(flags & PATH_TRAILING_SLASH)) {
        serve_file(c, req, info, fd, &st, rel);
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        close(fd);
        fs_respond_error(c, 404, NULL); /* "file/" names nothing, nor does a device */
        return;
    }
    if (!(flags & PATH_TRAILING_SLASH) && strcmp(rel, ".") != 0) {
        close(fd);
        send_redirect(c, rel);
        return;
    }
    struct http_str q = target_query(req);
    if (q.len == 3 && (memcmp(q.p, "tar", 3) == 0 || memcmp(q.p, "zip", 3) == 0)) {
        fs_archive_serve(c, fd, rel, q.p[0] == 'z' ? FS_ARCHIVE_ZIP : FS_ARCHIVE_TAR);
        return;
    }
    char index[PATH_MAX_LEN + 16];
    snprintf(index, sizeof index, "%s/index.html", rel);
    /* The JSON listing lists the folder, index.html or not. */
    int ifd = wants_json(req)
                  ? -ENOENT
                  : fsx_open_beneath(s->rootfd, index, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (ifd >= 0) {
        /* A page the user may not read is not the folder's: the listing
         * (which leaves it out) is. */
        if (fstat(ifd, &st) == 0 && S_ISREG(st.st_mode) &&
            fs_auth_may_fd(s, c->x->user, index, ifd, AUTH_READ)) {
            close(fd);
            serve_file(c, req, info, ifd, &st, index);
            return;
        }
        close(ifd);
    }
    serve_listing(c, req, fd, rel);
}

/* Keeps what the combined and JSON logs show of the request. */
static void note_log_fields(struct xchg *x, const struct http_request *req)
{
    struct http_str ref = header(req, "referer"), ua = header(req, "user-agent");
    size_t rl = ref.len < sizeof x->referer ? ref.len : sizeof x->referer;
    size_t ul = ua.len < sizeof x->agent ? ua.len : sizeof x->agent;

    if (ref.p != NULL)
        memcpy(x->referer, ref.p, rl);
    if (ua.p != NULL)
        memcpy(x->agent, ua.p, ul);
    x->referer_len = ref.p ? (uint16_t)rl : 0;
    x->agent_len = ua.p ? (uint16_t)ul : 0;
}

/* OPTIONS, and the methods that change the tree: PUT, MKCOL, DELETE. The
 * path resolves once, the same way for all of them; a user who may not
 * write gets 405 with what is allowed. */
static void change_path(struct conn *c, const struct http_request *req,
                        const struct http_info *info)
{
    char rel[PATH_MAX_LEN + 16];
    unsigned flags = 0;

    if (req->method == HTTP_OPTIONS && req->target.len == 1 && req->target.p[0] == '*') {
        fs_respond(c, &(struct reply){
                          .status = 204, .allow = fs_allow(c, "."), .extra = FS_DAV_HEADERS});
        return;
    }
    int status = target_path(c, req, rel, &flags);
    if (req->method == HTTP_OPTIONS) {
        if (status != 0)
            fs_respond_page(c, status, NULL, NULL, target_why(status));
        else if (c->w->srv->rup != NULL && fs_may_write(c, rel))
            fs_rup_options(c, rel); /* says resumable uploads are taken here */
        else
            fs_respond(c, &(struct reply){
                              .status = 204, .allow = fs_allow(c, rel), .extra = FS_DAV_HEADERS});
        return;
    }
    if (status == 0 && !fs_may_write(c, rel)) {
        fs_respond_no_write(c, rel);
        return;
    }
    bool put = req->method == HTTP_PUT || req->method == HTTP_POST;
    /* A name ending in '/' is a directory, which a body cannot replace: a
     * conflict with the state of the tree (RFC 9110 §15.5.10), as nginx
     * answers and as fs_put answers a PUT onto an existing directory. */
    if (status == 0 && put && (flags & PATH_TRAILING_SLASH)) {
        fs_respond_page(c, 409, NULL, NULL,
                        "This URL names a folder (it ends in /): add the file's name to it.");
        return;
    }
    /* macOS's metadata names are let through for files only: a folder
     * of that name would hold hidden names nobody could reach. */
    if (status == 404 || (status == 0 && req->method == HTTP_MKCOL && (flags & PATH_MAC_META) &&
                          !c->w->srv->opt.hidden)) {
        fs_respond_page(c, 403, NULL, NULL, "Hidden and reserved names cannot be changed.");
        return;
    }
    if (status != 0) {
        fs_respond_page(c, status, NULL, NULL, target_why(status));
        return;
    }
    /* WebDAV locks and the If header (RFC 4918 §10.4) on every change. */
    int locked = fs_davlock_check(c, req, rel, req->method == HTTP_DELETE);
    if (locked != 0) {
        fs_davlock_refuse(c, locked, rel);
        return;
    }
    if (put)
        fs_put_begin(c, req, info, rel); /* POST only as a resumable upload's creation */
    else if (req->method == HTTP_MKCOL)
        fs_dav_mkcol(c, rel);
    else
        fs_dav_delete(c, rel, (flags & PATH_TRAILING_SLASH) != 0);
}

/* A request to an upload resource, /REL?upload=TOKEN (fs_rup.h): every
 * method needs the right to write REL. */
static void upload_resource(struct conn *c, const struct http_request *req, const char *token)
{
    char rel[PATH_MAX_LEN + 16];
    unsigned flags = 0;
    int status = target_path(c, req, rel, &flags);

    if (status == 0 && (flags & PATH_TRAILING_SLASH))
        status = 404;
    if (status != 0) {
        fs_respond_page(c, status, NULL, NULL, target_why(status));
        return;
    }
    if (c->w->srv->opt.auth != NULL && fs_auth_gate(c, req, rel, AUTH_WRITE) != FS_GATE_PASS)
        return;
    if (!fs_may_write(c, rel)) {
        fs_respond_no_write(c, rel);
        return;
    }
    if (c->w->srv->opt.auth != NULL) {
        /* The upload's data lies in rel's real directory: the rights gate
         * on that one too. */
        const char *name;
        int dirfd = fs_auth_open_parent(c->w->srv, c->x->user, rel, AUTH_WRITE, &name);
        if (dirfd == -EACCES) {
            fs_respond_page(c, 403, NULL, NULL, "This account may not write here.");
            return;
        }
        if (dirfd >= 0)
            close(dirfd);
    }
    switch (req->method) {
    case HTTP_HEAD:
        fs_rup_head(c, rel, token);
        return;
    case HTTP_PATCH: {
        int locked = fs_davlock_check(c, req, rel, false); /* the bytes go to rel */
        if (locked != 0)
            fs_davlock_refuse(c, locked, rel);
        else
            fs_put_patch(c, req, rel, token);
        return;
    }
    case HTTP_DELETE:
        fs_rup_delete(c, rel, token);
        return;
    case HTTP_OPTIONS:
        fs_respond(c, &(struct reply){.status = 204, .allow = "HEAD, PATCH, DELETE, OPTIONS"});
        return;
    default:
        fs_respond_page(c, 405, "HEAD, PATCH, DELETE, OPTIONS", NULL,
                        "An upload takes HEAD, PATCH, DELETE and OPTIONS only.");
        return;
    }
}

/* The WebDAV methods beyond MKCOL and DELETE (RFC 4918): PROPFIND reads,
 * the others change the tree. The path resolves as for every other
 * method; each method's own file (fs_davprop.c, fs_davcopy.c,
 * fs_davlock.c) takes it from there and asks the rights gate on the real
 * objects it acts on. */
static void dav_path(struct conn *c, const struct http_request *req, const struct http_info *info)
{
    char rel[PATH_MAX_LEN + 16];
    unsigned flags = 0;
    int status = target_path(c, req, rel, &flags);

    if (status == 404 && req->method != HTTP_PROPFIND)
        status = 403; /* hidden and reserved names are not changed */
    if (status != 0) {
        fs_respond_page(c, status, NULL, NULL, target_why(status));
        return;
    }
    /* COPY only reads its source: the right to write is asked where the
     * copy goes (fs_davcopy.c), and here only whether changes are on. */
    bool copy = req->method == HTTP_COPY;
    if (req->method != HTTP_PROPFIND &&
        (copy ? !c->w->srv->opt.upload : !fs_may_write(c, rel))) {
        fs_respond_no_write(c, rel);
        return;
    }
    struct fs_dav_target t = {.rel = rel, .flags = flags};
    switch (req->method) {
    case HTTP_PROPFIND:
        fs_dav_propfind(c, req, info, &t);
        return;
    case HTTP_PROPPATCH:
        fs_dav_proppatch(c, req, info, &t);
        return;
    case HTTP_COPY:
    case HTTP_MOVE:
        fs_dav_copymove(c, req, info, &t);
        return;
    case HTTP_LOCK:
        fs_dav_lock(c, req, info, &t);
        return;
    default:
        fs_dav_unlock(c, req, info, &t);
        return;
    }
}

void fs_route(struct conn *c, const struct http_request *req, const struct http_info *info)
{
    struct fs_server *s = c->w->srv;
    struct http_str expect = header(req, "expect");

    note_log_fields(c->x, req);
    /* RFC 9110 §10.1.1: the only expectation is 100-continue, and only
     * from HTTP/1.1; anything else is 417 (and the held-back body means
     * the connection closes: proto/fate). */
    if (expect.p != NULL && req->minor >= 1 &&
        !http_str_ieq(expect.p, expect.len, "100-continue")) {
        c->x->body.keep_alive = false; /* nobody knows whether its body follows */
        fs_respond_error(c, 417, NULL);
        return;
    }
    if (s->rup != NULL) {
        char token[RUP_TOKEN_LEN + 1];
        struct http_str q = target_query(req);
        int t = rup_query_token(q.p, q.len, token);
        if (t < 0) {
            fs_respond_error(c, 400, NULL); /* names an upload, badly */
            return;
        }
        if (t == 1) {
            upload_resource(c, req, token);
            return;
        }
    }
    /* --auth: every method but the read-only ones needs write, and is
     * asked only when writing is on at all (else it is 405 for everyone). */
    bool reads = req->method == HTTP_GET || req->method == HTTP_HEAD ||
                 req->method == HTTP_OPTIONS || req->method == HTTP_PROPFIND ||
                 req->method == HTTP_COPY; /* of its source; the destination is asked later */
    if (s->opt.auth != NULL && (reads || s->opt.upload)) {
        char rel[PATH_MAX_LEN + 16];
        unsigned flags = 0;
        if (target_path(c, req, rel, &flags) == 0 &&
            fs_auth_gate(c, req, rel, reads ? AUTH_READ : AUTH_WRITE) != FS_GATE_PASS)
            return; /* answered, or waiting in CS_AUTH to come back here */
    }
    if (req->method == HTTP_GET || req->method == HTTP_HEAD) {
        serve_path(c, req, info);
        return;
    }
    if (req->method == HTTP_PUT || req->method == HTTP_DELETE || req->method == HTTP_MKCOL ||
        req->method == HTTP_OPTIONS || (req->method == HTTP_POST && s->rup != NULL)) {
        change_path(c, req, info);
        return;
    }
    if (req->method >= HTTP_PROPFIND && req->method <= HTTP_UNLOCK) {
        dav_path(c, req, info);
        return;
    }
    fs_respond_page(c, 405, fs_allow(c, "."), NULL, "This server does not take this method.");
}
