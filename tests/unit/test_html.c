/* Unit tests for proto/html: HTML text escaping and URL path encoding, for
 * every byte value. */
#include "unit.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "proto/html.h"

#define FFFD "\xef\xbf\xbd"

/* Fails unless b holds exactly want[0..wlen). */
static void check_buf(const char *row, const struct buf *b, const char *want, size_t wlen)
{
    if (buf_len(b) != wlen || (wlen > 0 && memcmp(buf_rptr(b), want, wlen) != 0))
        fail_msg("%s: got \"%.*s\" (%zu bytes), want \"%.*s\" (%zu bytes)", row, (int)buf_len(b),
                 buf_len(b) ? buf_rptr(b) : "", buf_len(b), (int)wlen, want, wlen);
}

struct escape_case {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen(in) */
    const char *want;
};

/* clang-format off */
static const struct escape_case escape_cases[] = {
    {"escape: script tag", "<script>alert(1)</script>", 0,
     "&lt;script&gt;alert(1)&lt;/script&gt;"},
    {"escape: ampersand", "x&y", 0, "x&amp;y"},
    {"escape: valid UTF-8 kept", "\xe4\xb8\xad\xe6\x96\x87.txt", 0, "\xe4\xb8\xad\xe6\x96\x87.txt"},
    {"escape: GBK bytes replaced", "\xd6\xd0", 0, FFFD FFFD},
    {"escape: cut sequence replaced", "a\xe4\xb8", 0, "a" FFFD FFFD},
    {"escape: double quote", "a\"b", 0, "a&quot;b"},
    {"escape: single quote", "it's", 0, "it&#39;s"},
    {"escape: all five", "<>&\"'", 0, "&lt;&gt;&amp;&quot;&#39;"},
    {"escape: references are escaped again", "&amp;&#39;", 0, "&amp;amp;&amp;#39;"},
    {"escape: attribute breakout", "\" onmouseover=\"x", 0, "&quot; onmouseover=&quot;x"},
    {"escape: tab kept", "a\tb", 0, "a\tb"},
    {"escape: newline replaced", "a\nb", 0, "a" FFFD "b"},
    {"escape: CR replaced", "a\rb", 0, "a" FFFD "b"},
    {"escape: NUL replaced", "a\0b", 3, "a" FFFD "b"},
    {"escape: 0x01 and 0x1f replaced", "\x01\x1f", 0, FFFD FFFD},
    {"escape: ESC replaced", "\x1b[31m", 0, FFFD "[31m"},
    {"escape: DEL replaced", "a\x7f", 0, "a" FFFD},
    {"escape: space kept", "a b", 0, "a b"},
    {"escape: UTF-8 kept", "caf\xc3\xa9 \xe4\xb8\xad", 0, "caf\xc3\xa9 \xe4\xb8\xad"},
    {"escape: percent kept", "%41", 0, "%41"},
    {"escape: empty", "", 0, ""},
};
/* clang-format on */

static void test_escape(void **state)
{
    const struct escape_case *c = *state;
    size_t len = c->len ? c->len : strlen(c->in);
    struct buf b;
    struct guard g;

    guard_open(&g, len);
    buf_init(&b, 1 << 16);
    assert_int_equal(html_escape(&b, guard_put(&g, c->in, len), len), 0);
    check_buf(c->name, &b, c->want, strlen(c->want));
    buf_free(&b);
    guard_close(&g);
}

/* What html_escape must write for the byte c. */
static const char *escaped_byte(unsigned c, char one[2])
{
    switch (c) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&#39;";
    }
    /* Control bytes, and any byte of 0x80 or more standing alone (never a
     * whole UTF-8 sequence), keep the page valid UTF-8 as U+FFFD. */
    if ((c < 0x20 && c != '\t') || c >= 0x7f)
        return FFFD;
    one[0] = (char)c;
    one[1] = '\0';
    return one;
}

static void test_escape_every_byte(void **state)
{
    struct buf b, all;
    char one[2], in[256], name[32];

    buf_init(&b, 64);
    buf_init(&all, 4096);
    for (unsigned c = 0; c < 256; c++) {
        in[c] = (char)c;
        const char *want = escaped_byte(c, one);
        assert_int_equal(html_escape(&b, &in[c], 1), 0);
        snprintf(name, sizeof name, "byte 0x%02x", c);
        check_buf(name, &b, want, strlen(want));
        buf_consume(&b, buf_len(&b));
        assert_int_equal(buf_puts(&all, want), 0);
    }
    /* All at once gives the same as one at a time. */
    assert_int_equal(html_escape(&b, in, sizeof in), -ENOBUFS);
    buf_free(&b);
    buf_init(&b, 4096);
    assert_int_equal(html_escape(&b, in, sizeof in), 0);
    check_buf("all bytes", &b, buf_rptr(&all), buf_len(&all));
    buf_free(&b);
    buf_free(&all);
}

/* An escape that does not fit the buffer's cap is -ENOBUFS. */
static void test_escape_nobufs(void **state)
{
    struct buf b;

    buf_init(&b, 7);
    assert_int_equal(html_escape(&b, "<<", 2), -ENOBUFS);
    assert_true(buf_len(&b) <= 7);
    buf_free(&b);
    buf_init(&b, 8);
    assert_int_equal(html_escape(&b, "<<", 2), 0);
    check_buf("two", &b, "&lt;&lt;", 8);
    buf_free(&b);
}

static bool unreserved(unsigned c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* Every byte, alone and all together, with and without keep_slash. */
static void test_encode_every_byte(void **state)
{
    static const char hex[] = "0123456789ABCDEF";
    char in[256], want[4], name[48];
    struct buf b, all;

    for (int keep = 0; keep <= 1; keep++) {
        buf_init(&b, 16);
        buf_init(&all, 1024);
        for (unsigned c = 0; c < 256; c++) {
            in[c] = (char)c;
            if (unreserved(c) || (keep && c == '/')) {
                want[0] = (char)c;
                want[1] = '\0';
            } else {
                want[0] = '%';
                want[1] = hex[c >> 4];
                want[2] = hex[c & 15];
                want[3] = '\0';
            }
            assert_int_equal(url_encode(&b, &in[c], 1, keep), 0);
            snprintf(name, sizeof name, "byte 0x%02x keep_slash %d", c, keep);
            check_buf(name, &b, want, strlen(want));
            buf_consume(&b, buf_len(&b));
            assert_int_equal(buf_puts(&all, want), 0);
        }
        buf_free(&b);
        buf_init(&b, 1024);
        assert_int_equal(url_encode(&b, in, sizeof in, keep), 0);
        check_buf(keep ? "all bytes keeping /" : "all bytes", &b, buf_rptr(&all), buf_len(&all));
        /* 66 unreserved bytes stay, the other 190 (189 with /) take 3. */
        assert_int_equal(buf_len(&b), keep ? 67 + 189 * 3 : 66 + 190 * 3);
        buf_free(&b);
        buf_free(&all);
    }
}

struct encode_case {
    const char *name;
    const char *in;
    int keep_slash;
    const char *want;
};

static const struct encode_case encode_cases[] = {
    {"encode: space and slash", "a b/c", 0, "a%20b%2Fc"},
    {"encode: slash kept", "a b/c", 1, "a%20b/c"},
    {"encode: percent", "%41", 0, "%2541"},
    {"encode: query and fragment", "a?b#c", 1, "a%3Fb%23c"},
    {"encode: script tag", "<script>", 0, "%3Cscript%3E"},
    {"encode: quote", "a\"b", 0, "a%22b"},
    {"encode: UTF-8", "\xe4\xb8\xad", 0, "%E4%B8%AD"},
    {"encode: unreserved kept", "AZaz09-._~", 0, "AZaz09-._~"},
    {"encode: empty", "", 0, ""},
};

static void test_encode(void **state)
{
    const struct encode_case *c = *state;
    size_t len = strlen(c->in);
    struct buf b;
    struct guard g;

    guard_open(&g, len);
    buf_init(&b, 1024);
    assert_int_equal(url_encode(&b, guard_put(&g, c->in, len), len, c->keep_slash), 0);
    check_buf(c->name, &b, c->want, strlen(c->want));
    buf_free(&b);
    guard_close(&g);
}

static void test_encode_nobufs(void **state)
{
    struct buf b;

    buf_init(&b, 5);
    assert_int_equal(url_encode(&b, "  ", 2, 0), -ENOBUFS);
    assert_true(buf_len(&b) <= 5);
    buf_free(&b);
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, escape_cases, test_escape);
    unit_add(&l, "escape: every byte", test_escape_every_byte, NULL);
    unit_add(&l, "escape: past the buffer cap", test_escape_nobufs, NULL);
    unit_add(&l, "encode: every byte", test_encode_every_byte, NULL);
    UNIT_ADD_ROWS(&l, encode_cases, test_encode);
    unit_add(&l, "encode: past the buffer cap", test_encode_nobufs, NULL);
    return unit_run("html", &l);
}
