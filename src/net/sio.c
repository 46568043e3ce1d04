#include "net/sio.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "net/sock.h"
#include "net/tls.h"

int sio_peek(int fd)
{
    unsigned char b;
    ssize_t n;

    do
        n = recv(fd, &b, 1, MSG_PEEK);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return n == 0 ? 0x100 : b;
}

ssize_t sio_recv(int fd, struct tls *t, void *p, size_t n)
{
    return t != NULL ? tls_recv(t, p, n) : sock_recv(fd, p, n);
}

bool sio_pending(const struct tls *t)
{
    return t != NULL && tls_pending(t) > 0;
}

ssize_t sio_sendv(int fd, struct tls *t, const struct iovec *iov, int cnt, bool more)
{
    ssize_t total = 0;

    if (t == NULL)
        return sock_sendv(fd, iov, cnt, more ? MSG_MORE : 0);
    for (int i = 0; i < cnt; i++) {
        ssize_t n = tls_send(t, iov[i].iov_base, iov[i].iov_len);
        if (n < 0)
            return total > 0 ? total : n;
        total += n;
        if ((size_t)n < iov[i].iov_len)
            break;
    }
    return total;
}

ssize_t sio_send_file(int fd, struct tls *t, int file, off_t *off, size_t n, char *buf,
                      size_t bufsz)
{
    if (t == NULL)
        return sock_sendfile(fd, file, off, n);
    if (n > bufsz)
        n = bufsz;
    /* Bytes TLS did not take are read again next time: buf is scratch,
     * and the same offset gives the same bytes. */
    ssize_t got = pread(file, buf, n, *off);
    if (got <= 0)
        return got < 0 ? -errno : 0;
    ssize_t sent = tls_send(t, buf, (size_t)got);
    if (sent > 0)
        *off += sent;
    return sent;
}

uint32_t sio_events(const struct tls *t, uint32_t ev)
{
    if (t == NULL)
        return ev;
    switch (tls_waits(t)) {
    case TLS_WANT_READ:
        return EPOLLIN;
    case TLS_WANT_WRITE:
        return EPOLLOUT;
    case TLS_DONE:
    case TLS_FAILED:
        break;
    }
    return ev;
}

int sio_end(int fd, struct tls *t)
{
    if (t != NULL && tls_shutdown(t) == -EAGAIN)
        return -EAGAIN;
    shutdown(fd, SHUT_WR);
    return 0;
}
