/* bench/idle.c: opens N keep-alive connections, one GET each, then holds
 * them all idle.
 *
 *   idle HOST PORT PATH N [HOLD_SECONDS [IN_FLIGHT]]
 *
 * Raises RLIMIT_NOFILE to its hard limit first. Connects with at most
 * IN_FLIGHT (default 200) connections between connect() and the end of
 * their response; each sends "GET PATH HTTP/1.1" with keep-alive and reads
 * the whole response (head and Content-Length bytes of body). A connection
 * counts as ok when the status is 200, the body is complete and the server
 * did not say "Connection: close".
 *
 * Then prints one line, flushed:
 *   READY ok=K failed=F seconds=S
 * and holds the K open connections idle, watching each for a close by the
 * server, until SIGTERM/SIGINT or HOLD_SECONDS (default 600) pass. Last:
 *   HELD open=K closed_by_server=C
 * Exit status 0 when all N were ok and none was closed while held. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
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

enum { C_FREE, C_CONNECTING, C_READING, C_DONE, C_FAILED, C_CLOSED };

struct conn {
    int fd;
    int state;
    unsigned head_len;   /* bytes of head kept in head[] so far */
    long long body_left; /* -1 until the head is complete */
    size_t req_off;
    char head[1024];
};

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) { (void)sig; stop_flag = 1; }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *find_header(const char *head, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = strchr(head, '\n'); p != NULL; p = strchr(p, '\n')) {
        p++;
        if (strncasecmp(p, name, len) == 0 && p[len] == ':')
            return p + len + 1;
    }
    return NULL;
}

/* Handles readable bytes on c. Returns the new state. */
static int on_read(struct conn *c)
{
    char scratch[16384];

    for (;;) {
        ssize_t n;
        if (c->body_left < 0) {
            size_t room = sizeof c->head - 1 - c->head_len;
            if (room == 0)
                return C_FAILED; /* head larger than we accept */
            n = recv(c->fd, c->head + c->head_len, room, 0);
        } else {
            n = recv(c->fd, scratch, sizeof scratch, 0);
        }
        if (n < 0)
            return (errno == EAGAIN || errno == EINTR) ? C_READING : C_FAILED;
        if (n == 0)
            return C_FAILED; /* closed before the response was complete */
        if (c->body_left >= 0) {
            if (n > c->body_left)
                return C_FAILED; /* more than one response */
            c->body_left -= n;
        } else {
            c->head_len += (unsigned)n;
            c->head[c->head_len] = '\0';
            char *end = strstr(c->head, "\r\n\r\n");
            if (end == NULL)
                continue;
            int status = 0;
            if (sscanf(c->head, "HTTP/1.1 %d", &status) != 1 || status != 200)
                return C_FAILED;
            size_t body_in_head = c->head_len - (size_t)(end + 4 - c->head);
            end[2] = '\0';
            const char *cl = find_header(c->head, "Content-Length");
            const char *cn = find_header(c->head, "Connection");
            if (cl == NULL)
                return C_FAILED;
            if (cn != NULL && strstr(cn, "close") != NULL)
                return C_FAILED;
            c->body_left = strtoll(cl, NULL, 10) - (long long)body_in_head;
            if (c->body_left < 0)
                return C_FAILED;
        }
        if (c->body_left == 0)
            return C_DONE;
    }
}

int main(int argc, char **argv)
{
    if (argc < 5 || argc > 7) {
        fprintf(stderr, "usage: idle HOST PORT PATH N [HOLD_SECONDS [IN_FLIGHT]]\n");
        return 2;
    }
    long n = strtol(argv[4], NULL, 10);
    long hold = argc > 5 ? strtol(argv[5], NULL, 10) : 600;
    long in_flight_max = argc > 6 ? strtol(argv[6], NULL, 10) : 200;
    if (n < 1 || n > 1000000 || hold < 1 || in_flight_max < 1) {
        fprintf(stderr, "idle: bad numbers\n");
        return 2;
    }

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            perror("idle: setrlimit");
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if ((rlim_t)n + 16 > rl.rlim_cur) {
        fprintf(stderr, "idle: RLIMIT_NOFILE %llu is too low for %ld connections\n",
                (unsigned long long)rl.rlim_cur, n);
        return 1;
    }

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai;
    int rc = getaddrinfo(argv[1], argv[2], &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "idle: %s: %s\n", argv[1], gai_strerror(rc));
        return 2;
    }
    char req[2048];
    int reqlen = snprintf(req, sizeof req,
                          "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ferry-bench-idle\r\n"
                          "Connection: keep-alive\r\n\r\n",
                          argv[3], argv[1]);
    if (reqlen < 0 || (size_t)reqlen >= sizeof req)
        return 2;

    struct conn *conns = calloc((size_t)n, sizeof *conns);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (conns == NULL || ep < 0) {
        perror("idle");
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    long next = 0, in_flight = 0, ok = 0, failed = 0;
    double t0 = now_s(), deadline = t0 + 120; /* the whole connect phase */
    struct epoll_event evs[256];

    while ((next < n || in_flight > 0) && !stop_flag) {
        while (next < n && in_flight < in_flight_max) {
            struct conn *c = &conns[next];
            c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            c->body_left = -1;
            if (c->fd < 0) {
                perror("idle: socket");
                c->state = C_FAILED;
                failed++;
                next++;
                continue;
            }
            if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
                c->state = C_FAILED;
                failed++;
                close(c->fd);
                c->fd = -1;
                next++;
                continue;
            }
            c->state = C_CONNECTING;
            struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u64 = (uint64_t)next};
            epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
            in_flight++;
            next++;
        }
        if (now_s() > deadline) {
            fprintf(stderr, "idle: connect phase took over 120 s, giving up on %ld\n", in_flight);
            for (long i = 0; i < next; i++)
                if (conns[i].state == C_CONNECTING || conns[i].state == C_READING) {
                    close(conns[i].fd);
                    conns[i].fd = -1;
                    conns[i].state = C_FAILED;
                    failed++;
                }
            in_flight = 0;
            break;
        }
        int k = epoll_wait(ep, evs, 256, 1000);
        for (int i = 0; i < k; i++) {
            struct conn *c = &conns[evs[i].data.u64];
            int st = c->state;
            if (st == C_CONNECTING) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err != 0) {
                    st = C_FAILED;
                } else {
                    ssize_t w = send(c->fd, req + c->req_off, (size_t)reqlen - c->req_off, MSG_NOSIGNAL);
                    if (w < 0 && errno != EAGAIN)
                        st = C_FAILED;
                    else if (w > 0 && (c->req_off += (size_t)w) == (size_t)reqlen) {
                        st = C_READING;
                        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = evs[i].data.u64};
                        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                    }
                }
            }
            if (st == C_READING && (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                st = on_read(c);
            c->state = st;
            if (st == C_DONE || st == C_FAILED) {
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                in_flight--;
                if (st == C_DONE) {
                    ok++;
                } else {
                    failed++;
                    close(c->fd);
                    c->fd = -1;
                }
            }
        }
    }
    double secs = now_s() - t0;
    freeaddrinfo(ai);
    printf("READY ok=%ld failed=%ld seconds=%.2f\n", ok, failed, secs);
    fflush(stdout);

    /* Hold: watch every open connection for the server closing it. */
    long closed = 0;
    for (long i = 0; i < n; i++) {
        if (conns[i].state != C_DONE)
            continue;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = (uint64_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    }
    double until = now_s() + (double)hold;
    while (!stop_flag && now_s() < until) {
        int k = epoll_wait(ep, evs, 256, 500);
        for (int i = 0; i < k; i++) {
            struct conn *c = &conns[evs[i].data.u64];
            if (c->state != C_DONE)
                continue;
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            c->state = C_CLOSED;
            closed++;
        }
    }
    printf("HELD open=%ld closed_by_server=%ld\n", ok - closed, closed);
    fflush(stdout);
    return (ok == n && closed == 0) ? 0 : 1;
}
