/* tls: the client side of TLS over a non-blocking socket (OpenSSL).
 *
 * Certificates are verified against the system's CA store (or a given CA
 * file) and the host name; SNI is sent for names. Every call waits at most
 * timeout_ms for the socket. Functions return 0 / byte counts or -errno;
 * TLS failures are -EPROTO (handshake, verification) with the reason in a
 * caller's buffer where one is taken. */
#ifndef FERRY_NET_TLS_H
#define FERRY_NET_TLS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tls;

/* Starts TLS on the connected socket fd for host. cacert (NULL: the system
 * store) is the CA file to trust; insecure skips verification. On success
 * *out is the session (which does not own fd). Returns 0 or -errno; on
 * -EPROTO err holds the reason. */
int tls_connect(int fd, const char *host, const char *cacert, bool insecure, int timeout_ms,
                struct tls **out, char *err, size_t errsz);

/* The stream ended without the peer's close_notify: it may have been cut
 * short, so what it carried cannot be trusted to be complete. */
#define TLS_ECUT (-ECONNABORTED)

/* Reads up to n bytes: the count, 0 only at a clean end (the peer's
 * close_notify), TLS_ECUT when the connection ended without one, -EPROTO
 * for a record that does not verify (garbage or forged bytes), -ETIMEDOUT,
 * or another -errno. */
ssize_t tls_read(struct tls *t, void *p, size_t n, int timeout_ms);

/* Writes all n bytes. Returns n or -errno (-EPROTO, TLS_ECUT as for tls_read). */
ssize_t tls_write(struct tls *t, const void *p, size_t n, int timeout_ms);

/* Decrypted bytes waiting in the session: a read returns them without
 * waiting for the socket. */
size_t tls_pending(const struct tls *t);

/* "TLSv1.3" and the cipher's name, for -v. */
const char *tls_version(const struct tls *t);
const char *tls_cipher(const struct tls *t);

/* Sends close_notify (without waiting for the peer's) and frees. */
void tls_close(struct tls *t);

#endif
