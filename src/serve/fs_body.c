/* Sending a response: the head and small bodies from the exchange's own
 * buffer, a generated page, then a file range the way --send-mode says
 * (sendfile, read/write through a per-thread buffer, or splice through a
 * pipe). Every byte that leaves is counted in x->sent for the access log.
 * Under TLS (net/sio) the bytes are encrypted from a buffer: splice has no
 * buffer to give, so it becomes the sendfile mode, which sio turns into a
 * pread and a write.
 *
 * A file whose Repr-Digest is not known yet goes chunked to a client that
 * takes trailers (fs_body_trailer_start), its digest in the trailer
 * section. While a digest thread is free (fs_follow) the file goes as one
 * chunk by sendfile (or splice, as --send-mode says), the thread hashing
 * the same file beside the send; the trailer leaves once both are done. Otherwise by
 * read and write through rwbuf in chunks of FS_RW_BUF, each byte hashed
 * as it leaves (sendfile never shows it). Either way the digest goes only
 * when the file is still the version opened once all is sent and hashed
 * (fs_digest_store): a file changed meanwhile gets an empty trailer. A
 * write after that check can still reach bytes that sendfile left in the
 * socket buffer (those are page cache pages); the client's check then
 * fails, which is the safe way to be wrong. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "serve/fs.h"
#include "serve/fs_digest.h"
#include "serve/fs_follow.h"
#include "core/hash.h"
#include "net/sio.h"

#define SEND_BUDGET (8u << 20) /* bytes for one connection per wakeup */
#define SENDFILE_CHUNK (4u << 20)

void fs_body_free(struct body_src *s)
{
    if (s->page != NULL) {
        buf_free(s->page);
        free(s->page);
        s->page = NULL;
    }
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    if (s->pipe_fd[0] >= 0) {
        close(s->pipe_fd[0]);
        close(s->pipe_fd[1]);
        s->pipe_fd[0] = s->pipe_fd[1] = -1;
    }
    s->piped = 0;
    fs_follow_release(&s->follow);
    hash_free(s->hash);
    s->hash = NULL;
    fs_archive_free(&s->archive);
    fs_list_free(&s->list);
    fs_davprop_free(&s->dav);
}

/* Sends the next part of the file range. Returns bytes sent, 0 when the
 * file ended early, or -errno (-EAGAIN when the socket is full). */
static ssize_t send_file_part(struct conn *c)
{
    struct worker *w = c->w;
    struct body_src *s = &c->x->src;
    size_t want = (size_t)(s->end - s->off);
    ssize_t n;

    if (want > SENDFILE_CHUNK)
        want = SENDFILE_CHUNK;
    if (s->hash != NULL && want > s->chunk_left)
        want = (size_t)s->chunk_left;
    enum fs_send_mode mode = s->hash != NULL ? FS_SEND_READWRITE : w->srv->opt.send_mode;
    if (mode == FS_SEND_AUTO)
        /* Measured (docs/BENCHMARKS.md): over loopback, copying through a
         * cache-warm buffer beat our (uncorked) sendfile 1.3-1.6x for large
         * files; over a NIC, sendfile saves the copy. With a digest thread
         * beside the send, the hashing is the slower of the two and
         * sendfile leaves it the CPU that the copy would take. */
        mode = (c->flags & FL_LOOPBACK) && s->follow == NULL ? FS_SEND_READWRITE
                                                              : FS_SEND_SENDFILE;
    if (mode == FS_SEND_SPLICE && c->tls != NULL)
        mode = FS_SEND_SENDFILE;
    if (mode != FS_SEND_SPLICE && w->rwbuf == NULL && (mode == FS_SEND_READWRITE || c->tls != NULL))
        w->rwbuf = malloc(FS_RW_BUF);
    switch (mode) {
    case FS_SEND_READWRITE:
        if (w->rwbuf == NULL)
            return -ENOMEM;
        if (want > FS_RW_BUF)
            want = FS_RW_BUF;
        n = pread(s->fd, w->rwbuf, want, s->off);
        if (n <= 0)
            return n < 0 ? -errno : 0;
        /* Bytes the socket does not take are read again next time: the
         * buffer belongs to the thread, not the connection. */
        struct iovec iov = {w->rwbuf, (size_t)n};
        n = sio_sendv(c->io.fd, c->tls, &iov, 1, false);
        if (n > 0) {
            s->off += n;
            if (s->hash != NULL)
                hash_update(s->hash, w->rwbuf, (size_t)n);
        }
        return n;
    case FS_SEND_SPLICE:
        if (s->pipe_fd[0] < 0 && pipe2(s->pipe_fd, O_NONBLOCK | O_CLOEXEC) < 0) {
            s->pipe_fd[0] = s->pipe_fd[1] = -1;
            return -errno;
        }
        if (s->piped == 0) {
            n = splice(s->fd, &s->off, s->pipe_fd[1], NULL, want, SPLICE_F_MOVE);
            if (n <= 0)
                return n < 0 ? -errno : 0;
            s->piped = (uint32_t)n;
        }
        n = splice(s->pipe_fd[0], NULL, c->io.fd, NULL, s->piped,
                   SPLICE_F_MOVE | SPLICE_F_NONBLOCK | (s->off < s->end ? SPLICE_F_MORE : 0));
        if (n < 0)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        s->piped -= (uint32_t)n;
        return n > 0 ? n : -EAGAIN;
    case FS_SEND_AUTO:
    case FS_SEND_SENDFILE:
        break;
    }
    if (c->tls != NULL && w->rwbuf == NULL)
        return -ENOMEM;
    return sio_send_file(c->io.fd, c->tls, s->fd, &s->off, want, w->rwbuf, FS_RW_BUF);
}

/* Puts the last chunk into x->out, with sha (the digest of the file's
 * bytes sent) as a trailer field, unless the file is no longer the version
 * opened (fs_digest_store), when the trailer section is empty. 0 or -errno. */
static int trailer_digest(struct conn *c, const unsigned char sha[DIGEST_SHA256_LEN])
{
    struct xchg *x = c->x;
    char field[DIGEST_FIELD_LEN + 1];

    if (!fs_digest_store(c->w->srv->digest, x->src.fd, &x->src.hash_st, sha))
        return buf_puts(&x->out, "0\r\n\r\n");
    digest_field_format(sha, field);
    return buf_printf(&x->out, "0\r\nRepr-Digest: %s\r\n\r\n", field);
}

/* Puts the framing that follows the bytes sent so far into x->out (which
 * is empty): the CR LF that ends a chunk (after), then the next chunk's
 * size line, or at the file's end the last chunk with the digest of the
 * bytes sent as a trailer field, unless the file changed while they were
 * sent. 0 or -errno. */
static int trailer_frame(struct conn *c, bool after)
{
    struct xchg *x = c->x;
    struct body_src *s = &x->src;
    uint64_t left = (uint64_t)(s->end - s->off);

    int rc = after ? buf_puts(&x->out, "\r\n") : 0;
    if (rc == 0 && left > 0) {
        s->chunk_left = left < FS_RW_BUF ? left : FS_RW_BUF;
        return buf_printf(&x->out, "%llx\r\n", (unsigned long long)s->chunk_left);
    }
    if (rc < 0)
        return rc;
    unsigned char sha[DIGEST_SHA256_LEN];
    hash_final(s->hash, sha);
    s->hash = NULL;
    return trailer_digest(c, sha);
}

/* The file is out in its one chunk: once the thread hashing it beside the
 * send is back, the chunk's end and the trailer go into x->out (which is
 * empty). 0, -EAGAIN while the thread runs (it drives c when it is back),
 * or -errno. */
static int follow_frame(struct conn *c)
{
    struct xchg *x = c->x;
    struct body_src *s = &x->src;
    unsigned char sha[DIGEST_SHA256_LEN];

    int hashed = fs_follow_result(s->follow, sha);
    if (hashed == -EAGAIN)
        return hashed;
    fs_follow_release(&s->follow);
    int rc = buf_puts(&x->out, "\r\n");
    if (rc < 0)
        return rc;
    if (hashed < 0) /* a read error, the file shorter, the server stopping */
        return buf_puts(&x->out, "0\r\n\r\n");
    return trailer_digest(c, sha);
}

int fs_body_trailer_start(struct conn *c, const struct stat *st)
{
    struct body_src *s = &c->x->src;

    s->hash_st = *st;
    s->follow = fs_follow_begin(c, s->fd, (uint64_t)s->end);
    if (s->follow != NULL) {
        s->chunk_left = (uint64_t)(s->end - s->off);
        return buf_printf(&c->x->out, "%llx\r\n", (unsigned long long)s->chunk_left);
    }
    s->hash = hash_new();
    if (s->hash == NULL)
        return -ENOMEM;
    s->chunk_left = 0;
    return trailer_frame(c, false);
}

/* Sends from x->out, the page and the file, in that order, until all is
 * out (BODY_DONE), the socket is full (BODY_AGAIN), this wakeup's budget
 * is spent (BODY_BUDGET), the trailer waits for the digest thread
 * (BODY_WAIT) or the connection failed or the file shrank under a
 * promised length (BODY_FAILED). */
enum body_result fs_body_send(struct conn *c)
{
    struct xchg *x = c->x;
    struct body_src *s = &x->src;
    size_t budget = SEND_BUDGET;

    for (;;) {
        size_t outlen = buf_len(&x->out);
        if ((s->archive != NULL || s->list != NULL || s->dav != NULL) && outlen == 0 &&
            buf_len(s->page) == 0) {
            /* the next part of an archive (fs_archive.c), a page (fs_list.c)
             * or a multistatus (fs_davprop.c) */
            int rc = s->archive != NULL ? fs_archive_fill(s)
                     : s->list != NULL  ? fs_list_fill(s)
                                        : fs_davprop_fill(s);
            if (rc == -EAGAIN)
                return BODY_BUDGET;
            if (rc < 0)
                return BODY_FAILED;
        }
        size_t pagelen = s->page ? buf_len(s->page) : 0;
        bool file_left = s->fd >= 0 && (s->off < s->end || s->piped > 0);
        ssize_t n;

        if (outlen > 0 || pagelen > 0) {
            struct iovec iov[2];
            int cnt = 0;
            if (outlen > 0)
                iov[cnt++] = (struct iovec){(void *)buf_rptr(&x->out), outlen};
            if (pagelen > 0)
                iov[cnt++] = (struct iovec){(void *)buf_rptr(s->page), pagelen};
            n = sio_sendv(c->io.fd, c->tls, iov, cnt, file_left);
            if (n > 0) {
                size_t from_out = (size_t)n < outlen ? (size_t)n : outlen;
                buf_consume(&x->out, from_out);
                if ((size_t)n > from_out)
                    buf_consume(s->page, (size_t)n - from_out);
            }
        } else if (file_left) {
            n = send_file_part(c);
            if (n == 0)
                return BODY_FAILED; /* the file shrank: we cannot keep our promise */
            if (n > 0 && s->hash != NULL) {
                s->chunk_left -= (uint64_t)n;
                if (s->chunk_left == 0 && trailer_frame(c, true) < 0)
                    return BODY_FAILED;
            }
        } else if (s->follow != NULL) {
            int rc = follow_frame(c);
            if (rc == -EAGAIN)
                return BODY_WAIT;
            if (rc < 0)
                return BODY_FAILED;
            continue;
        } else {
            return BODY_DONE;
        }
        if (n == -EAGAIN)
            return BODY_AGAIN;
        if (n < 0)
            return BODY_FAILED;
        x->sent += (uint64_t)n;
        if ((size_t)n >= budget)
            return BODY_BUDGET; /* let other connections have a turn */
        budget -= (size_t)n;
    }
}
