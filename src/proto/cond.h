/* cond: what a GET or HEAD of a file gets, from its validators and the
 * request's conditional and range headers (RFC 9110 sections 13 and 14), in
 * the spirit of nginx's not-modified and range filters. Pure: no I/O, no
 * allocation; nothing is kept after a call returns. */
#ifndef FERRY_PROTO_COND_H
#define FERRY_PROTO_COND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "proto/http.h"

/* Room for cond_etag's longest tag and its NUL: two quotes, two dashes and
 * three 64-bit numbers of 16 hex digits each. */
#define COND_ETAG_SIZE 53

/* Room for cond_content_range's longest value and its NUL:
 * "bytes " and three 20-digit numbers joined by '-' and '/'. */
#define COND_CONTENT_RANGE_SIZE 69

/* The validators of the file being served. */
struct cond_file {
    uint64_t size;    /* bytes */
    time_t mtime;     /* Last-Modified, in whole seconds */
    const char *etag; /* strong, quoted, NUL-terminated: "\"...\"" (cond_etag);
                       * NULL when the file has no entity tag */
};

/* The request's conditional and range headers (absent: p == NULL), and the
 * method. Each value is the header's field value without surrounding white
 * space, as http_parse_request gives it; it need not be NUL-terminated. A
 * present but empty header (p != NULL, len == 0) counts as present. */
struct cond_request {
    bool head; /* HEAD or GET; both decide the same */
    struct http_str if_match, if_none_match, if_modified_since, if_unmodified_since, range,
        if_range;
};

enum cond_outcome {
    COND_FULL = 200,                /* the whole file */
    COND_PARTIAL = 206,             /* one range of it; Content-Range says which */
    COND_NOT_MODIFIED = 304,        /* no body; the validators as for a 200 */
    COND_PRECONDITION_FAILED = 412, /* If-Match or If-Unmodified-Since is false */
    COND_UNSATISFIABLE = 416,       /* no range lies within the file */
};

struct cond_decision {
    enum cond_outcome status; /* also the HTTP status code to send */
    uint64_t first, last;     /* byte range to send (inclusive) for 200/206; 200 covers the
                               * file (size 0: first=last=0, length 0); 0 for 304/412/416 */
    uint64_t length;          /* bytes of body: last - first + 1, or 0 (size 0, 304, 412, 416) */
};

/* Decides what a GET/HEAD of the file f gets, per RFC 9110 section 13.2.2:
 *
 *  1. If-Match: false (412) unless "*" or a listed tag equals f->etag by the
 *     strong comparison (weak tags never match). An empty list is false.
 *  2. If-Unmodified-Since, only when If-Match is absent: false (412) when
 *     f->mtime is later than the date. An unparseable date is ignored.
 *  3. If-None-Match: 304 when "*" or a listed tag equals f->etag by the weak
 *     comparison (W/ ignored). When present, If-Modified-Since is ignored.
 *  4. If-Modified-Since: 304 when f->mtime <= the date. An unparseable date
 *     is ignored.
 *  5. Range (range_parse), honoured only when If-Range is absent or holds:
 *     an entity tag holds when it equals f->etag byte for byte (a weak tag
 *     never holds), a date when it equals f->mtime exactly; anything else
 *     (an unparseable date, an empty value) does not hold and the whole file
 *     is sent. One satisfiable range is 206; several get the whole file (200);
 *     none within the file is 416 (so is any range of an empty file); a Range
 *     that does not parse is ignored (200).
 *
 * Lists are comma-separated with optional white space and empty elements;
 * an element starting with '*' counts as "*" (as fileserver always took it),
 * and one that is not a quoted entity tag alone is skipped. Writes the
 * outcome into *d; never fails. */
void cond_decide(const struct cond_file *f, const struct cond_request *r, struct cond_decision *d);

/* Writes the strong ETag ferry uses for a file, "\"ino-size-mtime_ns\"" with
 * each number in lower-case hex without leading zeros (the format fileserver
 * has always sent, so that clients' stored validators stay valid), and a NUL
 * into out. mtime_ns is st_mtim.tv_sec * 1000000000 + st_mtim.tv_nsec, in
 * 64-bit arithmetic. Returns the length written without the NUL, or 0 (with
 * out[0] = '\0' when outsz > 0) when outsz is too small; COND_ETAG_SIZE is
 * always enough. */
size_t cond_etag(uint64_t ino, uint64_t size, uint64_t mtime_ns, char *out, size_t outsz);

/* Writes the Content-Range value that goes with d for a file of size bytes
 * and a NUL into out: "bytes first-last/size" for a 206; for a 416,
 * "bytes ", an asterisk, then "/size". Returns its length without the NUL, or 0
 * for other outcomes or when outsz is too small (out[0] = '\0' when
 * outsz > 0); COND_CONTENT_RANGE_SIZE is always enough. */
size_t cond_content_range(const struct cond_decision *d, uint64_t size, char *out, size_t outsz);

#endif
