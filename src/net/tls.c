#include "net/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "net/sock.h"
#include "proto/lex.h"

struct tls {
    unsigned char refused[TLS_PIN_LEN]; /* the certificate a verification refused */
    bool has_refused;
    SSL_CTX *ctx; /* the client's own; NULL on the server (the SSL holds a reference) */
    SSL *ssl;
    int fd;
    bool failed;   /* a fatal error: no close_notify may follow */
    bool shut;     /* close_notify sent */
    uint8_t waits; /* enum tls_step after -EAGAIN */
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

/* The SHA-256 of x's DER encoding. */
static bool cert_digest(X509 *x, unsigned char md[TLS_PIN_LEN])
{
    unsigned int len = 0;
    return x != NULL && X509_digest(x, EVP_sha256(), md, &len) == 1 && len == TLS_PIN_LEN;
}

int tls_pin_parse(const char *s, unsigned char pin[TLS_PIN_LEN])
{
    size_t n = 0;

    while (*s != '\0') {
        if (n > 0 && n < TLS_PIN_LEN && *s == ':')
            s++;
        int hi = lex_hex_digit(s[0]);
        int lo = hi >= 0 ? lex_hex_digit(s[1]) : -1;
        if (lo < 0 || n == TLS_PIN_LEN)
            return -EINVAL;
        pin[n++] = (unsigned char)(hi << 4 | lo);
        s += 2;
    }
    return n == TLS_PIN_LEN ? 0 : -EINVAL;
}

/* md as "AB:CD:..." in hex (TLS_FP_LEN bytes). */
static void fp_format(const unsigned char md[TLS_PIN_LEN], char hex[TLS_FP_LEN])
{
    for (size_t i = 0; i < TLS_PIN_LEN; i++)
        snprintf(hex + 3 * i, TLS_FP_LEN - 3 * i, i + 1 < TLS_PIN_LEN ? "%02X:" : "%02X", md[i]);
}

/* The pin decides alone: the peer's certificate must be exactly it. */
static int check_pin(struct tls *t, const unsigned char *pin, char *err, size_t errsz)
{
    unsigned char md[TLS_PIN_LEN];
    X509 *peer = SSL_get1_peer_certificate(t->ssl);
    bool have = cert_digest(peer, md);
    bool ok = have && CRYPTO_memcmp(md, pin, TLS_PIN_LEN) == 0;

    X509_free(peer);
    if (ok)
        return 0;
    if (have) {
        memcpy(t->refused, md, sizeof md);
        t->has_refused = true;
    }
    snprintf(err, errsz, "TLS handshake: the certificate does not match --pin");
    return -EPROTO;
}

/* OpenSSL's verification, which keeps the digest of the certificate it
 * refuses (the server's own, not a CA's) for the message that names it. */
static int on_verify(int preverify_ok, X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct tls *t = ssl != NULL ? SSL_get_app_data(ssl) : NULL;

    if (!preverify_ok && t != NULL && !t->has_refused)
        t->has_refused = cert_digest(X509_STORE_CTX_get0_cert(store), t->refused);
    return preverify_ok;
}

int tls_connect(int fd, const char *host, const char *cacert, bool insecure,
                const unsigned char *pin, int timeout_ms, struct tls **out, char *err, size_t errsz,
                char refused_fp[TLS_FP_LEN])
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
    if (insecure || pin != NULL) {
        /* A pin replaces the CA and name checks; it is checked below,
         * before a byte of ours is sent. */
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
    } else {
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, on_verify);
        int ok = cacert ? SSL_CTX_load_verify_locations(t->ctx, cacert, NULL)
                        : SSL_CTX_set_default_verify_paths(t->ctx);
        if (ok != 1) {
            reason(err, errsz, cacert ? "cannot load the CA file" : "cannot load the CA store", NULL);
            goto fail;
        }
    }
    t->ssl = SSL_new(t->ctx);
    if (t->ssl == NULL || SSL_set_fd(t->ssl, fd) != 1 || SSL_set_app_data(t->ssl, t) != 1) {
        reason(err, errsz, "TLS set-up", NULL);
        goto fail;
    }
    if (!is_ip)
        SSL_set_tlsext_host_name(t->ssl, host); /* SNI is for names only */
    if (!insecure && pin == NULL) {
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
    if (pin != NULL) {
        rc = check_pin(t, pin, err, errsz);
        if (rc < 0)
            goto fail;
    }
    *out = t;
    return 0;

fail:
    if (t->has_refused && refused_fp != NULL) {
        fp_format(t->refused, refused_fp);
        rc = -EKEYREJECTED;
    }
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

/* SSL_write_ex until all of p[0..n) is taken (*done counts what was) or
 * it stops: 0, or the SSL_get_error code that stopped it. */
static int write_some(struct tls *t, const void *p, size_t n, size_t *done)
{
    while (*done < n) {
        size_t w = 0;
        int r = SSL_write_ex(t->ssl, (const char *)p + *done, n - *done, &w);
        if (r != 1)
            return SSL_get_error(t->ssl, r);
        *done += w;
    }
    return 0;
}

ssize_t tls_write(struct tls *t, const void *p, size_t n, int timeout_ms)
{
    size_t done = 0;

    for (;;) {
        int e = write_some(t, p, n, &done);
        if (e == 0)
            return (ssize_t)n;
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            return failure(t, e);
        int rc = wait_for(t->fd, e, timeout_ms);
        if (rc < 0)
            return rc;
    }
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
    tls_shutdown(t);
    tls_free(t);
}

int tls_shutdown(struct tls *t)
{
    if (t->failed || t->shut)
        return 0; /* RFC 8446 6.1: not after a fatal alert */
    t->waits = TLS_DONE;
    /* 0 or 1: our close_notify is out (we do not wait for the peer's). A
     * retry after WANT_WRITE sends the alert OpenSSL still holds. */
    int r = SSL_shutdown(t->ssl);
    if (r < 0 && SSL_get_error(t->ssl, r) == SSL_ERROR_WANT_WRITE) {
        t->waits = TLS_WANT_WRITE;
        ERR_clear_error();
        return -EAGAIN;
    }
    t->shut = true;
    if (r >= 0) {
        ERR_clear_error();
        return 0;
    }
    return failure(t, SSL_get_error(t->ssl, r));
}

void tls_free(struct tls *t)
{
    if (t == NULL)
        return;
    SSL_free(t->ssl);
    SSL_CTX_free(t->ctx);
    ERR_clear_error();
    free(t);
}

/* ---- server side ------------------------------------------------------ */

/* Session tickets. OpenSSL's own ticket key lives as long as its SSL_CTX
 * and would change on every reload; ours belong to the tls_server, so
 * tickets survive a reload, and rotate: a key encrypts new tickets for
 * s->rotate_ms (an hour), then only decrypts for at least as long again
 * (such a ticket is renewed under the newer key), then is gone at the next
 * rotation. A stolen key so opens at most two periods of sessions. The
 * session timeout (two periods) counts from the full handshake, which a
 * renewal does not move, so a full handshake comes at least that often. */

struct ticket_key {
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char hmac[32];
    int64_t born; /* clock_ms */
};

struct tls_server {
    pthread_mutex_t mu; /* ctx and the keys: workers and the reloading thread */
    SSL_CTX *ctx;
    struct ticket_key cur, prev;
    bool have_prev;
    int64_t rotate_ms;
};

static int ctx_index = -1; /* SSL_CTX ex_data slot for its tls_server, made once */
static pthread_once_t ctx_index_once = PTHREAD_ONCE_INIT;

static void make_ctx_index(void)
{
    ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static int new_ticket_key(struct ticket_key *k, int64_t now)
{
    if (RAND_bytes(k->name, sizeof k->name) != 1 || RAND_bytes(k->aes, sizeof k->aes) != 1 ||
        RAND_bytes(k->hmac, sizeof k->hmac) != 1)
        return -EIO;
    k->born = now;
    return 0;
}

/* Under s->mu: moves the keys on by the periods that have passed. */
static void rotate_keys(struct tls_server *s, int64_t now)
{
    if (now - s->cur.born < s->rotate_ms)
        return;
    if (now - s->cur.born < 2 * s->rotate_ms) {
        s->prev = s->cur;
        s->have_prev = true;
    } else {
        s->have_prev = false; /* idle for long: the old key is past its time too */
    }
    if (new_ticket_key(&s->cur, now) < 0) {
        /* No randomness: keep no key at all rather than an old one. */
        s->have_prev = false;
        OPENSSL_cleanse(&s->cur, sizeof s->cur);
        s->cur.born = INT64_MIN / 2;
    }
    if (!s->have_prev)
        OPENSSL_cleanse(&s->prev, sizeof s->prev);
}

static int ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *cctx,
                     EVP_MAC_CTX *hctx, int enc)
{
    struct tls_server *s = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index);
    struct ticket_key k;
    int rc = 1;

    if (s == NULL)
        return -1;
    pthread_mutex_lock(&s->mu);
    int64_t now = clock_ms();
    rotate_keys(s, now);
    if (enc) {
        k = s->cur;
        if (now - k.born >= s->rotate_ms)
            rc = -1; /* rotate_keys could not make one: issue no ticket */
    } else if (now - s->cur.born < s->rotate_ms &&
               memcmp(name, s->cur.name, sizeof s->cur.name) == 0) {
        k = s->cur;
    } else if (s->have_prev && memcmp(name, s->prev.name, sizeof s->prev.name) == 0) {
        k = s->prev;
        rc = 2; /* good, but renew it under the current key */
    } else {
        rc = 0; /* unknown or expired: a full handshake */
    }
    pthread_mutex_unlock(&s->mu);
    if (rc <= 0)
        return rc;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string("key", k.hmac, sizeof k.hmac),
        OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    int ivlen = EVP_CIPHER_get_iv_length(EVP_aes_256_cbc());
    if (enc) {
        memcpy(name, k.name, sizeof k.name);
        if (RAND_bytes(iv, ivlen) != 1 ||
            EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1)
            rc = -1;
    } else if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1) {
        rc = -1;
    }
    if (rc > 0 && EVP_MAC_CTX_set_params(hctx, params) != 1)
        rc = -1;
    OPENSSL_cleanse(&k, sizeof k);
    return rc;
}

static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char ours[] = "\x08http/1.1";
    unsigned char *sel = NULL;

    (void)ssl;
    (void)arg;
    if (SSL_select_next_proto(&sel, outlen, ours, sizeof ours - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL; /* RFC 7301 3.2: no_application_protocol */
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* A fresh EC P-256 key and a self-signed certificate for it, valid for
 * localhost, 127.0.0.1, ::1 and host. */
static int self_signed(const char *host, X509 **xout, EVP_PKEY **kout)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *name = x ? X509_get_subject_name(x) : NULL;
    BIGNUM *serial = BN_new();
    char san[400];
    unsigned char addr[16];
    X509V3_CTX v3;
    int rc = -EPROTO;

    if (key == NULL || x == NULL || name == NULL || serial == NULL)
        goto fail;
    snprintf(san, sizeof san, "DNS:localhost,IP:127.0.0.1,IP:::1");
    if (host != NULL && *host != '\0' && strlen(host) < 256 && strpbrk(host, ",:") == NULL) {
        bool ip = inet_pton(AF_INET, host, addr) == 1;
        snprintf(san + strlen(san), sizeof san - strlen(san), ",%s:%s", ip ? "IP" : "DNS", host);
    } else if (host != NULL && inet_pton(AF_INET6, host, addr) == 1 && strlen(host) < 64) {
        snprintf(san + strlen(san), sizeof san - strlen(san), ",IP:%s", host);
    }
    if (X509_set_version(x, 2) != 1 ||
        BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
        BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) == NULL ||
        X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400) == NULL ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"ferry", -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, key) != 1)
        goto fail;
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    const struct {
        int nid;
        const char *value;
    } exts[] = {
        {NID_subject_alt_name, san},
        {NID_key_usage, "critical,digitalSignature"},
        {NID_ext_key_usage, "serverAuth"},
        {NID_subject_key_identifier, "hash"},
    };
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, exts[i].nid, exts[i].value);
        int ok = e != NULL && X509_add_ext(x, e, -1) == 1;
        X509_EXTENSION_free(e);
        if (!ok)
            goto fail;
    }
    if (X509_sign(x, key, EVP_sha256()) == 0)
        goto fail;
    BN_free(serial);
    *xout = x;
    *kout = key;
    return 0;

fail:
    BN_free(serial);
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

/* A new server SSL_CTX for src, tied to s for the ticket keys. */
static int make_ctx(struct tls_server *s, const struct tls_server_src *src, SSL_CTX **out,
                    char *err, size_t errsz)
{
    static const unsigned char sid_ctx[] = "ferry";
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    X509 *x = NULL;
    EVP_PKEY *key = NULL;

    ERR_clear_error();
    if (ctx == NULL) {
        reason(err, errsz, "TLS set-up", NULL);
        return -EPROTO;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Partial writes report each record as it goes; a buffer that moved
     * (the worker's shared read buffer) is fine as long as its bytes are
     * the same. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    /* Resumption by tickets alone: no session cache to share among threads. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
    SSL_CTX_set_timeout(ctx, (long)(2 * s->rotate_ms / 1000 + 1));
    SSL_CTX_set_ex_data(ctx, ctx_index, s);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
    if (src->cert_file == NULL) {
        if (self_signed(src->host, &x, &key) < 0 || SSL_CTX_use_certificate(ctx, x) != 1 ||
            SSL_CTX_use_PrivateKey(ctx, key) != 1) {
            reason(err, errsz, "cannot make a self-signed certificate", NULL);
            goto fail;
        }
    } else if (SSL_CTX_use_certificate_chain_file(ctx, src->cert_file) != 1) {
        reason(err, errsz, src->cert_file, NULL);
        goto fail;
    } else if (SSL_CTX_use_PrivateKey_file(ctx, src->key_file, SSL_FILETYPE_PEM) != 1) {
        reason(err, errsz, src->key_file, NULL);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        reason(err, errsz, "the key does not fit the certificate", NULL);
        goto fail;
    }
    X509_free(x);
    EVP_PKEY_free(key);
    *out = ctx;
    return 0;

fail:
    X509_free(x);
    EVP_PKEY_free(key);
    SSL_CTX_free(ctx);
    return -EPROTO;
}

int tls_server_new(const struct tls_server_src *src, struct tls_server **out, char *err,
                   size_t errsz)
{
    struct tls_server *s = calloc(1, sizeof *s);
    int rc;

    if (s == NULL)
        return -ENOMEM;
    pthread_once(&ctx_index_once, make_ctx_index);
    if (ctx_index < 0 || new_ticket_key(&s->cur, clock_ms()) < 0) {
        snprintf(err, errsz, "TLS set-up failed");
        free(s);
        return -EPROTO;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->rotate_ms = src->ticket_rotate_ms > 0 ? src->ticket_rotate_ms : TLS_TICKET_ROTATE_MS;
    rc = make_ctx(s, src, &s->ctx, err, errsz);
    if (rc < 0) {
        tls_server_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int tls_server_reload(struct tls_server *s, const struct tls_server_src *src, char *err,
                      size_t errsz)
{
    SSL_CTX *ctx, *old;
    int rc = make_ctx(s, src, &ctx, err, errsz);

    if (rc < 0)
        return rc;
    pthread_mutex_lock(&s->mu);
    old = s->ctx;
    s->ctx = ctx;
    pthread_mutex_unlock(&s->mu);
    SSL_CTX_free(old); /* the sessions made from it hold their own references */
    return 0;
}

void tls_server_fingerprint(struct tls_server *s, char hex[TLS_FP_LEN])
{
    unsigned char md[TLS_PIN_LEN];

    hex[0] = '\0';
    pthread_mutex_lock(&s->mu);
    bool ok = cert_digest(SSL_CTX_get0_certificate(s->ctx), md);
    pthread_mutex_unlock(&s->mu);
    if (ok)
        fp_format(md, hex);
}

void tls_server_free(struct tls_server *s)
{
    if (s == NULL)
        return;
    SSL_CTX_free(s->ctx);
    pthread_mutex_destroy(&s->mu);
    OPENSSL_cleanse(s, sizeof *s);
    free(s);
}

struct tls *tls_server_conn(struct tls_server *s, int fd)
{
    struct tls *t = calloc(1, sizeof *t);

    if (t == NULL)
        return NULL;
    t->fd = fd;
    pthread_mutex_lock(&s->mu);
    t->ssl = SSL_new(s->ctx);
    pthread_mutex_unlock(&s->mu);
    if (t->ssl == NULL || SSL_set_fd(t->ssl, fd) != 1 || SSL_set_app_data(t->ssl, t) != 1) {
        ERR_clear_error();
        tls_free(t);
        return NULL;
    }
    SSL_set_accept_state(t->ssl);
    return t;
}

/* What SSL_get_error e says about a call that did not complete. */
static enum tls_step step_of(struct tls *t, int e)
{
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        t->waits = e == SSL_ERROR_WANT_WRITE ? TLS_WANT_WRITE : TLS_WANT_READ;
        return (enum tls_step)t->waits;
    }
    return TLS_FAILED;
}

enum tls_step tls_handshake(struct tls *t)
{
    t->waits = TLS_DONE;
    int r = SSL_do_handshake(t->ssl);

    if (r == 1)
        return TLS_DONE;
    enum tls_step st = step_of(t, SSL_get_error(t->ssl, r));
    if (st == TLS_FAILED) {
        t->failed = true;
        ERR_clear_error();
    }
    return st;
}

ssize_t tls_recv(struct tls *t, void *p, size_t n)
{
    size_t got = 0;

    t->waits = TLS_DONE;
    int r = SSL_read_ex(t->ssl, p, n, &got);

    if (r == 1)
        return (ssize_t)got;
    int e = SSL_get_error(t->ssl, r);
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    if (step_of(t, e) != TLS_FAILED)
        return -EAGAIN;
    int rc = failure(t, e);
    return rc == TLS_ECUT ? 0 : rc;
}

ssize_t tls_send(struct tls *t, const void *p, size_t n)
{
    size_t done = 0;

    t->waits = TLS_DONE;
    /* Partial-write mode: each record is reported as it leaves. */
    int e = write_some(t, p, n, &done);
    if (e != 0 && step_of(t, e) == TLS_FAILED) {
        int rc = failure(t, e);
        return done > 0 ? (ssize_t)done : rc;
    }
    return done > 0 || n == 0 ? (ssize_t)done : -EAGAIN;
}

enum tls_step tls_waits(const struct tls *t)
{
    return (enum tls_step)t->waits;
}
