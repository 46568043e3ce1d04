/* Loopback tests for get/body: one body_move for every framing and
 * destination, over a real TCP connection on 127.0.0.1 (net/xport). The
 * server side writes a script of bytes, then closes or stays open. Every
 * wait has a deadline. */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "get/body.h"
#include "net/sock.h"
#include "net/xport.h"

#define WAIT_MS 5000

struct pair {
    int lfd, server;
    struct xport x;
};

static void pair_open(struct pair *p)
{
    struct sockaddr_storage bound, peer;

    p->lfd = sock_listen_tcp("127.0.0.1", 0, 8, &bound);
    assert_true(p->lfd >= 0);
    xp_init(&p->x);
    assert_int_equal(xp_connect(&p->x, "127.0.0.1", sock_addr_port((struct sockaddr *)&bound),
                                WAIT_MS, &peer),
                     0);
    struct pollfd pf = {.fd = p->lfd, .events = POLLIN};
    assert_int_equal(poll(&pf, 1, WAIT_MS), 1);
    p->server = sock_accept(p->lfd, &peer);
    assert_true(p->server >= 0);
}

static void pair_close(struct pair *p)
{
    xp_close(&p->x);
    if (p->server >= 0)
        close(p->server);
    close(p->lfd);
}

static void server_send(struct pair *p, const void *data, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = sock_send(p->server, (const char *)data + done, n - done, 0);
        if (w == -EAGAIN) {
            struct pollfd pf = {.fd = p->server, .events = POLLOUT};
            assert_int_equal(poll(&pf, 1, WAIT_MS), 1);
            continue;
        }
        assert_true(w > 0);
        done += (size_t)w;
    }
}

static int temp_file(void)
{
    char path[] = "/tmp/ferry-test-body.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    return fd;
}

static char *pattern(size_t n)
{
    char *d = malloc(n);
    assert_non_null(d);
    for (size_t i = 0; i < n; i++)
        d[i] = (char)(i * 13 + 1);
    return d;
}

static void assert_file_is(int fd, const char *want, size_t n)
{
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, n);
    char *got = malloc(n + 1);
    assert_non_null(got);
    assert_int_equal(pread(fd, got, n, 0), (ssize_t)n);
    assert_memory_equal(got, want, n);
    free(got);
}

struct counter {
    int calls;
    int64_t last;
};

static void count_progress(void *arg, int64_t moved)
{
    struct counter *c = arg;
    assert_true(moved >= c->last);
    c->calls++;
    c->last = moved;
}

/* Content-Length to a file: exactly that many bytes, the rest stays. */
static void test_length_to_file_leaves_what_follows(void **state)
{
    struct body_mover m;
    struct pair p;
    const size_t n = 200000;
    char *d = pattern(n), rest[8];
    struct counter c = {0, 0};

    assert_int_equal(body_mover_init(&m), 0);
    pair_open(&p);
    int fd = temp_file();
    server_send(&p, d, n);
    server_send(&p, "NEXT", 4);
    struct body_job j = {.framing = BODY_LENGTH, .length = (int64_t)n, .fd = fd,
                         .timeout_ms = WAIT_MS, .progress = count_progress, .arg = &c};
    assert_int_equal(body_move(&m, &p.x, &j), BODY_DONE);
    assert_int_equal(j.moved, n);
    assert_int_equal(c.last, n);
    assert_true(c.calls > 0);
    assert_file_is(fd, d, n);
    assert_int_equal(xp_read(&p.x, rest, 4, WAIT_MS), 4);
    assert_memory_equal(rest, "NEXT", 4);
    close(fd);
    pair_close(&p);
    body_mover_free(&m);
    free(d);
}

/* Bytes already buffered in the transport come first. */
static void test_buffered_bytes_first(void **state)
{
    struct body_mover m;
    struct pair p;

    assert_int_equal(body_mover_init(&m), 0);
    pair_open(&p);
    int fd = temp_file();
    server_send(&p, "HEADabc", 7);
    for (int i = 0; i < 100 && p.x.len < 7; i++)
        assert_true(xp_fill(&p.x, WAIT_MS) > 0);
    p.x.pos = 4;
    server_send(&p, "defgh", 5);
    struct body_job j = {.framing = BODY_LENGTH, .length = 8, .fd = fd, .timeout_ms = WAIT_MS};
    assert_int_equal(body_move(&m, &p.x, &j), BODY_DONE);
    assert_file_is(fd, "abcdefgh", 8);
    close(fd);
    pair_close(&p);
    body_mover_free(&m);
}

/* A short Content-Length body: cut, with a clean end (err 0). */
static void test_length_cut_short(void **state)
{
    struct body_mover m;
    struct pair p;

    assert_int_equal(body_mover_init(&m), 0);
    pair_open(&p);
    int fd = temp_file();
    server_send(&p, "12345", 5);
    close(p.server);
    p.server = -1;
    struct body_job j = {.framing = BODY_LENGTH, .length = 100, .fd = fd, .timeout_ms = WAIT_MS};
    assert_int_equal(body_move(&m, &p.x, &j), BODY_CUT);
    assert_int_equal(j.err, 0);
    assert_int_equal(j.moved, 5);
    assert_file_is(fd, "12345", 5);
    close(fd);
    pair_close(&p);
    body_mover_free(&m);
}

/* Until close: everything up to the FIN, into a file or nowhere. */
static void test_until_close(void **state)
{
    for (int discard = 0; discard <= 1; discard++) {
        struct body_mover m;
        struct pair p;
        const size_t n = 200000;
        char *d = pattern(n);

        assert_int_equal(body_mover_init(&m), 0);
        pair_open(&p);
        int fd = temp_file();
        server_send(&p, d, n);
        close(p.server);
        p.server = -1;
        struct body_job j = {.framing = BODY_UNTIL_CLOSE, .fd = fd, .discard = discard,
                             .timeout_ms = WAIT_MS};
        assert_int_equal(body_move(&m, &p.x, &j), BODY_DONE);
        assert_int_equal(j.moved, n);
        if (discard)
            assert_file_is(fd, "", 0);
        else
            assert_file_is(fd, d, n);
        close(fd);
        pair_close(&p);
        body_mover_free(&m);
        free(d);
    }
}

/* Chunked: decoded; the next answer's bytes go back to the transport. */
static void test_chunked_gives_back_what_follows(void **state)
{
    struct body_mover m;
    struct pair p;
    static const char wire[] = "5\r\nhello\r\n7;ext=1\r\n, ferry\r\n0\r\nX-T: 1\r\n\r\nHTTP/1.1 200";
    char rest[16];

    assert_int_equal(body_mover_init(&m), 0);
    pair_open(&p);
    int fd = temp_file();
    server_send(&p, wire, sizeof wire - 1);
    struct body_job j = {.framing = BODY_CHUNKED, .fd = fd, .timeout_ms = WAIT_MS};
    assert_int_equal(body_move(&m, &p.x, &j), BODY_DONE);
    assert_int_equal(j.moved, 12);
    assert_file_is(fd, "hello, ferry", 12);
    assert_int_equal(xp_read(&p.x, rest, sizeof rest, WAIT_MS), 12);
    assert_memory_equal(rest, "HTTP/1.1 200", 12);
    close(fd);
    pair_close(&p);
    body_mover_free(&m);
}

static void test_chunked_malformed_and_cut(void **state)
{
    static const char *const wires[] = {"zz\r\nhello\r\n", "5\r\nhel"};
    static const enum body_result want[] = {BODY_MALFORMED, BODY_CUT};

    for (size_t i = 0; i < ARRAY_LEN(wires); i++) {
        struct body_mover m;
        struct pair p;

        assert_int_equal(body_mover_init(&m), 0);
        pair_open(&p);
        int fd = temp_file();
        server_send(&p, wires[i], strlen(wires[i]));
        close(p.server);
        p.server = -1;
        struct body_job j = {.framing = BODY_CHUNKED, .fd = fd, .timeout_ms = WAIT_MS};
        if (body_move(&m, &p.x, &j) != want[i])
            fail_msg("%s: wrong result", wires[i]);
        close(fd);
        pair_close(&p);
        body_mover_free(&m);
    }
}

/* A stalled peer: cut with -ETIMEDOUT at the deadline. */
static void test_stall_times_out(void **state)
{
    struct body_mover m;
    struct pair p;

    assert_int_equal(body_mover_init(&m), 0);
    pair_open(&p);
    int fd = temp_file();
    server_send(&p, "abc", 3);
    struct body_job j = {.framing = BODY_LENGTH, .length = 10, .fd = fd, .timeout_ms = 150};
    assert_int_equal(body_move(&m, &p.x, &j), BODY_CUT);
    assert_int_equal(j.err, -ETIMEDOUT);
    assert_int_equal(j.moved, 3);
    close(fd);
    pair_close(&p);
    body_mover_free(&m);
}

/* An O_APPEND output refuses splice: the mover copies instead. */
static void test_output_refusing_splice(void **state)
{
    struct body_mover m;
    struct pair p;
    char path[] = "/tmp/ferry-test-body-app.XXXXXX";
    const size_t n = 200000;
    char *d = pattern(n);

    assert_int_equal(body_mover_init(&m), 0);
    pair_open(&p);
    int tmp = mkstemp(path);
    assert_true(tmp >= 0);
    close(tmp);
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    assert_true(fd >= 0);
    int rfd = open(path, O_RDONLY | O_CLOEXEC);
    unlink(path);
    server_send(&p, d, n);
    struct body_job j = {.framing = BODY_LENGTH, .length = (int64_t)n, .fd = fd,
                         .timeout_ms = WAIT_MS};
    assert_int_equal(body_move(&m, &p.x, &j), BODY_DONE);
    assert_true(m.no_splice);
    assert_file_is(rfd, d, n);
    close(fd);
    close(rfd);
    pair_close(&p);
    body_mover_free(&m);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_length_to_file_leaves_what_follows),
        cmocka_unit_test(test_buffered_bytes_first),
        cmocka_unit_test(test_length_cut_short),
        cmocka_unit_test(test_until_close),
        cmocka_unit_test(test_chunked_gives_back_what_follows),
        cmocka_unit_test(test_chunked_malformed_and_cut),
        cmocka_unit_test(test_stall_times_out),
        cmocka_unit_test(test_output_refusing_splice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
