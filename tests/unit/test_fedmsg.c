/* Unit tests for proto/fedmsg: what federated brokers publish. Rows are
 * parsed against a guard page, and every proper prefix of a valid message
 * must be refused (a cut message is never delivered); encode and parse
 * round-trip. */
#include "unit.h"

#include <errno.h>
#include <stdio.h>

#include "proto/fedmsg.h"

#define ID "0123456789abcdef"
#define MAX 64

struct parse_case {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen */
    int want;
    char kind;
    const char *line; /* when want is 0 and kind is not 'p' */
};

/* clang-format off */
static const struct parse_case cases[] = {
    {"chat line", "F1 " ID " l ann: hi\n", 0, 0, 'l', "ann: hi\n"},
    {"notice", "F1 " ID " n * bob joined\n", 0, 0, 'n', "* bob joined\n"},
    {"ping", "F1 " ID " p", 0, 0, 'p', NULL},
    {"line of one LF", "F1 " ID " l \n", 0, 0, 'l', "\n"},
    {"CR inside a line is kept", "F1 " ID " l a\rb\n", 0, 0, 'l', "a\rb\n"},
    {"NUL inside a line is kept", "F1 " ID " l a\0b\n", 3 + 16 + 3 + 4, 0, 'l', NULL},
    {"line of exactly max bytes",
     "F1 " ID " l 123456789012345678901234567890123456789012345678901234567890123\n", 0, 0, 'l',
     "123456789012345678901234567890123456789012345678901234567890123\n"},
    /* Refused. */
    {"line one byte past max",
     "F1 " ID " l 1234567890123456789012345678901234567890123456789012345678901234\n", 0, -EINVAL, 0, NULL},
    {"second LF inside (an injected line)", "F1 " ID " l ann: hi\nmallory: x\n", 0, -EINVAL, 0, NULL},
    {"no LF at the end", "F1 " ID " l ann: hi", 0, -EINVAL, 0, NULL},
    {"empty line", "F1 " ID " l ", 0, -EINVAL, 0, NULL},
    {"kind without line", "F1 " ID " l", 0, -EINVAL, 0, NULL},
    {"ping with a payload", "F1 " ID " p x\n", 0, -EINVAL, 0, NULL},
    {"ping with a space", "F1 " ID " p ", 0, -EINVAL, 0, NULL},
    {"unknown kind", "F1 " ID " x hi\n", 0, -EINVAL, 0, NULL},
    {"another version", "F2 " ID " l hi\n", 0, -EINVAL, 0, NULL},
    {"id in capitals", "F1 0123456789ABCDEF l hi\n", 0, -EINVAL, 0, NULL},
    {"id too short", "F1 0123456789abcde l hi\n", 0, -EINVAL, 0, NULL},
    {"id with a non-hex byte", "F1 0123456789abcdeg l hi\n", 0, -EINVAL, 0, NULL},
    {"no space after id", "F1 " ID "l hi\n", 0, -EINVAL, 0, NULL},
    {"no space after kind", "F1 " ID " lhi\n", 0, -EINVAL, 0, NULL},
    {"empty", "", 0, -EINVAL, 0, NULL},
    {"plain text", "hello\n", 0, -EINVAL, 0, NULL},
};
/* clang-format on */

static size_t case_len(const struct parse_case *c)
{
    return c->len ? c->len : strlen(c->in);
}

static int parse_guarded(const char *in, size_t len, struct fedmsg *m)
{
    struct guard g;

    guard_open(&g, len + 1);
    const char *p = guard_put(&g, in, len);
    int rc = fedmsg_parse(p, len, MAX, m);
    guard_close(&g);
    return rc;
}

static void test_parse(void **state)
{
    const struct parse_case *c = *state;
    size_t len = case_len(c);
    struct fedmsg m;
    struct guard g;

    guard_open(&g, len + 1);
    const char *p = guard_put(&g, c->in, len);
    int rc = fedmsg_parse(p, len, MAX, &m);
    if (rc != c->want)
        fail_msg("%s: gave %d, want %d", c->name, rc, c->want);
    if (rc == 0) {
        if ((char)m.kind != c->kind)
            fail_msg("%s: kind %c, want %c", c->name, (char)m.kind, c->kind);
        if (m.id != p + 3)
            fail_msg("%s: the id does not point into the input", c->name);
        if (c->kind == 'p' && m.line != NULL)
            fail_msg("%s: a ping with a line", c->name);
        if (m.line != NULL && (m.line < p || m.line + m.len != p + len))
            fail_msg("%s: the line is not the input's tail", c->name);
        if (c->line != NULL && (m.len != strlen(c->line) || memcmp(m.line, c->line, m.len) != 0))
            fail_msg("%s: line \"%.*s\"", c->name, (int)m.len, m.line);
    }
    guard_close(&g);
    /* A cut message is never taken for a whole one. */
    for (size_t k = 0; rc == 0 && k < len; k++)
        if (parse_guarded(c->in, k, &m) == 0)
            fail_msg("%s: the first %zu bytes parsed", c->name, k);
}

struct enc_case {
    const char *name;
    const char *id;
    enum fedmsg_kind kind;
    const char *line; /* NULL for a ping */
    size_t cap;
    long want; /* the length, or -errno */
};

/* clang-format off */
static const struct enc_case enc_cases[] = {
    {"encode a line", ID, FEDMSG_LINE, "ann: hi\n", 64, 21 + 1 + 8},
    {"encode a notice", ID, FEDMSG_NOTICE, "* x joined\n", 64, 21 + 1 + 11},
    {"encode a ping", ID, FEDMSG_PING, NULL, 64, 21},
    {"encode into exactly enough room", ID, FEDMSG_LINE, "a\n", 24, 24},
    {"encode into one byte too few", ID, FEDMSG_LINE, "a\n", 23, -ENOBUFS},
    {"encode a ping into too little room", ID, FEDMSG_PING, NULL, 20, -ENOBUFS},
    {"encode refuses two lines", ID, FEDMSG_LINE, "a\nb\n", 64, -EINVAL},
    {"encode refuses a line without LF", ID, FEDMSG_LINE, "a", 64, -EINVAL},
    {"encode refuses a bad id", "0123456789abcdeX", FEDMSG_LINE, "a\n", 64, -EINVAL},
    {"encode refuses a bad kind", ID, (enum fedmsg_kind)'z', "a\n", 64, -EINVAL},
    {"encode refuses a line without text", ID, FEDMSG_LINE, NULL, 64, -EINVAL},
};
/* clang-format on */

static void test_encode(void **state)
{
    const struct enc_case *c = *state;
    char out[128];
    struct fedmsg m;
    size_t n = c->line ? strlen(c->line) : 0;

    memset(out, 0x5a, sizeof out);
    long rc = fedmsg_encode(out, c->cap, c->id, c->kind, c->line, n);
    if (rc != c->want)
        fail_msg("%s: gave %ld, want %ld", c->name, rc, c->want);
    for (size_t i = c->cap; i < sizeof out; i++)
        if (out[i] != 0x5a)
            fail_msg("%s: byte %zu past the room was written", c->name, i);
    if (rc < 0)
        return;
    /* What was encoded parses back to the same thing. */
    assert_int_equal(fedmsg_parse(out, (size_t)rc, MAX, &m), 0);
    assert_memory_equal(m.id, c->id, FEDMSG_ID_LEN);
    assert_int_equal(m.kind, c->kind);
    if (c->line != NULL) {
        assert_int_equal(m.len, n);
        assert_memory_equal(m.line, c->line, n);
    } else {
        assert_null(m.line);
    }
}

struct line_case {
    const char *name;
    const char *in;
    size_t max;
    bool want;
};

/* clang-format off */
static const struct line_case line_cases[] = {
    {"history line", "ann: hi\n", 64, true},
    {"history line at max", "ab\n", 3, true},
    {"history line past max", "abc\n", 3, false},
    {"history line without LF", "ann: hi", 64, false},
    {"history line with two LFs", "a\nb\n", 64, false},
    {"history line empty", "", 64, false},
};
/* clang-format on */

static void test_line_ok(void **state)
{
    const struct line_case *c = *state;
    struct guard g;
    size_t len = strlen(c->in);

    guard_open(&g, len + 1);
    bool got = fedmsg_line_ok(guard_put(&g, c->in, len), len, c->max);
    guard_close(&g);
    if (got != c->want)
        fail_msg("%s: gave %d", c->name, got);
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, cases, test_parse);
    UNIT_ADD_ROWS(&l, enc_cases, test_encode);
    UNIT_ADD_ROWS(&l, line_cases, test_line_ok);
    return unit_run("fedmsg", &l);
}
