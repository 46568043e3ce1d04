/* Loopback tests for net/xport, the client transport: a real TCP
 * connection over 127.0.0.1, and TLS against an in-process OpenSSL server
 * (a thread, a self-signed certificate made with the OpenSSL API) that
 * ends its stream cleanly (close_notify), cuts it (TCP close without
 * close_notify), or writes bytes outside the session. Every wait has a
 * deadline. */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "core/clock.h"
#include "net/sock.h"
#include "net/xport.h"

#define WAIT_MS 5000

struct server {
    int lfd, fd;
    uint16_t port;
};

static void server_listen(struct server *s)
{
    struct sockaddr_storage bound;

    s->lfd = sock_listen_tcp("127.0.0.1", 0, 8, &bound);
    assert_true(s->lfd >= 0);
    s->port = sock_addr_port((struct sockaddr *)&bound);
    s->fd = -1;
}

/* Accepts the client as a blocking socket with a receive timeout. */
static int server_accept(struct server *s)
{
    struct sockaddr_storage peer;
    struct pollfd pf = {.fd = s->lfd, .events = POLLIN};
    struct timeval tv = {.tv_sec = WAIT_MS / 1000};

    if (poll(&pf, 1, WAIT_MS) != 1)
        return -1;
    s->fd = sock_accept(s->lfd, &peer);
    if (s->fd < 0)
        return -1;
    fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) & ~O_NONBLOCK);
    setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return 0;
}

static void server_close(struct server *s)
{
    if (s->fd >= 0)
        close(s->fd);
    close(s->lfd);
}

static void client_connect(struct xport *x, const struct server *s)
{
    struct sockaddr_storage peer;

    xp_init(x);
    assert_int_equal(xp_connect(x, "127.0.0.1", s->port, WAIT_MS, &peer), 0);
}

/* Reads until the end of the stream (at most cap bytes): returns what the
 * last read returned (0 or -errno) and the count in *got. */
static ssize_t read_to_end(struct xport *x, char *p, size_t cap, size_t *got)
{
    *got = 0;
    for (int i = 0; i < 10000; i++) {
        ssize_t n = xp_read(x, p + *got, cap - *got, WAIT_MS);
        if (n <= 0)
            return n;
        *got += (size_t)n;
        if (*got == cap)
            return 1;
    }
    return -ELOOP;
}

/* ---- plain TCP -------------------------------------------------------------- */

static void test_plain_write_read_clean_end(void **state)
{
    struct server s;
    struct xport x;
    char in[64], out[64];

    server_listen(&s);
    client_connect(&x, &s);
    assert_int_equal(server_accept(&s), 0);
    assert_int_equal(xp_write(&x, "request", 7, WAIT_MS), 0);
    assert_int_equal(recv(s.fd, in, 7, MSG_WAITALL), 7);
    assert_memory_equal(in, "request", 7);
    assert_int_equal(send(s.fd, "answer+next", 11, 0), 11);
    shutdown(s.fd, SHUT_WR);
    size_t got;
    assert_int_equal(read_to_end(&x, out, sizeof out, &got), 0);
    assert_int_equal(got, 11);
    assert_memory_equal(out, "answer+next", 11);
    assert_true(x.ended);
    assert_false(x.broken);
    assert_int_equal(x.sent, 7);
    assert_int_equal(x.received, 11);
    xp_close(&x);
    assert_int_equal(x.fd, -1);
    xp_close(&x); /* closing twice is safe */
    server_close(&s);
}

/* xp_fill keeps unused bytes in front; xp_unread gives bytes back for the
 * next reader, whether they came from the buffer or the network. */
static void test_plain_fill_and_unread(void **state)
{
    struct server s;
    struct xport x;
    char p[16];

    server_listen(&s);
    client_connect(&x, &s);
    assert_int_equal(server_accept(&s), 0);
    assert_int_equal(send(s.fd, "HEADbody", 8, 0), 8);
    for (int i = 0; i < 100 && x.len < 8; i++)
        assert_true(xp_fill(&x, WAIT_MS) > 0);
    assert_int_equal(x.len, 8);
    x.pos = 4; /* the head was used */
    assert_false(xp_direct(&x)); /* bytes are buffered */
    assert_int_equal(xp_read(&x, p, sizeof p, WAIT_MS), 4);
    assert_memory_equal(p, "body", 4);
    xp_unread(&x, p + 2, 2, true);
    assert_int_equal(xp_read(&x, p, sizeof p, WAIT_MS), 2);
    assert_memory_equal(p, "dy", 2);
    assert_true(xp_direct(&x));
    assert_int_equal(send(s.fd, "xyz", 3, 0), 3);
    ssize_t n = xp_read(&x, p, sizeof p, WAIT_MS);
    assert_true(n > 0);
    xp_unread(&x, p, (size_t)n, false); /* from the network: into the buffer */
    assert_int_equal(xp_read(&x, p + 8, sizeof p - 8, WAIT_MS), n);
    assert_memory_equal(p + 8, "xyz", (size_t)n);
    xp_close(&x);
    server_close(&s);
}

/* A silent peer: the read and the wait give up at their deadline, not
 * before and not much later, and the transport stays usable. */
static void test_wait_deadline(void **state)
{
    struct server s;
    struct xport x;
    char p[8];

    server_listen(&s);
    client_connect(&x, &s);
    assert_int_equal(server_accept(&s), 0);
    int64_t t0 = clock_ms();
    assert_int_equal(xp_read(&x, p, sizeof p, 150), -ETIMEDOUT);
    int64_t took = clock_ms() - t0;
    assert_true(took >= 140 && took < 2000);
    t0 = clock_ms();
    assert_int_equal(xp_wait(&x, 100), -ETIMEDOUT);
    took = clock_ms() - t0;
    assert_true(took >= 90 && took < 2000);
    assert_false(x.broken);
    assert_int_equal(send(s.fd, "z", 1, 0), 1);
    assert_int_equal(xp_wait(&x, WAIT_MS), 0);
    assert_int_equal(xp_read(&x, p, sizeof p, WAIT_MS), 1);
    xp_close(&x);
    server_close(&s);
}

/* A body taken straight off the socket: discarded in the kernel. */
static void test_take_discard_to_end(void **state)
{
    struct server s;
    struct xport x;
    static char data[200000];

    server_listen(&s);
    client_connect(&x, &s);
    assert_int_equal(server_accept(&s), 0);
    memset(data, 'd', sizeof data);
    assert_int_equal(send(s.fd, data, sizeof data, 0), (ssize_t)sizeof data);
    close(s.fd);
    s.fd = -1;
    size_t total = 0;
    ssize_t n = 1;
    for (int i = 0; i < 10000 && n > 0; i++) {
        n = xp_take(&x, -1, SIZE_MAX, 1u << 20, WAIT_MS);
        if (n > 0)
            total += (size_t)n;
    }
    assert_int_equal(n, 0);
    assert_int_equal(total, sizeof data);
    assert_true(x.ended);
    xp_close(&x);
    server_close(&s);
}

/* ---- TLS ------------------------------------------------------------------- */

enum ending { END_CLOSE_NOTIFY, END_CUT, END_GARBAGE };

struct tls_server {
    struct server s;
    enum ending ending;
    SSL_CTX *ctx;
    int ok; /* the thread got as far as its ending */
};

/* A self-signed P-256 certificate for CN=ferry-test in ctx. */
static void make_cert(SSL_CTX *ctx)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *c = X509_new();

    assert_non_null(key);
    assert_non_null(c);
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), 1);
    X509_gmtime_adj(X509_getm_notBefore(c), -60);
    X509_gmtime_adj(X509_getm_notAfter(c), 3600);
    X509_set_pubkey(c, key);
    X509_NAME *name = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"ferry-test", -1,
                               -1, 0);
    X509_set_issuer_name(c, name);
    assert_true(X509_sign(c, key, EVP_sha256()) > 0);
    assert_int_equal(SSL_CTX_use_certificate(ctx, c), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
    X509_free(c);
    EVP_PKEY_free(key);
}

static void *tls_server_run(void *arg)
{
    struct tls_server *t = arg;
    char req[64];
    static const char garbage[] = "\x17\x03\x03\x00\x10" "0123456789abcdef";

    if (server_accept(&t->s) < 0)
        return NULL;
    SSL *ssl = SSL_new(t->ctx);
    SSL_set_fd(ssl, t->s.fd);
    if (SSL_accept(ssl) != 1 || SSL_read(ssl, req, sizeof req) <= 0 ||
        SSL_write(ssl, "hello", 5) != 5)
        goto out;
    switch (t->ending) {
    case END_CLOSE_NOTIFY:
        SSL_shutdown(ssl);
        break;
    case END_CUT:
        break;
    case END_GARBAGE:
        /* A record the session did not make, straight onto the socket. */
        if (send(t->s.fd, garbage, sizeof garbage - 1, 0) != (ssize_t)sizeof garbage - 1)
            goto out;
        break;
    }
    t->ok = 1;
    shutdown(t->s.fd, SHUT_WR);
out:
    SSL_free(ssl);
    return NULL;
}

/* Runs a TLS exchange with the given ending; returns what the client's
 * read after "hello" gave. */
static ssize_t tls_ending(enum ending ending)
{
    struct tls_server t = {.ending = ending};
    struct xport x;
    pthread_t th;
    char err[256], p[64];

    t.ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(t.ctx);
    make_cert(t.ctx);
    server_listen(&t.s);
    assert_int_equal(pthread_create(&th, NULL, tls_server_run, &t), 0);
    client_connect(&x, &t.s);
    /* insecure: the point here is the stream, not the certificate */
    assert_int_equal(xp_start_tls(&x, "127.0.0.1", NULL, true, NULL, WAIT_MS, err, sizeof err), 0);
    const char *version, *cipher;
    assert_true(xp_tls_info(&x, &version, &cipher));
    assert_false(xp_direct(&x)); /* never spliced under TLS */
    assert_int_equal(xp_write(&x, "GET", 3, WAIT_MS), 0);
    size_t got;
    ssize_t last = read_to_end(&x, p, sizeof p, &got);
    pthread_join(th, NULL);
    assert_int_equal(t.ok, 1);
    assert_int_equal(got, 5);
    assert_memory_equal(p, "hello", 5);
    if (last == 0)
        assert_true(x.ended);
    else
        assert_true(x.broken && !x.ended);
    xp_close(&x);
    server_close(&t.s);
    SSL_CTX_free(t.ctx);
    return last;
}

static void test_tls_close_notify_is_a_clean_end(void **state)
{
    assert_int_equal(tls_ending(END_CLOSE_NOTIFY), 0);
}

static void test_tls_cut_is_not_a_clean_end(void **state)
{
    assert_int_equal(tls_ending(END_CUT), XP_ECUT);
}

static void test_tls_forged_record_is_an_error(void **state)
{
    assert_int_equal(tls_ending(END_GARBAGE), -EPROTO);
}

static void test_plain_has_no_tls_info(void **state)
{
    struct server s;
    struct xport x;
    const char *v = NULL, *c = NULL;

    server_listen(&s);
    client_connect(&x, &s);
    assert_false(xp_tls_info(&x, &v, &c));
    assert_true(xp_direct(&x));
    xp_close(&x);
    server_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_write_read_clean_end),
        cmocka_unit_test(test_plain_fill_and_unread),
        cmocka_unit_test(test_wait_deadline),
        cmocka_unit_test(test_take_discard_to_end),
        cmocka_unit_test(test_plain_has_no_tls_info),
        cmocka_unit_test(test_tls_close_notify_is_a_clean_end),
        cmocka_unit_test(test_tls_cut_is_not_a_clean_end),
        cmocka_unit_test(test_tls_forged_record_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
