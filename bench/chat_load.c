/* chat_load: load for a line chat broker (ferry chat -l, ncat --chat).
 *
 * Fan-out (default): R readers connect and read everything; then one
 * sender connects (optionally "/nick NICK"), sends a start line "#S" and,
 * once every reader has seen it (so joins and their notices are over),
 * L lines of exactly 64 bytes, "#L%08d xxx...\n", as fast as the broker
 * takes them. Each reader checks that it gets every sequence number once,
 * in order, whatever prefix the broker puts before the marker. Reported:
 * deliveries (R * L) per second from the first payload byte sent to the
 * last reader done, readers complete, and order errors.
 *
 * Idle (-i SECS): R clients connect, read what comes, and stay SECS seconds
 * after all are connected; prints "held N" when they are.
 *
 * Everything is bounded: connects by -C seconds, the whole run by -T
 * (alarm). Loopback use only. Output is "key value" lines.
 *
 * cc -O2 -std=c11 -D_GNU_SOURCE -o chat_load bench/chat_load.c */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LINE 64
#define CARRY 512
#define RBUF (256 << 10)

struct reader {
    int fd;
    bool started, done;
    long next; /* the next sequence number expected */
    long errors;
    size_t carry_len;
    char carry[CARRY];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char m[] = "chat_load: time limit\n";
    if (write(2, m, sizeof m - 1) < 0) {
    }
    _exit(3);
}

static int connect_to(const char *host, int port, double until)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return -1;
    while (now_s() < until) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
            return fd;
        }
        close(fd);
        if (errno != ECONNREFUSED && errno != EAGAIN && errno != ETIMEDOUT && errno != EINTR)
            return -1;
        usleep(10000);
    }
    return -1;
}

/* One complete line of a reader. */
static void on_line(struct reader *r, const char *p, size_t n, long lines)
{
    const char *m = memmem(p, n, "#", 1);
    if (m == NULL || m + 2 > p + n)
        return;
    if (m[1] == 'S') {
        r->started = true;
        return;
    }
    if (m[1] != 'L' || !r->started)
        return;
    long seq = strtol(m + 2, NULL, 10);
    if (seq != r->next)
        r->errors++;
    r->next = seq + 1;
    if (seq == lines - 1)
        r->done = true;
}

/* Reads what r has; returns bytes read, 0 at EOF, -1 on error/EAGAIN-none. */
static long reader_read(struct reader *r, char *buf, long lines, bool *eof)
{
    long total = 0;
    for (int i = 0; i < 8; i++) {
        size_t want = RBUF - r->carry_len;
        memcpy(buf, r->carry, r->carry_len);
        ssize_t k = recv(r->fd, buf + r->carry_len, want, 0);
        if (k == 0) {
            *eof = true;
            return total;
        }
        if (k < 0)
            return total;
        total += k;
        size_t len = r->carry_len + (size_t)k, off = 0;
        for (;;) {
            char *nl = memchr(buf + off, '\n', len - off);
            if (nl == NULL)
                break;
            on_line(r, buf + off, (size_t)(nl - (buf + off)), lines);
            off = (size_t)(nl - buf) + 1;
        }
        r->carry_len = len - off;
        if (r->carry_len > CARRY)
            r->carry_len = 0; /* a line longer than ours: not ours */
        memmove(r->carry, buf + off, r->carry_len);
        if ((size_t)k < want)
            break; /* short read: the socket is empty */
    }
    return total;
}

int main(int argc, char **argv)
{
    int nreaders = 90, port = 0, opt, connect_s = 60, limit_s = 120, idle_s = 0;
    long lines = 2000;
    const char *nick = NULL, *host = "127.0.0.1";

    while ((opt = getopt(argc, argv, "r:l:p:n:C:T:i:")) != -1) {
        switch (opt) {
        case 'r': nreaders = atoi(optarg); break;
        case 'l': lines = atol(optarg); break;
        case 'p': port = atoi(optarg); break;
        case 'n': nick = optarg; break;
        case 'C': connect_s = atoi(optarg); break;
        case 'T': limit_s = atoi(optarg); break;
        case 'i': idle_s = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: chat_load -p PORT [-r READERS] [-l LINES] [-n NICK] "
                            "[-C CONNECT_S] [-T LIMIT_S] [-i IDLE_S]\n");
            return 2;
        }
    }
    if (port <= 0 || nreaders < 1 || lines < 1)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, on_alarm);
    alarm((unsigned)limit_s);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    struct reader *rd = calloc((size_t)nreaders, sizeof *rd);
    char *buf = malloc(RBUF);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (rd == NULL || buf == NULL || ep < 0)
        return 1;
    double t_conn = now_s(), until = t_conn + connect_s;
    int connected = 0;
    struct epoll_event evs[512];
    for (int i = 0; i < nreaders; i++) {
        rd[i].fd = connect_to(host, port, until);
        if (rd[i].fd < 0)
            break;
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, rd[i].fd, &e);
        connected++;
        /* Keep reading while connecting: join notices pile up otherwise. */
        if (i % 64 == 63) {
            int n = epoll_wait(ep, evs, 512, 0);
            for (int k = 0; k < n; k++) {
                bool eof = false;
                reader_read(&rd[evs[k].data.u32], buf, lines, &eof);
            }
        }
    }
    printf("readers_connected %d\nconnect_seconds %.2f\n", connected, now_s() - t_conn);
    if (connected < nreaders) {
        printf("errors connect\n");
        return 1;
    }

    if (idle_s > 0) {
        /* read until quiet for a second, then hold */
        double quiet_since = now_s();
        while (now_s() - quiet_since < 1.0) {
            int n = epoll_wait(ep, evs, 512, 100);
            for (int k = 0; k < n; k++) {
                bool eof = false;
                if (reader_read(&rd[evs[k].data.u32], buf, lines, &eof) > 0)
                    quiet_since = now_s();
            }
        }
        printf("held %d\n", connected);
        fflush(stdout);
        double end = now_s() + idle_s;
        while (now_s() < end) {
            int n = epoll_wait(ep, evs, 512, 200);
            for (int k = 0; k < n; k++) {
                bool eof = false;
                reader_read(&rd[evs[k].data.u32], buf, lines, &eof);
            }
        }
        return 0;
    }

    /* The payload: exactly 64 bytes a line. */
    size_t plen = (size_t)lines * LINE;
    char *payload = malloc(plen + 64);
    if (payload == NULL)
        return 1;
    for (long i = 0; i < lines; i++) {
        char *p = payload + (size_t)i * LINE;
        int k = snprintf(p, LINE, "#L%08ld ", i);
        memset(p + k, 'x', (size_t)(LINE - 1 - k));
        p[LINE - 1] = '\n';
    }
    int s = connect_to(host, port, until);
    if (s < 0) {
        printf("errors sender_connect\n");
        return 1;
    }
    char hello[128];
    int hn = nick ? snprintf(hello, sizeof hello, "/nick %s\n#S\n", nick)
                  : snprintf(hello, sizeof hello, "#S\n");
    if (send(s, hello, (size_t)hn, MSG_NOSIGNAL) != hn) {
        printf("errors sender_send\n");
        return 1;
    }
    struct epoll_event se = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    epoll_ctl(ep, EPOLL_CTL_ADD, s, &se);

    int started = 0, done = 0, closed = 0;
    size_t sent = 0, got = 0; /* got: bytes readers read once the payload started */
    double t0 = 0, t_last = 0;
    bool sending = false;
    while (done + closed < nreaders) {
        int n = epoll_wait(ep, evs, 512, 1000);
        for (int k = 0; k < n; k++) {
            uint32_t id = evs[k].data.u32;
            if (id == UINT32_MAX) {
                if (evs[k].events & EPOLLIN) { /* what the broker tells the sender: drop */
                    while (recv(s, buf, RBUF, 0) > 0) {
                    }
                }
                continue;
            }
            struct reader *r = &rd[id];
            bool was_started = r->started, was_done = r->done, eof = false;
            long k = reader_read(r, buf, lines, &eof);
            if (sending && k > 0)
                got += (size_t)k;
            if (!was_started && r->started)
                started++;
            if (!was_done && r->done) {
                done++;
                t_last = now_s();
            }
            if (eof) {
                epoll_ctl(ep, EPOLL_CTL_DEL, r->fd, NULL);
                close(r->fd);
                r->fd = -1;
                if (!r->done)
                    closed++;
            }
        }
        if (!sending && started == nreaders) {
            sending = true;
            t0 = now_s();
            se.events = EPOLLIN | EPOLLOUT;
            epoll_ctl(ep, EPOLL_CTL_MOD, s, &se);
        }
        if (sending && sent < plen) {
            ssize_t w = send(s, payload + sent, plen - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0)
                sent += (size_t)w;
            if (sent == plen) {
                se.events = EPOLLIN;
                epoll_ctl(ep, EPOLL_CTL_MOD, s, &se);
            }
        }
    }
    long errors = 0;
    for (int i = 0; i < nreaders; i++)
        errors += rd[i].errors;
    double secs = t_last - t0;
    printf("readers %d\nlines %ld\nreaders_complete %d\nreaders_closed %d\norder_errors %ld\n",
           nreaders, lines, done, closed, errors);
    printf("seconds %.4f\ndeliveries_per_s %.0f\nbytes_per_delivered_line %.1f\n", secs,
           secs > 0 ? (double)done * (double)lines / secs : 0.0,
           done > 0 ? (double)got / ((double)done * (double)lines) : 0.0);
    return done == nreaders && errors == 0 ? 0 : 1;
}
