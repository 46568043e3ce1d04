/* Small request bodies read whole into memory, for the methods that parse
 * theirs (WebDAV's XML: PROPFIND, PROPPATCH, LOCK). The state CS_XBODY of
 * the connection reads a Content-Length or chunked body into one buffer
 * of at most the limit the handler gave (413 past it, before anything is
 * kept when Content-Length says so), under the send deadline (renewed as
 * bytes come, like a PUT's), with 100 Continue when the client waits for
 * it; then it calls the handler's callback, on the loop, with the bytes.
 * The buffer and the handler's argument belong to the exchange: they live
 * until its response is out (fs_xbody_free from fs_xchg_put). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "net/sio.h"
#include "serve/fs.h"

struct fs_xbody {
    fs_xbody_cb *done;
    void *arg;
    void (*arg_free)(void *arg);
    size_t limit;
    size_t len;
    struct http_chunked ch;
    char *data; /* limit + 1 bytes (a NUL after the body) */
};

void fs_xbody_free(struct fs_xbody **xp)
{
    struct fs_xbody *xb = *xp;

    if (xb == NULL)
        return;
    *xp = NULL;
    if (xb->arg_free != NULL && xb->arg != NULL)
        xb->arg_free(xb->arg);
    free(xb->data);
    free(xb);
}

/* The body is all here: the callback answers. */
static void finish(struct conn *c)
{
    struct fs_xbody *xb = c->x->xb;

    xb->data[xb->len] = '\0';
    xb->done(c, xb->arg, xb->data, xb->len);
}

int fs_xbody_begin(struct conn *c, size_t limit, fs_xbody_cb *done, void *arg,
                   void (*arg_free)(void *arg))
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    struct xchg *x = c->x;

    if (x->body.framing == FATE_LENGTH && x->body.length > limit) {
        if (arg_free != NULL && arg != NULL)
            arg_free(arg);
        fs_respond_page(c, 413, NULL, NULL, "This request's body is larger than the server takes.");
        return -EFBIG;
    }
    struct fs_xbody *xb = calloc(1, sizeof *xb);
    char *data = xb != NULL ? malloc(limit + 1) : NULL;
    if (data == NULL) {
        free(xb);
        if (arg_free != NULL && arg != NULL)
            arg_free(arg);
        fs_respond_error(c, 500, NULL);
        return -ENOMEM;
    }
    *xb = (struct fs_xbody){
        .done = done, .arg = arg, .arg_free = arg_free, .limit = limit, .data = data};
    x->xb = xb;
    fs_conn_set_state(c, CS_XBODY);
    c->sc.deadline = c->w->loop->now + c->w->srv->opt.send_timeout_ms;
    if (x->body.framing == FATE_NO_BODY) {
        x->body.complete = true;
        finish(c);
        return 0;
    }
    if (x->body.expect_continue) {
        /* Tiny and first: if the socket cannot take it now, the client
         * sends the body after its own short wait anyway. */
        struct iovec iov = {(void *)cont, sizeof cont - 1};
        ssize_t n = sio_sendv(c->io.fd, c->tls, &iov, 1, false);
        if (n != (ssize_t)(sizeof cont - 1) && fs_conn_secure(c)) {
            fs_conn_set_state(c, CS_CLOSE);
            return -EIO;
        }
        x->body.continue_sent = true;
    }
    return 0;
}

void fs_xbody_feed(struct conn *c)
{
    struct xchg *x = c->x;
    struct fs_xbody *xb = x->xb;
    size_t len = c->in != NULL ? buf_len(c->in) : 0;
    size_t take, used;

    if (len == 0)
        return;
    c->sc.deadline = c->w->loop->now + c->w->srv->opt.send_timeout_ms;
    char *data = c->in->data + c->in->rpos;
    if (fs_body_take(&x->body, &xb->ch, data, len, &take, &used) < 0) {
        buf_consume(c->in, len);
        x->body.keep_alive = false; /* where the next request starts is unknown */
        fs_respond_error(c, 400, NULL);
        return;
    }
    if (take > xb->limit - xb->len) {
        /* Only a chunked body can get here: the rest is not read (fate
         * closes the connection after the answer). */
        buf_consume(c->in, used);
        x->body.complete = false;
        fs_respond_page(c, 413, NULL, NULL, "This request's body is larger than the server takes.");
        return;
    }
    memcpy(xb->data + xb->len, data, take);
    xb->len += take;
    buf_consume(c->in, used);
    if (x->body.complete)
        finish(c);
}
