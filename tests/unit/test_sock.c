/* Loopback tests for net/sock's body movers: sock_discard (recv with
 * MSG_TRUNC) and sock_splice, on a real TCP connection over 127.0.0.1.
 * Every wait is a poll with a deadline. */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "net/sock.h"

#define WAIT_MS 5000

struct pair {
    int lfd, client, server; /* client: the side that reads */
};

static void pair_open(struct pair *p)
{
    struct sockaddr_storage bound, peer;

    p->lfd = sock_listen_tcp("127.0.0.1", 0, 8, &bound);
    assert_true(p->lfd >= 0);
    p->client = sock_connect("127.0.0.1", sock_addr_port((struct sockaddr *)&bound), SOCK_STREAM,
                             WAIT_MS, &peer);
    assert_true(p->client >= 0);
    struct pollfd pf = {.fd = p->lfd, .events = POLLIN};
    assert_int_equal(poll(&pf, 1, WAIT_MS), 1);
    p->server = sock_accept(p->lfd, &peer);
    assert_true(p->server >= 0);
}

static void pair_close(struct pair *p)
{
    close(p->client);
    if (p->server >= 0)
        close(p->server);
    close(p->lfd);
}

/* Sends n bytes of pattern from the server side. */
static void send_pattern(struct pair *p, size_t n)
{
    char *data = malloc(n);
    assert_non_null(data);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)(i * 7);
    size_t done = 0;
    while (done < n) {
        ssize_t w = sock_send(p->server, data + done, n - done, 0);
        if (w == -EAGAIN) {
            struct pollfd pf = {.fd = p->server, .events = POLLOUT};
            assert_int_equal(poll(&pf, 1, WAIT_MS), 1);
            continue;
        }
        assert_true(w > 0);
        done += (size_t)w;
    }
    free(data);
}

static void wait_readable(int fd)
{
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&pf, 1, WAIT_MS), 1);
}

static void test_discard_counts_and_stops_at_n(void **state)
{
    struct pair p;
    char rest[100];

    pair_open(&p);
    send_pattern(&p, 1000);
    size_t dropped = 0;
    while (dropped < 900) {
        wait_readable(p.client);
        ssize_t n = sock_discard(p.client, 900 - dropped);
        assert_true(n > 0);
        dropped += (size_t)n;
    }
    assert_int_equal(dropped, 900);
    /* The 100 bytes after the dropped ones are still there, in order. */
    size_t got = 0;
    while (got < sizeof rest) {
        wait_readable(p.client);
        ssize_t n = sock_recv(p.client, rest + got, sizeof rest - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof rest; i++)
        assert_int_equal((unsigned char)rest[i], (unsigned char)((900 + i) * 7));
    pair_close(&p);
}

static void test_discard_eagain_then_end(void **state)
{
    struct pair p;

    pair_open(&p);
    assert_int_equal(sock_discard(p.client, 4096), -EAGAIN);
    close(p.server);
    p.server = -1;
    wait_readable(p.client);
    assert_int_equal(sock_discard(p.client, 4096), 0);
    pair_close(&p);
}

static void test_splice_socket_pipe_file(void **state)
{
    struct pair p;
    int pfd[2];
    char path[] = "/tmp/ferry-test-sock.XXXXXX";

    pair_open(&p);
    assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    const size_t total = 300000;
    send_pattern(&p, total);
    size_t moved = 0;
    while (moved < total) {
        ssize_t n = sock_splice(p.client, pfd[1], total - moved, true);
        if (n == -EAGAIN) {
            wait_readable(p.client);
            continue;
        }
        assert_true(n > 0);
        for (ssize_t left = n; left > 0;) {
            ssize_t w = sock_splice(pfd[0], fd, (size_t)left, false);
            assert_true(w > 0);
            left -= w;
        }
        moved += (size_t)n;
    }
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, total);
    unsigned char b[2];
    assert_int_equal(pread(fd, b, 2, 123456), 2);
    assert_int_equal(b[0], (unsigned char)(123456 * 7));
    assert_int_equal(b[1], (unsigned char)(123457 * 7));
    close(fd);
    close(pfd[0]);
    close(pfd[1]);
    pair_close(&p);
}

static void test_splice_refused_by_append_output(void **state)
{
    int pfd[2];
    char path[] = "/tmp/ferry-test-sock.XXXXXX";

    assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
    int tmp = mkstemp(path);
    assert_true(tmp >= 0);
    close(tmp);
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(pfd[1], "abc", 3), 3);
    assert_int_equal(sock_splice(pfd[0], fd, 3, false), -EINVAL);
    close(fd);
    close(pfd[0]);
    close(pfd[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_discard_counts_and_stops_at_n),
        cmocka_unit_test(test_discard_eagain_then_end),
        cmocka_unit_test(test_splice_socket_pipe_file),
        cmocka_unit_test(test_splice_refused_by_append_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
