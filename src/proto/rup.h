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
#define RUP_STATE_MAX 4200    /* the state text, a path included */
#define RUP_PATH_MAX 4096

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
    int64_t created;   /* seconds since the epoch: the expiry counts from here */
    bool complete;     /* the data is in place under rel; only the state is left */
    bool has_sha;      /* the creation request gave Repr-Digest */
    unsigned char sha[32];
    char rel[RUP_PATH_MAX]; /* the target, a normalised path beneath the root */
};

/* "v1 LENGTH CREATED COMPLETE SHA|- REL\n" into out (RUP_STATE_MAX bytes);
 * returns the length, or 0 when rel does not fit or holds a newline. */
size_t rup_state_format(const struct rup_state *st, char *out);
/* The reverse; 0 or -EINVAL for anything else. */
int rup_state_parse(const char *text, size_t len, struct rup_state *out);

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

/* When the request that said Upload-Complete: ?1 has all its body: the
 * data's size must be the length, if one was given. */
bool rup_complete_ok(int64_t length, int64_t size);

#endif
