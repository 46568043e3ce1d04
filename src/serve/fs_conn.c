/* The file server's connection state machine.
 *
 *   CS_PROBE    the first bytes of a connection: a TLS record (0x16, when
 *               TLS is on), an HTTP method, or a raw name (which ends at
 *               CR/LF/NUL, the peer's FIN, the name cap or a quiet gap:
 *               docs/PROTOCOLS.md)
 *   CS_TLS      the TLS handshake, under the head deadline; then CS_PROBE
 *               again, inside TLS, where HTTP or a raw name follow
 *   CS_HEAD     reading a request head; several when they are pipelined
 *   CS_AUTH     the head is read and a password check runs off the loop
 *               (fs_auth.c); the head is routed again when it comes back
 *   CS_BODY     a PUT body into serve/upload (fs_put.c)
 *   CS_XBODY    a small body into memory for a handler that parses it
 *               (fs_xbody.c: PROPFIND, PROPPATCH, LOCK)
 *   CS_JOB      work runs on a thread of its own (fs_job.c): a COPY or MOVE
 *               of a tree (fs_davcopy.c) once the head is read, a PUT's
 *               flush and rename once its body is (fs_put.c); the loop
 *               answers when it is done
 *   CS_DISCARD  dropping the rest of a body after its response (proto/fate)
 *   CS_SEND     the response: head, then its body (fs_body.c); the socket is
 *               not watched while a trailer waits for its digest (fs_follow)
 *   CS_LINGER   our side is shut down; the peer's last bytes are read and
 *               dropped so that closing does not reset our reply away
 *   CS_CLOSE    finished
 *
 * Handlers change the state only through fs_conn_set_state and never free
 * anything: fs_conn_drive runs the handler of the current state until one
 * has to wait for the socket, and it alone frees a connection, when the
 * state is CS_CLOSE. The same drive runs for socket events, deadlines and
 * shutdown (fs_conn_expired, fs_conn_abort). Every byte in or out goes
 * through net/sio with c->tls, so no handler asks whether TLS is on. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "serve/fs.h"
#include "serve/fs_auth.h"
#include "net/sio.h"
#include "net/sock.h"
#include "net/tls.h"
#include "proto/proxy.h"
#include "proto/raw.h"

#define READS_PER_WAKEUP 16 /* recv calls for one connection per wakeup */
#define LINGER_MS 2000
#define TLS_RECORD_HANDSHAKE 0x16 /* RFC 8446 5.1: a ClientHello's record type */
#define REDIRECT_MAX_PATH 3000    /* longer targets get 414 rather than a 301 */

/* A handler's verdict: run the (new) state's handler, or wait for an event. */
enum step { STEP_GO, STEP_WAIT };

/* Which transitions exist; everything may end in CS_CLOSE. */
static const uint16_t legal[CS_NSTATES] = {
    [CS_PROBE] = 1u << CS_TLS | 1u << CS_HEAD | 1u << CS_SEND | 1u << CS_LINGER,
    [CS_TLS] = 1u << CS_PROBE,
    [CS_HEAD] = 1u << CS_BODY | 1u << CS_SEND | 1u << CS_AUTH | 1u << CS_XBODY | 1u << CS_JOB,
    [CS_AUTH] = 1u << CS_BODY | 1u << CS_SEND | 1u << CS_XBODY | 1u << CS_JOB,
    [CS_JOB] = 1u << CS_SEND,
    [CS_BODY] = 1u << CS_SEND | 1u << CS_JOB,
    [CS_XBODY] = 1u << CS_SEND,
    [CS_DISCARD] = 1u << CS_HEAD,
    [CS_SEND] = 1u << CS_HEAD | 1u << CS_DISCARD | 1u << CS_LINGER,
    [CS_LINGER] = 0,
    [CS_CLOSE] = 0,
};

bool fs_conn_legal(enum conn_state from, enum conn_state to)
{
    if (from >= CS_NSTATES || to >= CS_NSTATES)
        return false;
    if (to == CS_CLOSE)
        return from != CS_CLOSE;
    return (legal[from] >> to) & 1u;
}

void fs_conn_set_state(struct conn *c, enum conn_state to)
{
    assert(fs_conn_legal((enum conn_state)c->state, to));
    if (c->state == CS_PROBE && (c->flags & FL_GAP))
        fs_probe_list(c, false);
    c->state = (uint8_t)to;
}

/* Watches the socket for ev; a failure ends the connection. */
static enum step want(struct conn *c, uint32_t ev)
{
    if (ev_io_set(c->w->loop, &c->io, sio_events(c->tls, ev)) < 0)
        fs_conn_set_state(c, CS_CLOSE);
    return c->state == CS_CLOSE ? STEP_GO : STEP_WAIT;
}

enum fill { FILL_GOT, FILL_AGAIN, FILL_EOF, FILL_FULL, FILL_FAILED };

/* What one drive may still read. */
struct budget {
    int reads;    /* recv calls made */
    bool drained; /* a recv returned less than it could take: the socket is empty */
};

/* Whether this wakeup may read no more. Once a read came back short the
 * socket is taken as empty until epoll (level triggered) says otherwise,
 * which saves a recv that would say EAGAIN after every response. Bytes a
 * TLS session has already decrypted are read whatever the budget: epoll
 * would not bring us back for them. */
static bool budget_spent(const struct conn *c, const struct budget *b)
{
    return b->drained || (b->reads >= READS_PER_WAKEUP && !sio_pending(c->tls));
}

/* One recv of up to n bytes into p, within the wakeup's budget: the count,
 * or 0 with *f saying why nothing came (FILL_AGAIN: the budget is spent or
 * the socket empty; FILL_EOF, FL_FIN set; FILL_FAILED). */
static size_t recv_budget(struct conn *c, struct budget *b, void *p, size_t n, enum fill *f)
{
    if (budget_spent(c, b)) {
        *f = FILL_AGAIN; /* level-triggered: the loop comes back */
        return 0;
    }
    b->reads++;
    ssize_t r = sio_recv(c->io.fd, c->tls, p, n);
    if (r == -EAGAIN || r == 0) {
        b->drained = true;
        if (r == 0)
            c->flags |= FL_FIN;
        *f = r == 0 ? FILL_EOF : FILL_AGAIN;
        return 0;
    }
    if (r < 0) {
        *f = FILL_FAILED;
        return 0;
    }
    b->drained = (size_t)r < n && !sio_pending(c->tls);
    *f = FILL_GOT;
    return (size_t)r;
}

/* Reads what the socket has into c->in, within this wakeup's budget. */
static enum fill fill(struct conn *c, struct budget *b)
{
    enum fill f;

    if (c->in != NULL && buf_reserve(c->in, 1) == NULL)
        return FILL_FULL;
    if (budget_spent(c, b))
        return FILL_AGAIN; /* before a buffer is taken for nothing */
    if (c->in == NULL)
        c->in = fs_in_get(c->w);
    if (c->in == NULL)
        return FILL_FAILED;
    size_t n = recv_budget(c, b, c->in->data + c->in->wpos, buf_room(c->in), &f);
    if (n > 0)
        buf_commit(c->in, n);
    else if (buf_len(c->in) == 0)
        fs_in_put(c->w, &c->in); /* nothing came: an idle connection holds no buffer */
    return f;
}

static size_t in_len(const struct conn *c)
{
    return c->in ? buf_len(c->in) : 0;
}

/* The outcome of a fill that brought nothing: wait, or end. */
static enum step no_input(struct conn *c, enum fill f)
{
    if (f == FILL_AGAIN)
        return want(c, EPOLLIN);
    fs_conn_set_state(c, CS_CLOSE);
    return STEP_GO;
}

struct xchg *fs_conn_begin(struct conn *c)
{
    assert(c->x == NULL); /* one exchange at a time: the last one has ended */
    struct xchg *x = fs_xchg_get(c->w);

    c->x = x;
    return x;
}

/* ---- CS_PROBE and CS_TLS ------------------------------------------------ */

/* On a TLS-enabled port, a connection that starts with a TLS record gets
 * a session; the byte is only peeked, so OpenSSL reads the whole
 * ClientHello itself. */
static enum step probe_tls(struct conn *c, bool *tls)
{
    int first = sio_peek(c->io.fd);

    *tls = false;
    if (first == -EAGAIN)
        return want(c, EPOLLIN);
    if (first < 0 || first == 0x100) {
        fs_conn_set_state(c, CS_CLOSE);
        return STEP_GO;
    }
    if (first != TLS_RECORD_HANDSHAKE)
        return STEP_GO;
    *tls = true;
    c->tls = tls_server_conn(c->w->srv->tls, c->io.fd);
    fs_conn_set_state(c, c->tls != NULL ? CS_TLS : CS_CLOSE);
    return STEP_GO;
}

static enum step on_tls(struct conn *c)
{
    struct worker *w = c->w;

    assert(c->state == CS_TLS && c->tls != NULL);
    /* The deadline set at accept still runs: a ClientHello that stops
     * halfway is closed at the head deadline. */
    switch (tls_handshake(c->tls)) {
    case TLS_DONE:
        fs_conn_set_state(c, CS_PROBE);
        c->sc.deadline = w->loop->now + w->srv->opt.head_timeout_ms;
        return STEP_GO;
    case TLS_WANT_READ:
        return want(c, EPOLLIN);
    case TLS_WANT_WRITE:
        return want(c, EPOLLOUT);
    case TLS_FAILED:
        break;
    }
    fs_conn_set_state(c, CS_CLOSE); /* garbage, an old version, no common ground */
    return STEP_GO;
}

/* With --proxy-from, first bytes that begin a PROXY header close the
 * connection: net/srv took the header of every peer allowed to send one.
 * Until the bytes tell (at most 12), nothing else reads them, so neither a
 * raw name nor a request starts. Returns true when on_probe goes on. */
static bool probe_proxy(struct conn *c, struct budget *b, enum step *st)
{
    enum proxy_sniff ps = proxy_sniff(c->in ? buf_rptr(c->in) : "", in_len(c));

    if (ps == PROXY_SNIFF_NONE || (ps == PROXY_SNIFF_PREFIX && (c->flags & FL_FIN)))
        return true;
    if (ps == PROXY_SNIFF_HEADER) {
        fs_conn_set_state(c, CS_CLOSE);
        *st = STEP_GO;
        return false;
    }
    enum fill f = fill(c, b);
    *st = f == FILL_GOT || f == FILL_EOF ? STEP_GO : no_input(c, f);
    return false;
}

static enum step on_probe(struct conn *c, struct budget *b)
{
    struct worker *w = c->w;
    size_t len = in_len(c), name_len;
    enum step st;

    assert(c->state == CS_PROBE);
    if (c->tls == NULL && w->srv->tls != NULL && len == 0) {
        bool tls;
        enum step s = probe_tls(c, &tls);
        if (tls || c->state != CS_PROBE || s == STEP_WAIT)
            return s;
    }
    /* A PROXY header never starts with 0x16, so TLS is told first. */
    if (w->srv->opt.proxy_from != NULL && !probe_proxy(c, b, &st))
        return st;
    if (!w->srv->opt.raw) {
        fs_conn_set_state(c, CS_HEAD);
        return STEP_GO;
    }
    if (len > 0) {
        enum raw_detect d = raw_detect(buf_rptr(c->in), len);
        if (d == RAW_IS_HTTP) {
            fs_conn_set_state(c, CS_HEAD);
            return STEP_GO;
        }
        if (d == RAW_IS_RAW && raw_name_scan(buf_rptr(c->in), len, &name_len) != RAW_NAME_MORE) {
            fs_raw_serve(c);
            return STEP_GO;
        }
        if (c->flags & FL_FIN) {
            fs_raw_serve(c); /* the peer is done sending: the bytes are the whole name */
            return STEP_GO;
        }
    }
    size_t before = len;
    enum fill f = fill(c, b);
    if (f == FILL_GOT)
        return STEP_GO;
    if (f == FILL_EOF && before > 0)
        return STEP_GO; /* FL_FIN is set: the name is complete */
    if (f == FILL_AGAIN && before > 0) {
        /* A name may arrive in pieces: wait for a quiet gap, not longer. */
        c->gap_at = w->loop->now + w->srv->opt.raw_gap_ms;
        if (!(c->flags & FL_GAP))
            fs_probe_list(c, true);
    }
    return no_input(c, f);
}

/* ---- CS_HEAD ------------------------------------------------------------ */

/* Copies what the access log needs of req into x, which outlives c->in. */
static void note_request(struct xchg *x, const struct http_request *req)
{
    size_t ml = req->method_str.len < sizeof x->method ? req->method_str.len : sizeof x->method;
    size_t tl = req->target.len < sizeof x->target ? req->target.len : sizeof x->target;

    memcpy(x->method, req->method_str.p, ml);
    memcpy(x->target, req->target.p, tl);
    x->method_len = (uint16_t)ml;
    x->target_len = (uint16_t)tl;
    x->minor = req->minor;
    x->head_only = req->method == HTTP_HEAD;
}

static bool host_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '-' || ch == '_' || ch == ':' || ch == '[' || ch == ']';
}

/* Plain HTTP on a TLS port: 301 to the same host and target over https.
 * The Host field goes into Location only when it is a plain host[:port]. */
static void redirect_https(struct conn *c, const struct http_request *req,
                           const struct http_info *info)
{
    char *loc = c->w->scratch;
    struct http_str path;
    bool ok = info->host.len > 0 && info->host.len <= 255 && http_target_path(req->target, &path);

    for (size_t i = 0; ok && i < info->host.len; i++)
        ok = host_char(info->host.p[i]);
    if (!ok) {
        fs_respond_error(c, 400, NULL);
        return;
    }
    if (path.len > REDIRECT_MAX_PATH) {
        fs_respond_error(c, 414, NULL);
        return;
    }
    snprintf(loc, sizeof c->w->scratch, "https://%.*s%.*s", (int)info->host.len, info->host.p,
             (int)path.len, path.p);
    struct reply r = {
        .status = 301, .type = "text/html; charset=utf-8", .has_length = true, .location = loc};
    fs_respond(c, &r);
}

/* The body a request announces, as fate sees it before anyone reads it. */
static void note_body(struct xchg *x, const struct http_info *info, bool keep)
{
    x->body = (struct fate_input){.framing = FATE_NO_BODY,
                                  .expect_continue = info->expect_continue && x->minor >= 1,
                                  .keep_alive = keep,
                                  .discard_max = FS_DISCARD_MAX};
    if (info->chunked) {
        x->body.framing = FATE_CHUNKED;
    } else if (info->content_length > 0) {
        x->body.framing = FATE_LENGTH;
        x->body.length = (uint64_t)info->content_length;
    }
}

/* A check runs off the loop for the request at the start of c->in. */
static bool waiting_off_loop(const struct conn *c)
{
    return c->state == CS_AUTH;
}

static enum step on_head(struct conn *c, struct budget *b)
{
    struct worker *w = c->w;
    struct http_request req;
    size_t len = in_len(c);
    int status = 0;

    assert(c->state == CS_HEAD);
    if (len == 0) {
        fs_in_put(w, &c->in); /* an idle connection holds no buffer */
        enum fill f = fill(c, b);
        return f == FILL_GOT ? STEP_GO : no_input(c, f);
    }
    size_t plen = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
    ssize_t r = http_parse_request(buf_rptr(c->in), plen, &req, &status);
    if (r == HTTP_PARSE_INCOMPLETE && len < HTTP_MAX_HEAD) {
        if (!(c->flags & FL_HEAD_TIMER)) {
            /* One deadline for the whole head, however it trickles in. */
            c->flags |= FL_HEAD_TIMER;
            c->sc.deadline = w->loop->now + w->srv->opt.head_timeout_ms;
        }
        enum fill f = fill(c, b);
        return f == FILL_GOT ? STEP_GO : no_input(c, f);
    }
    c->flags &= (uint8_t)~FL_HEAD_TIMER;
    struct xchg *x = fs_conn_begin(c);
    if (x == NULL) {
        fs_conn_set_state(c, CS_CLOSE);
        return STEP_GO;
    }
    if (r < 0) {
        /* Nothing after a head we cannot read can be trusted. */
        if (r == HTTP_PARSE_INCOMPLETE)
            status = http_head_overflow_status(buf_rptr(c->in), plen);
        memcpy(x->method, "-", 1);
        memcpy(x->target, "-", 1);
        x->method_len = x->target_len = 1;
        x->minor = -1;
        fs_respond_error(c, status, NULL);
        return STEP_GO;
    }
    note_request(x, &req);
    struct http_info info;
    status = http_analyse(&req, &info);
    if (status != 0) {
        /* The framing is refused: where the next request starts is unknown. */
        x->body.keep_alive = false;
        fs_respond_error(c, status, NULL);
        return STEP_GO;
    }
    note_body(x, &info, info.keep_alive && !w->sw->stopping);
    if (c->tls == NULL && w->srv->tls != NULL)
        redirect_https(c, &req, &info);
    else
        fs_route(c, &req, &info);
    /* The handler has answered, or started a body: req (which points into
     * c->in) is no longer needed, unless a check off the loop holds it. */
    if (c->in != NULL && !waiting_off_loop(c))
        buf_consume(c->in, (size_t)r);
    return STEP_GO;
}

/* ---- CS_AUTH ------------------------------------------------------------- */

/* Watches the socket again after CS_AUTH stopped watching it. */
static int watch_again(struct conn *c)
{
    if (c->io.events != 0)
        return 0;
    return ev_io_start(c->w->loop, &c->io, c->io.fd, EPOLLIN, fs_conn_io);
}

/* The check came back (fs_auth.c set c->x->auth):
 * the head, still at the start of c->in, is parsed and routed again, and
 * the socket watched. */
static enum step on_back(struct conn *c)
{
    struct http_request req;
    struct http_info info;
    int status = 0;

    assert(waiting_off_loop(c));
    if (c->job != NULL)
        return STEP_WAIT;
    if (watch_again(c) < 0) {
        fs_conn_set_state(c, CS_CLOSE);
        return STEP_GO;
    }
    size_t len = in_len(c);
    size_t plen = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
    ssize_t r = HTTP_PARSE_INVALID;
    if (len > 0)
        r = http_parse_request(buf_rptr(c->in), plen, &req, &status);
    /* The same bytes that parsed before: they parse again. */
    if (r <= 0 || http_analyse(&req, &info) != 0) {
        fs_conn_set_state(c, CS_CLOSE);
        return STEP_GO;
    }
    enum conn_state was = (enum conn_state)c->state;
    fs_route(c, &req, &info);
    assert(c->state != was); /* answered */
    if (c->in != NULL && !waiting_off_loop(c))
        buf_consume(c->in, (size_t)r);
    return STEP_GO;
}

/* ---- CS_BODY and CS_DISCARD --------------------------------------------- */

/* The rest of a body of known length, longer than the input buffer:
 * read straight into the worker's rwbuf in steps of up to FS_RW_BUF, each
 * written at once (through c->in it would cost a recv and a write per
 * 16 KiB). Never past the body, so a pipelined request is read as usual;
 * the same budget as fill. */
static enum fill fill_bulk(struct conn *c, struct budget *b, uint64_t left)
{
    struct worker *w = c->w;
    enum fill f;

    if (w->rwbuf == NULL && (w->rwbuf = malloc(FS_RW_BUF)) == NULL)
        return FILL_FAILED;
    size_t n = recv_budget(c, b, w->rwbuf, left < FS_RW_BUF ? (size_t)left : FS_RW_BUF, &f);
    if (n > 0)
        fs_put_bulk(c, w->rwbuf, n);
    return f;
}

static enum step on_body(struct conn *c, struct budget *b)
{
    assert(c->state == CS_BODY);
    if (in_len(c) > 0) {
        fs_put_feed(c);
        if (c->state != CS_BODY)
            return STEP_GO;
    }
    uint64_t left = fs_put_left(c);
    enum fill f = left > FS_IO_BUF ? fill_bulk(c, b, left) : fill(c, b);
    return f == FILL_GOT ? STEP_GO : no_input(c, f); /* EOF: the upload is aborted */
}

static enum step on_xbody(struct conn *c, struct budget *b)
{
    assert(c->state == CS_XBODY);
    if (in_len(c) > 0) {
        fs_xbody_feed(c);
        if (c->state != CS_XBODY)
            return STEP_GO;
    }
    enum fill f = fill(c, b);
    return f == FILL_GOT ? STEP_GO : no_input(c, f); /* EOF: the request is cut */
}

static enum step on_discard(struct conn *c, struct budget *b)
{
    size_t len = in_len(c);

    assert(c->state == CS_DISCARD);
    if (len > 0) {
        size_t take = c->discard < len ? (size_t)c->discard : len;
        buf_consume(c->in, take);
        c->discard -= take;
    }
    if (c->discard == 0) {
        fs_conn_set_state(c, CS_HEAD);
        c->sc.deadline = c->w->loop->now + c->w->srv->opt.idle_timeout_ms;
        return STEP_GO;
    }
    enum fill f = fill(c, b);
    if (f == FILL_GOT)
        c->sc.deadline = c->w->loop->now + c->w->srv->opt.send_timeout_ms;
    return f == FILL_GOT ? STEP_GO : no_input(c, f);
}

void fs_conn_linger(struct conn *c)
{
    fs_conn_set_state(c, CS_LINGER);
    c->sc.deadline = c->w->loop->now + LINGER_MS;
    fs_in_put(c->w, &c->in);
    if (sio_end(c->io.fd, c->tls) == -EAGAIN)
        c->flags |= FL_SHUT; /* on_linger sends it once the socket has room */
}

/* ---- CS_SEND ------------------------------------------------------------ */

/* The response is out: log it, let the exchange go, and go on as its
 * fate says. */
static void finish_exchange(struct conn *c)
{
    struct worker *w = c->w;
    bool keep = c->x->keep && !w->sw->stopping;

    fs_log_exchange(c);
    fs_xchg_put(w, &c->x);
    if (!keep) {
        fs_conn_linger(c);
        return;
    }
    if (c->discard > 0) {
        fs_conn_set_state(c, CS_DISCARD);
        c->sc.deadline = w->loop->now + w->srv->opt.send_timeout_ms;
    } else {
        fs_conn_set_state(c, CS_HEAD);
        c->sc.deadline = w->loop->now + w->srv->opt.idle_timeout_ms;
    }
}

static enum step on_send(struct conn *c)
{
    assert(c->state == CS_SEND && c->x != NULL);
    if (c->io.events == 0 &&
        ev_io_start(c->w->loop, &c->io, c->io.fd, sio_events(c->tls, EPOLLOUT), fs_conn_io) < 0) {
        fs_conn_set_state(c, CS_CLOSE); /* back from BODY_WAIT: the socket is watched again */
        return STEP_GO;
    }
    switch (fs_body_send(c)) {
    case BODY_DONE:
        finish_exchange(c);
        return c->state == CS_LINGER && !(c->flags & FL_SHUT) ? want(c, EPOLLIN) : STEP_GO;
    case BODY_AGAIN:
    case BODY_BUDGET: /* EPOLLOUT fires again at once: others get a turn first */
        c->sc.deadline = c->w->loop->now + c->w->srv->opt.send_timeout_ms;
        return want(c, EPOLLOUT);
    case BODY_WAIT:
        /* The trailer waits for the digest thread, which drives c when it
         * is back (fs_follow): the socket, writable all along, is not
         * watched meanwhile, under the send deadline. */
        c->sc.deadline = c->w->loop->now + c->w->srv->opt.send_timeout_ms;
        if (ev_io_stop(c->w->loop, &c->io) < 0)
            break;
        return STEP_WAIT;
    case BODY_FAILED:
        break;
    }
    fs_conn_set_state(c, CS_CLOSE);
    return STEP_GO;
}

/* ---- CS_LINGER and CS_CLOSE --------------------------------------------- */

static enum step on_linger(struct conn *c)
{
    assert(c->state == CS_LINGER);
    if (c->flags & FL_SHUT) {
        /* A raw body over TLS ends only with our close_notify: it must
         * leave before the TCP shutdown. */
        if (sio_end(c->io.fd, c->tls) == -EAGAIN)
            return want(c, EPOLLOUT);
        c->flags &= (uint8_t)~FL_SHUT;
    }
    for (int i = 0; i < READS_PER_WAKEUP; i++) {
        ssize_t n = sio_recv(c->io.fd, c->tls, c->w->scratch, sizeof c->w->scratch);
        if (n == -EAGAIN)
            return want(c, EPOLLIN);
        if (n <= 0)
            break;
    }
    fs_conn_set_state(c, CS_CLOSE);
    return STEP_GO;
}

static void conn_free(struct conn *c)
{
    struct worker *w = c->w;

    assert(c->state == CS_CLOSE);
    if (c->x != NULL) {
        if (c->x->status == 0 && c->x->method_len > 0) {
            /* The peer left before the answer (an upload cut mid-body, a
             * request whose check or digest was still under way): logged
             * as nginx does, 499, with the body bytes that came; 503 when
             * the server stopping cut it. */
            c->x->status = w->sw->stopping ? 503 : 499;
            c->x->cut = true;
        }
        fs_log_exchange(c); /* cut short: the log says what was really sent */
        fs_xchg_put(w, &c->x);
    }
    if (c->flags & FL_GAP)
        fs_probe_list(c, false);
    fs_auth_cancel(c);
    fs_job_cancel(c);
    ev_io_stop(w->loop, &c->io);
    tls_free(c->tls); /* no close_notify here: a connection cut short stays cut */
    close(c->io.fd);
    fs_in_put(w, &c->in);
    srv_conn_remove(w->sw, &c->sc);
    free(c);
}

void fs_conn_drive(struct conn *c)
{
    struct budget b = {0, false};
    enum step s = STEP_GO;

    while (s == STEP_GO) {
        switch ((enum conn_state)c->state) {
        case CS_PROBE:
            s = on_probe(c, &b);
            break;
        case CS_TLS:
            s = on_tls(c);
            break;
        case CS_HEAD:
            s = on_head(c, &b);
            break;
        case CS_BODY:
            s = on_body(c, &b);
            break;
        case CS_XBODY:
            s = on_xbody(c, &b);
            break;
        case CS_JOB:
            s = STEP_WAIT; /* fs_job.c drives c again when its thread is done */
            break;
        case CS_DISCARD:
            s = on_discard(c, &b);
            break;
        case CS_SEND:
            s = on_send(c);
            break;
        case CS_AUTH:
            s = on_back(c);
            break;
        case CS_LINGER:
            s = on_linger(c);
            break;
        case CS_CLOSE:
        case CS_NSTATES:
            conn_free(c);
            return;
        }
    }
}

void fs_conn_open(struct worker *w, int fd, const struct sockaddr_storage *ss)
{
    struct conn *c = calloc(1, sizeof *c);

    if (c == NULL) {
        close(fd);
        return;
    }
    c->w = w;
    c->state = CS_PROBE;
    memcpy(&c->peer, ss, sizeof c->peer);
    if (sock_addr_is_loopback(&c->peer.sa))
        c->flags |= FL_LOOPBACK;
    c->sc.deadline = w->loop->now + w->srv->opt.head_timeout_ms;
    if (ev_io_start(w->loop, &c->io, fd, EPOLLIN, fs_conn_io) < 0) {
        close(fd);
        free(c);
        return;
    }
    srv_conn_add(w->sw, &c->sc);
}

void fs_conn_expired(struct conn *c)
{
    if (c->state == CS_JOB) {
        /* Work on a thread (a COPY or MOVE, a flush) is bounded in work,
         * not time: it answers when its thread is done (and the send
         * deadline then runs). */
        c->sc.deadline = c->w->loop->now + c->w->srv->opt.send_timeout_ms;
        return;
    }
    if (c->state == CS_AUTH) {
        /* The check did not come back within the head deadline: say so,
         * and close (the request was never answered, its body unread). */
        fs_auth_cancel(c);
        c->x->body.keep_alive = false;
        if (watch_again(c) == 0)
            fs_respond_error(c, 503, NULL);
        if (c->state == CS_SEND) {
            c->sc.deadline = c->w->loop->now + c->w->srv->opt.send_timeout_ms;
            fs_conn_drive(c);
            return;
        }
    }
    if (c->state == CS_PROBE && in_len(c) > 0)
        fs_raw_serve(c); /* a quiet peer: what it sent is the whole name */
    else {
        if (c->x != NULL && c->x->status == 0 && c->x->method_len > 0) {
            c->x->status = 408; /* a body that stopped coming: logged, not sent */
            c->x->cut = true;
        }
        fs_conn_set_state(c, CS_CLOSE); /* slow head, idle, stalled, linger over */
    }
    fs_conn_drive(c);
}

void fs_conn_abort(struct conn *c)
{
    fs_conn_set_state(c, CS_CLOSE);
    fs_conn_drive(c);
}

void fs_conn_io(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    (void)loop;
    (void)events;
    fs_conn_drive(container_of(io, struct conn, io));
}

int fs_body_take(struct fate_input *body, struct http_chunked *ch, char *data, size_t len,
                 size_t *take, size_t *used)
{
    *take = *used = len;
    if (body->framing == FATE_CHUNKED) {
        ssize_t end = len > 0 ? http_chunked_decode(ch, data, take) : HTTP_PARSE_INCOMPLETE;
        if (end == HTTP_PARSE_INVALID)
            return -EBADMSG;
        if (end >= 0) {
            /* What followed the body stayed where it was, at the end. */
            *used = len - (size_t)end;
            body->complete = true;
        }
    } else {
        uint64_t left = body->length - body->consumed;
        if (*take > left)
            *take = (size_t)left;
        *used = *take;
        body->complete = body->consumed + *take == body->length;
    }
    body->consumed += *used;
    return 0;
}
