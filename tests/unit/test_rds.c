/* Loopback tests for net/rds: hiredis's async API on ferry's loop, against
 * a scripted Redis of our own on 127.0.0.1 (a listening socket on the same
 * loop that answers, stays silent, or hangs up). Callbacks record what
 * happens; assertions run after the loop returns. Every run is bounded by
 * a tick that stops the loop after MAX_MS. */
#include "unit.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "net/ev.h"
#include "net/rds.h"
#include "net/sock.h"

#define TICK_MS 10
#define MAX_MS 3000

enum script { ANSWER, SILENT, HANG_UP };

struct fixture {
    struct ev_loop loop;
    struct rds r;
    int64_t until;
    /* the scripted server */
    enum script script;
    int lfd, cfd;
    uint16_t port;
    struct ev_io lio, cio;
    char got[256]; /* what the server read */
    size_t ngot;
    /* what rds reported */
    int ups, downs, down_err;
    int replies, null_replies;
    char reply[64];
    bool stop_on_reply, stop_on_down;
    bool ping_each_tick; /* a new command (a write) every tick while up */
    int64_t down_at;
};

static void on_tick(struct ev_loop *loop)
{
    struct fixture *f = loop->data;

    rds_tick(&f->r);
    if (f->ping_each_tick && rds_up(&f->r)) {
        const char *argv[] = {"PING"};
        size_t lens[] = {4};
        rds_command(&f->r, NULL, NULL, 1, argv, lens);
    }
    if (loop->now >= f->until)
        loop->stop = true;
}

static void on_client_io(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    struct fixture *f = container_of(io, struct fixture, cio);
    char tmp[256];
    (void)events;

    ssize_t n = recv(f->cfd, tmp, sizeof tmp, 0);
    if (n <= 0) {
        ev_io_stop(loop, io);
        return;
    }
    if (f->ngot + (size_t)n <= sizeof f->got) {
        memcpy(f->got + f->ngot, tmp, (size_t)n);
        f->ngot += (size_t)n;
    }
    if (f->script == ANSWER && memmem(f->got, f->ngot, "PING\r\n", 6) != NULL) {
        ssize_t w = send(f->cfd, "+PONG\r\n", 7, MSG_NOSIGNAL);
        assert_int_equal(w, 7);
    } else if (f->script == HANG_UP) {
        ev_io_stop(loop, io);
        close(f->cfd);
        f->cfd = -1;
    }
}

static void on_accept(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    struct fixture *f = container_of(io, struct fixture, lio);
    struct sockaddr_storage peer;
    (void)events;

    int fd = sock_accept(f->lfd, &peer);
    if (fd < 0)
        return;
    f->cfd = fd;
    assert_int_equal(ev_io_start(loop, &f->cio, fd, EPOLLIN, on_client_io), 0);
}

static void on_up(struct rds *r)
{
    struct fixture *f = r->data;
    f->ups++;
}

static void on_down(struct rds *r, int err)
{
    struct fixture *f = r->data;
    f->downs++;
    f->down_err = err;
    f->down_at = clock_ms();
    if (f->stop_on_down)
        f->loop.stop = true;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    struct fixture *f = priv;
    redisReply *rep = reply;
    (void)ac;

    if (rep == NULL) {
        f->null_replies++;
        return;
    }
    f->replies++;
    snprintf(f->reply, sizeof f->reply, "%.*s", (int)rep->len, rep->str ? rep->str : "");
    if (f->stop_on_reply)
        f->loop.stop = true;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct sockaddr_storage bound;

    assert_non_null(f);
    assert_int_equal(ev_loop_init(&f->loop, TICK_MS, on_tick, f), 0);
    f->lfd = sock_listen_tcp("127.0.0.1", 0, 8, &bound);
    assert_true(f->lfd >= 0);
    f->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    f->cfd = -1;
    assert_int_equal(ev_io_start(&f->loop, &f->lio, f->lfd, EPOLLIN, on_accept), 0);
    rds_init(&f->r, &f->loop, 300, on_up, on_down, f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    rds_close(&f->r);
    if (f->cfd >= 0)
        close(f->cfd);
    close(f->lfd);
    ev_loop_close(&f->loop);
    free(f);
    return 0;
}

static void run(struct fixture *f)
{
    f->loop.stop = false;
    f->loop.now = clock_ms();
    f->until = f->loop.now + MAX_MS;
    assert_int_equal(ev_run(&f->loop), 0);
}

static void ping(struct fixture *f)
{
    const char *argv[] = {"PING"};
    size_t lens[] = {4};
    assert_int_equal(rds_command(&f->r, on_reply, f, 1, argv, lens), 0);
}

/* Connect, then a command and its reply through the loop. */
static void test_command_and_reply(void **state)
{
    struct fixture *f = *state;

    f->script = ANSWER;
    assert_int_equal(rds_connect(&f->r, "127.0.0.1", f->port), 0);
    assert_int_equal(f->r.state, RDS_CONNECTING);
    /* Not up yet: commands are refused, not queued. */
    const char *argv[] = {"PING"};
    size_t lens[] = {4};
    assert_int_equal(rds_command(&f->r, on_reply, f, 1, argv, lens), -ENOTCONN);
    f->stop_on_reply = true;
    /* The first run connects; on_up is where a command may go. */
    for (int i = 0; i < 300 && f->ups == 0; i++) {
        f->until = clock_ms() + TICK_MS;
        f->loop.stop = false;
        ev_run(&f->loop);
    }
    assert_int_equal(f->ups, 1);
    assert_true(rds_up(&f->r));
    ping(f);
    run(f);
    assert_int_equal(f->replies, 1);
    assert_string_equal(f->reply, "PONG");
    assert_true(memmem(f->got, f->ngot, "*1\r\n$4\r\nPING\r\n", 14) != NULL);
    assert_int_equal(rds_backlog(&f->r), 0);
    assert_int_equal(f->downs, 0);
}

static void connect_up(struct fixture *f)
{
    assert_int_equal(rds_connect(&f->r, "127.0.0.1", f->port), 0);
    for (int i = 0; i < 300 && f->ups == 0; i++) {
        f->until = clock_ms() + TICK_MS;
        f->loop.stop = false;
        ev_run(&f->loop);
    }
    assert_int_equal(f->ups, 1);
}

/* Nobody listens: on_down with an error, and r is off. */
static void test_connect_refused(void **state)
{
    struct fixture *f = *state;

    /* Close the listener, so the port refuses. */
    ev_io_stop(&f->loop, &f->lio);
    close(f->lfd);
    f->lfd = sock_listen_tcp("127.0.0.1", 0, 8, NULL);
    int rc = rds_connect(&f->r, "127.0.0.1", f->port);
    if (rc == 0) {
        f->stop_on_down = true;
        run(f);
        assert_int_equal(f->downs, 1);
        assert_true(f->down_err < 0);
    } else {
        assert_true(rc < 0); /* refused at once: reported by the return */
        assert_int_equal(f->downs, 0);
    }
    assert_int_equal(f->ups, 0);
    assert_int_equal(f->r.state, RDS_OFF);
    assert_true(f->r.why[0] != '\0');
}

/* The server hangs up while a reply is owed: the callback gets NULL and
 * on_down reports the loss. */
static void test_server_hangs_up(void **state)
{
    struct fixture *f = *state;

    f->script = HANG_UP;
    connect_up(f);
    ping(f);
    f->stop_on_down = true;
    run(f);
    assert_int_equal(f->downs, 1);
    assert_true(f->down_err < 0);
    assert_int_equal(f->null_replies, 1);
    assert_int_equal(f->replies, 0);
    assert_int_equal(f->r.state, RDS_OFF);
    /* Off, it may connect again. */
    f->script = ANSWER;
    f->ups = 0;
    connect_up(f);
}

/* The server takes the command and never answers: rds_tick ends it after
 * the timeout with -ETIMEDOUT. */
static void test_silent_server_times_out(void **state)
{
    struct fixture *f = *state;

    f->script = SILENT;
    connect_up(f);
    int64_t t0 = clock_ms();
    ping(f);
    f->stop_on_down = true;
    run(f);
    assert_int_equal(f->downs, 1);
    assert_int_equal(f->down_err, -ETIMEDOUT);
    assert_int_equal(f->null_replies, 1);
    assert_true(clock_ms() - t0 >= 300);
}

/* The server reads every command and answers none while a new command
 * goes out every tick: those writes are not answers, so the first command
 * still times out after the timeout (300 ms), not never (the loop runs
 * for up to MAX_MS, ten times that). */
static void test_writes_do_not_postpone_the_answer_deadline(void **state)
{
    struct fixture *f = *state;

    f->script = SILENT;
    connect_up(f);
    ping(f);
    f->ping_each_tick = true;
    f->stop_on_down = true;
    run(f);
    assert_int_equal(f->downs, 1);
    assert_int_equal(f->down_err, -ETIMEDOUT);
    assert_int_equal(f->null_replies, 1);
    assert_true(f->down_at < f->until);
}

/* An idle connection is not a stall: no command, no timeout. */
static void test_idle_is_not_a_stall(void **state)
{
    struct fixture *f = *state;

    f->script = SILENT;
    connect_up(f);
    f->loop.stop = false;
    f->until = clock_ms() + 700; /* more than twice the timeout */
    ev_run(&f->loop);
    assert_int_equal(f->downs, 0);
    assert_true(rds_up(&f->r));
}

/* rds_close with a reply owed: the callback gets NULL, on_down is not
 * called, and the server sees the connection end. */
static void test_close_runs_callbacks(void **state)
{
    struct fixture *f = *state;

    f->script = SILENT;
    connect_up(f);
    ping(f);
    rds_close(&f->r);
    assert_int_equal(f->null_replies, 1);
    assert_int_equal(f->downs, 0);
    assert_int_equal(f->r.state, RDS_OFF);
    assert_int_equal(rds_command(&f->r, on_reply, f, 0, NULL, NULL), -ENOTCONN);
}

int main(void)
{
    static struct unit_list l;

    unit_add_fixture(&l, "command and reply", test_command_and_reply, setup, teardown, NULL);
    unit_add_fixture(&l, "connect refused", test_connect_refused, setup, teardown, NULL);
    unit_add_fixture(&l, "server hangs up", test_server_hangs_up, setup, teardown, NULL);
    unit_add_fixture(&l, "silent server times out", test_silent_server_times_out, setup, teardown,
                     NULL);
    unit_add_fixture(&l, "writes do not postpone the answer deadline",
                     test_writes_do_not_postpone_the_answer_deadline, setup, teardown, NULL);
    unit_add_fixture(&l, "idle is not a stall", test_idle_is_not_a_stall, setup, teardown, NULL);
    unit_add_fixture(&l, "close runs callbacks", test_close_runs_callbacks, setup, teardown, NULL);
    return unit_run("rds", &l);
}
