/* Loopback tests for net/ev: the real loop on socketpairs. Callbacks count
 * what happens; the assertions run after ev_run returns. Every run is
 * bounded: a tick stops the loop after MAX_TICKS ticks of TICK_MS. */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "core/clock.h"
#include "net/ev.h"

#define TICK_MS 10
#define MAX_TICKS 300 /* 3 s at most per run */

struct watch {
    struct ev_io io;
    struct fixture *f;
    int fired;
    uint32_t last_events;
    char name;
};

struct fixture {
    struct ev_loop loop;
    int sp[2][2]; /* two socketpairs: [i][0] watched, [i][1] the peer */
    struct watch w[2];
    int ticks;
    int stop_after_ticks; /* the test's own bound, below MAX_TICKS */
    char log[64];         /* 'a', 'b': callbacks; 't': ticks */
    size_t nlog;
    int64_t tick_at[MAX_TICKS + 1];
    void (*on_tick)(struct fixture *f);
    void (*on_io)(struct watch *w, uint32_t events);
};

static void note(struct fixture *f, char c)
{
    if (f->nlog < sizeof f->log - 1)
        f->log[f->nlog++] = c;
}

static void tick(struct ev_loop *loop)
{
    struct fixture *f = loop->data;

    if (f->ticks <= MAX_TICKS)
        f->tick_at[f->ticks] = loop->now;
    f->ticks++;
    note(f, 't');
    if (f->on_tick)
        f->on_tick(f);
    if (f->ticks >= f->stop_after_ticks || f->ticks >= MAX_TICKS)
        loop->stop = true;
}

static void io_cb(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    struct watch *w = container_of(io, struct watch, io);
    (void)loop;

    w->fired++;
    w->last_events = events;
    note(w->f, w->name);
    if (w->f->on_io)
        w->f->on_io(w, events);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);

    assert_non_null(f);
    assert_int_equal(ev_loop_init(&f->loop, TICK_MS, tick, f), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, f->sp[i]), 0);
        f->w[i].f = f;
        f->w[i].name = (char)('a' + i);
        f->w[i].io.fd = -1;
    }
    f->stop_after_ticks = MAX_TICKS;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    for (int i = 0; i < 2; i++) {
        if (f->sp[i][0] >= 0)
            close(f->sp[i][0]);
        close(f->sp[i][1]);
    }
    ev_loop_close(&f->loop);
    free(f);
    return 0;
}

static void start(struct fixture *f, int i, uint32_t events)
{
    assert_int_equal(ev_io_start(&f->loop, &f->w[i].io, f->sp[i][0], events, io_cb), 0);
    assert_int_equal(f->w[i].io.events, events);
}

static void peer_write(struct fixture *f, int i, const char *s)
{
    assert_int_equal(write(f->sp[i][1], s, strlen(s)), (ssize_t)strlen(s));
}

/* ---- readable --------------------------------------------------------- */

static void read_and_stop(struct watch *w, uint32_t events)
{
    char c;
    assert_int_equal(read(w->io.fd, &c, 1), 1);
    w->f->loop.stop = true;
}

static void test_fires_on_readable(void **state)
{
    struct fixture *f = *state;

    f->on_io = read_and_stop;
    start(f, 0, EPOLLIN);
    peer_write(f, 0, "x");
    assert_int_equal(ev_run(&f->loop), 0);
    assert_int_equal(f->w[0].fired, 1);
    assert_true(f->w[0].last_events & EPOLLIN);
    assert_int_equal(f->ticks, 1); /* the batch's tick still runs */
}

static void test_quiet_fd_does_not_fire(void **state)
{
    struct fixture *f = *state;

    f->stop_after_ticks = 5;
    start(f, 0, EPOLLIN);
    assert_int_equal(ev_run(&f->loop), 0);
    assert_int_equal(f->w[0].fired, 0);
    assert_int_equal(f->ticks, 5);
}

/* Level triggered: bytes left unread fire the watcher again. */
static void leave_unread(struct watch *w, uint32_t events)
{
    if (w->fired == 3)
        w->f->loop.stop = true;
}

static void test_level_triggered(void **state)
{
    struct fixture *f = *state;

    f->on_io = leave_unread;
    start(f, 0, EPOLLIN);
    peer_write(f, 0, "x");
    assert_int_equal(ev_run(&f->loop), 0);
    assert_int_equal(f->w[0].fired, 3);
    assert_int_equal(f->ticks, 3);
}

/* ---- ev_io_set -------------------------------------------------------- */

/* Writable first; the callback switches to EPOLLIN on a quiet socket, so
 * the watcher goes silent until the tick has the peer write. */
static void out_then_in(struct watch *w, uint32_t events)
{
    struct fixture *f = w->f;

    if (w->fired == 1) {
        assert_true(events & EPOLLOUT);
        assert_false(events & EPOLLIN);
        assert_int_equal(ev_io_set(&f->loop, &w->io, EPOLLIN), 0);
        assert_int_equal(w->io.events, EPOLLIN);
        return;
    }
    assert_true(events & EPOLLIN);
    assert_false(events & EPOLLOUT);
    f->loop.stop = true;
}

static void write_on_third_tick(struct fixture *f)
{
    if (f->ticks == 3)
        peer_write(f, 0, "x");
}

static void test_set_switches_in_and_out(void **state)
{
    struct fixture *f = *state;

    f->on_io = out_then_in;
    f->on_tick = write_on_third_tick;
    start(f, 0, EPOLLOUT);
    assert_int_equal(ev_run(&f->loop), 0);
    assert_int_equal(f->w[0].fired, 2);
    assert_true(f->ticks >= 3);
    /* Nothing fired between the switch and the peer's write. */
    assert_string_equal(f->log, "attta" "t");
}

static void test_set_same_events_is_a_no_op(void **state)
{
    struct fixture *f = *state;

    start(f, 0, EPOLLIN);
    assert_int_equal(ev_io_set(&f->loop, &f->w[0].io, EPOLLIN), 0);
    assert_int_equal(ev_io_set(&f->loop, &f->w[0].io, EPOLLIN | EPOLLOUT), 0);
    assert_int_equal(f->w[0].io.events, EPOLLIN | EPOLLOUT);
    /* 0 would read as "not registered", and ev_io_stop would then skip it. */
    assert_int_equal(ev_io_set(&f->loop, &f->w[0].io, 0), -EINVAL);
    assert_int_equal(f->w[0].io.events, EPOLLIN | EPOLLOUT);
    f->stop_after_ticks = 1;
    assert_int_equal(ev_run(&f->loop), 0);
    assert_int_equal(f->w[0].fired, 1);
    assert_true(f->w[0].last_events & EPOLLOUT);
}

/* ---- ev_io_stop ------------------------------------------------------- */

static void stop_self(struct watch *w, uint32_t events)
{
    assert_int_equal(ev_io_stop(&w->f->loop, &w->io), 0);
}

/* A stopped watcher is not called again although its bytes are still
 * there, and its fd stays open. */
static void test_stop(void **state)
{
    struct fixture *f = *state;
    char c;

    f->on_io = stop_self;
    f->stop_after_ticks = 5;
    start(f, 0, EPOLLIN);
    peer_write(f, 0, "x");
    assert_int_equal(ev_run(&f->loop), 0);
    assert_int_equal(f->w[0].fired, 1);
    assert_int_equal(f->w[0].io.events, 0);
    assert_int_equal(read(f->sp[0][0], &c, 1), 1);
    assert_int_equal(c, 'x');
    assert_int_equal(ev_io_stop(&f->loop, &f->w[0].io), 0); /* twice is fine */
    /* and it can be started again */
    start(f, 0, EPOLLOUT);
    f->loop.stop = false;
    f->on_io = NULL;
    f->stop_after_ticks = f->ticks + 1;
    assert_int_equal(ev_run(&f->loop), 0);
    assert_int_equal(f->w[0].fired, 2);
}

/* Both watchers are readable in one batch; whichever runs first stops the
 * other (as an owner closing another connection does): the stopped one
 * must not be called with the event already fetched for it. */
static void stop_other(struct watch *w, uint32_t events)
{
    struct fixture *f = w->f;
    struct watch *o = &f->w[w == &f->w[0] ? 1 : 0];
    char c;

    assert_int_equal(read(w->io.fd, &c, 1), 1);
    assert_int_equal(ev_io_stop(&f->loop, &o->io), 0);
}

static void test_stop_other_in_same_batch(void **state)
{
    struct fixture *f = *state;

    f->on_io = stop_other;
    f->stop_after_ticks = 3;
    start(f, 0, EPOLLIN);
    start(f, 1, EPOLLIN);
    peer_write(f, 0, "x");
    peer_write(f, 1, "y");
    assert_int_equal(ev_run(&f->loop), 0);
    if (f->w[0].fired + f->w[1].fired != 1)
        fail_msg("a: %d, b: %d calls; log %s", f->w[0].fired, f->w[1].fired, f->log);
}

/* The same, when the other is stopped and its fd closed and reused for a
 * new watcher within the batch: the new watcher gets no stale event. */
static void replace_other(struct watch *w, uint32_t events)
{
    struct fixture *f = w->f;
    int oi = w == &f->w[0] ? 1 : 0;
    struct watch *o = &f->w[oi];
    char c;

    assert_int_equal(read(w->io.fd, &c, 1), 1);
    if (o->fired > 0 || f->ticks > 0)
        return;
    assert_int_equal(ev_io_stop(&f->loop, &o->io), 0);
    close(f->sp[oi][1]);
    close(f->sp[oi][0]);
    /* A fresh quiet pair likely takes the same numbers. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, f->sp[oi]), 0);
    o->fired = -100; /* a call from here on shows as > -100 */
    assert_int_equal(ev_io_start(&f->loop, &o->io, f->sp[oi][0], EPOLLIN, io_cb), 0);
}

static void test_stop_and_reuse_in_same_batch(void **state)
{
    struct fixture *f = *state;

    f->on_io = replace_other;
    f->stop_after_ticks = 3;
    start(f, 0, EPOLLIN);
    start(f, 1, EPOLLIN);
    peer_write(f, 0, "x");
    peer_write(f, 1, "y");
    assert_int_equal(ev_run(&f->loop), 0);
    int a = f->w[0].fired, b = f->w[1].fired;
    if (!((a == 1 && b == -100) || (b == 1 && a == -100)))
        fail_msg("a: %d, b: %d; log %s", a, b, f->log);
}

/* ---- the tick --------------------------------------------------------- */

/* With nothing to do, the loop still wakes about every tick_ms, and
 * loop->now follows the clock. */
static void test_tick_when_idle(void **state)
{
    struct fixture *f = *state;
    int64_t t0 = clock_ms();

    f->stop_after_ticks = 10;
    start(f, 0, EPOLLIN);
    assert_int_equal(ev_run(&f->loop), 0);
    int64_t took = clock_ms() - t0;
    assert_int_equal(f->ticks, 10);
    /* epoll_wait sleeps at least its timeout: ten ticks take >= 10 x TICK_MS
     * (less a millisecond of clock rounding each). */
    if (took < 10 * (TICK_MS - 1) || took > 2500)
        fail_msg("10 idle ticks of %d ms took %lld ms", TICK_MS, (long long)took);
    for (int i = 1; i < 10; i++)
        if (f->tick_at[i] < f->tick_at[i - 1] + TICK_MS - 1)
            fail_msg("tick %d came %lld ms after the one before", i,
                     (long long)(f->tick_at[i] - f->tick_at[i - 1]));
    assert_true(f->loop.now >= t0 + 10 * (TICK_MS - 1));
}

/* After each batch of events, one tick: both callbacks, then the tick. */
static void read_one(struct watch *w, uint32_t events)
{
    char c;
    assert_int_equal(read(w->io.fd, &c, 1), 1);
}

static void test_tick_after_each_batch(void **state)
{
    struct fixture *f = *state;

    f->on_io = read_one;
    f->stop_after_ticks = 2;
    start(f, 0, EPOLLIN);
    start(f, 1, EPOLLIN);
    peer_write(f, 0, "x");
    peer_write(f, 1, "y");
    assert_int_equal(ev_run(&f->loop), 0);
    if (strcmp(f->log, "abtt") != 0 && strcmp(f->log, "batt") != 0)
        fail_msg("log %s, want both callbacks, then the ticks", f->log);
}

/* A loop without a tick callback: a watcher stops it. */
static void count_and_stop(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    struct watch *w = container_of(io, struct watch, io);

    w->fired++;
    loop->stop = true;
}

static void test_no_tick_cb(void **state)
{
    struct fixture *f = *state;
    struct ev_loop loop;

    assert_int_equal(ev_loop_init(&loop, TICK_MS, NULL, NULL), 0);
    assert_int_equal(ev_io_start(&loop, &f->w[0].io, f->sp[0][0], EPOLLOUT, count_and_stop), 0);
    assert_int_equal(ev_run(&loop), 0);
    assert_int_equal(f->w[0].fired, 1);
    ev_loop_close(&loop);
}

/* ---- loop stop and errors --------------------------------------------- */

static void test_stop_before_run(void **state)
{
    struct fixture *f = *state;

    start(f, 0, EPOLLOUT);
    f->loop.stop = true;
    assert_int_equal(ev_run(&f->loop), 0);
    assert_int_equal(f->w[0].fired, 0);
    assert_int_equal(f->ticks, 0);
}

static void test_start_errors(void **state)
{
    struct fixture *f = *state;
    struct ev_io io;
    char path[] = "/tmp/ferry-test-ev-XXXXXX";
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    unlink(path);
    /* A regular file cannot be watched (chat relies on this). */
    assert_int_equal(ev_io_start(&f->loop, &io, fd, EPOLLIN, io_cb), -EPERM);
    assert_int_equal(io.events, 0);
    close(fd);
    assert_int_equal(ev_io_start(&f->loop, &io, fd, EPOLLIN, io_cb), -EBADF);
    assert_int_equal(io.events, 0);
    start(f, 0, EPOLLIN);
    assert_int_equal(ev_io_start(&f->loop, &io, f->sp[0][0], EPOLLIN, io_cb), -EEXIST);
    ev_loop_close(&f->loop);
    ev_loop_close(&f->loop); /* twice is fine */
    assert_int_equal(f->loop.epfd, -1);
    assert_int_equal(ev_loop_init(&f->loop, TICK_MS, tick, f), 0);
}

int main(void)
{
    static struct unit_list l;

#define ADD(name, fn) unit_add_fixture(&l, name, fn, setup, teardown, NULL)
    ADD("io: fires on readable, then the tick", test_fires_on_readable);
    ADD("io: a quiet fd does not fire", test_quiet_fd_does_not_fire);
    ADD("io: level triggered", test_level_triggered);
    ADD("io_set: EPOLLOUT to EPOLLIN and back to silence", test_set_switches_in_and_out);
    ADD("io_set: same events are a no-op, new ones apply, 0 is -EINVAL", test_set_same_events_is_a_no_op);
    ADD("io_stop: no more calls, fd stays open, start again", test_stop);
    ADD("io_stop: a watcher stopped in the same batch is not called",
        test_stop_other_in_same_batch);
    ADD("io_stop: a watcher stopped and its fd reused in the batch gets no stale event",
        test_stop_and_reuse_in_same_batch);
    ADD("tick: about every tick_ms when idle, loop->now follows", test_tick_when_idle);
    ADD("tick: once after each batch of events", test_tick_after_each_batch);
    ADD("tick: none set, a watcher stops the loop", test_no_tick_cb);
    ADD("run: stop set before ev_run returns at once", test_stop_before_run);
    ADD("io_start: errors (regular file, closed fd, twice); loop close twice",
        test_start_errors);
#undef ADD
    return unit_run("ev", &l);
}
