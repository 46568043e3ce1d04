/* rup: resumable uploads (draft-ietf-httpbis-resumable-upload-11, interop
 * version 8), the parts that are pure: the request fields, the upload
 * resource's token and its state as kept on disk, and the decisions that
 * say whether a creation or an append may go on, and with what length.
 *
 * Fields (Items, RFC 9651): Upload-Complete a Boolean, Upload-Offset and
 * Upload-Length non-negative Integers, Upload-Draft-Interop-Version an
 * Integer. A field of another type is ignored as a whole, as the draft
 * says; a field given twice with two values is an error.
 *
 * Pure: no I/O, no allocation. */
#ifndef FERRY_PROTO_RUP_H
#define FERRY_PROTO_RUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/http.h"

#define RUP_INTEROP 8         /* the draft's interop version ferry speaks */
#define RUP_TOKEN_LEN 32      /* hex digits of an upload's token (128 random bits) */
#define RUP_STATE_MAX 4400    /* the state text, a path and an owner included */
#define RUP_PATH_MAX 4096
#define RUP_OWNER_MAX 64 /* "u:USER", "a:ADDRESS" or "-", and the NUL */

struct rup_req {
    int complete;           /* Upload-Complete: 1 true, 0 false, -1 absent (or ignored) */
    int64_t offset;         /* Upload-Offset, -1 absent */
    int64_t length;         /* Upload-Length, -1 absent */
    int64_t interop;        /* Upload-Draft-Interop-Version, 0 absent */
    int64_t content_length; /* of this request's body, -1 unknown (chunked) */
};

/* The resumable-upload fields of req, whose body has content_length bytes
 * (-1 unknown). 0, or -EINVAL when a field comes twice with two values. */
int rup_req_parse(const struct http_request *req, int64_t content_length, struct rup_req *out);

/* What the server keeps of an upload, beside its data. */
struct rup_state {
    int64_t length;    /* the whole upload, -1 not known yet */
    char owner[RUP_OWNER_MAX]; /* the party it counts against (rup_owner_format); "" or "-" none */
    int64_t created;   /* seconds since the epoch: the expiry counts from here */
    bool complete;     /* the data is in place under rel; only the state is left */
    bool has_sha;      /* the creation request gave Repr-Digest */
    unsigned char sha[32];
    char rel[RUP_PATH_MAX]; /* the target, a normalised path beneath the root */
};

/* "v2 LENGTH CREATED COMPLETE SHA|- OWNER REL\n" into out (RUP_STATE_MAX
 * bytes; an empty owner is written "-"); returns the length, or 0 when
 * rel does not fit or holds a newline, or owner is not 1 to 63 visible
 * ASCII characters. */
size_t rup_state_format(const struct rup_state *st, char *out);
/* The reverse (and "v1 LENGTH CREATED COMPLETE SHA|- REL\n", written
 * before uploads had owners: owner "-"); 0 or -EINVAL for anything else. */
int rup_state_parse(const char *text, size_t len, struct rup_state *out);

/* The party an upload counts against: "u:USER" for an authenticated user
 * (user non-empty), else "a:ADDRESS" for the peer: an IPv4 address (IPv4
 * mapped into IPv6 included) or the /64 an IPv6 address is in, written
 * "a:PREFIX::/64" (one host usually has a whole /64). "-" for any other
 * family. Returns out. */
const char *rup_owner_format(const char *user, const void *sockaddr, char out[RUP_OWNER_MAX]);

/* What is on disk for an upload, as a request that holds its lock finds it. */
enum rup_found {
    RUP_IN_PROGRESS,  /* state not complete, data there: the offset is the data's size */
    RUP_DONE,         /* state complete, data renamed over the target */
    RUP_ROLL_FORWARD, /* state complete, data still there: the server stopped between
                         the two steps of completion; finish the rename, then done */
    RUP_LOST,         /* state not complete, no data: nothing to resume (404); removed only
                         when it expires, since nothing proves it abandoned before */
};

/* Completion is the state written complete (synced) and then the data
 * renamed over the target, both under the upload's lock; this names what
 * a state and the presence of its data mean. */
enum rup_found rup_found(const struct rup_state *st, bool data_there);

/* How often expired uploads are looked for, in seconds: half of max_age
 * (so one is gone within 1.5 max_age), at least 1, at most 60. */
int64_t rup_sweep_every(int64_t max_age);

/* A token from 16 random bytes: 32 lower-case hex digits and a NUL. */
void rup_token_format(const unsigned char raw[16], char out[RUP_TOKEN_LEN + 1]);

/* The query of an upload resource's URL is exactly "upload=TOKEN": 1 with
 * out set; 0 when the query names no upload (absent, or other keys only
 * and no "upload"); -EINVAL when it names one badly (not 32 hex digits,
 * given twice, or beside other keys). */
int rup_query_token(const char *q, size_t len, char out[RUP_TOKEN_LEN + 1]);

enum rup_verdict {
    RUP_GO,           /* go on; length is what to record */
    RUP_BAD,          /* 400: Upload-Offset or Upload-Complete missing */
    RUP_MISMATCH,     /* 409: Upload-Offset is not the resource's offset */
    RUP_INCONSISTENT, /* 400: the lengths given disagree, or the data passes the length */
    RUP_COMPLETED,    /* 400 (410 when the request has no content): nothing may be appended */
    RUP_TOO_LARGE,    /* 413: longer than the server takes */
    RUP_TOO_MANY,     /* 429: the party has as many unfinished uploads as it may */
    RUP_NO_ROOM,      /* 507: the party's unfinished uploads would pass their bytes */
};

struct rup_decision {
    enum rup_verdict verdict;
    int64_t length; /* RUP_GO: the upload's length as now known, -1 not known */
};

/* An upload creation request (Upload-Complete present). */
void rup_decide_create(const struct rup_req *r, uint64_t max_size, struct rup_decision *d);

/* An append (PATCH) to the upload in state st whose data holds offset bytes. */
void rup_decide_append(const struct rup_state *st, int64_t offset, const struct rup_req *r,
                       uint64_t max_size, struct rup_decision *d);

/* After n more body bytes arrive at offset (the data's size before them)
 * under a decided length (-1 unknown) and max_size: 0, or the verdict
 * that stops the body (RUP_INCONSISTENT, RUP_TOO_LARGE). */
enum rup_verdict rup_check_more(int64_t length, uint64_t max_size, int64_t offset, uint64_t n);

/* Whether a party with count unfinished uploads of bytes bytes may add
 * need bytes (and, when new_upload, one more upload) under max_count and
 * max_bytes: RUP_GO, RUP_TOO_MANY or RUP_NO_ROOM. */
enum rup_verdict rup_admit(uint64_t count, uint64_t bytes, bool new_upload, uint64_t need,
                           uint64_t max_count, uint64_t max_bytes);

/* When the request that said Upload-Complete: ?1 has all its body: the
 * data's size must be the length, if one was given. */
bool rup_complete_ok(int64_t length, int64_t size);

#endif
