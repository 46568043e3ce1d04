/* The server side of net/tls and the server transport net/sio, on
 * socketpairs in one thread: an OpenSSL client and our non-blocking server
 * are stepped in turn, so nothing waits on anything but poll with a
 * deadline. Also: pins (tls_pin_parse), ticket key rotation with a short
 * period, a reload, and a file sent through sio_send_file over TLS with
 * the socket filling up, compared byte for byte. */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include "core/clock.h"
#include "net/sio.h"
#include "net/tls.h"

#define WAIT_MS 5000
#define ROTATE_MS 2500 /* the ticket key period of the rotation test */

/* ---- pins ------------------------------------------------------------- */

struct pin_case {
    const char *name, *in;
    int want;
};

/* clang-format off */
static const struct pin_case pin_cases[] = {
    {"lower hex", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 0},
    {"upper hex", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", 0},
    {"colons", "00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E:1F", 0},
    {"empty", "", -EINVAL},
    {"one digit short", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1", -EINVAL},
    {"one byte long", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20", -EINVAL},
    {"not hex", "g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", -EINVAL},
    {"leading colon", ":000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", -EINVAL},
    {"trailing colon", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f:", -EINVAL},
    {"double colon", "00::0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", -EINVAL},
    {"colon mid-byte", "0:00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", -EINVAL},
    {"base64 form", "sha256//AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", -EINVAL},
};
/* clang-format on */

static void test_pin(void **state)
{
    const struct pin_case *c = *state;
    unsigned char pin[TLS_PIN_LEN];

    assert_int_equal(tls_pin_parse(c->in, pin), c->want);
    for (int i = 0; c->want == 0 && i < TLS_PIN_LEN; i++)
        assert_int_equal(pin[i], i);
}

/* ---- a client and our server on a socketpair ----------------------------- */

struct pair {
    int cfd, sfd;
    SSL_CTX *cctx;
    SSL *cssl;
    struct tls *srv;
};

static void pair_open(struct pair *p, struct tls_server *ts, SSL_SESSION *sess, int max_version)
{
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    p->cfd = sv[0];
    p->sfd = sv[1];
    p->cctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(p->cctx);
    SSL_CTX_set_verify(p->cctx, SSL_VERIFY_NONE, NULL);
    p->cssl = SSL_new(p->cctx);
    assert_non_null(p->cssl);
    SSL_set_max_proto_version(p->cssl, max_version);
    SSL_set_fd(p->cssl, p->cfd);
    SSL_set_connect_state(p->cssl);
    if (sess != NULL)
        assert_int_equal(SSL_set_session(p->cssl, sess), 1);
    p->srv = tls_server_conn(ts, p->sfd);
    assert_non_null(p->srv);
}

static void pair_close(struct pair *p)
{
    /* A client session freed without close_notify is marked not resumable. */
    SSL_shutdown(p->cssl);
    ERR_clear_error();
    tls_free(p->srv);
    SSL_free(p->cssl);
    SSL_CTX_free(p->cctx);
    close(p->cfd);
    close(p->sfd);
}

/* Steps both handshakes until both are done; the server's is ours. */
static void pair_handshake(struct pair *p)
{
    bool cdone = false, sdone = false;
    int64_t end = clock_ms() + WAIT_MS;

    while (!(cdone && sdone)) {
        assert_true(clock_ms() < end);
        if (!cdone) {
            int r = SSL_do_handshake(p->cssl);
            int e = r == 1 ? 0 : SSL_get_error(p->cssl, r);
            assert_true(r == 1 || e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE);
            cdone = r == 1;
        }
        if (!sdone) {
            enum tls_step st = tls_handshake(p->srv);
            assert_int_not_equal(st, TLS_FAILED);
            sdone = st == TLS_DONE;
        }
    }
}

/* Client reads, without blocking, whatever has come (TLS 1.3 tickets, data). */
static size_t client_read(struct pair *p, char *buf, size_t n)
{
    size_t got = 0;

    if (SSL_read_ex(p->cssl, buf, n, &got) != 1) {
        int e = SSL_get_error(p->cssl, 0);
        (void)e;
        ERR_clear_error();
        return 0;
    }
    return got;
}

/* One exchange: the client writes a line, the server reads it through sio
 * and answers through sio; the client reads the answer (and so any
 * tickets that came before it). */
static void pair_exchange(struct pair *p)
{
    char buf[256];
    size_t w;
    ssize_t n = -EAGAIN;
    int64_t end = clock_ms() + WAIT_MS;

    assert_int_equal(SSL_write_ex(p->cssl, "ping\n", 5, &w), 1);
    while (n == -EAGAIN) {
        assert_true(clock_ms() < end);
        n = sio_recv(p->sfd, p->srv, buf, sizeof buf);
    }
    assert_int_equal(n, 5);
    assert_memory_equal(buf, "ping\n", 5);
    struct iovec iov[2] = {{(void *)"po", 2}, {(void *)"ng\n", 3}};
    assert_int_equal(sio_sendv(p->sfd, p->srv, iov, 2, false), 5);
    size_t got = 0;
    while (got < 5) {
        assert_true(clock_ms() < end);
        got += client_read(p, buf + got, sizeof buf - got);
    }
    assert_memory_equal(buf, "pong\n", 5);
}

static struct tls_server *self_signed_server(int rotate_ms)
{
    struct tls_server_src src = {.host = "127.0.0.1", .ticket_rotate_ms = rotate_ms};
    struct tls_server *ts = NULL;
    char err[256];

    assert_int_equal(tls_server_new(&src, &ts, err, sizeof err), 0);
    return ts;
}

/* A full handshake, then a session to resume with; *reused says whether
 * this one was resumed. */
static SSL_SESSION *session_from(struct tls_server *ts, SSL_SESSION *offer, int version,
                                 bool *reused)
{
    struct pair p;

    pair_open(&p, ts, offer, version);
    pair_handshake(&p);
    pair_exchange(&p);
    *reused = SSL_session_reused(p.cssl) == 1;
    SSL_SESSION *s = SSL_get1_session(p.cssl);
    pair_close(&p);
    assert_non_null(s);
    return s;
}

static void test_handshake_and_exchange(void **state)
{
    struct tls_server *ts = self_signed_server(0);
    struct pair p;
    char fp[TLS_FP_LEN];

    (void)state;
    pair_open(&p, ts, NULL, TLS1_3_VERSION);
    pair_handshake(&p);
    assert_string_equal(SSL_get_version(p.cssl), "TLSv1.3");
    pair_exchange(&p);
    pair_exchange(&p);
    /* The fingerprint is the certificate the client saw. */
    unsigned char md[32];
    unsigned int len = 0;
    X509 *x = SSL_get1_peer_certificate(p.cssl);
    assert_int_equal(X509_digest(x, EVP_sha256(), md, &len), 1);
    X509_free(x);
    tls_server_fingerprint(ts, fp);
    char hex[4];
    for (int i = 0; i < 32; i++) {
        snprintf(hex, sizeof hex, "%02X", md[i]);
        assert_memory_equal(fp + 3 * i, hex, 2);
    }
    /* close_notify, then the client sees a clean end. */
    sio_end(p.sfd, p.srv);
    char buf[16];
    size_t got = 0;
    int64_t end = clock_ms() + WAIT_MS;
    int r, e;
    do {
        assert_true(clock_ms() < end);
        r = SSL_read_ex(p.cssl, buf, sizeof buf, &got);
        e = SSL_get_error(p.cssl, r);
    } while (r != 1 && e == SSL_ERROR_WANT_READ);
    assert_int_equal(e, SSL_ERROR_ZERO_RETURN);
    pair_close(&p);
    tls_server_free(ts);
}

static void test_not_tls_fails(void **state)
{
    struct tls_server *ts = self_signed_server(0);
    struct pair p;
    static const char junk[] = "\x16\x03\x01\x00\x05\xff\xff\xff\xff\xffGET / HTTP/1.1\r\n\r\n";

    (void)state;
    pair_open(&p, ts, NULL, TLS1_3_VERSION);
    assert_int_equal(write(p.cfd, junk, sizeof junk - 1), (ssize_t)(sizeof junk - 1));
    assert_int_equal(tls_handshake(p.srv), TLS_FAILED);
    assert_int_equal(ERR_peek_error(), 0); /* the queue is left empty */
    pair_close(&p);
    tls_server_free(ts);
}

static void test_handshake_waits_for_the_rest(void **state)
{
    struct tls_server *ts = self_signed_server(0);
    struct pair p;

    (void)state;
    pair_open(&p, ts, NULL, TLS1_3_VERSION);
    assert_int_equal(write(p.cfd, "\x16\x03\x01", 3), 3); /* a third of a record header */
    assert_int_equal(tls_handshake(p.srv), TLS_WANT_READ);
    assert_int_equal(sio_events(p.srv, EPOLLOUT), EPOLLIN);
    pair_close(&p);
    tls_server_free(ts);
}

static void test_resumption_both_versions(void **state)
{
    struct tls_server *ts = self_signed_server(0);
    bool reused;

    (void)state;
    for (int v = TLS1_2_VERSION; v <= TLS1_3_VERSION; v++) {
        SSL_SESSION *s = session_from(ts, NULL, v, &reused);
        assert_false(reused);
        SSL_SESSION *s2 = session_from(ts, s, v, &reused);
        assert_true(reused);
        SSL_SESSION_free(s);
        SSL_SESSION_free(s2);
    }
    tls_server_free(ts);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* A ticket is resumed under the key that made it; after one period that
 * key only decrypts (the session is resumed, and renewed under the new
 * key); after the next rotation it is gone. Session C is young enough at
 * the end (1.7 periods, the session lifetime is 2 and a second) that only
 * the key's removal can refuse it. */
static void test_ticket_rotation(void **state)
{
    struct tls_server *ts = self_signed_server(ROTATE_MS);
    bool reused;

    (void)state;
    SSL_SESSION *a = session_from(ts, NULL, TLS1_2_VERSION, &reused); /* key 0, at 0 */
    SSL_SESSION *a2 = session_from(ts, a, TLS1_2_VERSION, &reused);
    assert_true(reused);
    sleep_ms(ROTATE_MS * 7 / 10);
    SSL_SESSION *c = session_from(ts, NULL, TLS1_2_VERSION, &reused); /* key 0, at 0.7 */
    sleep_ms(ROTATE_MS * 5 / 10);
    SSL_SESSION *a3 = session_from(ts, a, TLS1_2_VERSION, &reused); /* 1.2: key 1 now */
    assert_true(reused); /* key 0 still decrypts */
    const unsigned char *t_old, *t_new;
    size_t l_old, l_new;
    SSL_SESSION_get0_ticket(a, &t_old, &l_old);
    SSL_SESSION_get0_ticket(a3, &t_new, &l_new);
    assert_true(l_new > 16 && l_old > 16);
    assert_memory_not_equal(t_old, t_new, 16); /* renewed: another key name */
    sleep_ms(ROTATE_MS * 12 / 10);
    SSL_SESSION *c2 = session_from(ts, c, TLS1_2_VERSION, &reused); /* 2.4: key 2, key 0 gone */
    assert_false(reused);
    SSL_SESSION *c3 = session_from(ts, c2, TLS1_2_VERSION, &reused);
    assert_true(reused); /* and the fresh session resumes under key 2 */
    SSL_SESSION_free(a);
    SSL_SESSION_free(a2);
    SSL_SESSION_free(a3);
    SSL_SESSION_free(c);
    SSL_SESSION_free(c2);
    SSL_SESSION_free(c3);
    tls_server_free(ts);
}

static void test_reload(void **state)
{
    struct tls_server *ts = self_signed_server(0);
    struct tls_server_src bad = {.cert_file = "/nonexistent/cert.pem",
                                 .key_file = "/nonexistent/key.pem"};
    struct tls_server_src again = {.host = NULL};
    char before[TLS_FP_LEN], after[TLS_FP_LEN], err[256] = "";
    struct pair old;
    bool reused;

    (void)state;
    tls_server_fingerprint(ts, before);
    pair_open(&old, ts, NULL, TLS1_3_VERSION);
    pair_handshake(&old);
    SSL_SESSION *s = session_from(ts, NULL, TLS1_3_VERSION, &reused);
    assert_int_equal(tls_server_reload(ts, &bad, err, sizeof err), -EPROTO);
    assert_non_null(strstr(err, "/nonexistent/cert.pem"));
    tls_server_fingerprint(ts, after);
    assert_string_equal(before, after); /* a bad file keeps the old one */
    assert_int_equal(tls_server_reload(ts, &again, err, sizeof err), 0);
    tls_server_fingerprint(ts, after);
    assert_string_not_equal(before, after); /* a new self-signed certificate */
    pair_exchange(&old);                    /* the connection in flight goes on */
    SSL_SESSION *s2 = session_from(ts, s, TLS1_3_VERSION, &reused);
    assert_true(reused); /* the ticket keys are the server's, not the context's */
    SSL_SESSION_free(s);
    SSL_SESSION_free(s2);
    pair_close(&old);
    tls_server_free(ts);
}

/* A file through sio_send_file over TLS into a small socket buffer: every
 * -EAGAIN leaves part of a record behind, which the next call must finish
 * from the same offset. */
static void test_send_file_over_tls(void **state)
{
    struct tls_server *ts = self_signed_server(0);
    struct pair p;
    char path[] = "/tmp/ferry-test-tls-XXXXXX";
    size_t size = 3u << 20, got = 0;
    char *data = malloc(size), *back = malloc(size), *scratch = malloc(256u << 10);
    int small = 4096;

    (void)state;
    assert_non_null(data);
    assert_non_null(back);
    assert_non_null(scratch);
    for (size_t i = 0; i < size; i++)
        data[i] = (char)(i * 7 + i / 251);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, data, size), (ssize_t)size);
    pair_open(&p, ts, NULL, TLS1_3_VERSION);
    setsockopt(p.sfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    pair_handshake(&p);
    off_t off = 0;
    int again = 0;
    int64_t end = clock_ms() + 4 * WAIT_MS;
    while (got < size) {
        assert_true(clock_ms() < end);
        if ((size_t)off < size) {
            ssize_t n =
                sio_send_file(p.sfd, p.srv, fd, &off, size - (size_t)off, scratch, 256u << 10);
            assert_true(n > 0 || n == -EAGAIN);
            again += n == -EAGAIN;
        }
        got += client_read(&p, back + got, size - got);
    }
    assert_int_equal(off, (off_t)size);
    assert_true(again > 0); /* the socket did fill up */
    assert_memory_equal(back, data, size);
    close(fd);
    free(data);
    free(back);
    free(scratch);
    pair_close(&p);
    tls_server_free(ts);
}

/* close_notify into a socket with no room: -EAGAIN (asking for EPOLLOUT),
 * no TCP shutdown yet; once the peer has read, it goes and ends the stream
 * cleanly after all the data. */
static void test_end_waits_for_room(void **state)
{
    struct tls_server *ts = self_signed_server(0);
    struct pair p;
    static char data[20000], back[sizeof data];
    int tiny = 1;
    size_t got = 0;
    int64_t end = clock_ms() + WAIT_MS;

    (void)state;
    memset(data, 'x', sizeof data);
    pair_open(&p, ts, NULL, TLS1_3_VERSION);
    pair_handshake(&p);
    struct iovec iov = {data, sizeof data};
    assert_int_equal(sio_sendv(p.sfd, p.srv, &iov, 1, false), (ssize_t)sizeof data);
    /* The bytes not yet read count against a send buffer now far smaller. */
    assert_int_equal(setsockopt(p.sfd, SOL_SOCKET, SO_SNDBUF, &tiny, sizeof tiny), 0);
    assert_int_equal(sio_end(p.sfd, p.srv), -EAGAIN);
    assert_int_equal(sio_events(p.srv, EPOLLIN), EPOLLOUT);
    while (got < sizeof data) {
        assert_true(clock_ms() < end);
        got += client_read(&p, back + got, sizeof back - got);
    }
    assert_memory_equal(back, data, sizeof data);
    assert_int_equal(sio_end(p.sfd, p.srv), 0);
    char buf[16];
    int r, e;
    do {
        assert_true(clock_ms() < end);
        r = SSL_read_ex(p.cssl, buf, sizeof buf, &got);
        e = SSL_get_error(p.cssl, r);
    } while (r != 1 && e == SSL_ERROR_WANT_READ);
    assert_int_equal(e, SSL_ERROR_ZERO_RETURN);
    pair_close(&p);
    tls_server_free(ts);
}

static void test_plain_sio(void **state)
{
    int sv[2];
    char buf[16];

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    assert_int_equal(sio_recv(sv[1], NULL, buf, sizeof buf), -EAGAIN);
    assert_int_equal(sio_peek(sv[1]), -EAGAIN);
    struct iovec iov[2] = {{(void *)"\x16", 1}, {(void *)"ab", 2}};
    assert_int_equal(sio_sendv(sv[0], NULL, iov, 2, false), 3);
    assert_int_equal(sio_peek(sv[1]), 0x16);
    assert_int_equal(sio_recv(sv[1], NULL, buf, sizeof buf), 3); /* the peek took nothing */
    assert_false(sio_pending(NULL));
    assert_int_equal(sio_events(NULL, EPOLLOUT), EPOLLOUT);
    sio_end(sv[0], NULL);
    assert_int_equal(sio_peek(sv[1]), 0x100);
    assert_int_equal(sio_recv(sv[1], NULL, buf, sizeof buf), 0);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, pin_cases, test_pin);
    unit_add(&l, "sio on plain sockets", test_plain_sio, NULL);
    unit_add(&l, "handshake, exchanges, fingerprint, close_notify", test_handshake_and_exchange,
             NULL);
    unit_add(&l, "garbage after 0x16: failed, queue empty", test_not_tls_fails, NULL);
    unit_add(&l, "part of a ClientHello: waits to read", test_handshake_waits_for_the_rest, NULL);
    unit_add(&l, "resumption by ticket, TLS 1.2 and 1.3", test_resumption_both_versions, NULL);
    unit_add(&l, "ticket keys rotate; old ones renew, then go", test_ticket_rotation, NULL);
    unit_add(&l, "reload: bad file keeps the old; in flight goes on", test_reload, NULL);
    unit_add(&l, "a file over TLS into a full socket", test_send_file_over_tls, NULL);
    unit_add(&l, "close_notify waits for room, then ends clean", test_end_waits_for_room, NULL);
    return unit_run("tls_server", &l);
}
