/* fetch: `ferry get` and `ferry put`, the HTTP(S) and raw-protocol client.
 *
 * Downloads go to NAME.part and are renamed to NAME only when the whole
 * body arrived and matched the announced length; the validator (ETag or
 * Last-Modified) the server gave is kept in NAME.part.validator so that a
 * later --continue resumes only the same file. */
#ifndef FERRY_GET_FETCH_H
#define FERRY_GET_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes, also documented in `ferry get --help` and the README. */
enum fetch_result {
    FETCH_OK = 0,
    FETCH_USAGE = 2,     /* bad options or URL; a refusal to send credentials */
    FETCH_NETWORK = 3,   /* resolve, connect, reset, timeout */
    FETCH_TLS = 4,       /* handshake or certificate */
    FETCH_HTTP = 5,      /* a non-2xx status, too many redirects, a loop */
    FETCH_LOCAL = 6,     /* local files: exists, cannot write, disk full */
    FETCH_NOT_FOUND = 7, /* raw protocol: the empty reply */
    FETCH_PROTOCOL = 8,  /* a malformed or short response */
    FETCH_DIGEST = 9,    /* the saved file does not match its digest (Repr-Digest, --sha256) */
};

struct fetch_options {
    const char *const *urls;
    int nurls;
    const char *output;     /* -o: a file, or "-" for stdout (one URL) */
    const char *outdir;     /* -O */
    bool disposition;       /* -J */
    bool force;             /* -f: overwrite */
    bool resume;            /* -c */
    bool show_head;         /* -i */
    bool quiet;             /* -q */
    bool verbose;           /* -v */
    bool insecure;          /* -k */
    bool sync;              /* --sync: fsync before the rename */
    bool no_pipeline;       /* --no-pipeline: one request at a time */
    const char *cacert;
    bool has_sha256;        /* --sha256/--digest: the file must have this SHA-256 */
    unsigned char sha256[32];
    bool has_pin;           /* --pin: only the certificate whose SHA-256 is pin */
    unsigned char pin[32];
    int max_redirs;
    int timeout_ms;
    int retries;
    const char *raw_charset; /* NULL, or "GBK" for raw names */
    bool progress;           /* draw a progress bar (stderr is a terminal) */
    int err_fd;
    /* logging in (HTTP Basic, sent only after a 401 that asks for it) */
    const char *user;  /* -u USER:PASS, the password already asked for; NULL if not */
    const char *netrc; /* --netrc: the file's text (netrc_len bytes); NULL if not */
    size_t netrc_len;
    bool allow_plain_auth; /* --allow-plain-auth: Basic over http:// to any host */
    /* folders (get/tree) */
    bool recursive;             /* -r: cmd/ calls tree_run instead of fetch_run */
    const char *const *outputs; /* a path per URL (parallel to urls), or NULL */
    const char *accept;         /* the Accept header's value; NULL: any */
    /* put */
    const char *upload;      /* the file to PUT; NULL for get */
    /* Told, as the transfer goes, the line that says how to resume it
     * ("NAME.part is kept: ferry get -c ... resumes it"), or NULL when
     * nothing would be left to resume; for cmd's SIGINT handler, which
     * prints the last one. NULL: not told. */
    void (*resumable)(void *arg, const char *line);
    void *resumable_arg;
};

void fetch_options_default(struct fetch_options *o);

/* Downloads every URL (or uploads o->upload to the one URL). Returns the
 * result of the first failure, or FETCH_OK. */
enum fetch_result fetch_run(const struct fetch_options *o);

#endif
