/* body: moving a response body from the client's transport to where it
 * goes, in one place.
 *
 * One call moves one body whatever its framing (Content-Length, chunked,
 * until the connection ends) and its destination (a file, a pipe or
 * terminal, or nowhere). The movers, fastest first: bytes already buffered
 * in the transport; on plain TCP straight from the socket, dropped in the
 * kernel when they go nowhere (recv MSG_TRUNC) or spliced socket -> pipe
 * -> file; otherwise (TLS, an output that refuses splice) copied through
 * one buffer. A chunked body is decoded in place in that buffer; the bytes
 * read past its end go back to the transport (the next answer of a
 * pipeline). */
#ifndef FERRY_GET_BODY_H
#define FERRY_GET_BODY_H

#include <stdbool.h>
#include <stdint.h>

#include "net/xport.h"

#define BODY_IOBUF (64u << 10) /* measured: bigger buffers copy out of cache (docs/BENCHMARKS.md) */
#define BODY_SPLICE_MAX (1u << 20) /* the pipe asked for; the most one splice moves */
_Static_assert(BODY_IOBUF <= XP_BUF, "what a chunked read took too far goes back in the transport");

/* What moving bodies needs across calls: the copy buffer and the pipe. */
struct body_mover {
    char *io;       /* BODY_IOBUF bytes */
    int pipe[2];    /* -1 until first used */
    bool no_splice; /* the pipe failed once: copy from then on */
};

enum body_framing {
    BODY_LENGTH,      /* exactly length bytes */
    BODY_CHUNKED,     /* chunked transfer coding, decoded */
    BODY_UNTIL_CLOSE, /* until the peer ends the stream cleanly */
};

typedef void (*body_progress_cb)(void *arg, int64_t moved);

struct http_chunked;

/* One body to move. */
struct body_job {
    enum body_framing framing;
    int64_t length;       /* BODY_LENGTH */
    int fd;               /* where the bytes go; ignored with discard */
    bool discard;         /* count them, keep nothing */
    int timeout_ms;       /* the longest wait for the peer */
    body_progress_cb progress; /* NULL, or called after each step with the total */
    void *arg;
    struct http_chunked *chunked; /* BODY_CHUNKED: the decoder, zeroed; its trailer
                                   * fields are there afterwards. NULL: one of its own */
    /* out */
    int64_t moved;        /* body bytes moved (decoded for chunked) */
    int err;              /* BODY_CUT: 0 (a clean early end) or the -errno;
                           * BODY_LOCAL: the -errno of the output */
};

enum body_result {
    BODY_DONE,      /* the whole body arrived */
    BODY_CUT,       /* the stream ended, failed or stalled before the body did */
    BODY_MALFORMED, /* the chunked framing is broken */
    BODY_LOCAL,     /* the output failed */
};

/* Sets up m. 0 or -ENOMEM. */
int body_mover_init(struct body_mover *m);
void body_mover_free(struct body_mover *m);

/* Moves the body j describes from x to j->fd (see the top of this file).
 * Progress goes to j->progress; the count and any error to j->moved and
 * j->err. Under TLS a body framed by the end of the stream ends only at the
 * peer's close_notify: a cut stream is BODY_CUT with XP_ECUT. */
enum body_result body_move(struct body_mover *m, struct xport *x, struct body_job *j);

#endif
