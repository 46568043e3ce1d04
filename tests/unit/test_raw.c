/* Unit tests for proto/raw: telling HTTP from the raw protocol by the first
 * bytes, and the length of a raw file name. */
#include "unit.h"

#include <errno.h>
#include <stdio.h>

#include "proto/raw.h"

struct detect_case {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen(in) */
    enum raw_detect want;
};

/* clang-format off */
static const struct detect_case detect_cases[] = {
    {"detect: GET and a space", "GET ", 0, RAW_IS_HTTP},
    {"detect: GET request line", "GET / HTTP/1.1\r\n", 0, RAW_IS_HTTP},
    {"detect: HEAD", "HEAD /x HTTP/1.0", 0, RAW_IS_HTTP},
    {"detect: POST", "POST /", 0, RAW_IS_HTTP},
    {"detect: PUT", "PUT /", 0, RAW_IS_HTTP},
    {"detect: DELETE", "DELETE /", 0, RAW_IS_HTTP},
    {"detect: OPTIONS", "OPTIONS *", 0, RAW_IS_HTTP},
    {"detect: PATCH", "PATCH /", 0, RAW_IS_HTTP},
    {"detect: TRACE", "TRACE /", 0, RAW_IS_HTTP},
    {"detect: CONNECT", "CONNECT h:1", 0, RAW_IS_HTTP},
    {"detect: G", "G", 0, RAW_IS_MAYBE},
    {"detect: GE", "GE", 0, RAW_IS_MAYBE},
    {"detect: GET without space", "GET", 0, RAW_IS_MAYBE},
    {"detect: H", "H", 0, RAW_IS_MAYBE},
    {"detect: HEA", "HEA", 0, RAW_IS_MAYBE},
    {"detect: HEAD without space", "HEAD", 0, RAW_IS_MAYBE},
    {"detect: P (POST, PUT, PATCH)", "P", 0, RAW_IS_MAYBE},
    {"detect: PU", "PU", 0, RAW_IS_MAYBE},
    {"detect: OPTIONS without space", "OPTIONS", 0, RAW_IS_MAYBE},
    {"detect: CONNEC", "CONNEC", 0, RAW_IS_MAYBE},
    {"detect: DELETE without space", "DELETE", 0, RAW_IS_MAYBE},
    {"detect: nothing yet", "", 0, RAW_IS_MAYBE},
    {"detect: file name", "hello.txt", 0, RAW_IS_RAW},
    {"detect: file name with CRLF", "hello.txt\r\n", 0, RAW_IS_RAW},
    {"detect: lower-case get", "get / ", 0, RAW_IS_RAW},
    {"detect: lower-case g", "g", 0, RAW_IS_RAW},
    {"detect: GETX", "GETX", 0, RAW_IS_RAW},
    {"detect: GET and a tab", "GET\t/", 0, RAW_IS_RAW},
    {"detect: GET and a slash", "GET/", 0, RAW_IS_RAW},
    {"detect: HEADER", "HEADER", 0, RAW_IS_RAW},
    {"detect: GE and a space", "GE ", 0, RAW_IS_RAW},
    {"detect: unknown method", "BREW /pot", 0, RAW_IS_RAW},
    {"detect: absolute path", "/etc/passwd", 0, RAW_IS_RAW},
    {"detect: CRLF", "\r\n", 0, RAW_IS_RAW},
    {"detect: G and NUL", "G\0", 2, RAW_IS_RAW},
    {"detect: space first", " GET ", 0, RAW_IS_RAW},
};
/* clang-format on */

static void test_detect(void **state)
{
    const struct detect_case *c = *state;
    size_t len = c->len ? c->len : strlen(c->in);
    struct guard g;

    guard_open(&g, len);
    enum raw_detect got = raw_detect(guard_put(&g, c->in, len), len);
    if (got != c->want)
        fail_msg("%s: got %d, want %d", c->name, (int)got, (int)c->want);
    guard_close(&g);
}

/* Every proper prefix of an HTTP start is MAYBE, never RAW. */
static void test_detect_prefixes(void **state)
{
    static const char *const starts[] = {"GET ",     "HEAD ",    "POST ",     "PUT ",
                                         "DELETE ",  "OPTIONS ", "PATCH ",    "TRACE ",
                                         "CONNECT ", "MKCOL ",   "PROPFIND ", "PROPPATCH ",
                                         "COPY ",    "MOVE ",    "LOCK ",     "UNLOCK "};
    struct guard g;

    guard_open(&g, 16);
    for (size_t i = 0; i < ARRAY_LEN(starts); i++)
        for (size_t k = 0; k <= strlen(starts[i]); k++) {
            enum raw_detect want = k < strlen(starts[i]) ? RAW_IS_MAYBE : RAW_IS_HTTP;
            enum raw_detect got = raw_detect(guard_put(&g, starts[i], k), k);
            if (got != want)
                fail_msg("\"%.*s\": got %d, want %d", (int)k, starts[i], (int)got, (int)want);
        }
    guard_close(&g);
}

struct name_case {
    const char *name;
    const char *in;
    long want;
};

static const struct name_case name_cases[] = {
    {"name: plain", "file.txt", 8},
    {"name: CRLF stripped", "file.txt\r\n", 8},
    {"name: LF stripped", "file.txt\n", 8},
    {"name: CR stripped", "file.txt\r", 8},
    {"name: several line ends stripped", "file.txt\r\n\r\n\n", 8},
    {"name: inner CRLF kept", "a\r\nb", 4},
    {"name: spaces kept", " a b ", 5},
    {"name: one byte", "x", 1},
    {"name: empty", "", -EINVAL},
    {"name: CRLF only", "\r\n", -EINVAL},
    {"name: line ends only", "\n\r\n\r", -EINVAL},
};

static void test_name(void **state)
{
    const struct name_case *c = *state;
    size_t len = strlen(c->in);
    struct guard g;

    guard_open(&g, len);
    long got = raw_name_len(guard_put(&g, c->in, len), len);
    if (got != c->want)
        fail_msg("%s: got %ld, want %ld", c->name, got, c->want);
    guard_close(&g);
}

struct long_case {
    const char *name;
    size_t bytes;     /* of name */
    const char *tail; /* line end after it */
    long want;
};

static const struct long_case long_cases[] = {
    {"name: RAW_MAX_NAME bytes", RAW_MAX_NAME, "", RAW_MAX_NAME},
    {"name: RAW_MAX_NAME bytes and CRLF", RAW_MAX_NAME, "\r\n", RAW_MAX_NAME},
    {"name: RAW_MAX_NAME + 1 bytes", RAW_MAX_NAME + 1, "", -ENAMETOOLONG},
    {"name: RAW_MAX_NAME + 1 bytes and LF", RAW_MAX_NAME + 1, "\n", -ENAMETOOLONG},
    {"name: far too long", 4 * RAW_MAX_NAME, "", -ENAMETOOLONG},
};

static void test_long_name(void **state)
{
    const struct long_case *c = *state;
    static char in[4 * RAW_MAX_NAME + 8];
    size_t tl = strlen(c->tail);
    struct guard g;

    memset(in, 'n', c->bytes);
    memcpy(in + c->bytes, c->tail, tl);
    guard_open(&g, c->bytes + tl);
    long got = raw_name_len(guard_put(&g, in, c->bytes + tl), c->bytes + tl);
    if (got != c->want)
        fail_msg("%s: got %ld, want %ld", c->name, got, c->want);
    guard_close(&g);
}

struct scan_case {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen(in) */
    enum raw_name want;
    size_t want_len; /* RAW_NAME_DONE only */
};

/* clang-format off */
static const struct scan_case scan_cases[] = {
    {"scan: no end yet", "report.txt", 0, RAW_NAME_MORE, 0},
    {"scan: nothing yet", "", 0, RAW_NAME_MORE, 0},
    {"scan: LF ends", "report.txt\n", 0, RAW_NAME_DONE, 10},
    {"scan: CR ends", "report.txt\r", 0, RAW_NAME_DONE, 10},
    {"scan: CRLF ends at CR", "report.txt\r\n", 0, RAW_NAME_DONE, 10},
    {"scan: NUL ends", "report.txt\0junk", 15, RAW_NAME_DONE, 10},
    {"scan: first end wins", "a\nb\r", 0, RAW_NAME_DONE, 1},
    {"scan: empty name", "\n", 0, RAW_NAME_DONE, 0},
    {"scan: NUL first", "\0a", 2, RAW_NAME_DONE, 0},
    {"scan: bytes after the end are not read", "ab\nGET / HTTP/1.1", 0, RAW_NAME_DONE, 2},
    {"scan: a space is part of the name", "a b", 0, RAW_NAME_MORE, 0},
    {"scan: a tab is part of the name", "a\tb", 0, RAW_NAME_MORE, 0},
};
/* clang-format on */

static void test_scan(void **state)
{
    const struct scan_case *c = *state;
    size_t len = c->len ? c->len : strlen(c->in), got_len = 12345;
    struct guard g;

    guard_open(&g, len);
    enum raw_name got = raw_name_scan(guard_put(&g, c->in, len), len, &got_len);
    if (got != c->want)
        fail_msg("%s: got %d, want %d", c->name, (int)got, (int)c->want);
    if (got == RAW_NAME_DONE && got_len != c->want_len)
        fail_msg("%s: length %zu, want %zu", c->name, got_len, c->want_len);
    guard_close(&g);
}

/* Every truncation of a terminated name is MORE until the terminator is
 * in, then DONE with the same length; at the cap, TOOLONG. */
static void test_scan_truncations(void **state)
{
    static char in[RAW_MAX_NAME + 2];
    struct guard g;
    size_t n;

    memset(in, 'n', sizeof in);
    in[RAW_MAX_NAME] = '\n';
    guard_open(&g, sizeof in);
    for (size_t k = 0; k <= RAW_MAX_NAME + 1; k++) {
        enum raw_name got = raw_name_scan(guard_put(&g, in, k), k, &n);
        enum raw_name want = k <= RAW_MAX_NAME ? RAW_NAME_MORE : RAW_NAME_DONE;
        if (got != want)
            fail_msg("%zu bytes: got %d, want %d", k, (int)got, (int)want);
    }
    assert_int_equal(n, RAW_MAX_NAME);
    memset(in, 'n', sizeof in);
    assert_int_equal(raw_name_scan(guard_put(&g, in, RAW_MAX_NAME + 1), RAW_MAX_NAME + 1, &n),
                     RAW_NAME_TOOLONG);
    guard_close(&g);
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, detect_cases, test_detect);
    unit_add(&l, "detect: every prefix of every method", test_detect_prefixes, NULL);
    UNIT_ADD_ROWS(&l, name_cases, test_name);
    UNIT_ADD_ROWS(&l, long_cases, test_long_name);
    UNIT_ADD_ROWS(&l, scan_cases, test_scan);
    unit_add(&l, "scan: every truncation up to the cap", test_scan_truncations, NULL);
    return unit_run("raw", &l);
}
