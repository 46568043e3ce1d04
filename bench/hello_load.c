/* hello_load: load generator for the "hello" greeting protocol.
 *
 *   hello_load [-c CLIENTS] [-d SECONDS] [-t THREADS] [-C CONNECT_SECONDS]
 *              [-i HOLD_SECONDS] [-P SERVER_PID] HOST PORT
 *
 * Opens CLIENTS connections (non-blocking, epoll, at most MAX_PENDING
 * connects in flight per thread), reads each "Welcome!", then either
 *   - runs a closed loop for SECONDS: every client sends "ping-<n>\n",
 *     waits for exactly "Hello, ping-<n>!\n", records the round trip and
 *     sends the next one; or, with -i,
 *   - holds the connections idle for up to HOLD_SECONDS (or until SIGTERM/
 *     SIGINT), after printing "held <count>" on stdout.
 * Every byte received is checked against the expected answer; a mismatch,
 * an early close or a socket error counts as an error and drops the client.
 *
 * Output (stdout), one "key value" per line:
 *   clients_connected, round_trips, rt_per_s, p50_us, p99_us, errors,
 *   plus a breakdown of errors and the generator's own CPU seconds.
 *
 * With -P, the server's CPU time (utime + stime from /proc/PID/stat) over the
 * run phase is printed too, as seconds and microseconds per round trip.
 *
 * Bounds: the connect phase ends after CONNECT_SECONDS whatever happened;
 * latencies are kept in a fixed array per thread (reservoir sampling past
 * it); an alarm kills the process if it overruns everything by 30 s.
 * Build: cc -O2 -std=c11 -D_GNU_SOURCE -pthread -o hello_load hello_load.c
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 16
#define MAX_PENDING 256            /* connects + welcomes in flight per thread */
#define LAT_CAP_TOTAL (8u << 20)  /* latency samples kept over all threads */
#define EVENTS 512

static const char WELCOME[] = "Welcome!";
#define WELCOME_LEN (sizeof WELCOME - 1)

enum cstate { C_FREE, C_CONNECTING, C_WELCOME, C_IDLE, C_WAITING, C_DEAD };

enum errkind { E_CONNECT, E_CONNECT_TIMEOUT, E_MISMATCH, E_CLOSED, E_READ, E_WRITE, E_NKINDS };
static const char *const errname[E_NKINDS] = {
    "err_connect", "err_connect_timeout", "err_mismatch", "err_closed", "err_read", "err_write",
};

struct client {
    int fd;
    enum cstate st;
    uint32_t seq;      /* n of the current ping */
    uint16_t got;      /* bytes of the expected answer received so far */
    uint16_t explen;   /* length of the expected answer */
    uint16_t outoff, outlen; /* unsent part of the current request */
    int64_t t0;        /* send time, ns */
    char exp[32];      /* expected answer */
    char out[24];      /* current request */
};

struct worker {
    pthread_t th;
    int id, ep;
    struct client *c;
    int n;             /* clients of this thread */
    int opened;        /* connects started */
    int pending;       /* connecting or awaiting welcome */
    int connected;     /* welcomed */
    int alive;
    uint64_t rt;
    uint64_t errs[E_NKINDS];
    int first_err[E_NKINDS];
    uint64_t *lat;     /* ns */
    size_t lat_cap, lat_n;
    uint64_t lat_seen; /* samples offered (for reservoir sampling) */
    uint64_t rng;
    char mismatch_sample[256];
};

static struct sockaddr_storage g_addr;
static socklen_t g_addrlen;
static int g_clients = 100, g_threads = 1;
static double g_dur = 5.0, g_connect_s = 30.0, g_hold = -1;
static pthread_barrier_t g_bar;
static int64_t g_run_start, g_run_end; /* ns, set by thread 0 between barriers */
static volatile sig_atomic_t g_stop;
static int g_srv_pid;

/* CPU seconds (user + system) of process pid, or -1. */
static double proc_cpu(int pid)
{
    char path[64], b[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(b, 1, sizeof b - 1, f);
    fclose(f);
    b[n] = '\0';
    char *p = strrchr(b, ')'); /* the command name may hold spaces */
    unsigned long long ut, st;
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                            &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void fail(struct worker *w, struct client *c, enum errkind k, int err)
{
    if (w->errs[k]++ == 0)
        w->first_err[k] = err;
    if (c->fd >= 0) {
        epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
    }
    if (c->st == C_CONNECTING || c->st == C_WELCOME)
        w->pending--;
    else if (c->st == C_IDLE || c->st == C_WAITING)
        w->alive--;
    c->st = C_DEAD;
}

static void record(struct worker *w, uint64_t ns)
{
    w->lat_seen++;
    if (w->lat_n < w->lat_cap) {
        w->lat[w->lat_n++] = ns;
    } else if (w->lat_cap > 0) {
        uint64_t j = xorshift(&w->rng) % w->lat_seen; /* algorithm R */
        if (j < w->lat_cap)
            w->lat[j] = ns;
    }
}

static void start_connect(struct worker *w, struct client *c)
{
    int fd = socket(g_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    w->opened++;
    if (fd < 0) {
        c->fd = -1;
        c->st = C_DEAD;
        if (w->errs[E_CONNECT]++ == 0)
            w->first_err[E_CONNECT] = errno;
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->st = C_CONNECTING;
    w->pending++;
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    if (connect(fd, (struct sockaddr *)&g_addr, g_addrlen) < 0 && errno != EINPROGRESS) {
        fail(w, c, E_CONNECT, errno);
        return;
    }
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        fail(w, c, E_CONNECT, errno);
}

/* Sends what is left of c->out. Returns 0, or -1 when the client died. */
static int flush_out(struct worker *w, struct client *c)
{
    while (c->outoff < c->outlen) {
        ssize_t k = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
        if (k > 0) {
            c->outoff += (uint16_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
            epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
            return 0;
        }
        fail(w, c, E_WRITE, k < 0 ? errno : 0);
        return -1;
    }
    return 0;
}

static void send_ping(struct worker *w, struct client *c, int64_t t)
{
    int n = snprintf(c->out, sizeof c->out, "ping-%u\n", c->seq);
    c->outlen = (uint16_t)n;
    c->outoff = 0;
    c->explen = (uint16_t)snprintf(c->exp, sizeof c->exp, "Hello, ping-%u!\n", c->seq);
    c->got = 0;
    c->st = C_WAITING;
    c->t0 = t;
    flush_out(w, c);
}

/* Copies n bytes of p into d as printable text (\n, \r, \xNN escaped). */
static void escape(char *d, size_t dsz, const char *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < dsz; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '\n')
            o += (size_t)snprintf(d + o, dsz - o, "\\n");
        else if (ch == '\r')
            o += (size_t)snprintf(d + o, dsz - o, "\\r");
        else if (ch < 32 || ch >= 127 || ch == '"' || ch == '\\')
            o += (size_t)snprintf(d + o, dsz - o, "\\x%02x", ch);
        else
            d[o++] = (char)ch;
    }
    d[o] = '\0';
}

static void mismatch(struct worker *w, struct client *c, const char *want, size_t wantlen,
                     const char *p, size_t n)
{
    if (w->mismatch_sample[0] == '\0') {
        char a[64], b[64];
        escape(a, sizeof a, want, wantlen);
        escape(b, sizeof b, p, n);
        snprintf(w->mismatch_sample, sizeof w->mismatch_sample,
                 "expected \"%s\" (%zu bytes) from byte %u, got %zu bytes \"%s\"", a, wantlen,
                 c->got, n, b);
    }
    fail(w, c, E_MISMATCH, 0);
}

/* Reads what c has; checks it against c->exp. */
static void on_readable(struct worker *w, struct client *c, int64_t *tnow)
{
    char b[256];
    for (;;) {
        ssize_t k = recv(c->fd, b, sizeof b, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (k < 0) {
            fail(w, c, E_READ, errno);
            return;
        }
        if (k == 0) {
            fail(w, c, E_CLOSED, 0);
            return;
        }
        size_t n = (size_t)k;
        if (c->st == C_WELCOME) {
            if (c->got + n > WELCOME_LEN || memcmp(b, WELCOME + c->got, n) != 0) {
                mismatch(w, c, WELCOME, WELCOME_LEN, b, n);
                return;
            }
            c->got += (uint16_t)n;
            if (c->got == WELCOME_LEN) {
                c->st = C_IDLE;
                c->got = 0;
                w->pending--;
                w->connected++;
                w->alive++;
                return;
            }
            continue;
        }
        if (c->st != C_WAITING || c->got + n > c->explen ||
            memcmp(b, c->exp + c->got, n) != 0) {
            if (c->st != C_WAITING)
                mismatch(w, c, "", 0, b, n);
            else
                mismatch(w, c, c->exp, c->explen, b, n);
            return;
        }
        c->got += (uint16_t)n;
        if (c->got == c->explen) {
            int64_t t = now_ns();
            *tnow = t;
            if (t > g_run_end) { /* finished after the end: not counted */
                c->st = C_IDLE;
                return;
            }
            w->rt++;
            record(w, (uint64_t)(t - c->t0));
            c->seq++;
            send_ping(w, c, t);
            return; /* nothing more can come until the server reads it */
        }
    }
}

static void connect_phase(struct worker *w)
{
    struct epoll_event evs[EVENTS];
    int64_t deadline = now_ns() + (int64_t)(g_connect_s * 1e9);
    int next = 0;

    while (!g_stop) {
        while (next < w->n && w->pending < MAX_PENDING)
            start_connect(w, &w->c[next++]);
        if (next >= w->n && w->pending == 0)
            break;
        int64_t left = deadline - now_ns();
        if (left <= 0)
            break;
        int ne = epoll_wait(w->ep, evs, EVENTS, left / 1000000 > 100 ? 100 : (int)(left / 1000000) + 1);
        for (int i = 0; i < ne; i++) {
            struct client *c = evs[i].data.ptr;
            if (c->st == C_CONNECTING) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err != 0) {
                    fail(w, c, E_CONNECT, err);
                    continue;
                }
                c->st = C_WELCOME;
                c->got = 0;
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
            } else if (c->st == C_WELCOME) {
                int64_t t;
                on_readable(w, c, &t);
            } else if (c->st == C_IDLE) {
                int64_t t;
                on_readable(w, c, &t); /* anything now is unexpected */
            }
        }
    }
    /* Whatever has not finished by now is a failure; unstarted clients too. */
    for (int i = 0; i < w->n; i++) {
        struct client *c = &w->c[i];
        if (c->st == C_CONNECTING || c->st == C_WELCOME)
            fail(w, c, E_CONNECT_TIMEOUT, ETIMEDOUT);
        else if (c->st == C_FREE) {
            c->st = C_DEAD;
            w->errs[E_CONNECT_TIMEOUT]++;
        }
    }
}

static void run_phase(struct worker *w)
{
    struct epoll_event evs[EVENTS];
    int64_t t = now_ns();

    for (int i = 0; i < w->n; i++)
        if (w->c[i].st == C_IDLE)
            send_ping(w, &w->c[i], t);
    while (!g_stop && w->alive > 0) {
        t = now_ns();
        if (t >= g_run_end)
            break;
        int64_t left_ms = (g_run_end - t) / 1000000 + 1;
        int ne = epoll_wait(w->ep, evs, EVENTS, left_ms > 100 ? 100 : (int)left_ms);
        for (int i = 0; i < ne; i++) {
            struct client *c = evs[i].data.ptr;
            if (c->st == C_DEAD)
                continue;
            if ((evs[i].events & EPOLLOUT) && c->outoff < c->outlen) {
                if (flush_out(w, c) < 0)
                    continue;
                if (c->outoff == c->outlen) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                int64_t tn;
                on_readable(w, c, &tn);
            }
        }
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;

    connect_phase(w);
    pthread_barrier_wait(&g_bar);
    /* thread 0 (the main thread) sets g_run_start/g_run_end here */
    pthread_barrier_wait(&g_bar);
    if (g_hold < 0)
        run_phase(w);
    pthread_barrier_wait(&g_bar);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: hello_load [-c CLIENTS] [-d SECONDS] [-t THREADS] [-C CONNECT_SECONDS]\n"
                    "                  [-i HOLD_SECONDS] [-P SERVER_PID] HOST PORT\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "c:d:t:C:i:P:")) != -1) {
        switch (opt) {
        case 'c': g_clients = atoi(optarg); break;
        case 'd': g_dur = atof(optarg); break;
        case 't': g_threads = atoi(optarg); break;
        case 'C': g_connect_s = atof(optarg); break;
        case 'i': g_hold = atof(optarg); break;
        case 'P': g_srv_pid = atoi(optarg); break;
        default: usage();
        }
    }
    if (argc - optind != 2 || g_clients < 1 || g_clients > 1000000 || g_threads < 1 ||
        g_threads > MAX_THREADS || g_dur <= 0 || g_dur > 3600 || g_connect_s <= 0 ||
        g_connect_s > 600 || g_hold > 3600)
        usage();
    if (g_threads > g_clients)
        g_threads = g_clients;

    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    int gai = getaddrinfo(argv[optind], argv[optind + 1], &hints, &ai);
    if (gai != 0) {
        fprintf(stderr, "hello_load: %s: %s\n", argv[optind], gai_strerror(gai));
        return 2;
    }
    memcpy(&g_addr, ai->ai_addr, ai->ai_addrlen);
    g_addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            perror("hello_load: setrlimit");
    }
    getrlimit(RLIMIT_NOFILE, &rl);
    if ((rlim_t)g_clients + 16 > rl.rlim_cur)
        fprintf(stderr, "hello_load: warning: %d clients but RLIMIT_NOFILE is %llu\n", g_clients,
                (unsigned long long)rl.rlim_cur);

    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* hard bound on the whole run */
    double total = g_connect_s + (g_hold >= 0 ? g_hold : g_dur) + 30;
    alarm((unsigned)total + 1);

    static struct worker ws[MAX_THREADS];
    struct client *all = calloc((size_t)g_clients, sizeof *all);
    if (all == NULL) {
        perror("hello_load: calloc");
        return 1;
    }
    size_t lat_per = g_hold >= 0 ? 0 : LAT_CAP_TOTAL / (size_t)g_threads;
    int base = 0;
    for (int i = 0; i < g_threads; i++) {
        struct worker *w = &ws[i];
        w->id = i;
        w->n = g_clients / g_threads + (i < g_clients % g_threads);
        w->c = all + base;
        base += w->n;
        for (int j = 0; j < w->n; j++)
            w->c[j].fd = -1;
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        w->lat_cap = lat_per;
        w->lat = lat_per ? malloc(lat_per * sizeof *w->lat) : NULL;
        w->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)(i + 1);
        if (w->ep < 0 || (lat_per && w->lat == NULL)) {
            perror("hello_load: setup");
            return 1;
        }
    }
    pthread_barrier_init(&g_bar, NULL, (unsigned)g_threads);
    int64_t tc0 = now_ns();
    for (int i = 1; i < g_threads; i++)
        if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i]) != 0) {
            perror("hello_load: pthread_create");
            return 1;
        }

    /* thread 0 is this thread */
    connect_phase(&ws[0]);
    pthread_barrier_wait(&g_bar);
    int64_t tc1 = now_ns();
    int connected = 0;
    for (int i = 0; i < g_threads; i++)
        connected += ws[i].connected;
    struct rusage ru0;
    getrusage(RUSAGE_SELF, &ru0);
    double scpu0 = g_srv_pid > 0 ? proc_cpu(g_srv_pid) : -1;
    g_run_start = now_ns();
    g_run_end = g_run_start + (int64_t)(g_dur * 1e9);
    pthread_barrier_wait(&g_bar);
    if (g_hold >= 0) {
        printf("held %d\n", connected);
        fflush(stdout);
        int64_t until = now_ns() + (int64_t)(g_hold * 1e9);
        while (!g_stop && now_ns() < until) {
            struct timespec ts = {0, 50 * 1000000};
            nanosleep(&ts, NULL);
        }
    } else {
        run_phase(&ws[0]);
    }
    int64_t t_end = now_ns();
    double scpu1 = g_srv_pid > 0 ? proc_cpu(g_srv_pid) : -1;
    pthread_barrier_wait(&g_bar);
    for (int i = 1; i < g_threads; i++)
        pthread_join(ws[i].th, NULL);
    struct rusage ru1;
    getrusage(RUSAGE_SELF, &ru1);

    uint64_t rt = 0, errs[E_NKINDS] = {0}, nlat = 0;
    for (int i = 0; i < g_threads; i++) {
        rt += ws[i].rt;
        nlat += ws[i].lat_n;
        for (int k = 0; k < E_NKINDS; k++)
            errs[k] += ws[i].errs[k];
    }
    uint64_t *lat = NULL;
    if (nlat > 0) {
        lat = malloc(nlat * sizeof *lat);
        size_t off = 0;
        for (int i = 0; i < g_threads; i++) {
            memcpy(lat + off, ws[i].lat, ws[i].lat_n * sizeof *lat);
            off += ws[i].lat_n;
        }
        qsort(lat, nlat, sizeof *lat, cmp_u64);
    }
    double run_s = g_hold >= 0 ? (double)(t_end - g_run_start) / 1e9 : g_dur;
    uint64_t errsum = 0;
    for (int k = 0; k < E_NKINDS; k++)
        errsum += errs[k];
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
                 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
                 (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
                 (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;

    printf("clients_requested %d\n", g_clients);
    printf("clients_connected %d\n", connected);
    printf("connect_seconds %.3f\n", (double)(tc1 - tc0) / 1e9);
    if (g_hold < 0) {
        printf("duration_s %.3f\n", run_s);
        printf("round_trips %llu\n", (unsigned long long)rt);
        printf("rt_per_s %.1f\n", (double)rt / run_s);
        printf("latency_samples %llu\n", (unsigned long long)nlat);
        printf("p50_us %.1f\n", nlat ? (double)lat[(nlat - 1) * 50 / 100] / 1e3 : -1.0);
        printf("p99_us %.1f\n", nlat ? (double)lat[(nlat - 1) * 99 / 100] / 1e3 : -1.0);
        printf("max_us %.1f\n", nlat ? (double)lat[nlat - 1] / 1e3 : -1.0);
        printf("loadgen_cpu_s %.3f\n", cpu);
        if (scpu0 >= 0 && scpu1 >= 0) {
            printf("server_cpu_s %.3f\n", scpu1 - scpu0);
            printf("server_cpu_us_per_rt %.2f\n", rt ? (scpu1 - scpu0) * 1e6 / (double)rt : -1.0);
        }
    } else {
        printf("held_seconds %.3f\n", run_s);
    }
    printf("errors %llu\n", (unsigned long long)errsum);
    for (int k = 0; k < E_NKINDS; k++) {
        if (errs[k] == 0)
            continue;
        int fe = 0;
        for (int i = 0; i < g_threads && fe == 0; i++)
            fe = ws[i].first_err[k];
        printf("%s %llu%s%s\n", errname[k], (unsigned long long)errs[k], fe ? " " : "",
               fe ? strerror(fe) : "");
    }
    for (int i = 0; i < g_threads; i++)
        if (ws[i].mismatch_sample[0]) {
            printf("mismatch_sample %s\n", ws[i].mismatch_sample);
            break;
        }
    fflush(stdout);
    /* closes every socket on exit */
    return 0;
}
