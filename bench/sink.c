/* bench/sink.c: one HTTP/1.1 GET, the response read into a 256 KiB buffer
 * and only counted.
 *
 *   sink HOST PORT PATH
 *
 * Prints "BODY_BYTES SECONDS" on stdout: the body bytes received and the
 * time from before connect() to the last body byte. Exits 1 when the status
 * is not 200 or the body is shorter than Content-Length (or, without one,
 * when nothing came). Gives up after 300 s without a byte. */
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (256 * 1024)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Content-Length from a response head (NUL-terminated), or -1. */
static long long content_length(const char *head)
{
    const char *p = head;
    while ((p = strchr(p, '\n')) != NULL) {
        p++;
        if (strncasecmp(p, "content-length:", 15) == 0)
            return strtoll(p + 15, NULL, 10);
    }
    return -1;
}

int main(int argc, char **argv)
{
    static char buf[BUF_SIZE];
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai, *a;
    char req[2048];
    int fd = -1, rc;

    if (argc != 4) {
        fprintf(stderr, "usage: sink HOST PORT PATH\n");
        return 2;
    }
    int reqlen = snprintf(req, sizeof req,
                          "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ferry-bench-sink\r\n"
                          "Connection: close\r\n\r\n",
                          argv[3], argv[1]);
    if (reqlen < 0 || (size_t)reqlen >= sizeof req) {
        fprintf(stderr, "sink: path too long\n");
        return 2;
    }
    if ((rc = getaddrinfo(argv[1], argv[2], &hints, &ai)) != 0) {
        fprintf(stderr, "sink: %s: %s\n", argv[1], gai_strerror(rc));
        return 2;
    }

    double t0 = now_s();
    for (a = ai; a != NULL; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        fprintf(stderr, "sink: connect: %s\n", strerror(errno));
        return 1;
    }
    struct timeval tv = {.tv_sec = 300};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (int off = 0; off < reqlen;) {
        ssize_t w = send(fd, req + off, (size_t)(reqlen - off), MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "sink: send: %s\n", strerror(errno));
            return 1;
        }
        off += (int)w;
    }

    /* The head: kept at the start of buf until the blank line is in. */
    size_t have = 0;
    char *end = NULL;
    while (end == NULL) {
        if (have == BUF_SIZE - 1) {
            fprintf(stderr, "sink: response head too large\n");
            return 1;
        }
        ssize_t n = recv(fd, buf + have, BUF_SIZE - 1 - have, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "sink: no response head (%s)\n", n < 0 ? strerror(errno) : "EOF");
            return 1;
        }
        have += (size_t)n;
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    size_t head_len = (size_t)(end - buf) + 4;
    int status = 0;
    if (sscanf(buf, "HTTP/%*d.%*d %d", &status) != 1 || status != 200) {
        end[0] = '\0';
        fprintf(stderr, "sink: status %d:\n%s\n", status, buf);
        return 1;
    }
    end[2] = '\0';
    long long want = content_length(buf);
    uint64_t body = have - head_len;

    /* The body: counted, never looked at. */
    while (want < 0 || body < (uint64_t)want) {
        ssize_t n = recv(fd, buf, BUF_SIZE, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "sink: recv: %s\n", strerror(errno));
            return 1;
        }
        if (n == 0)
            break;
        body += (uint64_t)n;
    }
    double secs = now_s() - t0;
    close(fd);

    printf("%llu %.6f\n", (unsigned long long)body, secs);
    if ((want >= 0 && body != (uint64_t)want) || (want < 0 && body == 0)) {
        fprintf(stderr, "sink: body %llu bytes, expected %lld\n", (unsigned long long)body, want);
        return 1;
    }
    return 0;
}
