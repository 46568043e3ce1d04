#include "net/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/sock.h"

struct tls {
    SSL_CTX *ctx;
    SSL *ssl;
    int fd;
    bool failed; /* a fatal error: no close_notify may follow */
};

/* Waits for what SSL asked for. 0, -ETIMEDOUT or -errno. */
static int wait_for(int fd, int ssl_err, int timeout_ms)
{
    return sock_wait(fd, ssl_err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, timeout_ms);
}

static void reason(char *err, size_t errsz, const char *what, SSL *ssl)
{
    unsigned long e = ERR_get_error();
    long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;

    if (vr != X509_V_OK)
        snprintf(err, errsz, "%s: certificate: %s", what, X509_verify_cert_error_string(vr));
    else if (e != 0)
        snprintf(err, errsz, "%s: %s", what, ERR_reason_error_string(e));
    else
        snprintf(err, errsz, "%s failed", what);
    ERR_clear_error();
}

int tls_connect(int fd, const char *host, const char *cacert, bool insecure, int timeout_ms,
                struct tls **out, char *err, size_t errsz)
{
    struct tls *t = calloc(1, sizeof *t);
    unsigned char addr[16];
    bool is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
    int rc = -EPROTO;

    if (t == NULL)
        return -ENOMEM;
    t->fd = fd;
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (t->ctx == NULL) {
        reason(err, errsz, "TLS set-up", NULL);
        goto fail;
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    if (insecure) {
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
        int ok = cacert ? SSL_CTX_load_verify_locations(t->ctx, cacert, NULL)
                        : SSL_CTX_set_default_verify_paths(t->ctx);
        if (ok != 1) {
            reason(err, errsz, cacert ? "cannot load the CA file" : "cannot load the CA store", NULL);
            goto fail;
        }
    }
    t->ssl = SSL_new(t->ctx);
    if (t->ssl == NULL || SSL_set_fd(t->ssl, fd) != 1) {
        reason(err, errsz, "TLS set-up", NULL);
        goto fail;
    }
    if (!is_ip)
        SSL_set_tlsext_host_name(t->ssl, host); /* SNI is for names only */
    if (!insecure) {
        X509_VERIFY_PARAM *param = SSL_get0_param(t->ssl);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host) : SSL_set1_host(t->ssl, host);
        if (ok != 1) {
            reason(err, errsz, "TLS set-up", NULL);
            goto fail;
        }
    }
    for (;;) {
        int r = SSL_connect(t->ssl);
        if (r == 1)
            break;
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            rc = wait_for(fd, e, timeout_ms);
            if (rc < 0) {
                snprintf(err, errsz, "TLS handshake: %s", strerror(-rc));
                goto fail;
            }
            continue;
        }
        reason(err, errsz, "TLS handshake", t->ssl);
        rc = -EPROTO;
        goto fail;
    }
    *out = t;
    return 0;

fail:
    if (t->ssl)
        SSL_free(t->ssl);
    if (t->ctx)
        SSL_CTX_free(t->ctx);
    free(t);
    return rc;
}

/* What a failed SSL_read_ex or SSL_write_ex (SSL_get_error gave e) means,
 * decided from the OpenSSL error queue alone: errno is not looked at, since
 * OpenSSL may have changed it. A stream that ended without close_notify is
 * TLS_ECUT: OpenSSL 3 reports it as SSL_ERROR_SSL with
 * SSL_R_UNEXPECTED_EOF_WHILE_READING, 1.1.1 as SSL_ERROR_SYSCALL with an
 * empty queue (which is also how a reset reads there). A system error the
 * queue names is its -errno; anything else, such as a record that does not
 * decrypt, is -EPROTO. Empties the queue. */
static int failure(struct tls *t, int e)
{
    unsigned long code = ERR_peek_error();
    int rc = -EPROTO;

    if (code == 0 && e == SSL_ERROR_SYSCALL)
        rc = TLS_ECUT;
    else if (code != 0 && ERR_GET_LIB(code) == ERR_LIB_SYS)
        rc = ERR_GET_REASON(code) > 0 ? -ERR_GET_REASON(code) : -EIO;
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
    else if (code != 0 && ERR_GET_LIB(code) == ERR_LIB_SSL &&
             ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
        rc = TLS_ECUT;
#endif
    ERR_clear_error();
    t->failed = true;
    return rc;
}

ssize_t tls_read(struct tls *t, void *p, size_t n, int timeout_ms)
{
    for (;;) {
        size_t got = 0;
        int r = SSL_read_ex(t->ssl, p, n, &got);
        if (r == 1)
            return (ssize_t)got;
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_ZERO_RETURN)
            return 0;
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            int rc = wait_for(t->fd, e, timeout_ms);
            if (rc < 0)
                return rc;
            continue;
        }
        return failure(t, e);
    }
}

ssize_t tls_write(struct tls *t, const void *p, size_t n, int timeout_ms)
{
    size_t done = 0;

    while (done < n) {
        size_t w = 0;
        int r = SSL_write_ex(t->ssl, (const char *)p + done, n - done, &w);
        if (r == 1) {
            done += w;
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            int rc = wait_for(t->fd, e, timeout_ms);
            if (rc < 0)
                return rc;
            continue;
        }
        return failure(t, e);
    }
    return (ssize_t)n;
}

size_t tls_pending(const struct tls *t)
{
    int n = SSL_pending(t->ssl);
    return n > 0 ? (size_t)n : 0;
}

const char *tls_version(const struct tls *t)
{
    return SSL_get_version(t->ssl);
}

const char *tls_cipher(const struct tls *t)
{
    return SSL_get_cipher_name(t->ssl);
}

void tls_close(struct tls *t)
{
    if (t == NULL)
        return;
    if (!t->failed)
        SSL_shutdown(t->ssl); /* RFC 8446 6.1: not after a fatal alert */
    ERR_clear_error();
    SSL_free(t->ssl);
    SSL_CTX_free(t->ctx);
    free(t);
}
