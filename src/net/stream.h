/* stream: a buffered, non-blocking connection for message protocols.
 *
 * Input is read into s->in (at most in_max bytes: a full buffer stops
 * reading until the owner consumes, which it does in on_data; a stream whose
 * peer hangs up meanwhile closes, since nothing could change). Output is written at once when the
 * socket takes it; what it does not take waits in s->out (at most out_max
 * bytes) with EPOLLOUT armed until it drains. Both buffers are freed when
 * empty, so an idle stream holds no buffer memory. */
#ifndef FERRY_NET_STREAM_H
#define FERRY_NET_STREAM_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "net/ev.h"

struct stream;

/* New bytes are in s->in. drained: the socket had no more for now (the
 * peer is waiting for us). The owner consumes what it used. */
typedef void (*stream_data_cb)(struct stream *s, bool drained);

/* The stream ended: err is 0 for the peer's orderly close (after what we
 * queued for it was sent) or our own close after a flush, else -errno. The fd is closed and the buffers
 * freed; the owner frees the struct it embeds the stream in. */
typedef void (*stream_close_cb)(struct stream *s, int err);

struct stream {
    struct ev_io io;
    struct ev_loop *loop;
    struct buf in, out;
    bool closing; /* close once out has drained */
    bool in_cb;   /* inside on_data: closing is deferred to its end */
    bool dead;    /* closed while inside on_data */
    int dead_err;
    int failed;   /* a send failed: the stream closes at its next wakeup */
    stream_data_cb on_data;
    stream_close_cb on_close;
};

/* Starts watching fd (non-blocking). Returns 0 or -errno; on failure fd is
 * left open for the caller. */
int stream_start(struct stream *s, struct ev_loop *loop, int fd, size_t in_max, size_t out_max,
                 stream_data_cb on_data, stream_close_cb on_close);

/* Queues bytes: sent now where the socket allows, the rest buffered.
 * Returns 0, -ENOBUFS when out_max would be passed (nothing is queued then:
 * the owner decides, e.g. to drop a client that does not read), or -errno
 * of a failed send. Never closes the stream itself: after a failed send it
 * closes at its next wakeup, so an owner may write to many streams in a
 * loop without any of them vanishing under it. */
int stream_write(struct stream *s, const void *p, size_t n);

/* Sends what is queued, then closes (on_close with 0). */
void stream_close_after_flush(struct stream *s);

/* Closes now; on_close runs with err. */
void stream_close(struct stream *s, int err);

/* Runs on_data again over the input already buffered, for an owner that
 * held it back and can take it now (chat: a /nick that waited for Redis),
 * then re-arms as after a read, so a full input buffer reads again. on_data
 * may close the stream, as always. No-op from inside on_data. */
void stream_redeliver(struct stream *s, bool drained);

/* Bytes waiting in the output queue. */
static inline size_t stream_queued(const struct stream *s) { return buf_len(&s->out); }

#endif
