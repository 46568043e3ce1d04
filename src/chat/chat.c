/* The chat broker and client.
 *
 * The broker runs one event loop (broadcast needs every client in one
 * place). Each client is a stream; its messages (proto/line.h) are
 * commands or text for everyone else. Writes never close a stream on the
 * spot (see stream_write), so broadcasting can walk the client list safely;
 * a client whose queue passes its cap is marked and dropped afterwards.
 *
 * Fan-out: broadcast formats a line once into the broker's current shared
 * chunk (net/cq.h) and queues a range of it for every reader, which marks
 * the reader pending; the tick, after every batch of events, flushes each
 * pending reader once, so all the lines of one wakeup reach a reader in one
 * writev.
 *
 * Backpressure: when what waits for a reader, here and in its kernel send
 * queue (whose size the broker fixes), passes half of --queue, the reader
 * is congested and the broker stops reading every client (the gate) until
 * no reader is congested; senders wait in TCP, and nothing is lost. A
 * reader that keeps reading is never dropped. One that takes nothing for
 * STALL_MS while congested is dropped as one that does not read, and so
 * is one whose queue here would pass --queue (lines that are not read from
 * a client: notices, other brokers', the operator's).
 *
 * Flood control: a client whose token bucket is empty is paused (its
 * socket is not read, so TCP slows it) until a token is back; the line
 * waits in its input buffer and nothing it sent is lost. It is told once
 * per episode (until its bucket fills again). */
#include "chat/chat.h"
#include "chat/chatfed.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/charset.h"
#include "core/clock.h"
#include "core/fsx.h"
#include "net/cq.h"
#include "net/sock.h"
#include "net/srv.h"
#include "net/stream.h"
#include "proto/chatmsg.h"
#include "proto/ledit.h"
#include "proto/line.h"
#include "proto/proxy.h"
#include "proto/tty.h"

#define NAME_MAX_LEN 32
#define HISTORY_MAX 1000
#define SHARED_CHUNK (16u << 10) /* the broker's chunks for broadcast lines */
#define STALL_MS 1000            /* a congested reader that takes nothing this long is dropped */

/* Where lines from the network are shown. On a terminal every control in
 * them is shown visibly (proto/tty.h), so a peer cannot drive the terminal;
 * a pipe or file gets the bytes as they are. */
struct term {
    int fd;
    bool tty;
    struct tty_esc esc;
    char *vis; /* TTY_OUT_MAX(TERM_PIECE) bytes, on a terminal */
};

struct chat_broker;

/* A client's place on one of the broker's doubly linked lists. */
enum { LIST_PENDING, LIST_SLOWED, LISTS };
struct client_link {
    struct client *prev, *next;
    bool on;
};

struct client {
    struct srv_conn sc; /* on the broker's list; no deadline */
    struct stream st;
    struct chat_broker *b;
    char name[NAME_MAX_LEN + 1];
    bool drop;       /* its queue overflowed: disconnect after this round */
    bool quitting;
    bool sniffed;    /* its first bytes were not a PROXY header */
    double tokens;   /* rate limit bucket */
    int64_t refill_at;
    bool told_slow;  /* told it is slowed, since its bucket was last full */
    /* its places on the broker's lists: readers with output to flush
     * (LIST_PENDING), paused senders (LIST_SLOWED) */
    struct client_link link[LISTS];
    int64_t resume_at; /* loop time in ms when it may be read again (a token, or the gate) */
    /* over half of --queue waits for it: it holds the gate */
    bool congested;
    int64_t progress_at;       /* when it last took bytes, while congested */
    uint64_t taken_seen;       /* st.taken... */
    size_t unsent_seen;        /* ...and stream_unsent when last looked at */
    struct chatfed_member *fm; /* --redis: its federation handle (NULL without) */
    bool claiming;             /* --redis: a /nick waits for Redis; its input is held... */
    bool peer_done;            /* ...unless the peer has finished sending (seen while held) */
};

struct chat_broker {
    struct chat_options opt;
    struct srv srv;
    struct srv_worker *sw; /* the one worker: every client is on its list */
    char **history; /* ring of formatted lines */
    int hist_len, hist_head;
    struct ev_io in_io; /* operator's stdin */
    bool in_watch;
    struct buf in;      /* operator's partial line */
    char *conv;         /* charset scratch */
    struct term out;    /* the operator's terminal, or the log */
    struct cq_chunk *cur;    /* where broadcast lines are formatted, shared */
    struct client *list[LISTS]; /* readers to flush at the tick; paused senders */
    bool resuming;           /* in resume_due: closes do not reap others */
    bool gated;              /* a reader is congested: no client is read */
    struct chatfed *fed; /* --redis: brokers federated over Redis (NULL without) */
};

#define CONV_MAX (LINE_DEFAULT_CAP * 4 + 64)

void chat_options_default(struct chat_options *o)
{
    memset(o, 0, sizeof *o);
    o->port = 9000;
    o->max_clients = 10000;
    o->msg_cap = LINE_DEFAULT_CAP;
    o->queue_cap = 256u << 10;
    o->rate = 100;
    o->burst = 200;
    o->history = 20;
    o->in_fd = 0;
    o->out_fd = 1;
    o->err_fd = 2;
}

bool chat_is_quit(const char *t, size_t n)
{
    return (n == 5 && memcmp(t, "/quit", 5) == 0) || (n == 1 && t[0] == 'Q') ||
           (n == 3 && memcmp(t, "bye", 3) == 0) || (n == 4 && memcmp(t, "exit", 4) == 0);
}

#define TERM_PIECE 4096 /* bytes escaped at a time */

static int term_open(struct term *t, int fd)
{
    t->fd = fd;
    t->tty = isatty(fd);
    t->vis = NULL;
    tty_esc_init(&t->esc);
    if (t->tty) {
        t->vis = malloc(TTY_OUT_MAX(TERM_PIECE));
        if (t->vis == NULL)
            return -ENOMEM;
    }
    return 0;
}

static void term_write(struct term *t, const char *s, size_t n)
{
    if (!t->tty) {
        fsx_write_all(t->fd, s, n);
        return;
    }
    while (n > 0) {
        size_t k = n < TERM_PIECE ? n : TERM_PIECE;
        long r = tty_escape(&t->esc, s, k, t->vis, TTY_OUT_MAX(TERM_PIECE));
        if (r > 0)
            fsx_write_all(t->fd, t->vis, (size_t)r);
        s += k;
        n -= k;
    }
}

/* Shows what the terminal still owes (a cut sequence) and frees t. */
static void term_close(struct term *t)
{
    if (t->tty && t->vis != NULL) {
        long r = tty_escape_end(&t->esc, t->vis, TTY_OUT_MAX(TERM_PIECE));
        if (r > 0)
            fsx_write_all(t->fd, t->vis, (size_t)r);
    }
    free(t->vis);
    t->vis = NULL;
}

/* Shows a line from the wire on the terminal, converted from the wire's
 * charset where one is set (bytes that do not convert are shown as sent). */
static void show(struct term *t, const char *charset, char *scratch, const char *s, size_t n)
{
    if (charset != NULL) {
        long r = charset_convert("UTF-8", charset, s, n, scratch, CONV_MAX);
        if (r >= 0) {
            s = scratch;
            n = (size_t)r;
        }
    }
    term_write(t, s, n);
}

/* ---- broker ------------------------------------------------------------ */

static struct client *client_at(struct srv_conn *sc)
{
    return sc != NULL ? container_of(sc, struct client, sc) : NULL;
}

/* The broker's clients, newest first: first_client, then next_client. */
static struct client *first_client(struct chat_broker *b)
{
    return client_at(srv_conns(b->sw));
}

static struct client *next_client(struct client *c)
{
    return client_at(c->sc.next);
}

/* Puts c on the broker's list which (LIST_PENDING or LIST_SLOWED), once. */
static void list_add(struct chat_broker *b, int which, struct client *c)
{
    struct client_link *l = &c->link[which];

    if (l->on)
        return;
    l->on = true;
    l->prev = NULL;
    l->next = b->list[which];
    if (b->list[which] != NULL)
        b->list[which]->link[which].prev = c;
    b->list[which] = c;
}

/* Takes c off the broker's list which, if it is on it. */
static void list_remove(struct chat_broker *b, int which, struct client *c)
{
    struct client_link *l = &c->link[which];

    if (!l->on)
        return;
    if (l->prev != NULL)
        l->prev->link[which].next = l->next;
    else
        b->list[which] = l->next;
    if (l->next != NULL)
        l->next->link[which].prev = l->prev;
    *l = (struct client_link){0};
}

/* Copies line into the broker's current chunk (a fresh one when it is
 * full) and returns the chunk with the line's offset, or NULL when memory
 * is short. Bytes once written there never change, so every queue may
 * hold a range of them. */
static struct cq_chunk *share(struct chat_broker *b, const char *line, size_t n, size_t *off)
{
    if (b->cur == NULL || cq_chunk_room(b->cur) < n) {
        cq_chunk_unref(b->cur);
        /* A reader is charged the whole chunks it keeps (stream_unsent), so
         * a chunk is at most a quarter of --queue. */
        size_t size = b->opt.queue_cap / 4 < SHARED_CHUNK ? b->opt.queue_cap / 4 : SHARED_CHUNK;
        b->cur = cq_chunk_new(n > size ? n : size);
        if (b->cur == NULL)
            return NULL;
    }
    *off = cq_chunk_put(b->cur, line, n);
    return b->cur;
}

static void remember(struct chat_broker *b, const char *line, size_t n)
{
    if (b->opt.history <= 0)
        return;
    char *copy = malloc(n + 1);
    if (copy == NULL)
        return;
    memcpy(copy, line, n);
    copy[n] = '\0';
    int slot = (b->hist_head + b->hist_len) % b->opt.history;
    if (b->hist_len == b->opt.history) {
        free(b->history[b->hist_head]);
        b->hist_head = (b->hist_head + 1) % b->opt.history;
        slot = (b->hist_head + b->hist_len - 1) % b->opt.history;
    } else {
        b->hist_len++;
    }
    b->history[slot] = copy;
}

static void reap(struct chat_broker *b);

/* c has more than half of --queue waiting for it (unsent, when known):
 * close the gate. Its progress is measured from now. */
static void congest(struct chat_broker *b, struct client *c, size_t unsent)
{
    b->gated = true;
    if (c->congested)
        return;
    c->congested = true;
    c->progress_at = b->sw->loop.now;
    c->taken_seen = c->st.taken;
    c->unsent_seen = unsent;
}

/* Delivers a formatted line to every local client but from (NULL:
 * everyone), shows it to the operator, and keeps it for newcomers when it
 * is chat (not a notice). The line is copied once, into a shared chunk;
 * each client's queue gets a range of it, sent at the tick. */
static void broadcast(struct chat_broker *b, struct client *from, const char *line, size_t n, bool keep)
{
    size_t off = 0;
    struct cq_chunk *ch = share(b, line, n, &off);

    for (struct client *c = first_client(b); c != NULL; c = next_client(c)) {
        if (c == from || c->drop || c->quitting)
            continue;
        int rc = ch != NULL ? stream_write_ref(&c->st, ch, off, n) : stream_write(&c->st, line, n);
        if (rc == -ENOBUFS) {
            c->drop = true;
        } else if (rc == 0) {
            list_add(b, LIST_PENDING, c);
            if (stream_queued(&c->st) > b->opt.queue_cap / 2)
                congest(b, c, stream_queued(&c->st));
        }
    }
    if (b->opt.operator_)
        show(&b->out, b->opt.wire_charset, b->conv, line, n);
    if (keep)
        remember(b, line, n);
}

/* Formats a notice into line (size bytes), cut to fit. Returns its length,
 * or -1 when formatting failed. */
static int format_line(char *line, size_t size, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static int format_line(char *line, size_t size, const char *fmt, va_list ap)
{
    int n = vsnprintf(line, size, fmt, ap);

    if (n < 0)
        return -1;
    return (size_t)n >= size ? (int)size - 1 : n;
}

static void notice_all(struct chat_broker *b, struct client *from, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void notice_all(struct chat_broker *b, struct client *from, const char *fmt, ...)
{
    char line[256];
    va_list ap;

    va_start(ap, fmt);
    int n = format_line(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    broadcast(b, from, line, (size_t)n, false);
    if (b->fed != NULL) /* federation hook: other brokers' clients hear it too */
        chatfed_line(b->fed, line, (size_t)n, false);
    if (!b->opt.operator_ && !b->opt.quiet)
        term_write(&b->out, line, (size_t)n);
}

static void tell(struct client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void tell(struct client *c, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    int n = format_line(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (stream_write(&c->st, line, (size_t)n) == -ENOBUFS)
        c->drop = true;
}

static void on_close(struct stream *st, int err)
{
    struct client *c = container_of(st, struct client, st);
    struct chat_broker *b = c->b;

    srv_conn_remove(b->sw, &c->sc);
    list_remove(b, LIST_PENDING, c);
    list_remove(b, LIST_SLOWED, c);
    if (b->fed != NULL) /* federation hook: off /who, its name released */
        chatfed_leave(b->fed, c->fm);
    if (c->drop)
        notice_all(b, NULL, "* %s was dropped: it did not read its messages\n", c->name);
    else
        notice_all(b, NULL, "* %s left\n", c->name);
    (void)err;
    free(c);
    if (!b->resuming)
        reap(b);
}

/* Disconnects clients whose queues overflowed. Their leave notices may
 * overflow others, so it repeats until none is left. */
static void reap(struct chat_broker *b)
{
    for (;;) {
        struct client *c = first_client(b);
        while (c != NULL && !c->drop)
            c = next_client(c);
        if (c == NULL)
            return;
        if (c->st.in_cb)
            return; /* its own on_data is running; it is reaped after */
        stream_close(&c->st, -ENOBUFS);
    }
}

static bool name_ok(struct chat_broker *b, const char *n, size_t len)
{
    if (len == 0 || len > NAME_MAX_LEN || (len == 6 && memcmp(n, "server", 6) == 0))
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)n[i] <= ' ' || n[i] == 0x7f || n[i] == ':')
            return false;
    for (struct client *c = first_client(b); c != NULL; c = next_client(c))
        if (strlen(c->name) == len && memcmp(c->name, n, len) == 0)
            return false;
    return true;
}

static void rename_client(struct client *c, const char *name, size_t len)
{
    char old[NAME_MAX_LEN + 1];
    memcpy(old, c->name, sizeof old);
    memcpy(c->name, name, len);
    c->name[len] = '\0';
    notice_all(c->b, NULL, "* %s is now %s\n", old, c->name);
    if (c->b->fed != NULL) /* federation hook: /who and the name claim follow */
        chatfed_renamed(c->b->fed, c->fm, c->name);
}

static void command(struct client *c, const char *t, size_t n)
{
    struct chat_broker *b = c->b;

    if (n > 6 && memcmp(t, "/nick ", 6) == 0) {
        const char *name = t + 6;
        size_t len = n - 6;
        int claim = name_ok(b, name, len) && b->fed != NULL
                        ? chatfed_claim(b->fed, c->fm, name, len) /* federation hook */
                        : -ENOTCONN;
        if (claim == 0) {
            c->claiming = true; /* fed_claimed answers */
            return;
        }
        if (claim == -EADDRINUSE || !name_ok(b, name, len)) {
            tell(c, "* cannot take that name: 1 to %d visible characters, no ':', not in use\n",
                 NAME_MAX_LEN);
            return;
        }
        rename_client(c, name, len);
    } else if (n == 4 && memcmp(t, "/who", 4) == 0) {
        struct buf out;
        buf_init(&out, 1u << 20);
        buf_puts(&out, "* here:");
        for (struct client *o = first_client(b); o != NULL; o = next_client(o))
            buf_printf(&out, " %s%s", o->name, o == c ? " (you)" : "");
        if (b->opt.operator_)
            buf_puts(&out, " server");
        buf_puts(&out, "\n");
        /* federation hook: the other brokers' names are added when Redis answers */
        if (b->fed == NULL || chatfed_who(b->fed, c->fm, buf_rptr(&out), buf_len(&out) - 1) < 0)
            if (stream_write(&c->st, buf_rptr(&out), buf_len(&out)) == -ENOBUFS)
                c->drop = true;
        buf_free(&out);
    } else {
        tell(c, "* commands: /nick NAME, /who, /quit\n");
    }
}

/* Token bucket: takes a token and returns true when c may send one more
 * message now. A full bucket means c has been calm: its next slow-down
 * gets a notice again. */
static bool take_token(struct client *c, int64_t now)
{
    const struct chat_options *o = &c->b->opt;

    c->tokens += (double)(now - c->refill_at) * o->rate / 1000.0;
    if (c->tokens >= o->burst) {
        c->tokens = o->burst;
        c->told_slow = false;
    }
    c->refill_at = now;
    if (c->tokens >= 1) {
        c->tokens -= 1;
        return true;
    }
    return false;
}

/* c's bucket is empty: stop reading it until a token is back (the tick
 * resumes it). The message it is on stays in its input. */
static void slow_down(struct client *c, int64_t now)
{
    struct chat_broker *b = c->b;
    double wait_ms = (1.0 - c->tokens) * 1000.0 / b->opt.rate;

    c->resume_at = now + (int64_t)wait_ms + 1;
    list_add(b, LIST_SLOWED, c);
    stream_pause(&c->st, true);
    if (!c->told_slow) {
        c->told_slow = true;
        tell(c, "* slow down: over %.0f messages a second; the rest follow as the rate allows\n",
             b->opt.rate);
    }
}

/* A reader is congested: c is not read until the gate opens (resume_due).
 * What it sent waits in its input and in TCP. */
static void gate_pause(struct client *c, int64_t now)
{
    c->resume_at = now;
    list_add(c->b, LIST_SLOWED, c);
    stream_pause(&c->st, true);
}

/* Where a line a local client sent becomes a message: "NAME: text" to
 * everyone else, kept in the history. */
static void client_said(struct client *c, const char *t, size_t n)
{
    char line[NAME_MAX_LEN + 3 + LINE_DEFAULT_CAP];
    size_t name_len = strlen(c->name);
    size_t len = name_len + 2 + n + 1;
    char *p = len <= sizeof line ? line : malloc(len);

    if (p == NULL)
        return;
    memcpy(p, c->name, name_len);
    memcpy(p + name_len, ": ", 2);
    memcpy(p + name_len + 2, t, n);
    p[len - 1] = '\n';
    broadcast(c->b, c, p, len, true);
    if (c->b->fed != NULL) /* federation hook: published after local delivery */
        chatfed_line(c->b->fed, p, len, true);
    if (p != line)
        free(p);
}

/* federation hook: while a /nick waits for Redis, the lines after it wait
 * too, so they go out under the name it ends up with; but a peer that has
 * finished sending would close with them unread, so they go now. */
static bool input_held(struct client *c, bool drained)
{
    if (!c->claiming || c->peer_done)
        return false;
    char b;
    if (drained && recv(c->st.io.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
        c->peer_done = true;
    return !c->peer_done;
}

static void on_data(struct stream *st, bool drained)
{
    struct client *c = container_of(st, struct client, st);
    struct chat_broker *b = c->b;
    struct line ln;

    if (!c->sniffed && b->opt.proxy_from != NULL) {
        /* Only a proxy_from peer may send a header, and net/srv took it. */
        int r = proxy_refuse(buf_rptr(&st->in), buf_len(&st->in), &c->sniffed);
        if (r <= 0) {
            if (r < 0)
                stream_close(st, r);
            return; /* a header closes; its first bytes wait for the next */
        }
    }
    int64_t now = b->sw->loop.now;

    while (!c->quitting && !c->link[LIST_SLOWED].on && !input_held(c, drained) &&
           line_next(buf_rptr(&st->in), buf_len(&st->in), b->opt.msg_cap, drained, &ln)) {
        if (b->gated) {
            gate_pause(c, now);
            break; /* the line waits in st->in until the gate opens */
        }
        if (chat_is_quit(ln.text, ln.len)) {
            c->quitting = true;
            stream_close_after_flush(st);
        } else if (ln.len > 0 && ln.text[0] == '/') {
            command(c, ln.text, ln.len);
        } else if (ln.len > 0) {
            if (!take_token(c, now)) {
                slow_down(c, now);
                break; /* the line waits in st->in */
            }
            client_said(c, ln.text, ln.len);
        }
        buf_consume(&st->in, ln.consumed);
    }
    if (c->quitting)
        buf_consume(&st->in, buf_len(&st->in));
    if (c->drop)
        stream_close(st, -ENOBUFS); /* deferred until on_data returns */
}

/* The welcome line (when welcome) and the local history (when history),
 * in one write; what does not fit in --queue is left out, oldest first kept. */
static void send_lines(struct client *c, bool welcome, bool history)
{
    struct chat_broker *b = c->b;
    struct buf out;

    buf_init(&out, b->opt.queue_cap);
    if (welcome)
        buf_printf(&out, "* welcome to ferry chat, %s: /nick NAME, /who, /quit\n", c->name);
    for (int i = 0; history && i < b->hist_len; i++)
        if (buf_puts(&out, b->history[(b->hist_head + i) % b->opt.history]) < 0)
            break; /* more history than --queue: what fits, oldest first */
    if (buf_len(&out) > 0 && stream_write(&c->st, buf_rptr(&out), buf_len(&out)) == -ENOBUFS)
        c->drop = true;
    buf_free(&out);
}

/* ---- federation: what chatfed (--redis) calls --------------------------- */

static void fed_deliver(void *app, const char *line, size_t n, bool keep)
{
    struct chat_broker *b = app;

    broadcast(b, NULL, line, n, keep); /* flushed, and any reader dropped, at the tick */
}

static void fed_tell(void *app, void *client, const char *line, size_t n)
{
    struct client *c = client;

    if (!c->drop && !c->quitting && stream_write(&c->st, line, n) == -ENOBUFS)
        c->drop = true; /* reaped at the next tick */
}

static void fed_local_history(void *app, void *client)
{
    send_lines(client, false, true);
}

static void fed_claimed(void *app, void *client, const char *name, enum chatfed_claim res)
{
    struct client *c = client;
    size_t len = strlen(name);

    c->claiming = false;
    if (res != CHATFED_CLAIM_TAKEN && name_ok(c->b, name, len))
        rename_client(c, name, len);
    else
        tell(c, "* cannot take that name: %s\n",
             res == CHATFED_CLAIM_TAKEN ? "in use on another broker" : "in use");
    stream_redeliver(&c->st, true); /* what it sent meanwhile; c may be gone after */
}

static const struct chatfed_ops fed_ops = {
    .deliver = fed_deliver,
    .tell = fed_tell,
    .local_history = fed_local_history,
    .claimed = fed_claimed,
};

static void broker_accepted(struct srv_worker *sw, int fd, const struct sockaddr_storage *peer)
{
    struct chat_broker *b = sw->app;
    struct client *c = calloc(1, sizeof *c);

    if (c == NULL) {
        close(fd);
        return;
    }
    c->b = b;
    c->sc.deadline = INT64_MAX; /* a quiet chatter is not idle */
    sock_addr_format((const struct sockaddr *)peer, true, c->name, sizeof c->name);
    c->tokens = b->opt.burst;
    c->refill_at = sw->loop.now;
    /* A fixed send buffer (the kernel doubles it) bounds what the kernel
     * holds for a reader that does not read; --queue counts the rest. */
    int sndbuf = b->opt.queue_cap / 2 > INT_MAX ? INT_MAX : (int)(b->opt.queue_cap / 2);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    if (stream_start(&c->st, &sw->loop, fd, b->opt.msg_cap + 2, b->opt.queue_cap, on_data,
                     on_close) < 0) {
        close(fd);
        free(c);
        return;
    }
    if (b->fed != NULL) /* federation hook: on /who everywhere; history from Redis */
        c->fm = chatfed_join(b->fed, c, c->name);
    send_lines(c, true, b->fed == NULL || chatfed_history(b->fed, c->fm) < 0);
    notice_all(b, NULL, "* %s joined\n", c->name);
    /* Linked after the notice, so the newcomer hears of itself only in
     * the welcome. */
    srv_conn_add(sw, &c->sc);
    reap(b);
}

static void operator_line(struct chat_broker *b, const char *t, size_t n)
{
    struct buf out;
    const char *text = t;

    if (b->opt.wire_charset != NULL) {
        long r = charset_convert(b->opt.wire_charset, "UTF-8", t, n, b->conv, CONV_MAX);
        if (r < 0) {
            dprintf(b->opt.err_fd, "ferry chat: that line cannot be written in %s\n",
                    b->opt.wire_charset);
            return;
        }
        text = b->conv;
        n = (size_t)r;
    }
    buf_init(&out, n + 16);
    buf_puts(&out, "server: ");
    buf_append(&out, text, n);
    buf_append(&out, "\n", 1);
    /* The operator typed it: do not echo it back to them. */
    bool op = b->opt.operator_;
    b->opt.operator_ = false;
    broadcast(b, NULL, buf_rptr(&out), buf_len(&out), true);
    b->opt.operator_ = op;
    if (b->fed != NULL) /* federation hook */
        chatfed_line(b->fed, buf_rptr(&out), buf_len(&out), true);
    buf_free(&out);
    reap(b);
}

static void on_stdin(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    struct chat_broker *b = container_of(io, struct chat_broker, in_io);
    struct line ln;
    (void)events;

    char *dst = buf_reserve(&b->in, 4096);
    ssize_t n = dst ? read(io->fd, dst, 4096) : 0;
    if (n < 0 && errno == EINTR)
        return;
    bool eof = n <= 0;
    if (n > 0)
        buf_commit(&b->in, (size_t)n);
    while (line_next(buf_rptr(&b->in), buf_len(&b->in), b->opt.msg_cap, eof, &ln)) {
        if (ln.len > 0)
            operator_line(b, ln.text, ln.len);
        buf_consume(&b->in, ln.consumed);
    }
    if (eof) {
        ev_io_stop(loop, io); /* the operator left; the broker goes on */
        b->in_watch = false;
    }
}

/* Reads again from paused senders that have a token back. Their lines
 * may drop readers, which are reaped after (so the list stays intact: a
 * resumed sender can only close itself, and one slowed again goes to the
 * head, behind us). */
static void resume_due(struct chat_broker *b)
{
    int64_t now = b->sw->loop.now;
    struct client *next;

    if (b->gated)
        return; /* nobody is read while a reader is congested */
    b->resuming = true;
    for (struct client *c = b->list[LIST_SLOWED]; c != NULL; c = next) {
        next = c->link[LIST_SLOWED].next;
        if (now < c->resume_at)
            continue;
        list_remove(b, LIST_SLOWED, c);
        stream_pause(&c->st, false); /* may run on_data, and close c */
    }
    b->resuming = false;
}

/* Sends each pending reader what was queued for it since the last tick,
 * in one writev; a reader for which more than half of --queue still waits
 * here and in its kernel send queue is congested. */
static void flush_pending(struct chat_broker *b)
{
    struct client *c;

    while ((c = b->list[LIST_PENDING]) != NULL) {
        list_remove(b, LIST_PENDING, c);
        if (c->drop || stream_flush(&c->st) < 0 || stream_queued(&c->st) == 0)
            continue;
        size_t unsent = stream_unsent(&c->st);
        if (unsent > b->opt.queue_cap / 2)
            congest(b, c, unsent);
    }
}

/* Looks at every congested reader: one that has taken bytes since the
 * last look made progress; one under a quarter of --queue is no longer
 * congested; one that made none for STALL_MS is dropped. The gate opens
 * when no reader is congested. */
static void check_congested(struct chat_broker *b)
{
    int64_t now = b->sw->loop.now;
    bool gated = false;

    if (!b->gated)
        return;
    for (struct client *c = first_client(b); c != NULL; c = next_client(c)) {
        if (!c->congested || c->drop)
            continue;
        size_t unsent = stream_unsent(&c->st);
        if (c->st.taken != c->taken_seen || unsent < c->unsent_seen)
            c->progress_at = now;
        c->taken_seen = c->st.taken;
        c->unsent_seen = unsent;
        if (unsent <= b->opt.queue_cap / 4)
            c->congested = false;
        else if (now - c->progress_at >= STALL_MS)
            c->drop = true; /* it does not read: reaped, and the gate opens */
        else
            gated = true;
    }
    b->gated = gated;
}

static void broker_tick(struct srv_worker *sw)
{
    struct chat_broker *b = sw->app;

    if (b->fed != NULL) /* federation hook: Redis deadlines, reconnects, refreshes */
        chatfed_tick(b->fed);
    flush_pending(b);
    check_congested(b);
    reap(b);
    resume_due(b);
    flush_pending(b);
    reap(b);
    flush_pending(b); /* the notices of those dropped */
    if (b->cur != NULL && b->cur->refs == 1)
        b->cur->len = 0; /* nobody holds a line of it: reuse it from the start */
}

static void broker_close_all(struct srv_worker *sw)
{
    struct chat_broker *b = sw->app;

    /* Each close tells the others, which may drop and close them too: take
     * the head again every time. */
    while (first_client(b) != NULL) {
        struct client *c = first_client(b);
        c->quitting = true;
        stream_close(&c->st, 0);
    }
    if (b->fed != NULL) /* federation hook: after the leaves, our presence goes */
        chatfed_stop(b->fed);
}

/* On the broker's thread, before its loop: the operator's stdin joins it. */
static void broker_started(struct srv_worker *sw)
{
    struct chat_broker *b = sw->app;

    b->sw = sw;
    if (b->fed != NULL) /* federation hook: connect to Redis from this loop */
        chatfed_attach(b->fed, &sw->loop);
    if (b->opt.operator_) {
        int rc = ev_io_start(&sw->loop, &b->in_io, b->opt.in_fd, EPOLLIN, on_stdin);
        if (rc < 0) /* a regular file cannot be watched: nothing to read live */
            dprintf(b->opt.err_fd,
                    "ferry chat: operator input is not a terminal or pipe; ignored\n");
        b->in_watch = rc == 0;
    }
}

static const struct srv_ops broker_ops = {
    .accepted = broker_accepted,
    .tick = broker_tick,
    .stopping = broker_close_all,
    .close_all = broker_close_all,
    .started = broker_started,
};

static void broker_free(struct chat_broker *b)
{
    for (int i = 0; i < b->hist_len; i++)
        free(b->history[(b->hist_head + i) % b->opt.history]);
    free(b->history);
    cq_chunk_unref(b->cur);
    buf_free(&b->in);
    free(b->conv);
    term_close(&b->out);
    chatfed_free(b->fed);
    free(b);
}

int chat_broker_start(const struct chat_options *o, struct chat_broker **out, char *addr,
                      size_t addrsz, const char **what)
{
    struct chat_broker *b = calloc(1, sizeof *b);
    void *apps[1];
    int rc;

    if (b == NULL)
        return -ENOMEM;
    b->opt = *o;
    if (b->opt.history > HISTORY_MAX)
        b->opt.history = HISTORY_MAX;
    buf_init(&b->in, o->msg_cap + 4096 + 2);
    b->history = calloc((size_t)(b->opt.history > 0 ? b->opt.history : 1), sizeof *b->history);
    b->conv = malloc(CONV_MAX);
    if (b->history == NULL || b->conv == NULL || term_open(&b->out, o->out_fd) < 0) {
        *what = "cannot start";
        broker_free(b);
        return -ENOMEM;
    }
    if (o->redis != NULL) { /* federation hook */
        struct chatfed_config fc = {.url = o->redis,
                                    .history = b->opt.history,
                                    .line_max = o->msg_cap + 256,
                                    .err_fd = o->err_fd};
        rc = chatfed_new(&fc, &fed_ops, b, &b->fed, what);
        if (rc < 0) {
            broker_free(b);
            return rc;
        }
    }
    apps[0] = b;
    struct srv_options so = {.bind = o->bind,
                             .port = o->port,
                             .threads = 1,
                             .max_conns = o->max_clients,
                             .tick_ms = 100,
                             .grace_ms = 0,
                             .proxy_from = o->proxy_from,
                             .proxy_wait = o->proxy_wait};
    rc = srv_start(&b->srv, &so, &broker_ops, apps, addr, addrsz, what);
    if (rc < 0) {
        broker_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

void chat_broker_stop(struct chat_broker *b)
{
    srv_stop(&b->srv);
}

void chat_broker_wait(struct chat_broker *b)
{
    srv_wait(&b->srv);
    broker_free(b);
}

/* ---- client ------------------------------------------------------------ */

/* Sends one line (with LF), converted to the wire's charset. */
static int client_send(const struct chat_options *o, int fd, char *conv, const char *t, size_t n)
{
    if (o->wire_charset != NULL) {
        long r = charset_convert(o->wire_charset, "UTF-8", t, n, conv, CONV_MAX);
        if (r < 0) {
            dprintf(o->err_fd, "ferry chat: that line cannot be written in %s; not sent\n",
                    o->wire_charset);
            return 0;
        }
        t = conv;
        n = (size_t)r;
    }
    struct buf out;
    buf_init(&out, n + 1);
    buf_append(&out, t, n);
    buf_append(&out, "\n", 1);
    size_t off = 0;
    int rc = 0;
    while (off < buf_len(&out)) {
        ssize_t w = sock_send(fd, buf_rptr(&out) + off, buf_len(&out) - off, 0);
        if (w == -EAGAIN) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            poll(&pf, 1, 1000);
            continue;
        }
        if (w < 0) {
            rc = (int)w;
            break;
        }
        off += (size_t)w;
    }
    buf_free(&out);
    return rc;
}

#define WELCOME_WAIT_MS 2000 /* a ferry broker greets at once; another server never does */
#define NICK_WAIT_MS 10000   /* for the broker's answer to a /nick (over Redis, a round trip) */
#define PROMPT "> "

/* The client's side of a /nick: until the broker answers, no line is
 * sent, so none goes out under a name the user did not mean. */
struct nick_wait {
    bool ferry;                     /* the broker greeted as ferry chat: it answers /nick */
    char me[NAME_MAX_LEN * 4 + 16]; /* our name, as the broker writes it */
    size_t me_len;
    bool heard;          /* a first line came from the server */
    int64_t greet_until; /* till then a typed /nick waits for the greeting */
    bool on;             /* a /nick waits for its answer */
    bool from_option;    /* that /nick was --name's */
    int64_t deadline;    /* past it, lines go on (the broker does not answer) */
};

/* The terminal's line editor (o->line_edit): the partial line is drawn
 * after the prompt and redrawn under every line that arrives. */
struct editor {
    bool on;
    int fd;
    struct ledit ed;
};

static void editor_draw(const struct editor *e)
{
    char out[LEDIT_MAX + 16];
    size_t n = 0;

    memcpy(out, "\r\033[K" PROMPT, sizeof "\r\033[K" PROMPT - 1);
    n = sizeof "\r\033[K" PROMPT - 1;
    memcpy(out + n, e->ed.buf, e->ed.len);
    fsx_write_all(e->fd, out, n + e->ed.len);
}

/* Takes the line away before a line from the network is shown. */
static void editor_hide(const struct editor *e)
{
    if (e->on)
        fsx_write_all(e->fd, "\r\033[K", 4);
}

/* One line from the broker: shown (between hiding the line being typed
 * and drawing it again), and looked at for what the client acts on.
 * Returns -EADDRINUSE when the broker refused a name whose lines must not
 * go out under another, else 0. */
static int client_heard(const struct chat_options *o, struct term *term, struct editor *ed,
                        struct nick_wait *nw, char *conv, const char *s, size_t n)
{
    struct chatmsg m;
    size_t text = n > 0 && s[n - 1] == '\n' ? n - 1 : n;

    if (text > 0 && s[text - 1] == '\r')
        text--;
    editor_hide(ed);
    show(term, o->wire_charset, conv, s, n);
    nw->heard = true;
    switch (chatmsg_classify(s, text, &m)) {
    case CHATMSG_WELCOME:
        nw->ferry = true;
        if (m.name_len < sizeof nw->me) {
            memcpy(nw->me, m.name, m.name_len);
            nw->me_len = m.name_len;
        }
        if (nw->on)
            nw->deadline = clock_ms() + NICK_WAIT_MS;
        break;
    case CHATMSG_RENAMED:
        if (nw->ferry && m.old_len == nw->me_len && memcmp(m.old, nw->me, m.old_len) == 0 &&
            m.name_len < sizeof nw->me) {
            memcpy(nw->me, m.name, m.name_len);
            nw->me_len = m.name_len;
            nw->on = false;
        }
        break;
    case CHATMSG_REFUSED:
        if (nw->on) {
            nw->on = false;
            /* On a terminal the lines typed after a /nick are still in
             * the editor: the user sees the refusal and decides. */
            if (nw->from_option || !ed->on)
                return -EADDRINUSE;
        }
        break;
    default:
        break;
    }
    if (nw->on && !nw->ferry)
        nw->on = false; /* its first line is no ferry welcome: nobody will answer the /nick */
    if (ed->on)
        editor_draw(ed);
    return 0;
}

int chat_client_run(const struct chat_options *o, volatile int *stop, const char **what)
{
    struct sockaddr_storage peer;
    struct buf in, net;
    char *conv = malloc(CONV_MAX);
    bool in_open = true, in_eof = false, quit = false;
    struct term term;
    struct nick_wait nw = {0};
    struct editor ed = {.on = o->line_edit, .fd = o->out_fd};
    int rc = 0;

    if (conv == NULL)
        return -ENOMEM;
    if (term_open(&term, o->out_fd) < 0) {
        free(conv);
        return -ENOMEM;
    }
    int fd = sock_connect(o->host, o->peer_port, SOCK_STREAM, 10000, &peer);
    if (fd < 0) {
        *what = CHAT_WHAT_CONNECT;
        free(conv);
        term_close(&term);
        return fd;
    }
    buf_init(&in, o->msg_cap + 4096 + 2);
    buf_init(&net, 64u << 10);
    ledit_init(&ed.ed, o->msg_cap);
    if (o->name != NULL) {
        char nick[NAME_MAX_LEN + 8];
        int n = snprintf(nick, sizeof nick, "/nick %s", o->name);
        client_send(o, fd, conv, nick, (size_t)(n < (int)sizeof nick ? n : (int)sizeof nick - 1));
        nw.on = true; /* until the broker answers, or shows it is no ferry broker */
        nw.from_option = true;
        nw.deadline = clock_ms() + WELCOME_WAIT_MS;
    }
    if (ed.on)
        editor_draw(&ed);
    nw.greet_until = clock_ms() + WELCOME_WAIT_MS;
    while (!*stop && rc == 0) {
        if (nw.on && clock_ms() >= nw.deadline)
            nw.on = false; /* no answer: not a ferry broker, or a slow one */
        struct line ln;
        bool greeting = false; /* a /nick typed before the server said whether it is ferry */
        while (!quit && !nw.on && line_next(buf_rptr(&in), buf_len(&in), o->msg_cap, in_eof, &ln)) {
            bool nick = ln.len > 6 && memcmp(ln.text, "/nick ", 6) == 0;
            greeting = nick && !nw.heard && clock_ms() < nw.greet_until;
            if (greeting)
                break;
            quit = chat_is_quit(ln.text, ln.len);
            if (client_send(o, fd, conv, ln.text, ln.len) < 0)
                quit = true;
            if (nw.ferry && nick) {
                nw.on = true;
                nw.from_option = false;
                nw.deadline = clock_ms() + NICK_WAIT_MS;
            }
            buf_consume(&in, ln.consumed);
        }
        if (quit || (in_eof && !nw.on && !greeting)) {
            /* Done typing: say so, then read until the server closes (it
             * sends what it still had), at most a moment. */
            shutdown(fd, SHUT_WR);
            editor_hide(&ed);
            struct pollfd last = {.fd = fd, .events = POLLIN};
            int64_t until = clock_ms() + 2000;
            while (clock_ms() < until && poll(&last, 1, (int)(until - clock_ms())) > 0) {
                char tmp[4096];
                ssize_t k = sock_recv(fd, tmp, sizeof tmp);
                if (k <= 0)
                    break;
                show(&term, o->wire_charset, conv, tmp, (size_t)k);
            }
            break;
        }
        /* A pipe's lines wait in the kernel while a /nick is answered; a
         * terminal's keys are still read, into the editor. */
        bool read_in = in_open && !in_eof && ((!nw.on && !greeting) || ed.on);
        int64_t until = nw.on ? nw.deadline : greeting ? nw.greet_until : -1;
        int timeout = until < 0 ? -1 : (int)(until > clock_ms() ? until - clock_ms() : 0);
        struct pollfd pf[2] = {{.fd = fd, .events = POLLIN}, {.fd = o->in_fd, .events = POLLIN}};
        int n = poll(pf, read_in ? 2 : 1, timeout);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            *what = "poll";
            break;
        }
        if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char *dst = buf_reserve(&net, 4096);
            ssize_t r = sock_recv(fd, dst, 4096);
            if (r == 0 || (r < 0 && r != -EAGAIN)) {
                while (line_next(buf_rptr(&net), buf_len(&net), buf_len(&net) + 1, true, &ln)) {
                    client_heard(o, &term, &ed, &nw, conv, ln.text, ln.consumed);
                    buf_consume(&net, ln.consumed);
                }
                editor_hide(&ed);
                dprintf(o->err_fd, r == 0 ? "ferry chat: the server closed the connection\n"
                                          : "ferry chat: connection lost: %s\n",
                        strerror((int)-r));
                break;
            }
            if (r > 0) {
                /* Whole lines at once so a multibyte character is never
                 * split between two conversions. */
                buf_commit(&net, (size_t)r);
                int pending = 0;
                bool drained = r < 4096 || (ioctl(fd, FIONREAD, &pending) == 0 && pending == 0);
                while (rc == 0 && line_next(buf_rptr(&net), buf_len(&net), 4096, drained, &ln)) {
                    rc = client_heard(o, &term, &ed, &nw, conv, ln.text, ln.consumed);
                    buf_consume(&net, ln.consumed);
                }
                if (rc < 0) {
                    *what = CHAT_WHAT_NAME;
                    break;
                }
            }
        }
        if (read_in && (pf[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            char tmp[4096];
            char *dst = ed.on ? tmp : buf_reserve(&in, sizeof tmp);
            ssize_t r = dst != NULL ? read(o->in_fd, dst, sizeof tmp) : 0;
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                in_eof = true;
                continue;
            }
            if (!ed.on) {
                buf_commit(&in, (size_t)r);
                continue;
            }
            for (ssize_t i = 0; i < r && !in_eof && !quit; i++) {
                switch (ledit_key(&ed.ed, (unsigned char)tmp[i])) {
                case LEDIT_REDRAW:
                    editor_draw(&ed);
                    break;
                case LEDIT_ENTER: {
                    char *at = nw.on ? NULL : buf_reserve(&in, ed.ed.len + 1);
                    if (at == NULL) {
                        fsx_write_all(ed.fd, "\a", 1); /* held until the broker answers the /nick */
                        break;
                    }
                    memcpy(at, ed.ed.buf, ed.ed.len);
                    at[ed.ed.len] = '\n';
                    buf_commit(&in, ed.ed.len + 1);
                    fsx_write_all(ed.fd, "\n", 1); /* the line stays on the screen as typed */
                    ledit_clear(&ed.ed);
                    editor_draw(&ed);
                    break;
                }
                case LEDIT_EOF:
                    in_eof = true;
                    break;
                case LEDIT_INTR:
                    quit = true;
                    break;
                default:
                    break;
                }
            }
        }
    }
    editor_hide(&ed);
    close(fd);
    buf_free(&in);
    buf_free(&net);
    free(conv);
    term_close(&term);
    return rc;
}
