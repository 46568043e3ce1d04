/* Unit tests for proto/tty: what a terminal is shown of network bytes.
 * Each case is checked whole, then cut in two at every point and fed a
 * byte at a time (the state must finish cut sequences), with the input
 * against a guard page. */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "proto/tty.h"

struct tty_case {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen(in) */
    const char *want;
};

/* clang-format off */
static const struct tty_case cases[] = {
    {"plain text", "hello, world", 0, "hello, world"},
    {"tab and LF kept", "a\tb\n", 0, "a\tb\n"},
    {"CRLF kept", "line\r\n", 0, "line\r\n"},
    {"bare CR shown", "fake\roverwrite", 0, "fake^Moverwrite"},
    {"CR at the very end shown", "end\r", 0, "end^M"},
    {"CR CR LF", "a\r\r\n", 0, "a^M\r\n"},
    {"clear screen", "\x1b[2J\x1b[H", 0, "^[[2J^[[H"},
    {"window title (OSC 0, BEL)", "\x1b]0;pwned\x07", 0, "^[]0;pwned^G"},
    {"OSC 52 clipboard write", "\x1b]52;c;ZWNobyBoaQ==\x1b\\", 0, "^[]52;c;ZWNobyBoaQ==^[\\"},
    {"cursor position report request", "\x1b[6n", 0, "^[[6n"},
    {"NUL", "a\0b", 3, "a^@b"},
    {"backspace", "abc\b\b", 0, "abc^H^H"},
    {"DEL", "x\x7f", 0, "x^?"},
    {"8-bit CSI as a raw byte", "\x9b" "6n", 0, "\\x9b6n"},
    {"8-bit CSI as UTF-8 (U+009B)", "\xc2\x9b" "2J", 0, "\\x9b2J"},
    {"U+0080 and U+009F", "\xc2\x80\xc2\x9f", 0, "\\x80\\x9f"},
    {"U+00A0 is text", "\xc2\xa0", 0, "\xc2\xa0"},
    {"latin letters", "caf\xc3\xa9 \xc3\xbc", 0, "caf\xc3\xa9 \xc3\xbc"},
    {"CJK", "\xe4\xbd\xa0\xe5\xa5\xbd", 0, "\xe4\xbd\xa0\xe5\xa5\xbd"},
    {"emoji (4 bytes)", "\xf0\x9f\x98\x80", 0, "\xf0\x9f\x98\x80"},
    {"U+10FFFF", "\xf4\x8f\xbf\xbf", 0, "\xf4\x8f\xbf\xbf"},
    {"past U+10FFFF", "\xf4\x90\x80\x80", 0, "\\xf4\\x90\\x80\\x80"},
    {"overlong slash (C0 AF)", "\xc0\xaf", 0, "\\xc0\\xaf"},
    {"overlong ESC (C0 9B)", "\xc0\x9b", 0, "\\xc0\\x9b"},
    {"overlong ESC (C1 9B)", "\xc1\x9b", 0, "\\xc1\\x9b"},
    {"overlong 3 bytes (E0 80 AF)", "\xe0\x80\xaf", 0, "\\xe0\\x80\\xaf"},
    {"overlong 4 bytes (F0 80 80 AF)", "\xf0\x80\x80\xaf", 0, "\\xf0\\x80\\x80\\xaf"},
    {"surrogate (ED A0 80)", "\xed\xa0\x80", 0, "\\xed\\xa0\\x80"},
    {"lone continuation byte", "a\x80z", 0, "a\\x80z"},
    {"F5..FF", "\xf5\xfe\xff", 0, "\\xf5\\xfe\\xff"},
    {"cut sequence before ASCII", "\xe4\xbd" "a", 0, "\\xe4\\xbda"},
    {"cut sequence before ESC", "\xe4\x1b[2J", 0, "\\xe4^[[2J"},
    {"cut sequence at the end", "ok\xe4\xbd", 0, "ok\\xe4\\xbd"},
    {"lead then another lead", "\xc3\xc3\xa9", 0, "\\xc3\xc3\xa9"},
    {"backslash kept", "a\\x1b", 0, "a\\x1b"},
    {"empty", "", 0, ""},
};
/* clang-format on */

static size_t case_len(const struct tty_case *c)
{
    return c->len ? c->len : strlen(c->in);
}

/* Escapes in[0..n) fed in pieces: cuts[] are the piece ends (the last is
 * n). Returns the whole output, NUL-terminated, in out. */
static size_t feed(const char *in, size_t n, const size_t *cuts, size_t ncuts, char *out,
                   struct guard *g)
{
    struct tty_esc e;
    size_t w = 0, from = 0;

    tty_esc_init(&e);
    for (size_t k = 0; k < ncuts; k++) {
        const char *piece = guard_put(g, in + from, cuts[k] - from);
        long r = tty_escape(&e, piece, cuts[k] - from, out + w, TTY_OUT_MAX(cuts[k] - from));
        assert_true(r >= 0);
        w += (size_t)r;
        from = cuts[k];
    }
    long r = tty_escape_end(&e, out + w, 16);
    assert_true(r >= 0);
    w += (size_t)r;
    out[w] = '\0';
    return w;
}

static void check(const struct tty_case *c, const char *got, size_t n, const char *how)
{
    if (n != strlen(c->want) || memcmp(got, c->want, n) != 0)
        fail_msg("%s (%s): got \"%.*s\", want \"%s\"", c->name, how, (int)n, got, c->want);
}

static void test_case(void **state)
{
    const struct tty_case *c = *state;
    size_t n = case_len(c);
    char out[512];
    size_t cuts[64];
    struct guard g;

    guard_open(&g, 256);
    cuts[0] = n;
    check(c, out, feed(c->in, n, cuts, 1, out, &g), "whole");
    for (size_t at = 0; at <= n; at++) {
        char how[32];
        size_t two[2] = {at, n};
        snprintf(how, sizeof how, "cut at %zu", at);
        check(c, out, feed(c->in, n, two, 2, out, &g), how);
    }
    for (size_t k = 0; k < n; k++)
        cuts[k] = k + 1;
    if (n > 0)
        check(c, out, feed(c->in, n, cuts, n, out, &g), "a byte at a time");
    guard_close(&g);
}

/* Every C0 control but tab and LF, and DEL, is ^ and a letter; CR alone
 * too. */
static void test_every_c0_control(void **state)
{
    struct tty_esc e;
    char out[32];
    (void)state;

    for (int c = 0; c < 0x20; c++) {
        unsigned char in[2] = {(unsigned char)c, 'x'};
        tty_esc_init(&e);
        long r = tty_escape(&e, in, 2, out, sizeof out);
        if (c == '\t' || c == '\n') {
            assert_int_equal(r, 2);
            assert_memory_equal(out, in, 2);
        } else {
            char want[4] = {'^', (char)(c + 0x40), 'x', 0};
            assert_int_equal(r, 3);
            assert_memory_equal(out, want, 3);
        }
    }
    unsigned char del = 0x7f;
    tty_esc_init(&e);
    assert_int_equal(tty_escape(&e, &del, 1, out, sizeof out), 2);
    assert_memory_equal(out, "^?", 2);
}

/* Every C1 control as UTF-8 (C2 80..C2 9F) and every raw byte 0x80..0xFF
 * alone is \xHH; every other two-byte code point is kept. */
static void test_every_c1_control_and_high_byte(void **state)
{
    struct tty_esc e;
    char out[32], want[8];
    (void)state;

    for (int b = 0x80; b <= 0xbf; b++) {
        unsigned char in[2] = {0xc2, (unsigned char)b};
        tty_esc_init(&e);
        long r = tty_escape(&e, in, 2, out, sizeof out);
        if (b <= 0x9f) {
            snprintf(want, sizeof want, "\\x%02x", b);
            assert_int_equal(r, 4);
            assert_memory_equal(out, want, 4);
        } else {
            assert_int_equal(r, 2);
            assert_memory_equal(out, in, 2);
        }
    }
    for (int b = 0x80; b <= 0xff; b++) {
        unsigned char in = (unsigned char)b;
        tty_esc_init(&e);
        long r = tty_escape(&e, &in, 1, out, sizeof out);
        assert_true(r >= 0);
        r += tty_escape_end(&e, out + r, sizeof out - (size_t)r);
        snprintf(want, sizeof want, "\\x%02x", b);
        assert_int_equal(r, 4);
        assert_memory_equal(out, want, 4);
    }
}

/* Too little room is refused before anything is written. */
static void test_room(void **state)
{
    struct tty_esc e;
    char out[64];
    (void)state;

    tty_esc_init(&e);
    assert_int_equal(tty_escape(&e, "abc", 3, out, TTY_OUT_MAX(3) - 1), -ENOBUFS);
    assert_int_equal(tty_escape(&e, "abc", 3, out, TTY_OUT_MAX(3)), 3);
    assert_int_equal(tty_escape(&e, "abc", SIZE_MAX / 2, out, sizeof out), -ENOBUFS);
    assert_int_equal(tty_escape_end(&e, out, 15), -ENOBUFS);
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, cases, test_case);
    unit_add(&l, "every C0 control", test_every_c0_control, NULL);
    unit_add(&l, "every C1 control and high byte", test_every_c1_control_and_high_byte, NULL);
    unit_add(&l, "room", test_room, NULL);
    return unit_run("tty", &l);
}
