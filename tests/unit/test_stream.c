/* Loopback tests for net/stream: a stream on one end of a socketpair (or a
 * 127.0.0.1 TCP connection), the test driving the other end from the
 * loop's tick. Callbacks count; assertions run after ev_run returns. Every
 * run is bounded by MAX_TICKS ticks of TICK_MS. */
#include "unit.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "core/clock.h"
#include "net/ev.h"
#include "net/sock.h"
#include "net/stream.h"
#include "proto/line.h"

#define TICK_MS 10
#define MAX_TICKS 300 /* 3 s */
#define MSGS_MAX 16

struct fx {
    struct ev_loop loop;
    int peer;  /* the test's end */
    int fd;    /* the stream's end, until stream_start owns it */
    struct stream st;
    int ticks, max_ticks;
    int ndata, nclose, close_err, ndrained;
    size_t max_in; /* most bytes ever seen in st.in */
    bool in_on_data;
    bool closed_inside; /* stream_close ran inside on_data: was on_close deferred? */
    /* messages taken with line_next */
    char msgs[MSGS_MAX][64];
    const char *eols[MSGS_MAX];
    int nmsgs;
    /* what the peer received */
    char *got;
    size_t ngot, got_max;
    bool peer_eof;
    size_t want;      /* bytes the peer is to get */
    int64_t deadline; /* for runs that end by time */
    void (*on_tick)(struct fx *f);
    void (*on_data)(struct fx *f, bool drained);
};

static void tick(struct ev_loop *loop)
{
    struct fx *f = loop->data;

    f->ticks++;
    if (f->on_tick)
        f->on_tick(f);
    if (f->ticks >= f->max_ticks)
        loop->stop = true;
}

static void on_data(struct stream *st, bool drained)
{
    struct fx *f = container_of(st, struct fx, st);

    f->ndata++;
    f->ndrained += drained;
    if (buf_len(&st->in) > f->max_in)
        f->max_in = buf_len(&st->in);
    f->in_on_data = true;
    if (f->on_data)
        f->on_data(f, drained);
    f->in_on_data = false;
}

static void on_close(struct stream *st, int err)
{
    struct fx *f = container_of(st, struct fx, st);

    f->nclose++;
    f->close_err = err;
    f->loop.stop = true;
}

static struct fx *fx_new(int domain)
{
    struct fx *f = calloc(1, sizeof *f);
    int sp[2];

    assert_non_null(f);
    assert_int_equal(ev_loop_init(&f->loop, TICK_MS, tick, f), 0);
    f->max_ticks = MAX_TICKS;
    if (domain == AF_UNIX) {
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp), 0);
    } else {
        struct sockaddr_storage bound, peer;
        int lfd = sock_listen_tcp("127.0.0.1", 0, 8, &bound);
        assert_true(lfd >= 0);
        sp[1] = sock_connect("127.0.0.1", sock_addr_port((struct sockaddr *)&bound), SOCK_STREAM,
                             5000, &peer);
        assert_true(sp[1] >= 0);
        struct pollfd pf = {.fd = lfd, .events = POLLIN};
        assert_int_equal(poll(&pf, 1, 5000), 1);
        sp[0] = sock_accept(lfd, &peer);
        assert_true(sp[0] >= 0);
        close(lfd);
    }
    f->fd = sp[0];
    f->peer = sp[1];
    f->got_max = 1u << 20;
    f->got = calloc(1, f->got_max);
    assert_non_null(f->got);
    return f;
}

static int setup_unix(void **state)
{
    *state = fx_new(AF_UNIX);
    return 0;
}

static int setup_tcp(void **state)
{
    *state = fx_new(AF_INET);
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    if (f->nclose == 0 && f->st.loop != NULL && f->st.io.fd >= 0)
        stream_close(&f->st, 0);
    if (f->peer >= 0)
        close(f->peer);
    ev_loop_close(&f->loop);
    free(f->got);
    free(f);
    return 0;
}

static void start(struct fx *f, size_t in_max, size_t out_max)
{
    assert_int_equal(stream_start(&f->st, &f->loop, f->fd, in_max, out_max, on_data, on_close), 0);
}

static void peer_send(struct fx *f, const char *s)
{
    assert_int_equal(write(f->peer, s, strlen(s)), (ssize_t)strlen(s));
}

/* Reads what the peer has now; notes EOF. */
static void peer_drain(struct fx *f)
{
    for (int i = 0; i < 1000 && !f->peer_eof; i++) {
        char tmp[4096];
        ssize_t n = read(f->peer, tmp, sizeof tmp);
        if (n < 0)
            return; /* EAGAIN; a reset shows as an error too */
        if (n == 0) {
            f->peer_eof = true;
            return;
        }
        assert_true(f->ngot + (size_t)n <= f->got_max);
        memcpy(f->got + f->ngot, tmp, (size_t)n);
        f->ngot += (size_t)n;
    }
}

static void small_sndbuf(int fd)
{
    int v = 4096;
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v), 0);
}

static char pattern(size_t i) { return (char)('a' + i % 23); }

/* ---- messages in ------------------------------------------------------ */

static void take_lines(struct fx *f, bool drained)
{
    struct line ln;

    while (line_next(buf_rptr(&f->st.in), buf_len(&f->st.in), 32, drained, &ln)) {
        assert_true(f->nmsgs < MSGS_MAX);
        assert_true(ln.len < sizeof f->msgs[0]);
        memcpy(f->msgs[f->nmsgs], ln.text, ln.len);
        f->eols[f->nmsgs++] = ln.eol;
        buf_consume(&f->st.in, ln.consumed);
    }
}

/* Lines arrive as messages, the last one without a newline at EOF; the
 * peer's orderly close is on_close with 0, and both buffers are freed. */
static void test_lines_in_then_eof(void **state)
{
    struct fx *f = *state;

    f->on_data = take_lines;
    start(f, 64, 1024);
    peer_send(f, "one\ntwo\r\nthree");
    assert_int_equal(shutdown(f->peer, SHUT_WR), 0);
    assert_int_equal(ev_run(&f->loop), 0);
    assert_int_equal(f->nmsgs, 3);
    assert_string_equal(f->msgs[0], "one");
    assert_string_equal(f->eols[0], "\n");
    assert_string_equal(f->msgs[1], "two");
    assert_string_equal(f->eols[1], "\r\n");
    assert_string_equal(f->msgs[2], "three");
    assert_string_equal(f->eols[2], "");
    assert_true(f->ndrained >= 1);
    assert_int_equal(f->nclose, 1);
    assert_int_equal(f->close_err, 0);
    assert_int_equal(f->st.io.fd, -1);
    assert_null(f->st.in.data);
    assert_null(f->st.out.ents);
}

/* A word and a wait (no newline, no EOF) is delivered with drained set. */
static void stop_after_first_msg(struct fx *f)
{
    if (f->nmsgs > 0 || f->ticks > 100)
        f->loop.stop = true;
}

static void test_word_then_wait_is_drained(void **state)
{
    struct fx *f = *state;

    f->on_data = take_lines;
    f->on_tick = stop_after_first_msg;
    start(f, 64, 1024);
    peer_send(f, "hi");
    assert_int_equal(ev_run(&f->loop), 0);
    assert_int_equal(f->nmsgs, 1);
    assert_string_equal(f->msgs[0], "hi");
    assert_int_equal(f->ndrained, f->ndata);
    assert_int_equal(f->nclose, 0);
    assert_null(f->st.in.data); /* consumed: an idle stream holds no buffer */
}

/* ---- input cap -------------------------------------------------------- */

/* The owner consumes only a full buffer: the input never passes in_max and
 * every byte arrives, in order. */
static void consume_when_full(struct fx *f, bool drained)
{
    struct buf *in = &f->st.in;

    if (buf_len(in) < in->max && !drained)
        return;
    assert_true(f->ngot + buf_len(in) <= f->got_max);
    memcpy(f->got + f->ngot, buf_rptr(in), buf_len(in));
    f->ngot += buf_len(in);
    buf_consume(in, buf_len(in));
}

static void test_input_cap(void **state)
{
    struct fx *f = *state;
    char msg[101];

    for (size_t i = 0; i < 100; i++)
        msg[i] = pattern(i);
    msg[100] = '\0';
    f->on_data = consume_when_full;
    start(f, 8, 1024);
    peer_send(f, msg);
    assert_int_equal(shutdown(f->peer, SHUT_WR), 0);
    assert_int_equal(ev_run(&f->loop), 0);
    assert_int_equal(f->max_in, 8);
    assert_int_equal(f->ngot, 100);
    assert_memory_equal(f->got, msg, 100);
    assert_int_equal(f->nclose, 1);
    assert_int_equal(f->close_err, 0);
}

/* An owner that keeps a full buffer: the stream stops reading and stays
 * quiet, without spinning, also when the peer then ends its side. When the
 * peer is gone altogether (a hang-up), nothing can change any more: the
 * stream closes, once, as for the peer's orderly close. */
static void stop_at_deadline(struct fx *f)
{
    if (clock_ms() >= f->deadline)
        f->loop.stop = true;
}

enum peer_end { PEER_STAYS, PEER_SHUTS_DOWN, PEER_CLOSES, PEER_RESETS };

static void check_full_buffer_stays_quiet(struct fx *f, enum peer_end how)
{
    start(f, 8, 1024);
    peer_send(f, "0123456789abcdefghij");
    if (how == PEER_SHUTS_DOWN)
        assert_int_equal(shutdown(f->peer, SHUT_WR), 0);
    if (how == PEER_RESETS) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        assert_int_equal(setsockopt(f->peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    }
    if (how == PEER_CLOSES || how == PEER_RESETS) {
        close(f->peer);
        f->peer = -1;
    }
    f->deadline = clock_ms() + 300;
    f->on_tick = stop_at_deadline;
    int64_t t0 = clock_ms();
    assert_int_equal(ev_run(&f->loop), 0);
    int64_t took = clock_ms() - t0;
    assert_int_equal(f->ndata, 1);
    assert_int_equal(f->max_in, 8);
    /* Idle, the loop wakes once a tick: ~30 in 300 ms. Spinning on an
     * event nobody handles would make thousands. */
    if (f->ticks > 3 * (int)(took / TICK_MS) + 10)
        fail_msg("%d loop iterations in %lld ms: the loop spins", f->ticks, (long long)took);
    if (how == PEER_CLOSES || how == PEER_RESETS) {
        assert_int_equal(f->nclose, 1);
        assert_int_equal(f->close_err, how == PEER_RESETS ? -ECONNRESET : 0);
        return;
    }
    assert_int_equal(f->nclose, 0);
    /* quiet, yet registered (for errors and hang-ups) */
    assert_int_equal(f->st.io.events & (EPOLLIN | EPOLLOUT | EPOLLRDHUP), 0);
    assert_true(f->st.io.events != 0);
    assert_int_equal(buf_len(&f->st.in), 8);
    assert_memory_equal(buf_rptr(&f->st.in), "01234567", 8);
}

static void test_full_input_stays_quiet(void **state)
{
    check_full_buffer_stays_quiet(*state, PEER_STAYS);
}

static void test_full_input_peer_shutdown_no_spin(void **state)
{
    check_full_buffer_stays_quiet(*state, PEER_SHUTS_DOWN);
}

static void test_full_input_peer_close_no_spin(void **state)
{
    check_full_buffer_stays_quiet(*state, PEER_CLOSES);
}

static void test_full_input_peer_reset(void **state)
{
    check_full_buffer_stays_quiet(*state, PEER_RESETS);
}

/* ---- output ----------------------------------------------------------- */

/* Writes chunks of 1000 pattern bytes (continuing at *off) until the
 * socket stops taking them and about `beyond` bytes wait in the queue, or a
 * write fails. Returns the last stream_write result. */
static int write_until_queued(struct fx *f, size_t *off, size_t beyond)
{
    for (int i = 0; i < 100000; i++) {
        char chunk[1000];
        for (size_t k = 0; k < sizeof chunk; k++)
            chunk[k] = pattern(*off + k);
        int rc = stream_write(&f->st, chunk, sizeof chunk);
        if (rc < 0)
            return rc;
        *off += sizeof chunk;
        if (stream_queued(&f->st) >= beyond)
            return 0;
    }
    fail_msg("the socket took 100 MB without queueing");
    return -1;
}

static void drain_to_want(struct fx *f)
{
    peer_drain(f);
    if (f->ngot >= f->want && stream_queued(&f->st) == 0)
        f->loop.stop = true;
}

/* What the socket does not take waits with EPOLLOUT armed; once the peer
 * reads, the loop sends it all in order, then disarms EPOLLOUT and frees
 * the queue. */
static void test_queued_writes_go_out(void **state)
{
    struct fx *f = *state;
    size_t off = 0;

    small_sndbuf(f->fd);
    start(f, 64, 256u << 10);
    assert_int_equal(write_until_queued(f, &off, 20000), 0);
    assert_true(stream_queued(&f->st) >= 20000);
    assert_true(f->st.io.events & EPOLLOUT);
    f->want = off;
    f->on_tick = drain_to_want;
    assert_int_equal(ev_run(&f->loop), 0);
    assert_int_equal(f->ngot, off);
    for (size_t i = 0; i < off; i++)
        if (f->got[i] != pattern(i))
            fail_msg("byte %zu of %zu differs", i, off);
    assert_int_equal(stream_queued(&f->st), 0);
    assert_null(f->st.out.ents);
    assert_false(f->st.io.events & EPOLLOUT);
    assert_true(f->st.io.events & EPOLLIN);
    assert_int_equal(f->nclose, 0);
}

/* taken counts the bytes the socket took, sent at once or from the queue:
 * while some wait, it is what was written minus what is queued; once the
 * peer has read everything, all of it. */
static void test_taken_counts_what_the_socket_took(void **state)
{
    struct fx *f = *state;
    size_t off = 0;

    small_sndbuf(f->fd);
    start(f, 64, 256u << 10);
    assert_int_equal(f->st.taken, 0);
    assert_int_equal(write_until_queued(f, &off, 20000), 0);
    assert_int_equal(f->st.taken, off - stream_queued(&f->st));
    uint64_t before = f->st.taken;
    f->want = off;
    f->on_tick = drain_to_want;
    assert_int_equal(ev_run(&f->loop), 0);
    assert_true(f->st.taken > before);
    assert_int_equal(f->st.taken, off);
}

/* Past out_max, stream_write is -ENOBUFS and queues nothing; the stream
 * stays open (the owner decides), and closing it says -ENOBUFS. */
static void test_output_cap(void **state)
{
    struct fx *f = *state;
    size_t off = 0;

    small_sndbuf(f->fd);
    start(f, 64, 8192);
    assert_int_equal(write_until_queued(f, &off, SIZE_MAX), -ENOBUFS);
    size_t queued = stream_queued(&f->st);
    assert_true(queued <= 8192);
    assert_true(queued > 8192 - 1000);
    assert_int_equal(stream_write(&f->st, "x", 1), 0); /* what still fits is taken */
    assert_int_equal(stream_write(&f->st, f->got, 8192), -ENOBUFS);
    assert_int_equal(stream_queued(&f->st), queued + 1);
    assert_int_equal(f->nclose, 0);
    stream_close(&f->st, -ENOBUFS);
    assert_int_equal(f->nclose, 1);
    assert_int_equal(f->close_err, -ENOBUFS);
    assert_int_equal(f->st.io.fd, -1);
    assert_int_equal(stream_write(&f->st, "y", 1), -EPIPE);
    /* The peer gets what the socket took, then EOF. */
    for (int i = 0; i < 100 && !f->peer_eof; i++) {
        struct pollfd pf = {.fd = f->peer, .events = POLLIN};
        poll(&pf, 1, 100);
        peer_drain(f);
    }
    assert_true(f->peer_eof);
    for (size_t i = 0; i < f->ngot; i++)
        if (f->got[i] != pattern(i))
            fail_msg("byte %zu of %zu differs", i, f->ngot);
}

/* Closing after a flush sends the whole queue first, then on_close(0). */
static void test_close_after_flush(void **state)
{
    struct fx *f = *state;
    size_t off = 0;

    small_sndbuf(f->fd);
    start(f, 64, 256u << 10);
    assert_int_equal(write_until_queued(f, &off, 20000), 0);
    stream_close_after_flush(&f->st);
    assert_int_equal(f->nclose, 0);
    f->on_tick = peer_drain;
    assert_int_equal(ev_run(&f->loop), 0);
    assert_int_equal(f->nclose, 1);
    assert_int_equal(f->close_err, 0);
    for (int i = 0; i < 100 && !f->peer_eof; i++) {
        struct pollfd pf = {.fd = f->peer, .events = POLLIN};
        poll(&pf, 1, 100);
        peer_drain(f);
    }
    assert_true(f->peer_eof);
    assert_int_equal(f->ngot, off);
}

/* At EOF, a reply queued for the peer still goes out before the close. */
static void reply_big(struct fx *f, bool drained)
{
    size_t off = 0;

    buf_consume(&f->st.in, buf_len(&f->st.in));
    assert_int_equal(write_until_queued(f, &off, 20000), 0);
    f->want = off;
}

static void test_eof_flushes_reply(void **state)
{
    struct fx *f = *state;

    small_sndbuf(f->fd);
    f->on_data = reply_big;
    f->on_tick = peer_drain;
    start(f, 64, 256u << 10);
    peer_send(f, "go");
    assert_int_equal(shutdown(f->peer, SHUT_WR), 0);
    assert_int_equal(ev_run(&f->loop), 0);
    assert_int_equal(f->nclose, 1);
    assert_int_equal(f->close_err, 0);
    for (int i = 0; i < 100 && !f->peer_eof; i++) {
        struct pollfd pf = {.fd = f->peer, .events = POLLIN};
        poll(&pf, 1, 100);
        peer_drain(f);
    }
    assert_true(f->peer_eof);
    assert_int_equal(f->ngot, f->want);
}

/* ---- shared chunks, deferred flush ------------------------------------ */

/* Ranges of two shared chunks, queued by reference, go out through
 * stream_flush: the first writev is partial (a 4 KiB send buffer), the rest
 * follows on EPOLLOUT, in order; the stream's references are released as
 * the bytes go, the chunks themselves untouched. */
static void test_write_ref_partial_writev(void **state)
{
    struct fx *f = *state;
    size_t size = 100000;
    struct cq_chunk *c[2];

    small_sndbuf(f->fd);
    start(f, 64, 1u << 20);
    for (int k = 0; k < 2; k++) {
        c[k] = cq_chunk_new(size);
        assert_non_null(c[k]);
        for (size_t i = 0; i < size; i++)
            c[k]->data[i] = pattern(i);
        c[k]->len = size;
    }
    /* 1000-byte pieces, alternating chunks: 200 ranges, many writevs */
    for (size_t piece = 0; piece < 2 * size / 1000; piece++)
        assert_int_equal(stream_write_ref(&f->st, c[piece % 2], piece / 2 * 1000, 1000), 0);
    assert_int_equal(stream_queued(&f->st), 2 * size);
    assert_false(f->st.io.events & EPOLLOUT); /* queued only: nothing sent yet */
    assert_int_equal(stream_flush(&f->st), 0);
    assert_true(stream_queued(&f->st) > 0);
    assert_true(stream_queued(&f->st) < 2 * size);
    assert_true(f->st.io.events & EPOLLOUT);
    assert_true(stream_unsent(&f->st) >= stream_queued(&f->st));
    f->want = 2 * size;
    f->on_tick = drain_to_want;
    assert_int_equal(ev_run(&f->loop), 0);
    assert_int_equal(f->ngot, 2 * size);
    for (size_t i = 0; i < f->ngot; i++) {
        size_t piece = i / 1000, off = (piece / 2) * 1000 + i % 1000;
        if (f->got[i] != pattern(off))
            fail_msg("byte %zu differs", i);
    }
    assert_int_equal(c[0]->refs, 1);
    assert_int_equal(c[1]->refs, 1);
    assert_null(f->st.out.ents);
    assert_false(f->st.io.events & EPOLLOUT);
    cq_chunk_unref(c[0]);
    cq_chunk_unref(c[1]);
}

/* Past out_max a reference is refused (-ENOBUFS) and not taken. */
static void test_write_ref_cap(void **state)
{
    struct fx *f = *state;
    struct cq_chunk *c = cq_chunk_new(6000);

    assert_non_null(c);
    memset(c->data, 'z', 6000);
    c->len = 6000;
    start(f, 64, 8192);
    assert_int_equal(stream_write_ref(&f->st, c, 0, 6000), 0);
    assert_int_equal(stream_write_ref(&f->st, c, 0, 3000), -ENOBUFS);
    assert_int_equal(c->refs, 2);
    assert_int_equal(stream_queued(&f->st), 6000);
    stream_close(&f->st, -ENOBUFS);
    assert_int_equal(c->refs, 1); /* closing released it */
    cq_chunk_unref(c);
}

/* A closing stream whose last bytes stream_flush sends does not close
 * under the caller (who may be walking a list of streams): on_close comes
 * at the next wakeup, with 0. */
static void test_flush_of_closing_stream_closes_later(void **state)
{
    struct fx *f = *state;
    struct cq_chunk *c = cq_chunk_new(16);

    assert_non_null(c);
    cq_chunk_put(c, "goodbye\n", 8);
    start(f, 64, 1024);
    assert_int_equal(stream_write_ref(&f->st, c, 0, 8), 0);
    stream_close_after_flush(&f->st);
    assert_int_equal(stream_flush(&f->st), 0);
    assert_int_equal(stream_queued(&f->st), 0);
    assert_int_equal(f->nclose, 0);
    assert_int_equal(ev_run(&f->loop), 0);
    assert_int_equal(f->nclose, 1);
    assert_int_equal(f->close_err, 0);
    peer_drain(f);
    assert_int_equal(f->ngot, 8);
    assert_memory_equal(f->got, "goodbye\n", 8);
    assert_int_equal(c->refs, 1);
    cq_chunk_unref(c);
}

/* The kernel's share: a TCP peer that does not read leaves bytes in our
 * send queue, which stream_unsent counts on top of what waits in user
 * space. */
static void test_unsent_counts_kernel_queue(void **state)
{
    struct fx *f = *state;
    size_t off = 0;
    int rcv = 4096;

    assert_int_equal(setsockopt(f->peer, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv), 0);
    small_sndbuf(f->fd);
    start(f, 64, 1u << 20);
    assert_int_equal(write_until_queued(f, &off, 10000), 0);
    size_t q = stream_queued(&f->st);
    assert_true(q >= 10000);
    assert_true(stream_unsent(&f->st) > q);
}

/* Paused, the stream reads nothing and is not watched (so a peer's data
 * and hang-up cost no wakeups); resumed, what it already had and what
 * the socket holds is delivered. */
static void resume_at_tick_20(struct fx *f)
{
    if (f->ticks == 20) {
        assert_int_equal(f->ndata, 0);
        assert_int_equal(f->nclose, 0);
        assert_int_equal(f->st.io.events, 0);
        assert_true(stream_pause(&f->st, false));
    }
    if (f->nmsgs >= 3 || f->ticks > 200)
        f->loop.stop = true;
}

static void test_pause_then_resume(void **state)
{
    struct fx *f = *state;

    f->on_data = take_lines;
    f->on_tick = resume_at_tick_20;
    start(f, 64, 1024);
    assert_true(stream_pause(&f->st, true));
    assert_int_equal(f->st.io.events, 0);
    peer_send(f, "one\ntwo\nthree\n");
    assert_int_equal(ev_run(&f->loop), 0);
    assert_int_equal(f->nmsgs, 3);
    assert_string_equal(f->msgs[2], "three");
    assert_int_equal(f->nclose, 0);
    assert_true(f->st.io.events & EPOLLIN);
}

/* The owner pauses inside on_data with lines left, and the peer has
 * already closed its side: nothing is lost, nothing closes while paused;
 * resuming delivers the rest, then the orderly close. */
static void take_one_and_pause(struct fx *f, bool drained)
{
    struct line ln;

    if (line_next(buf_rptr(&f->st.in), buf_len(&f->st.in), 32, drained, &ln)) {
        memcpy(f->msgs[f->nmsgs], ln.text, ln.len);
        f->nmsgs++;
        buf_consume(&f->st.in, ln.consumed);
    }
    stream_pause(&f->st, true);
}

static void resume_every_5_ticks(struct fx *f)
{
    if (f->ticks % 5 == 0 && f->st.paused && f->nclose == 0) {
        assert_int_equal(f->st.io.events & EPOLLIN, 0);
        stream_pause(&f->st, false); /* may close: on_close stops the loop */
    }
}

static void test_pause_keeps_input_past_eof(void **state)
{
    struct fx *f = *state;

    f->on_data = take_one_and_pause;
    f->on_tick = resume_every_5_ticks;
    start(f, 64, 1024);
    peer_send(f, "a\nb\nc\nd");
    assert_int_equal(shutdown(f->peer, SHUT_WR), 0);
    assert_int_equal(ev_run(&f->loop), 0);
    assert_int_equal(f->nmsgs, 4);
    assert_string_equal(f->msgs[0], "a");
    assert_string_equal(f->msgs[3], "d");
    assert_true(f->ticks >= 15); /* three pauses, each waited for */
    assert_int_equal(f->nclose, 1);
    assert_int_equal(f->close_err, 0);
}

/* ---- errors and closing ----------------------------------------------- */

/* A send to a peer that has gone fails at once but closes only at the next
 * wakeup, with that error. */
static void test_failed_send_closes_later(void **state)
{
    struct fx *f = *state;

    start(f, 64, 1024);
    close(f->peer);
    f->peer = -1;
    assert_int_equal(stream_write(&f->st, "x", 1), -EPIPE);
    assert_int_equal(f->nclose, 0);
    assert_int_equal(stream_write(&f->st, "y", 1), -EPIPE);
    assert_int_equal(ev_run(&f->loop), 0);
    assert_int_equal(f->nclose, 1);
    assert_int_equal(f->close_err, -EPIPE);
}

/* A reset from the peer: on_close with -ECONNRESET. */
static void test_peer_reset(void **state)
{
    struct fx *f = *state;
    struct linger lg = {.l_onoff = 1, .l_linger = 0};

    start(f, 64, 1024);
    assert_int_equal(setsockopt(f->peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(f->peer);
    f->peer = -1;
    assert_int_equal(ev_run(&f->loop), 0);
    assert_int_equal(f->nclose, 1);
    assert_int_equal(f->close_err, -ECONNRESET);
}

/* stream_close now: on_close runs at once with the given error. */
static void test_close_now(void **state)
{
    struct fx *f = *state;

    start(f, 64, 1024);
    stream_close(&f->st, -ETIMEDOUT);
    assert_int_equal(f->nclose, 1);
    assert_int_equal(f->close_err, -ETIMEDOUT);
    assert_int_equal(f->st.io.fd, -1);
}

/* Inside on_data, stream_close waits until on_data returns, and what the
 * owner still does with the stream meanwhile is safe. */
static void close_inside(struct fx *f, bool drained)
{
    stream_close(&f->st, -EPROTO);
    f->closed_inside = f->nclose == 0;
    assert_true(buf_len(&f->st.in) > 0); /* still readable */
    buf_consume(&f->st.in, buf_len(&f->st.in));
    assert_int_equal(stream_write(&f->st, "late", 4), -EPIPE);
    stream_close(&f->st, -EIO); /* the first error stands */
}

static void test_close_inside_on_data(void **state)
{
    struct fx *f = *state;

    f->on_data = close_inside;
    start(f, 64, 1024);
    peer_send(f, "bye\n");
    assert_int_equal(ev_run(&f->loop), 0);
    assert_true(f->closed_inside);
    assert_int_equal(f->ndata, 1);
    assert_int_equal(f->nclose, 1);
    assert_int_equal(f->close_err, -EPROTO);
}

int main(void)
{
    static struct unit_list l;

#define ADD(name, fn) unit_add_fixture(&l, name, fn, setup_unix, teardown, NULL)
    ADD("in: lines, the last at EOF; on_close(0); buffers freed", test_lines_in_then_eof);
    ADD("in: a word and a wait comes with drained", test_word_then_wait_is_drained);
    ADD("in cap: never past in_max, every byte in order", test_input_cap);
    ADD("in cap: a full buffer stops reading without spinning", test_full_input_stays_quiet);
    ADD("in cap: full buffer, peer shuts down: no spin", test_full_input_peer_shutdown_no_spin);
    ADD("in cap: full buffer, peer closes: no spin, on_close(0) once",
        test_full_input_peer_close_no_spin);
    ADD("out: queued writes go out in order, EPOLLOUT off, queue freed",
        test_queued_writes_go_out);
    ADD("out: taken counts what the socket took, at once and from the queue",
        test_taken_counts_what_the_socket_took);
    ADD("out cap: -ENOBUFS queues nothing, stream stays open until the owner closes",
        test_output_cap);
    ADD("out: close after flush sends the queue, then on_close(0)", test_close_after_flush);
    ADD("eof: a reply queued at the peer's EOF still goes out", test_eof_flushes_reply);
    ADD("ref: partial writev of shared ranges, the rest on EPOLLOUT, refs released",
        test_write_ref_partial_writev);
    ADD("ref cap: past out_max refused, not taken; close releases", test_write_ref_cap);
    ADD("flush: a closing stream drained by stream_flush closes at the next wakeup",
        test_flush_of_closing_stream_closes_later);
    ADD("pause: nothing read or watched; resume delivers", test_pause_then_resume);
    ADD("pause: input kept past the peer's EOF, delivered on resume, then close(0)",
        test_pause_keeps_input_past_eof);
    ADD("close: a failed send closes at the next wakeup with -EPIPE",
        test_failed_send_closes_later);
    ADD("close: stream_close runs on_close at once with its error", test_close_now);
    ADD("close: inside on_data it waits for on_data to return", test_close_inside_on_data);
#undef ADD
    unit_add_fixture(&l, "close: a peer's reset is -ECONNRESET (TCP)", test_peer_reset, setup_tcp,
                     teardown, NULL);
    unit_add_fixture(&l, "in cap: full buffer, TCP peer shuts down: no spin",
                     test_full_input_peer_shutdown_no_spin, setup_tcp, teardown, NULL);
    unit_add_fixture(&l, "in cap: full buffer, TCP peer resets: on_close(-ECONNRESET) once",
                     test_full_input_peer_reset, setup_tcp, teardown, NULL);
    unit_add_fixture(&l, "unsent: counts the kernel's send queue (TCP)",
                     test_unsent_counts_kernel_queue, setup_tcp, teardown, NULL);
    return unit_run("stream", &l);
}
