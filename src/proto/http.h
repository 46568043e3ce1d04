/* http: a pure HTTP/1.x request parser and the header rules a server needs.
 *
 * Nothing here does I/O or allocates: results point into the caller's buffer
 * and stay valid as long as it does. */
#ifndef FERRY_PROTO_HTTP_H
#define FERRY_PROTO_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_MAX_HEAD 8192   /* request line and headers together */
#define HTTP_MAX_HEADERS 100 /* header lines */

enum http_method {
    HTTP_OTHER = 0,
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_DELETE,
    HTTP_OPTIONS,
    HTTP_PATCH,
    HTTP_TRACE,
    HTTP_CONNECT,
    HTTP_MKCOL,     /* RFC 4918 §9.3 */
    HTTP_PROPFIND,  /* RFC 4918 §9.1 */
    HTTP_PROPPATCH, /* RFC 4918 §9.2 */
    HTTP_COPY,      /* RFC 4918 §9.8 */
    HTTP_MOVE,      /* RFC 4918 §9.9 */
    HTTP_LOCK,      /* RFC 4918 §9.10 */
    HTTP_UNLOCK,    /* RFC 4918 §9.11 */
};

struct http_str {
    const char *p;
    size_t len;
};

struct http_header {
    struct http_str name;
    struct http_str value; /* without surrounding white space */
};

struct http_request {
    enum http_method method;
    struct http_str method_str;
    struct http_str target;
    int minor; /* 0 for HTTP/1.0, 1 for HTTP/1.1 */
    size_t nheaders;
    struct http_header headers[HTTP_MAX_HEADERS];
};

#define HTTP_PARSE_INVALID (-1)
#define HTTP_PARSE_INCOMPLETE (-2)

/* Parses a request head from buf[0..len). Returns the length of the head
 * (through the empty line) when it is complete, HTTP_PARSE_INCOMPLETE when
 * more bytes are needed, or HTTP_PARSE_INVALID with *status set to the
 * response code to send (400, 431 for too many headers, 505 for a version
 * other than 1.0 and 1.1). Empty lines (CR LF) before the request line are
 * skipped. Lines must end in CR LF: a bare LF or a CR anywhere else is 400,
 * as are obs-fold, white space before the first field or before a colon,
 * an empty field name and control bytes (but HTAB in values); INVALID may
 * come before the head is complete. The head size limit is the caller's:
 * see http_head_overflow_status. */
ssize_t http_parse_request(const char *buf, size_t len, struct http_request *req, int *status);

/* The status for a head that reached HTTP_MAX_HEAD bytes without ending:
 * 414 while the request line is still open, otherwise 431. */
int http_head_overflow_status(const char *buf, size_t len);

/* The method named by s[0..len), or HTTP_OTHER. */
enum http_method http_method_parse(const char *s, size_t len);

/* What a server needs from the headers of a request. */
struct http_info {
    int64_t content_length; /* -1 when absent */
    bool chunked;           /* Transfer-Encoding is exactly chunked */
    bool te_present;        /* a Transfer-Encoding field was there */
    bool keep_alive;        /* the connection may serve another request */
    bool expect_continue;
    struct http_str host, if_none_match, if_modified_since, range, if_range;
};

/* Reads the headers of req into *info. Returns 0, or the status to answer
 * with, after which the connection must be closed: 400 when they break the
 * framing rules (Content-Length together with Transfer-Encoding, a
 * duplicate or malformed Content-Length, Transfer-Encoding in an HTTP/1.0
 * request, two Transfer-Encoding fields, a malformed coding list, a
 * repeated coding, a list that does not end in exactly one chunked) or
 * lack exactly one Host in HTTP/1.1; 501 for a list that ends in chunked but
 * names another coding too (we implement none but chunked). */
int http_analyse(const struct http_request *req, struct http_info *info);

/* The path part of a request target: origin form as it is, absolute form
 * ("http://host/p") with scheme and authority removed. Returns false for
 * a target that is neither (such as "*"). */
bool http_target_path(struct http_str target, struct http_str *path);

/* True when s[0..len) equals the NUL-terminated lit, ignoring ASCII case. */
bool http_str_ieq(const char *s, size_t len, const char *lit);

/* The value of the first of the n headers called name (ASCII case
 * ignored), or p == NULL: for requests and responses alike. */
struct http_str http_header_get(const struct http_header *h, size_t n, const char *name);

/* True when the comma-separated list in v holds token (ASCII case ignored). */
bool http_list_has(struct http_str v, const char *token);

/* A response head, for the client. */
struct http_response {
    int minor;
    int status;
    struct http_str reason;
    size_t nheaders;
    struct http_header headers[HTTP_MAX_HEADERS];
};

/* Parses a response head from buf[0..len) like http_parse_request, by
 * the same field-line rules, except that a bare LF ends a line too (old
 * servers send it): the head's length, HTTP_PARSE_INCOMPLETE or
 * HTTP_PARSE_INVALID. */
ssize_t http_parse_response(const char *buf, size_t len, struct http_response *res);

/* What a client needs from a response's headers. */
struct http_resp_info {
    int64_t content_length; /* -1 when absent */
    bool chunked;
    bool close; /* the server will close after this response */
    struct http_str location, content_range, content_disposition, etag, last_modified;
};

/* Reads the headers of res. Returns 0 or -EBADMSG for framing a client
 * must not trust: a malformed or conflicting Content-Length, and any
 * Transfer-Encoding http_analyse would not take (not exactly chunked, two
 * fields, or in an HTTP/1.0 response). Content-Length beside chunked is
 * ignored, and sets close: the connection is not reused after it. */
int http_analyse_response(const struct http_response *res, struct http_resp_info *info);

/* Parses "bytes FIRST-LAST/SIZE" (SIZE may be "*", given as -1) or
 * "bytes *\/SIZE" (first = last = -1). Returns 0 or -EINVAL. */
int http_content_range(struct http_str v, int64_t *first, int64_t *last, int64_t *size);

/* Whether a 206 answering "Range: bytes=HAVE-" (have > 0) carries all the
 * rest of the representation: its Content-Range (p NULL when absent) must
 * start at have and end at the last byte of a size it states (not "*"),
 * a Content-Length (-1 when absent) must be the range's length, and known,
 * the size an earlier response gave (-1 when none), must be that size.
 * Returns the representation's size, or -EINVAL. */
int64_t http_resume_size(struct http_str content_range, int64_t content_length, int64_t have,
                         int64_t known);

/* The file name a Content-Disposition value suggests (filename*=UTF-8''...
 * preferred, else filename=), reduced to a safe base name: no "/" or "\",
 * not "." or "..", no control bytes, no leading dot. Returns its length, or
 * -ENOENT when there is none or it is unsafe. */
long http_disposition_filename(struct http_str v, char *out, size_t outsz);

#define HTTP_CHUNK_LINE_MAX 4096    /* a size line or a trailer line, CR LF included */
#define HTTP_CHUNK_TRAILER_KEEP 512 /* trailer bytes kept for http_chunked_trailer */

/* An incremental chunked-body decoder. Zero it before the first call. */
struct http_chunked {
    int state;
    uint64_t left;                      /* bytes of the current chunk still to come */
    size_t line;                        /* bytes of the current size or trailer line so far */
    size_t trailer;                     /* bytes of the trailer section so far */
    size_t nkept;                       /* bytes in kept */
    char kept[HTTP_CHUNK_TRAILER_KEEP]; /* the trailer section's first bytes */
};

/* Decodes buf[0..*len) in place: the body bytes are moved to the front and
 * *len becomes their count. Returns HTTP_PARSE_INCOMPLETE when the body
 * goes on, or, when the body (and its trailer) ended, the number of input
 * bytes that followed it (a client that does not pipeline expects 0), or
 * HTTP_PARSE_INVALID: a chunk size of 2^63 or more, a line not ended by
 * CR LF (a bare CR or LF anywhere), control bytes in an extension, a
 * trailer line that is no field line, a size or trailer line longer than
 * HTTP_CHUNK_LINE_MAX, or a trailer section longer than HTTP_MAX_HEAD.
 * Body bytes decoded before an INVALID input are in buf and *len. */
ssize_t http_chunked_decode(struct http_chunked *c, char *buf, size_t *len);

/* Data bytes of the current chunk still to come when c is inside a
 * chunk's data (a caller may move them past the decoder, straight from
 * the stream, and say so with http_chunked_skip); 0 otherwise. */
uint64_t http_chunked_data_left(const struct http_chunked *c);

/* n bytes (at most http_chunked_data_left) of the current chunk's data
 * were moved past the decoder: the decoder goes on after them. */
void http_chunked_skip(struct http_chunked *c, uint64_t n);

/* The value (without surrounding white space) of the first trailer field
 * called name (ASCII case ignored) of a body c has decoded to its end, or
 * p == NULL: none, the body is not over, or the field lies beyond the
 * first HTTP_CHUNK_TRAILER_KEEP bytes of the trailer section. The value
 * points into c. */
struct http_str http_chunked_trailer(const struct http_chunked *c, const char *name);

/* The reason phrase for a status code ("Not Found"); "Unknown" otherwise. */
const char *http_reason(int status);

#endif
