/* Unit tests for proto/rup: the resumable-upload request fields, the state
 * kept on disk (round trip, every cut refused), the upload URL's token, and
 * the creation and append decisions, one table row per rule of the draft. */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "proto/http.h"
#include "proto/rup.h"

#define MAX (1000 * 1000)

/* Parses a request head made of the given header lines. */
static void parse(const char *lines, int64_t clen, struct rup_req *r, int want_rc)
{
    char head[2048];
    struct http_request req;
    int status = 0;

    int n = snprintf(head, sizeof head, "PATCH /a?upload=x HTTP/1.1\r\nHost: h\r\n%s\r\n", lines);
    assert_true(n > 0 && (size_t)n < sizeof head);
    assert_true(http_parse_request(head, (size_t)n, &req, &status) > 0);
    assert_int_equal(rup_req_parse(&req, clen, r), want_rc);
}

static void test_fields(void **state)
{
    (void)state;
    struct rup_req r;

    parse("", 5, &r, 0);
    assert_int_equal(r.complete, -1);
    assert_int_equal(r.offset, -1);
    assert_int_equal(r.length, -1);
    assert_int_equal(r.interop, 0);
    assert_int_equal(r.content_length, 5);
    parse("Upload-Complete: ?1\r\nUpload-Offset: 42\r\nUpload-Length: 100\r\n"
          "Upload-Draft-Interop-Version: 8\r\n",
          58, &r, 0);
    assert_int_equal(r.complete, 1);
    assert_int_equal(r.offset, 42);
    assert_int_equal(r.length, 100);
    assert_int_equal(r.interop, 8);
    parse("upload-complete: ?0\r\n", -1, &r, 0);
    assert_int_equal(r.complete, 0);
    /* Another type, or a negative integer: the field is ignored. */
    parse("Upload-Complete: 1\r\nUpload-Offset: -5\r\nUpload-Length: \"7\"\r\n", 0, &r, 0);
    assert_int_equal(r.complete, -1);
    assert_int_equal(r.offset, -1);
    assert_int_equal(r.length, -1);
    parse("Upload-Offset: 12;p=1\r\n", 0, &r, 0);
    assert_int_equal(r.offset, 12);
    /* Twice with the same value is one value; with two values an error. */
    parse("Upload-Offset: 3\r\nUpload-Offset: 3\r\n", 0, &r, 0);
    assert_int_equal(r.offset, 3);
    parse("Upload-Offset: 3\r\nUpload-Offset: 4\r\n", 0, &r, -EINVAL);
    parse("Upload-Complete: ?0\r\nUpload-Complete: ?1\r\n", 0, &r, -EINVAL);
    parse("Upload-Length: 1\r\nUpload-Length: 2\r\n", 0, &r, -EINVAL);
}

static void test_state_round_trip(void **state)
{
    (void)state;
    struct rup_state st = {.length = 123456, .created = 1764720000, .complete = false,
                           .has_sha = true};
    struct rup_state got;
    char text[RUP_STATE_MAX];

    for (int i = 0; i < 32; i++)
        st.sha[i] = (unsigned char)(i * 7);
    strcpy(st.rel, "dir with space/naïve file.bin");
    strcpy(st.owner, "a:2001:db8:1:2::/64");
    size_t n = rup_state_format(&st, text);
    assert_true(n > 0);
    assert_int_equal(rup_state_parse(text, n, &got), 0);
    assert_string_equal(got.owner, st.owner);
    assert_int_equal(got.length, st.length);
    assert_int_equal(got.created, st.created);
    assert_false(got.complete);
    assert_true(got.has_sha);
    assert_memory_equal(got.sha, st.sha, 32);
    assert_string_equal(got.rel, st.rel);
    /* Every cut is refused: a state half written is never taken. */
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(rup_state_parse(text, cut, &got), -EINVAL);
    st.length = -1;
    st.has_sha = false;
    st.complete = true;
    n = rup_state_format(&st, text);
    assert_int_equal(rup_state_parse(text, n, &got), 0);
    assert_int_equal(got.length, -1);
    assert_false(got.has_sha);
    assert_true(got.complete);
    /* A path that would break the line is not written. */
    strcpy(st.rel, "a\nb");
    assert_int_equal(rup_state_format(&st, text), 0);
    st.rel[0] = '\0';
    assert_int_equal(rup_state_format(&st, text), 0);
    /* Owners: none is "-"; one with a space or too long is not written. */
    strcpy(st.rel, "r");
    st.owner[0] = '\0';
    n = rup_state_format(&st, text);
    assert_int_equal(rup_state_parse(text, n, &got), 0);
    assert_string_equal(got.owner, "-");
    strcpy(st.owner, "u:a b");
    assert_int_equal(rup_state_format(&st, text), 0);
    memset(st.owner, 'x', RUP_OWNER_MAX - 1); /* the longest */
    st.owner[RUP_OWNER_MAX - 1] = '\0';
    n = rup_state_format(&st, text);
    assert_int_equal(rup_state_parse(text, n, &got), 0);
    assert_string_equal(got.owner, st.owner);
    char longer[RUP_STATE_MAX];
    int ln = snprintf(longer, sizeof longer, "v2 1 2 0 - %sx r\n", st.owner);
    assert_int_equal(rup_state_parse(longer, (size_t)ln, &got), -EINVAL);
    /* A state written before owners (v1) still parses: owner "-". */
    assert_int_equal(rup_state_parse("v1 5 2 0 - a b\n", 15, &got), 0);
    assert_string_equal(got.owner, "-");
    assert_string_equal(got.rel, "a b");
    assert_int_equal(rup_state_parse("v2 5 2 0 - u:x a b\n", 19, &got), 0);
    assert_string_equal(got.owner, "u:x");
    assert_string_equal(got.rel, "a b");
    static const char *const bad[] = {
        "v2 1 2 0 - a\n",  "v2 1 2 0 -  a\n", "v3 1 2 0 - - a\n", "v1 1 2 2 - a\n",
        "v1 -2 2 0 - a\n", "v1 1 2 0 - \n",   "v1 1 2 0 x a\n",   "v1 1 2 0 - a",
        "v1 1 -1 0 - a\n", "v1  1 2 0 - a\n", "v1 01 2 0 - a\n",  "v1 1 02 0 - a\n",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        assert_int_equal(rup_state_parse(bad[i], strlen(bad[i]), &got), -EINVAL);
}

static void test_token(void **state)
{
    (void)state;
    unsigned char raw[16];
    char tok[RUP_TOKEN_LEN + 1], got[RUP_TOKEN_LEN + 1], q[128];

    for (int i = 0; i < 16; i++)
        raw[i] = (unsigned char)(0xf0 + i);
    rup_token_format(raw, tok);
    assert_string_equal(tok, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
    snprintf(q, sizeof q, "upload=%s", tok);
    assert_int_equal(rup_query_token(q, strlen(q), got), 1);
    assert_string_equal(got, tok);
    assert_int_equal(rup_query_token("", 0, got), 0);
    assert_int_equal(rup_query_token("tar", 3, got), 0);
    assert_int_equal(rup_query_token("uploads=1", 9, got), 0);
    static const char *const bad[] = {
        "upload", "upload=", "upload=F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF",
        "upload=f0f1f2f3f4f5f6f7f8f9fafbfcfdfef", "upload=f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff0",
        "x=1&upload=f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", "upload=f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff&x=1",
        "upload=../../f5f6f7f8f9fafbfcfdfeff00000000",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        assert_int_equal(rup_query_token(bad[i], strlen(bad[i]), got), -EINVAL);
}

struct create_case {
    const char *name;
    struct rup_req r;
    enum rup_verdict want;
    int64_t length;
};

static const struct create_case creates[] = {
    {"create: complete, length from the body", {1, -1, -1, 8, 500}, RUP_GO, 500},
    {"create: complete, Upload-Length agrees", {1, -1, 500, 8, 500}, RUP_GO, 500},
    {"create: complete, Upload-Length disagrees", {1, -1, 501, 8, 500}, RUP_INCONSISTENT, -1},
    {"create: incomplete, length unknown", {0, -1, -1, 8, 100}, RUP_GO, -1},
    {"create: incomplete, Upload-Length", {0, -1, 900, 8, 100}, RUP_GO, 900},
    {"create: incomplete, body past Upload-Length", {0, -1, 50, 8, 100}, RUP_INCONSISTENT, -1},
    {"create: chunked, complete", {1, -1, -1, 8, -1}, RUP_GO, -1},
    {"create: over the limit by Upload-Length", {0, -1, MAX + 1, 8, 0}, RUP_TOO_LARGE, -1},
    {"create: over the limit by the body", {1, -1, -1, 8, MAX + 1}, RUP_TOO_LARGE, -1},
    {"create: exactly the limit", {1, -1, -1, 8, MAX}, RUP_GO, MAX},
    {"create: no Upload-Complete", {-1, -1, -1, 8, 5}, RUP_BAD, -1},
};

static void test_create(void **state)
{
    const struct create_case *c = *state;
    struct rup_decision d;

    rup_decide_create(&c->r, MAX, &d);
    assert_int_equal(d.verdict, c->want);
    if (c->want == RUP_GO)
        assert_int_equal(d.length, c->length);
}

struct append_case {
    const char *name;
    struct rup_state st; /* length, created, complete */
    int64_t offset;
    struct rup_req r;
    enum rup_verdict want;
    int64_t length;
};

static const struct append_case appends[] = {
    {"append: the rest, completing", {.length = 1000}, 400, {1, 400, -1, 8, 600}, RUP_GO, 1000},
    {"append: a part", {.length = 1000}, 400, {0, 400, -1, 8, 100}, RUP_GO, 1000},
    {"append: length learnt now", {.length = -1}, 400, {1, 400, -1, 8, 100}, RUP_GO, 500},
    {"append: Upload-Length learnt now", {.length = -1}, 0, {0, 0, 700, 8, 100}, RUP_GO, 700},
    {"append: offset behind", {.length = 1000}, 400, {0, 300, -1, 8, 100}, RUP_MISMATCH, 0},
    {"append: offset ahead (a lying client)", {.length = 1000}, 400, {0, 999, -1, 8, 1},
     RUP_MISMATCH, 0},
    {"append: a new length", {.length = 1000}, 400, {0, 400, 1001, 8, 10}, RUP_INCONSISTENT, 0},
    {"append: completing short of the length", {.length = 1000}, 400, {1, 400, -1, 8, 599},
     RUP_INCONSISTENT, 0},
    {"append: past the length", {.length = 1000}, 400, {0, 400, -1, 8, 601}, RUP_INCONSISTENT, 0},
    {"append: past the server's limit", {.length = -1}, 400, {0, 400, -1, 8, MAX}, RUP_TOO_LARGE,
     0},
    {"append: to a completed upload", {.length = 10, .complete = true}, 10, {1, 10, -1, 8, 0},
     RUP_COMPLETED, 0},
    {"append: no Upload-Offset", {.length = 1000}, 400, {1, -1, -1, 8, 600}, RUP_BAD, 0},
    {"append: no Upload-Complete", {.length = 1000}, 400, {-1, 400, -1, 8, 600}, RUP_BAD, 0},
    {"append: chunked", {.length = 1000}, 400, {1, 400, -1, 8, -1}, RUP_GO, 1000},
};

static void test_append(void **state)
{
    const struct append_case *c = *state;
    struct rup_decision d;

    rup_decide_append(&c->st, c->offset, &c->r, MAX, &d);
    assert_int_equal(d.verdict, c->want);
    if (c->want == RUP_GO)
        assert_int_equal(d.length, c->length);
}

/* Numbers at the edge of int64_t, against a server that takes any size
 * (so no limit stops them first): every sum is checked before it is made
 * (issue 16, defect 7: 4 + 9223372036854775807 was undefined behaviour). */
struct edge_case {
    const char *name;
    int64_t st_length; /* the state's length, -1 unknown */
    int64_t offset;
    struct rup_req r;
    enum rup_verdict want;
    int64_t length;
};

#define I64 INT64_MAX
static const struct edge_case edges[] = {
    {"edge: completing, length INT64_MAX after 4", -1, 4, {1, 4, -1, 8, I64}, RUP_TOO_LARGE, 0},
    {"edge: a part, Content-Length INT64_MAX after 4", -1, 4, {0, 4, -1, 8, I64}, RUP_TOO_LARGE, 0},
    {"edge: completing, Upload-Length too, after 4", -1, 4, {1, 4, I64, 8, I64}, RUP_TOO_LARGE, 0},
    {"edge: length INT64_MAX past a known length", 100, 4, {0, 4, -1, 8, I64}, RUP_INCONSISTENT, 0},
    {"edge: completing exactly at INT64_MAX", -1, I64 - 1, {1, I64 - 1, -1, 8, 1}, RUP_GO, I64},
    {"edge: completing one past INT64_MAX", -1, I64, {1, I64, -1, 8, 1}, RUP_TOO_LARGE, 0},
    {"edge: a part one past INT64_MAX", -1, I64, {0, I64, -1, 8, 1}, RUP_TOO_LARGE, 0},
    {"edge: a part up to INT64_MAX", -1, I64 - 10, {0, I64 - 10, -1, 8, 10}, RUP_GO, -1},
    {"edge: data already past the length", 100, 200, {0, 200, -1, 8, 0}, RUP_INCONSISTENT, 0},
    {"edge: creation, Content-Length INT64_MAX", -1, 0, {1, -1, -1, 8, I64}, RUP_GO, I64},
};

static void test_edge(void **state)
{
    const struct edge_case *c = *state;
    struct rup_state st = {.length = c->st_length};
    struct rup_decision d;

    if (c->offset == 0 && c->r.offset < 0)
        rup_decide_create(&c->r, UINT64_MAX, &d);
    else
        rup_decide_append(&st, c->offset, &c->r, UINT64_MAX, &d);
    assert_int_equal(d.verdict, c->want);
    if (c->want == RUP_GO)
        assert_int_equal(d.length, c->length);
    /* And against the usual limit, the long ones are simply too large. */
    if (c->r.content_length == I64) {
        if (c->offset == 0 && c->r.offset < 0)
            rup_decide_create(&c->r, MAX, &d);
        else
            rup_decide_append(&st, c->offset, &c->r, MAX, &d);
        assert_int_equal(d.verdict, c->st_length >= 0 ? RUP_INCONSISTENT : RUP_TOO_LARGE);
    }
}

static void test_more_at_the_edge(void **state)
{
    (void)state;
    assert_int_equal(rup_check_more(-1, UINT64_MAX, I64, (uint64_t)I64 + 1), RUP_GO);
    assert_int_equal(rup_check_more(-1, UINT64_MAX, I64, (uint64_t)I64 + 2), RUP_TOO_LARGE);
    assert_int_equal(rup_check_more(-1, UINT64_MAX, I64, UINT64_MAX), RUP_TOO_LARGE);
    assert_int_equal(rup_check_more(I64, UINT64_MAX, I64 - 1, 1), RUP_GO);
    assert_int_equal(rup_check_more(I64, UINT64_MAX, I64, 1), RUP_INCONSISTENT);
    assert_int_equal(rup_check_more(-1, MAX, -5, 1), RUP_TOO_LARGE);
}

/* Issue 16, defect 8: what a request under the upload's lock makes of a
 * state and its data. */
static void test_found(void **state)
{
    (void)state;
    struct rup_state st = {.length = 10};

    assert_int_equal(rup_found(&st, true), RUP_IN_PROGRESS);
    assert_int_equal(rup_found(&st, false), RUP_LOST);
    st.complete = true;
    assert_int_equal(rup_found(&st, false), RUP_DONE);
    assert_int_equal(rup_found(&st, true), RUP_ROLL_FORWARD);
}

/* Issue 16, defect 9: the sweep's period. */
static void test_sweep_every(void **state)
{
    (void)state;
    assert_int_equal(rup_sweep_every(1), 1);
    assert_int_equal(rup_sweep_every(3), 1);
    assert_int_equal(rup_sweep_every(10), 5);
    assert_int_equal(rup_sweep_every(120), 60);
    assert_int_equal(rup_sweep_every(86400), 60);
}

/* Issue 16, defect 10: a party's unfinished uploads, by count and bytes. */
struct admit_case {
    const char *name;
    uint64_t count, bytes;
    bool new_upload;
    uint64_t need;
    enum rup_verdict want;
};

static const struct admit_case admits[] = {
    {"admit: the first upload", 0, 0, true, 100, RUP_GO},
    {"admit: the last one allowed", 3, 0, true, 0, RUP_GO},
    {"admit: one too many", 4, 0, true, 0, RUP_TOO_MANY},
    {"admit: an append at the count", 4, 0, false, 10, RUP_GO},
    {"admit: bytes exactly to the bound", 1, 900, false, 100, RUP_GO},
    {"admit: one byte past the bound", 1, 900, false, 101, RUP_NO_ROOM},
    {"admit: a need past the bound alone", 0, 0, true, 1001, RUP_NO_ROOM},
    {"admit: a need of UINT64_MAX", 1, 1, false, UINT64_MAX, RUP_NO_ROOM},
    {"admit: counted bytes already past", 1, 2000, false, 0, RUP_NO_ROOM},
};

static void test_admit(void **state)
{
    const struct admit_case *c = *state;

    assert_int_equal(rup_admit(c->count, c->bytes, c->new_upload, c->need, 4, 1000), c->want);
}

static void test_owner(void **state)
{
    (void)state;
    char out[RUP_OWNER_MAX];
    struct sockaddr_in in = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};

    inet_pton(AF_INET, "192.0.2.7", &in.sin_addr);
    assert_string_equal(rup_owner_format("", &in, out), "a:192.0.2.7");
    assert_string_equal(rup_owner_format(NULL, &in, out), "a:192.0.2.7");
    assert_string_equal(rup_owner_format("alice", &in, out), "u:alice");
    inet_pton(AF_INET6, "2001:db8:1:2:aaaa:bbbb:cccc:dddd", &in6.sin6_addr);
    assert_string_equal(rup_owner_format("", &in6, out), "a:2001:db8:1:2::/64");
    inet_pton(AF_INET6, "::ffff:192.0.2.8", &in6.sin6_addr);
    assert_string_equal(rup_owner_format("", &in6, out), "a:192.0.2.8");
    struct sockaddr un = {.sa_family = AF_UNIX};
    assert_string_equal(rup_owner_format("", &un, out), "-");
    assert_string_equal(rup_owner_format("bad name", &in, out), "a:192.0.2.7");
}

static void test_more_and_complete(void **state)
{
    (void)state;
    assert_int_equal(rup_check_more(1000, MAX, 400, 600), RUP_GO);
    assert_int_equal(rup_check_more(1000, MAX, 400, 601), RUP_INCONSISTENT);
    assert_int_equal(rup_check_more(-1, MAX, 400, MAX - 400), RUP_GO);
    assert_int_equal(rup_check_more(-1, MAX, 400, MAX - 399), RUP_TOO_LARGE);
    assert_true(rup_complete_ok(-1, 5));
    assert_true(rup_complete_ok(5, 5));
    assert_false(rup_complete_ok(6, 5));
}

int main(void)
{
    static struct unit_list l;

    unit_add(&l, "request fields", test_fields, NULL);
    unit_add(&l, "state round trip and cuts", test_state_round_trip, NULL);
    unit_add(&l, "token and query", test_token, NULL);
    UNIT_ADD_ROWS(&l, creates, test_create);
    UNIT_ADD_ROWS(&l, appends, test_append);
    unit_add(&l, "more bytes, completion", test_more_and_complete, NULL);
    UNIT_ADD_ROWS(&l, edges, test_edge);
    unit_add(&l, "more bytes at the edge of int64_t", test_more_at_the_edge, NULL);
    unit_add(&l, "found: state and data under the lock", test_found, NULL);
    unit_add(&l, "sweep period", test_sweep_every, NULL);
    UNIT_ADD_ROWS(&l, admits, test_admit);
    unit_add(&l, "owner: user or address", test_owner, NULL);
    return unit_run("rup", &l);
}
