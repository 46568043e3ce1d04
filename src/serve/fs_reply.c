/* Responses: the one place that decides what becomes of an unread request
 * body (proto/fate), and so whether the connection stays, then writes the
 * head; error pages; the access log line, written when the exchange ends
 * with the bytes really sent. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "serve/fs.h"
#include "proto/json.h"
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
    if (rc == 0 && r->chunked)
        rc = buf_puts(b, "Transfer-Encoding: chunked\r\n");
    if (rc == 0 && r->disposition)
        rc = buf_printf(b, "Content-Disposition: %s\r\n", r->disposition);
    if (rc == 0 && r->csp)
        rc = buf_printf(b, "Content-Security-Policy: %s\r\nX-Content-Type-Options: nosniff\r\n"
                           "Referrer-Policy: same-origin\r\n",
                        r->csp);
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

void fs_respond_page(struct conn *c, int status, const char *allow, const char *extra,
                     const char *why)
{
    char body[512];
    int n =
        snprintf(body, sizeof body, "<!DOCTYPE html>\n<title>%d %s</title>\n<h1>%d %s</h1>\n%s%s%s",
                 status, http_reason(status), status, http_reason(status), why != NULL ? "<p>" : "",
                 why != NULL ? why : "", why != NULL ? "</p>\n" : "");
    if (n < 0 || (size_t)n >= sizeof body)
        n = 0; /* the sentences are ours and short: not reached */
    struct reply r = {.status = status,
                      .type = "text/html; charset=utf-8",
                      .has_length = true,
                      .length = (uint64_t)n,
                      .allow = allow,
                      .extra = extra};

    fs_respond(c, &r);
    if (c->state == CS_SEND && !c->x->head_only && buf_append(&c->x->out, body, (size_t)n) < 0)
        fs_conn_set_state(c, CS_CLOSE);
}

void fs_respond_error(struct conn *c, int status, const char *allow)
{
    fs_respond_page(c, status, allow, NULL, NULL);
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

/* The authenticated user's name for the log (fs_auth sets it), or NULL. */
static const char *log_user(const struct xchg *x)
{
    return x->user[0] != '\0' ? x->user : NULL;
}

/* A common or combined line for x. */
static void log_clf(struct worker *w, const struct xchg *x, const char *addr, uint64_t body,
                    int64_t us, bool combined)
{
    const char *user = log_user(x);

    buf_printf(&w->log, "%s - ", addr);
    if (user != NULL)
        log_escaped(&w->log, user, strlen(user));
    else
        buf_puts(&w->log, "-");
    buf_printf(&w->log, " [%s] \"", w->log_date);
    log_escaped(&w->log, x->method, x->method_len);
    buf_puts(&w->log, " ");
    log_escaped(&w->log, x->target, x->target_len);
    if (x->minor >= 0 && !x->raw)
        buf_printf(&w->log, " HTTP/1.%d", x->minor);
    buf_printf(&w->log, "\" %d %" PRIu64, x->status, body);
    if (combined) {
        buf_puts(&w->log, " \"");
        if (x->referer_len > 0)
            log_escaped(&w->log, x->referer, x->referer_len);
        else
            buf_puts(&w->log, "-");
        buf_puts(&w->log, "\" \"");
        if (x->agent_len > 0)
            log_escaped(&w->log, x->agent, x->agent_len);
        else
            buf_puts(&w->log, "-");
        buf_printf(&w->log, "\" %" PRId64 ".%03" PRId64, us / 1000, us % 1000);
    }
    if (x->cut)
        buf_printf(&w->log, " received=%" PRIu64, x->body.consumed);
    buf_puts(&w->log, "\n");
}

/* A JSON line for x. */
static void log_json(struct worker *w, const struct xchg *x, const char *addr, uint64_t body,
                     int64_t us)
{
    const char *user = log_user(x);
    char when[32], proto[24] = "";
    time_t now = w->date_t;
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (x->raw)
        snprintf(proto, sizeof proto, "raw");
    else if (x->minor >= 0)
        snprintf(proto, sizeof proto, "HTTP/1.%d", x->minor);
    buf_printf(&w->log, "{\"time\":\"%s\",\"remote\":\"%s\",\"user\":", when, addr);
    if (user != NULL)
        json_put_string(&w->log, user, strlen(user));
    else
        buf_puts(&w->log, "null");
    buf_puts(&w->log, ",\"method\":");
    json_put_string(&w->log, x->method, x->method_len);
    buf_puts(&w->log, ",\"target\":");
    json_put_string(&w->log, x->target, x->target_len);
    buf_printf(&w->log, ",\"protocol\":\"%s\",\"status\":%d,\"bytes\":%" PRIu64 ",\"referer\":",
               proto, x->status, body);
    if (x->referer_len > 0)
        json_put_string(&w->log, x->referer, x->referer_len);
    else
        buf_puts(&w->log, "null");
    buf_puts(&w->log, ",\"user_agent\":");
    if (x->agent_len > 0)
        json_put_string(&w->log, x->agent, x->agent_len);
    else
        buf_puts(&w->log, "null");
    buf_printf(&w->log, ",\"ms\":%" PRId64 ".%03" PRId64 ",\"received\":%" PRIu64, us / 1000,
               us % 1000, x->body.consumed);
    if (x->cut)
        buf_puts(&w->log, ",\"cut\":true");
    buf_puts(&w->log, "}\n");
}

/* One access log line for c's exchange, if it was answered or cut short
 * (x->cut: 499 or 408, never sent), in the format --log-format says: the
 * body bytes are those that really left (chunk framing included), not
 * those promised; the time runs from the complete request head to the end
 * of the response. The request body bytes received (as they came, chunk
 * framing included) are JSON's "received", and end a cut line in common
 * and combined as received=N. */
void fs_log_exchange(struct conn *c)
{
    struct worker *w = c->w;
    struct xchg *x = c->x;
    char addr[SOCK_ADDRSTRLEN];

    if (w->srv->opt.quiet || x == NULL || x->status == 0)
        return;
    uint64_t body = x->head_only || x->sent < x->head_len ? 0 : x->sent - x->head_len;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - x->start_us;
    if (us < 0)
        us = 0;
    sock_addr_format(&c->peer.sa, false, addr, sizeof addr);
    switch (w->srv->opt.log_format) {
    case FS_LOG_COMMON:
        log_clf(w, x, addr, body, us, false);
        break;
    case FS_LOG_COMBINED:
        log_clf(w, x, addr, body, us, true);
        break;
    case FS_LOG_JSON:
        log_json(w, x, addr, body, us);
        break;
    }
    if (buf_len(&w->log) >= LOG_FLUSH_AT)
        fs_log_flush(w);
}
