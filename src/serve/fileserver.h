/* fileserver: `ferry serve`, a concurrent HTTP/1.1 and raw-protocol file
 * server. One epoll loop per thread, all sharing one listening socket. */
#ifndef FERRY_SERVE_FILESERVER_H
#define FERRY_SERVE_FILESERVER_H

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

struct fs_auth;
/* The access log's line format. */
enum fs_log_format {
    FS_LOG_COMBINED, /* common, then "Referer" "User-Agent" and the request time in ms */
    FS_LOG_COMMON,   /* the common log format, nothing more */
    FS_LOG_JSON,     /* one JSON object per line */
};

#define FS_RAW_GAP_MS 40 /* measured: docs/PROTOCOLS.md */

struct cidr_list;

struct fs_options {
    const char *root;     /* directory to serve */
    const char *bind;     /* NULL: every interface, dual-stack */
    uint16_t port;        /* 0: the kernel picks */
    int threads;          /* event loops, at least 1 */
    bool quiet;           /* no access log */
    bool hidden;          /* serve and list names starting with "." */
    bool no_mac_files;    /* "._NAME" and ".DS_Store" hidden too (proto/path path_refused) */
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
    const char *tls_cert;   /* PEM certificate (and chain): TLS on the same port */
    const char *tls_key;    /* its PEM key */
    bool tls_self_signed;   /* TLS with a fresh self-signed certificate */
    bool tls_only;          /* plain raw connections are closed too (plain HTTP
                               always gets a 301 to https://) */
    enum fs_send_mode send_mode;
    /* PROXY headers from these peers (the caller's; see net/srv.h); a
     * connection whose first bytes begin one is closed. NULL: off. */
    const struct cidr_list *proxy_from;
    int proxy_wait;         /* how many may wait for their header, per thread; 0: srv's default */
    struct fs_auth *auth;   /* --auth: accounts (serve/fs_auth.h); NULL: everyone reads */
    bool allow_plain_auth;  /* accept passwords over plain HTTP from other hosts */
    bool digest;            /* Repr-Digest on every GET and HEAD of a file, asked or not */
    unsigned digest_rate_mib; /* background hashing: MiB/s at most; 0: no limit */
    bool digest_scan;         /* keep the tree's digests up to date in the background */
    int64_t upload_max_age_s; /* --upload: an unfinished resumable upload is removed after this */
    uint64_t upload_max_unfinished;       /* unfinished resumable uploads per party */
    uint64_t upload_max_unfinished_bytes; /* and their bytes; 0: twice max_upload */
    uint64_t upload_part;    /* the page sends resumable uploads in parts of this many bytes */
    bool dav_depth_infinity; /* PROPFIND Depth: infinity answered (else 403) */
};

/* Fills o with the defaults (port 8000, raw on, one thread). */
void fs_options_default(struct fs_options *o);

struct fs_server;

/* Opens the root and the listening socket, loads or makes the TLS
 * certificate, and starts the threads. On success *out is the running
 * server and url (urlsz bytes) the address it serves on, such as
 * "http://127.0.0.1:8000/" or "https://...". Returns 0 or -errno; *what
 * then names the step that failed (for a certificate or key that does not
 * load it points into url, which holds OpenSSL's reason). */
int fs_server_start(const struct fs_options *o, struct fs_server **out, char *url, size_t urlsz,
                    const char **what);

/* Loads --tls-cert and --tls-key again for the connections accepted from
 * now on; connections in flight keep the certificate they have. On
 * failure the old certificate stays and err says why. Returns 0 or -errno
 * (-ENOENT: no files to reload). Any thread. */
int fs_server_reload(struct fs_server *s, char *err, size_t errsz);

/* The SHA-256 fingerprint of the server's certificate, "AB:CD:..."
 * (96 bytes with the NUL), into hex; false without TLS. */
bool fs_server_fingerprint(struct fs_server *s, char *hex, size_t hexsz);

/* Asks every thread to stop: no new connections, responses in flight get
 * the grace period. Safe to call from any thread. */
void fs_server_stop(struct fs_server *s);

/* Waits for the threads to end and frees the server. Returns 0. */
int fs_server_wait(struct fs_server *s);

#endif
