#include "net/stream.h"

#include <errno.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "net/sock.h"

#define READ_CHUNK 4096
#define READS_PER_WAKEUP 16 /* so one flooding peer cannot starve others */
#define IOV_MAX_SEND 64     /* ranges per writev */

static void on_io(struct ev_loop *loop, struct ev_io *io, uint32_t events);

static uint32_t wanted_events(const struct stream *s)
{
    uint32_t ev = 0;

    if (!s->closing && !s->eof && !s->paused && buf_len(&s->in) < s->in.max)
        ev |= EPOLLIN;
    if (cq_len(&s->out) > 0)
        ev |= EPOLLOUT;
    /* Paused with nothing to send: not watched at all (0), since a hang-up
     * must wait until the owner reads again, not spin meanwhile. */
    if (ev == 0 && s->paused && !s->closing)
        return 0;
    /* Wanting nothing, stay registered for what epoll reports regardless,
     * errors and hang-ups (events 0 would mean "not registered" to ev).
     * Not EPOLLRDHUP: level triggered, it would fire on and on after the
     * peer's FIN while a full input buffer keeps us from reading it. */
    return ev ? ev : EPOLLERR | EPOLLHUP;
}

/* The socket's pending error as -errno, or 0. */
static int pending_error(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -errno;
    return -err;
}

static void finish(struct stream *s, int err)
{
    if (s->in_cb) {
        /* The owner is still using s: close when on_data returns. */
        if (!s->dead) {
            s->dead = true;
            s->dead_err = err;
        }
        return;
    }
    ev_io_stop(s->loop, &s->io);
    close(s->io.fd);
    s->io.fd = -1;
    buf_free(&s->in);
    cq_free(&s->out);
    s->on_close(s, err);
}

/* Runs on_data; returns false when the stream was closed meanwhile. */
static bool deliver(struct stream *s, bool drained)
{
    s->in_cb = true;
    s->on_data(s, drained);
    s->in_cb = false;
    if (s->dead) {
        finish(s, s->dead_err);
        return false;
    }
    return true;
}

/* The peer is done sending: what it sent last is a message, and what we
 * queue for it still goes out before we close, unless the owner paused
 * with input left (it resumes, and the close comes then). Returns false
 * when the stream was closed meanwhile. */
static bool at_eof(struct stream *s)
{
    if (buf_len(&s->in) > 0 && !deliver(s, true))
        return false;
    if (!s->paused)
        s->closing = true;
    return true;
}

/* Re-arms the watcher for what the stream needs now, or closes it when it
 * is closing and has nothing left to send. */
static void update(struct stream *s)
{
    if (s->failed)
        return; /* EPOLLOUT is armed; on_io closes */
    if (s->closing && cq_len(&s->out) == 0) {
        finish(s, 0);
        return;
    }
    if (buf_len(&s->in) == 0)
        buf_free(&s->in);
    uint32_t ev = wanted_events(s);
    int rc = 0;
    if (ev == 0)
        rc = ev_io_stop(s->loop, &s->io);
    else if (s->io.events == 0)
        rc = ev_io_start(s->loop, &s->io, s->io.fd, ev, on_io);
    else
        rc = ev_io_set(s->loop, &s->io, ev);
    if (rc < 0)
        finish(s, rc);
}

/* Writes queued output, up to IOV_MAX_SEND ranges a writev, until the
 * socket stops taking it. Returns 0 or -errno of a failed send. */
static int flush(struct stream *s)
{
    while (cq_len(&s->out) > 0) {
        struct iovec iov[IOV_MAX_SEND];
        int k = cq_iov(&s->out, iov, IOV_MAX_SEND);
        ssize_t n = sock_sendv(s->io.fd, iov, k, 0);
        if (n == -EAGAIN)
            return 0;
        if (n < 0)
            return (int)n;
        cq_consume(&s->out, (size_t)n);
        s->taken += (uint64_t)n;
    }
    return 0;
}

/* Wakes the stream up soon (the socket is writable, or in error) to do
 * in on_io what must not happen under the caller: closing. */
static void wake_soon(struct stream *s)
{
    if (s->io.events == 0)
        ev_io_start(s->loop, &s->io, s->io.fd, EPOLLOUT, on_io);
    else
        ev_io_set(s->loop, &s->io, EPOLLOUT);
}

/* A send failed: remember it and close at the next wakeup, so no caller
 * sees the stream vanish. */
static int fail(struct stream *s, int err)
{
    s->failed = err;
    wake_soon(s);
    return err;
}

int stream_start(struct stream *s, struct ev_loop *loop, int fd, size_t in_max, size_t out_max,
                 stream_data_cb on_data, stream_close_cb on_close)
{
    s->loop = loop;
    buf_init(&s->in, in_max);
    cq_init(&s->out, out_max);
    s->closing = s->in_cb = s->dead = s->paused = s->eof = false;
    s->dead_err = 0;
    s->failed = 0;
    s->taken = 0;
    s->on_data = on_data;
    s->on_close = on_close;
    return ev_io_start(loop, &s->io, fd, EPOLLIN, on_io);
}

void stream_close(struct stream *s, int err)
{
    finish(s, err);
}

int stream_write(struct stream *s, const void *p, size_t n)
{
    if (s->dead || s->failed || s->io.fd < 0)
        return -EPIPE;
    if (cq_len(&s->out) == 0) {
        ssize_t w = sock_send(s->io.fd, p, n, 0);
        if (w < 0 && w != -EAGAIN)
            return fail(s, (int)w);
        if (w > 0) {
            s->taken += (uint64_t)w;
            p = (const char *)p + w;
            n -= (size_t)w;
        }
        if (n == 0)
            return 0;
    }
    int rc = cq_append(&s->out, p, n);
    if (rc < 0)
        return rc;
    if (!s->in_cb)
        update(s);
    return 0;
}

int stream_write_ref(struct stream *s, struct cq_chunk *c, size_t off, size_t n)
{
    if (s->dead || s->failed || s->io.fd < 0)
        return -EPIPE;
    return cq_push(&s->out, c, off, n);
}

int stream_flush(struct stream *s)
{
    if (s->dead || s->failed || s->io.fd < 0)
        return -EPIPE;
    if (cq_len(&s->out) == 0)
        return 0;
    int rc = flush(s);
    if (rc < 0)
        return fail(s, rc);
    if (s->closing && cq_len(&s->out) == 0)
        wake_soon(s); /* drained: on_io closes it, not us under the caller */
    else if (!s->in_cb)
        update(s);
    return 0;
}

size_t stream_unsent(const struct stream *s)
{
    int outq = 0;
    size_t held = cq_pinned(&s->out) > cq_len(&s->out) ? cq_pinned(&s->out) : cq_len(&s->out);

    if (s->io.fd >= 0 && ioctl(s->io.fd, SIOCOUTQNSD, &outq) == 0 && outq > 0)
        return held + (size_t)outq;
    return held;
}

/* True when the kernel holds no more input for s. */
static bool socket_drained(const struct stream *s)
{
    int pending = 1;

    return ioctl(s->io.fd, FIONREAD, &pending) == 0 && pending == 0;
}

bool stream_pause(struct stream *s, bool paused)
{
    if (s->io.fd < 0 || s->paused == paused)
        return s->io.fd >= 0;
    s->paused = paused;
    if (s->in_cb)
        return true; /* on_io re-arms after on_data */
    if (!paused && !s->failed) {
        if (s->eof && !at_eof(s))
            return false;
        if (!s->eof && buf_len(&s->in) > 0 && !deliver(s, socket_drained(s)))
            return false;
    }
    if (s->failed) {
        finish(s, s->failed);
        return false;
    }
    update(s);
    return s->io.fd >= 0;
}

void stream_redeliver(struct stream *s, bool drained)
{
    if (s->in_cb || s->dead || s->io.fd < 0 || s->paused)
        return; /* a paused stream delivers when it is resumed */
    if (buf_len(&s->in) > 0 && !deliver(s, drained))
        return;
    update(s);
}

void stream_close_after_flush(struct stream *s)
{
    s->closing = true;
    if (!s->in_cb)
        update(s);
}

static void on_io(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    struct stream *s = container_of(io, struct stream, io);
    (void)loop;

    if (s->failed) {
        finish(s, s->failed);
        return;
    }
    if (events & EPOLLOUT) {
        int rc = flush(s);
        if (rc < 0) {
            finish(s, rc);
            return;
        }
    }
    for (int i = 0; i < READS_PER_WAKEUP && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)); i++) {
        if (s->closing || s->eof || s->paused || buf_len(&s->in) >= s->in.max)
            break;
        size_t want = s->in.max - buf_len(&s->in);
        if (want > READ_CHUNK)
            want = READ_CHUNK;
        char *p = buf_reserve(&s->in, want);
        if (p == NULL) {
            finish(s, -ENOMEM);
            return;
        }
        ssize_t n = sock_recv(s->io.fd, p, want);
        if (n == -EAGAIN)
            break;
        if (n < 0) {
            finish(s, (int)n);
            return;
        }
        if (n == 0) {
            s->eof = true;
            if (!at_eof(s))
                return;
            break;
        }
        buf_commit(&s->in, (size_t)n);
        /* A short read emptied the socket; after a full one, ask the
         * kernel whether anything is still pending. */
        bool drained = (size_t)n < want || socket_drained(s);
        if (!deliver(s, drained))
            return;
        if (drained)
            break;
    }
    if ((events & (EPOLLHUP | EPOLLERR)) && !s->closing && !s->paused &&
        buf_len(&s->in) >= s->in.max && cq_len(&s->out) == 0) {
        /* The peer is gone (or the socket failed) while a full input buffer
         * keeps us from reading and nothing waits to be sent: nothing can
         * change any more, and the event would repeat. Our queue is empty,
         * so a hang-up without an error is the peer's orderly close. */
        finish(s, pending_error(s->io.fd));
        return;
    }
    update(s);
}
