/* Unit tests for proto/ledit: each row types a string of keys into an
 * empty line and gives the line and the last key's action. */
#include "unit.h"

#include "proto/ledit.h"

struct le_case {
    const char *name;
    const char *keys;
    size_t cap;
    const char *want;
    enum ledit_act last;
};

/* clang-format off */
static const struct le_case cases[] = {
    {"typing", "hello", 64, "hello", LEDIT_REDRAW},
    {"enter", "hi\r", 64, "hi", LEDIT_ENTER},
    {"enter as LF", "hi\n", 64, "hi", LEDIT_ENTER},
    {"backspace", "hellp\x7fo", 64, "hello", LEDIT_REDRAW},
    {"^H", "ab\x08", 64, "a", LEDIT_REDRAW},
    {"backspace on empty", "\x7f", 64, "", LEDIT_NONE},
    {"backspace takes a whole UTF-8 character", "a\xc3\xa9\x7f", 64, "a", LEDIT_REDRAW},
    {"backspace takes a 4-byte character", "\xf0\x9f\x98\x80\x7f", 64, "", LEDIT_REDRAW},
    {"^U", "hello world\x15", 64, "", LEDIT_REDRAW},
    {"^U then typing", "abc\x15xy", 64, "xy", LEDIT_REDRAW},
    {"^W", "hello big world\x17", 64, "hello big ", LEDIT_REDRAW},
    {"^W over trailing spaces", "hello world  \x17", 64, "hello ", LEDIT_REDRAW},
    {"^W on one word", "word\x17", 64, "", LEDIT_REDRAW},
    {"^D on empty", "\x04", 64, "", LEDIT_EOF},
    {"^D with text", "ab\x04", 64, "ab", LEDIT_NONE},
    {"^C", "ab\x03", 64, "ab", LEDIT_INTR},
    {"arrow keys ignored", "a\x1b[Db\x1b[A", 64, "ab", LEDIT_NONE},
    {"SS3 keys ignored", "a\x1bOHb", 64, "ab", LEDIT_REDRAW},
    {"CSI with parameters", "a\x1b[1;5Cb", 64, "ab", LEDIT_REDRAW},
    {"other controls ignored", "a\x01\x07\tb", 64, "ab", LEDIT_REDRAW},
    {"full line", "abcdef", 4, "abcd", LEDIT_NONE},
    {"full line, backspace, more", "abcd\x7f" "e", 4, "abce", LEDIT_REDRAW},
};
/* clang-format on */

static void test_keys(void **state)
{
    const struct le_case *c = *state;
    struct ledit e;
    enum ledit_act last = LEDIT_NONE;

    ledit_init(&e, c->cap);
    for (const char *k = c->keys; *k != '\0'; k++)
        last = ledit_key(&e, (unsigned char)*k);
    if (e.len != strlen(c->want) || memcmp(e.buf, c->want, e.len) != 0)
        fail_msg("%s: line \"%.*s\", want \"%s\"", c->name, (int)e.len, e.buf, c->want);
    if (last != c->last)
        fail_msg("%s: last action %d, want %d", c->name, last, c->last);
}

/* ledit_clear after an enter gives an empty line that takes keys again. */
static void test_clear(void **state)
{
    struct ledit e;
    (void)state;

    ledit_init(&e, 64);
    ledit_key(&e, 'a');
    assert_int_equal(ledit_key(&e, '\r'), LEDIT_ENTER);
    ledit_clear(&e);
    assert_int_equal(e.len, 0);
    assert_int_equal(ledit_key(&e, 0x04), LEDIT_EOF);
    ledit_key(&e, 'b');
    assert_int_equal(e.len, 1);
    ledit_init(&e, 1u << 20); /* a cap past LEDIT_MAX is cut to it */
    assert_int_equal(e.cap, LEDIT_MAX);
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, cases, test_keys);
    unit_add(&l, "clear after enter", test_clear, NULL);
    return unit_run("ledit", &l);
}
