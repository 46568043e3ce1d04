/* Loopback tests for net/srv: srv_start on 127.0.0.1 port 0 with a tiny
 * application, and the test as the client over real TCP connections.
 *
 * The application greets each accepted connection with 'h' and takes one-
 * byte commands, each acknowledged by echoing it: 's' deadline now, 'l'
 * deadline in a minute, 'r' deadline now and renewed once on expiry, 'k'
 * deadline now and on expiry also close the next connection on the list,
 * 'b' busy (stopping leaves it open). It counts what srv calls in atomics
 * the test waits on, each wait bounded; a watchdog alarm ends a run that
 * hangs anyway. The PROXY tests start srv with proxy_from and check the
 * peer srv hands the application, and that the bytes after a header are
 * the application's (its commands are echoed). */
#include "unit.h"

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "core/clock.h"
#include "net/ev.h"
#include "net/sock.h"
#include "net/srv.h"
#include "proto/cidr.h"

#define WAIT_MS 3000
#define SWEEP_MS 50
#define MAX_CLIENTS 16

struct shared {
    atomic_int accepted, closed, expired, stopping, close_all, bad_list;
    struct sockaddr_storage last_peer; /* written before accepted is counted */
};

struct tworker {
    struct shared *sh;
    size_t last_nconns; /* at the worker's last tick */
    bool last_list_empty;
};

struct tconn {
    struct srv_conn sc;
    struct ev_io io;
    struct srv_worker *w;
    char mode;
    bool busy;
    int expiries;
};

struct fx {
    struct shared sh;
    struct tworker tw[2];
    struct srv srv;
    bool running;
    char name[64];
    uint16_t port;
    int clients[MAX_CLIENTS];
    struct cidr_list proxy_from; /* used when proxy is set */
    bool proxy;
    int proxy_timeout_ms;
    int proxy_wait;
};

static struct shared *sh_of(struct srv_worker *w)
{
    return ((struct tworker *)w->app)->sh;
}

static void tconn_close(struct tconn *c)
{
    struct srv_worker *w = c->w;

    ev_io_stop(&w->loop, &c->io);
    close(c->io.fd);
    srv_conn_remove(w, &c->sc);
    atomic_fetch_add(&sh_of(w)->closed, 1);
    free(c);
}

static void tconn_io(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    struct tconn *c = container_of(io, struct tconn, io);
    char cmd[16];

    ssize_t n = sock_recv(io->fd, cmd, sizeof cmd);
    if (n == -EAGAIN)
        return;
    if (n <= 0) {
        tconn_close(c);
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        switch (cmd[i]) {
        case 's':
        case 'r':
        case 'k':
            c->mode = cmd[i];
            c->sc.deadline = loop->now;
            break;
        case 'l':
            c->sc.deadline = loop->now + 60000;
            break;
        case 'b':
            c->busy = true;
            break;
        }
    }
    sock_send(io->fd, cmd, (size_t)n, 0); /* the acknowledgement */
}

static void app_accepted(struct srv_worker *w, int fd, const struct sockaddr_storage *peer)
{
    struct tconn *c = calloc(1, sizeof *c);

    if (c == NULL || ev_io_start(&w->loop, &c->io, fd, EPOLLIN, tconn_io) < 0) {
        free(c);
        close(fd);
        return;
    }
    c->w = w;
    c->sc.deadline = INT64_MAX;
    size_t before = w->nconns;
    srv_conn_add(w, &c->sc);
    if (w->nconns != before + 1 || srv_conns(w) != &c->sc)
        atomic_fetch_add(&sh_of(w)->bad_list, 1);
    sh_of(w)->last_peer = *peer;
    atomic_fetch_add(&sh_of(w)->accepted, 1);
    sock_send(fd, "h", 1, 0);
}

/* Checks the list against the count on every tick: links both ways, one
 * entry per counted connection. */
static void app_tick(struct srv_worker *w)
{
    struct tworker *tw = w->app;
    size_t n = 0;
    const struct srv_conn *prev = NULL;

    for (const struct srv_conn *c = srv_conns(w); c != NULL && n <= w->nconns; c = c->next) {
        if (c->prev != prev)
            atomic_fetch_add(&tw->sh->bad_list, 1);
        prev = c;
        n++;
    }
    if (n != w->nconns)
        atomic_fetch_add(&tw->sh->bad_list, 1);
    tw->last_nconns = w->nconns;
    tw->last_list_empty = srv_conns(w) == NULL;
}

static void app_expired(struct srv_worker *w, struct srv_conn *sc)
{
    struct tconn *c = container_of(sc, struct tconn, sc);

    atomic_fetch_add(&sh_of(w)->expired, 1);
    if (w->loop.now < sc->deadline)
        atomic_fetch_add(&sh_of(w)->bad_list, 1); /* called before its time */
    c->expiries++;
    if (c->mode == 'r' && c->expiries == 1) {
        sc->deadline = w->loop.now + 2 * SWEEP_MS;
        return;
    }
    if (c->mode == 'k' && sc->next != NULL)
        tconn_close(container_of(sc->next, struct tconn, sc));
    tconn_close(c);
}

static void app_stopping(struct srv_worker *w)
{
    atomic_fetch_add(&sh_of(w)->stopping, 1);
    struct srv_conn *sc = srv_conns(w), *next;
    for (; sc != NULL; sc = next) {
        next = sc->next;
        struct tconn *c = container_of(sc, struct tconn, sc);
        if (!c->busy)
            tconn_close(c);
    }
}

static void app_close_all(struct srv_worker *w)
{
    atomic_fetch_add(&sh_of(w)->close_all, 1);
    while (srv_conns(w) != NULL)
        tconn_close(container_of(srv_conns(w), struct tconn, sc));
}

static const struct srv_ops app_ops = {
    .accepted = app_accepted,
    .tick = app_tick,
    .expired = app_expired,
    .stopping = app_stopping,
    .close_all = app_close_all,
};

/* ---- the test's side --------------------------------------------------- */

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);

    assert_non_null(f);
    for (int i = 0; i < MAX_CLIENTS; i++)
        f->clients[i] = -1;
    for (int i = 0; i < 2; i++)
        f->tw[i].sh = &f->sh;
    alarm(30); /* a hung run fails instead of blocking the suite */
    *state = f;
    return 0;
}

static void fx_stop(struct fx *f)
{
    if (f->running) {
        srv_stop(&f->srv);
        srv_wait(&f->srv);
        f->running = false;
    }
}

static int teardown(void **state)
{
    struct fx *f = *state;

    fx_stop(f);
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (f->clients[i] >= 0)
            close(f->clients[i]);
    alarm(0);
    free(f);
    return 0;
}

static void fx_start(struct fx *f, int threads, long max_conns, int grace_ms)
{
    struct srv_options o = {.bind = "127.0.0.1",
                            .port = 0,
                            .threads = threads,
                            .max_conns = max_conns,
                            .tick_ms = 20,
                            .grace_ms = grace_ms,
                            .sweep_ms = SWEEP_MS,
                            .proxy_from = f->proxy ? &f->proxy_from : NULL,
                            .proxy_timeout_ms = f->proxy_timeout_ms,
                            .proxy_wait = f->proxy_wait};
    void *apps[2] = {&f->tw[0], &f->tw[1]};
    const char *what = "";

    int rc = srv_start(&f->srv, &o, &app_ops, apps, f->name, sizeof f->name, &what);
    if (rc < 0)
        fail_msg("srv_start: %s: %s", what, strerror(-rc));
    f->running = true;
    assert_int_equal(strncmp(f->name, "127.0.0.1:", 10), 0);
    f->port = sock_addr_port((const struct sockaddr *)&f->srv.bound);
    assert_true(f->port != 0);
    assert_int_equal(atoi(f->name + 10), f->port);
}

/* Waits until *v reaches want; false after ms. */
static bool wait_for(atomic_int *v, int want, int ms)
{
    int64_t until = clock_ms() + ms;

    while (atomic_load(v) < want) {
        if (clock_ms() >= until)
            return false;
        poll(NULL, 0, 5);
    }
    return true;
}

static void wait_or_fail(atomic_int *v, int want, const char *what)
{
    if (!wait_for(v, want, WAIT_MS))
        fail_msg("%s: %d after %d ms, want %d", what, atomic_load(v), WAIT_MS, want);
}

/* One byte from fd within ms: the byte, 0 for EOF, -1 for none in time. */
static int read_byte(int fd, int ms)
{
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    unsigned char c;

    if (poll(&pf, 1, ms) != 1)
        return -1;
    ssize_t n = sock_recv(fd, &c, 1);
    if (n == 0 || n == -ECONNRESET)
        return 0;
    return n == 1 ? c : -1;
}

static int client(struct fx *f, int i)
{
    struct sockaddr_storage peer;

    f->clients[i] = sock_connect("127.0.0.1", f->port, SOCK_STREAM, WAIT_MS, &peer);
    assert_true(f->clients[i] >= 0);
    return f->clients[i];
}

/* Connects client i and waits for its greeting: accepted. */
static void client_accepted(struct fx *f, int i)
{
    int fd = client(f, i);
    int c = read_byte(fd, WAIT_MS);

    if (c != 'h')
        fail_msg("client %d: no greeting (%d)", i, c);
}

static void client_close(struct fx *f, int i)
{
    close(f->clients[i]);
    f->clients[i] = -1;
}

/* Sends a command and waits for its echo. */
static void command(struct fx *f, int i, char cmd)
{
    assert_int_equal(sock_send(f->clients[i], &cmd, 1, 0), 1);
    int c = read_byte(f->clients[i], WAIT_MS);
    if (c != cmd)
        fail_msg("client %d: command %c answered %d", i, cmd, c);
}

static void expect_eof(struct fx *f, int i, int ms)
{
    int c = read_byte(f->clients[i], ms);
    if (c != 0)
        fail_msg("client %d: not closed within %d ms (%d)", i, ms, c);
}

static void expect_open(struct fx *f, int i, int ms)
{
    int c = read_byte(f->clients[i], ms);
    if (c != -1)
        fail_msg("client %d: got %d, want nothing (still open)", i, c);
}

/* ---- tests ------------------------------------------------------------ */

/* Two workers: every connection accepted once, counted while open and
 * uncounted when closed, in any order; the lists stay consistent. */
static void test_accept_and_count(void **state)
{
    struct fx *f = *state;
    const int n = 10;

    fx_start(f, 2, 1000, 0);
    for (int i = 0; i < n; i++)
        client_accepted(f, i);
    assert_int_equal(atomic_load(&f->sh.accepted), n);
    assert_int_equal(atomic_load(&f->srv.nconns), n);
    /* Close every other one first: removals from the middle of a list. */
    for (int i = 0; i < n; i += 2)
        client_close(f, i);
    wait_or_fail(&f->sh.closed, n / 2, "closed");
    assert_int_equal(atomic_load(&f->srv.nconns), n - n / 2);
    for (int i = 1; i < n; i += 2)
        client_close(f, i);
    wait_or_fail(&f->sh.closed, n, "closed");
    assert_int_equal(atomic_load(&f->srv.nconns), 0);
    fx_stop(f);
    assert_int_equal(atomic_load(&f->sh.bad_list), 0);
    assert_int_equal(atomic_load(&f->sh.stopping), 2);
    assert_int_equal(atomic_load(&f->sh.close_all), 0); /* nothing was left */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(f->tw[i].last_nconns, 0);
        assert_true(f->tw[i].last_list_empty);
    }
}

/* At the cap, a worker leaves new connections in the backlog: the extra
 * one is accepted only after another closes. */
static void test_cap_backs_off(void **state)
{
    struct fx *f = *state;

    fx_start(f, 1, 2, 0);
    client_accepted(f, 0);
    client_accepted(f, 1);
    int fd = client(f, 2); /* the handshake completes in the backlog */
    if (read_byte(fd, 600) != -1)
        fail_msg("a third connection was accepted past max_conns 2");
    assert_int_equal(atomic_load(&f->sh.accepted), 2);
    client_close(f, 0);
    int c = read_byte(fd, WAIT_MS);
    if (c != 'h')
        fail_msg("the waiting connection was not accepted after one closed (%d)", c);
    assert_int_equal(atomic_load(&f->sh.accepted), 3);
    assert_int_equal(atomic_load(&f->srv.nconns), 2);
    fx_stop(f);
    assert_int_equal(atomic_load(&f->sh.bad_list), 0);
}

/* The sweep calls expired for a deadline that has passed, not for one in
 * the future, nor for a connection without one. */
static void test_sweep_past_not_future(void **state)
{
    struct fx *f = *state;

    fx_start(f, 1, 100, 0);
    client_accepted(f, 0);
    client_accepted(f, 1);
    client_accepted(f, 2);
    command(f, 0, 'l'); /* in a minute */
    command(f, 1, 's'); /* now */
    /* client 2: none */
    expect_eof(f, 1, WAIT_MS);
    wait_or_fail(&f->sh.expired, 1, "expired");
    expect_open(f, 0, 10 * SWEEP_MS);
    expect_open(f, 2, 0);
    assert_int_equal(atomic_load(&f->sh.expired), 1);
    assert_int_equal(atomic_load(&f->srv.nconns), 2);
    fx_stop(f);
    assert_int_equal(atomic_load(&f->sh.bad_list), 0);
}

/* expired may set a new deadline instead of closing: it is called again
 * once that one passes, not before. */
static void test_sweep_renewed_deadline(void **state)
{
    struct fx *f = *state;

    fx_start(f, 1, 100, 0);
    client_accepted(f, 0);
    int64_t t0 = clock_ms();
    command(f, 0, 'r');
    expect_eof(f, 0, WAIT_MS);
    int64_t took = clock_ms() - t0;
    assert_int_equal(atomic_load(&f->sh.expired), 2);
    if (took < 2 * SWEEP_MS - 5)
        fail_msg("closed after %lld ms; the renewed deadline was %d ms", (long long)took,
                 2 * SWEEP_MS);
    fx_stop(f);
    assert_int_equal(atomic_load(&f->sh.bad_list), 0);
}

/* expired may close more than its own connection: here also the next one
 * on the list, which the sweep had already taken as its next step. */
static void test_sweep_close_next_inside_expired(void **state)
{
    struct fx *f = *state;

    fx_start(f, 1, 100, 0);
    client_accepted(f, 0); /* older: second on the list */
    client_accepted(f, 1); /* newer: the head */
    command(f, 0, 'l');
    command(f, 1, 'k');
    expect_eof(f, 1, WAIT_MS);
    expect_eof(f, 0, WAIT_MS);
    wait_or_fail(&f->sh.closed, 2, "closed");
    assert_int_equal(atomic_load(&f->sh.expired), 1);
    assert_int_equal(atomic_load(&f->srv.nconns), 0);
    fx_stop(f);
    assert_int_equal(atomic_load(&f->sh.bad_list), 0);
}

/* srv_stop: stopping closes the idle connection at once; the busy one has
 * the grace period, then close_all; srv_wait returns after it. */
static void test_stop_with_grace(void **state)
{
    struct fx *f = *state;
    const int grace = 1000;

    fx_start(f, 1, 100, grace);
    client_accepted(f, 0);
    client_accepted(f, 1);
    command(f, 1, 'b');
    int64_t t0 = clock_ms();
    srv_stop(&f->srv);
    expect_eof(f, 0, grace - 300); /* the idle one: well before the grace ends */
    expect_eof(f, 1, WAIT_MS);
    int64_t busy_closed = clock_ms() - t0;
    srv_wait(&f->srv);
    f->running = false;
    int64_t took = clock_ms() - t0;
    if (busy_closed < grace - 5 || took > grace + 2000)
        fail_msg("busy closed after %lld ms, srv_wait after %lld ms; grace %d ms",
                 (long long)busy_closed, (long long)took, grace);
    assert_int_equal(atomic_load(&f->sh.stopping), 1);
    assert_int_equal(atomic_load(&f->sh.close_all), 1);
    assert_int_equal(atomic_load(&f->sh.closed), 2);
    assert_int_equal(f->tw[0].last_nconns, 0);
    assert_true(f->tw[0].last_list_empty);
    assert_int_equal(atomic_load(&f->sh.bad_list), 0);
}

/* With nothing open, srv_stop ends the workers without waiting for the
 * grace period. */
static void test_stop_idle_is_quick(void **state)
{
    struct fx *f = *state;

    fx_start(f, 2, 100, 5000);
    int64_t t0 = clock_ms();
    fx_stop(f);
    int64_t took = clock_ms() - t0;
    if (took > 2000)
        fail_msg("srv_wait took %lld ms with no connections (grace 5000)", (long long)took);
    assert_int_equal(atomic_load(&f->sh.stopping), 2);
    assert_int_equal(atomic_load(&f->sh.close_all), 0);
}

/* srv_start fails whole, naming the step: a port in use, no threads. */
static void test_start_errors(void **state)
{
    struct fx *f = *state;
    struct srv other;
    const char *what = "";
    void *apps[2] = {&f->tw[0], &f->tw[1]};

    fx_start(f, 1, 100, 0);
    struct srv_options o = {.bind = "127.0.0.1", .port = f->port, .threads = 1, .max_conns = 1,
                            .tick_ms = 20};
    char name[64] = "";
    assert_int_equal(srv_start(&other, &o, &app_ops, apps, name, sizeof name, &what),
                     -EADDRINUSE);
    assert_string_equal(what, "cannot listen");
    assert_string_equal(name, "");
    o.port = 0;
    o.threads = 0;
    what = "";
    assert_int_equal(srv_start(&other, &o, &app_ops, apps, name, sizeof name, &what), -EINVAL);
    assert_true(what[0] != '\0');
}

/* ---- PROXY headers ------------------------------------------------------ */

/* recv(2), interposed to count srv's peeks at a waiting header: a busy
 * loop would show as thousands. */
static atomic_int peeks;

ssize_t recv(int fd, void *p, size_t n, int flags)
{
    if (flags & MSG_PEEK)
        atomic_fetch_add(&peeks, 1);
    return recvfrom(fd, p, n, flags, NULL, NULL);
}

/* Waits until the server counts want connections; false after WAIT_MS. */
static bool wait_conns(struct fx *f, long want)
{
    int64_t until = clock_ms() + WAIT_MS;

    while (atomic_load(&f->srv.nconns) != want) {
        if (clock_ms() >= until)
            return false;
        poll(NULL, 0, 5);
    }
    return true;
}

static void fx_start_proxy(struct fx *f, const char *list, int timeout_ms)
{
    assert_int_equal(cidr_list_parse(list, strlen(list), &f->proxy_from, NULL, NULL), 0);
    f->proxy = true;
    f->proxy_timeout_ms = timeout_ms;
    fx_start(f, 1, 100, 0);
}

static void send_all(int fd, const void *p, size_t n)
{
    assert_int_equal(sock_send(fd, p, n, 0), (ssize_t)n);
}

static void expect_peer(struct fx *f, const char *want)
{
    char got[SOCK_ADDRSTRLEN];

    sock_addr_format((const struct sockaddr *)&f->sh.last_peer, true, got, sizeof got);
    assert_string_equal(got, want);
}

/* A v1 header from a trusted peer: the application gets the client it
 * names, and the byte after the header as its first. */
static void test_proxy_v1_names_the_client(void **state)
{
    struct fx *f = *state;
    static const char in[] = "PROXY TCP4 192.0.2.7 127.0.0.1 4242 80\r\nl";

    fx_start_proxy(f, "127.0.0.0/8", 0);
    send_all(client(f, 0), in, sizeof in - 1);
    if (read_byte(f->clients[0], WAIT_MS) != 'h')
        fail_msg("no greeting after the header");
    if (read_byte(f->clients[0], WAIT_MS) != 'l')
        fail_msg("the byte after the header did not reach the application");
    assert_int_equal(atomic_load(&f->sh.accepted), 1);
    expect_peer(f, "192.0.2.7:4242");
    command(f, 0, 's');
    expect_eof(f, 0, WAIT_MS);
    assert_true(wait_conns(f, 0)); /* uncounted just after the close */
}

/* A v2 header over IPv6 addresses, and one with TLVs. */
static void test_proxy_v2_names_the_client(void **state)
{
    struct fx *f = *state;
    static const unsigned char v6[] = "\r\n\r\n\0\r\nQUIT\n\x21\x21\x00\x24"
                                      "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x09"
                                      "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01"
                                      "\x01\xbb\x00\x50"
                                      "l";
    static const unsigned char tlv[] = "\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x12"
                                       "\xc6\x33\x64\x05\x7f\x00\x00\x01\x00\x07\x00\x50"
                                       "\x04\x00\x03xyz"
                                       "l";

    fx_start_proxy(f, "127.0.0.1", 0);
    send_all(client(f, 0), v6, sizeof v6 - 1);
    if (read_byte(f->clients[0], WAIT_MS) != 'h' || read_byte(f->clients[0], WAIT_MS) != 'l')
        fail_msg("v6: no greeting and echo");
    expect_peer(f, "[2001:db8::9]:443");
    send_all(client(f, 1), tlv, sizeof tlv - 1);
    if (read_byte(f->clients[1], WAIT_MS) != 'h' || read_byte(f->clients[1], WAIT_MS) != 'l')
        fail_msg("tlv: no greeting and echo");
    expect_peer(f, "198.51.100.5:7");
}

/* The application's peer is the socket fd's own address: no header spoke. */
static void expect_peer_is(struct fx *f, int fd)
{
    struct sockaddr_storage me;
    socklen_t mlen = sizeof me;
    char want[SOCK_ADDRSTRLEN];

    assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &mlen), 0);
    sock_addr_format((const struct sockaddr *)&me, true, want, sizeof want);
    expect_peer(f, want);
}

/* LOCAL (a health check) keeps the connection's own peer. */
static void test_proxy_v2_local_keeps_peer(void **state)
{
    struct fx *f = *state;
    static const unsigned char in[] = "\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00";

    fx_start_proxy(f, "127.0.0.1", 0);
    int fd = client(f, 0);
    send_all(fd, in, sizeof in - 1);
    if (read_byte(fd, WAIT_MS) != 'h')
        fail_msg("no greeting after LOCAL");
    expect_peer_is(f, fd);
}

/* A header in pieces: nothing reaches the application until it is whole,
 * and then the bytes that came with its last piece do. While it waits srv
 * peeks once per piece or so, not in a loop. */
static void test_proxy_split_header(void **state)
{
    struct fx *f = *state;
    static const char in[] = "PROXY TCP6 2001:db8::1 ::1 1234 80\r\nl";
    static const size_t cuts[] = {3, 9, 20, 34, 35};

    fx_start_proxy(f, "127.0.0.1", 0);
    int fd = client(f, 0);
    atomic_store(&peeks, 0);
    size_t off = 0;
    for (size_t i = 0; i < ARRAY_LEN(cuts); i++) {
        send_all(fd, in + off, cuts[i] - off);
        off = cuts[i];
        expect_open(f, 0, 100);
        assert_int_equal(atomic_load(&f->sh.accepted), 0);
    }
    int n = atomic_load(&peeks);
    if (n < (int)ARRAY_LEN(cuts) || n > 4 * (int)ARRAY_LEN(cuts))
        fail_msg("%d peeks for %zu pieces over 500 ms", n, ARRAY_LEN(cuts));
    send_all(fd, in + off, sizeof in - 1 - off);
    if (read_byte(fd, WAIT_MS) != 'h' || read_byte(fd, WAIT_MS) != 'l')
        fail_msg("no greeting and echo after the last piece");
    expect_peer(f, "[2001:db8::1]:1234");
}

/* Bytes that cannot begin a header close a trusted peer at once. */
static void test_proxy_bad_bytes_close(void **state)
{
    struct fx *f = *state;

    fx_start_proxy(f, "127.0.0.1", 60000);
    send_all(client(f, 0), "GET / HTTP/1.0\r\n\r\n", 18);
    expect_eof(f, 0, WAIT_MS);
    send_all(client(f, 1), "PROXY TCP4 10.0.0.1 10.0.0.2 080 80\r\n", 37);
    expect_eof(f, 1, WAIT_MS);
    send_all(client(f, 2), "\r\n\r\n\0\r\nQUIT\n\x11", 13);
    expect_eof(f, 2, WAIT_MS);
    assert_int_equal(atomic_load(&f->sh.accepted), 0);
    assert_true(wait_conns(f, 0)); /* uncounted just after the close */
}

/* A trusted peer that sends nothing is closed at the deadline, counted
 * toward the cap while it waits. */
static void test_proxy_deadline(void **state)
{
    struct fx *f = *state;

    fx_start_proxy(f, "127.0.0.1", 300);
    client(f, 0);
    assert_true(wait_conns(f, 1));
    int64_t t0 = clock_ms();
    expect_eof(f, 0, WAIT_MS);
    if (clock_ms() - t0 < 100)
        fail_msg("closed after %lld ms, before its 300 ms deadline", (long long)(clock_ms() - t0));
    assert_int_equal(atomic_load(&f->sh.accepted), 0);
    assert_true(wait_conns(f, 0)); /* uncounted just after the close */
}

/* A trusted peer that stops sending halfway through its header (FIN) is
 * closed then, not at the deadline. */
static void test_proxy_fin_midway(void **state)
{
    struct fx *f = *state;

    fx_start_proxy(f, "127.0.0.1", 60000);
    int fd = client(f, 0);
    send_all(fd, "PROXY TCP4 10.0", 15);
    shutdown(fd, SHUT_WR);
    expect_eof(f, 0, WAIT_MS);
    assert_int_equal(atomic_load(&f->sh.accepted), 0);
}

/* A peer outside proxy_from goes to the application at once, header or
 * not (turning one away is the application's: see net/srv.h). */
static void test_proxy_untrusted_direct(void **state)
{
    struct fx *f = *state;

    fx_start_proxy(f, "10.0.0.0/8,::1", 0);
    client_accepted(f, 0);
    expect_peer_is(f, f->clients[0]);
}

/* A full waiting list (proxy_wait 2) stops accepting instead of closing:
 * the third connection waits in the backlog, and is taken, and served,
 * once one of the two waiting completes its header. */
static void test_proxy_full_list_waits_in_backlog(void **state)
{
    struct fx *f = *state;
    static const char hdr[] = "PROXY TCP4 192.0.2.8 127.0.0.1 4243 80\r\n";

    f->proxy_wait = 2;
    fx_start_proxy(f, "127.0.0.1", 60000);
    for (int i = 0; i < 3; i++)
        send_all(client(f, i), "PROXY ", 6);
    assert_true(wait_conns(f, 2));
    expect_open(f, 2, 200); /* not accepted and closed */
    assert_int_equal(atomic_load(&f->srv.nconns), 2);
    send_all(f->clients[0], hdr + 6, sizeof hdr - 1 - 6);
    if (read_byte(f->clients[0], WAIT_MS) != 'h')
        fail_msg("client 0: no greeting after its header");
    assert_true(wait_conns(f, 3)); /* client 0 served; 1 and 2 waiting */
    send_all(f->clients[2], hdr + 6, sizeof hdr - 1 - 6);
    if (read_byte(f->clients[2], WAIT_MS) != 'h')
        fail_msg("client 2: no greeting after its header");
    expect_peer(f, "192.0.2.8:4243");
    assert_int_equal(atomic_load(&f->sh.accepted), 2);
}

/* Stopping closes connections still waiting for their header. */
static void test_proxy_stop_closes_pending(void **state)
{
    struct fx *f = *state;

    fx_start_proxy(f, "127.0.0.1", 60000);
    send_all(client(f, 0), "PROXY ", 6);
    assert_true(wait_conns(f, 1));
    srv_stop(&f->srv);
    expect_eof(f, 0, WAIT_MS);
    srv_wait(&f->srv);
    f->running = false;
    assert_int_equal(atomic_load(&f->sh.accepted), 0);
}

int main(void)
{
    static struct unit_list l;

#define ADD(name, fn) unit_add_fixture(&l, name, fn, setup, teardown, NULL)
    ADD("accept: two workers count and uncount every connection", test_accept_and_count);
    ADD("cap: the connection past max_conns waits until one closes", test_cap_backs_off);
    ADD("sweep: a past deadline expires, a future one and none do not",
        test_sweep_past_not_future);
    ADD("sweep: expired may renew the deadline", test_sweep_renewed_deadline);
    ADD("sweep: expired may close the next connection too", test_sweep_close_next_inside_expired);
    ADD("stop: idle closed at once, busy after the grace, then srv_wait returns",
        test_stop_with_grace);
    ADD("stop: no connections, no waiting for the grace", test_stop_idle_is_quick);
    ADD("start: port in use, no threads", test_start_errors);
    ADD("proxy: a v1 header names the client; the next byte is the application's",
        test_proxy_v1_names_the_client);
    ADD("proxy: v2 headers, IPv6 and with TLVs, name the client", test_proxy_v2_names_the_client);
    ADD("proxy: v2 LOCAL keeps the real peer", test_proxy_v2_local_keeps_peer);
    ADD("proxy: a header split across segments", test_proxy_split_header);
    ADD("proxy: a trusted peer's bad bytes close it at once", test_proxy_bad_bytes_close);
    ADD("proxy: a trusted peer that sends nothing is closed at the deadline", test_proxy_deadline);
    ADD("proxy: a trusted peer's FIN halfway through its header closes it", test_proxy_fin_midway);
    ADD("proxy: a peer outside proxy_from is the application's at once",
        test_proxy_untrusted_direct);
    ADD("proxy: stopping closes connections waiting for a header", test_proxy_stop_closes_pending);
    ADD("proxy: a full waiting list leaves new connections in the backlog",
        test_proxy_full_list_waits_in_backlog);
#undef ADD
    return unit_run("srv", &l);
}
