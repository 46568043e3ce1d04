/* Responses: the one place that decides what becomes of an unread request
 * body (proto/fate), and so whether the connection stays, then writes the
 * head; error pages; the access log line, written when the exchange ends
 * with the bytes really sent. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "app/fs.h"
#include "net/sock.h"

#define LOG_FLUSH_AT 65536

/* Writes the status line and headers of r into x->out. */
static int put_head(struct conn *c, const struct reply *r)
{
    struct xchg *x = c->x;
    struct buf *b = &x->out;
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
    if (rc == 0 && r->extra)
        rc = buf_puts(b, r->extra);
    if (rc == 0 && !x->keep)
        rc = buf_puts(b, "Connection: close\r\n");
    else if (rc == 0 && x->minor == 0)
        rc = buf_puts(b, "Connection: keep-alive\r\n");
    if (rc == 0)
        rc = buf_puts(b, "\r\n");
    return rc;
}

/* Starts the response r on c's exchange: decides the request body's fate
 * (the next request follows, the rest of the body is dropped first, or
 * the connection closes), writes the head and moves to CS_SEND. The
 * caller then adds the body: bytes to x->out, or x->src. A head that
 * does not fit ends the connection. */
void fs_respond(struct conn *c, const struct reply *r)
{
    struct xchg *x = c->x;
    struct fate f = fate_decide(&x->body);

    x->keep = f.action != FATE_CLOSE && !c->w->sw->stopping;
    c->discard = f.action == FATE_DISCARD ? f.discard : 0;
    x->status = r->status;
    buf_consume(&x->out, buf_len(&x->out));
    if (put_head(c, r) < 0) {
        fs_conn_set_state(c, CS_CLOSE);
        return;
    }
    x->head_len = buf_len(&x->out);
    fs_conn_set_state(c, CS_SEND);
}

/* A short HTML error page; only the head for HEAD requests. */
void fs_respond_error(struct conn *c, int status, const char *allow)
{
    char body[160];
    int n = snprintf(body, sizeof body, "<!DOCTYPE html>\n<title>%d %s</title>\n<h1>%d %s</h1>\n",
                     status, http_reason(status), status, http_reason(status));
    struct reply r = {.status = status,
                      .type = "text/html; charset=utf-8",
                      .has_length = true,
                      .length = (uint64_t)n,
                      .allow = allow};

    fs_respond(c, &r);
    if (c->state == CS_SEND && !c->x->head_only && buf_append(&c->x->out, body, (size_t)n) < 0)
        fs_conn_set_state(c, CS_CLOSE);
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

/* One line in the common log format for c's exchange, if it was answered:
 * the body bytes are those that really left, not those promised. */
void fs_log_exchange(struct conn *c)
{
    struct worker *w = c->w;
    struct xchg *x = c->x;
    char addr[SOCK_ADDRSTRLEN];

    if (w->srv->opt.quiet || x == NULL || x->status == 0)
        return;
    uint64_t body = x->head_only || x->sent < x->head_len ? 0 : x->sent - x->head_len;
    sock_addr_format(&c->peer.sa, false, addr, sizeof addr);
    buf_printf(&w->log, "%s - - [%s] \"", addr, w->log_date);
    log_escaped(&w->log, x->method, x->method_len);
    buf_puts(&w->log, " ");
    log_escaped(&w->log, x->target, x->target_len);
    if (x->minor >= 0 && !x->raw)
        buf_printf(&w->log, " HTTP/1.%d", x->minor);
    buf_printf(&w->log, "\" %d %" PRIu64 "\n", x->status, body);
    if (buf_len(&w->log) >= LOG_FLUSH_AT)
        fs_log_flush(w);
}
