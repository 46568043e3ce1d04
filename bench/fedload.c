/* bench/fedload: one chat sender and N readers, each side on its own
 * broker address, for bench/chat_fed.sh.
 *
 *   fedload SEND_PORT READ_PORT READERS LINES SIZE TIMEOUT_S
 *
 * Connects READERS clients to 127.0.0.1:READ_PORT, reads what they are sent
 * until it has been quiet for a moment (welcomes, join notices), then
 * connects the sender to 127.0.0.1:SEND_PORT, lets its join settle, and
 * sends LINES lines of SIZE bytes (LF included) as fast as the broker
 * takes them. Each reader counts the chat lines it gets (lines that do not
 * start with "* "). Prints one line:
 *   lines=L readers=R delivered=D complete=C seconds=S lines_per_s=X
 * where X = D / S, S runs from the first byte sent to the last line read
 * (or the timeout). Exit 0 when every reader got every line, else 1.
 * Loopback only; every wait is bounded by TIMEOUT_S. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct reader {
    int fd;
    long lines;
    int at_start; /* the next byte starts a line */
    int notice;   /* the current line is a notice */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("fedload: connect");
        exit(2);
    }
    return fd;
}

/* Reads and drops what fd has until it has been quiet for quiet_ms. */
static void drain(int fd, int quiet_ms)
{
    char tmp[65536];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (poll(&p, 1, quiet_ms) > 0) {
        ssize_t n = recv(fd, tmp, sizeof tmp, 0);
        if (n <= 0)
            return;
    }
}

struct sender {
    int fd;
    long lines;
    size_t size;
    double started;
};

static void *send_all(void *arg)
{
    struct sender *s = arg;
    size_t chunk_lines = 64;
    size_t len = s->size * chunk_lines;
    char *buf = malloc(len);
    if (buf == NULL)
        exit(2);
    for (size_t i = 0; i < chunk_lines; i++) {
        memset(buf + i * s->size, 'x', s->size - 1);
        buf[(i + 1) * s->size - 1] = '\n';
    }
    s->started = now_s();
    for (long left = s->lines; left > 0;) {
        size_t n = (size_t)(left < (long)chunk_lines ? left : (long)chunk_lines) * s->size;
        for (size_t off = 0; off < n;) {
            ssize_t w = send(s->fd, buf + off, n - off, MSG_NOSIGNAL);
            if (w < 0) {
                perror("fedload: send");
                free(buf);
                return NULL;
            }
            off += (size_t)w;
        }
        left -= (long)(n / s->size);
    }
    free(buf);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: fedload SEND_PORT READ_PORT READERS LINES SIZE TIMEOUT_S\n");
        return 2;
    }
    int send_port = atoi(argv[1]), read_port = atoi(argv[2]), nr = atoi(argv[3]);
    long lines = atol(argv[4]);
    size_t size = (size_t)atol(argv[5]);
    double timeout = atof(argv[6]);
    if (nr < 1 || lines < 1 || size < 2 || timeout <= 0)
        return 2;

    struct reader *r = calloc((size_t)nr, sizeof *r);
    int ep = epoll_create1(0);
    for (int i = 0; i < nr; i++) {
        r[i].fd = dial(read_port);
        r[i].at_start = 1;
    }
    for (int i = 0; i < nr; i++)
        drain(r[i].fd, i == nr - 1 ? 500 : 20);
    for (int i = 0; i < nr; i++)
        drain(r[i].fd, 10);
    struct sender s = {.fd = dial(send_port), .lines = lines, .size = size};
    drain(s.fd, 300);
    for (int i = 0; i < nr; i++) {
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, r[i].fd, &e);
    }
    pthread_t t;
    pthread_create(&t, NULL, send_all, &s);

    char buf[65536];
    long delivered = 0, want = lines * nr;
    double deadline = now_s() + timeout, last = now_s();
    struct epoll_event evs[256];
    while (delivered < want && now_s() < deadline) {
        int n = epoll_wait(ep, evs, 256, 200);
        for (int k = 0; k < n; k++) {
            struct reader *x = &r[evs[k].data.u32];
            ssize_t got = recv(x->fd, buf, sizeof buf, 0);
            if (got <= 0) {
                epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
                continue;
            }
            for (ssize_t i = 0; i < got; i++) {
                if (x->at_start) {
                    x->notice = buf[i] == '*';
                    x->at_start = 0;
                }
                if (buf[i] == '\n') {
                    if (!x->notice) {
                        x->lines++;
                        delivered++;
                    }
                    x->at_start = 1;
                }
            }
            last = now_s();
        }
    }
    pthread_join(t, NULL);
    int complete = 0;
    for (int i = 0; i < nr; i++)
        complete += r[i].lines == lines;
    double secs = last - s.started;
    printf("lines=%ld readers=%d delivered=%ld complete=%d seconds=%.3f lines_per_s=%.0f\n", lines,
           nr, delivered, complete, secs, secs > 0 ? (double)delivered / secs : 0.0);
    return complete == nr ? 0 : 1;
}
