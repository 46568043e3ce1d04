/* fileserver: `ferry serve`, a concurrent HTTP/1.1 and raw-protocol file
 * server. One epoll loop per thread, all sharing one listening socket. */
#ifndef FERRY_APP_FILESERVER_H
#define FERRY_APP_FILESERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How file bodies go out. FS_SEND_AUTO is what measurement chose (see
 * docs/BENCHMARKS.md); the others exist to measure against. */
enum fs_send_mode {
    FS_SEND_AUTO,      /* small bodies read into the head's buffer, large ones sendfile */
    FS_SEND_SENDFILE,  /* every body with sendfile, after a separate head write */
    FS_SEND_SPLICE,    /* file -> pipe -> socket with splice */
    FS_SEND_READWRITE, /* pread into a per-thread buffer, then send */
};

/* The access log's line format. */
enum fs_log_format {
    FS_LOG_COMBINED, /* common, then "Referer" "User-Agent" and the request time in ms */
    FS_LOG_COMMON,   /* the common log format, nothing more */
    FS_LOG_JSON,     /* one JSON object per line */
};

#define FS_RAW_GAP_MS 40 /* measured: docs/PROTOCOLS.md */

struct fs_options {
    const char *root;     /* directory to serve */
    const char *bind;     /* NULL: every interface, dual-stack */
    uint16_t port;        /* 0: the kernel picks */
    int threads;          /* event loops, at least 1 */
    bool quiet;           /* no access log */
    bool hidden;          /* serve and list names starting with "." */
    bool raw;             /* speak the raw file protocol too */
    bool upload;          /* accept PUT */
    uint64_t max_upload;  /* largest PUT body */
    int log_fd;           /* where access log lines go */
    enum fs_log_format log_format;
    long max_conns;       /* open connections at most, all threads together */
    int head_timeout_ms;  /* whole request head must arrive within this */
    int idle_timeout_ms;  /* keep-alive connection with no request */
    int send_timeout_ms;  /* no progress sending */
    int grace_ms;         /* on stop, time for responses in flight */
    int raw_gap_ms;       /* a raw name without an end is complete after this quiet gap */
    const char *mime_types; /* mime.types file; NULL for built-ins only */
    enum fs_send_mode send_mode;
};

/* Fills o with the defaults (port 8000, raw on, one thread). */
void fs_options_default(struct fs_options *o);

struct fs_server;

/* Opens the root and the listening socket and starts the threads. On
 * success *out is the running server and url (urlsz bytes) the address it
 * serves on, such as "http://127.0.0.1:8000/". Returns 0 or -errno; *what
 * then names the step that failed. */
int fs_server_start(const struct fs_options *o, struct fs_server **out, char *url, size_t urlsz,
                    const char **what);

/* Asks every thread to stop: no new connections, responses in flight get
 * the grace period. Safe to call from any thread. */
void fs_server_stop(struct fs_server *s);

/* Waits for the threads to end and frees the server. Returns 0. */
int fs_server_wait(struct fs_server *s);

#endif
