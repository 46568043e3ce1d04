/* Request routing: a parsed request to its answer. GET and HEAD of files
 * (with the conditional and range decision), index pages, listings and the
 * trailing-slash redirect; PUT to fs_put.c; every other method 405. Each
 * handler ends in fs_respond (or fs_respond_error), which decides the fate
 * of a body the handler did not read. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/fs.h"
#include "app/listing.h"
#include "core/fsx.h"
#include "proto/html.h"
#include "proto/path.h"
#include "proto/range.h"

#define LISTING_MAX (64u << 20)

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

/* Serves the regular file open at fd (which this takes over). */
static void serve_file(struct conn *c, const struct http_info *info, int fd, const struct stat *st,
                       const char *name)
{
    struct fs_server *s = c->w->srv;
    struct xchg *x = c->x;
    char etag[80], crange[96];
    uint64_t size = (uint64_t)st->st_size, first = 0, last = size ? size - 1 : 0;
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
        fs_respond(c, &(struct reply){.status = 304, .st = st, .etag = etag});
        return;
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
            fs_respond(c, &(struct reply){.status = 416, .has_length = true, .content_range = crange});
            return;
        case RANGE_NONE:
        case RANGE_MANY:
            /* Several ranges get the whole file: never more work than its size. */
            break;
        }
    }
    r.length = size ? last - first + 1 : 0;
    fs_respond(c, &r);
    if (c->state != CS_SEND || x->head_only || r.length == 0) {
        close(fd);
        return;
    }
    if (s->opt.send_mode == FS_SEND_AUTO && r.length <= buf_room(&x->out)) {
        /* A small body rides in the same write as the head. */
        ssize_t n = pread(fd, x->out.data + x->out.wpos, (size_t)r.length, (off_t)first);
        close(fd);
        if (n != (ssize_t)r.length) { /* the file shrank under us */
            fs_conn_set_state(c, CS_CLOSE);
            return;
        }
        buf_commit(&x->out, (size_t)n);
        return;
    }
    x->src.fd = fd;
    x->src.off = (off_t)first;
    x->src.end = (off_t)(last + 1);
}

static void serve_listing(struct conn *c, int dirfd, const char *rel)
{
    struct fs_server *s = c->w->srv;
    struct xchg *x = c->x;
    struct buf *page = malloc(sizeof *page);

    if (page == NULL) {
        close(dirfd);
        fs_respond_error(c, 500, NULL);
        return;
    }
    buf_init(page, LISTING_MAX);
    int rc = listing_build(s->rootfd, dirfd, rel, s->opt.hidden, page);
    close(dirfd);
    if (rc < 0) {
        buf_free(page);
        free(page);
        fs_respond_error(c, rc == -EACCES ? 403 : 500, NULL);
        return;
    }
    struct reply r = {.status = 200,
                      .type = "text/html; charset=utf-8",
                      .has_length = true,
                      .length = buf_len(page)};
    x->src.page = page; /* the exchange owns it from here, whatever happens */
    fs_respond(c, &r);
    if (x->head_only)
        buf_consume(page, buf_len(page));
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
    if ((*flags & PATH_HIDDEN) && !c->w->srv->opt.hidden)
        return 404;
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
        fs_respond_error(c, status, NULL);
        return;
    }
    int fd = fsx_open_beneath(s->rootfd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        fs_respond_error(c, status_for_open_error(fd), NULL);
        return;
    }
    if (fstat(fd, &st) < 0) {
        close(fd);
        fs_respond_error(c, 500, NULL);
        return;
    }
    if (S_ISREG(st.st_mode) && !(flags & PATH_TRAILING_SLASH)) {
        serve_file(c, info, fd, &st, rel);
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
    char index[PATH_MAX_LEN + 16];
    snprintf(index, sizeof index, "%s/index.html", rel);
    int ifd = fsx_open_beneath(s->rootfd, index, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (ifd >= 0) {
        if (fstat(ifd, &st) == 0 && S_ISREG(st.st_mode)) {
            close(fd);
            serve_file(c, info, ifd, &st, index);
            return;
        }
        close(ifd);
    }
    serve_listing(c, fd, rel);
}

/* The value of the first header called name, or p == NULL. */
static struct http_str header(const struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (http_str_ieq(req->headers[i].name.p, req->headers[i].name.len, name))
            return req->headers[i].value;
    return (struct http_str){NULL, 0};
}

void fs_route(struct conn *c, const struct http_request *req, const struct http_info *info)
{
    struct fs_server *s = c->w->srv;
    struct http_str expect = header(req, "expect");

    /* RFC 9110 §10.1.1: the only expectation is 100-continue, and only
     * from HTTP/1.1; anything else is 417 (and the held-back body means
     * the connection closes: proto/fate). */
    if (expect.p != NULL && req->minor >= 1 && !http_str_ieq(expect.p, expect.len, "100-continue")) {
        c->x->body.keep_alive = false; /* nobody knows whether its body follows */
        fs_respond_error(c, 417, NULL);
        return;
    }
    if (req->method == HTTP_GET || req->method == HTTP_HEAD) {
        serve_path(c, req, info);
        return;
    }
    if (req->method == HTTP_PUT && s->opt.upload) {
        char rel[PATH_MAX_LEN + 16];
        unsigned flags = 0;
        int status = target_path(c, req, rel, &flags);
        if (status == 0 && (flags & PATH_TRAILING_SLASH))
            status = 403;
        if (status == 404)
            status = 403; /* a hidden name: not ours to write */
        if (status != 0) {
            fs_respond_error(c, status, NULL);
            return;
        }
        fs_put_begin(c, req, info, rel);
        return;
    }
    fs_respond_error(c, 405, s->opt.upload ? "GET, HEAD, PUT" : "GET, HEAD");
}
