/* Unit tests for core/charset: UTF-8 validation and GB18030 to UTF-8. */
#include "unit.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "core/charset.h"

struct utf8_case {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen(in) */
    bool valid;
};

/* clang-format off */
static const struct utf8_case utf8_cases[] = {
    {"utf8: empty", "", 0, true},
    {"utf8: ASCII", "hello.txt", 0, true},
    {"utf8: NUL is a character", "a\0b", 3, true},
    {"utf8: DEL", "\x7f", 0, true},
    {"utf8: two bytes", "caf\xc3\xa9", 0, true},
    {"utf8: three bytes", "\xe4\xb8\xad\xe6\x96\x87", 0, true},
    {"utf8: four bytes", "\xf0\x9f\x98\x80", 0, true},
    {"utf8: U+0080, smallest two-byte", "\xc2\x80", 0, true},
    {"utf8: U+07FF, largest two-byte", "\xdf\xbf", 0, true},
    {"utf8: U+0800, smallest three-byte", "\xe0\xa0\x80", 0, true},
    {"utf8: U+D7FF, below the surrogates", "\xed\x9f\xbf", 0, true},
    {"utf8: U+E000, above the surrogates", "\xee\x80\x80", 0, true},
    {"utf8: U+FFFD", "\xef\xbf\xbd", 0, true},
    {"utf8: U+FFFF", "\xef\xbf\xbf", 0, true},
    {"utf8: U+10000, smallest four-byte", "\xf0\x90\x80\x80", 0, true},
    {"utf8: U+10FFFF, the largest", "\xf4\x8f\xbf\xbf", 0, true},
    {"utf8: overlong slash in two bytes", "\xc0\xaf", 0, false},
    {"utf8: overlong NUL in two bytes", "\xc0\x80", 0, false},
    {"utf8: overlong U+007F in two bytes", "\xc1\xbf", 0, false},
    {"utf8: overlong slash in three bytes", "\xe0\x80\xaf", 0, false},
    {"utf8: overlong U+07FF in three bytes", "\xe0\x9f\xbf", 0, false},
    {"utf8: overlong slash in four bytes", "\xf0\x80\x80\xaf", 0, false},
    {"utf8: overlong U+FFFF in four bytes", "\xf0\x8f\xbf\xbf", 0, false},
    {"utf8: overlong in five bytes", "\xf8\x80\x80\x80\xaf", 0, false},
    {"utf8: surrogate U+D800", "\xed\xa0\x80", 0, false},
    {"utf8: surrogate U+DBFF", "\xed\xaf\xbf", 0, false},
    {"utf8: surrogate U+DC00", "\xed\xb0\x80", 0, false},
    {"utf8: surrogate U+DFFF", "\xed\xbf\xbf", 0, false},
    {"utf8: surrogate pair as CESU-8", "\xed\xa0\xbd\xed\xb8\x80", 0, false},
    {"utf8: U+110000", "\xf4\x90\x80\x80", 0, false},
    {"utf8: F5 lead byte", "\xf5\x80\x80\x80", 0, false},
    {"utf8: F7 lead byte", "\xf7\xbf\xbf\xbf", 0, false},
    {"utf8: FE", "\xfe", 0, false},
    {"utf8: FF", "\xff", 0, false},
    {"utf8: lone continuation 80", "\x80", 0, false},
    {"utf8: lone continuation BF", "a\xbf", 0, false},
    {"utf8: truncated two-byte", "\xc3", 0, false},
    {"utf8: truncated three-byte after one", "\xe4", 0, false},
    {"utf8: truncated three-byte after two", "\xe4\xb8", 0, false},
    {"utf8: truncated four-byte after three", "\xf0\x9f\x98", 0, false},
    {"utf8: truncated at the end of text", "abc\xe4\xb8\xad\xe6", 0, false},
    {"utf8: ASCII where a continuation belongs", "\xc3\x28", 0, false},
    {"utf8: ASCII in the middle of three bytes", "\xe4\x28\xad", 0, false},
    {"utf8: lead byte where a continuation belongs", "\xe4\xb8\xe4", 0, false},
    {"utf8: GBK bytes", "\xd6\xd0\xce\xc4.txt", 0, false},
};
/* clang-format on */

static void test_utf8(void **state)
{
    const struct utf8_case *c = *state;
    size_t len = c->len ? c->len : strlen(c->in);
    struct guard g;

    guard_open(&g, len);
    bool got = utf8_valid(guard_put(&g, c->in, len), len);
    if (got != c->valid)
        fail_msg("%s: got %d, want %d", c->name, got, c->valid);
    guard_close(&g);
}

/* Every proper prefix of a valid multi-byte text that cuts a character is
 * invalid; every one that ends between characters is valid. */
static void test_utf8_prefixes(void **state)
{
    static const char s[] = "a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80z";
    static const bool boundary[] = {1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 1};
    struct guard g;

    guard_open(&g, sizeof s);
    for (size_t k = 0; k < sizeof s; k++)
        if (utf8_valid(guard_put(&g, s, k), k) != boundary[k])
            fail_msg("prefix of %zu bytes: want %d", k, boundary[k]);
    guard_close(&g);
}

/* Every two-byte sequence from C2..DF with every continuation is valid, and
 * nothing else starting C0/C1 is. */
static void test_utf8_two_byte_space(void **state)
{
    char s[2];

    for (unsigned a = 0x80; a < 0x100; a++)
        for (unsigned b = 0; b < 0x100; b++) {
            s[0] = (char)a;
            s[1] = (char)b;
            bool want = a >= 0xc2 && a <= 0xdf && b >= 0x80 && b <= 0xbf;
            if (utf8_valid(s, 2) != want)
                fail_msg("%02x %02x: want %d", a, b, want);
        }
}

struct gb_case {
    const char *name;
    const char *in;
    long want; /* length of out, or a negative errno */
    const char *out;
};

static const struct gb_case gb_cases[] = {
    {"gb18030: GBK file name", "\xd6\xd0\xce\xc4.txt", 10, "\xe4\xb8\xad\xe6\x96\x87.txt"},
    {"gb18030: ASCII", "plain.txt", 9, "plain.txt"},
    {"gb18030: empty", "", 0, ""},
    {"gb18030: four-byte form of U+0080", "\x81\x30\x81\x30", 2, "\xc2\x80"},
    {"gb18030: four-byte form of U+1F600", "\x94\x39\xfc\x36", 4, "\xf0\x9f\x98\x80"},
    {"gb18030: FF is not a lead byte", "a\xff", -EILSEQ, NULL},
    {"gb18030: lead byte without trail", "\xd6", -EILSEQ, NULL},
    {"gb18030: lead byte at the end", "abc\xd6\xd0\xce", -EILSEQ, NULL},
    {"gb18030: space as trail byte", "\xd6\x20", -EILSEQ, NULL},
    {"gb18030: truncated four-byte", "\x81\x30\x81", -EILSEQ, NULL},
};

static void test_gb(void **state)
{
    const struct gb_case *c = *state;
    size_t len = strlen(c->in);
    char out[64];
    struct guard g;

    guard_open(&g, len);
    memset(out, 'Z', sizeof out);
    long got = gb18030_to_utf8(guard_put(&g, c->in, len), len, out, sizeof out);
    if (got != c->want)
        fail_msg("%s: got %ld, want %ld", c->name, got, c->want);
    if (got >= 0 && strcmp(out, c->out) != 0)
        fail_msg("%s: got \"%s\", want \"%s\"", c->name, out, c->out);
    guard_close(&g);
}

/* The output needs room for the text and a NUL: a byte less is -ENOSPC,
 * and nothing is written past outsz either way. */
static void test_gb_small_out(void **state)
{
    static const char in[] = "\xd6\xd0\xce\xc4.txt";
    static const char want[] = "\xe4\xb8\xad\xe6\x96\x87.txt";
    char out[32];

    for (size_t sz = 0; sz <= sizeof want; sz++) {
        memset(out, 'Z', sizeof out);
        long got = gb18030_to_utf8(in, sizeof in - 1, out, sz);
        long expect = sz < sizeof want ? -ENOSPC : (long)sizeof want - 1;
        if (got != expect)
            fail_msg("outsz %zu: got %ld, want %ld", sz, got, expect);
        for (size_t k = sz; k < sizeof out; k++)
            if (out[k] != 'Z')
                fail_msg("outsz %zu: byte %zu written", sz, k);
    }
    assert_string_equal(out, want);
}

static void test_convert_names(void **state)
{
    char out[32];

    assert_int_equal(charset_convert("GBK", "UTF-8", "\xe4\xb8\xad", 3, out, sizeof out), 2);
    assert_memory_equal(out, "\xd6\xd0", 3);
    assert_int_equal(charset_convert("GBK", "UTF-8", "\xf0\x9f\x98\x80", 4, out, sizeof out),
                     -EILSEQ); /* no form in GBK */
    long rc = charset_convert("UTF-8", "NO-SUCH-CHARSET", "a", 1, out, sizeof out);
    assert_true(rc < 0 && rc != -EILSEQ && rc != -ENOSPC);
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, utf8_cases, test_utf8);
    unit_add(&l, "utf8: every prefix of mixed text", test_utf8_prefixes, NULL);
    unit_add(&l, "utf8: every two-byte sequence", test_utf8_two_byte_space, NULL);
    UNIT_ADD_ROWS(&l, gb_cases, test_gb);
    unit_add(&l, "gb18030: output buffer too small", test_gb_small_out, NULL);
    unit_add(&l, "convert: other charsets and an unknown one", test_convert_names, NULL);
    return unit_run("charset", &l);
}
