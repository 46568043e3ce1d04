/* PUT (--upload): the request's checks, then its body from c->in into
 * app/upload, then the answer. Whatever of the body is not read here is
 * left to proto/fate through fs_respond: dropped when small and of known
 * length, otherwise the connection closes.
 *
 * A body sent with Repr-Digest or Content-Digest (sha-256; the same thing
 * for a PUT without content coding) is hashed as it comes and put in place
 * only when it matches: else 400, and the old file stays. Its digest, or
 * with --digest the digest of any upload, is kept for GETs (fs_digest). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "app/fs.h"
#include "app/fs_digest.h"
#include "app/upload.h"
#include "core/hash.h"
#include "net/sio.h"
#include "net/sock.h"
#include "proto/html.h"
#include "proto/path.h"

struct put {
    struct upload *up;
    struct hash *h;          /* the body's sha-256 as it comes; NULL: not wanted */
    bool check;              /* the client said what it must be: want */
    unsigned char want[DIGEST_SHA256_LEN];
    struct http_chunked ch;
    char location[PATH_MAX_LEN * 3 + 8]; /* for a 201 */
};

void fs_put_free(struct put **pp)
{
    struct put *p = *pp;

    if (p == NULL)
        return;
    *pp = NULL;
    if (p->up != NULL)
        upload_abort(p->up);
    hash_free(p->h);
    free(p);
}

int fs_change_status(int err)
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
    case -EBUSY:
        return 403;
    case -ENOSPC:
    case -EDQUOT:
        return 507;
    case -ENAMETOOLONG:
        return 414;
    case -EFBIG:
        return 413;
    case -EBADMSG:
        return 400;
    default:
        return 500;
    }
}

/* The sha-256 the request says its body has (Repr-Digest, else
 * Content-Digest): 1 with out set, 0 when it says none, -EINVAL when a
 * field is malformed or the two disagree. */
static int body_digest(const struct http_request *req, unsigned char *out)
{
    unsigned char d[DIGEST_SHA256_LEN];
    int found = 0;

    for (size_t i = 0; i < req->nheaders; i++) {
        const struct http_header *h = &req->headers[i];
        if (!http_str_ieq(h->name.p, h->name.len, "repr-digest") &&
            !http_str_ieq(h->name.p, h->name.len, "content-digest"))
            continue;
        int rc = digest_field_sha256(h->value.p, h->value.len, d);
        if (rc < 0 || (rc == 1 && found && memcmp(d, out, sizeof d) != 0))
            return -EINVAL;
        if (rc == 1) {
            memcpy(out, d, sizeof d);
            found = 1;
        }
    }
    return found;
}

/* True when the request has a header called name. */
static bool has_header(const struct http_request *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (http_str_ieq(req->headers[i].name.p, req->headers[i].name.len, name))
            return true;
    return false;
}

void fs_put_begin(struct conn *c, const struct http_request *req, const struct http_info *info,
                  const char *rel)
{
    struct fs_server *s = c->w->srv;
    struct xchg *x = c->x;

    if (x->body.framing == FATE_NO_BODY && info->content_length < 0) {
        x->body.keep_alive = false;
        fs_respond_error(c, 411, NULL);
        return;
    }
    /* RFC 9110 §14.5: a server that does not apply partial PUTs must
     * refuse them rather than store the part as the whole. */
    if (has_header(req, "content-range")) {
        fs_respond_error(c, 400, NULL);
        return;
    }
    if (x->body.framing == FATE_LENGTH && x->body.length > s->opt.max_upload) {
        fs_respond_error(c, 413, NULL);
        return;
    }
    unsigned char want[DIGEST_SHA256_LEN] = {0};
    int dr = body_digest(req, want);
    if (dr < 0) {
        fs_respond_error(c, 400, NULL);
        return;
    }
    struct put *p = calloc(1, sizeof *p);
    if (p == NULL) {
        fs_respond_error(c, 500, NULL);
        return;
    }
    x->put = p;
    p->check = dr == 1;
    memcpy(p->want, want, sizeof want);
    if ((p->check || s->opt.digest) && (p->h = hash_new()) == NULL) {
        fs_respond_error(c, 500, NULL);
        return;
    }
    struct buf loc;
    buf_init(&loc, sizeof p->location);
    if (buf_puts(&loc, "/") == 0 && url_encode(&loc, rel, strlen(rel), 1) == 0 &&
        buf_append(&loc, "", 1) == 0)
        memcpy(p->location, loc.data, buf_len(&loc));
    buf_free(&loc);
    int rc = upload_begin(s->rootfd, rel, &p->up);
    if (rc < 0) {
        fs_respond_error(c, fs_change_status(rc), NULL);
        return;
    }
    fs_conn_set_state(c, CS_BODY);
    c->sc.deadline = c->w->loop->now + s->opt.send_timeout_ms;
    if (x->body.framing == FATE_NO_BODY) {
        fs_put_feed(c); /* Content-Length: 0, an empty file */
        return;
    }
    if (x->body.expect_continue) {
        /* Tiny and first on the connection: if the socket cannot take it
         * now the client sends the body after its own short wait anyway. */
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        struct iovec iov = {(void *)cont, sizeof cont - 1};
        ssize_t n = sio_sendv(c->io.fd, c->tls, &iov, 1, false);
        if (n != (ssize_t)iov.iov_len && fs_conn_secure(c)) {
            /* Half a TLS record cannot be left for the response to follow. */
            fs_conn_set_state(c, CS_CLOSE);
            return;
        }
        x->body.continue_sent = true;
    }
}

/* Ends the PUT: puts the file in place and answers, or answers err. */
static void put_finish(struct conn *c, int err)
{
    struct xchg *x = c->x;
    struct put *p = x->put;
    bool created = false;

    if (err == 0 && p->h != NULL) {
        unsigned char got[DIGEST_SHA256_LEN];
        hash_final(p->h, got);
        p->h = NULL;
        if (p->check && memcmp(got, p->want, sizeof got) != 0)
            err = -EBADMSG; /* 400; fs_put_free drops the upload, the old file stays */
        else
            fs_digest_remember(c->w->srv->digest, upload_fd(p->up), got);
    }
    if (err == 0) {
        err = upload_commit(p->up, &created);
        p->up = NULL;
    }
    if (err != 0) {
        fs_respond_error(c, fs_change_status(err), NULL);
    } else if (created) {
        fs_respond(c, &(struct reply){.status = 201,
                                      .has_length = true,
                                      .location = p->location[0] ? p->location : NULL});
    } else {
        fs_respond(c, &(struct reply){.status = 204});
    }
    fs_put_free(&x->put);
}

/* Moves body bytes from c->in to the upload, in CS_BODY. Leaves the state
 * as it is while more is to come; answers when the body ended or failed.
 * Bytes after the body (a pipelined request) stay in c->in. */
void fs_put_feed(struct conn *c)
{
    struct xchg *x = c->x;
    struct put *p = x->put;
    size_t len = c->in ? buf_len(c->in) : 0;
    size_t take = len, used = len;

    c->sc.deadline = c->w->loop->now + c->w->srv->opt.send_timeout_ms;
    char *data = len > 0 ? c->in->data + c->in->rpos : NULL;
    if (x->body.framing == FATE_CHUNKED) {
        ssize_t end = len > 0 ? http_chunked_decode(&p->ch, data, &take) : HTTP_PARSE_INCOMPLETE;
        if (end == HTTP_PARSE_INVALID) {
            buf_consume(c->in, len);
            put_finish(c, -EBADMSG);
            return;
        }
        if (end >= 0) {
            /* What followed the body stayed where it was, at the end. */
            used = len - (size_t)end;
            x->body.complete = true;
        }
    } else {
        uint64_t left = x->body.length - x->body.consumed;
        if (take > left)
            take = (size_t)left;
        used = take;
        x->body.complete = x->body.consumed + take == x->body.length;
    }
    x->body.consumed += used;
    if (upload_size(p->up) + take > c->w->srv->opt.max_upload) {
        buf_consume(c->in, used);
        put_finish(c, -EFBIG);
        return;
    }
    int rc = take > 0 ? upload_write(p->up, data, take) : 0;
    if (rc == 0 && take > 0 && p->h != NULL)
        hash_update(p->h, data, take);
    if (len > 0)
        buf_consume(c->in, used);
    if (rc < 0 || x->body.complete)
        put_finish(c, rc);
}
