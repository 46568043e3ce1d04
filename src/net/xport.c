#include "net/xport.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/sock.h"

void xp_init(struct xport *x)
{
    memset(x, 0, sizeof *x);
    x->fd = -1;
}

int xp_connect(struct xport *x, const char *host, uint16_t port, int timeout_ms,
               struct sockaddr_storage *peer)
{
    int one = 1;

    x->buf = malloc(XP_BUF);
    if (x->buf == NULL)
        return -ENOMEM;
    int fd = sock_connect(host, port, SOCK_STREAM, timeout_ms, peer);
    if (fd < 0) {
        free(x->buf);
        x->buf = NULL;
        return fd;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    x->fd = fd;
    x->lowat = 1; /* the kernel's default */
    return 0;
}

int xp_start_tls(struct xport *x, const char *host, const char *cacert, bool insecure,
                 const unsigned char *pin, int timeout_ms, char *err, size_t errsz)
{
    x->refused_fp[0] = '\0';
    return tls_connect(x->fd, host, cacert, insecure, pin, timeout_ms, &x->tls, err, errsz,
                       x->refused_fp);
}

bool xp_tls_info(const struct xport *x, const char **version, const char **cipher)
{
    if (x->tls == NULL)
        return false;
    *version = tls_version(x->tls);
    *cipher = tls_cipher(x->tls);
    return true;
}

/* Sets how many bytes must be queued before the kernel wakes us
 * (SO_RCVLOWAT): XP_LOWAT_MAX while at least that much of a bulk body is
 * to come, else 1. Each wakeup costs the sender's CPU on loopback, so fewer
 * and fuller reads are faster; only two values, so a shrinking remainder
 * costs no setsockopt per read. */
static void set_lowat(struct xport *x, bool bulk)
{
    int v = bulk ? (int)XP_LOWAT_MAX : 1;

    if (v != x->lowat && setsockopt(x->fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v) == 0)
        x->lowat = v;
}

/* Counts what a network read returned and remembers how the stream ended. */
static ssize_t account(struct xport *x, ssize_t r)
{
    if (r > 0)
        x->received += (uint64_t)r;
    else if (r == 0)
        x->ended = true;
    else if (r != -ETIMEDOUT)
        x->broken = true;
    return r;
}

/* Reads from the network (not the buffer). Bytes, 0 at a clean end, -errno. */
static ssize_t net_read(struct xport *x, void *p, size_t n, int timeout_ms)
{
    ssize_t r;

    if (x->tls != NULL)
        return account(x, tls_read(x->tls, p, n, timeout_ms));
    for (;;) {
        r = sock_recv(x->fd, p, n);
        if (r != -EAGAIN)
            break;
        set_lowat(x, false);
        int rc = sock_wait(x->fd, POLLIN, timeout_ms);
        if (rc < 0)
            return account(x, rc);
    }
    return account(x, r);
}

ssize_t xp_read(struct xport *x, void *p, size_t n, int timeout_ms)
{
    if (x->pos < x->len) {
        size_t take = x->len - x->pos < n ? x->len - x->pos : n;
        memcpy(p, x->buf + x->pos, take);
        x->pos += take;
        return (ssize_t)take;
    }
    return net_read(x, p, n, timeout_ms);
}

ssize_t xp_fill(struct xport *x, int timeout_ms)
{
    if (x->pos > 0) {
        memmove(x->buf, x->buf + x->pos, x->len - x->pos);
        x->len -= x->pos;
        x->pos = 0;
    }
    if (x->len == XP_BUF)
        return -ENOBUFS;
    ssize_t r = net_read(x, x->buf + x->len, XP_BUF - x->len, timeout_ms);
    if (r > 0)
        x->len += (size_t)r;
    return r;
}

void xp_unread(struct xport *x, const char *p, size_t n, bool from_buf)
{
    if (from_buf) {
        x->pos -= n;
        return;
    }
    /* The read came from the network, so the buffer was empty. */
    memmove(x->buf, p, n);
    x->pos = 0;
    x->len = n;
}

/* Waits for room to send on a plain socket; a wait that fails breaks x. */
static int wait_room(struct xport *x, int timeout_ms)
{
    int rc = sock_wait(x->fd, POLLOUT, timeout_ms);

    if (rc < 0)
        x->broken = true;
    return rc;
}

int xp_write(struct xport *x, const void *p, size_t n, int timeout_ms)
{
    size_t done = 0;

    if (x->tls != NULL) {
        ssize_t w = tls_write(x->tls, p, n, timeout_ms);
        if (w < 0) {
            x->broken = true;
            return (int)w;
        }
        x->sent += n;
        return 0;
    }
    while (done < n) {
        ssize_t w = sock_send(x->fd, (const char *)p + done, n - done, 0);
        if (w == -EAGAIN) {
            int rc = wait_room(x, timeout_ms);
            if (rc < 0)
                return rc;
            continue;
        }
        if (w < 0) {
            x->broken = true;
            return (int)w;
        }
        done += (size_t)w;
        x->sent += (uint64_t)w;
    }
    return 0;
}

ssize_t xp_send_file(struct xport *x, int in_fd, off_t *off, size_t n, int timeout_ms)
{
    if (x->tls != NULL)
        return -EINVAL;
    for (;;) {
        ssize_t w = sock_sendfile(x->fd, in_fd, off, n);
        if (w == -EAGAIN) {
            int rc = wait_room(x, timeout_ms);
            if (rc < 0)
                return rc;
            continue;
        }
        if (w == -EINVAL || w == -ENOSYS)
            return -EINVAL; /* nothing sent: the caller copies */
        if (w < 0) {
            x->broken = true;
            return w;
        }
        x->sent += (uint64_t)w;
        return w;
    }
}

int xp_wait(struct xport *x, int timeout_ms)
{
    if (x->pos < x->len || (x->tls != NULL && tls_pending(x->tls) > 0))
        return 0;
    return sock_wait(x->fd, POLLIN, timeout_ms);
}

bool xp_direct(const struct xport *x)
{
    return x->tls == NULL && x->pos == x->len;
}

ssize_t xp_take(struct xport *x, int pipe_fd, size_t want, size_t max, int timeout_ms)
{
    size_t n_max = want < max ? want : max;

    for (;;) {
        ssize_t n = pipe_fd < 0 ? sock_discard(x->fd, n_max) : sock_splice(x->fd, pipe_fd, n_max, true);
        if (n != -EAGAIN)
            return n == -EINVAL ? n : account(x, n);
        set_lowat(x, want >= XP_LOWAT_MAX);
        int rc;
        if (x->lowat > 1 && timeout_ms > XP_PROGRESS_MS) {
            rc = sock_wait(x->fd, POLLIN, XP_PROGRESS_MS);
            if (rc == -ETIMEDOUT) {
                set_lowat(x, false);
                rc = sock_wait(x->fd, POLLIN, timeout_ms - XP_PROGRESS_MS);
            }
        } else {
            rc = sock_wait(x->fd, POLLIN, timeout_ms);
        }
        if (rc < 0)
            return account(x, rc);
    }
}

const char *xp_strerror(int err)
{
    if (err == XP_ECUT)
        return "the TLS stream ended without close_notify (cut short)";
    if (err == -EPROTO)
        return "TLS record error (garbage or forged bytes)";
    return strerror(err < 0 ? -err : err);
}

void xp_close(struct xport *x)
{
    if (x->tls != NULL)
        tls_close(x->tls);
    if (x->fd >= 0)
        close(x->fd);
    free(x->buf);
    xp_init(x);
}
