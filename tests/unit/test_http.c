/* Unit tests for proto/http: the request parser at every truncation point and
 * against a guard page, malformed heads, the framing rules of http_analyse,
 * the head overflow status and request target paths. */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#include "proto/http.h"

/* ---- helpers ------------------------------------------------------------ */

/* Fails unless got holds exactly want and lies within buf[0..len). */
static void check_str(const char *row, const char *what, struct http_str got, const char *want,
                      const char *buf, size_t len)
{
    size_t wl = strlen(want);

    if (got.len != wl || (wl > 0 && memcmp(got.p, want, wl) != 0))
        fail_msg("%s: %s is \"%.*s\" (%zu bytes), want \"%s\"", row, what, (int)got.len,
                 got.len > 0 ? got.p : "", got.len, want);
    if (got.len > 0 && (got.p < buf || got.p + got.len > buf + len))
        fail_msg("%s: %s does not point into the input", row, what);
}

/* Parses text, which must be one complete valid head, into *req. */
static void parse_ok(const char *row, const char *text, struct http_request *req)
{
    int status = 0;
    ssize_t rc = http_parse_request(text, strlen(text), req, &status);

    if (rc != (ssize_t)strlen(text))
        fail_msg("%s: parse returned %zd (status %d), want %zu", row, rc, status, strlen(text));
}

/* Appends n header lines "X-Nk: v" to out (size outsz) after the text there. */
static size_t add_headers(char *out, size_t outsz, size_t used, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        int w = snprintf(out + used, outsz - used, "X-N%zu: v\r\n", k);
        assert_true(w > 0 && (size_t)w < outsz - used);
        used += (size_t)w;
    }
    return used;
}

/* ---- valid requests ----------------------------------------------------- */

struct valid_case {
    const char *name;
    const char *in;
    size_t len;   /* 0: strlen(in) */
    size_t after; /* bytes of in after the head (a body, the next request) */
    enum http_method method;
    const char *method_str, *target;
    int minor;
    size_t nheaders;
    const char *h[8][2];
};

/* clang-format off */
static const struct valid_case valid_cases[] = {
    {"GET HTTP/1.1 with Host",
     "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", 0, 0,
     HTTP_GET, "GET", "/", 1, 1, {{"Host", "example.com"}}},
    {"HEAD HTTP/1.0 without headers",
     "HEAD /x/y.txt HTTP/1.0\r\n\r\n", 0, 0,
     HTTP_HEAD, "HEAD", "/x/y.txt", 0, 0, {{NULL, NULL}}},
    {"GET HTTP/1.0 with query",
     "GET /a?b=c&d=e HTTP/1.0\r\nUser-Agent: t/1\r\n\r\n", 0, 0,
     HTTP_GET, "GET", "/a?b=c&d=e", 0, 1, {{"User-Agent", "t/1"}}},
    {"absolute-form target",
     "GET http://example.com:8080/a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", 0, 0,
     HTTP_GET, "GET", "http://example.com:8080/a/b?c=d", 1, 1, {{"Host", "example.com:8080"}}},
    {"header values with optional white space",
     "GET / HTTP/1.1\r\nHost:example.com\r\nX-A:   spaced  value \t \r\nX-B:\t\ttab\r\n"
     "X-Empty:\r\nX-Blank: \t \r\n\r\n", 0, 0,
     HTTP_GET, "GET", "/", 1, 5,
     {{"Host", "example.com"}, {"X-A", "spaced  value"}, {"X-B", "tab"}, {"X-Empty", ""},
      {"X-Blank", ""}}},
    {"tab inside a value and around it",
     "GET / HTTP/1.1\r\nHost: a\r\nX:\ta\tb\t\r\n\r\n", 0, 0,
     HTTP_GET, "GET", "/", 1, 2, {{"Host", "a"}, {"X", "a\tb"}}},
    {"chunked PUT head",
     "PUT /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", 0, 10,
     HTTP_PUT, "PUT", "/f", 1, 2, {{"Host", "a"}, {"Transfer-Encoding", "chunked"}}},
    {"leading CRLF lines",
     "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 0,
     HTTP_GET, "GET", "/", 1, 1, {{"Host", "a"}}},
    {"head followed by a body",
     "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", 0, 5,
     HTTP_POST, "POST", "/up", 1, 2, {{"Host", "a"}, {"Content-Length", "5"}}},
    {"pipelined second request",
     "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n", 0, 28,
     HTTP_GET, "GET", "/1", 1, 1, {{"Host", "a"}}},
    {"unknown method",
     "BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n", 0, 0,
     HTTP_OTHER, "BREW", "/pot", 1, 1, {{"Host", "a"}}},
    {"lower-case method is another method",
     "get / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 0,
     HTTP_OTHER, "get", "/", 1, 1, {{"Host", "a"}}},
    {"every tchar in a header name",
     "GET / HTTP/1.1\r\nHost: a\r\nX!#$%&'*+-.^_`|~9: v\r\n\r\n", 0, 0,
     HTTP_GET, "GET", "/", 1, 2, {{"Host", "a"}, {"X!#$%&'*+-.^_`|~9", "v"}}},
    {"colon and obs-text in a value",
     "GET / HTTP/1.1\r\nHost: a:80\r\nX: caf\xc3\xa9 \"q\"\r\n\r\n", 0, 0,
     HTTP_GET, "GET", "/", 1, 2, {{"Host", "a:80"}, {"X", "caf\xc3\xa9 \"q\""}}},
    {"OPTIONS asterisk",
     "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 0, 0,
     HTTP_OPTIONS, "OPTIONS", "*", 1, 1, {{"Host", "a"}}},
};
/* clang-format on */

static void check_request(const struct valid_case *c, const char *buf, size_t len,
                          const struct http_request *req)
{
    if (req->method != c->method)
        fail_msg("%s: method %d, want %d", c->name, (int)req->method, (int)c->method);
    check_str(c->name, "method", req->method_str, c->method_str, buf, len);
    check_str(c->name, "target", req->target, c->target, buf, len);
    if (req->minor != c->minor)
        fail_msg("%s: minor %d, want %d", c->name, req->minor, c->minor);
    if (req->nheaders != c->nheaders)
        fail_msg("%s: %zu headers, want %zu", c->name, req->nheaders, c->nheaders);
    for (size_t i = 0; i < c->nheaders; i++) {
        check_str(c->name, "header name", req->headers[i].name, c->h[i][0], buf, len);
        check_str(c->name, "header value", req->headers[i].value, c->h[i][1], buf, len);
    }
}

/* Every proper prefix of the head needs more bytes; the head itself, and
 * any longer prefix of the input, parses to the head's exact length. */
static void test_valid(void **state)
{
    const struct valid_case *c = *state;
    size_t len = c->len ? c->len : strlen(c->in);
    size_t head = len - c->after;
    struct http_request req;
    struct guard g;

    assert_true(c->after < len);
    guard_open(&g, len);
    for (size_t k = 0; k <= len; k++) {
        const char *p = guard_put(&g, c->in, k);
        int status = -1;
        ssize_t rc = http_parse_request(p, k, &req, &status);
        ssize_t want = k < head ? HTTP_PARSE_INCOMPLETE : (ssize_t)head;

        if (rc != want)
            fail_msg("%s: %zu of %zu bytes gave %zd (status %d), want %zd", c->name, k, len, rc,
                     status, want);
        if (rc > 0)
            check_request(c, p, k, &req);
    }
    guard_close(&g);
}

/* Exactly HTTP_MAX_HEADERS headers are fine, at every truncation too. */
static void test_max_headers_ok(void **state)
{
    static char in[4096];
    size_t len = (size_t)snprintf(in, sizeof in, "GET / HTTP/1.1\r\nHost: a\r\n");
    struct http_request req;
    struct guard g;

    len = add_headers(in, sizeof in, len, HTTP_MAX_HEADERS - 1);
    len += (size_t)snprintf(in + len, sizeof in - len, "\r\n");
    guard_open(&g, len);
    for (size_t k = 0; k <= len; k++) {
        int status = 0;
        ssize_t rc = http_parse_request(guard_put(&g, in, k), k, &req, &status);
        if (rc != (k < len ? HTTP_PARSE_INCOMPLETE : (ssize_t)len))
            fail_msg("%zu of %zu bytes gave %zd (status %d)", k, len, rc, status);
    }
    assert_int_equal(req.nheaders, HTTP_MAX_HEADERS);
    assert_int_equal(req.headers[HTTP_MAX_HEADERS - 1].name.len, strlen("X-N98"));
    assert_memory_equal(req.headers[HTTP_MAX_HEADERS - 1].name.p, "X-N98", 5);
    guard_close(&g);
}

/* ---- malformed requests ------------------------------------------------- */

/* A string literal that holds a NUL, and its length. */
#define WITH_NUL(s) s, sizeof(s) - 1

struct bad_case {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen(in) */
    int status;
};

/* clang-format off */
static const struct bad_case bad_cases[] = {
    {"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 0, 400},
    {"tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 0, 400},
    {"obs-fold with spaces", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n  folded\r\n\r\n", 0, 400},
    {"obs-fold with a tab", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n\tfolded\r\n\r\n", 0, 400},
    {"white space before the first header", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 0, 400},
    {"NUL in a header value", WITH_NUL("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"), 400},
    {"lone CR inside a header value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 0, 400},
    {"lone CR ending a header value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n", 0, 400},
    {"control byte in a header value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\r\n\r\n", 0, 400},
    {"DEL in a header value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fz\r\n\r\n", 0, 400},
    {"NUL in a header name", WITH_NUL("GET / HTTP/1.1\r\nHo\0st: a\r\n\r\n"), 400},
    {"header without colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", 0, 400},
    {"empty header name", "GET / HTTP/1.1\r\n: a\r\n\r\n", 0, 400},
    {"non-token byte in a header name", "GET / HTTP/1.1\r\nX(a): b\r\n\r\n", 0, 400},
    {"missing version", "GET /\r\n\r\n", 0, 400},
    {"missing target and version", "GET\r\n\r\n", 0, 400},
    {"missing target", "GET HTTP/1.1\r\n\r\n", 0, 400},
    {"fragment in the target", "DELETE /dir/#frag HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400},
    {"fragment in the query", "GET /a?b#c HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400},
    {"HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", 0, 505},
    {"HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 0, 505},
    {"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 0, 505},
    {"HTTP/3.1", "GET / HTTP/3.1\r\n\r\n", 0, 505},
    {"garbage version", "GET / HTTP/x.y\r\n\r\n", 0, 400},
    {"version without dot", "GET / HTTP/11\r\n\r\n", 0, 400},
    {"version with two minor digits", "GET / HTTP/1.10\r\n\r\n", 0, 400},
    {"lower-case protocol name", "GET / http/1.1\r\n\r\n", 0, 400},
    {"other protocol name", "GET / HTTQ/1.1\r\n\r\n", 0, 400},
    {"empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400},
    {"two spaces after the method", "GET  / HTTP/1.1\r\n\r\n", 0, 400},
    {"space after the version", "GET / HTTP/1.1 \r\n\r\n", 0, 400},
    {"tab between method and target", "GET\t/ HTTP/1.1\r\n\r\n", 0, 400},
    {"control byte in the target", "GET /a\x01z HTTP/1.1\r\n\r\n", 0, 400},
    {"non-token byte in the method", "GE(T / HTTP/1.1\r\n\r\n", 0, 400},
    {"lone CR before the request line", "\rGET / HTTP/1.1\r\n\r\n", 0, 400},
    {"lone CR ends the request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", 0, 400},

    /* Issue 8, defect 2: the obfuscated forms of a header line, each a way
     * to make two parsers disagree about Transfer-Encoding. */
    {"framing: bare LF ends the request line", "PUT /f HTTP/1.1\nHost: a\r\n\r\n", 0, 400},
    {"framing: bare LF ends a header line",
     "PUT /f HTTP/1.1\r\nHost: a\nTransfer-Encoding: chunked\r\n\r\n", 0, 400},
    {"framing: bare LF ends Transfer-Encoding",
     "PUT /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\n\r\n", 0, 400},
    {"framing: bare LF ends the head", "PUT /f HTTP/1.1\r\nHost: a\r\n\n", 0, 400},
    {"framing: bare LF lines before the request line", "\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0,
     400},
    {"framing: bare LF after CR LF before the request line", "\r\n\nGET / HTTP/1.1\r\n\r\n", 0,
     400},
    {"framing: all lines end in bare LF", "GET /lf HTTP/1.1\nHost: a\nAccept: */*\n\n", 0, 400},
    {"framing: bare CR after chunked",
     "PUT /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\r\n\r\n", 0, 400},
    {"framing: bare CR between chunked and another field",
     "PUT /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\rX: y\r\n\r\n", 0, 400},
    {"framing: bare CR before chunked",
     "PUT /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\rchunked\r\n\r\n", 0, 400},
    {"framing: bare CR in a header name",
     "PUT /f HTTP/1.1\r\nHost: a\r\nTransfer\r-Encoding: chunked\r\n\r\n", 0, 400},
    {"framing: CR CR LF ends the head", "PUT /f HTTP/1.1\r\nHost: a\r\n\r\r\n", 0, 400},
    {"framing: leading space on the first header line",
     "PUT /f HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: a\r\n\r\n", 0, 400},
    {"framing: leading tab on the first header line",
     "PUT /f HTTP/1.1\r\n\tTransfer-Encoding: chunked\r\nHost: a\r\n\r\n", 0, 400},
    {"framing: space before the colon of Transfer-Encoding",
     "PUT /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", 0, 400},
    {"framing: tab before the colon of Transfer-Encoding",
     "PUT /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\t: chunked\r\n\r\n", 0, 400},
    {"framing: obs-fold continuing Transfer-Encoding",
     "PUT /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip,\r\n chunked\r\n\r\n", 0, 400},
    {"framing: Transfer-Encoding folded under another field",
     "PUT /f HTTP/1.1\r\nHost: a\r\nX: y\r\n\tTransfer-Encoding: chunked\r\n\r\n", 0, 400},
    {"framing: NUL in Transfer-Encoding's value",
     WITH_NUL("PUT /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\0\r\n\r\n"), 400},
    {"framing: NUL in Transfer-Encoding's name",
     WITH_NUL("PUT /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding\0: chunked\r\n\r\n"), 400},
    {"framing: NUL at the start of a header line",
     WITH_NUL("PUT /f HTTP/1.1\r\nHost: a\r\n\0Transfer-Encoding: chunked\r\n\r\n"), 400},
    {"framing: vertical tab in a value",
     "PUT /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\x0b" "chunked\r\n\r\n", 0, 400},
    {"framing: form feed in a value",
     "PUT /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\x0c\r\n\r\n", 0, 400},
    {"framing: escape byte in a value", "GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[2J\r\n\r\n", 0, 400},
    {"framing: tab in a header name", "GET / HTTP/1.1\r\nHost: a\r\nX\tY: z\r\n\r\n", 0, 400},
    {"framing: control byte in a header name", "GET / HTTP/1.1\r\nHost: a\r\nX\x01: z\r\n\r\n", 0,
     400},
    {"framing: DEL in a header name", "GET / HTTP/1.1\r\nHost: a\r\nX\x7f: z\r\n\r\n", 0, 400},
    {"framing: obs-text in a header name", "GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: z\r\n\r\n", 0,
     400},
    {"framing: empty header name before chunked",
     "PUT /f HTTP/1.1\r\nHost: a\r\n: chunked\r\n\r\n", 0, 400},
    {"framing: a colon alone", "PUT /f HTTP/1.1\r\nHost: a\r\n:\r\n\r\n", 0, 400},
};
/* clang-format on */

/* The whole input is refused with the expected status; no prefix is taken
 * as a complete head, and a prefix is refused only with that status. */
static void test_bad(void **state)
{
    const struct bad_case *c = *state;
    size_t len = c->len ? c->len : strlen(c->in);
    struct http_request req;
    struct guard g;

    guard_open(&g, len);
    for (size_t k = 0; k <= len; k++) {
        int status = 0;
        ssize_t rc = http_parse_request(guard_put(&g, c->in, k), k, &req, &status);
        if (k == len && rc != HTTP_PARSE_INVALID)
            fail_msg("%s: gave %zd, want INVALID", c->name, rc);
        if (rc != HTTP_PARSE_INCOMPLETE && (rc != HTTP_PARSE_INVALID || status != c->status))
            fail_msg("%s: %zu of %zu bytes gave %zd with status %d, want %d", c->name, k, len, rc,
                     status, c->status);
    }
    guard_close(&g);
}

static void test_too_many_headers(void **state)
{
    static char in[4096];
    size_t len = (size_t)snprintf(in, sizeof in, "GET / HTTP/1.1\r\nHost: a\r\n");
    struct http_request req;
    int status = 0;
    struct guard g;

    len = add_headers(in, sizeof in, len, HTTP_MAX_HEADERS);
    len += (size_t)snprintf(in + len, sizeof in - len, "\r\n");
    guard_open(&g, len);
    assert_int_equal(http_parse_request(guard_put(&g, in, len), len, &req, &status),
                     HTTP_PARSE_INVALID);
    assert_int_equal(status, 431);
    guard_close(&g);
}

/* ---- head overflow ------------------------------------------------------ */

struct overflow_case {
    const char *name;
    const char *start; /* then 'a' up to HTTP_MAX_HEAD bytes */
    int status;
};

static const struct overflow_case overflow_cases[] = {
    {"overflow in the target is 414", "GET /", 414},
    {"overflow in the method is 414", "GETGET", 414},
    {"overflow after leading empty lines is 414", "\r\n\r\n\nGET /", 414},
    {"overflow in a header is 431", "GET / HTTP/1.1\r\nHost: a\r\nX: ", 431},
    {"overflow right after the request line is 431", "GET / HTTP/1.1\r\n", 431},
};

static void test_overflow(void **state)
{
    const struct overflow_case *c = *state;
    static char in[HTTP_MAX_HEAD];
    size_t sl = strlen(c->start);
    struct guard g;

    memcpy(in, c->start, sl);
    memset(in + sl, 'a', sizeof in - sl);
    guard_open(&g, sizeof in);
    int got = http_head_overflow_status(guard_put(&g, in, sizeof in), sizeof in);
    if (got != c->status)
        fail_msg("%s: got %d", c->name, got);
    guard_close(&g);
}

/* ---- http_analyse ------------------------------------------------------- */

struct analyse_case {
    const char *name;
    const char *in;
    int status; /* 0 or what http_analyse must answer */
    int64_t content_length;
    bool chunked, keep_alive, expect_continue;
};

#define H11 "GET / HTTP/1.1\r\nHost: a\r\n"
#define P11 "POST / HTTP/1.1\r\nHost: a\r\n"
#define H10 "GET / HTTP/1.0\r\n"
#define P10 "POST / HTTP/1.0\r\n"

/* clang-format off */
static const struct analyse_case analyse_cases[] = {
    {"no body", H11 "\r\n", 0, -1, false, true, false},
    {"Content-Length", P11 "Content-Length: 42\r\n\r\n", 0, 42, false, true, false},
    {"Content-Length zero", P11 "Content-Length: 0\r\n\r\n", 0, 0, false, true, false},
    {"Content-Length with leading zeros", P11 "Content-Length: 007\r\n\r\n", 0, 7, false, true,
     false},
    {"Content-Length INT64_MAX", P11 "Content-Length: 9223372036854775807\r\n\r\n", 0, INT64_MAX,
     false, true, false},
    {"Content-Length name in another case", P11 "content-LENGTH: 3\r\n\r\n", 0, 3, false, true,
     false},
    {"Content-Length and Transfer-Encoding",
     P11 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400, 0, false, false, false},
    {"Transfer-Encoding and Content-Length",
     P11 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400, 0, false, false, false},
    {"duplicate Content-Length with equal values",
     P11 "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", 400, 0, false, false, false},
    {"duplicate Content-Length with different values",
     P11 "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400, 0, false, false, false},
    {"empty Content-Length", P11 "Content-Length:\r\n\r\n", 400, 0, false, false, false},
    {"negative Content-Length", P11 "Content-Length: -1\r\n\r\n", 400, 0, false, false, false},
    {"Content-Length with plus sign", P11 "Content-Length: +1\r\n\r\n", 400, 0, false, false,
     false},
    {"Content-Length with inner space", P11 "Content-Length: 1 2\r\n\r\n", 400, 0, false, false,
     false},
    {"Content-Length list", P11 "Content-Length: 5, 5\r\n\r\n", 400, 0, false, false, false},
    {"hexadecimal Content-Length", P11 "Content-Length: 0x10\r\n\r\n", 400, 0, false, false, false},
    {"Content-Length of 20 digits", P11 "Content-Length: 99999999999999999999\r\n\r\n", 400, 0,
     false, false, false},
    {"Content-Length INT64_MAX + 1", P11 "Content-Length: 9223372036854775808\r\n\r\n", 400, 0,
     false, false, false},
    {"chunked", P11 "Transfer-Encoding: chunked\r\n\r\n", 0, -1, true, true, false},
    {"chunked in another case", P11 "transfer-encoding: Chunked\r\n\r\n", 0, -1, true, true, false},
    {"chunked with white space around it", P11 "Transfer-Encoding:  \tchunked \r\n\r\n", 0, -1, true,
     true, false},

    /* Issue 8, defect 2: Transfer-Encoding that is not exactly one final
     * chunked. A coding we do not implement is 501, a list we cannot
     * trust is 400. */
    {"TE: gzip then chunked is 501", P11 "Transfer-Encoding: gzip, chunked\r\n\r\n", 501, 0, false,
     false, false},
    {"TE: identity then chunked is 501", P11 "Transfer-Encoding: identity, chunked\r\n\r\n", 501, 0,
     false, false, false},
    {"TE: x-foo then chunked is 501", P11 "Transfer-Encoding: x-foo,chunked\r\n\r\n", 501, 0, false,
     false, false},
    {"TE: a coding with a parameter then chunked is 501",
     P11 "Transfer-Encoding: x-foo;a=\"b\" , chunked\r\n\r\n", 501, 0, false, false, false},
    {"TE: identity alone is 400", P11 "Transfer-Encoding: identity\r\n\r\n", 400, 0, false, false,
     false},
    {"TE: x-foo alone is 400", P11 "Transfer-Encoding: x-foo\r\n\r\n", 400, 0, false, false, false},
    {"TE: two fields", P11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
     0, false, false, false},
    {"TE: two fields gzip then chunked",
     P11 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 400, 0, false, false,
     false},
    {"TE: two fields, the first empty", P11 "Transfer-Encoding:\r\nTransfer-Encoding: chunked\r\n\r\n",
     400, 0, false, false, false},
    {"TE: chunked, chunked", P11 "Transfer-Encoding: chunked, chunked\r\n\r\n", 400, 0, false, false,
     false},
    {"TE: chunked, Chunked", P11 "Transfer-Encoding: chunked,Chunked\r\n\r\n", 400, 0, false, false,
     false},
    {"TE: gzip, gzip, chunked", P11 "Transfer-Encoding: gzip, gzip, chunked\r\n\r\n", 400, 0, false,
     false, false},
    {"TE: chunked in HTTP/1.0", P10 "Transfer-Encoding: chunked\r\n\r\n", 400, 0, false, false,
     false},
    {"TE: chunked in HTTP/1.0 with Content-Length",
     P10 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400, 0, false, false, false},
    {"TE: gzip, chunked in HTTP/1.0 is 400, not 501", P10 "Transfer-Encoding: gzip, chunked\r\n\r\n",
     400, 0, false, false, false},
    {"TE: gzip, chunked with Content-Length is 400, not 501",
     P11 "Transfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n\r\n", 400, 0, false, false,
     false},
    {"TE: chunked with a parameter", P11 "Transfer-Encoding: chunked;q=1\r\n\r\n", 400, 0, false,
     false, false},
    {"TE: chunked with white space and a parameter", P11 "Transfer-Encoding: chunked ; x\r\n\r\n",
     400, 0, false, false, false},
    {"TE: empty element before chunked", P11 "Transfer-Encoding: , chunked\r\n\r\n", 400, 0, false,
     false, false},
    {"TE: empty element after chunked", P11 "Transfer-Encoding: chunked,\r\n\r\n", 400, 0, false,
     false, false},
    {"TE: chunked then white space and a comma", P11 "Transfer-Encoding: chunked ,\r\n\r\n", 400, 0,
     false, false, false},
    {"TE: two codings without a comma", P11 "Transfer-Encoding: gzip chunked\r\n\r\n", 400, 0, false,
     false, false},
    {"TE: a quoted coding", P11 "Transfer-Encoding: \"chunked\"\r\n\r\n", 400, 0, false, false,
     false},
    {"TE: nine codings", P11 "Transfer-Encoding: a, b, c, d, e, f, g, h, chunked\r\n\r\n", 400, 0,
     false, false, false},
    {"TE: eight codings is 501", P11 "Transfer-Encoding: a, b, c, d, e, f, g, chunked\r\n\r\n", 501,
     0, false, false, false},
    {"Transfer-Encoding gzip", P11 "Transfer-Encoding: gzip\r\n\r\n", 400, 0, false, false, false},
    {"Transfer-Encoding chunked then gzip", P11 "Transfer-Encoding: chunked, gzip\r\n\r\n", 400, 0,
     false, false, false},
    {"Transfer-Encoding lines chunked then gzip",
     P11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400, 0, false, false,
     false},
    {"Transfer-Encoding xchunked", P11 "Transfer-Encoding: xchunked\r\n\r\n", 400, 0, false, false,
     false},
    {"Transfer-Encoding chunkedx", P11 "Transfer-Encoding: chunkedx\r\n\r\n", 400, 0, false, false,
     false},
    {"empty Transfer-Encoding", P11 "Transfer-Encoding:\r\n\r\n", 400, 0, false, false, false},
    {"HTTP/1.1 without Host", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400, 0, false, false, false},
    {"HTTP/1.1 with two Host", H11 "Host: b\r\n\r\n", 400, 0, false, false, false},
    {"HTTP/1.0 with two Host", H10 "Host: a\r\nHost: a\r\n\r\n", 400, 0, false, false, false},
    {"HTTP/1.0 without Host", H10 "\r\n", 0, -1, false, false, false},
    {"Host name in another case", "GET / HTTP/1.1\r\nhOST: a\r\n\r\n", 0, -1, false, true, false},
    {"HTTP/1.1 keep-alive by default", H11 "\r\n", 0, -1, false, true, false},
    {"HTTP/1.1 Connection: close", H11 "Connection: close\r\n\r\n", 0, -1, false, false, false},
    {"HTTP/1.1 Connection: Close", H11 "Connection: Close\r\n\r\n", 0, -1, false, false, false},
    {"HTTP/1.1 Connection: foo, Close", H11 "Connection: foo, Close\r\n\r\n", 0, -1, false, false,
     false},
    {"HTTP/1.1 Connection: keep-alive, close", H11 "Connection: keep-alive,close\r\n\r\n", 0, -1,
     false, false, false},
    {"HTTP/1.1 close on a second Connection line",
     H11 "Connection: keep-alive\r\nConnection: close\r\n\r\n", 0, -1, false, false, false},
    {"HTTP/1.1 Connection: closed is not close", H11 "Connection: closed\r\n\r\n", 0, -1, false,
     true, false},
    {"HTTP/1.1 Connection: upgrade", H11 "Connection: Upgrade\r\n\r\n", 0, -1, false, true, false},
    {"HTTP/1.0 closes by default", H10 "\r\n", 0, -1, false, false, false},
    {"HTTP/1.0 Connection: keep-alive", H10 "Connection: keep-alive\r\n\r\n", 0, -1, false, true,
     false},
    {"HTTP/1.0 Connection: Keep-Alive", H10 "Connection: Keep-Alive\r\n\r\n", 0, -1, false, true,
     false},
    {"HTTP/1.0 keep-alive in a token list", H10 "Connection: foo,  keep-alive ,bar\r\n\r\n", 0, -1,
     false, true, false},
    {"HTTP/1.0 keep-alive and close", H10 "Connection: keep-alive, close\r\n\r\n", 0, -1, false,
     false, false},
    {"HTTP/1.0 Connection: keep-alives is not keep-alive", H10 "Connection: keep-alives\r\n\r\n", 0,
     -1, false, false, false},
    {"Expect: 100-continue", P11 "Expect: 100-continue\r\nContent-Length: 1\r\n\r\n", 0, 1, false,
     true, true},
    {"Expect: 100-Continue", P11 "Expect: 100-Continue\r\nContent-Length: 1\r\n\r\n", 0, 1, false,
     true, true},
    {"Expect: something else", P11 "Expect: 200-ok\r\nContent-Length: 1\r\n\r\n", 0, 1, false, true,
     false},
};
/* clang-format on */

static void test_analyse(void **state)
{
    const struct analyse_case *c = *state;
    struct http_request req;
    struct http_info info;

    parse_ok(c->name, c->in, &req);
    int got = http_analyse(&req, &info);
    if (got != c->status)
        fail_msg("%s: http_analyse gave %d, want %d", c->name, got, c->status);
    if (got != 0)
        return;
    if (info.content_length != c->content_length)
        fail_msg("%s: content_length %lld, want %lld", c->name, (long long)info.content_length,
                 (long long)c->content_length);
    if (info.chunked != c->chunked)
        fail_msg("%s: chunked %d, want %d", c->name, info.chunked, c->chunked);
    if (info.keep_alive != c->keep_alive)
        fail_msg("%s: keep_alive %d, want %d", c->name, info.keep_alive, c->keep_alive);
    if (info.expect_continue != c->expect_continue)
        fail_msg("%s: expect_continue %d, want %d", c->name, info.expect_continue,
                 c->expect_continue);
}

/* te_present says whether the field was there, whatever else holds. */
static void test_analyse_te_present(void **state)
{
    static const char *const with[] = {P11 "Transfer-Encoding: chunked\r\n\r\n"};
    static const char *const without[] = {P11 "Content-Length: 3\r\n\r\n", H11 "\r\n"};
    struct http_request req;
    struct http_info info;

    for (size_t i = 0; i < ARRAY_LEN(with); i++) {
        parse_ok("te_present", with[i], &req);
        assert_int_equal(http_analyse(&req, &info), 0);
        assert_true(info.te_present);
    }
    for (size_t i = 0; i < ARRAY_LEN(without); i++) {
        parse_ok("te_present", without[i], &req);
        assert_int_equal(http_analyse(&req, &info), 0);
        assert_false(info.te_present);
    }
}

/* The conditional and range headers come back pointing into the input. */
static void test_analyse_fields(void **state)
{
    static const char in[] = "GET /f HTTP/1.1\r\nHost: example.com:81\r\n"
                             "If-None-Match: \"abc\"\r\n"
                             "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                             "Range: bytes=0-1\r\nIf-Range: \"abc\"\r\n\r\n";
    struct http_request req;
    struct http_info info;

    parse_ok("fields", in, &req);
    assert_int_equal(http_analyse(&req, &info), 0);
    check_str("fields", "host", info.host, "example.com:81", in, sizeof in - 1);
    check_str("fields", "if_none_match", info.if_none_match, "\"abc\"", in, sizeof in - 1);
    check_str("fields", "if_modified_since", info.if_modified_since,
              "Sun, 06 Nov 1994 08:49:37 GMT", in, sizeof in - 1);
    check_str("fields", "range", info.range, "bytes=0-1", in, sizeof in - 1);
    check_str("fields", "if_range", info.if_range, "\"abc\"", in, sizeof in - 1);
}

/* ---- http_list_has ------------------------------------------------------ */

struct list_case {
    const char *name;
    const char *list, *token;
    bool want;
};

static const struct list_case list_cases[] = {
    {"list: single token", "close", "close", true},
    {"list: case ignored", "CLOSE", "close", true},
    {"list: last of several", "foo, bar ,Close", "close", true},
    {"list: first of several", "close,foo", "close", true},
    {"list: empty elements", ",, ,close,,", "close", true},
    {"list: tabs around", "\tclose\t", "close", true},
    {"list: longer token", "closed", "close", false},
    {"list: shorter token", "clos", "close", false},
    {"list: token inside another", "foo-close-bar", "close", false},
    {"list: empty list", "", "close", false},
    {"list: inner space is part of the token", "clo se", "close", false},
};

static void test_list(void **state)
{
    const struct list_case *c = *state;
    struct http_str v = {c->list, strlen(c->list)};

    if (http_list_has(v, c->token) != c->want)
        fail_msg("%s: want %d", c->name, c->want);
}

/* ---- http_target_path --------------------------------------------------- */

struct target_case {
    const char *name;
    const char *target;
    bool ok;
    const char *path;
};

static const struct target_case target_cases[] = {
    {"target: origin form", "/a/b?c=d", true, "/a/b?c=d"},
    {"target: root", "/", true, "/"},
    {"target: absolute form", "http://example.com/a/b?c=d", true, "/a/b?c=d"},
    {"target: absolute form with port and upper-case scheme", "HTTP://Example.com:8080/x", true,
     "/x"},
    {"target: https absolute form", "https://example.com/s/", true, "/s/"},
    {"target: absolute form without path", "http://example.com", true, "/"},
    {"target: asterisk", "*", false, NULL},
    {"target: authority form", "example.com:443", false, NULL},
    {"target: empty", "", false, NULL},
    {"target: other scheme", "ftp://example.com/x", false, NULL},
    {"target: relative path", "a/b", false, NULL},
    {"target: scheme alone", "http:/", false, NULL},
};

static void test_target(void **state)
{
    const struct target_case *c = *state;
    struct http_str t = {c->target, strlen(c->target)}, path = {NULL, 0};
    bool ok = http_target_path(t, &path);

    if (ok != c->ok)
        fail_msg("%s: returned %d, want %d", c->name, ok, c->ok);
    /* The path may be a constant "/" rather than a part of the target. */
    if (ok)
        check_str(c->name, "path", path, c->path, path.p, path.len);
}

/* The authority ends at "?" as well as at "/" (RFC 3986 section 3.2): a
 * slash inside the query is not the start of the path. */
static void test_target_query_without_path(void **state)
{
    static const char target[] = "http://example.com?next=/secret/x";
    struct http_str path = {NULL, 0};

    assert_true(http_target_path((struct http_str){target, sizeof target - 1}, &path));
    assert_true(path.len >= 1 && path.p[0] == '/');
    const char *q = memchr(path.p, '?', path.len);
    size_t plen = q != NULL ? (size_t)(q - path.p) : path.len;
    if (plen != 1)
        fail_msg("path of \"%s\" is \"%.*s\", want \"/\" (and the query)", target, (int)path.len,
                 path.p);
}

/* ---- http_method_parse -------------------------------------------------- */

struct method_case {
    const char *name;
    const char *s;
    enum http_method m;
};

static const struct method_case method_cases[] = {
    {"method GET", "GET", HTTP_GET},
    {"method HEAD", "HEAD", HTTP_HEAD},
    {"method POST", "POST", HTTP_POST},
    {"method PUT", "PUT", HTTP_PUT},
    {"method DELETE", "DELETE", HTTP_DELETE},
    {"method OPTIONS", "OPTIONS", HTTP_OPTIONS},
    {"method PATCH", "PATCH", HTTP_PATCH},
    {"method TRACE", "TRACE", HTTP_TRACE},
    {"method CONNECT", "CONNECT", HTTP_CONNECT},
    {"method MKCOL", "MKCOL", HTTP_MKCOL},
    {"method PROPFIND", "PROPFIND", HTTP_PROPFIND},
    {"method PROPPATCH", "PROPPATCH", HTTP_PROPPATCH},
    {"method COPY", "COPY", HTTP_COPY},
    {"method MOVE", "MOVE", HTTP_MOVE},
    {"method LOCK", "LOCK", HTTP_LOCK},
    {"method UNLOCK", "UNLOCK", HTTP_UNLOCK},
    {"method LOCKS", "LOCKS", HTTP_OTHER},
    {"method get is not GET", "get", HTTP_OTHER},
    {"method GETS", "GETS", HTTP_OTHER},
    {"method GE", "GE", HTTP_OTHER},
    {"method empty", "", HTTP_OTHER},
};

static void test_method(void **state)
{
    const struct method_case *c = *state;
    struct guard g;

    guard_open(&g, 16);
    enum http_method m = http_method_parse(guard_put(&g, c->s, strlen(c->s)), strlen(c->s));
    if (m != c->m)
        fail_msg("%s: got %d, want %d", c->name, (int)m, (int)c->m);
    guard_close(&g);
}

/* ---- one set of field-line rules for requests and responses -------------- */

struct fields_case {
    const char *name;
    const char *fields; /* the head after its start line */
    size_t len;         /* 0: strlen(fields) */
    bool response_ok;   /* a bare LF: responses may end lines with it */
};

/* clang-format off */
static const struct fields_case fields_cases[] = {
    {"same rules: bare CR in a value", "X: a\rb\r\n\r\n", 0, false},
    {"same rules: bare CR ends a value", "Transfer-Encoding: chunked\r\r\n\r\n", 0, false},
    {"same rules: CR CR LF ends the head", "X: a\r\n\r\r\n", 0, false},
    {"same rules: obs-fold with a space", "X: a\r\n b\r\n\r\n", 0, false},
    {"same rules: obs-fold with a tab", "X: a\r\n\tb\r\n\r\n", 0, false},
    {"same rules: white space before the first field", " X: a\r\n\r\n", 0, false},
    {"same rules: space before the colon", "X : a\r\n\r\n", 0, false},
    {"same rules: tab before the colon", "X\t: a\r\n\r\n", 0, false},
    {"same rules: empty name", ": a\r\n\r\n", 0, false},
    {"same rules: no colon", "Xa\r\n\r\n", 0, false},
    {"same rules: NUL in a name", WITH_NUL("X\0: a\r\n\r\n"), false},
    {"same rules: NUL in a value", WITH_NUL("X: a\0\r\n\r\n"), false},
    {"same rules: control byte in a value", "X: a\x1f\r\n\r\n", 0, false},
    {"same rules: DEL in a value", "X: a\x7f\r\n\r\n", 0, false},
    {"same rules: bare LF ends a field", "X: a\n\r\n", 0, true},
    {"same rules: bare LF ends the head", "X: a\r\n\n", 0, true},
};
/* clang-format on */

/* Each block of field lines behind a request line and behind a status
 * line, at every truncation against a guard page: the request parser and
 * the response parser refuse the same things (bare LF aside), because
 * they share parse_header_block. */
static void test_fields(void **state)
{
    const struct fields_case *c = *state;
    static const char reqline[] = "PUT /f HTTP/1.1\r\n", statline[] = "HTTP/1.1 200 OK\r\n";
    size_t fl = c->len ? c->len : strlen(c->fields);
    char in[256];
    struct guard g;

    for (int resp = 0; resp <= 1; resp++) {
        const char *start = resp ? statline : reqline;
        size_t sl = strlen(start), len = sl + fl;
        assert_true(len <= sizeof in);
        memcpy(in, start, sl);
        memcpy(in + sl, c->fields, fl);
        guard_open(&g, len);
        for (size_t k = 0; k <= len; k++) {
            const char *p = guard_put(&g, in, k);
            ssize_t rc;
            int status = 0;
            if (resp) {
                struct http_response res;
                rc = http_parse_response(p, k, &res);
            } else {
                struct http_request req;
                rc = http_parse_request(p, k, &req, &status);
            }
            bool ok = resp && c->response_ok;
            if (k == len && (ok ? rc != (ssize_t)len : rc != HTTP_PARSE_INVALID))
                fail_msg("%s (%s): gave %zd", c->name, resp ? "response" : "request", rc);
            if (k < len && rc >= 0)
                fail_msg("%s (%s): %zu of %zu bytes gave a %zd-byte head", c->name,
                         resp ? "response" : "request", k, len, rc);
            if (!resp && rc == HTTP_PARSE_INVALID && status != 400)
                fail_msg("%s: request status %d, want 400", c->name, status);
        }
        guard_close(&g);
    }
}

/* ---- chunked bodies (issue 8, defect 3) ---------------------------------- */

/* Decodes in[0..len) in the pieces that cuts[0..ncuts) mark (each piece
 * copied to end at the guard page first, as the decoder writes in place),
 * appending the body to out. Returns the last result; a positive one
 * counts the input never fed too. */
static ssize_t chunk_feed(const char *in, size_t len, const size_t *cuts, size_t ncuts, char *out,
                          size_t *outlen, struct http_chunked *ch)
{
    struct guard g;
    size_t pos = 0;
    ssize_t rc = HTTP_PARSE_INCOMPLETE;

    memset(ch, 0, sizeof *ch);
    guard_open(&g, len);
    *outlen = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        size_t n = end - pos;
        char *p = g.map + g.size - g.page - n;
        memcpy(p, in + pos, n);
        size_t got = n;
        rc = http_chunked_decode(ch, p, &got);
        assert_true(got <= n);
        memcpy(out + *outlen, p, got);
        *outlen += got;
        pos = end;
        if (rc != HTTP_PARSE_INCOMPLETE) {
            if (rc >= 0)
                rc += (ssize_t)(len - pos);
            break;
        }
    }
    guard_close(&g);
    return rc;
}

static char zeros_at_cap[4200], zeros_past_cap[4200], ext_past_cap[4200], trailer_past_cap[10000];
static size_t zeros_at_cap_len, zeros_past_cap_len, ext_past_cap_len, trailer_past_cap_len;

struct chunk_case {
    const char *name;
    const char *in;
    const size_t *lenp; /* NULL: strlen(in) */
    const char *body;   /* NULL: INVALID */
};

/* clang-format off */
#define CH_NUL(s) s, &(const size_t){sizeof(s) - 1}
/* clang-format on */

/* clang-format off */
static const struct chunk_case chunk_cases[] = {
    {"chunk size: 2^63", "8000000000000000\r\nx", NULL, NULL},
    {"chunk size: 2^63 without data", "8000000000000000\r\n", NULL, NULL},
    {"chunk size: 2^64 - 1 in lower case", "ffffffffffffffff\r\n", NULL, NULL},
    {"chunk size: 2^63 after leading zeros", "00000008000000000000000\r\n", NULL, NULL},
    {"chunk size: 2^64 - 1", "FFFFFFFFFFFFFFFF\r\nabc", NULL, NULL},
    {"chunk size: 2^64", "10000000000000000\r\n", NULL, NULL},
    {"chunk size: 2^80 - 1", "FFFFFFFFFFFFFFFFFFFF\r\n", NULL, NULL},
    {"chunk size: 2^63 as the second chunk", "5\r\nhello\r\n8000000000000000\r\n", NULL, NULL},
    {"chunk size: leading zeros past the line cap", zeros_past_cap, &zeros_past_cap_len, NULL},
    {"chunk size: leading zeros up to the line cap", zeros_at_cap, &zeros_at_cap_len, "hello"},
    {"chunk size: seventeen digits with leading zeros", "00000000000000005\r\nhello\r\n0\r\n\r\n",
     NULL, "hello"},
    {"chunk size: bare LF ends the size line", "5\nhello\r\n0\r\n\r\n", NULL, NULL},
    {"chunk size: bare CR ends the size line", "5\rhello\r\n0\r\n\r\n", NULL, NULL},
    {"chunk size: CR CR LF ends the size line", "5\r\r\nhello\r\n0\r\n\r\n", NULL, NULL},
    {"chunk size: junk after white space", "5 x\r\nhello\r\n0\r\n\r\n", NULL, NULL},
    {"chunk size: white space before the extension", "5 \t;a=b\r\nhello\r\n0\r\n\r\n", NULL, "hello"},
    {"chunk size: white space before the CR", "5 \r\nhello\r\n0\r\n\r\n", NULL, "hello"},
    {"chunk ext: bare CR", "5;a\rb\r\nhello\r\n0\r\n\r\n", NULL, NULL},
    {"chunk ext: bare LF", "5;a\nb\r\nhello\r\n0\r\n\r\n", NULL, NULL},
    {"chunk ext: bare LF ends it", "5;a=b\nhello\r\n0\r\n\r\n", NULL, NULL},
    {"chunk ext: bare CR on the last chunk", "5\r\nhello\r\n0;x\r\r\n\r\n", NULL, NULL},
    {"chunk ext: NUL", CH_NUL("5;a\0b\r\nhello\r\n0\r\n\r\n"), NULL},
    {"chunk ext: DEL", "5;a\x7f\r\nhello\r\n0\r\n\r\n", NULL, NULL},
    {"chunk ext: longer than the line cap", ext_past_cap, &ext_past_cap_len, NULL},
    {"chunk ext: quoted, with tab and obs-text", "5;a=\"x\ty\xc3\xa9\"\r\nhello\r\n0\r\n\r\n", NULL,
     "hello"},
    {"chunk data: bare LF after the data", "5\r\nhello\n0\r\n\r\n", NULL, NULL},
    {"chunk data: bare CR after the data", "5\r\nhello\r0\r\n\r\n", NULL, NULL},
    {"chunk data: CR CR LF after the data", "5\r\nhello\r\r\n0\r\n\r\n", NULL, NULL},
    {"last chunk: bare LF ends the body", "5\r\nhello\r\n0\r\n\n", NULL, NULL},
    {"last chunk: bare CR ends the body", "5\r\nhello\r\n0\r\n\rX", NULL, NULL},
    {"trailer: a field", "5\r\nhello\r\n0\r\nX-Sum: 1\r\nY:\r\n\r\n", NULL, "hello"},
    {"trailer: bare LF ends a field", "5\r\nhello\r\n0\r\nX: y\n\r\n", NULL, NULL},
    {"trailer: bare CR in a field", "5\r\nhello\r\n0\r\nX: y\rz\r\n\r\n", NULL, NULL},
    {"trailer: obs-fold", "5\r\nhello\r\n0\r\nX: y\r\n z\r\n\r\n", NULL, NULL},
    {"trailer: white space first", "5\r\nhello\r\n0\r\n\tX: y\r\n\r\n", NULL, NULL},
    {"trailer: no colon", "5\r\nhello\r\n0\r\nXy\r\n\r\n", NULL, NULL},
    {"trailer: empty name", "5\r\nhello\r\n0\r\n: y\r\n\r\n", NULL, NULL},
    {"trailer: space before the colon", "5\r\nhello\r\n0\r\nX : y\r\n\r\n", NULL, NULL},
    {"trailer: NUL in a value", CH_NUL("5\r\nhello\r\n0\r\nX: \0\r\n\r\n"), NULL},
    {"trailer: section longer than HTTP_MAX_HEAD", trailer_past_cap, &trailer_past_cap_len, NULL},
};
/* clang-format on */

static void make_chunk_cases(void)
{
    /* A size line of exactly HTTP_CHUNK_LINE_MAX bytes, CR LF included. */
    size_t z = HTTP_CHUNK_LINE_MAX - 3;
    memset(zeros_at_cap, '0', z);
    zeros_at_cap_len =
        z + (size_t)snprintf(zeros_at_cap + z, sizeof zeros_at_cap - z, "5\r\nhello\r\n0\r\n\r\n");
    memset(zeros_past_cap, '0', z + 1);
    zeros_past_cap_len = z + 1 +
                         (size_t)snprintf(zeros_past_cap + z + 1, sizeof zeros_past_cap - z - 1,
                                          "5\r\nhello\r\n0\r\n\r\n");
    size_t e = (size_t)snprintf(ext_past_cap, sizeof ext_past_cap, "5;");
    memset(ext_past_cap + e, 'e', HTTP_CHUNK_LINE_MAX - e);
    e = HTTP_CHUNK_LINE_MAX;
    ext_past_cap_len =
        e + (size_t)snprintf(ext_past_cap + e, sizeof ext_past_cap - e, "\r\nhello\r\n0\r\n\r\n");
    /* Three trailer lines of 3000 bytes: each under the line cap, together
     * over the section cap. */
    size_t t = (size_t)snprintf(trailer_past_cap, sizeof trailer_past_cap, "5\r\nhello\r\n0\r\n");
    for (int k = 0; k < 3; k++) {
        t += (size_t)snprintf(trailer_past_cap + t, sizeof trailer_past_cap - t, "X%d: ", k);
        memset(trailer_past_cap + t, 'v', 2994);
        t += 2994;
        t += (size_t)snprintf(trailer_past_cap + t, sizeof trailer_past_cap - t, "\r\n");
    }
    trailer_past_cap_len =
        t + (size_t)snprintf(trailer_past_cap + t, sizeof trailer_past_cap - t, "\r\n");
    if (trailer_past_cap_len >= sizeof trailer_past_cap ||
        ext_past_cap_len >= sizeof ext_past_cap || zeros_past_cap_len >= sizeof zeros_past_cap)
        abort(); /* the buffers above are too small for their cases */
}

/* Whole, split in two at every point, and byte by byte: a valid body gives
 * exactly its bytes and ends (0 bytes after it), an invalid one is INVALID
 * however it is cut, and never complete. */
static void test_chunk(void **state)
{
    const struct chunk_case *c = *state;
    size_t len = c->lenp ? *c->lenp : strlen(c->in);
    size_t *cuts = malloc((len + 1) * sizeof *cuts);
    char *out = malloc(len + 1);
    struct http_chunked ch;

    assert_non_null(cuts);
    assert_non_null(out);
    for (size_t k = 0; k < len; k++)
        cuts[k] = k + 1;
    for (size_t way = 0; way <= len + 2; way++) {
        size_t outlen, one = way - 1;
        ssize_t rc = way == 0 ? chunk_feed(c->in, len, NULL, 0, out, &outlen, &ch)
                     : way <= len + 1
                         ? chunk_feed(c->in, len, &one, 1, out, &outlen, &ch)
                         : chunk_feed(c->in, len, cuts, len ? len - 1 : 0, out, &outlen, &ch);
        if (c->body == NULL && rc != HTTP_PARSE_INVALID)
            fail_msg("%s: way %zu of %zu gave %zd, want INVALID", c->name, way, len + 2, rc);
        if (c->body != NULL &&
            (rc != 0 || outlen != strlen(c->body) || memcmp(out, c->body, outlen) != 0))
            fail_msg("%s: way %zu gave %zd with %zu body bytes", c->name, way, rc, outlen);
    }
    free(cuts);
    free(out);
}

/* The largest size, 2^63 - 1, is taken and only counts down. */
static void test_chunk_size_largest(void **state)
{
    struct http_chunked ch;
    char buf[] = "7fffffffffffffff\r\nabc";
    size_t len = sizeof buf - 1;

    memset(&ch, 0, sizeof ch);
    assert_int_equal(http_chunked_decode(&ch, buf, &len), HTTP_PARSE_INCOMPLETE);
    assert_int_equal(len, 3);
    assert_memory_equal(buf, "abc", 3);
    assert_true(ch.left == (uint64_t)INT64_MAX - 3);
}

/* Chunk data moved past the decoder (http_chunked_data_left and
 * http_chunked_skip): each row decodes a prefix, skips some data bytes as
 * a caller that splices them would, then decodes the rest. */
struct skip_case {
    const char *name;
    const char *before; /* decoded first */
    uint64_t left;      /* what http_chunked_data_left says then */
    uint64_t skip;      /* bytes said to be moved past the decoder */
    const char *after;  /* decoded next */
    ssize_t rc;         /* of the second decode */
    const char *body;   /* its body bytes */
};

static const struct skip_case skip_cases[] = {
    {"whole chunk skipped", "a\r\n", 10, 10, "\r\n0\r\n\r\n", 0, ""},
    {"part of a chunk", "a\r\nab", 8, 5, "xyz\r\n0\r\n\r\n", 0, "xyz"},
    {"then another chunk", "4\r\n", 4, 4, "\r\n2\r\nhi\r\n0\r\n\r\n", 0, "hi"},
    {"trailer after", "3\r\n", 3, 3, "\r\n0\r\nRepr-Digest: x\r\n\r\n", 0, ""},
    {"not in data: size line", "a", 0, 0, "\r\n0123456789\r\n0\r\n\r\n", 0, "0123456789"},
    {"not in data: after data", "2\r\nab", 0, 0, "\r\n0\r\n\r\n", 0, ""},
    {"skipping more than left is ignored", "2\r\n", 2, 5, "ab\r\n0\r\n\r\n", 0, "ab"},
    {"the CR LF after skipped data is still required", "2\r\n", 2, 2, "xy0\r\n\r\n",
     HTTP_PARSE_INVALID, ""},
    {"pipelined bytes after", "1\r\n", 1, 1, "\r\n0\r\n\r\nGET", 3, ""},
};

static void test_chunk_skip(void **state)
{
    for (size_t i = 0; i < sizeof skip_cases / sizeof skip_cases[0]; i++) {
        const struct skip_case *c = &skip_cases[i];
        struct http_chunked ch;
        char buf[128];
        size_t len = strlen(c->before);

        memset(&ch, 0, sizeof ch);
        memcpy(buf, c->before, len);
        if (http_chunked_decode(&ch, buf, &len) != HTTP_PARSE_INCOMPLETE)
            fail_msg("%s: the first part did not decode", c->name);
        if (http_chunked_data_left(&ch) != c->left)
            fail_msg("%s: data left %llu", c->name,
                     (unsigned long long)http_chunked_data_left(&ch));
        http_chunked_skip(&ch, c->skip);
        len = strlen(c->after);
        memcpy(buf, c->after, len);
        ssize_t rc = http_chunked_decode(&ch, buf, &len);
        if (rc != c->rc)
            fail_msg("%s: %zd", c->name, rc);
        if (rc >= 0 && (len != strlen(c->body) || memcmp(buf, c->body, len) != 0))
            fail_msg("%s: body of %zu bytes", c->name, len);
    }
}

/* ---- mutations ---------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Random damage to the valid requests never crashes, never reads past the
 * input, and every outcome keeps the parser's promises. */
static void test_mutations(void **state)
{
    static const char special[] = {'\r',   '\n',   ' ',    '\t', ':', '\0',
                                   '\x7f', '\x80', '\xff', 'H',  '/', '1'};
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    struct http_request req;
    struct guard g;
    char in[512];
    size_t seen[3] = {0, 0, 0}; /* complete, incomplete, invalid */

    guard_open(&g, sizeof in);
    for (int round = 0; round < 20000; round++) {
        const struct valid_case *c = &valid_cases[rng_next(&seed) % ARRAY_LEN(valid_cases)];
        size_t len = c->len ? c->len : strlen(c->in);
        assert_true(len <= sizeof in);
        memcpy(in, c->in, len);
        int edits = 1 + (int)(rng_next(&seed) % 3);
        for (int e = 0; e < edits; e++) {
            uint64_t r = rng_next(&seed);
            in[r % len] = (r >> 32) & 1 ? special[(r >> 40) % sizeof special] : (char)(r >> 48);
        }
        size_t n = rng_next(&seed) % 2 ? len : (size_t)(rng_next(&seed) % (len + 1));
        int status = 0;
        const char *p = guard_put(&g, in, n);
        ssize_t rc = http_parse_request(p, n, &req, &status);
        seen[rc > 0 ? 0 : rc == HTTP_PARSE_INCOMPLETE ? 1 : 2]++;
        if (rc == HTTP_PARSE_INVALID) {
            if (status != 400 && status != 431 && status != 505)
                fail_msg("round %d: INVALID with status %d", round, status);
        } else if (rc != HTTP_PARSE_INCOMPLETE) {
            if (rc <= 0 || (size_t)rc > n)
                fail_msg("round %d: returned %zd for %zu bytes", round, rc, n);
            for (size_t h = 0; h < req.nheaders; h++) {
                struct http_str v = req.headers[h].value;
                for (size_t k = 0; k < v.len; k++)
                    if (v.p[k] == '\r' || v.p[k] == '\n' || v.p[k] == '\0')
                        fail_msg("round %d: header value holds byte %d", round, v.p[k]);
                if (v.len > 0 && (v.p[0] == ' ' || v.p[v.len - 1] == ' '))
                    fail_msg("round %d: header value keeps white space", round);
            }
        }
    }
    /* The damage must reach all three outcomes, or it tests too little. */
    if (seen[0] < 1000 || seen[1] < 1000 || seen[2] < 1000)
        fail_msg("outcomes: %zu complete, %zu incomplete, %zu invalid", seen[0], seen[1], seen[2]);
    guard_close(&g);
}

/* http_header_get: the first of a name, any case; absent is p == NULL. */
static void test_header_get(void **state)
{
    (void)state;
    static const char text[] =
        "GET / HTTP/1.1\r\nHost: h\r\nX-A: one\r\nx-a: two\r\nEmpty:\r\n\r\n";
    struct http_request req;
    int status = 0;

    assert_true(http_parse_request(text, strlen(text), &req, &status) > 0);
    struct http_str v = http_header_get(req.headers, req.nheaders, "x-A");
    assert_non_null(v.p);
    assert_int_equal(v.len, 3);
    assert_memory_equal(v.p, "one", 3);
    v = http_header_get(req.headers, req.nheaders, "empty");
    assert_non_null(v.p);
    assert_int_equal(v.len, 0);
    assert_null(http_header_get(req.headers, req.nheaders, "x-b").p);
    assert_null(http_header_get(req.headers, 0, "host").p);
}

int main(void)
{
    static struct unit_list l;

    unit_add(&l, "header lookup", test_header_get, NULL);

    UNIT_ADD_ROWS(&l, valid_cases, test_valid);
    unit_add(&l, "exactly HTTP_MAX_HEADERS headers", test_max_headers_ok, NULL);
    UNIT_ADD_ROWS(&l, bad_cases, test_bad);
    unit_add(&l, "HTTP_MAX_HEADERS + 1 headers is 431", test_too_many_headers, NULL);
    UNIT_ADD_ROWS(&l, overflow_cases, test_overflow);
    UNIT_ADD_ROWS(&l, analyse_cases, test_analyse);
    unit_add(&l, "analyse keeps conditional and range headers", test_analyse_fields, NULL);
    unit_add(&l, "TE: te_present", test_analyse_te_present, NULL);
    UNIT_ADD_ROWS(&l, list_cases, test_list);
    UNIT_ADD_ROWS(&l, target_cases, test_target);
    unit_add(&l, "target: absolute form with a query but no path", test_target_query_without_path,
             NULL);
    UNIT_ADD_ROWS(&l, method_cases, test_method);
    UNIT_ADD_ROWS(&l, fields_cases, test_fields);
    make_chunk_cases();
    UNIT_ADD_ROWS(&l, chunk_cases, test_chunk);
    unit_add(&l, "chunk size: 2^63 - 1 is taken and counts down", test_chunk_size_largest, NULL);
    unit_add(&l, "chunk data moved past the decoder: data_left and skip", test_chunk_skip, NULL);
    unit_add(&l, "random damage to valid requests", test_mutations, NULL);
    return unit_run("http", &l);
}
