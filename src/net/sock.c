#include "net/sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <unistd.h>

/* A socket of type bound to sa; listening when it is a stream socket. */
static int bind_on(const struct sockaddr *sa, socklen_t salen, int type, int backlog, bool dual)
{
    int one = 1, zero = 0, rc;
    int fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        goto fail_close;
    if (sa->sa_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual ? &zero : &one, sizeof one) < 0)
        goto fail_close;
    if (bind(fd, sa, salen) < 0 || (type == SOCK_STREAM && listen(fd, backlog) < 0))
        goto fail_close;
    return fd;

fail_close:
    rc = -errno;
    close(fd);
    return rc;
}

int sock_listen_tcp(const char *host, uint16_t port, int backlog, struct sockaddr_storage *bound)
{
    return sock_bind(host, port, SOCK_STREAM, backlog, bound);
}

int sock_bind(const char *host, uint16_t port, int type, int backlog, struct sockaddr_storage *bound)
{
    int fd;

    if (host == NULL || host[0] == '\0') {
        struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
        s6.sin6_addr = in6addr_any;
        fd = bind_on((struct sockaddr *)&s6, sizeof s6, type, backlog, true);
        if (fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL) {
            struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons(port)};
            s4.sin_addr.s_addr = htonl(INADDR_ANY);
            fd = bind_on((struct sockaddr *)&s4, sizeof s4, type, backlog, false);
        }
    } else {
        struct addrinfo hints, *res, *ai;
        char portstr[8];

        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = type;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
        snprintf(portstr, sizeof portstr, "%u", port);
        if (getaddrinfo(host, portstr, &hints, &res) != 0)
            return SOCK_ENONAME;
        fd = -EADDRNOTAVAIL;
        for (ai = res; ai != NULL; ai = ai->ai_next) {
            fd = bind_on(ai->ai_addr, ai->ai_addrlen, type, backlog, false);
            if (fd >= 0)
                break;
        }
        freeaddrinfo(res);
    }
    if (fd < 0)
        return fd;
    socklen_t len = sizeof *bound;
    if (getsockname(fd, (struct sockaddr *)bound, &len) < 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

int sock_accept(int lfd, struct sockaddr_storage *peer)
{
    for (;;) {
        socklen_t len = sizeof *peer;
        int fd = accept4(lfd, (struct sockaddr *)peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            int one = 1;
            /* Responses go out in as few writes as we can make them, so
             * Nagle would only add delay. */
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return fd;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

void sock_addr_format(const struct sockaddr *sa, bool with_port, char *out, size_t outsz)
{
    char host[INET6_ADDRSTRLEN];
    bool v6 = false;

    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, host, sizeof host);
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a)) {
            inet_ntop(AF_INET, &a->s6_addr[12], host, sizeof host);
        } else {
            inet_ntop(AF_INET6, a, host, sizeof host);
            v6 = true;
        }
    } else {
        snprintf(out, outsz, "?");
        return;
    }
    if (!with_port)
        snprintf(out, outsz, "%s", host);
    else
        snprintf(out, outsz, v6 ? "[%s]:%u" : "%s:%u", host, sock_addr_port(sa));
}

uint16_t sock_addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    return 0;
}

bool sock_addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

bool sock_addr_is_any(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return false;
}

ssize_t sock_send(int fd, const void *p, size_t n, int flags)
{
    for (;;) {
        ssize_t w = send(fd, p, n, flags | MSG_NOSIGNAL);
        if (w >= 0)
            return w;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

ssize_t sock_recv(int fd, void *p, size_t n)
{
    for (;;) {
        ssize_t r = recv(fd, p, n, 0);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

ssize_t sock_discard(int fd, size_t n)
{
    for (;;) {
        ssize_t r = recv(fd, NULL, n, MSG_TRUNC);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

ssize_t sock_splice(int fd_in, int fd_out, size_t n, bool nonblock)
{
    for (;;) {
        ssize_t r = splice(fd_in, NULL, fd_out, NULL, n, SPLICE_F_MOVE | (nonblock ? SPLICE_F_NONBLOCK : 0));
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

ssize_t sock_sendv(int fd, const struct iovec *iov, int n, int flags)
{
    struct msghdr msg;

    memset(&msg, 0, sizeof msg);
    msg.msg_iov = (struct iovec *)iov;
    msg.msg_iovlen = (size_t)n;
    for (;;) {
        ssize_t w = sendmsg(fd, &msg, flags | MSG_NOSIGNAL);
        if (w >= 0)
            return w;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

ssize_t sock_sendfile(int fd, int in_fd, off_t *off, size_t n)
{
    for (;;) {
        ssize_t w = sendfile(fd, in_fd, off, n);
        if (w >= 0)
            return w;
        if (errno != EINTR)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

int sock_connect(const char *host, uint16_t port, int type, int timeout_ms,
                 struct sockaddr_storage *peer)
{
    struct addrinfo hints, *res, *ai;
    char portstr[8];
    int rc = -EADDRNOTAVAIL;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = type;
    hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
    snprintf(portstr, sizeof portstr, "%u", port);
    if (getaddrinfo(host, portstr, &hints, &res) != 0)
        return -EADDRNOTAVAIL;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        rc = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : -errno;
        if (rc == -EINPROGRESS) {
            int err = 0;
            socklen_t elen = sizeof err;
            rc = sock_wait(fd, POLLOUT, timeout_ms);
            if (rc == 0)
                rc = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 ? -errno : -err;
        }
        if (rc == 0) {
            memcpy(peer, ai->ai_addr, ai->ai_addrlen);
            freeaddrinfo(res);
            return fd;
        }
        close(fd);
    }
    freeaddrinfo(res);
    return rc;
}

int sock_wait(int fd, short events, int timeout_ms)
{
    struct pollfd pf = {.fd = fd, .events = events};

    for (;;) {
        int n = poll(&pf, 1, timeout_ms);
        if (n > 0)
            return 0;
        if (n == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}
