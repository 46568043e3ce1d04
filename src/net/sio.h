/* sio: the server's transport. A connection's bytes go over the plain
 * socket or through its TLS session (net/tls) behind the same few
 * non-blocking calls, so the file server's handlers never ask which. t is
 * NULL for a plain connection. Byte counts or -errno; "would block" is
 * -EAGAIN, and sio_events says which readiness to wait for then. */
#ifndef FERRY_NET_SIO_H
#define FERRY_NET_SIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tls;
struct iovec;

/* Looks at the first byte waiting on the plain socket fd without taking
 * it. Returns the byte (0-255), -EAGAIN when none has come, 0x100 at end
 * of stream, or -errno. */
int sio_peek(int fd);

/* Reads up to n bytes: the count, 0 at end of stream, -EAGAIN, or -errno. */
ssize_t sio_recv(int fd, struct tls *t, void *p, size_t n);

/* Decrypted bytes the session holds that the socket will not signal. */
bool sio_pending(const struct tls *t);

/* Writes iov[0..cnt) in order, as much as the socket takes: the count,
 * -EAGAIN when nothing went, or -errno. more: bytes follow soon (a hint
 * for plain TCP, MSG_MORE). Under TLS, bytes not taken must be offered
 * again, unchanged, by the next call. */
ssize_t sio_sendv(int fd, struct tls *t, const struct iovec *iov, int cnt, bool more);

/* Sends up to n bytes of file from *off, which advances by what went:
 * sendfile(2) on plain TCP; under TLS a pread into buf (bufsz bytes, the
 * caller's scratch) and a write of it. The count, 0 when the file ends
 * before *off + n, -EAGAIN, or -errno. */
ssize_t sio_send_file(int fd, struct tls *t, int file, off_t *off, size_t n, char *buf,
                      size_t bufsz);

/* The epoll events to wait for when the caller wants ev (EPOLLIN or
 * EPOLLOUT) after -EAGAIN: a TLS session may need the other direction
 * first. */
uint32_t sio_events(const struct tls *t, uint32_t ev);

/* Ends our side: a TLS close_notify first (so the peer knows our bytes
 * ended here, not cut), then the TCP shutdown for writing. Returns 0, or
 * -EAGAIN while the close_notify waits for room in the socket (call again
 * when it is writable; TCP is not shut down before it is out). */
int sio_end(int fd, struct tls *t);

#endif
