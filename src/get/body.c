#include "get/body.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsx.h"
#include "net/sock.h"
#include "proto/http.h"

int body_mover_init(struct body_mover *m)
{
    memset(m, 0, sizeof *m);
    m->pipe[0] = m->pipe[1] = -1;
    m->io = malloc(BODY_IOBUF);
    return m->io == NULL ? -ENOMEM : 0;
}

void body_mover_free(struct body_mover *m)
{
    if (m->pipe[0] >= 0) {
        close(m->pipe[0]);
        close(m->pipe[1]);
    }
    free(m->io);
    m->io = NULL;
    m->pipe[0] = m->pipe[1] = -1;
}

/* One step's outcome. */
enum step { STEP_OK, STEP_EOF, STEP_NET, STEP_LOCAL };

/* Empties what the pipe holds (n bytes) into fd with read and write, for
 * an output that refused splice. 0 or -errno. */
static int pipe_drain_copy(struct body_mover *m, int fd, size_t n)
{
    while (n > 0) {
        ssize_t r = read(m->pipe[0], m->io, n < BODY_IOBUF ? n : BODY_IOBUF);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -errno : -EIO;
        int rc = fsx_write_all(fd, m->io, (size_t)r);
        if (rc < 0)
            return rc;
        n -= (size_t)r;
    }
    return 0;
}

/* Moves body bytes from a direct socket to fd through m->pipe with
 * splice(2), so they never cross user space. Sets m->no_splice (having
 * moved nothing) when the socket or the pipe cannot, and the caller copies
 * instead. */
static enum step splice_step(struct body_mover *m, struct xport *x, int fd, size_t want,
                             int timeout_ms, size_t *moved, int *err)
{
    if (m->pipe[0] < 0) {
        if (pipe2(m->pipe, O_CLOEXEC) < 0) {
            m->pipe[0] = m->pipe[1] = -1;
            m->no_splice = true;
            return STEP_OK;
        }
        /* Best effort: a bigger pipe means fewer calls per megabyte. */
        (void)fcntl(m->pipe[1], F_SETPIPE_SZ, (int)BODY_SPLICE_MAX);
    }
    ssize_t n = xp_take(x, m->pipe[1], want, BODY_SPLICE_MAX, timeout_ms);
    if (n == -EINVAL) {
        m->no_splice = true;
        return STEP_OK;
    }
    if (n < 0) {
        *err = (int)n;
        return STEP_NET;
    }
    if (n == 0)
        return STEP_EOF;
    size_t inpipe = (size_t)n;
    while (inpipe > 0) {
        ssize_t w = sock_splice(m->pipe[0], fd, inpipe, false);
        if (w == -EINVAL) {
            /* An O_APPEND file, say: no splice there. Copy from now on. */
            m->no_splice = true;
            int rc = pipe_drain_copy(m, fd, inpipe);
            if (rc < 0) {
                *err = rc;
                return STEP_LOCAL;
            }
            *moved += inpipe;
            return STEP_OK;
        }
        if (w <= 0) {
            *err = w < 0 ? (int)w : -EIO;
            return STEP_LOCAL;
        }
        inpipe -= (size_t)w;
        *moved += (size_t)w;
    }
    return STEP_OK;
}

/* Moves up to want raw bytes from x to j's output: the fastest way there
 * is (see body.h). *moved gets the count; *err the -errno of STEP_NET or
 * STEP_LOCAL. */
static enum step raw_step(struct body_mover *m, struct xport *x, const struct body_job *j,
                          size_t want, size_t *moved, int *err)
{
    *moved = 0;
    *err = 0;
    if (xp_direct(x)) {
        if (j->discard) {
            ssize_t n = xp_take(x, -1, want, BODY_SPLICE_MAX, j->timeout_ms);
            if (n <= 0) {
                *err = (int)n;
                return n == 0 ? STEP_EOF : STEP_NET;
            }
            *moved = (size_t)n;
            return STEP_OK;
        }
        if (!m->no_splice) {
            enum step s = splice_step(m, x, j->fd, want, j->timeout_ms, moved, err);
            if (s != STEP_OK || *moved > 0)
                return s; /* else splice was refused: copy below */
        }
    }
    ssize_t n = xp_read(x, m->io, want < BODY_IOBUF ? want : BODY_IOBUF, j->timeout_ms);
    if (n < 0) {
        *err = (int)n;
        return STEP_NET;
    }
    if (n == 0)
        return STEP_EOF;
    int rc = j->discard ? 0 : fsx_write_all(j->fd, m->io, (size_t)n);
    if (rc < 0) {
        *err = rc;
        return STEP_LOCAL;
    }
    *moved = (size_t)n;
    return STEP_OK;
}

static void progress(struct body_job *j)
{
    if (j->progress != NULL)
        j->progress(j->arg, j->moved);
}

/* A chunked body, decoded in m->io; the data of a large chunk (ferry
 * serve sends a file with a trailer digest as one) is moved like a body of
 * known length instead, by splice when it can be, once the transport has
 * nothing buffered. */
static enum body_result move_chunked(struct body_mover *m, struct xport *x, struct body_job *j)
{
    struct http_chunked own;
    struct http_chunked *ch = j->chunked != NULL ? j->chunked : &own;

    memset(ch, 0, sizeof *ch);
    for (;;) {
        uint64_t data = http_chunked_data_left(ch);
        if (data >= BODY_IOBUF && xp_direct(x)) {
            size_t moved;
            int err;
            enum step s = raw_step(m, x, j, data < SIZE_MAX ? (size_t)data : SIZE_MAX, &moved, &err);
            http_chunked_skip(ch, moved);
            j->moved += (int64_t)moved;
            if (s == STEP_OK) {
                progress(j);
                continue;
            }
            j->err = s == STEP_EOF ? 0 : err; /* a chunk cut short is a cut body */
            return s == STEP_LOCAL ? BODY_LOCAL : BODY_CUT;
        }
        bool from_buf = x->pos < x->len;
        ssize_t n = xp_read(x, m->io, BODY_IOBUF, j->timeout_ms);
        if (n <= 0) {
            j->err = (int)n;
            return BODY_CUT;
        }
        size_t len = (size_t)n;
        ssize_t end = http_chunked_decode(ch, m->io, &len);
        if (end == HTTP_PARSE_INVALID)
            return BODY_MALFORMED;
        int rc = j->discard ? 0 : fsx_write_all(j->fd, m->io, len);
        if (rc < 0) {
            j->err = rc;
            return BODY_LOCAL;
        }
        j->moved += (int64_t)len;
        progress(j);
        if (end > 0)
            xp_unread(x, m->io + n - end, (size_t)end, from_buf);
        if (end >= 0)
            return BODY_DONE;
    }
}

enum body_result body_move(struct body_mover *m, struct xport *x, struct body_job *j)
{
    j->moved = 0;
    j->err = 0;
    if (j->framing == BODY_CHUNKED)
        return move_chunked(m, x, j);
    bool until_close = j->framing == BODY_UNTIL_CLOSE;
    int64_t left = until_close ? -1 : j->length;
    while (left != 0) {
        size_t moved;
        int err;
        enum step s = raw_step(m, x, j, left < 0 ? SIZE_MAX : (size_t)left, &moved, &err);
        j->moved += (int64_t)moved;
        if (left > 0)
            left -= (int64_t)moved;
        switch (s) {
        case STEP_OK:
            progress(j);
            continue;
        case STEP_EOF:
            /* A clean end: the body's end only when framed by it. */
            return until_close ? BODY_DONE : BODY_CUT;
        case STEP_NET:
            j->err = err;
            return BODY_CUT;
        case STEP_LOCAL:
            j->err = err;
            return BODY_LOCAL;
        }
    }
    return BODY_DONE;
}
