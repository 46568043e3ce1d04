/* stream: a buffered, non-blocking connection for message protocols.
 *
 * Input is read into s->in (at most in_max bytes: a full buffer stops
 * reading until the owner consumes, which it does in on_data; a stream whose
 * peer hangs up meanwhile closes, since nothing could change). The owner may
 * also pause reading (stream_pause) and resume it later.
 *
 * Output waits in s->out, a queue of ranges of shared chunks (net/cq.h) of
 * at most out_max bytes. stream_write sends at once when nothing waits and
 * queues what the socket does not take, with EPOLLOUT armed until it
 * drains. stream_write_ref queues a range of a shared chunk without sending:
 * the owner calls stream_flush once per loop iteration, so that everything
 * queued meanwhile goes out in one writev. Both buffers are freed when
 * empty, so an idle stream holds no buffer memory. */
#ifndef FERRY_NET_STREAM_H
#define FERRY_NET_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "net/cq.h"
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
    struct buf in;
    struct cq out;
    bool closing; /* close once out has drained */
    bool paused;  /* the owner stopped reading (stream_pause) */
    bool eof;     /* the peer is done sending (seen while paused, or about to close) */
    bool in_cb;   /* inside on_data: closing is deferred to its end */
    bool dead;    /* closed while inside on_data */
    int dead_err;
    int failed;   /* a send failed: the stream closes at its next wakeup */
    uint64_t taken; /* bytes the socket has taken so far (a reader's progress) */
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

/* Queues c->data[off, off + n) (written already) without sending it; the
 * stream takes its own reference on c. Returns 0, -ENOBUFS when out_max
 * would be passed (nothing is queued), -ENOMEM, or -EPIPE when the stream
 * is closed or failing. The owner calls stream_flush later. */
int stream_write_ref(struct stream *s, struct cq_chunk *c, size_t off, size_t n);

/* Sends what is queued, in one writev where the socket takes it, and arms
 * EPOLLOUT for the rest. Returns 0 or -errno of a failed send; like
 * stream_write it never closes the stream on the spot. */
int stream_flush(struct stream *s);

/* What the stream costs while its peer does not read: the bytes queued
 * here, or the chunks they keep alive when that is more (cq_pinned), plus
 * what the kernel holds in the socket's send queue and has not sent yet
 * (SIOCOUTQNSD). Bytes sent and not yet acknowledged are not counted: a
 * reader that has them may only be late to acknowledge (a delayed ACK),
 * while a reader that does not read closes its window, and what is
 * queued after that stays unsent. */
size_t stream_unsent(const struct stream *s);

/* Stops reading (paused) or reads again. A paused stream reads nothing, so
 * TCP's window slows the peer; what it already sent waits in s->in and in
 * the socket. A paused stream with nothing to send is not watched at all,
 * so a hang-up meanwhile costs nothing until it resumes. Resuming offers
 * what waits in s->in to on_data at once (drained as the socket says).
 * Returns false when the stream closed meanwhile (on_close ran: s may be
 * gone), else true. Not from inside this stream's on_data when resuming. */
bool stream_pause(struct stream *s, bool paused);

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
static inline size_t stream_queued(const struct stream *s) { return cq_len(&s->out); }

#endif
