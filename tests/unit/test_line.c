/* Unit tests for proto/line: messages on a byte stream. Each row is an input
 * and the messages it holds when the peer then waits (drained). Every row is
 * checked four ways: split whole; at every truncation point while more may
 * come (the parser waits or gives exactly the first message); at every
 * truncation point with the peer waiting (the bytes so far are a message);
 * and fed one byte at a time, as a slow peer sends it. Inputs sit against a
 * guard page, so reading past the end crashes. */
#include "unit.h"

#include <stdio.h>

#include "proto/line.h"

/* A string literal and its length, NULs included. */
#define S(s) s, sizeof(s) - 1

#define MAX_MSGS 8

/* The text of a message is `a` bytes of 'a' followed by text[0..tlen). */
struct msg {
    size_t a;
    const char *text;
    size_t tlen;
    const char *eol;
};

struct line_case {
    const char *name;
    size_t a; /* the input is a bytes of 'a' followed by in[0..inlen) */
    const char *in;
    size_t inlen;
    size_t cap;
    size_t n; /* messages, in want */
    struct msg want[MAX_MSGS];
};

#define CAP LINE_DEFAULT_CAP

/* clang-format off */
static const struct line_case cases[] = {
    {"empty input", 0, S(""), 16, 0, {{0}}},
    {"word without a newline", 0, S("hello"), 16, 1, {{0, S("hello"), ""}}},
    {"LF line", 0, S("hello\n"), 16, 1, {{0, S("hello"), "\n"}}},
    {"CRLF line", 0, S("hello\r\n"), 16, 1, {{0, S("hello"), "\r\n"}}},
    {"empty LF line", 0, S("\n"), 16, 1, {{0, S(""), "\n"}}},
    {"empty CRLF line", 0, S("\r\n"), 16, 1, {{0, S(""), "\r\n"}}},
    {"two LF lines", 0, S("ab\ncd\n"), 16, 2, {{0, S("ab"), "\n"}, {0, S("cd"), "\n"}}},
    {"two CRLF lines", 0, S("ab\r\ncd\r\n"), 16, 2, {{0, S("ab"), "\r\n"}, {0, S("cd"), "\r\n"}}},
    {"CRLF, LF, then a word", 0, S("a\r\nb\nc"), 16, 3,
     {{0, S("a"), "\r\n"}, {0, S("b"), "\n"}, {0, S("c"), ""}}},
    {"empty lines in a row", 0, S("\n\r\n\n"), 16, 3,
     {{0, S(""), "\n"}, {0, S(""), "\r\n"}, {0, S(""), "\n"}}},
    {"CR inside the text", 0, S("a\rb\n"), 16, 1, {{0, S("a\rb"), "\n"}}},
    {"CR CR LF keeps the first CR", 0, S("a\r\r\n"), 16, 1, {{0, S("a\r"), "\r\n"}}},
    {"LF CR: the CR starts the next message", 0, S("a\n\rb"), 16, 2,
     {{0, S("a"), "\n"}, {0, S("\rb"), ""}}},
    {"lone CR at the end is text once drained", 0, S("ab\r"), 16, 1, {{0, S("ab\r"), ""}}},
    {"lone CR alone", 0, S("\r"), 16, 1, {{0, S("\r"), ""}}},
    {"NUL bytes are text", 0, S("a\0b\n\0"), 16, 2, {{0, S("a\0b"), "\n"}, {0, S("\0"), ""}}},
    {"8-bit bytes are text (GBK)", 0, S("\xc4\xe3\xba\xc3\r\n"), 16, 1,
     {{0, S("\xc4\xe3\xba\xc3"), "\r\n"}}},
    {"exit is just a message", 0, S("exit\n"), 16, 1, {{0, S("exit"), "\n"}}},
    /* The cap. */
    {"cap: text of cap bytes, no newline", 0, S("abcd"), 4, 1, {{0, S("abcd"), ""}}},
    {"cap: text of cap bytes then LF", 0, S("abcd\n"), 4, 1, {{0, S("abcd"), "\n"}}},
    {"cap: text of cap bytes then CRLF", 0, S("abcd\r\n"), 4, 1, {{0, S("abcd"), "\r\n"}}},
    {"cap: text of cap-1 bytes then CRLF", 0, S("abc\r\n"), 4, 1, {{0, S("abc"), "\r\n"}}},
    {"cap: text of cap bytes then CRLF, twice", 0, S("abcd\r\nefgh\r\n"), 4, 2,
     {{0, S("abcd"), "\r\n"}, {0, S("efgh"), "\r\n"}}},
    {"cap: one byte over, LF", 0, S("abcde\n"), 4, 2, {{0, S("abcd"), ""}, {0, S("e"), "\n"}}},
    {"cap: one byte over, CRLF", 0, S("abcde\r\n"), 4, 2, {{0, S("abcd"), ""}, {0, S("e"), "\r\n"}}},
    {"cap: CR after cap bytes, then text", 0, S("abcd\rx\n"), 4, 2,
     {{0, S("abcd"), ""}, {0, S("\rx"), "\n"}}},
    {"cap: a CR within the cap, then text over it", 0, S("abc\rX\n"), 4, 2,
     {{0, S("abc\r"), ""}, {0, S("X"), "\n"}}},
    {"cap: three pieces, no newline", 0, S("aaaabbbbcc"), 4, 3,
     {{0, S("aaaa"), ""}, {0, S("bbbb"), ""}, {0, S("cc"), ""}}},
    {"cap: two full pieces, nothing after", 0, S("aaaabbbb"), 4, 2,
     {{0, S("aaaa"), ""}, {0, S("bbbb"), ""}}},
    {"cap 1: every byte a message", 0, S("ab\r\n"), 1, 2, {{0, S("a"), ""}, {0, S("b"), "\r\n"}}},
    {"cap 1: empty lines still whole", 0, S("\r\n\n"), 1, 2, {{0, S(""), "\r\n"}, {0, S(""), "\n"}}},
    {"default cap: 4096 bytes then CRLF", CAP, S("\r\n"), CAP, 1, {{CAP, S(""), "\r\n"}}},
    {"default cap: 4096 bytes then LF", CAP, S("\n"), CAP, 1, {{CAP, S(""), "\n"}}},
    {"default cap: 4095 bytes then CRLF", CAP - 1, S("\r\n"), CAP, 1, {{CAP - 1, S(""), "\r\n"}}},
    {"default cap: 4097 bytes then LF", CAP + 1, S("\n"), CAP, 2,
     {{CAP, S(""), ""}, {1, S(""), "\n"}}},
    {"default cap: 4097 bytes then CRLF", CAP + 1, S("\r\n"), CAP, 2,
     {{CAP, S(""), ""}, {1, S(""), "\r\n"}}},
    {"default cap: 10000 bytes then LF", 10000, S("\n"), CAP, 3,
     {{CAP, S(""), ""}, {CAP, S(""), ""}, {10000 - 2 * CAP, S(""), "\n"}}},
    {"default cap: 8192 bytes, no newline", 2 * CAP, S(""), CAP, 2, {{CAP, S(""), ""}, {CAP, S(""), ""}}},
};
/* clang-format on */

/* ---- helpers ------------------------------------------------------------ */

static size_t case_len(const struct line_case *c)
{
    return c->a + c->inlen;
}

/* The row's input, built in a static buffer (a failed check jumps out of
 * the test, so nothing is allocated). */
static char *case_input(const struct line_case *c)
{
    static char p[16384];

    assert_true(case_len(c) <= sizeof p);
    memset(p, 'a', c->a);
    memcpy(p + c->a, c->in, c->inlen);
    return p;
}

static size_t msg_len(const struct msg *m)
{
    return m->a + m->tlen;
}

static size_t msg_consumed(const struct msg *m)
{
    return msg_len(m) + strlen(m->eol);
}

static bool msg_text_is(const struct msg *m, const char *p, size_t len)
{
    if (len != msg_len(m))
        return false;
    for (size_t i = 0; i < m->a; i++)
        if (p[i] != 'a')
            return false;
    return memcmp(p + m->a, m->text, m->tlen) == 0;
}

/* Fails unless got is the message m at the start of buf[0..len). */
static void check_msg(const char *row, const char *how, size_t k, const struct line *got,
                      const struct msg *m, const char *buf, size_t len)
{
    if (got->text != buf)
        fail_msg("%s: %s at %zu bytes: text does not start the input", row, how, k);
    if (got->consumed > len || got->len > got->consumed)
        fail_msg("%s: %s at %zu bytes: len %zu, consumed %zu of %zu", row, how, k, got->len,
                 got->consumed, len);
    if (!msg_text_is(m, got->text, got->len) || strcmp(got->eol, m->eol) != 0 ||
        got->consumed != msg_consumed(m))
        fail_msg("%s: %s at %zu bytes: got \"%.*s\" (%zu bytes, eol %zu bytes, consumed %zu), "
                 "want %zu bytes ending \"%.*s\", eol %zu bytes, consumed %zu",
                 row, how, k, (int)(got->len < 40 ? got->len : 40), got->text, got->len,
                 strlen(got->eol), got->consumed, msg_len(m), (int)m->tlen, m->text, strlen(m->eol),
                 msg_consumed(m));
    if (got->consumed != got->len + strlen(got->eol))
        fail_msg("%s: %s at %zu bytes: consumed %zu is not len %zu plus the eol", row, how, k,
                 got->consumed, got->len);
}

/* ---- tests -------------------------------------------------------------- */

/* The whole input with the peer waiting splits into exactly the row's
 * messages, and then nothing is left. */
static void test_split(void **state)
{
    const struct line_case *c = *state;
    size_t len = case_len(c), off = 0, n = 0;
    char *in = case_input(c);
    struct guard g;
    struct line ln;

    guard_open(&g, len);
    for (size_t round = 0; round <= MAX_MSGS; round++) {
        const char *p = guard_put(&g, in + off, len - off);
        if (!line_next(p, len - off, c->cap, true, &ln))
            break;
        if (n == c->n)
            fail_msg("%s: more than %zu messages", c->name, c->n);
        check_msg(c->name, "split", off, &ln, &c->want[n], p, len - off);
        off += ln.consumed;
        n++;
    }
    if (n != c->n || off != len)
        fail_msg("%s: %zu messages using %zu of %zu bytes, want %zu", c->name, n, off, len, c->n);
    guard_close(&g);
}

/* While the peer may send more, every prefix either waits or gives exactly
 * the first message of the whole input: what arrives later cannot change a
 * message already given. */
static void test_truncated(void **state)
{
    const struct line_case *c = *state;
    size_t len = case_len(c);
    char *in = case_input(c);
    struct guard g;
    struct line ln;

    guard_open(&g, len);
    for (size_t k = 0; k <= len; k++) {
        const char *p = guard_put(&g, in, k);
        if (!line_next(p, k, c->cap, false, &ln))
            continue;
        if (c->n == 0)
            fail_msg("%s: a message from %zu bytes of an input holding none", c->name, k);
        check_msg(c->name, "more may come", k, &ln, &c->want[0], p, k);
    }
    guard_close(&g);
}

/* With the peer waiting, every non-empty prefix is a message: the first
 * message of the whole input once the prefix holds it, else the prefix
 * itself (at most cap bytes of it) with no line ending. */
static void test_truncated_drained(void **state)
{
    const struct line_case *c = *state;
    size_t len = case_len(c);
    char *in = case_input(c);
    struct guard g;
    struct line ln;

    guard_open(&g, len);
    for (size_t k = 0; k <= len; k++) {
        const char *p = guard_put(&g, in, k);
        bool got = line_next(p, k, c->cap, true, &ln);
        if (got != (k > 0))
            fail_msg("%s: drained at %zu bytes returned %d", c->name, k, got);
        if (!got)
            continue;
        if (k >= msg_consumed(&c->want[0])) {
            check_msg(c->name, "drained", k, &ln, &c->want[0], p, k);
            continue;
        }
        size_t want = k < c->cap ? k : c->cap;
        if (ln.text != p || ln.len != want || ln.eol[0] != '\0' || ln.consumed != want)
            fail_msg("%s: drained at %zu bytes: got %zu bytes, eol %zu bytes, consumed %zu; want "
                     "%zu bytes, no eol",
                     c->name, k, ln.len, strlen(ln.eol), ln.consumed, want);
    }
    guard_close(&g);
}

/* A peer that sends one byte at a time and then waits: each byte arrives
 * while more may come, the end with the peer waiting. The messages are the
 * same as for the whole input at once. */
static void test_bytewise(void **state)
{
    const struct line_case *c = *state;
    size_t len = case_len(c), off = 0, n = 0;
    char *in = case_input(c);
    struct guard g;
    struct line ln;

    guard_open(&g, len);
    for (size_t k = 0; k <= len; k++) {
        bool drained = k == len;
        for (size_t round = 0; round <= MAX_MSGS; round++) {
            const char *p = guard_put(&g, in + off, k - off);
            if (!line_next(p, k - off, c->cap, drained, &ln))
                break;
            if (n == c->n)
                fail_msg("%s: byte by byte, an extra message of %zu bytes (eol %zu bytes) after "
                         "%zu bytes",
                         c->name, ln.len, strlen(ln.eol), k);
            check_msg(c->name, "byte by byte", k, &ln, &c->want[n], p, k - off);
            off += ln.consumed;
            n++;
        }
    }
    if (n != c->n || off != len)
        fail_msg("%s: byte by byte gave %zu messages using %zu of %zu bytes, want %zu", c->name, n,
                 off, len, c->n);
    guard_close(&g);
}

/* Named cases the tables say only in passing. */

static void test_empty_not_drained(void **state)
{
    struct line ln;
    (void)state;

    assert_false(line_next("", 0, 16, false, &ln));
    assert_false(line_next("", 0, 16, true, &ln));
    /* an empty buffer that was never given storage (buf_rptr of a freed
     * buffer): nothing is read from it (UBSan would stop on memchr(NULL)) */
    assert_false(line_next(NULL, 0, 16, false, &ln));
    assert_false(line_next(NULL, 0, 16, true, &ln));
}

static void test_word_waits_until_drained(void **state)
{
    struct guard g;
    struct line ln;
    (void)state;

    guard_open(&g, 8);
    const char *p = guard_put(&g, "hello", 5);
    assert_false(line_next(p, 5, 16, false, &ln));
    assert_true(line_next(p, 5, 16, true, &ln));
    assert_int_equal(ln.len, 5);
    assert_memory_equal(ln.text, "hello", 5);
    assert_string_equal(ln.eol, "");
    assert_int_equal(ln.consumed, 5);
    guard_close(&g);
}

/* A CR with nothing after it may be half of a CRLF still in flight. */
static void test_trailing_cr_waits(void **state)
{
    struct guard g;
    struct line ln;
    (void)state;

    guard_open(&g, 8);
    const char *p = guard_put(&g, "ab\r", 3);
    assert_false(line_next(p, 3, 16, false, &ln));
    guard_close(&g);
}

/* The bytes after a message are left for the next call. */
static void test_rest_untouched(void **state)
{
    struct line ln;
    (void)state;

    assert_true(line_next("one\ntwo", 7, 16, false, &ln));
    assert_int_equal(ln.len, 3);
    assert_int_equal(ln.consumed, 4);
    assert_false(line_next("one\ntwo" + 4, 3, 16, false, &ln));
}

/* A cap-length text whose line ending has not arrived yet must not be cut,
 * nor a text of cap-1 bytes before a CR: the cut would turn the late line
 * ending into an extra empty message. More may come in each row. */
struct wait_case {
    const char *name;
    const char *in;
    size_t cap;
};

/* clang-format off */
static const struct wait_case wait_cases[] = {
    {"waits: cap bytes, the line ending may follow", "abcd", 4},
    {"waits: cap bytes and a CR, the LF may follow", "abcd\r", 4},
    {"waits: cap-1 bytes and a CR, the LF may follow", "abc\r", 4},
    {"waits: cap 1, a CR alone", "\r", 1},
};
/* clang-format on */

static void test_waits(void **state)
{
    const struct wait_case *c = *state;
    size_t len = strlen(c->in);
    struct guard g;
    struct line ln;

    guard_open(&g, len);
    const char *p = guard_put(&g, c->in, len);
    if (line_next(p, len, c->cap, false, &ln))
        fail_msg("%s: %zu bytes with cap %zu gave a message of %zu bytes (consumed %zu)", c->name,
                 len, c->cap, ln.len, ln.consumed);
    guard_close(&g);
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, cases, test_split);
    static char names[3][ARRAY_LEN(cases)][128];
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        snprintf(names[0][i], sizeof names[0][i], "%s (truncated)", cases[i].name);
        snprintf(names[1][i], sizeof names[1][i], "%s (truncated, drained)", cases[i].name);
        snprintf(names[2][i], sizeof names[2][i], "%s (byte by byte)", cases[i].name);
        unit_add(&l, names[0][i], test_truncated, &cases[i]);
        unit_add(&l, names[1][i], test_truncated_drained, &cases[i]);
        unit_add(&l, names[2][i], test_bytewise, &cases[i]);
    }
    unit_add(&l, "empty input is never a message", test_empty_not_drained, NULL);
    unit_add(&l, "a word waits until the peer waits", test_word_waits_until_drained, NULL);
    unit_add(&l, "a trailing CR waits for its LF", test_trailing_cr_waits, NULL);
    unit_add(&l, "the bytes after a message are left", test_rest_untouched, NULL);
    UNIT_ADD_ROWS(&l, wait_cases, test_waits);
    return unit_run("line", &l);
}
