/* PUT (--upload): the request's checks, then its body from c->in into
 * serve/upload, then the answer. Whatever of the body is not read here is
 * left to proto/fate through fs_respond: dropped when small and of known
 * length, otherwise the connection closes.
 *
 * A body sent with Repr-Digest or Content-Digest (sha-256; the same thing
 * for a PUT without content coding) is hashed as it comes and put in place
 * only when it matches: else 400, and the old file stays. Its digest, or
 * with --digest the digest of any upload, is kept for GETs (fs_digest).
 *
 * The directory an upload goes to is opened once, through the rights gate
 * (fs_auth_open_parent: the real directory and the final name), and handed
 * to serve/upload, so a link on the way cannot carry the file elsewhere.
 *
 * What waits for the disk once the body is all here (the whole digest,
 * when no thread followed the writes; upload_commit's syncs and rename; a
 * resumable part's sync, its completion with the state saved) runs as a
 * job on a thread of its own (fs_job.c) while the connection waits in
 * CS_JOB, so the worker's other connections are served meanwhile; the
 * loop answers when it is done. When no thread starts, it runs on the
 * loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <time.h>

#include "serve/fs.h"
#include "serve/fs_auth.h"
#include "serve/fs_digest.h"
#include "serve/fs_rup.h"
#include "serve/upload.h"
#include "core/hash.h"
#include "net/sio.h"
#include "net/sock.h"
#include "proto/html.h"
#include "proto/path.h"

struct put {
    struct upload *up;
    struct hash_follow *hf;  /* the file's sha-256, by a thread behind the writes; NULL: not wanted */
    struct hash *content;    /* this request's content, when it gave Content-Digest (resumable) */
    unsigned char content_sha[DIGEST_SHA256_LEN];
    int64_t start;           /* the data's size before this request's content */
    struct http_chunked ch;
    char location[PATH_MAX_LEN * 3 + 8]; /* for a 201 */
    /* The file's announced digest (st.has_sha, st.sha); for a resumable
     * upload (slot != NULL, fs_rup.h) its whole state too. */
    struct rup_state st;
    struct fs_rup *rup;       /* the store, for a resumable upload; NULL for a plain PUT */
    struct fs_rup_slot *slot; /* held while this request may write */
    uint64_t gen;             /* this request's turn to write */
    char token[RUP_TOKEN_LEN + 1];
    char upload_url[PATH_MAX_LEN * 3 + 64]; /* the Location of the upload resource */
    bool creation;            /* the request created the upload (else a PATCH) */
    bool completes;           /* it said Upload-Complete: ?1 */
    bool discard;             /* the upload failed as a whole: its data and state go */
    /* The end of the request, which may run on a thread (fs_job.c) while
     * the connection waits: what it needs, and what it did for the answer. */
    struct fs_server *s;
    int64_t size;  /* a resumable upload's data at the end of this request */
    int err;       /* 0, or -errno (-ECANCELED: a later request took the upload over) */
    bool rejected; /* a completion refused (400): not the length or digest announced */
    bool created;  /* the target did not exist */
};

void fs_put_free(struct put **pp)
{
    struct put *p = *pp;

    if (p == NULL)
        return;
    *pp = NULL;
    hash_follow_cancel(p->hf); /* before its file is closed */
    hash_free(p->content);
    if (p->rup == NULL) {
        if (p->up != NULL)
            upload_abort(p->up);
    } else {
        /* A resumable upload keeps what came, for the next append, unless
         * it failed as a whole: then its data and state go, under its lock
         * and only if no later request has taken it over. */
        if (p->up != NULL)
            upload_release(p->up);
        if (p->discard)
            fs_rup_discard(p->rup, p->slot, p->gen, p->token, &p->st);
        fs_rup_drop(p->rup, p->slot);
    }
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

const char *fs_change_reason(int err)
{
    switch (err) {
    case -ENOENT:
        return "The folder this would go in does not exist: create it first.";
    case -ENOTDIR:
        return "A part of this path is a file, not a folder.";
    case -EISDIR:
        return "This name is a folder, which a file cannot replace.";
    case -EXDEV:
    case -ELOOP:
        return "This path leads outside the served folder.";
    case -EACCES:
    case -EPERM:
        return "This account, or the served folder's permissions, may not change this.";
    case -EROFS:
        return "The served folder is on a read-only file system.";
    case -EBUSY:
        return "Another upload is writing this file.";
    case -ENOSPC:
    case -EDQUOT:
        return "The server has no room left for this.";
    default:
        return NULL;
    }
}

void fs_respond_change_error(struct conn *c, int err)
{
    fs_respond_page(c, fs_change_status(err), NULL, NULL, fs_change_reason(err));
}

/* The sha-256 the field name of req gives: 1 with out set, 0 when there
 * is none, -EINVAL when one is malformed or two disagree. */
static int field_digest(const struct http_request *req, const char *name, unsigned char *out)
{
    unsigned char d[DIGEST_SHA256_LEN];
    int found = 0;

    for (size_t i = 0; i < req->nheaders; i++) {
        const struct http_header *h = &req->headers[i];
        if (!http_str_ieq(h->name.p, h->name.len, name))
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

/* The digest of the whole representation the request states: Repr-Digest,
 * and Content-Digest when its content is the whole (content_whole). 1, 0
 * or -EINVAL as field_digest, and -EINVAL when the two disagree. */
static int body_digest(const struct http_request *req, bool content_whole, unsigned char *out)
{
    unsigned char cd[DIGEST_SHA256_LEN];
    int r = field_digest(req, "repr-digest", out);
    int c = field_digest(req, "content-digest", cd);

    if (r < 0 || c < 0 || (r == 1 && c == 1 && content_whole && memcmp(out, cd, sizeof cd) != 0))
        return -EINVAL;
    if (r == 0 && c == 1 && content_whole) {
        memcpy(out, cd, sizeof cd);
        return 1;
    }
    return r;
}

/* True when the request has a header called name. */
static bool has_header(const struct http_request *req, const char *name)
{
    return http_header_get(req->headers, req->nheaders, name).p != NULL;
}

/* The request body's length: -1 chunked, 0 none. */
static int64_t body_length(const struct xchg *x)
{
    if (x->body.framing == FATE_CHUNKED)
        return -1;
    return x->body.framing == FATE_LENGTH ? (int64_t)x->body.length : 0;
}

/* Sends an interim response (100, 104) before the body; false when the
 * connection must close (half a TLS record cannot wait for the rest). */
static bool send_interim(struct conn *c, const char *head, size_t len)
{
    /* Tiny and first on the connection: if the socket cannot take it now
     * the client sends the body after its own short wait anyway. */
    struct iovec iov = {(void *)head, len};
    ssize_t n = sio_sendv(c->io.fd, c->tls, &iov, 1, false);

    if (n != (ssize_t)len && fs_conn_secure(c)) {
        fs_conn_set_state(c, CS_CLOSE);
        return false;
    }
    return true;
}

/* The body comes next: CS_BODY, its deadline, 100 Continue if asked. */
static void start_body(struct conn *c)
{
    struct xchg *x = c->x;
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

    fs_conn_set_state(c, CS_BODY);
    c->sc.deadline = c->w->loop->now + c->w->srv->opt.send_timeout_ms;
    if (x->body.framing == FATE_NO_BODY) {
        fs_put_feed(c); /* Content-Length: 0, an empty file */
        return;
    }
    if (x->body.expect_continue) {
        if (!send_interim(c, cont, sizeof cont - 1))
            return;
        x->body.continue_sent = true;
    }
}

/* A new put for c's exchange, with the Location of rel for a 201. */
static struct put *new_put(struct conn *c, const char *rel)
{
    struct put *p = calloc(1, sizeof *p);
    struct buf loc;

    if (p == NULL)
        return NULL;
    c->x->put = p;
    p->s = c->w->srv;
    buf_init(&loc, sizeof p->location);
    if (buf_puts(&loc, "/") == 0 && url_encode(&loc, rel, strlen(rel), 1) == 0 &&
        buf_append(&loc, "", 1) == 0)
        memcpy(p->location, loc.data, buf_len(&loc));
    buf_free(&loc);
    return p;
}

/* Answers a refused resumable request: the status for v, with the offset
 * for a 409 and the limits for a 413. A party past its unfinished uploads
 * gets 429 (RFC 6585: too many requests from one party; another may go
 * on), past their bytes 507 (no room for it). */
static void refuse(struct conn *c, enum rup_verdict v, int64_t offset, bool empty)
{
    char extra[160];
    int status = v == RUP_MISMATCH             ? 409
                 : v == RUP_TOO_LARGE          ? 413
                 : v == RUP_TOO_MANY           ? 429
                 : v == RUP_NO_ROOM            ? 507
                 : v == RUP_COMPLETED && empty ? 410
                                               : 400;

    extra[0] = '\0';
    if (v == RUP_MISMATCH)
        snprintf(extra, sizeof extra, "Upload-Offset: %lld\r\n", (long long)offset);
    else if (v == RUP_TOO_LARGE)
        fs_rup_limit(c->w->srv->rup, NULL, extra, sizeof extra);
    struct reply r = {.status = status, .has_length = true, .extra = extra[0] ? extra : NULL};
    fs_respond(c, &r);
}

/* An upload whose whole digest will be needed (to check it, or to keep it
 * with --digest) is hashed by a thread that reads behind the body as it is
 * written (for a resumable one, the part from earlier requests first); so
 * the loop neither hashes nor reads the file again at the end. Without the
 * thread, the file is read back then. */
static void follow(struct conn *c, struct put *p, int64_t offset)
{
    if (!p->st.has_sha && !c->w->srv->opt.digest)
        return;
    if (hash_follow_start(upload_fd(p->up), &p->hf) == 0 && offset > 0)
        hash_follow_advance(p->hf, (uint64_t)offset);
}

/* A part of a resumable upload sent with Content-Digest is checked by
 * itself (the draft's content digests): hashed as it comes, and taken
 * back out if it does not match. 0, or -EINVAL for a field that does not
 * parse (400), -ENOMEM. */
static int check_content(struct put *p, const struct http_request *req)
{
    int rc = field_digest(req, "content-digest", p->content_sha);

    if (rc <= 0)
        return rc;
    p->start = (int64_t)upload_size(p->up);
    p->content = hash_new();
    return p->content == NULL ? -ENOMEM : 0;
}

/* A creation request (Upload-Complete on a PUT or POST): the state and
 * the data file, then 104 with the upload's URL when the client speaks the
 * draft's interop version, then the body as for any PUT. */
static void begin_resumable(struct conn *c, const struct http_request *req,
                            const struct rup_req *rr, const char *rel)
{
    struct fs_server *s = c->w->srv;
    struct rup_decision d;
    char partial[64], limit[96], interim[PATH_MAX_LEN * 3 + 256];

    rup_decide_create(rr, s->opt.max_upload, &d);
    if (d.verdict != RUP_GO) {
        refuse(c, d.verdict, 0, false);
        return;
    }
    struct rup_state st = {.length = d.length, .created = (int64_t)time(NULL)};
    snprintf(st.rel, sizeof st.rel, "%s", rel);
    rup_owner_format(c->x->user, &c->peer.sa, st.owner);
    int dr = body_digest(req, rr->complete == 1, st.sha);
    if (dr < 0) {
        fs_respond_error(c, 400, NULL);
        return;
    }
    st.has_sha = dr == 1;
    struct put *p = new_put(c, rel);
    if (p == NULL || p->location[0] == '\0') {
        fs_respond_error(c, p == NULL ? 500 : 414, NULL); /* no URL to give */
        return;
    }
    p->creation = true;
    p->completes = rr->complete == 1;
    /* The rights gate on the directory the data will really go to, before
     * anything is made. */
    const char *name;
    int dirfd = fs_auth_open_parent(s, c->x->user, rel, AUTH_WRITE, &name);
    if (dirfd < 0) {
        fs_respond_change_error(c, dirfd);
        return;
    }
    int rc = fs_rup_create(s->rup, &st, rr->content_length, p->token);
    if (rc == -EUSERS || rc == -EDQUOT) {
        close(dirfd);
        refuse(c, rc == -EUSERS ? RUP_TOO_MANY : RUP_NO_ROOM, 0, false);
        return;
    }
    if (rc < 0) {
        close(dirfd);
        fs_respond_change_error(c, rc);
        return;
    }
    p->rup = s->rup;
    p->st = st;
    fs_rup_partial(p->token, partial);
    rc = upload_open_partial_at(dirfd, name, partial, true, &p->up);
    if (rc == 0 && (p->slot = fs_rup_hold(s->rup, p->token, st.owner, &p->gen)) == NULL)
        rc = -EBUSY;
    if (rc < 0) {
        p->discard = true;
        if (rc == -EBUSY)
            fs_respond_error(c, 503, NULL);
        else
            fs_respond_change_error(c, rc);
        return;
    }
    snprintf(p->upload_url, sizeof p->upload_url, "%s?upload=%s", p->location, p->token);
    /* (With Upload-Complete: ?1 the content is the whole: st.sha covers it.) */
    if (rr->complete == 0 && (rc = check_content(p, req)) < 0) {
        p->discard = true;
        fs_respond_error(c, rc == -EINVAL ? 400 : 500, NULL);
        return;
    }
    follow(c, p, 0);
    /* 104 before 100: the client learns where to resume before it sends. */
    if (rr->interop == RUP_INTEROP && req->minor >= 1) {
        fs_rup_limit(s->rup, &st, limit, sizeof limit);
        int n = snprintf(interim, sizeof interim,
                         "HTTP/1.1 104 Upload Resumption Supported\r\n"
                         "Upload-Draft-Interop-Version: %d\r\nLocation: %s\r\n%s\r\n",
                         RUP_INTEROP, p->upload_url, limit);
        if (n > 0 && (size_t)n < sizeof interim && !send_interim(c, interim, (size_t)n))
            return;
    }
    start_body(c);
}

/* Whether the request's media type is application/partial-upload. */
static bool partial_upload_type(const struct http_request *req)
{
    struct http_str v = http_header_get(req->headers, req->nheaders, "content-type");

    if (v.p == NULL)
        return false;
    const char *semi = memchr(v.p, ';', v.len); /* parameters are not looked at */
    size_t n = semi != NULL ? (size_t)(semi - v.p) : v.len;
    while (n > 0 && (v.p[n - 1] == ' ' || v.p[n - 1] == '\t'))
        n--;
    return http_str_ieq(v.p, n, "application/partial-upload");
}

void fs_put_patch(struct conn *c, const struct http_request *req, const char *rel,
                  const char *token)
{
    struct fs_server *s = c->w->srv;
    struct xchg *x = c->x;
    struct rup_req rr;
    struct rup_decision d;
    char partial[64];

    if (!partial_upload_type(req)) {
        fs_respond_error(c, 415, NULL);
        return;
    }
    if (rup_req_parse(req, body_length(x), &rr) < 0) {
        fs_respond_error(c, 400, NULL);
        return;
    }
    struct put *p = new_put(c, rel);
    if (p == NULL) {
        fs_respond_error(c, 500, NULL);
        return;
    }
    snprintf(p->token, sizeof p->token, "%s", token);
    p->rup = s->rup;
    if (fs_rup_load(s->rup, token, rel, &p->st) < 0) {
        fs_respond_error(c, 404, NULL);
        return;
    }
    /* Whatever was still writing to this upload stops here. */
    if ((p->slot = fs_rup_hold(s->rup, token, p->st.owner, &p->gen)) == NULL) {
        fs_respond_error(c, 503, NULL);
        return;
    }
    /* Under the lock: the upload as it is (a completion is whole or not
     * yet begun), the decision, and the length it learns. */
    int64_t offset = 0;
    int status = 0;
    bool ours = fs_rup_lock(p->slot, p->gen);
    enum rup_found f = ours ? fs_rup_find(s->rup, token, rel, &p->st, &offset) : RUP_LOST;
    if (!ours) {
        status = 503; /* another request took it over already */
    } else if (f == RUP_LOST) {
        status = 404; /* the data is gone or not ours: left for the expiry */
    } else if (f == RUP_IN_PROGRESS) {
        fs_rup_partial(token, partial);
        int rc = upload_open_partial(s->rootfd, rel, partial, false, &p->up);
        if (rc < 0)
            status = 404;
        else
            offset = (int64_t)upload_size(p->up);
    }
    if (status == 0) {
        rup_decide_append(&p->st, offset, &rr, s->opt.max_upload, &d);
        if (d.verdict == RUP_GO && fs_rup_room(s->rup, p->st.owner, rr.content_length) < 0)
            d.verdict = RUP_NO_ROOM;
        int cr = d.verdict == RUP_GO ? check_content(p, req) : 0; /* before anything is recorded */
        if (cr < 0)
            status = cr == -EINVAL ? 400 : 500;
        else if (d.verdict == RUP_GO && d.length != p->st.length) {
            p->st.length = d.length;
            if (fs_rup_save(s->rup, token, &p->st) < 0)
                status = 500;
        }
    }
    fs_rup_unlock(p->slot);
    if (status != 0) {
        fs_respond_error(c, status, NULL);
        return;
    }
    if (d.verdict != RUP_GO) {
        refuse(c, d.verdict, offset, body_length(x) == 0);
        return;
    }
    p->completes = rr.complete == 1;
    follow(c, p, offset);
    start_body(c);
}

void fs_put_begin(struct conn *c, const struct http_request *req, const struct http_info *info,
                  const char *rel)
{
    struct fs_server *s = c->w->srv;
    struct xchg *x = c->x;
    struct rup_req rr;

    if (x->body.framing == FATE_NO_BODY && info->content_length < 0) {
        x->body.keep_alive = false;
        fs_respond_error(c, 411, NULL);
        return;
    }
    /* RFC 9110 §14.5: a server that does not apply partial PUTs must
     * refuse them rather than store the part as the whole. */
    if (has_header(req, "content-range") || rup_req_parse(req, body_length(x), &rr) < 0) {
        fs_respond_error(c, 400, NULL);
        return;
    }
    if (s->rup != NULL && rr.complete >= 0) {
        begin_resumable(c, req, &rr, rel);
        return;
    }
    if (req->method != HTTP_PUT) {
        fs_respond_page(c, 405, fs_allow(c, rel), NULL,
                        "POST here only creates a resumable upload; send the file with PUT.");
        return;
    }
    if (x->body.framing == FATE_LENGTH && x->body.length > s->opt.max_upload) {
        fs_respond_error(c, 413, NULL);
        return;
    }
    unsigned char want[DIGEST_SHA256_LEN] = {0};
    int dr = body_digest(req, true, want);
    if (dr < 0) {
        fs_respond_error(c, 400, NULL);
        return;
    }
    struct put *p = new_put(c, rel);
    if (p == NULL) {
        fs_respond_error(c, 500, NULL);
        return;
    }
    p->st.has_sha = dr == 1;
    memcpy(p->st.sha, want, sizeof want);
    /* The rights gate on the directory the file will really go to. */
    const char *name;
    int dirfd = fs_auth_open_parent(s, x->user, rel, AUTH_WRITE, &name);
    int rc = dirfd < 0 ? dirfd : upload_begin_at(dirfd, name, &p->up);
    if (rc < 0) {
        fs_respond_change_error(c, rc);
        return;
    }
    follow(c, p, 0);
    start_body(c);
}

/* The digest of the whole upload at its end: from the thread that
 * followed it (by now it has little or nothing left to read), else read
 * back from the file. */
static int whole_digest(struct put *p, unsigned char *out)
{
    if (p->hf != NULL) {
        int rc = hash_follow_finish(p->hf, upload_size(p->up), out);
        p->hf = NULL;
        if (rc == 0)
            return 0;
    }
    return hash_sha256_fd(upload_fd(p->up), out, NULL, NULL);
}

#define PUT_JOBS_MAX 64 /* upload ends on threads at once, per worker */

/* Runs ops with p on a thread while c waits in CS_JOB, so that the
 * worker's other connections are not held up by the disk: true when it
 * started (the job owns p then, c->x->put is NULL); false when no thread
 * could start (the caller then does the work on the loop, as it would
 * with no threads at all). */
static bool put_job(struct conn *c, const struct fs_job_ops *ops)
{
    struct put *p = c->x->put;

    /* Threads are bounded per worker: past PUT_JOBS_MAX flushing at once
     * the disk is the limit anyway, and the loop does the rest itself. */
    if (c->w->putjobs >= PUT_JOBS_MAX || fs_job_start(c, ops, p, &c->w->putjobs) < 0)
        return false;
    c->x->put = NULL;
    return true;
}

static void put_job_free(void *arg)
{
    struct put *p = arg;

    fs_put_free(&p);
}

/* A part of a resumable upload (not its completion), on a thread or the
 * loop: Upload-Offset promises the client it need not send these bytes
 * again, so they reach the disk first. (At the end, the commit's sync then
 * has only the last part to write.) */
static void part_work(void *arg)
{
    struct put *p = arg;

    p->err = fsync(upload_fd(p->up)) < 0 ? -errno : 0;
}

/* On the loop: answers a part with the offset the upload has reached. */
static void part_answer(struct conn *c, void *arg)
{
    struct put *p = arg;
    char extra[PATH_MAX_LEN * 3 + 256], limit[96];

    if (p->err < 0) {
        fs_respond_change_error(c, p->err);
        return;
    }
    fs_rup_limit(p->rup, &p->st, limit, sizeof limit);
    snprintf(extra, sizeof extra, "Upload-Complete: ?0\r\nUpload-Offset: %lld\r\n%s",
             (long long)p->size, limit);
    struct reply r = {.status = p->creation ? 201 : 204,
                      .has_length = p->creation,
                      .location = p->creation ? p->upload_url : NULL,
                      .extra = extra};
    fs_respond(c, &r);
}

/* A resumable upload's completion, on a thread or the loop. The checks
 * and the completion happen under the upload's lock (taken and given back
 * here, on the same thread), and only while this request is still the
 * one that may change it: a HEAD sees the upload unfinished or complete,
 * never between. Sets p->err (-ECANCELED: a later request took the upload
 * over first), p->rejected (not the length or digest announced: the upload
 * goes, by fs_put_free, and the old file stays), p->created. */
static void complete_work(void *arg)
{
    struct put *p = arg;
    struct fs_server *s = p->s;
    unsigned char got[DIGEST_SHA256_LEN];

    if (!fs_rup_lock(p->slot, p->gen)) {
        fs_rup_unlock(p->slot);
        p->err = -ECANCELED;
        return;
    }
    bool ok = rup_complete_ok(p->st.length, p->size);
    bool hashed = ok && (p->st.has_sha || s->opt.digest) && whole_digest(p, got) == 0;
    if (ok && p->st.has_sha && (!hashed || memcmp(got, p->st.sha, sizeof got) != 0))
        ok = false;
    if (!ok) {
        fs_rup_unlock(p->slot);
        p->rejected = true;
        p->discard = true; /* by fs_put_free, under the lock again */
        return;
    }
    if (hashed)
        fs_digest_remember(s->digest, upload_fd(p->up), got);
    struct stat forget;
    p->err = fs_davprop_carry(s, upload_dirfd(p->up), upload_name(p->up), upload_fd(p->up), &forget);
    /* The state, kept complete so that a client that missed this answer
     * learns from HEAD, is written before the rename (fs_rup_commit). */
    if (p->err == 0) {
        p->err = fs_rup_commit(s->rup, p->token, &p->st, p->up, &p->created);
        p->up = NULL;
    }
    fs_rup_unlock(p->slot);
    if (p->err == 0 && !p->created && forget.st_ino != 0)
        fs_davprop_forget(s, &forget);
}

/* On the loop: answers a completion (or cuts the connection off when a
 * later request took the upload over, as the draft advises). */
static void complete_answer(struct conn *c, void *arg)
{
    struct put *p = arg;
    char extra[128];

    if (p->err == -ECANCELED) {
        fs_conn_set_state(c, CS_CLOSE);
        return;
    }
    if (p->rejected) {
        fs_respond(c, &(struct reply){
                          .status = 400, .has_length = true, .extra = "Upload-Complete: ?1\r\n"});
        return;
    }
    if (p->err < 0) {
        fs_respond_change_error(c, p->err);
        return;
    }
    snprintf(extra, sizeof extra, "Upload-Complete: ?1\r\nUpload-Offset: %lld\r\n",
             (long long)p->size);
    struct reply r = {.status = p->created ? 201 : 204,
                      .has_length = p->created,
                      .location = p->created && p->location[0] ? p->location : NULL,
                      .extra = extra};
    fs_respond(c, &r);
}

static const struct fs_job_ops part_job = {part_work, part_answer, put_job_free};
static const struct fs_job_ops complete_job = {complete_work, complete_answer, put_job_free};

/* Ends a resumable upload's request whose body is all here: 0 when it
 * answered or a thread took the rest over (it answers), -ECANCELED when a
 * later request took the upload over first (nothing answered: the
 * connection is cut off). */
static int finish_resumable(struct conn *c)
{
    struct put *p = c->x->put;
    char extra[128];

    p->size = (int64_t)upload_size(p->up);
    if (p->content != NULL) {
        unsigned char got[DIGEST_SHA256_LEN];
        hash_final(p->content, got);
        p->content = NULL;
        if (memcmp(got, p->content_sha, sizeof got) != 0) {
            /* Not what was sent: not appended. The upload goes on from
             * where it was before this request. */
            hash_follow_cancel(p->hf);
            p->hf = NULL;
            int rc = fs_rup_truncate(p->rup, p->slot, p->gen, p->up, (uint64_t)p->start);
            if (rc == -ECANCELED)
                return rc;
            if (rc < 0)
                p->discard = true;
            snprintf(extra, sizeof extra, "Upload-Complete: ?0\r\nUpload-Offset: %lld\r\n",
                     (long long)p->start);
            fs_respond(c, &(struct reply){.status = 400, .has_length = true, .extra = extra});
            return 0;
        }
    }
    const struct fs_job_ops *ops = p->completes ? &complete_job : &part_job;
    if (!put_job(c, ops)) {
        ops->work(p);
        ops->answer(c, p);
    }
    return 0;
}

/* A plain PUT's end, on a thread or the loop: the whole digest checked
 * (-EBADMSG, 400, when it is not the one announced: fs_put_free drops the
 * upload, the old file stays) and kept, then the file synced and renamed
 * into place (upload_commit). Sets p->err and p->created. */
static void plain_work(void *arg)
{
    struct put *p = arg;
    struct fs_server *s = p->s;
    unsigned char got[DIGEST_SHA256_LEN];

    if (p->st.has_sha || s->opt.digest) {
        if (whole_digest(p, got) < 0 ||
            (p->st.has_sha && memcmp(got, p->st.sha, sizeof got) != 0)) {
            p->err = -EBADMSG;
            return;
        }
        fs_digest_remember(s->digest, upload_fd(p->up), got);
    }
    /* What it replaces keeps its dead properties (RFC 4918 §9.7.1). */
    struct stat forget;
    p->err = fs_davprop_carry(s, upload_dirfd(p->up), upload_name(p->up), upload_fd(p->up), &forget);
    if (p->err < 0)
        return; /* fs_put_free drops the upload; the old file stays */
    p->err = upload_commit(p->up, &p->created);
    p->up = NULL;
    if (p->err == 0 && !p->created && forget.st_ino != 0)
        fs_davprop_forget(s, &forget);
}

/* On the loop: answers a plain PUT. */
static void plain_answer(struct conn *c, void *arg)
{
    struct put *p = arg;

    if (p->err < 0)
        fs_respond_change_error(c, p->err);
    else if (p->created)
        fs_respond(c, &(struct reply){.status = 201,
                                      .has_length = true,
                                      .location = p->location[0] ? p->location : NULL});
    else
        fs_respond(c, &(struct reply){.status = 204});
}

static const struct fs_job_ops plain_job = {plain_work, plain_answer, put_job_free};

/* Ends the PUT: puts the file in place and answers (the disk's part on a
 * thread, c waiting in CS_JOB, when one starts), or answers err. */
static void put_finish(struct conn *c, int err)
{
    struct xchg *x = c->x;
    struct put *p = x->put;

    if (err == 0 && p->rup != NULL) {
        err = finish_resumable(c);
    } else if (err == 0) {
        if (put_job(c, &plain_job))
            return;
        plain_work(p);
        plain_answer(c, p);
    }
    if (err == -ECANCELED) {
        /* A later request for the same upload took over: this one is cut
         * off, as the draft advises, its data kept. */
        fs_conn_set_state(c, CS_CLOSE);
    } else if (err < 0) {
        fs_respond_change_error(c, err);
    }
    fs_put_free(&x->put); /* NULL when a job has it */
}

/* Moves body bytes from c->in to the upload, in CS_BODY. Leaves the state
 * as it is while more is to come; answers when the body ended or failed.
 * Bytes after the body (a pipelined request) stay in c->in. */
/* take decoded body bytes at data, used bytes of the input counted: the
 * checks, the write, the hashing, and the end when the body is complete
 * or the write failed. */
static void put_take(struct conn *c, char *data, size_t take)
{
    struct xchg *x = c->x;
    struct put *p = x->put;
    uint64_t max = c->w->srv->opt.max_upload;
    enum rup_verdict v = p->rup != NULL ? rup_check_more(p->st.length, max, (int64_t)upload_size(p->up), take)
                         : upload_size(p->up) + take > max ? RUP_TOO_LARGE
                                                           : RUP_GO;

    if (v != RUP_GO) {
        /* Past its own length a resumable upload is invalid as a whole. */
        p->discard = v == RUP_INCONSISTENT;
        put_finish(c, v == RUP_TOO_LARGE ? -EFBIG : -EBADMSG);
        return;
    }
    int rc = take == 0        ? 0
             : p->rup != NULL ? fs_rup_write(p->rup, p->slot, p->gen, p->up, data, take)
                              : upload_write(p->up, data, take);
    if (rc == 0 && take > 0 && p->hf != NULL)
        hash_follow_advance(p->hf, upload_size(p->up));
    if (rc == 0 && take > 0 && p->content != NULL)
        hash_update(p->content, data, take);
    if (rc < 0 || x->body.complete)
        put_finish(c, rc);
}

/* Moves body bytes from c->in to the upload, in CS_BODY. Leaves the state
 * as it is while more is to come; answers when the body ended or failed.
 * Bytes after the body (a pipelined request) stay in c->in. */
void fs_put_feed(struct conn *c)
{
    struct xchg *x = c->x;
    struct put *p = x->put;
    size_t len = c->in ? buf_len(c->in) : 0;
    size_t take, used;

    c->sc.deadline = c->w->loop->now + c->w->srv->opt.send_timeout_ms;
    char *data = len > 0 ? c->in->data + c->in->rpos : NULL;
    if (fs_body_take(&x->body, &p->ch, data, len, &take, &used) < 0) {
        buf_consume(c->in, len);
        put_finish(c, -EBADMSG);
        return;
    }
    /* The bytes stay where they are until they are written. */
    put_take(c, data, take);
    if (len > 0 && c->in != NULL)
        buf_consume(c->in, used);
}

uint64_t fs_put_left(const struct conn *c)
{
    const struct xchg *x = c->x;

    if (c->state != CS_BODY || x->body.framing != FATE_LENGTH || (c->in && buf_len(c->in) > 0))
        return 0;
    return x->body.length - x->body.consumed;
}

void fs_put_bulk(struct conn *c, char *data, size_t n)
{
    struct xchg *x = c->x;

    c->sc.deadline = c->w->loop->now + c->w->srv->opt.send_timeout_ms;
    x->body.consumed += n;
    x->body.complete = x->body.consumed == x->body.length;
    put_take(c, data, n);
}
