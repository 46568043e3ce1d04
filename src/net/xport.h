/* xport: the client's connection, plain TCP or TLS, behind one interface.
 *
 * Connect, read, write and wait with a deadline, whatever the scheme; the
 * bytes read ahead of their use live in the transport's own buffer
 * (buf[pos..len), XP_BUF bytes); and the end of the stream tells whether it
 * was clean: a read returns 0 only at a FIN on plain TCP or at the peer's
 * close_notify under TLS. A TLS stream that stopped without close_notify is
 * XP_ECUT, a TLS record that does not verify -EPROTO. Callers never need
 * to know which of the two they talk to, except where bytes may go
 * straight from the socket to a pipe (xp_direct, xp_take).
 *
 * Every function that waits takes timeout_ms and returns -ETIMEDOUT when
 * the peer did not make it ready in time. Functions return 0 or a byte
 * count, or -errno; "would block" never reaches the caller. */
#ifndef FERRY_NET_XPORT_H
#define FERRY_NET_XPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "net/tls.h"

#define XP_BUF (64u << 10)       /* the read buffer: a response head fits */
#define XP_ECUT TLS_ECUT         /* a TLS stream ended without close_notify */
#define XP_LOWAT_MAX (256u << 10) /* SO_RCVLOWAT for a bulk body */
#define XP_PROGRESS_MS 200       /* a bulk wait gives up its low-water mark after this */

struct xport {
    int fd;          /* -1 when closed */
    struct tls *tls; /* NULL on plain TCP */
    char *buf;       /* XP_BUF bytes; read but not used yet: buf[pos..len) */
    size_t pos, len;
    int lowat;       /* SO_RCVLOWAT as last set: 1 or XP_LOWAT_MAX */
    uint64_t sent, received;
    bool ended;      /* the peer ended the stream cleanly */
    bool broken;     /* a read or write failed: the stream is not usable */
    char refused_fp[TLS_FP_LEN]; /* after xp_start_tls's -EKEYREJECTED: the certificate's SHA-256 */
};

/* A closed transport: fd -1, nothing allocated. */
void xp_init(struct xport *x);

/* Connects over TCP (TCP_NODELAY) to host:port, each address tried for at
 * most timeout_ms; the address that answered goes to *peer. x must be
 * closed. Returns 0 or -errno (-EADDRNOTAVAIL: no such host). */
int xp_connect(struct xport *x, const char *host, uint16_t port, int timeout_ms,
               struct sockaddr_storage *peer);

/* Starts TLS on the connected x for host (see tls_connect). Returns 0 or
 * -errno; -EPROTO with the reason in err; -EKEYREJECTED when the server's
 * certificate was refused, with the reason in err and its fingerprint in
 * x->refused_fp. On failure x stays plain TCP and should be closed. */
int xp_start_tls(struct xport *x, const char *host, const char *cacert, bool insecure,
                 const unsigned char *pin, int timeout_ms, char *err, size_t errsz);

/* The TLS version and cipher, for -v; false on plain TCP. */
bool xp_tls_info(const struct xport *x, const char **version, const char **cipher);

/* Reads up to n bytes: buffered ones first, else from the network, waiting
 * at most timeout_ms. The count, 0 at a clean end, or -errno (XP_ECUT,
 * -EPROTO, -ETIMEDOUT, -ECONNRESET...). */
ssize_t xp_read(struct xport *x, void *p, size_t n, int timeout_ms);

/* Moves the unused bytes to the front of the buffer, then reads once from
 * the network after them. The count, 0 at a clean end, -ENOBUFS when the
 * buffer is full, or -errno as xp_read. */
ssize_t xp_fill(struct xport *x, int timeout_ms);

/* Gives back the last n bytes an xp_read returned into p, which belong to
 * what follows (the next answer of a pipeline). Call it right after that
 * xp_read; from_buf tells whether x->pos < x->len before it. */
void xp_unread(struct xport *x, const char *p, size_t n, bool from_buf);

/* Writes all n bytes. 0 or -errno (and x is broken). */
int xp_write(struct xport *x, const void *p, size_t n, int timeout_ms);

/* Sends up to n bytes of in_fd from *off (which advances) straight from
 * the file with sendfile(2), waiting at most timeout_ms for room: plain
 * TCP only. The count sent (0 at the file's end), -EINVAL over TLS or
 * where sendfile is refused (nothing was sent), or -errno (x is broken). */
ssize_t xp_send_file(struct xport *x, int in_fd, off_t *off, size_t n, int timeout_ms);

/* Waits until a read would not block (buffered or pending TLS bytes count).
 * 0 or -ETIMEDOUT or -errno. */
int xp_wait(struct xport *x, int timeout_ms);

/* True when bytes may be taken straight off the socket (xp_take): plain
 * TCP with nothing buffered. */
bool xp_direct(const struct xport *x);

/* Takes up to max bytes straight off a direct socket, waiting at most
 * timeout_ms for the first: spliced into the pipe pipe_fd, or dropped in
 * the kernel when pipe_fd < 0. want is how many the caller still needs
 * (SIZE_MAX: unknown): while it is at least XP_LOWAT_MAX the kernel is
 * asked to wake us only for that many, up to XP_PROGRESS_MS, so a fast
 * link gives full reads and a slow one still progresses. The count, 0 at
 * the end of the stream, -EINVAL when this socket or pipe cannot splice
 * (nothing was taken), or -errno. */
ssize_t xp_take(struct xport *x, int pipe_fd, size_t want, size_t max, int timeout_ms);

/* Text for the values xp_ functions return. */
const char *xp_strerror(int err);

/* Ends TLS (close_notify unless it failed), closes the socket, frees the
 * buffer; x is closed (as after xp_init). Safe on a closed x. */
void xp_close(struct xport *x);

#endif
