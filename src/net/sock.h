/* sock: TCP sockets, addresses and non-blocking I/O that returns -errno. */
#ifndef FERRY_NET_SOCK_H
#define FERRY_NET_SOCK_H

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* sock_bind's answer for a host name that does not resolve. */
#define SOCK_ENONAME (-ENXIO)

/* The `what` that the servers give with a failure of sock_bind, so that
 * cmd/ can say which address and why (cmd_start_failed). */
#define SOCK_WHAT_LISTEN "cannot listen"

/* Enough for "[ffff:...:ffff]:65535" and a NUL. */
#define SOCK_ADDRSTRLEN 64

/* Opens a non-blocking listening TCP socket. host NULL or "" means every
 * interface: IPv6 dual-stack, falling back to IPv4 where the host has no
 * IPv6. Otherwise host is an IPv4 or IPv6 literal or a name to resolve.
 * port 0 lets the kernel pick. The bound address goes to *bound.
 * Returns the descriptor, or -errno: SOCK_ENONAME for a name that does not
 * resolve, -EADDRNOTAVAIL for an address that is not this machine's,
 * -EADDRINUSE, -EACCES (a port below 1024 without the right). */
int sock_listen_tcp(const char *host, uint16_t port, int backlog, struct sockaddr_storage *bound);

/* Like sock_listen_tcp for any socket type: a SOCK_DGRAM socket is bound
 * and not listening. backlog is for stream sockets. */
int sock_bind(const char *host, uint16_t port, int type, int backlog, struct sockaddr_storage *bound);

/* Resolves host and connects a non-blocking socket of type (SOCK_STREAM
 * or SOCK_DGRAM) to the first address that answers within timeout_ms each.
 * Returns the descriptor with the address in *peer, or -errno
 * (-EADDRNOTAVAIL for a name that does not resolve, -ETIMEDOUT). */
int sock_connect(const char *host, uint16_t port, int type, int timeout_ms,
                 struct sockaddr_storage *peer);

/* Accepts one connection as a non-blocking, close-on-exec socket with
 * TCP_NODELAY set. Returns the descriptor or -errno (-EAGAIN when none). */
int sock_accept(int lfd, struct sockaddr_storage *peer);

/* Formats the address of sa: "1.2.3.4" or "::1" (IPv4-mapped IPv6 shown as
 * IPv4); with_port gives "1.2.3.4:80" or "[::1]:80". Always NUL-terminates. */
void sock_addr_format(const struct sockaddr *sa, bool with_port, char *out, size_t outsz);

/* Port of an AF_INET or AF_INET6 address in host order. */
uint16_t sock_addr_port(const struct sockaddr *sa);

/* True for 127.0.0.0/8, ::1 and IPv4-mapped 127.0.0.0/8. */
bool sock_addr_is_loopback(const struct sockaddr *sa);

/* True for the unspecified address (0.0.0.0 or ::). */
bool sock_addr_is_any(const struct sockaddr *sa);

/* send(2) with MSG_NOSIGNAL and EINTR retried: bytes sent or -errno. */
ssize_t sock_send(int fd, const void *p, size_t n, int flags);

/* Waits up to timeout_ms (-1: no limit) until fd is ready for events
 * (POLLIN, POLLOUT); EINTR is retried. Returns 0, -ETIMEDOUT or -errno. */
int sock_wait(int fd, short events, int timeout_ms);

/* recv(2) with EINTR retried: bytes read, 0 at end of stream, or -errno. */
ssize_t sock_recv(int fd, void *p, size_t n);

/* Drops up to n received bytes of a TCP socket without copying them
 * (recv with MSG_TRUNC). Bytes dropped, 0 at end of stream, or -errno
 * (-EAGAIN when none are waiting). */
ssize_t sock_discard(int fd, size_t n);

/* splice(2) of up to n bytes from fd_in to fd_out, one of them a pipe,
 * with SPLICE_F_MOVE and EINTR retried; nonblocking on the pipe when
 * nonblock. Bytes moved, 0 at end of input, or -errno (-EAGAIN; -EINVAL
 * when either side cannot splice). */
ssize_t sock_splice(int fd_in, int fd_out, size_t n, bool nonblock);


struct iovec;

/* sendmsg(2) of iov[0..n) with MSG_NOSIGNAL and EINTR retried: bytes sent or
 * -errno (-EAGAIN when the socket buffer is full). */
ssize_t sock_sendv(int fd, const struct iovec *iov, int n, int flags);

/* sendfile(2) of up to n bytes of in_fd from *off, which advances. Bytes
 * sent (0 when the file ends before *off + n) or -errno. */
ssize_t sock_sendfile(int fd, int in_fd, off_t *off, size_t n);

#endif
