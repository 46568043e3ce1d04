/* tls: TLS over a non-blocking socket (OpenSSL), client and server side.
 *
 * Client: certificates are verified against the system's CA store (or a
 * given CA file) and the host name, or against a SHA-256 pin of the
 * certificate alone; SNI is sent for names. Every client call waits at
 * most timeout_ms for the socket.
 *
 * Server: a struct tls_server holds the certificate and key (an SSL_CTX)
 * and the session ticket keys; its connections never wait: they say which
 * way the socket must become ready and the caller's event loop comes back.
 *
 * Functions return 0 / byte counts or -errno; TLS failures are -EPROTO
 * (handshake, verification) with the reason, read from OpenSSL's error
 * queue only, in a caller's buffer where one is taken. */
#ifndef FERRY_NET_TLS_H
#define FERRY_NET_TLS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tls;

#define TLS_PIN_LEN 32 /* a SHA-256 digest */
#define TLS_FP_LEN 96  /* a SHA-256 digest as "AB:CD:...", with its NUL */

/* Starts TLS on the connected socket fd for host. cacert (NULL: the system
 * store) is the CA file to trust; insecure skips verification; pin (NULL:
 * none) is the SHA-256 of the one certificate (DER) to accept, in place of
 * CA and name checks: any other certificate is refused, even one a CA
 * signed. On success *out is the session (which does not own fd). Returns 0
 * or -errno; on -EPROTO err holds the reason. When the server's certificate
 * itself was refused (by the CA or name check, or as not the pin), the
 * return is -EKEYREJECTED, err holds the reason and refused_fp (when not
 * NULL) its SHA-256 as "AB:CD:...", what --pin takes. */
int tls_connect(int fd, const char *host, const char *cacert, bool insecure,
                const unsigned char *pin, int timeout_ms, struct tls **out, char *err, size_t errsz,
                char refused_fp[TLS_FP_LEN]);

/* Reads a pin: 64 hex digits, colons between pairs allowed (as
 * `openssl x509 -fingerprint -sha256` prints it). Returns 0 or -EINVAL. */
int tls_pin_parse(const char *s, unsigned char pin[TLS_PIN_LEN]);

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

/* ---- server side ------------------------------------------------------ */

struct tls_server;

/* What a server's TLS is made from: PEM files (the certificate file may
 * hold the chain after it), or a fresh self-signed certificate. */
struct tls_server_src {
    const char *cert_file, *key_file; /* both NULL: self-signed */
    const char *host;                 /* self-signed: a name or address for it, besides
                                         localhost, 127.0.0.1 and ::1; may be NULL */
    int ticket_rotate_ms;             /* 0: TLS_TICKET_ROTATE_MS; read by tls_server_new only */
};

/* How long a session ticket key encrypts new tickets; it then decrypts
 * (and renews) for as long again. */
#define TLS_TICKET_ROTATE_MS (3600 * 1000)

/* Makes the server context: TLS 1.2 and 1.3 only, ALPN http/1.1, no
 * compression, no renegotiation, session tickets under keys of our own
 * that rotate (see tls.c). A self-signed certificate is an EC P-256 key
 * and a certificate valid for 30 days, in memory only. Returns 0 and *out,
 * or -errno (-EPROTO: a file that does not load, a key that does not fit
 * the certificate) with the reason in err. Safe to share among threads. */
int tls_server_new(const struct tls_server_src *src, struct tls_server **out, char *err,
                   size_t errsz);

/* Loads src again into a new context for the connections accepted from
 * now on; those in flight keep theirs. On failure the old one stays and
 * err says why. Returns 0 or -errno. Any thread. */
int tls_server_reload(struct tls_server *s, const struct tls_server_src *src, char *err,
                      size_t errsz);

/* The SHA-256 of the current certificate as "AB:CD:...": 95 characters and
 * a NUL, so hex must hold TLS_FP_LEN bytes. */
void tls_server_fingerprint(struct tls_server *s, char hex[TLS_FP_LEN]);

/* Frees the server; connections still open keep their context alive. */
void tls_server_free(struct tls_server *s);

/* A server-side session on the accepted non-blocking socket fd (not
 * owned). NULL when memory is short. Free with tls_free. */
struct tls *tls_server_conn(struct tls_server *s, int fd);

/* One step of a server handshake, or what a non-blocking read or write
 * waits for. */
enum tls_step { TLS_DONE, TLS_WANT_READ, TLS_WANT_WRITE, TLS_FAILED };

/* Runs the handshake as far as the socket allows. TLS_FAILED for a peer
 * that is not TLS, an old version, no common protocol or cipher, or a cut;
 * the error queue is emptied. */
enum tls_step tls_handshake(struct tls *t);

/* Non-blocking read: the count, 0 at the end of the stream (close_notify
 * or a cut: a server cannot tell them apart usefully), -EAGAIN, -EPROTO
 * for a bad record, or -errno. */
ssize_t tls_recv(struct tls *t, void *p, size_t n);

/* Non-blocking write of up to n bytes: how many were taken (a record that
 * went out only in part counts as not taken, and the caller must offer the
 * same bytes again), -EAGAIN when none, or -errno. */
ssize_t tls_send(struct tls *t, const void *p, size_t n);

/* After -EAGAIN from tls_recv or tls_send: whether the session waits for
 * the socket to take bytes (TLS_WANT_WRITE) or to bring them. */
enum tls_step tls_waits(const struct tls *t);

/* Sends close_notify once, without waiting: the end of what we send is
 * then known to be the end. Returns 0 when it is out (or must not be sent:
 * after a failure), -EAGAIN when the socket must take bytes first (call
 * again then), or -EPROTO / -errno when it cannot be sent. */
int tls_shutdown(struct tls *t);

/* Frees a session without a close_notify (a cut stays a cut). NULL is fine. */
void tls_free(struct tls *t);

#endif
